"""Outcomes that travel (``serlib outcomes export`` / ``import``): a grid's stored outcomes copied
to a folder of the checkout (``outcomes/``) and back into another machine's cache."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from serlib import config, files
from serlib.jobs.grid import KEY_FILE, NETWORK_FILE, OUTCOME_FILE, JobSpec, is_done
from serlib.papers import common

OUTCOMES_DIR = config.OUTCOMES_DIR


def _same_file(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def _copy_atomically(source: Path, target: Path) -> None:
    with files.atomic_path(target) as temporary:
        shutil.copyfile(source, temporary)


def export_outcomes(specs: Sequence[JobSpec], folder: str | Path | None = None) -> tuple[list[str], list[str]]:
    """Copy the stored outcome of each of ``specs`` (a grid's trainings) to
    ``<folder>/<paper>/<key slug>-<digest>/outcome.npz`` (with its ``key.json``), the cache's layout under ``trainings/``.
    Only outcomes travel: a training's identity (its digest) already names its code, settings and
    split, so an outcome imported on another machine is found only by the same training.
    Checkpoints stay behind; a network a page reloaded (``network.pt``) and the network's tests of
    other corpora (``tested-*.npz``) travel with its outcome.
    Returns (names copied, names already there byte for byte)."""
    root = Path(folder) if folder is not None else OUTCOMES_DIR
    copied, present = [], []
    for spec in specs:
        stored = common.folder_of(spec.key, spec.digest, spec.cache) / OUTCOME_FILE
        if not stored.exists():
            continue
        target = root / spec.key.paper / stored.parent.name / OUTCOME_FILE
        extras = [NETWORK_FILE, *(path.name for path in sorted(stored.parent.glob(common.TESTED_PATTERN)))]
        if _same_file(stored, target) and all(_same_file(stored.parent / name, target.parent / name)
                                               for name in extras if (stored.parent / name).exists()):
            present.append(spec.name)
            continue
        for name in (KEY_FILE, *extras, OUTCOME_FILE):  # the outcome last: it marks the training as stored
            if (stored.parent / name).exists():
                _copy_atomically(stored.parent / name, target.parent / name)
        copied.append(spec.name)
    return copied, present


def exported_not_imported(specs: Sequence[JobSpec], folder: str | Path | None = None) -> list[JobSpec]:
    """The specs not stored in their cache whose outcome ``folder`` (default ``outcomes/``) holds."""
    root = Path(folder) if folder is not None else OUTCOMES_DIR
    return [spec for spec in specs if not is_done(spec) and common.committed_outcome(spec.key, spec.digest, root).exists()]


def import_outcomes(folder: str | Path | None = None, cache: str | Path | None = None,
                    papers: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Copy each outcome under ``folder`` (as :func:`export_outcomes` wrote them) that the cache
    lacks into ``<cache>/trainings/``; ``papers``: only theirs. Each is read first, so a torn or foreign
    file is an error naming it, and an outcome the cache holds already is left alone.
    Returns (names copied, names already in the cache)."""
    root = Path(folder) if folder is not None else OUTCOMES_DIR
    if not root.is_dir():
        raise ValueError(f"{root}: no such folder of exported outcomes (serlib outcomes export writes one)")
    copied, present = [], []
    for source in sorted(root.glob(f"*/*/{OUTCOME_FILE}")):
        paper, name = source.parent.parent.name, source.parent.name
        if papers and paper not in papers:
            continue
        try:
            common.load_outcome(source)
        except Exception as err:  # noqa: BLE001 - any unreadable file is named, whatever broke it
            raise ValueError(f"{source}: not a readable training outcome ({type(err).__name__}: {err})") from err
        target = config.trainings_dir(cache) / paper / name / OUTCOME_FILE
        for extra in [source.parent / NETWORK_FILE, *sorted(source.parent.glob(common.TESTED_PATTERN))]:
            if extra.exists() and not (target.parent / extra.name).exists():
                _copy_atomically(extra, target.parent / extra.name)
        if target.exists():
            present.append(f"{paper}/{name}")
            continue
        for file in (KEY_FILE, OUTCOME_FILE):
            if (source.parent / file).exists():
                _copy_atomically(source.parent / file, target.parent / file)
        copied.append(f"{paper}/{name}")
    return copied, present
