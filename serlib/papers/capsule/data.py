"""The capsule paper's corpora and tasks (RAVDESS and FAU-Aibo, with their features) and the
splits of its tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import time
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import corpora, features, splits
from serlib.papers import common
from serlib.papers.capsule.config import EGEMAPS, FB128, FEATURE_STAR, HPARAMS, RAVDESS_ORDER, Settings


# --------------------------------------------------------------------------- corpora and tasks


@dataclass(frozen=True)
class Task:
    """One classification task on a corpus: its classes and each utterance's label index."""

    name: str
    classes: tuple[str, ...]
    labels: np.ndarray = field(repr=False, compare=False)
    note: str = ""


@dataclass
class Corpus:
    """A corpus of the run with its tasks and features (Feature*, FB128 frames; eGeMAPS vectors)."""

    name: str
    manifest: pd.DataFrame
    tasks: dict[str, Task]
    features: dict[str, list[np.ndarray] | np.ndarray]
    dropped_tasks: dict[str, str] = field(default_factory=dict)
    notes: str = ""  # what was left out of the corpus (e.g. RAVDESS's song files) and why
    started: float = field(default_factory=time.time)  # when the run began: the results file's wall time counts from here


def _task(name: str, values: pd.Series, classes: Sequence[str], corpus: str) -> Task:
    mapping = common.map_classes(values, classes, corpus)
    labels = values.map({c: i for i, c in enumerate(mapping.classes)})
    if labels.isna().any():
        raise ValueError(f"corpus {corpus!r}, task {name!r}: labels outside the task's classes {list(mapping.classes)}")
    return Task(name, mapping.classes, labels.to_numpy(dtype=int), mapping.note)


def acted_tasks(manifest: pd.DataFrame, names: Sequence[str], corpus: str) -> tuple[dict[str, Task], dict[str, str]]:
    """The tasks of Tables 2-3 on an acted corpus: 8-class (RAVDESS's classes that occur), binary
    valence (:data:`serlib.corpora.VALENCE`) and binary intensity (needs an ``intensity`` column).
    Returns the tasks and, for those that cannot be built on this corpus, why."""
    tasks, dropped = {}, {}
    for name in names:
        if name == "8-class":
            tasks[name] = _task(name, manifest["emotion"], RAVDESS_ORDER, corpus)
        elif name == "2-class valence":
            tasks[name] = _task(name, manifest["emotion"].map(corpora.VALENCE), ("negative", "positive"), corpus)
        elif "intensity" in manifest:
            tasks[name] = _task(name, manifest["intensity"], ("normal", "strong"), corpus)
        else:
            dropped[name] = f"corpus {corpus!r} has no intensity labels"
    return tasks, dropped


def corpus_features(manifest: pd.DataFrame, cache: str | Path | None = None, progress: bool = True) -> dict:
    """Feature* and FB128 frames and eGeMAPS vectors of every utterance (cached)."""
    return {"feature*": features.extract(manifest, FEATURE_STAR, cache, progress),
            "fb128": features.extract(manifest, FB128, cache, progress),
            "egemaps": np.stack(features.extract(manifest, EGEMAPS, cache, progress))}


def load_acted(settings: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
               progress: bool = True) -> Corpus:
    """RAVDESS (or the corpus of ``settings.corpus``) with its tasks and features."""
    manifest, notes = common.load_speech(settings.corpus, data_root)
    if settings.speakers:
        groups = ["speaker", "emotion"] + (["intensity"] if "intensity" in manifest else [])
        kept = common.smoke_speakers(manifest, len(settings.speakers), settings.speakers)
        manifest = common.smoke_subset(manifest, groups, settings.per_group or 1, kept)
    tasks, dropped = acted_tasks(manifest, settings.tasks, settings.corpus)
    return Corpus(common.corpus_label(settings.corpus), manifest, tasks, corpus_features(manifest, cache, progress), dropped, notes)


def load_fau_aibo(root: str | Path, settings: Settings, cache: str | Path | None = None, progress: bool = True) -> Corpus:
    """FAU-Aibo (IS2009 layout) with its 2-class (NEG/IDL) and 5-class (A, E, N, P, R) tasks."""
    manifest = corpora.load_manifest("fau-aibo", root, download=False)
    if settings.speakers:  # smoke: a few chunks per school and class
        manifest = manifest.groupby(["school", "emotion"]).head(2).reset_index(drop=True)
    tasks = {"2-class": _task("2-class", manifest["label_2cl"], ("negative", "idle"), "fau-aibo"),
             "5-class": _task("5-class", manifest["emotion"], ("anger", "emphatic", "neutral", "positive", "rest"), "fau-aibo")}
    return Corpus("fau-aibo", manifest, tasks, corpus_features(manifest, cache, progress))


# --------------------------------------------------------------------------- splits


def table2_split(corpus: Corpus, settings: Settings) -> splits.Split:
    """Table 2's speaker-independent split. Rule: in sorted order the last ``test_speakers``
    speakers test and the one before validates (§4.2's "19 speakers for training and four
    different speakers for testing" leaves RAVDESS's 20th actor to validate)."""
    speakers = sorted(corpus.manifest["speaker"].unique())
    if len(speakers) < settings.test_speakers + 2:
        raise ValueError(f"Table 2 needs {settings.test_speakers + 2} speakers or more; {corpus.name} has {len(speakers)}")
    test, val = speakers[-settings.test_speakers:], [speakers[-settings.test_speakers - 1]]
    return splits.fixed_speakers(corpus.manifest, test=test, val=val, name=f"{corpus.name} speaker-independent")


def table3_splits(corpus: Corpus, settings: Settings) -> list[splits.Split]:
    """Table 3's emotion-stratified random 75/25 utterance splits (speaker-dependent; FAU-Aibo's Table 4 too)."""
    return splits.random_stratified(corpus.manifest, HPARAMS.table3_test_fraction, repeats=settings.table3_splits, seed=0)


def school_split(corpus: Corpus, train_school: str, test_school: str) -> splits.Split:
    """Table 1: the children of one school train, those of the other test (speaker-disjoint)."""
    schools = {s: sorted(corpus.manifest.loc[corpus.manifest["school"] == s, "speaker"].unique()) for s in (train_school, test_school)}
    return splits.fixed_speakers(corpus.manifest, train=schools[train_school], test=schools[test_school],
                                 name=f"{train_school}→{test_school}")
