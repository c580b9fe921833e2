"""Frame-level features, dynamic features, sequence windows and the on-disk feature cache."""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, as_completed, wait
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.fft import dct
from tqdm import tqdm

from serlib import config, files
from serlib.audio import load_audio
from serlib.examples import Examples, stack_examples

#: Bump when an extractor's output changes for the same configuration (invalidates the cache).
CACHE_VERSION = 1

#: Environment variable for the number of feature-extraction workers (default: every core).
JOBS_ENV = "SERLIB_JOBS"


class Extractor(Protocol):
    """A frozen dataclass turning a mono signal at ``sample_rate`` into a feature array."""

    sample_rate: int

    def __call__(self, signal: np.ndarray) -> np.ndarray: ...


# --------------------------------------------------------------------------- spectral features

@lru_cache(maxsize=8)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin).astype(np.float32)


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

    @property
    def hop_length(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """Hamming-windowed frames, (n_frames, frame length in samples)."""
        frame_length = round(self.sample_rate * self.window_ms / 1000)
        return frame_signal(signal, frame_length, self.hop_length) * np.hamming(frame_length).astype(np.float32)

    def log_mel(self, frames: np.ndarray) -> np.ndarray:
        power = np.abs(np.fft.rfft(frames, n=self.n_fft, axis=1)) ** 2
        mel = power @ _mel_filters(self.sample_rate, self.n_fft, self.n_mels).T
        return np.log(np.maximum(mel, 1e-10)).astype(np.float32)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        return self.log_mel(self.frames(signal))


@dataclass(frozen=True)
class MFCC(LogMel):
    """MFCC (§2.2.1 step 4): orthonormal DCT-II of :class:`LogMel`, first ``n_mfcc`` kept (c0 included)."""

    n_mfcc: int = 13

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        return dct(super().__call__(signal), type=2, norm="ortho", axis=1)[:, : self.n_mfcc].astype(np.float32)


@dataclass(frozen=True)
class LabLogMel(LogMel):
    """MSPEC as KTH's speech course labs (DT2119) compute it: pre-emphasis ``preemphasis`` before
    framing, and mel filters from ``fmin`` (133.33 Hz: 13 linear filters 66.67 Hz apart, then
    log-spaced ones, as the lab's ``trfbank``) instead of from 0 Hz; an approximation: Slaney mel
    filters from ``fmin`` to Nyquist, where ``trfbank`` stops near 6.9 kHz."""

    preemphasis: float = 0.97
    fmin: float = 133.33

    def log_mel(self, frames: np.ndarray) -> np.ndarray:
        power = np.abs(np.fft.rfft(frames, n=self.n_fft, axis=1)) ** 2
        mel = power @ _mel_filters(self.sample_rate, self.n_fft, self.n_mels, self.fmin).T
        return np.log(np.maximum(mel, 1e-10)).astype(np.float32)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        emphasised = np.append(signal[:1], signal[1:] - self.preemphasis * signal[:-1]).astype(np.float32)
        return self.log_mel(self.frames(emphasised))


@dataclass(frozen=True)
class LabMFCC(LabLogMel):
    """MFCC of the DT2119 labs: the DCT of :class:`LabLogMel` (first ``n_mfcc``), liftered with
    1 + L/2·sin(πn/L). A per-coefficient scale: any z-score normalisation afterwards undoes it."""

    n_mfcc: int = 13
    lifter: int = 22

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        cepstra = dct(super().__call__(signal), type=2, norm="ortho", axis=1)[:, : self.n_mfcc]
        weights = 1 + self.lifter / 2 * np.sin(np.pi * np.arange(self.n_mfcc) / self.lifter)
        return (cepstra * weights).astype(np.float32)


@lru_cache(maxsize=4)
def _smile(feature_set: str, level: str):
    import opensmile

    if not hasattr(opensmile.FeatureSet, feature_set):
        known = [name for name in dir(opensmile.FeatureSet) if not name.startswith("_")]
        raise ValueError(f"unknown openSMILE feature set {feature_set!r}; known: {known}")
    return opensmile.Smile(getattr(opensmile.FeatureSet, feature_set), getattr(opensmile.FeatureLevel, level))


def _frame_centres(index: pd.MultiIndex) -> np.ndarray:
    """Centre time (s) of each openSMILE output frame from its (start, end) index."""
    start = index.get_level_values("start").total_seconds().to_numpy()
    end = index.get_level_values("end").total_seconds().to_numpy()
    return (start + end) / 2


def pitch_semitones(signal: np.ndarray, sample_rate: int, centres: np.ndarray) -> np.ndarray:
    """F0 at the frame ``centres`` (s): openSMILE's eGeMAPS pitch (subharmonic summation, in
    semitones above 27.5 Hz, 0 where unvoiced), nearest openSMILE frame to each centre."""
    lld = _smile("eGeMAPSv02", "LowLevelDescriptors").process_signal(signal, sample_rate)
    f0 = lld["F0semitoneFrom27.5Hz_sma3nz"].to_numpy(np.float32)
    nearest = np.abs(centres[:, None] - _frame_centres(lld.index)[None, :]).argmin(axis=1)
    return f0[nearest]


@dataclass(frozen=True)
class PitchMFCCEnergy(LogMel):
    """Feature* of the capsule paper (Jalal et al. 2019, §4.1): F0, 23 MFCCs and log-energy per
    frame, with Δ and ΔΔ (eq. 1 of Cournut & Buldu) = 75 values per frame.

    MFCCs are c1..c23 of the DCT of :class:`LogMel` (c0 is dropped: log-energy is its own
    coefficient); log-energy is ``ln Σ x²`` of the Hamming-windowed frame; F0 from
    :func:`pitch_semitones`.
    """

    n_mfcc: int = 23
    dynamics: int = 2

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        frames = self.frames(signal)
        mfcc = dct(self.log_mel(frames), type=2, norm="ortho", axis=1)[:, 1 : self.n_mfcc + 1]
        log_energy = np.log(np.maximum((frames.astype(np.float64) ** 2).sum(axis=1), 1e-10))
        centres = (np.arange(len(frames)) * self.hop_length + frames.shape[1] / 2) / self.sample_rate
        f0 = pitch_semitones(signal, self.sample_rate, centres)
        static = np.column_stack([f0, mfcc, log_energy]).astype(np.float32)
        return with_dynamics(static, self.dynamics)


@dataclass(frozen=True)
class OpenSmileFunctionals:
    """openSMILE functionals of the whole utterance: ``eGeMAPSv02`` (88, Eyben et al. 2016) or
    ``ComParE_2016`` (6373, the ComParE challenge set), any ``opensmile.FeatureSet`` name."""

    sample_rate: int = 16000
    feature_set: str = "eGeMAPSv02"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        return _smile(self.feature_set, "Functionals").process_signal(signal, self.sample_rate).to_numpy(np.float32)[0]


def EGeMAPS(sample_rate: int = 16000) -> OpenSmileFunctionals:  # noqa: N802 (reads like the class it was)
    """The 88 eGeMAPS v02 functionals."""
    return OpenSmileFunctionals(sample_rate, "eGeMAPSv02")


@dataclass(frozen=True)
class Trimmed:
    """Any extractor applied after energy trimming of leading/trailing silence (:func:`trim_silence`)."""

    extractor: LogMel
    top_db: float = 30.0

    @property
    def sample_rate(self) -> int:
        return self.extractor.sample_rate

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        return self.extractor(trim_silence(signal, self.sample_rate, self.top_db))


# --------------------------------------------------------------------------- segments and scalograms

def standardise_signal(signal: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (scalogram paper §2.1, to reduce speaker variation)."""
    std = signal.std()
    return ((signal - signal.mean()) / (std if std > 0 else 1.0)).astype(np.float32)


def trim_silence(signal: np.ndarray, sample_rate: int, top_db: float = 30.0, frame_ms: float = 25.0) -> np.ndarray:
    """Energy voice-activity trimming: drop leading and trailing frames more than ``top_db`` below the loudest."""
    frame = round(sample_rate * frame_ms / 1000)
    hop = frame // 2
    energy = (frame_signal(signal, frame, hop) ** 2).mean(axis=1)
    level = 10 * np.log10(np.maximum(energy, 1e-20) / max(energy.max(), 1e-20))
    active = np.flatnonzero(level > -top_db)
    if len(active) == 0:
        return signal
    return signal[active[0] * hop : min(len(signal), active[-1] * hop + frame)]


def split_segments(signal: np.ndarray, length: int, hop: int) -> np.ndarray:
    """(n_segments, length) segments every ``hop`` samples covering the whole signal; the last is zero-padded."""
    count = 1 + max(0, int(np.ceil((len(signal) - length) / hop)))
    padded = np.pad(signal, (0, (count - 1) * hop + length - len(signal)))
    return np.lib.stride_tricks.sliding_window_view(padded, length)[::hop][:count].copy()


@dataclass(frozen=True)
class Scalogram:
    """3D Morlet scalograms of 2.5 s segments (Sc. paper §2.1, eq. 2; §4 for the segmenting).

    Each utterance is standardised, trimmed of leading/trailing silence and cut into
    ``segment_s`` segments overlapping by ``segment_overlap_s``. The complex Morlet CWT
    (``exp(-t²/2σ²) exp(iωt)``, σ = 1, ω = 5: PyWavelets ``cmor2.0-0.7958``) is computed once per
    segment at ``n_scales`` log-spaced scales whose centre frequencies span ``fmin``..``fmax``. Each
    ``frame_ms`` frame (hop ``frame_ms - frame_overlap_ms``) of the modulus is cut into ``n_bars``
    equal strips and averaged per scale. Output: (n_segments, n_frames, n_scales, n_bars).
    """

    sample_rate: int = 16000
    segment_s: float = 2.5
    segment_overlap_s: float = 1.0
    frame_ms: float = 25.0
    frame_overlap_ms: float = 10.0
    n_bars: int = 20
    sigma: float = 1.0
    omega: float = 5.0
    n_scales: int = 32
    fmin: float = 80.0
    fmax: float = 8000.0
    top_db: float = 30.0

    @property
    def wavelet(self) -> str:
        """PyWavelets name: ``cmorB-C`` with B = 2σ² and C = ω / 2π gives eq. (2) up to its constant."""
        return f"cmor{2 * self.sigma ** 2}-{self.omega / (2 * np.pi)}"

    def scales(self) -> np.ndarray:
        import pywt

        frequencies = np.geomspace(self.fmin, self.fmax, self.n_scales)
        return pywt.central_frequency(self.wavelet) * self.sample_rate / frequencies

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        import pywt

        frame = round(self.sample_rate * self.frame_ms / 1000)
        hop = frame - round(self.sample_rate * self.frame_overlap_ms / 1000)
        bar, remainder = divmod(frame, self.n_bars)
        if remainder or hop % bar:
            raise ValueError(f"frame of {frame} samples and hop {hop} must be whole multiples of {self.n_bars} bars")
        voiced = trim_silence(standardise_signal(signal), self.sample_rate, self.top_db)
        segments = split_segments(voiced, round(self.segment_s * self.sample_rate),
                                  round((self.segment_s - self.segment_overlap_s) * self.sample_rate))
        coefficients, _ = pywt.cwt(segments, self.scales(), self.wavelet, method="fft", axis=-1)
        modulus = np.abs(coefficients).transpose(1, 0, 2)  # (segments, scales, samples)
        n_frames = 1 + (segments.shape[1] - frame) // hop
        bars = modulus[..., : (n_frames - 1) * hop + frame].reshape(*modulus.shape[:2], -1, bar).mean(axis=-1)
        # frame f covers bars f*hop/bar ... f*hop/bar + n_bars - 1
        starts = np.arange(n_frames)[:, None] * (hop // bar) + np.arange(self.n_bars)
        return bars[:, :, starts].transpose(0, 2, 1, 3).astype(np.float32)


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


def context_windows(features: np.ndarray, context: int, shift: int) -> np.ndarray:
    """Each ``shift``-th frame with its ``context`` preceding and following frames (capsule paper
    §4.1): (ceil(frames / shift), 2·context + 1, dims). Edges repeat the first/last frame."""
    if context < 0 or shift < 1:
        raise ValueError(f"context must be >= 0 and shift >= 1, got {context} and {shift}")
    return sequence_windows(np.pad(features, ((context, context), (0, 0)), mode="edge"), 2 * context + 1, shift)


class GMMSupervector:
    """GMM posterior supervectors (capsule paper §2.4, after Loweimi et al. 2015).

    One diagonal GMM of ``components`` (M) Gaussians per class is fitted to that class's training
    frames; an utterance's supervector stacks, for each class GMM, its component posteriors
    averaged over the utterance's frames: length M × C.
    """

    def __init__(self, components: int = 32, max_frames_per_class: int = 20000, seed: int = 0) -> None:
        self.components = components
        self.max_frames_per_class = max_frames_per_class
        self.seed = seed

    def fit(self, frames: list[np.ndarray], labels: np.ndarray) -> GMMSupervector:
        from sklearn.mixture import GaussianMixture

        rng = np.random.default_rng(self.seed)
        self.mixtures = []
        for label in np.unique(labels):
            pooled = np.concatenate([f for f, y in zip(frames, labels) if y == label])
            if len(pooled) > self.max_frames_per_class:
                pooled = pooled[rng.choice(len(pooled), self.max_frames_per_class, replace=False)]
            if len(pooled) < self.components:
                raise ValueError(f"class {label!r} has {len(pooled)} frames, fewer than {self.components} components")
            self.mixtures.append(
                GaussianMixture(self.components, covariance_type="diag", reg_covar=1e-3, random_state=self.seed).fit(pooled)
            )
        return self

    def transform(self, frames: list[np.ndarray]) -> np.ndarray:
        return np.stack([
            np.concatenate([mixture.predict_proba(f).mean(axis=0) for mixture in self.mixtures]) for f in frames
        ]).astype(np.float32)


def per_utterance_standardised(features: list[np.ndarray]) -> list[np.ndarray]:
    """Each utterance z-scored per dimension by its own statistics (cepstral mean and variance
    normalisation): no statistic crosses utterances, so none comes from the test set."""
    return [((f - f.mean(axis=0)) / (f.std(axis=0) + 1e-8)).astype(np.float32) for f in features]


class Standardizer:
    """Per-dimension z-score with statistics from the training utterances only.

    A dimension (nearly) constant in training (standard deviation at most
    :attr:`CONSTANT_TOLERANCE` times its mean's magnitude, or 1) is centred but not scaled, as
    scikit-learn's ``StandardScaler`` does: dividing by its ~0 deviation would turn a small
    difference on test data (a ComParE functional that is always 0 in training) into ~1e8.
    """

    CONSTANT_TOLERANCE = 1e-7

    def fit(self, features: list[np.ndarray]) -> Standardizer:
        frames = np.concatenate(features, axis=0).astype(np.float64)
        self.mean = frames.mean(axis=0)
        std = frames.std(axis=0)
        constant = std <= self.CONSTANT_TOLERANCE * np.maximum(1.0, np.abs(self.mean))
        self.std = np.where(constant, 1.0, std + 1e-8)
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


def worker_count(jobs: int | None = None) -> int:
    """Worker processes for :func:`extract`: ``jobs``, else ``$SERLIB_JOBS``, else every core
    this process may use."""
    if jobs is None and os.environ.get(JOBS_ENV):
        try:
            jobs = int(os.environ[JOBS_ENV])
        except ValueError:
            raise ValueError(f"${JOBS_ENV} must be a whole number of workers, got {os.environ[JOBS_ENV]!r}") from None
    if jobs is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    return jobs


def write_atomically(path: Path, values: np.ndarray) -> None:
    """Save ``values`` to ``path`` through a temporary file of this writer's own, so that a
    reader never sees a partial file and two runs writing one entry never collide."""
    with files.atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, values)


def extract_files(extractor: Extractor, files: Sequence[tuple[str, Path]]) -> list[np.ndarray]:
    """Features of each (audio path, cache entry) pair, each written to its entry as soon as it is
    computed (so an error in a later file keeps the earlier ones). Runs in the worker processes."""
    computed = []
    for audio, entry in files:
        values = extractor(load_audio(audio, extractor.sample_rate))
        write_atomically(entry, values)
        computed.append(values)
    return computed


#: Set in every worker before it imports anything: one thread per worker for BLAS, OpenMP (torch)
#: and numba, so that N workers use N cores rather than N × cores threads.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


def _worker_pool(workers: int) -> Executor:
    """loky's reusable pool of ``workers`` processes: started once per session (about a second)
    and kept while in use, closed after a minute idle. Its workers never re-run the caller's
    ``__main__`` (scripts need no ``if __name__ == "__main__"`` guard) and receive extractors
    defined in a notebook by value (cloudpickle)."""
    import loky

    return loky.get_reusable_executor(max_workers=workers, timeout=60, env=ONE_THREAD)


def _chunks(items: list, workers: int) -> list[list]:
    """Equal chunks, a whole number per worker: at least 8 per worker (balance), of at most about
    32 files (a bar that moves)."""
    count = workers * max(8, math.ceil(len(items) / (32 * workers)))
    size = max(1, math.ceil(len(items) / count))
    return [items[start : start + size] for start in range(0, len(items), size)]


def extract(
    manifest: pd.DataFrame,
    extractor: Extractor,
    cache: str | Path | None = None,
    progress: bool = True,
    jobs: int | None = None,
) -> list[np.ndarray]:
    """Features for every utterance of ``manifest``, in order, cached on disk.

    The cache key is the SHA-256 of the audio file's bytes and :func:`extractor_key`, so a rerun
    (or a copy of the corpus elsewhere) loads instead of recomputing. Files not in the cache are
    extracted by ``jobs`` worker processes (:func:`worker_count`: every core by default). A file
    that cannot be used raises :class:`~serlib.audio.AudioError` naming it; no new file is started
    after it, and the features finished before it stay cached.
    """
    folder = config.cache_dir(cache) / "features" / extractor_key(extractor)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [str(path) for path in manifest["path"]]
    entries = [folder / f"{_file_sha256(path)}.npy" for path in paths]
    results: list[np.ndarray | None] = [read_cached(entry) for entry in entries]
    rows_of: dict[Path, list[int]] = {}  # one extraction per distinct audio content
    for row, entry in enumerate(entries):
        if results[row] is None:
            rows_of.setdefault(entry, []).append(row)
    missing = [(paths[rows[0]], entry) for entry, rows in rows_of.items()]
    bar = tqdm(total=len(paths), initial=len(paths) - sum(map(len, rows_of.values())), unit="file",
               desc=f"{type(extractor).__name__} features", disable=not progress)

    def store(files: Sequence[tuple[str, Path]], computed: list[np.ndarray]) -> None:
        for (_, entry), values in zip(files, computed):
            for row in rows_of[entry]:
                results[row] = values
            bar.update(len(rows_of[entry]))

    workers = min(worker_count(jobs), len(missing))
    with bar:
        if workers <= 1:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):  # as in a worker: BLAS threads only spin on one file's small products
                for file in missing:
                    store([file], extract_files(extractor, [file]))
        else:
            pool = _worker_pool(workers)
            pending = {pool.submit(extract_files, extractor, chunk): chunk for chunk in _chunks(missing, workers)}
            try:
                for done in as_completed(pending):
                    store(pending[done], done.result())
            except BaseException:
                for future in pending:  # start nothing new; the running chunks finish and are cached
                    future.cancel()
                wait(pending)
                raise
    return results  # type: ignore[return-value]


def read_cached(path: Path) -> np.ndarray | None:
    """The array cached at ``path``; None when there is none. An unreadable entry (empty or cut
    by a killed run or a full disk) is reported in one warning naming the file, removed, and
    recomputed by the caller."""
    if not path.exists():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (EOFError, ValueError, OSError) as err:
        warnings.warn(f"feature cache: {path} is unreadable ({type(err).__name__}: {err}); recomputing it", stacklevel=3)
        path.unlink(missing_ok=True)
        return None


def windowed_examples(
    features: Sequence[np.ndarray] | Mapping[int, np.ndarray], labels: np.ndarray, rows: np.ndarray, length: int, shift: int
) -> Examples:
    """Sequence windows (§3.1.2) of the utterances at ``rows``; each window keeps its utterance's label."""
    windows = {r: sequence_windows(features[r], length, shift) for r in rows}
    return stack_examples(windows, labels, rows)
