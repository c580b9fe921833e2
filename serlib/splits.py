"""Train/validation/test splits over a manifest, checked speaker-disjoint in code.

Every builder returns :class:`Split` objects made by :func:`make_split`; a speaker-independent
:class:`Split` raises :class:`SpeakerLeakError` on construction when two of its parts share a
speaker, so no split of that kind exists unchecked.
Speaker-dependent splits (random stratified) exist only for papers that use them and carry
``speaker_independent=False`` in their name and flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedShuffleSplit


class SpeakerLeakError(ValueError):
    """A split meant to be speaker-independent shares speakers between its parts."""


#: A split's speakers come from its manifest's ``speaker`` column and are checked in code.
MANIFEST_SPEAKERS = "the manifest"


@dataclass(frozen=True)
class Split:
    """Row positions (into the manifest) of each part of one split, the utterance ids of each part
    (what a training's identity hashes: :func:`serlib.identity.split_identity`) and each part's
    speakers. A speaker-independent split checks on construction that no speaker lies in two
    parts, unless ``speakers_from`` names the source that vouches for it instead of the manifest
    (a release whose files name no speaker); build splits with :func:`make_split`."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    speaker_independent: bool = True
    utterances: Mapping[str, tuple[str, ...]] | None = field(default=None, compare=False, repr=False)
    speakers: Mapping[str, frozenset[str]] | None = field(default=None, compare=False, repr=False)
    speakers_from: str = field(default=MANIFEST_SPEAKERS, compare=False)

    def __post_init__(self) -> None:
        if not self.speaker_independent or self.speakers_from != MANIFEST_SPEAKERS:
            return
        if self.speakers is None:
            raise ValueError(f"split {self.name!r} is speaker-independent but carries no speakers to check; "
                             "build it with serlib.splits.make_split")
        for first, second in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = self.speakers[first] & self.speakers[second]
            if shared:
                raise SpeakerLeakError(f"split {self.name!r}: speaker(s) {sorted(shared)} in both {first} and {second}")

    def parts(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "val": self.val, "test": self.test}


def part_speakers(manifest: pd.DataFrame, parts: Mapping[str, np.ndarray]) -> dict[str, frozenset[str]]:
    """The speakers of each part (row positions into ``manifest``)."""
    return {part: frozenset(map(str, manifest["speaker"].iloc[rows])) for part, rows in parts.items()}


def check_speaker_disjoint(manifest: pd.DataFrame, split: Split) -> None:
    """Raise :class:`SpeakerLeakError` if two parts of ``split`` share a speaker of ``manifest``
    (a check against another manifest than the one the split was made from)."""
    Split(split.name, split.train, split.val, split.test, speakers=part_speakers(manifest, split.parts()))


def make_split(
    manifest: pd.DataFrame,
    name: str,
    train: Sequence[int],
    test: Sequence[int],
    val: Sequence[int] = (),
    speaker_independent: bool = True,
    speakers_from: str = MANIFEST_SPEAKERS,
) -> Split:
    """Build a split, checking that parts do not overlap and (if so flagged) share no speaker.
    ``speakers_from`` names another source of speaker-disjointness where the manifest names no
    speakers (e.g. a challenge's partitions); such a split is not checked, and says so."""
    parts = dict(zip(("train", "val", "test"), (np.asarray(sorted(p), dtype=int) for p in (train, val, test))))
    ids = manifest["utterance_id"].astype(str).to_numpy() if "utterance_id" in manifest else None
    utterances = None if ids is None else {part: tuple(ids[rows]) for part, rows in parts.items()}
    split = Split(name, parts["train"], parts["val"], parts["test"], speaker_independent, utterances,
                  part_speakers(manifest, parts), speakers_from)
    seen = np.concatenate(list(parts.values()))
    if len(seen) != len(np.unique(seen)):
        raise ValueError(f"split {name!r}: an utterance appears in more than one part")
    if len(split.train) == 0 or len(split.test) == 0:
        raise ValueError(f"split {name!r}: empty train or test part")
    return split


def _rows_of(manifest: pd.DataFrame, speakers: Sequence[str]) -> np.ndarray:
    unknown = sorted(set(speakers) - set(manifest["speaker"]))
    if unknown:
        raise ValueError(f"speaker(s) {unknown} not in the manifest")
    return np.flatnonzero(manifest["speaker"].isin(list(speakers)).to_numpy())


def fixed_speakers(
    manifest: pd.DataFrame,
    test: Sequence[str],
    val: Sequence[str] = (),
    train: Sequence[str] | None = None,
    name: str = "fixed speakers",
) -> Split:
    """Named speaker lists; ``train`` defaults to every other speaker."""
    if train is None:
        train = sorted(set(manifest["speaker"]) - set(test) - set(val))
    return make_split(manifest, name, _rows_of(manifest, train), _rows_of(manifest, test), _rows_of(manifest, val))


def leave_one_speaker_out(manifest: pd.DataFrame, validate_on_next: bool = False) -> list[Split]:
    """One fold per speaker: that speaker is the test set, all others train. With
    ``validate_on_next`` the next speaker (sorted, cyclically) is the fold's validation set and
    leaves the training set, so that stopping and model choices never see the test speaker."""
    speakers = sorted(manifest["speaker"].unique())
    if validate_on_next and len(speakers) < 3:
        raise ValueError(f"leave-one-speaker-out with a validation speaker needs 3 speakers or more; found {speakers}")
    folds = []
    for i, speaker in enumerate(speakers):
        val = [speakers[(i + 1) % len(speakers)]] if validate_on_next else []
        name = f"LOSO test={speaker}" + (f" val={val[0]}" if val else "")
        folds.append(fixed_speakers(manifest, test=[speaker], val=val, name=name))
    return folds


def speaker_kfold(manifest: pd.DataFrame, k: int, seed: int = 0) -> list[Split]:
    """Speakers shuffled with ``seed`` and dealt into ``k`` groups; each group is a test set once."""
    speakers = np.array(sorted(manifest["speaker"].unique()))
    if not 2 <= k <= len(speakers):
        raise ValueError(f"k={k} folds need 2..{len(speakers)} speakers")
    order = np.random.default_rng(seed).permutation(speakers)
    groups = np.array_split(order, k)
    return [
        fixed_speakers(manifest, test=list(group), name=f"speaker fold {i + 1}/{k}")
        for i, group in enumerate(groups)
    ]


def speaker_folds(manifest: pd.DataFrame, k: int) -> pd.Series:
    """A fold number (1..k) for every utterance of a corpus without sessions, by a stated,
    deterministic rule: speakers sorted by utterance count (most first; ties by name), each given
    to the fold with the fewest utterances so far (ties: the lowest number). Every speaker lies in
    one fold, and the folds are as even in utterances as whole speakers allow."""
    counts = manifest["speaker"].value_counts()
    speakers = sorted(counts.index, key=lambda speaker: (-counts[speaker], str(speaker)))
    if len(speakers) < k:
        raise ValueError(f"{k} speaker-disjoint folds need {k} speakers or more; the corpus has {len(speakers)}: {speakers}")
    sizes, fold_of = [0] * k, {}
    for speaker in speakers:
        fold = min(range(k), key=lambda f: (sizes[f], f))
        fold_of[speaker] = fold + 1
        sizes[fold] += counts[speaker]
    return manifest["speaker"].map(fold_of).astype(int)


def session_folds(manifest: pd.DataFrame, column: str = "session", validate_on_next: bool = False) -> list[Split]:
    """Leave-one-session-out (IEMOCAP: 5 sessions, each with its own two speakers).

    With ``validate_on_next``, the first speaker (sorted) of the next session (cyclically) is
    the validation set and leaves the training set: model choices never see the test session.
    """
    if column not in manifest:
        raise ValueError(f"manifest has no {column!r} column for session-based folds")
    sessions = sorted(manifest[column].unique())
    if len(sessions) < (3 if validate_on_next else 2):
        raise ValueError(f"leave-one-session-out needs {3 if validate_on_next else 2} sessions or more; found {sessions}")
    folds = []
    for i, session in enumerate(sessions):
        test = manifest[column] == session
        val = pd.Series(False, index=manifest.index)
        if validate_on_next:
            following = manifest[manifest[column] == sessions[(i + 1) % len(sessions)]]
            val = manifest["speaker"] == sorted(following["speaker"].unique())[0]
        train = ~test & ~val
        name = f"session {session} held out" + (f", val={manifest['speaker'][val].iloc[0]}" if validate_on_next else "")
        folds.append(make_split(manifest, name, np.flatnonzero(train.to_numpy()), np.flatnonzero(test.to_numpy()),
                                np.flatnonzero(val.to_numpy())))
    return folds


def check_stratifiable(labels: np.ndarray, needed: int, what: str) -> None:
    """An error naming every class with fewer than ``needed`` utterances (and the counts), before
    a stratified split of ``what`` that could not be made."""
    values, counts = np.unique(labels, return_counts=True)
    scarce = {str(v): int(c) for v, c in zip(values, counts) if c < needed}
    if scarce:
        raise ValueError(f"{what}: a stratified split needs {needed} utterances or more of every class; too few of "
                         f"{scarce} (all classes: {dict(zip(map(str, values), map(int, counts)))})")


def random_stratified(
    manifest: pd.DataFrame, test_size: float, repeats: int = 1, seed: int = 0, validation_fraction: float = 0.0
) -> list[Split]:
    """Repeated random emotion-stratified splits; with ``validation_fraction`` a stratified share of
    each training part validates. **Speaker-dependent**: speakers overlap."""
    from sklearn.model_selection import train_test_split

    labels = manifest["emotion"].to_numpy()
    check_stratifiable(labels, 3 if validation_fraction else 2, "random speaker-dependent split")
    splitter = StratifiedShuffleSplit(n_splits=repeats, test_size=test_size, random_state=seed)
    folds = []
    for i, (train, test) in enumerate(splitter.split(np.zeros(len(manifest)), labels)):
        val: np.ndarray = np.array([], dtype=int)
        if validation_fraction:
            size = max(len(np.unique(labels[train])), round(validation_fraction * len(train)))  # every class validates
            train, val = train_test_split(train, test_size=size, stratify=labels[train], random_state=seed + i)
        name = f"speaker-dependent random {1 - test_size:.0%}/{test_size:.0%} #{i + 1}" + (
            f", {validation_fraction:.0%} of train validates" if validation_fraction else "")
        folds.append(make_split(manifest, name, train, test, val, speaker_independent=False))
    return folds


def random_kfold(manifest: pd.DataFrame, k: int, validation_fraction: float, seed: int = 0) -> list[Split]:
    """Shuffled emotion-stratified k-fold over utterances, a stratified ``validation_fraction`` of
    each fold's training utterances held out to validate. **Speaker-dependent**: every speaker
    appears in training, validation and test (the "randomly shuffle and 5-fold" reading)."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    labels = manifest["emotion"].to_numpy()
    check_stratifiable(labels, k + 1, f"random {k}-fold split")
    folds = []
    for i, (rest, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels)):
        train, val = train_test_split(rest, test_size=validation_fraction, stratify=labels[rest], random_state=seed + i)
        folds.append(make_split(manifest, f"random utterance fold {i + 1}/{k} (speakers shared)", train, test, val,
                                speaker_independent=False))
    return folds


def describe(manifest: pd.DataFrame, split: Split) -> pd.DataFrame:
    """Utterances and speakers per part, for printing in a notebook."""
    return pd.DataFrame(
        {
            part: {
                "utterances": len(rows),
                "speakers": ", ".join(sorted(manifest["speaker"].iloc[rows].unique())),
            }
            for part, rows in split.parts().items()
        }
    ).T
