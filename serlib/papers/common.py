"""What every paper's protocol shares: profiles with typed overrides, the corpus a paper runs on
(registered name or CSV manifest, the paper's classes mapped onto it), and one training as a
function of its key whose outcome is cached.

A training is identified by a :class:`TrainingKey` (paper, table, system, task, split, seed) plus
its *identity* (:func:`serlib.identity.training_identity`: the model class and a fingerprint of
its code's syntax, what it is built from, how it is trained, its inputs and the utterance ids of
each part of its split). Both name the folder ``<cache>/runs/<paper>/<key>-<hash>/`` that holds its
per-epoch checkpoint and, once finished, its outcome (``outcome.npz``): a changed model, loss,
configuration or split never reloads an old checkpoint, and adding a seed trains only that seed.
"""

from __future__ import annotations

import json
import re
import types
import typing
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from serlib import config, corpora, files, splits

from serlib.training import Outcome, Predictions, load_trained

S = TypeVar("S")

# --------------------------------------------------------------------------- profiles and overrides


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """``value`` (as a notebook or command line gives it: often a string) as the type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            if type(None) in args:
                return None
        hint = next(a for a in args if a is not type(None))
        return _coerce(value, hint, name)
    if origin is tuple:
        items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        return tuple(_coerce(item, args[0], name) for item in items)
    try:
        if hint is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if hint is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return hint(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"parameter {name}: cannot read {value!r} as {getattr(hint, '__name__', hint)}") from err


@dataclass(frozen=True)
class Valid:
    """The valid values of one field of a paper's ``Settings``, declared on the field
    (:func:`setting`) and checked in one place (:func:`resolve`): ``among`` (a value, or each
    item of a tuple, must be one of them), ``corpus`` (a registered corpus or a CSV manifest),
    ``at_least`` (a number, or each item, no smaller), ``positive`` (each above 0), ``nonempty`` (a
    tuple needs an item)."""

    among: tuple | None = None
    corpus: bool = False
    at_least: float | None = None
    positive: bool = False
    nonempty: bool = True

    def check(self, name: str, value: Any) -> None:
        if value is None:
            return
        items = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple) and self.nonempty and not value:
            raise ValueError(f"parameter {name}: give one or more values" + (f"; valid: {list(self.among)}" if self.among else ""))
        if self.among is not None:
            unknown = [item for item in items if item not in self.among]
            if unknown:
                raise ValueError(f"parameter {name}: unknown value(s) {unknown}; valid: {list(self.among)}")
        if self.corpus:
            for item in items:
                check_corpus_name(item, name)
        if self.at_least is not None and any(item < self.at_least for item in items):
            raise ValueError(f"parameter {name}: every value must be at least {self.at_least:g}, got {value}")
        if self.positive and any(item <= 0 for item in items):
            raise ValueError(f"parameter {name}: every value must be above 0, got {value}")


def setting(default: Any, valid: Valid) -> Any:
    """A ``Settings`` field with its default and its valid values (checked by :func:`resolve`)."""
    return field(default=default, metadata={"valid": valid})


def variants_setting(variants: Sequence[Any]) -> Any:
    """A ``variants`` field: by default every labelled variant (each with a ``name``), any of them valid, none allowed."""
    names = tuple(item.name for item in variants)
    return setting(names, Valid(among=names, nonempty=False))


def resolve(profiles: Mapping[str, S], profile: str, overrides: Mapping[str, Any] | None = None) -> S:
    """The settings of ``profile`` with ``overrides`` applied (``None`` keeps the profile's value).

    Values are converted to each field's type (``"1e-3,3e-4"`` → ``(0.001, 0.0003)``) and checked
    against the valid values their field declares (:func:`setting`). An unknown profile or
    parameter, or an invalid value, is an error that lists the valid ones.
    """
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {sorted(profiles)}")
    base = profiles[profile]
    hints = typing.get_type_hints(type(base))
    names = [f.name for f in fields(base)]
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; valid: {names}")
    chosen = replace(base, **{k: _coerce(v, hints[k], k) for k, v in given.items()})
    for spec in fields(chosen):
        if "valid" in spec.metadata:
            spec.metadata["valid"].check(spec.name, getattr(chosen, spec.name))
    return chosen


def banner(settings: Any, device: str, corpus: str) -> str:
    """The line every paper page prints above its numbers: profile, device, corpus; a smoke
    profile says that its numbers are not a reproduction."""
    profile = settings.profile
    line = f"**Profile `{profile}` · device `{device}` · corpus `{corpus}`**"
    if profile != "full":
        line = (f"**Profile `{profile}`: a quick check of the code on a subset. These numbers are not a "
                f"reproduction.**\n\n{line}")
    return line


def reference_list(references: Mapping[str, str], source: str) -> str:
    """The works a paper's quoted rows cite, as a Markdown list under the table that quotes them
    (``references``: the paper's bracket → the work; ``source``: how the brackets were resolved)."""
    return f"**References of the quoted rows** ({source}):\n\n" + "\n".join(
        f"- {bracket} {work}" for bracket, work in references.items())


def describe_settings(settings: Any) -> pd.DataFrame:
    """The settings as a two-column table for the page (one row per setting, so it fits a narrow
    column however many settings a paper has)."""
    frame = pd.DataFrame({"value": {k: str(v) for k, v in asdict(settings).items()}})
    frame.index.name = "setting"
    return frame


# --------------------------------------------------------------------------- corpora


def named(items: Sequence[Any], name: str, parameter: str = "variants") -> Any:
    """The item of ``items`` (each with a ``name``) called ``name``; an unknown name is an error
    naming the parameter and the known names (e.g. a paper's labelled variants)."""
    known = {item.name: item for item in items}
    if name not in known:
        raise ValueError(f"parameter {parameter}: unknown variant {name!r}; known: {sorted(known)}")
    return known[name]


def sign_agreement(low: float, high: float, paper: float) -> str:
    """Whether a difference's CI [low, high] establishes the paper's sign ("agrees"), the opposite
    sign, a difference where the paper prints none, or nothing ("not established")."""
    if not (low > 0 or high < 0):
        return "not established"
    if round(paper, 1) == 0:
        return "differs (paper: equal)"
    return "agrees" if (low > 0) == (paper > 0) else "opposite"


def ranking(scores: Mapping[str, float]) -> tuple[str, ...]:
    """Systems from the best to the worst score."""
    return tuple(sorted(scores, key=scores.get, reverse=True))


def ordering_line(ours: Mapping[str, float], paper: Mapping[str, float], metric: str) -> str:
    """One line: our ranking of the systems by ``metric`` and whether it is the paper's."""
    ranked, printed = ranking(ours), ranking({system: paper[system] for system in ours})
    agreement = "the paper's order" if ranked == printed else f"paper: {' > '.join(printed)}"
    return f"{metric}: {' > '.join(ranked)} ({agreement})"


def ordering_of_rows(rows: pd.DataFrame, metric: str = "UA") -> str:
    """:func:`ordering_line` for the rows of a results file that carry the paper's value (first
    table and column with such rows, labelled variants left out); "–" where none does."""
    compared = rows[rows["paper_value"].notna() & (rows["variant"].fillna("") == "") & (rows["metric"] == metric)]
    if not len(compared):
        return "–"
    first = compared[(compared["table"] == compared["table"].iloc[0]) & (compared["column"] == compared["column"].iloc[0])]
    return ordering_line(dict(zip(first["row"], first["value"])), dict(zip(first["row"], first["paper_value"])), metric)


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


# --------------------------------------------------------------------------- corpora with sessions


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
        return manifest.assign(session=values.map(numbers).astype(int)), f"the corpus's {len(names)} {column}s as folds"
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


# --------------------------------------------------------------------------- one training = its key


def training_seconds(outcomes: Iterable[Outcome]) -> float | None:
    """Training time recorded in the outcomes' histories; None when some epoch did not record it."""
    seconds = sum(o.training_seconds() for o in outcomes)
    return float(seconds) if np.isfinite(seconds) else None


@dataclass(frozen=True)
class TrainingKey:
    """One training of a paper's grid: which table, system, task, split and seed."""

    paper: str
    table: str
    system: str
    task: str
    split: str
    seed: int

    def slug(self) -> str:
        text = "-".join([self.table, self.system, self.task, self.split, f"seed{self.seed}"])
        return re.sub(r"[^A-Za-z0-9.+]+", "_", text).strip("_")[:120]


#: The files of a training's folder: the finished training's outcome (its presence marks the training as
#: stored), the key and identity beside it for a reader, the checkpoint a training resumes from, and
#: the kept network (the selected epoch's parameters only) of a training whose network a page
#: reloads for a figure: it travels with the outcome, so that figure needs no training on a fresh clone.
OUTCOME_FILE = "outcome.npz"
KEY_FILE = "key.json"
CHECKPOINT_FILE = "checkpoint.ckpt"
NETWORK_FILE = "network.pt"
#: A trained network's predictions of another test set (``tested-<name>.npz``, :meth:`Training.tested`):
#: small, so they travel with the outcome and a page reads them without the network.
TESTED_PATTERN = "tested-*.npz"


def training_folder(key: TrainingKey, identity: Mapping[str, Any], cache: str | Path | None = None) -> Path:
    """The training folder ``<cache>/runs/<paper>/<key slug>-<hash of key and identity>``."""
    return folder_of(key, config.fingerprint({"key": asdict(key), **identity}), cache)


def folder_of(key: TrainingKey, digest: str, cache: str | Path | None = None) -> Path:
    """The training folder of ``key`` whose key-and-identity hash is ``digest``."""
    return config.cache_dir(cache) / "runs" / key.paper / f"{key.slug()}-{digest}"


def tested_path(folder: Path, name: str) -> Path:
    """Where a training's network's test named ``name`` is stored (:meth:`Training.tested`)."""
    return folder / TESTED_PATTERN.replace("*", name)


def save_tested(folder: Path, name: str, predictions: Predictions) -> None:
    """Store a network's utterance-level predictions of another test set in its training's ``folder``."""
    save_outcome(Outcome({"utterance": predictions}), tested_path(folder, name))


def save_outcome(outcome: Outcome, path: Path) -> None:
    """An :class:`Outcome` as ``.npz`` (no pickle), written atomically."""
    arrays = {f"{level}.{name}": getattr(p, name) for level, p in outcome.levels.items()
              for name in ("y_true", "y_pred", "utterance", "posteriors")}
    arrays["history"] = np.array(json.dumps(outcome.history))
    with files.atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)


def load_outcome(path: Path) -> Outcome:
    with np.load(path, allow_pickle=False) as saved:
        levels = sorted({name.split(".")[0] for name in saved.files if "." in name})
        return Outcome(
            {level: Predictions(*(saved[f"{level}.{name}"] for name in ("y_true", "y_pred", "utterance", "posteriors")))
             for level in levels},
            json.loads(str(saved["history"])),
        )


def training_outcome(
    key: TrainingKey, identity: Mapping[str, Any], train: Callable[[Path], Outcome], cache: str | Path | None = None
) -> Outcome:
    """The outcome of training ``key``: read from its folder when a run finished before, else
    ``train(checkpoint path)`` (which resumes from that checkpoint if a run was interrupted)."""
    return Training(key, identity, train).run(cache)


@dataclass(frozen=True)
class Training:
    """One training of a paper's grid, not yet run: its key, its identity and how to train it
    (``train(checkpoint path) → Outcome``). A protocol runs it where it stands
    (:meth:`run`); ``serlib reproduce --executor dask`` runs a grid of them on a cluster first
    (:mod:`serlib.jobs`), and the protocol then reads their outcomes."""

    key: TrainingKey
    identity: Mapping[str, Any]
    train: Callable[[Path], Outcome]

    @property
    def digest(self) -> str:
        """Hash of key and identity: the end of :meth:`folder`'s name."""
        return config.fingerprint({"key": asdict(self.key), **self.identity})

    def folder(self, cache: str | Path | None = None) -> Path:
        return folder_of(self.key, self.digest, cache)

    def done(self, cache: str | Path | None = None) -> bool:
        """Whether a finished run's outcome is stored."""
        return (self.folder(cache) / OUTCOME_FILE).exists()

    def run(self, cache: str | Path | None = None) -> Outcome:
        """The stored outcome, or a training (resumed from its checkpoint) whose outcome is stored."""
        folder = self.folder(cache)
        stored = folder / OUTCOME_FILE
        if stored.exists():
            try:
                return load_outcome(stored)
            except (EOFError, ValueError, OSError, KeyError, zipfile.BadZipFile) as err:
                warnings.warn(f"cached outcome {stored} is unreadable ({type(err).__name__}: {err}); evaluating again "
                              "(from the checkpoint where it is intact)", stacklevel=3)
                stored.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        outcome = self.train(folder / CHECKPOINT_FILE)
        # the key before the outcome, which marks the training stored
        files.write_text(folder / KEY_FILE, json.dumps({"key": asdict(self.key), **self.identity}, indent=1, default=str))
        save_outcome(outcome, stored)
        return outcome

    def checkpoint(self, cache: str | Path | None = None) -> Path:
        """The checkpoint to reload this training's network from. An outcome imported from another
        machine (``serlib outcomes import``) comes without one: the training then runs again here,
        with its seed, and a warning says so and how many of its test predictions differ from the
        stored outcome's (the tables keep reading the stored outcome)."""
        folder = self.folder(cache)
        path = folder / CHECKPOINT_FILE
        if path.exists() or not self.done(cache):
            self.run(cache)
            return path
        retrained = self.train(path)
        stored = load_outcome(folder / OUTCOME_FILE)
        level = "utterance" if "utterance" in stored.levels else next(iter(stored.levels))
        before, after = stored.levels[level].y_pred, retrained.levels[level].y_pred
        differ = int((before != after).sum()) if before.shape == after.shape else len(before)
        warnings.warn(f"{self.key.slug()}: its outcome came without a checkpoint, so it was trained again here to "
                      f"reload its network; {differ} of {len(before)} {level}-level predictions differ from the stored "
                      "outcome's", stacklevel=2)
        return path

    def tested(self, name: str, test: Callable[[Path], Predictions], cache: str | Path | None = None) -> Predictions:
        """The trained network's predictions of another test set, named ``name`` (which must name
        the set's utterances): read from ``tested-<name>.npz`` beside the outcome, else ``test(checkpoint
        path)`` (the training runs first where it has not, and again where only its outcome was
        imported) and stored there. These files travel with the outcome; the network does not."""
        path = tested_path(self.folder(cache), name)
        if path.exists():
            return load_outcome(path).levels["utterance"]
        predictions = test(self.checkpoint(cache))
        save_tested(path.parent, name, predictions)
        return predictions

    def network(self, make_model: Callable[[], nn.Module], select: str = "last", cache: str | Path | None = None) -> nn.Module:
        """The trained network (in eval mode, on the CPU), from its kept parameters (``network.pt``).
        The first reload writes them from the checkpoint (``select``: the epoch the training kept,
        ``"val"`` or ``"last"``), training again where there is none (:meth:`checkpoint`);
        ``serlib outcomes export`` carries them with the outcome."""
        kept = self.folder(cache) / NETWORK_FILE
        if not kept.exists():
            model = load_trained(make_model, self.checkpoint(cache), select)
            with files.atomic_path(kept) as temporary:
                torch.save({"select": select, "state": model.state_dict()}, temporary)
        saved = torch.load(kept, map_location="cpu", weights_only=True)
        if saved["select"] != select:
            raise ValueError(f"{kept}: keeps the {saved['select']!r} epoch's network, not the {select!r} one asked for")
        model = make_model()
        model.load_state_dict(saved["state"])
        return model.eval()
