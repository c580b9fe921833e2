"""Every pytest run (unit tests and nbval notebooks alike) writes results and caches to a
temporary folder, never over committed results or a user's cache."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

SCRATCH = Path(tempfile.mkdtemp(prefix="serlib-tests-"))


def pytest_configure(config: pytest.Config) -> None:
    """Results and caches of a test session (and of notebook kernels it starts) go to a temporary
    folder, never over committed results or a user's cache."""
    os.environ["SERLIB_RESULTS"] = str(SCRATCH / "results")
    os.environ["SERLIB_CACHE"] = str(SCRATCH / "cache")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)
