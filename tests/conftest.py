"""Shared fixtures: real corpora through the data root, synthetic audio, isolated caches."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

PROJECT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test`` runs two workers on two cores) each worker computes on one
    thread: two workers of two threads each slow each other down. The Makefile sets the BLAS and
    OpenMP variables before numpy loads (and for the kernels and subprocesses); torch is set here."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        os.environ["SERLIB_THREADS"] = "1"  # serlib.training.use_threads: every training keeps one
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def corpora_root() -> Path:
    """The data root with the real corpora ($SERLIB_DATA, else ../shared/corpora).

    Missing corpora skip the test on a developer's machine but fail in CI.
    """
    root = Path(os.environ.get("SERLIB_DATA") or PROJECT.parent / "shared" / "corpora")
    if not (root / "emodb").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"corpora not found at {root}: CI must set SERLIB_DATA")
        pytest.skip(f"corpora not found at {root}")
    return root


def write_tone(path: Path, seconds: float = 1.0, rate: int = 16000, channels: int = 1, freq: float = 440.0) -> Path:
    """A sine tone written as 16-bit audio (format from the suffix)."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * freq * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, rate, subtype="PCM_16")
    return path
