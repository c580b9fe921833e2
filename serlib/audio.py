"""Audio loading: mono, resampled to the experiment's rate, float32, with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SUPPORTED_SUFFIXES = (".wav", ".flac")


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file and the problem."""


def load_audio(path: str | Path, sample_rate: int, min_seconds: float = 0.05) -> np.ndarray:
    """Read ``path`` as mono float32 at ``sample_rate`` Hz.

    Stereo files are downmixed by averaging channels; other rates are resampled with
    soxr (high quality). Files that cannot be decoded, hold no samples, are shorter than
    ``min_seconds`` or contain non-finite values raise :class:`AudioError`.
    """
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise AudioError(f"{path}: unsupported audio format {path.suffix!r} (use .wav or .flac)")
    try:
        signal, native_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"{path}: cannot be read as audio ({err})") from err
    if signal.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no samples")
    mono = signal.mean(axis=1) if signal.shape[1] > 1 else signal[:, 0]
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{path}: the audio contains NaN or infinite samples")
    if native_rate != sample_rate:
        mono = soxr.resample(mono, native_rate, sample_rate, quality="HQ").astype(np.float32)
    seconds = mono.shape[0] / sample_rate
    if seconds < min_seconds:
        raise AudioError(f"{path}: too short ({seconds * 1000:.1f} ms < {min_seconds * 1000:.0f} ms)")
    return np.ascontiguousarray(mono, dtype=np.float32)


def duration_seconds(path: str | Path) -> float:
    """Duration from the file header, without decoding the audio."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"{path}: cannot be read as audio ({err})") from err
    return info.frames / info.samplerate
