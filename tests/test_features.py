import numpy as np
import pandas as pd
import pytest

from serlib import features
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
