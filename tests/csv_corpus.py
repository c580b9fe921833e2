"""A bring-your-own corpus in the shape users bring: a CSV manifest ``path,speaker,emotion`` (plus
an optional ``session`` column), four classes with one rare, speakers with very uneven counts (some
with a single utterance), non-ASCII speaker names and paths, FLAC and WAV at mixed sample rates,
some stereo. Tones stand in for speech; each class and speaker gets its own pitch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.conftest import write_tone

#: Utterances per speaker (29 speakers), very uneven: a few large, many small, some with one.
SPEAKER_SIZES = (24, 20, 16, 12, 10, 9, 8, 7, 6, 6, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1)
CLASSES = ("anger", "happiness", "neutral", "sadness")
RATES = (16000, 22050, 44100)


def speaker_name(number: int) -> str:
    return ("Zoë", "Łukasz", "Ngọc")[number] if number < 3 else f"spk{number:02d}"


def write_csv_corpus(folder: Path, sessions: int | None = None, drop_class: str | None = None,
                     seconds: float = 0.6) -> Path:
    """The corpus under ``folder`` and its manifest ``corpus.csv``; ``sessions``: add a
    ``session`` column (speakers dealt round-robin); ``drop_class``: a corpus without it. The
    rare class is sadness: one utterance in every seventh."""
    rows = []
    for number, size in enumerate(SPEAKER_SIZES):
        speaker = speaker_name(number)
        for take in range(size):
            emotion = "sadness" if (number + take) % 7 == 6 else CLASSES[(number + take) % 3]
            if emotion == drop_class:
                emotion = CLASSES[(CLASSES.index(emotion) + 1) % 3]
            suffix = ".flac" if take % 2 else ".wav"
            name = f"audio/{speaker}/ünï_{take:02d}{suffix}"
            write_tone(folder / name, seconds=seconds + 0.05 * (take % 4), rate=RATES[take % 3], channels=2 if take % 5 == 4 else 1,
                       freq=140.0 + 45 * CLASSES.index(emotion) + 3 * (number % 10))
            row = {"path": name, "speaker": speaker, "emotion": emotion}
            if sessions:
                row["session"] = f"S{number % sessions + 1}"
            rows.append(row)
    path = folder / "corpus.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
