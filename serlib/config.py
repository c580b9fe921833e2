"""Where data, caches and results live: one setting each, environment first."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

DATA_ENV = "SERLIB_DATA"
CACHE_ENV = "SERLIB_CACHE"
RESULTS_ENV = "SERLIB_RESULTS"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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


def results_dir(override: str | os.PathLike | None = None) -> Path:
    """Folder for result files (``$SERLIB_RESULTS`` or the project's ``results/``)."""
    if override:
        return Path(override).expanduser().resolve()
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]).expanduser().resolve()
    return PROJECT_ROOT / "results"


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
