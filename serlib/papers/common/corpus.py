"""The corpus a paper runs on: a registered name or a CSV manifest, its speech only, the
paper's classes mapped onto it, and the small subsets of the smoke profile."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from serlib import corpora


def corpus_label(name: str) -> str:
    """The name results files use: a registered corpus's name or a CSV manifest's stem."""
    return Path(name).stem if name.endswith(".csv") else name


def check_corpus_name(name: str, parameter: str = "corpus") -> None:
    """A registered corpus or a CSV manifest path; anything else is an error naming the valid
    ones, raised when the settings are read (before any work is done)."""
    if not name.endswith(".csv") and name not in corpora.PARSERS:
        raise ValueError(f"parameter {parameter}: unknown corpus {name!r}; known: {sorted(corpora.PARSERS)} or a .csv manifest")


def load_corpus(name: str, data_root: str | Path | None = None) -> pd.DataFrame:
    """The manifest of a registered corpus under the data root, or of a CSV manifest path; its
    speech only (:func:`load_speech`)."""
    return load_speech(name, data_root)[0]


def load_speech(name: str, data_root: str | Path | None = None) -> tuple[pd.DataFrame, str]:
    """:func:`load_corpus`'s manifest and a note of what it kept: RAVDESS's song files (vocal
    channel 02) never enter a speech protocol, even where a download of the song part sits in the
    same folder."""
    if name.endswith(".csv"):
        return speech_only(corpora.load_manifest(name), name)
    return speech_only(corpora.load_manifest(name, corpora.corpus_root(name, data_root)), name)


def speech_only(manifest: pd.DataFrame, corpus: str) -> tuple[pd.DataFrame, str]:
    """The rows whose ``vocal_channel`` (where the corpus has one) is speech (RAVDESS vocal channel
    01, capsule §4.2 "speech") and a note for the results file; a corpus without speech is an error."""
    if "vocal_channel" not in manifest:
        return manifest, ""
    speech = manifest[manifest["vocal_channel"] == "speech"].reset_index(drop=True)
    if speech.empty:
        raise ValueError(f"corpus {corpus!r}: no speech files (vocal channel 01) among its {len(manifest)} files")
    dropped = len(manifest) - len(speech)
    return speech, f"speech only (vocal channel 01): {len(speech)} files" + (f", {dropped} song files left out" if dropped else "")


@dataclass(frozen=True)
class ClassMapping:
    """The paper's classes as found in one corpus: those present (in the paper's order) and a
    sentence for the page when some are missing."""

    classes: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def note(self) -> str:
        if not self.missing:
            return f"all {len(self.classes)} classes of the paper are present"
        return (f"reduced task: {len(self.classes)} of the paper's {len(self.classes) + len(self.missing)} classes "
                f"(missing in this corpus: {', '.join(self.missing)})")


def map_classes(values: pd.Series, classes: Sequence[str], corpus: str) -> ClassMapping:
    """Which of the paper's ``classes`` occur in ``values``; fewer than two is an error."""
    present = set(values)
    kept = tuple(c for c in classes if c in present)
    if len(kept) < 2:
        raise ValueError(f"corpus {corpus!r}: only {list(kept)} of the paper's classes {list(classes)} occur; "
                         "a classification task needs at least two")
    return ClassMapping(kept, tuple(c for c in classes if c not in present))


def smoke_speakers(manifest: pd.DataFrame, count: int, preferred: Sequence[str] = ()) -> list[str]:
    """The speakers a smoke subset keeps: ``preferred`` where the corpus has them all, else the
    ``count`` speakers with the most classes, then the most utterances (ties by name), so that a
    small or uneven corpus keeps every class it can."""
    present = set(manifest["speaker"])
    if preferred and set(preferred) <= present:
        return list(preferred)
    classes = manifest.groupby("speaker")["emotion"].nunique()
    sizes = manifest["speaker"].value_counts()
    return sorted(present, key=lambda speaker: (-classes[speaker], -sizes[speaker], str(speaker)))[:count]


def smoke_subset(manifest: pd.DataFrame, by: Sequence[str], per_group: int, speakers: Sequence[str] | None = None) -> pd.DataFrame:
    """The first ``per_group`` utterances of every group of ``by`` (e.g. speaker × emotion),
    optionally of some ``speakers`` only: every class of the kept speakers stays present."""
    if speakers is not None:
        manifest = manifest[manifest["speaker"].isin(list(speakers))]
    return manifest.groupby(list(by), sort=False).head(per_group).reset_index(drop=True)

