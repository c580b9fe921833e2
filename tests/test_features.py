import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from serlib import features
from serlib.audio import AudioError
from tests.conftest import write_tone


def test_spectral_shapes():
    signal = np.random.default_rng(0).normal(size=16000).astype(np.float32)
    frames = 1 + (16000 - 400) // 160
    assert features.LogMel()(signal).shape == (frames, 40)
    assert features.MFCC()(signal).shape == (frames, 13)


def test_log_mel_peak_band_follows_the_tone():
    t = np.arange(16000) / 16000
    low, high = (features.LogMel()(np.sin(2 * np.pi * f * t).astype(np.float32)).mean(0).argmax() for f in (300, 3000))
    assert low < high


def test_delta_matches_hand_computation():
    c = np.array([[0.0], [1.0], [4.0], [9.0], [16.0]])
    # N = 1: (c[t+1] - c[t-1]) / 2 with edges repeated
    assert features.delta(c, 1)[:, 0].tolist() == [0.5, 2.0, 4.0, 6.0, 3.5]
    # N = 2 at t = 2: (1 * (9 - 1) + 2 * (16 - 0)) / (2 * (1 + 4)) = 40 / 10
    assert features.delta(c, 2)[2, 0] == pytest.approx(4.0)


def test_dynamics_stack_and_order():
    c = np.random.default_rng(1).normal(size=(50, 13)).astype(np.float32)
    assert [features.with_dynamics(c, k).shape[1] for k in (0, 1, 2)] == [13, 26, 39]
    stacked = features.with_dynamics(c, 2)
    np.testing.assert_allclose(stacked[:, 26:], features.delta(features.delta(c, 1), 2), rtol=1e-6)
    with pytest.raises(ValueError):
        features.with_dynamics(c, 3)


def test_sequence_windows_count_and_padding():
    frames = np.arange(100 * 2, dtype=np.float32).reshape(100, 2)
    windows = features.sequence_windows(frames, 25, 3)
    assert windows.shape == (1 + (100 - 25) // 3, 25, 2)
    np.testing.assert_array_equal(windows[1], frames[3:28])
    short = features.sequence_windows(frames[:10], 25, 3)
    assert short.shape == (1, 25, 2) and not short[0, 10:].any()


def test_windowed_examples_keep_utterance_labels():
    feats = [np.zeros((31, 3), np.float32), np.ones((28, 3), np.float32)]
    examples = features.windowed_examples(feats, np.array([4, 6]), np.array([0, 1]), 25, 3)
    assert examples.y.tolist() == [4, 4, 4, 6, 6] and examples.utterance.tolist() == [0, 0, 0, 1, 1]


def test_standardizer_uses_given_statistics():
    train = [np.array([[0.0, 10.0], [2.0, 30.0]])]
    scaler = features.Standardizer().fit(train)
    np.testing.assert_allclose(scaler.transform([np.array([[1.0, 20.0]])])[0], [[0.0, 0.0]], atol=1e-6)


def test_cache_loads_instead_of_recomputing(tmp_path, monkeypatch):
    paths = [write_tone(tmp_path / f"{i}.wav", freq=200 + 100 * i) for i in range(3)]
    manifest = pd.DataFrame({"path": [str(p) for p in paths]})
    first = features.extract(manifest, features.MFCC(), tmp_path / "cache", progress=False)
    monkeypatch.setattr(features.MFCC, "__call__", lambda self, s: pytest.fail("recomputed a cached feature"))
    second = features.extract(manifest, features.MFCC(), tmp_path / "cache", progress=False)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_cache_key_depends_on_the_configuration():
    assert features.extractor_key(features.MFCC()) != features.extractor_key(features.MFCC(n_mfcc=20))
    assert features.extractor_key(features.MFCC()) == features.extractor_key(features.MFCC())


# --------------------------------------------------------------------------- parallel extraction

class ThreadsSeen(features.MFCC):
    """An extractor that reports the threads its worker's native pools run (BLAS, OpenMP)."""

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_info

        return np.array([pool["num_threads"] for pool in threadpool_info()] + [os.getpid()], dtype=np.int64)


def _tones(folder, count: int = 6) -> pd.DataFrame:
    paths = [write_tone(folder / f"{i}.wav", seconds=0.5 + 0.1 * i, freq=200 + 100 * i) for i in range(count)]
    return pd.DataFrame({"path": [str(p) for p in paths]})


def test_parallel_and_serial_extraction_give_identical_arrays_in_manifest_order(tmp_path):
    manifest = _tones(tmp_path)
    serial = features.extract(manifest, features.MFCC(), tmp_path / "serial", progress=False, jobs=1)
    parallel = features.extract(manifest, features.MFCC(), tmp_path / "parallel", progress=False, jobs=2)
    assert [len(a) for a in serial] == [len(a) for a in parallel] == sorted({len(a) for a in serial})
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)
    entries = {path.name for path in (tmp_path / "parallel").rglob("*.npy")}
    assert entries == {path.name for path in (tmp_path / "serial").rglob("*.npy")} and len(entries) == 6


def test_workers_run_one_native_thread_each(tmp_path):
    seen = features.extract(_tones(tmp_path), ThreadsSeen(), tmp_path / "cache", progress=False, jobs=2)
    assert len({int(row[-1]) for row in seen} - {os.getpid()}) >= 1  # computed in worker processes
    assert all(threads == 1 for row in seen for threads in row[:-1])


def test_a_bad_file_in_a_parallel_run_is_named_and_the_good_files_stay_cached(tmp_path, monkeypatch):
    good = _tones(tmp_path)
    bad = tmp_path / "cut.wav"
    bad.write_bytes(b"RIFF\x00\x00")
    manifest = pd.concat([good, pd.DataFrame({"path": [str(bad)]})], ignore_index=True)
    with pytest.raises(AudioError, match="cut.wav"):
        features.extract(manifest, features.MFCC(), tmp_path / "cache", progress=False, jobs=2)
    monkeypatch.setattr(features.MFCC, "__call__", lambda self, s: pytest.fail("recomputed a cached feature"))
    assert len(features.extract(good, features.MFCC(), tmp_path / "cache", progress=False, jobs=1)) == 6


def test_two_concurrent_extractions_into_one_cache_both_succeed(tmp_path, monkeypatch):
    manifest = _tones(tmp_path)
    reference = features.extract(manifest, features.MFCC(), tmp_path / "reference", progress=False, jobs=1)
    runs = 3
    lockstep = threading.Barrier(runs)  # every run has written its temporary file before any moves it into place
    save = np.save

    def save_in_lockstep(*args, **kwargs):
        save(*args, **kwargs)
        lockstep.wait(timeout=10)

    monkeypatch.setattr(np, "save", save_in_lockstep)
    with ThreadPoolExecutor(runs) as pool:
        started = [pool.submit(features.extract, manifest, features.MFCC(), tmp_path / "shared", False, 1)
                   for _ in range(runs)]
        every = [run.result() for run in started]
    for arrays in every:
        for a, b in zip(arrays, reference):
            np.testing.assert_array_equal(a, b)
    assert not [path for path in (tmp_path / "shared").rglob("*") if path.is_file() and path.suffix != ".npy"]


def test_worker_count_reads_the_setting_and_rejects_nonsense(monkeypatch):
    monkeypatch.setenv(features.JOBS_ENV, "3")
    assert features.worker_count() == 3 and features.worker_count(1) == 1
    monkeypatch.setenv(features.JOBS_ENV, "all")
    with pytest.raises(ValueError, match="SERLIB_JOBS"):
        features.worker_count()
    with pytest.raises(ValueError, match="at least 1"):
        features.worker_count(0)


def test_lab_front_end_emphasises_highs_starts_its_filters_at_133_hz_and_lifters():
    rate = 16000
    t = np.arange(rate) / rate
    low, high = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (200.0, 4000.0))
    ours, lab = features.LogMel(), features.LabLogMel()
    # pre-emphasis |1 − 0.97 e^(−iω)| is 1.39 at 4 kHz and 0.083 at 200 Hz: 4 kHz gains 2·ln(1.39/0.083) ≈ 5.6 in log power
    lift = (lab(high).max() - lab(low).max()) - (ours(high).max() - ours(low).max())
    assert 4.5 < lift < 6.0
    assert features._mel_filters(rate, 512, 40, 133.33)[:, :4].sum() == 0  # no filter weight below 133 Hz (bins 0-3)
    from scipy.fft import dct

    cepstra = features.LabMFCC()(high)
    unliftered = dct(lab(high), type=2, norm="ortho", axis=1)[:, :13]
    weights = 1 + 22 / 2 * np.sin(np.pi * np.arange(13) / 22)  # c0 kept as is, c11 scaled by 12
    np.testing.assert_allclose(cepstra, unliftered * weights, rtol=1e-4, atol=1e-3)
    assert features.extractor_key(features.LogMel()) != features.extractor_key(features.LabLogMel())


def test_per_utterance_standardisation_uses_each_utterances_own_statistics():
    rng = np.random.default_rng(0)
    utterances = [rng.normal(5.0, 3.0, size=(50, 4)), rng.normal(-2.0, 0.5, size=(30, 4))]
    for scaled in features.per_utterance_standardised(utterances):
        np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-4)


def test_a_feature_constant_in_training_stays_finite_and_sane_on_test():
    """ComParE-like functionals: some are always 0 (or one value) in training and not on test."""
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 2.0, (50, 6))
    train[:, 1] = 0.0  # constant zero in training
    train[:, 4] = 3.25  # constant non-zero in training
    test = rng.normal(5.0, 2.0, (10, 6))
    test[:, 1], test[:, 4] = 0.5, 3.5
    scaler = features.Standardizer().fit([train])
    scaled = scaler.transform([test])[0]
    assert np.all(np.isfinite(scaled)) and np.abs(scaled).max() < 10
    np.testing.assert_allclose(scaled[:, 1], 0.5)
    np.testing.assert_allclose(scaled[:, 4], 0.25)
    np.testing.assert_allclose(scaler.transform([train])[0][:, [0, 2, 3, 5]].std(axis=0), 1.0, rtol=1e-5)


def test_concurrent_writers_of_one_cache_entry_never_leave_a_partial_file(tmp_path):
    """Two jobs (the capsule SVM and CNN of one split under Dask) write the same supervector entry."""
    from serlib import files

    entry = tmp_path / "supervectors" / "entry.npy"
    values = [np.full((400, 500), float(i)) for i in range(8)]

    def write(value: np.ndarray) -> None:
        with files.atomic_path(entry) as temporary, open(temporary, "wb") as handle:
            np.save(handle, value)

    def read() -> float:
        loaded = np.load(entry) if entry.exists() else np.zeros((400, 500))
        assert loaded.shape == (400, 500) and np.all(loaded == loaded.flat[0])
        return float(loaded.flat[0])

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(write, value) for value in values for _ in range(3)] + [pool.submit(read) for _ in range(20)]
        [future.result() for future in futures]
    assert read() in range(8) and sorted(p.name for p in entry.parent.iterdir()) == ["entry.npy"]
