"""The contract every paper module (``serlib.papers.<paper>``) meets: what ``serlib reproduce``,
:mod:`serlib.jobs` and the book's summary page use of it, and nothing else (as d2l's ``Module``
writes its training loop's contract down); the part a study beyond the papers meets too
(:class:`GridModule`); and a paper's main model as other pages reuse it (:class:`MainModel`).
``tests/test_papers.py`` checks them over the registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from torch import nn

from serlib.examples import Examples
from serlib.papers.common import Training
from serlib.training import TrainConfig


@runtime_checkable
class GridModule(Protocol):
    """What :mod:`serlib.jobs` and ``serlib reproduce --plan`` use of a paper's (or a study's) module.

    - ``Settings`` and ``PROFILES``: what a run may change (notebook parameters, ``-p``), and the
      ``smoke`` and ``full`` profiles; :func:`settings` applies and checks overrides;
    - :func:`training_grid`: every training the page needs, not yet run (``--plan``, ``--executor
      dask`` and the page consume the same grid); ``GRID_STAGES``: how many times the grid must be
      planned again as outcomes arrive (a choice made on stored outcomes, e.g. a learning rate).
    """

    PROFILES: Mapping[str, Any]
    GRID_STAGES: int
    Settings: type

    def settings(self, profile: str = "smoke", **overrides: Any) -> Any: ...

    def training_grid(self, settings: Any, data_root: str | Path | None = None, cache: str | Path | None = None,
                      device: str = "auto") -> list[Training]: ...


@runtime_checkable
class PaperModule(GridModule, Protocol):
    """A paper's configuration and protocol: a :class:`GridModule` with

    - ``PAPER``: its name in :data:`serlib.papers.PAPERS`;
    - :func:`ordering_summary`: one line for the summary's scoreboard, from a results file's rows.
    """

    PAPER: str

    def ordering_summary(self, rows: pd.DataFrame) -> str: ...


@dataclass(frozen=True)
class MainModel:
    """A paper's main model, carried to any corpus of the four shared classes (pages beyond the
    papers, e.g. :mod:`serlib.crosscorpus`): how it reads a manifest and trains, as its paper does.

    - ``extract(manifest, cache, progress)``: the model's features of every utterance, in manifest
      order (cached; indexable by row, as ``inputs`` reads them);
    - ``inputs(features, labels, parts, fit_rows)``: the examples of each part (``{"train": rows,
      ...}``); every statistic (a z-score) comes from the utterances at ``fit_rows`` (the training
      part) only, so a test set built alone is scaled as it would be beside its training part;
    - ``make_model(features, n_classes)``: a fresh network; ``train_config(seed, device)``: its
      paper's loop settings (epochs, batch, optimiser, which epoch is kept);
    - ``arguments``, ``trained`` and ``feature_keys``: what a training's identity records of it
      besides ``train_config``'s own settings.
    """

    paper: str
    system: str
    model_class: type[nn.Module]
    extract: Callable[[pd.DataFrame, str | Path | None, bool], Any]
    inputs: Callable[[Any, np.ndarray, Mapping[str, np.ndarray], np.ndarray], dict[str, Examples]]
    make_model: Callable[[Any, int], nn.Module]
    train_config: Callable[[int, str], TrainConfig]
    arguments: Mapping[str, Any] = field(default_factory=dict)
    trained: Mapping[str, Any] = field(default_factory=dict)
    feature_keys: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``<paper>: <system>``, as the pages name it."""
        return f"{self.paper}: {self.system}"
