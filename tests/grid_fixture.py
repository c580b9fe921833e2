"""A small training grid in the shape of a paper module (``settings`` + ``training_grid``) for the
executor tests: quick real trainings (a two-layer network, a few Adam steps) on fixed synthetic
data, with failures and pauses to order."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import training
from serlib.examples import Examples
from serlib.papers import common


@dataclass(frozen=True)
class Settings:
    profile: str
    runs: int = 4
    epochs: int = 2
    fail_once: str = ""  # a folder: each training fails the first time (leaving a marker there)
    fail_always: int = -1  # this training fails every time
    pause: float = 0.0  # seconds each training sleeps (to kill a driver mid-grid)
    staged: bool = False  # a second stage of ``runs`` trainings appears once the first stage is stored
    builds: str = ""  # a folder: each building of the grid leaves a file named by its process there


PAPER = "grid"
PROFILES = {"smoke": Settings("smoke"), "full": Settings("full")}
GRID_STAGES = 2  # with ``staged``


def ordering_summary(rows: pd.DataFrame) -> str:
    return common.ordering_of_rows(rows)


def settings(profile: str = "smoke", **overrides) -> Settings:
    return common.resolve(PROFILES, profile, overrides)


def _data() -> dict[str, Examples]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    return {part: Examples(x[rows], y[rows], rows) for part, rows in
            {"train": np.arange(16), "val": np.arange(16, 20), "test": np.arange(20, 24)}.items()}


def _model():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def _train(run: int, chosen: Settings, checkpoint: Path) -> training.Outcome:
    if chosen.pause:
        time.sleep(chosen.pause)
    if run == chosen.fail_always:
        raise RuntimeError(f"training {run} always fails")
    if chosen.fail_once:
        marker = Path(chosen.fail_once) / f"failed-{run}"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
            raise RuntimeError(f"training {run} fails once")
    config = training.TrainConfig(epochs=chosen.epochs, batch_size=4, seed=run, progress=False, device="cpu")
    return training.train_and_evaluate(_model, _data(), config, checkpoint)


def training_grid(chosen: Settings, data_root=None, cache=None, device="auto") -> list[common.Training]:
    """``runs`` trainings; with ``staged``, ``runs`` more (table "Table 2") once the first ones are
    stored, as a protocol whose first stage chooses what the second trains."""
    identity = {"model": "two layers", "config": {"epochs": chosen.epochs}}  # failures and pauses are not part of it

    def stage(table: str, first: int) -> list[common.Training]:
        return [common.Training(common.TrainingKey("grid", table, f"system {run}", "2-class", "split", run), identity,
                                lambda checkpoint, run=run: _train(run, chosen, checkpoint))
                for run in range(first, first + chosen.runs)]

    if chosen.builds:
        (Path(chosen.builds) / f"build-{os.getpid()}-{time.time_ns()}").touch()
    grid = stage("Table 1", 0)
    if chosen.staged and all(job.done(cache) for job in grid):
        grid += stage("Table 2", chosen.runs)
    return grid
