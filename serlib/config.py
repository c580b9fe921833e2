"""Where data, caches and results live: one setting each, environment first."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

DATA_ENV = "SERLIB_DATA"
CACHE_ENV = "SERLIB_CACHE"
RESULTS_ENV = "SERLIB_RESULTS"
THREADS_ENV = "SERLIB_THREADS"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Where ``serlib outcomes export`` puts a grid's stored outcomes by default: a folder of the
#: checkout, so that the trainings of a grid too long for one machine's session can be committed
#: and the grid resumed on the next machine after ``serlib outcomes import``.
OUTCOMES_DIR = PROJECT_ROOT / "outcomes"


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "serlib"


def data_root(override: str | os.PathLike | None = None) -> Path:
    """Folder holding one sub-folder per corpus (``emodb/``, ``ravdess/``, ...).

    Order: explicit argument, ``$SERLIB_DATA``, then ``~/.cache/serlib/corpora`` where
    downloads land.
    """
    if override:
        return Path(override).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    return _user_cache() / "corpora"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Folder for cached features and checkpoints (``$SERLIB_CACHE`` or ``~/.cache/serlib``)."""
    if override:
        return Path(override).expanduser().resolve()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    return _user_cache()


#: The cache's folder of trainings (``<cache>/trainings/<paper>/<key>-<hash>/``); caches written
#: before it was named so call it ``runs``, and :func:`trainings_dir` keeps reading that.
TRAININGS_FOLDER, OLD_TRAININGS_FOLDER = "trainings", "runs"


def trainings_dir(cache: str | os.PathLike | None = None) -> Path:
    """The cache's folder of trainings (:data:`TRAININGS_FOLDER`); an older cache's ``runs/``
    where that is the one in use (``trainings/`` missing or empty), so that its finished trainings are found (renaming it is safe once no
    process writes there)."""
    root = cache_dir(cache)
    folder, old = root / TRAININGS_FOLDER, root / OLD_TRAININGS_FOLDER
    keeps_old = old.is_dir() and (not folder.is_dir() or not any(folder.iterdir()))
    return old if keeps_old else folder


def results_dir(override: str | os.PathLike | None = None) -> Path:
    """Folder for result files (``$SERLIB_RESULTS`` or the project's ``results/``)."""
    if override:
        return Path(override).expanduser().resolve()
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]).expanduser().resolve()
    return PROJECT_ROOT / "results"


def threads(override: int | None = None) -> int:
    """Torch's intra-op threads for a training process: ``override``, else ``$SERLIB_THREADS``, else
    the cores this process may run on."""
    if override:
        return int(override)
    if os.environ.get(THREADS_ENV):
        value = os.environ[THREADS_ENV]
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"${THREADS_ENV} must be a positive whole number of threads, got {value!r}")
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def fingerprint(settings: object) -> str:
    """Short stable hash of JSON-serialisable settings (cache and checkpoint keys)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def shown(path: str | os.PathLike) -> str:
    """``path`` as a page may print it: relative to the project when inside it, else as given
    relative to the setting that placed it (no machine-specific prefix)."""
    path = Path(path).resolve()
    for base, name in ((PROJECT_ROOT, ""), (results_dir(), f"${RESULTS_ENV}/"), (cache_dir(), f"${CACHE_ENV}/")):
        try:
            return name + str(path.relative_to(base.resolve()))
        except ValueError:
            continue
    return path.name
