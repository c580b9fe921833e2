import numpy as np
import pytest
import soundfile as sf

from serlib.audio import AudioError, duration_seconds, load_audio
from tests.conftest import write_tone


def test_mono_float32_at_the_file_rate(tmp_path):
    signal = load_audio(write_tone(tmp_path / "a.wav", seconds=0.5), 16000)
    assert signal.dtype == np.float32 and signal.ndim == 1 and len(signal) == 8000


def test_stereo_is_downmixed(tmp_path):
    path = tmp_path / "stereo.wav"
    left = np.full(1600, 0.5)
    sf.write(path, np.stack([left, -0.5 * left], axis=1), 16000)
    assert np.allclose(load_audio(path, 16000), 0.125, atol=1e-4)


def test_resampled_to_the_requested_rate(tmp_path):
    signal = load_audio(write_tone(tmp_path / "a.flac", seconds=1.0, rate=44100), 16000)
    assert len(signal) == 16000
    spectrum = np.abs(np.fft.rfft(signal))
    assert abs(np.argmax(spectrum) * 16000 / len(signal) - 440) < 2


def test_real_stereo_ravdess_file(corpora_root):
    path = corpora_root / "ravdess" / "Actor_01" / "03-01-02-01-01-02-01.flac"
    assert sf.info(path).channels == 2
    signal = load_audio(path, 16000)
    assert signal.ndim == 1 and abs(len(signal) / 16000 - duration_seconds(path)) < 0.01


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b"not audio at all"), "cannot be read as audio"),
        (lambda p: sf.write(p, np.zeros(0), 16000), "holds no samples"),
        (lambda p: sf.write(p, np.zeros(100), 16000), "too short"),
    ],
)
def test_bad_audio_names_the_file(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=f"bad.wav.*{message}"):
        load_audio(path, 16000)


def test_unsupported_format(tmp_path):
    with pytest.raises(AudioError, match="clip.mp3: unsupported"):
        load_audio(tmp_path / "clip.mp3", 16000)
