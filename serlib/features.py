"""Frame-level features, dynamic features, sequence windows and the on-disk feature cache."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.fft import dct
from tqdm import tqdm

from serlib import config
from serlib.audio import load_audio
from serlib.training import Examples

#: Bump when an extractor's output changes for the same configuration (invalidates the cache).
CACHE_VERSION = 1


class Extractor(Protocol):
    """A frozen dataclass turning a mono signal at ``sample_rate`` into a feature array."""

    sample_rate: int

    def __call__(self, signal: np.ndarray) -> np.ndarray: ...


# --------------------------------------------------------------------------- spectral features

@lru_cache(maxsize=8)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)


def frame_signal(signal: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Frames of ``frame_length`` samples every ``hop_length`` (no padding; at least one frame)."""
    if len(signal) < frame_length:
        signal = np.pad(signal, (0, frame_length - len(signal)))
    return np.lib.stride_tricks.sliding_window_view(signal, frame_length)[::hop_length]


@dataclass(frozen=True)
class LogMel:
    """MSPEC (Cournut & Buldu §2.2.1 steps 1-3): log mel filter-bank energies.

    Hamming-windowed frames of ``window_ms`` every ``hop_ms``, power spectrum, ``n_mels``
    triangular mel filters (Slaney scale, 0 to Nyquist), natural log floored at 1e-10.
    """

    sample_rate: int = 16000
    window_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    n_mels: int = 40

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        frame_length = round(self.sample_rate * self.window_ms / 1000)
        hop_length = round(self.sample_rate * self.hop_ms / 1000)
        frames = frame_signal(signal, frame_length, hop_length) * np.hamming(frame_length).astype(np.float32)
        power = np.abs(np.fft.rfft(frames, n=self.n_fft, axis=1)) ** 2
        mel = power @ _mel_filters(self.sample_rate, self.n_fft, self.n_mels).T
        return np.log(np.maximum(mel, 1e-10)).astype(np.float32)


@dataclass(frozen=True)
class MFCC:
    """MFCC (§2.2.1 step 4): orthonormal DCT-II of :class:`LogMel`, first ``n_mfcc`` kept (c0 included)."""

    sample_rate: int = 16000
    window_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    n_mels: int = 40
    n_mfcc: int = 13

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        log_mel = LogMel(self.sample_rate, self.window_ms, self.hop_ms, self.n_fft, self.n_mels)(signal)
        return dct(log_mel, type=2, norm="ortho", axis=1)[:, : self.n_mfcc].astype(np.float32)


# --------------------------------------------------------------------------- dynamic features

def delta(features: np.ndarray, n: int) -> np.ndarray:
    """Eq. (1) of Cournut & Buldu: d_t = sum_{k=1..n} k (c_{t+k} - c_{t-k}) / (2 sum_k k^2).

    ``features`` is (frames, dims); edges repeat the first/last frame.
    """
    if n < 1:
        raise ValueError(f"delta window n must be >= 1, got {n}")
    padded = np.pad(features, ((n, n), (0, 0)), mode="edge")
    frames = len(features)
    numerator = sum(k * (padded[n + k : n + k + frames] - padded[n - k : n - k + frames]) for k in range(1, n + 1))
    return (numerator / (2 * sum(k * k for k in range(1, n + 1)))).astype(features.dtype)


def with_dynamics(features: np.ndarray, order: int) -> np.ndarray:
    """Stack raw features with Δ (eq. 1, N=1) and, for ``order`` 2, ΔΔ (eq. 1, N=2, applied to Δ)."""
    if order not in (0, 1, 2):
        raise ValueError(f"order must be 0, 1 or 2, got {order}")
    stacked = [features]
    if order >= 1:
        stacked.append(delta(features, 1))
    if order == 2:
        stacked.append(delta(stacked[1], 2))
    return np.concatenate(stacked, axis=1)


def sequence_windows(features: np.ndarray, length: int, shift: int) -> np.ndarray:
    """(n_windows, length, dims) windows every ``shift`` frames; shorter inputs are zero-padded to one window."""
    if len(features) < length:
        features = np.pad(features, ((0, length - len(features)), (0, 0)))
    view = np.lib.stride_tricks.sliding_window_view(features, length, axis=0)[::shift]
    return np.ascontiguousarray(view.transpose(0, 2, 1))


class Standardizer:
    """Per-dimension z-score with statistics from the training utterances only."""

    def fit(self, features: list[np.ndarray]) -> Standardizer:
        frames = np.concatenate(features, axis=0).astype(np.float64)
        self.mean = frames.mean(axis=0)
        self.std = frames.std(axis=0) + 1e-8
        return self

    def transform(self, features: list[np.ndarray]) -> list[np.ndarray]:
        return [((f - self.mean) / self.std).astype(np.float32) for f in features]


# --------------------------------------------------------------------------- cache

def extractor_key(extractor: Extractor) -> str:
    """Name + configuration hash of an extractor; part of every cache path."""
    spec = {"name": type(extractor).__name__, "config": asdict(extractor), "v": CACHE_VERSION}
    return f"{type(extractor).__name__}-{config.fingerprint(spec)}"


def _file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def extract(
    manifest: pd.DataFrame,
    extractor: Extractor,
    cache: str | Path | None = None,
    progress: bool = True,
) -> list[np.ndarray]:
    """Features for every utterance of ``manifest``, in order, cached on disk.

    The cache key is the SHA-256 of the audio file's bytes and :func:`extractor_key`, so a rerun
    (or a copy of the corpus elsewhere) loads instead of recomputing.
    """
    folder = config.cache_dir(cache) / "features" / extractor_key(extractor)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    paths = manifest["path"].tolist()
    for path in tqdm(paths, desc=f"{type(extractor).__name__} features", disable=not progress, unit="file"):
        target = folder / f"{_file_sha256(path)}.npy"
        if target.exists():
            results.append(np.load(target))
            continue
        values = extractor(load_audio(path, extractor.sample_rate))
        temporary = target.with_suffix(".tmp.npy")
        np.save(temporary, values)
        temporary.replace(target)
        results.append(values)
    return results


def windowed_examples(
    features: list[np.ndarray], labels: np.ndarray, rows: np.ndarray, length: int, shift: int
) -> Examples:
    """Sequence windows (§3.1.2) of the utterances at ``rows``; each window keeps its utterance's label."""
    windows = [sequence_windows(features[r], length, shift) for r in rows]
    counts = [len(w) for w in windows]
    return Examples(
        x=np.concatenate(windows).astype(np.float32),
        y=np.repeat(np.asarray(labels)[rows], counts),
        utterance=np.repeat(rows, counts),
    )
