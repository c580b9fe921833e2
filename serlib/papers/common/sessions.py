"""Corpora with sessions for the IEMOCAP papers: the 4-class task and speaker-disjoint folds,
from the corpus's sessions or built by a stated rule where it has none."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import corpora, splits
from serlib.papers.common.corpus import corpus_label, load_corpus, smoke_subset


#: IEMOCAP's usual 4-class task (angry, happy, neutral, sad), on every corpus that has the classes.
FOUR_CLASSES = corpora.FOUR_CLASS


@dataclass(frozen=True)
class SessionTask:
    """How a corpus with sessions (speaker-disjoint folds in the manifest's ``session`` column)
    becomes the 4-class task of the IEMOCAP papers (nkululeko-style: data, not code)."""

    corpus: str
    merge: dict[str, str]  # label merges before selecting the classes
    single_split_test: int  # the session that tests in a single-split view
    stand_in: bool  # not the papers' corpus: its numbers are never set beside the papers'
    note: str
    folds: str = ""  # how the folds were made (filled by session_corpus)


SESSION_TASKS = {
    "nemo": SessionTask("nemo", {}, 4, True,
                        "nEMO stands in for IEMOCAP: Polish acted speech (9 actors) instead of English dyadic sessions "
                        "(10 actors)."),
    "iemocap": SessionTask("iemocap", {"excitement": "happiness"}, 5, False,
                           "IEMOCAP 4-class with excitement merged into happiness (5531 utterances)."),
}


def four_class_manifest(manifest: pd.DataFrame, task: SessionTask) -> pd.DataFrame:
    """The 4 classes after ``task.merge`` (e.g. IEMOCAP's excitement into happiness)."""
    merged = manifest.assign(emotion=manifest["emotion"].replace(task.merge))
    return corpora.select_emotions(merged, FOUR_CLASSES)


#: Folds of a corpus without sessions for the IEMOCAP papers' protocols (IEMOCAP has five sessions).
SESSION_FOLDS = 5
#: Their numbers, the test folds a session protocol may hold out.
SESSION_FOLD_NUMBERS = tuple(range(1, SESSION_FOLDS + 1))


def session_task(name: str) -> SessionTask:
    """The task of corpus ``name``: its entry in :data:`SESSION_TASKS`, else (any other registered
    corpus or a CSV manifest) the 4 classes as they are, as a stand-in, its last fold testing in
    the single-split view."""
    if name in SESSION_TASKS:
        return SESSION_TASKS[name]
    return SessionTask(corpus_label(name), {}, SESSION_FOLDS, True,
                       f"{corpus_label(name)} stands in for IEMOCAP: its own speakers, language and recordings.")


def with_sessions(manifest: pd.DataFrame, corpus: str) -> tuple[pd.DataFrame, str]:
    """``manifest`` with a ``session`` column of fold numbers and how they were made: the corpus's
    own ``session`` (or ``fold``) column where it has one (whole numbers kept; other values
    numbered 1..n in sorted order), else :data:`SESSION_FOLDS` speaker-disjoint folds by
    :func:`serlib.splits.speaker_folds`. A blank value, a speaker in two folds, or more folds than
    the protocols' five, is an error naming them. Each fold's speaker-disjointness is checked when the folds are made."""
    for column in ("session", "fold"):
        if column not in manifest:
            continue
        values = manifest[column].astype(str).str.strip()
        if (values == "").any():
            raise ValueError(f"corpus {corpus!r}: {int((values == '').sum())} utterances have no {column} "
                             f"(e.g. {manifest.loc[values == '', 'utterance_id'].iloc[0]}); give every one, or drop the column")
        per_speaker = values.groupby(manifest["speaker"]).unique()
        spread = {str(speaker): sorted(found) for speaker, found in per_speaker.items() if len(found) > 1}
        if spread:
            raise ValueError(f"corpus {corpus!r}: the {column} column puts speaker(s) in more than one {column}, so its "
                             f"folds would not be speaker-disjoint: {dict(list(spread.items())[:5])}; give each speaker "
                             f"one {column}, or drop the column for speaker-disjoint folds")
        names = sorted(values.unique(), key=lambda v: (0, int(v), v) if v.isdigit() else (1, 0, v))
        if len(names) > SESSION_FOLDS:
            raise ValueError(f"corpus {corpus!r}: {len(names)} {column}s; the protocols test {SESSION_FOLDS} folds: give a "
                             f"{column} column with at most {SESSION_FOLDS} values, or drop it for speaker-disjoint folds")
        numbers = {v: int(v) for v in names} if all(v.isdigit() for v in names) else {v: i for i, v in enumerate(names, start=1)}
        return manifest.assign(session=values.map(numbers).astype(int)), f"the {len(names)} {column}s of its manifest as folds"
    folds = min(SESSION_FOLDS, manifest["speaker"].nunique())
    rule = (f"{folds} speaker-disjoint folds: speakers sorted by utterance count (most first, ties by name), each given "
            "to the fold with the fewest utterances so far")
    return manifest.assign(session=splits.speaker_folds(manifest, folds)), rule


def session_corpus(name: str, per_class_and_speaker: int | None = None, root: str | Path | None = None,
                   data_root: str | Path | None = None) -> tuple[pd.DataFrame, np.ndarray, SessionTask]:
    """A corpus (from ``root``, else the data root; any registered corpus or a CSV manifest) as
    the 4-class task of the IEMOCAP papers: its manifest with speaker-disjoint sessions
    (:func:`with_sessions`; a smoke subset of ``per_class_and_speaker`` utterances per speaker and
    class where given), the labels (indices into :data:`FOUR_CLASSES`) and its task. A class the
    corpus lacks, or too few speakers for three folds, is an error naming the counts."""
    task = session_task(name)
    manifest = corpora.load_manifest(name, root, download=False) if root else load_corpus(name, data_root)
    manifest = four_class_manifest(manifest, task)
    counts = manifest["emotion"].value_counts()
    missing = [c for c in FOUR_CLASSES if c not in counts]
    if missing:
        raise ValueError(f"corpus {name!r}: the 4-class task needs {list(FOUR_CLASSES)}; missing {missing} "
                         f"(found {counts.to_dict()})")
    manifest, how = with_sessions(manifest, name)
    if manifest["session"].nunique() < 3:
        raise ValueError(f"corpus {name!r}: leave-one-session-out with a validation speaker needs 3 sessions or more; "
                         f"found {manifest['session'].nunique()} ({manifest['speaker'].nunique()} speakers)")
    task = replace(task, folds=how)
    if name not in SESSION_TASKS:
        task = replace(task, note=f"{task.note} Folds: {how}.", single_split_test=int(manifest["session"].max()))
    if per_class_and_speaker:
        manifest = smoke_subset(manifest, ["speaker", "emotion"], per_class_and_speaker)
        manifest = manifest.sort_values("utterance_id", ignore_index=True)
    labels = manifest["emotion"].map({e: i for i, e in enumerate(FOUR_CLASSES)}).to_numpy()
    return manifest, labels, task

