"""The contract every paper module (``serlib.papers.<paper>``) meets: what ``serlib reproduce``,
:mod:`serlib.jobs` and the book's summary page use of it, and nothing else (as d2l's ``Module``
writes its training loop's contract down). ``tests/test_papers.py`` checks it over the registry."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from serlib.papers.common import Training


@runtime_checkable
class PaperModule(Protocol):
    """A paper's configuration and protocol.

    - ``PAPER``: its name in :data:`serlib.papers.PAPERS`;
    - ``Settings`` and ``PROFILES``: what a run may change (notebook parameters, ``-p``), and the
      ``smoke`` and ``full`` profiles; :func:`settings` applies and checks overrides;
    - :func:`training_grid`: every training the page needs, not yet run (``--plan``, ``--executor
      dask`` and the page consume the same grid); ``GRID_STAGES``: how many times the grid must be
      planned again as outcomes arrive (a choice made on stored outcomes, e.g. a learning rate);
    - :func:`ordering_summary`: one line for the summary's scoreboard, from a results file's rows.
    """

    PAPER: str
    PROFILES: Mapping[str, Any]
    GRID_STAGES: int
    Settings: type

    def settings(self, profile: str = "smoke", **overrides: Any) -> Any: ...

    def training_grid(self, settings: Any, data_root: str | Path | None = None, cache: str | Path | None = None,
                      device: str = "auto") -> list[Training]: ...

    def ordering_summary(self, rows: pd.DataFrame) -> str: ...
