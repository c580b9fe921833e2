import numpy as np
import pytest
import pywt
import torch

from serlib import corpora, features, splits
from serlib.models.layers import AttentionPooling
from serlib.models.scalogram import ScalogramCRNN

RATE = 16000


def tone(freq: float, seconds: float = 2.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.sin(2 * np.pi * freq * t).astype(np.float32)


def test_morlet_matches_equation_2():
    extractor = features.Scalogram(sigma=1.0, omega=5.0)
    psi, t = pywt.ContinuousWavelet(extractor.wavelet).wavefun(10)
    expected = np.exp(-(t**2) / 2) * np.exp(1j * 5 * t)
    np.testing.assert_allclose(psi * np.sqrt(2 * np.pi), expected, atol=1e-6)


def test_scalogram_shape():
    out = features.Scalogram()(tone(440, 2.5))
    # one 2.5 s segment; 25 ms frames every 15 ms: 1 + (40000 - 400) // 240 frames; 32 scales; 20 bars
    assert out.shape == (1, 166, 32, 20) and out.dtype == np.float32


def test_bars_are_strip_means_of_each_frame():
    extractor = features.Scalogram(n_scales=4, fmin=500, fmax=4000)
    signal = np.random.default_rng(0).normal(size=int(2.5 * RATE)).astype(np.float32)
    out = extractor(signal)
    voiced = features.trim_silence(features.standardise_signal(signal), RATE, extractor.top_db)
    segment = np.pad(voiced, (0, 40000 - len(voiced)))
    coefficients, _ = pywt.cwt(segment, extractor.scales(), extractor.wavelet, method="fft")
    frame_10 = np.abs(coefficients[:, 10 * 240 : 10 * 240 + 400])
    np.testing.assert_allclose(out[0, 10], frame_10.reshape(4, 20, 20).mean(axis=2), rtol=1e-4)


@pytest.mark.parametrize("freq", [200.0, 1000.0, 4000.0])
def test_pure_tone_lands_in_the_nearest_scale(freq):
    extractor = features.Scalogram()
    centre = np.geomspace(extractor.fmin, extractor.fmax, extractor.n_scales)
    energy = extractor(tone(freq))[0].mean(axis=(0, 2))
    assert abs(np.argmax(energy) - np.argmin(np.abs(np.log(centre / freq)))) <= 1


@pytest.mark.parametrize("seconds, expected", [(1.0, 1), (2.5, 1), (2.6, 2), (4.0, 2), (4.1, 3)])
def test_segment_counts_and_padding(seconds, expected):
    signal = np.ones(int(seconds * RATE), dtype=np.float32)
    segments = features.split_segments(signal, int(2.5 * RATE), int(1.5 * RATE))
    assert segments.shape == (expected, 40000)
    assert segments.sum() == pytest.approx(len(signal) + 1.0 * 16000 * (expected - 1))  # overlaps counted twice
    assert segments[-1, -1] == (1.0 if seconds in (2.5, 4.0) else 0.0)


def test_silence_is_trimmed_at_both_ends():
    signal = np.concatenate([np.zeros(8000), tone(300, 1.0), np.zeros(8000)]).astype(np.float32)
    trimmed = features.trim_silence(signal, RATE)
    assert 16000 <= len(trimmed) <= 16000 + 2 * 400


def test_attention_weights_sum_to_one():
    layer = AttentionPooling(8)
    h = torch.randn(3, 11, 8)
    pooled = layer(h)
    assert pooled.shape == (3, 8)
    torch.testing.assert_close(layer.weights.sum(dim=1), torch.ones(3))
    torch.testing.assert_close(pooled, (layer.weights.unsqueeze(-1) * h).sum(dim=1))


def test_model_output_shape():
    model = ScalogramCRNN(32, 20, 4).eval()
    assert model(torch.zeros(2, 166, 32, 20)).shape == (2, 4)


@pytest.mark.parametrize("name, speakers", [("savee", 4), ("emodb", 10), ("ravdess", 12)])
def test_loso_folds_per_speaker(corpora_root, name, speakers):
    manifest = corpora.select_emotions(corpora.load_manifest(name, corpora_root / name, download=False), ["anger", "happiness", "neutral", "sadness"])
    if name == "ravdess":
        manifest = manifest[manifest["gender"] == "m"].reset_index(drop=True)
    folds = splits.leave_one_speaker_out(manifest)
    assert len(folds) == speakers
    for fold in folds:
        splits.check_speaker_disjoint(manifest, fold)
        assert not set(manifest["speaker"].iloc[fold.train]) & set(manifest["speaker"].iloc[fold.test])
