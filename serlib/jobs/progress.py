"""Where a grid stands (``serlib reproduce --plan``): what the cache holds of each table × system ×
task, and the training time left at the pace of that group's stored trainings. Trains nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from serlib import config
from serlib.jobs.grid import CHECKPOINT_FILE, OUTCOME_FILE, JobSpec
from serlib.jobs.transfer import OUTCOMES_DIR, exported_not_imported
from serlib.papers import common


@dataclass
class GroupProgress:
    """The trainings of one table × system × task of a grid: how many are stored, started, not begun."""

    stored: int = 0
    started: int = 0  # a checkpoint, no outcome yet
    not_begun: int = 0
    started_epochs: list[int] = field(default_factory=list)  # epochs each started training has finished

    @property
    def left(self) -> int:
        return self.started + self.not_begun


@dataclass
class GridProgress:
    """What the cache holds of a grid (``serlib reproduce --plan``): its groups (table, system,
    task), and the recorded training time of each stored training by group, the pace the group's
    trainings left are timed at (one system can train at very different paces on two tasks, e.g.
    on random and on speaker-independent folds of different sizes)."""

    groups: dict[tuple[str, str, str], GroupProgress] = field(default_factory=dict)
    seconds_by_group: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    exported: int = 0  # not stored in the cache, but finished in outcomes/ (not imported yet)

    def pace(self, table: str, system: str, task: str) -> float | None:
        """The median recorded time of the group's stored trainings; None where none recorded one."""
        timed = sorted(s for s in self.seconds_by_group.get((table, system, task), []) if s == s)
        return timed[len(timed) // 2] if timed else None

    def seconds_left(self, table: str, system: str, task: str) -> float | None:
        """The group's trainings left at its pace (a started one counts whole)."""
        pace = self.pace(table, system, task)
        return None if pace is None else pace * self.groups[table, system, task].left


def _recorded_seconds(outcome_path: Path) -> float:
    """Training time in a stored outcome's history (NaN where an epoch did not record it)."""
    import json

    import numpy as np

    with np.load(outcome_path, allow_pickle=False) as saved:
        history = json.loads(str(saved["history"]))
    return float(sum(h["seconds"] for h in history)) if all("seconds" in h for h in history) else float("nan")


def _finished_epochs(checkpoint: Path) -> int:
    """Epochs in a checkpoint's history; -1 where it cannot be read (e.g. being written)."""
    import torch

    try:
        return len(torch.load(checkpoint, map_location="cpu", weights_only=True)["history"])
    except Exception:  # noqa: BLE001 - a torn or foreign file is reported, not fatal
        return -1


def grid_progress(specs: Sequence[JobSpec]) -> GridProgress:
    """Each (table, system, task) of ``specs`` with its :class:`GroupProgress`, read from the cache;
    trains nothing."""
    progress = GridProgress()
    for spec in specs:
        key = spec.key
        group = progress.groups.setdefault((key.table, key.system, key.task), GroupProgress())
        folder = common.folder_of(key, spec.digest, spec.cache)
        if (folder / OUTCOME_FILE).exists():
            group.stored += 1
            progress.seconds_by_group.setdefault((key.table, key.system, key.task), []).append(
                _recorded_seconds(folder / OUTCOME_FILE))
        elif (folder / CHECKPOINT_FILE).exists():
            group.started += 1
            group.started_epochs.append(_finished_epochs(folder / CHECKPOINT_FILE))
        else:
            group.not_begun += 1
    progress.exported = len(exported_not_imported(specs))
    return progress


def progress_lines(paper: str, progress: GridProgress, stages: int = 1) -> list[str]:
    """A table of :func:`grid_progress` and its totals, with the training time left where stored
    trainings of the same table, system and task give a pace; ``stages`` > 1 (the paper module's
    ``GRID_STAGES``) adds that later trainings are planned once these are stored."""
    def hours(seconds: float | None) -> str:
        return "?" if seconds is None else f"{seconds / 3600:.1f} h"

    groups = progress.groups
    header = ("table", "system", "task", "stored", "started (epochs done)", "not begun", "left at stored pace")
    rows = [(table, system, task, str(g.stored),
             f"{g.started} ({', '.join(str(e) if e >= 0 else 'unreadable' for e in g.started_epochs)})" if g.started else "0",
             str(g.not_begun), hours(progress.seconds_left(table, system, task)) if g.left else "-")
            for (table, system, task), g in groups.items()]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (header, *rows)]
    stored, started, not_begun = (sum(getattr(g, name) for g in groups.values()) for name in ("stored", "started", "not_begun"))
    timed = {name: progress.seconds_left(*name) for name, g in groups.items() if g.left}
    untimed = sum(groups[name].left for name, seconds in timed.items() if seconds is None)
    known = [seconds for seconds in timed.values() if seconds is not None]
    no_pace = "whose table, system and task have no stored training (in this plan) to time them by"
    left = (f"{hours(sum(known))} of training left at the pace of the stored trainings of each table, system and task"
            + (f", and {untimed} {no_pace}" if untimed else "") if known else f"{untimed} left {no_pace}" if untimed
            else "nothing left to train")
    lines.append(f"{paper}: {stored + started + not_begun} trainings planned now: {stored} stored, {started} started, "
                 f"{not_begun} not begun; {left}")
    if progress.exported:
        lines.append(f"{progress.exported} of the trainings not stored here are finished in {config.shown(OUTCOMES_DIR)}: "
                     "`serlib outcomes import` copies them into the cache")
    if stages > 1:
        lines.append(f"{paper}'s grid comes in {stages} stages: a later stage's trainings are planned, and counted "
                     "here, once the trainings they depend on are stored.")
    return lines
