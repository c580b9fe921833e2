"""Jalal, Loweimi, Moore & Hain, *Learning temporal clusters using capsule routing for speech
emotion recognition* (Interspeech 2019).

Protocol: Feature* (F0 + 23 MFCC + log-energy, Δ, ΔΔ; §4.1) or FB128 frames in ±45-frame
context windows (§4.1) → BLSTM (2 × 256) → K 1D conv capsules of 90 filters → routing (§3), and
the baselines of Tables 1 and 3. RAVDESS: Table 2 speaker-independent (19 actors train, one
validates, 4 test), Table 3 random 75/25 splits × 10; FAU-Aibo: Table 1 (one school trains, the
other tests) and Table 4 (2-class, 75/25 × 10). Tasks: 8-class (FAU: 5-class) and 2-class, the
latter read both as valence (§4.3) and as intensity (Fig. 3).

Every (table, system, task, split, seed, learning rate) is one cached training
(:func:`train_system`); learning rates are chosen on the validation speaker
(:func:`choose_learning_rate`) and what Table 3 reuses of Table 2's choice is passed, not stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from serlib import config, corpora, features, results, splits, training
from serlib.examples import Examples, stack_examples
from serlib.models.capsule import TemporalCapsuleNetwork, VectorCNN, capsule_activations
from serlib.papers import common

PAPER = "capsule"

FEATURE_STAR = features.Trimmed(features.PitchMFCCEnergy(sample_rate=16000, window_ms=25.0, hop_ms=10.0, n_mels=40,
                                                         n_mfcc=23, dynamics=2), top_db=30.0)
FB128 = features.Trimmed(features.LogMel(sample_rate=16000, window_ms=25.0, hop_ms=10.0, n_fft=1024, n_mels=128), top_db=30.0)
EGEMAPS = features.OpenSmileFunctionals(sample_rate=16000, feature_set="eGeMAPSv02")
#: The extractor behind each input kind (supervectors are built from Feature* frames).
EXTRACTORS = {"feature*": FEATURE_STAR, "fb128": FB128, "supervector": FEATURE_STAR, "egemaps": EGEMAPS}


@dataclass(frozen=True)
class Hyperparameters:
    """The paper's numbers (§) and our choices where it gives none (the notebook's table says why)."""

    context: int = 45  # §4.1: ±45 frames
    window_shift: int = 45  # not given
    blstm_units: int = 256  # §3
    capsules_two_class: int = 4  # §3: K = 4 for 2 classes
    capsules_many_class: int = 10  # §3: K = 10 for 8 classes (and, our choice, any other count)
    filters: int = 90  # §3
    kernel: int = 3  # not given
    class_capsule_dim: int = 16  # not given (Sabour et al.)
    routing_iterations: int = 3  # not given (Sabour et al.)
    learning_rate: float = 1e-3  # not given; the default candidate
    batch_size: int = 64  # not given
    epochs: int = 15  # not given
    gmm_components: int = 64  # §2.4: M, not given
    gmm_max_frames: int = 20000
    svm_C: tuple[float, ...] = (1.0, 10.0, 100.0)  # chosen by 3-fold CV on the training part
    vector_cnn_epochs: int = 50
    vector_cnn_batch: int = 32
    table3_test_fraction: float = 0.25  # §4.3: random 75/25
    table3_runs: int = 10  # §4.3: ten runs

    def capsules(self, n_classes: int) -> int:
        return self.capsules_two_class if n_classes == 2 else self.capsules_many_class


HPARAMS = Hyperparameters()

#: key: (row label in the paper's tables, input kind, back-end)
SYSTEMS = {
    "supervector_svm": ("Supervector+SVM", "supervector", "svm"),
    "supervector_cnn": ("Supervector+CNN", "supervector", "vector_cnn"),
    "egemaps_cnn": ("eGeMAPS+CNN", "egemaps", "vector_cnn"),
    "feature_capsule": ("(Feature*) + Capsule", "feature*", "capsule"),
    "feature_blstm": ("(Feature*) + BLSTM", "feature*", "blstm"),
    "feature_proposed": ("(Feature*) + Proposed Framework", "feature*", "proposed"),
    "fb128_proposed": ("(FB128) + Proposed Framework", "fb128", "proposed"),
    "feature_capsule_blstm": ("(Feature*) + Capsule + BLSTM", "feature*", "capsule_blstm"),
    "feature_blstm_cnn": ("(F0 + MFCC*) + BLSTM + CNN", "feature*", "blstm_cnn"),
}
TASKS = ("8-class", "2-class valence", "2-class intensity")


@dataclass(frozen=True)
class Settings:
    profile: str
    corpus: str = "ravdess"  # a registered corpus or a CSV manifest
    tasks: tuple[str, ...] = TASKS
    table2_systems: tuple[str, ...] = ("feature_proposed", "fb128_proposed")
    table3_systems: tuple[str, ...] = tuple(SYSTEMS)
    table3_tasks: tuple[str, ...] | None = None  # default: every task of ``tasks``
    table3_runs: int = HPARAMS.table3_runs
    epochs: int = HPARAMS.epochs
    learning_rates: tuple[float, ...] = (HPARAMS.learning_rate, 3e-4)  # candidates, chosen on the validation speaker
    test_speakers: int = 4  # Table 2: the last speakers (sorted) test, the one before validates
    speakers: tuple[str, ...] | None = None  # smoke: these speakers only
    per_group: int | None = None  # smoke: utterances per speaker, emotion and intensity
    gmm_components: int = HPARAMS.gmm_components
    vector_cnn_epochs: int = HPARAMS.vector_cnn_epochs
    tsne_points: int = 2000
    n_boot: int = 1000


PROFILES = {
    # smoke: 5 actors (2 train, 1 validation, 2 test), one utterance per emotion and intensity, one epoch, one split;
    # Table 3 trains every system on one task (the code path is the same for the others)
    "smoke": Settings("smoke", table3_runs=1, table3_tasks=("2-class intensity",), epochs=1, test_speakers=2, speakers=("01", "02", "20", "21", "22"),
                      per_group=1, gmm_components=4, vector_cnn_epochs=2, tsne_points=150, n_boot=200),
    "full": Settings("full"),
}


def settings(profile: str = "smoke", **overrides) -> Settings:
    chosen = common.resolve(PROFILES, profile, overrides)
    for name in ("table2_systems", "table3_systems"):
        unknown = sorted(set(getattr(chosen, name)) - set(SYSTEMS))
        if unknown:
            raise ValueError(f"{name}: unknown system(s) {unknown}; known: {list(SYSTEMS)}")
    unknown = sorted((set(chosen.tasks) | set(chosen.table3_tasks or ())) - set(TASKS))
    if unknown:
        raise ValueError(f"tasks: unknown {unknown}; known: {list(TASKS)}")
    return chosen


#: Tables 2 and 3 (RAVDESS), UA % as printed: {(table, system): {task column: value}}.
PAPER_VALUES = {
    ("Table 2", "fb128_proposed"): {"2-class": 66.3, "8-class": 50.1},
    ("Table 2", "feature_proposed"): {"2-class": 70.4, "8-class": 56.2},
    ("Table 3", "supervector_svm"): {"2-class": 65.8, "8-class": 36.3},
    ("Table 3", "supervector_cnn"): {"2-class": 65.9, "8-class": 34.6},
    ("Table 3", "egemaps_cnn"): {"2-class": 71.4, "8-class": 33.0},
    ("Table 3", "feature_capsule"): {"2-class": 60.3, "8-class": 25.5},
    ("Table 3", "feature_blstm"): {"2-class": 74.2, "8-class": 63.9},
    ("Table 3", "feature_proposed"): {"2-class": 79.5, "8-class": 69.4},
    ("Table 3", "fb128_proposed"): {"2-class": 73.9, "8-class": 68.1},
    ("Table 3", "feature_capsule_blstm"): {"2-class": 66.8, "8-class": 35.4},
    ("Table 3", "feature_blstm_cnn"): {"2-class": 74.8, "8-class": 51.3},
}
QUOTED_TABLE2 = "COVAREP + LSTM [33]: 8-class UA 41.2 % (quoted from the paper, not rerun)"
#: Table 1 (FAU-Aibo), UA %: {system: {(train school, test school): (2-class, "8-class" column = FAU's 5 classes)}}.
PAPER_FAU = {
    "supervector_svm": {("Mont", "Ohm"): (62.8, 29.8), ("Ohm", "Mont"): (56.5, 36.3)},
    "supervector_cnn": {("Mont", "Ohm"): (68.0, 53.6), ("Ohm", "Mont"): (70.8, 58.7)},
    "egemaps_cnn": {("Mont", "Ohm"): (61.7, 42.3), ("Ohm", "Mont"): (68.2, 55.7)},
    "feature_capsule": {("Mont", "Ohm"): (70.5, 53.3), ("Ohm", "Mont"): (71.3, 59.0)},
    "feature_blstm": {("Mont", "Ohm"): (71.7, 53.4), ("Ohm", "Mont"): (72.2, 58.7)},
    "feature_proposed": {("Mont", "Ohm"): (74.5, 55.3), ("Ohm", "Mont"): (75.3, 61.8)},
    "feature_capsule_blstm": {("Mont", "Ohm"): (70.4, 53.8), ("Ohm", "Mont"): (71.2, 58.6)},
    "feature_blstm_cnn": {("Mont", "Ohm"): (72.1, 54.4), ("Ohm", "Mont"): (72.9, 58.8)},
}
#: Table 4 (FAU-Aibo 2-class, 75/25 × 10), UA %.
PAPER_TABLE4 = {"Proposed Framework": 77.6, "DBN [35] (quoted)": 74.1, "Sparse AE + SVM [35] (quoted)": 71.7}

RAVDESS_ORDER = ("neutral", "calm", "happiness", "sadness", "anger", "fear", "disgust", "surprise")  # file codes 01-08


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
    manifest = common.load_corpus(settings.corpus, data_root)
    if settings.speakers:
        groups = ["speaker", "emotion"] + (["intensity"] if "intensity" in manifest else [])
        manifest = common.smoke_subset(manifest, groups, settings.per_group or 1, settings.speakers)
    tasks, dropped = acted_tasks(manifest, settings.tasks, settings.corpus)
    return Corpus(common.corpus_label(settings.corpus), manifest, tasks, corpus_features(manifest, cache, progress), dropped)


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
    """Table 3's emotion-stratified random 75/25 utterance splits (speaker-dependent)."""
    return splits.random_stratified(corpus.manifest, HPARAMS.table3_test_fraction, repeats=settings.table3_runs, seed=0)


def school_split(corpus: Corpus, train_school: str, test_school: str) -> splits.Split:
    """Table 1: the children of one school train, those of the other test (speaker-disjoint)."""
    schools = {s: sorted(corpus.manifest.loc[corpus.manifest["school"] == s, "speaker"].unique()) for s in (train_school, test_school)}
    return splits.fixed_speakers(corpus.manifest, train=schools[train_school], test=schools[test_school],
                                 name=f"{train_school}→{test_school}")


# --------------------------------------------------------------------------- inputs per split


def _scaled(train_rows: np.ndarray, frames: list[np.ndarray]) -> list[np.ndarray]:
    return features.Standardizer().fit([frames[r] for r in train_rows]).transform(frames)


def supervectors(corpus: Corpus, task: Task, split: splits.Split, seed: int, settings: Settings,
                 cache: str | Path | None = None) -> np.ndarray:
    """GMM posterior supervectors (§2.4) of every utterance, with the per-class GMMs fitted on the
    training part's standardised Feature* frames. Cached on disk: the SVM and the CNN back-ends of
    one split and task share one fit."""
    identity = {"features": features.extractor_key(FEATURE_STAR), "utterances": corpus.manifest["utterance_id"].tolist(),
                "labels": task.labels.tolist(), "train": split.train.tolist(), "seed": seed,
                "components": settings.gmm_components, "max_frames": HPARAMS.gmm_max_frames}
    path = config.cache_dir(cache) / "supervectors" / f"{config.fingerprint(identity)}.npy"
    if path.exists():
        return np.load(path)
    scaled = _scaled(split.train, corpus.features["feature*"])
    model = features.GMMSupervector(settings.gmm_components, HPARAMS.gmm_max_frames, seed)
    vectors = model.fit([scaled[r] for r in split.train], task.labels[split.train]).transform(scaled)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.stem + ".tmp.npy")
    np.save(temporary, vectors)
    temporary.replace(path)
    return vectors


def split_inputs(corpus: Corpus, kind: str, task: Task, split: splits.Split, seed: int, settings: Settings,
                 cache: str | Path | None = None) -> dict[str, Examples]:
    """Train/val/test examples of one input kind. Every statistic (z-scores, GMMs, vector
    scaling) comes from the training part only."""
    parts = {part: rows for part, rows in split.parts().items() if len(rows)}
    y = task.labels
    if kind in ("feature*", "fb128"):
        scaled = _scaled(split.train, corpus.features[kind])
        windows = {r: features.context_windows(scaled[r], HPARAMS.context, HPARAMS.window_shift)
                   for rows in parts.values() for r in rows}
        return {part: stack_examples(windows, y, rows) for part, rows in parts.items()}
    vectors = supervectors(corpus, task, split, seed, settings, cache) if kind == "supervector" else corpus.features["egemaps"]
    scaled = StandardScaler().fit(vectors[split.train]).transform(vectors).astype(np.float32)
    return {part: Examples(scaled[rows], y[rows], rows) for part, rows in parts.items()}


# --------------------------------------------------------------------------- one training


def model_builder(system: str, n_inputs: int, n_classes: int):
    """A function building a fresh model of ``system`` (a TemporalCapsuleNetwork or VectorCNN)."""
    backend = SYSTEMS[system][2]
    if backend == "vector_cnn":
        return lambda: VectorCNN(n_classes)
    return lambda: TemporalCapsuleNetwork(
        backend, n_inputs, n_classes, HPARAMS.capsules(n_classes), HPARAMS.blstm_units, HPARAMS.filters,
        HPARAMS.kernel, HPARAMS.class_capsule_dim, HPARAMS.routing_iterations)


def network_config(system: str, settings: Settings, learning_rate: float, seed: int, device: str, has_val: bool) -> training.TrainConfig:
    """Batch and epochs of the back-end; the epoch with the best validation WA where there is a
    validation speaker, else the last."""
    vector = SYSTEMS[system][2] == "vector_cnn"
    return training.TrainConfig(
        epochs=settings.vector_cnn_epochs if vector else settings.epochs,
        batch_size=HPARAMS.vector_cnn_batch if vector else HPARAMS.batch_size,
        learning_rate=learning_rate, seed=seed, device=device, progress=False, select="val" if has_val else "last")


def svm_estimator(train_labels: np.ndarray, n_classes: int):
    """RBF SVM, C by 3-fold CV on the training part (fewer folds only where a class has fewer
    training utterances, e.g. smoke)."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    folds = min(3, int(np.bincount(train_labels, minlength=n_classes).min()))
    svm = lambda: SVC(kernel="rbf", gamma="scale", C=float(np.median(HPARAMS.svm_C)))  # noqa: E731
    return (lambda: GridSearchCV(svm(), {"C": list(HPARAMS.svm_C)}, cv=folds)) if folds >= 2 else svm


def training_identity(corpus: Corpus, system: str, task: Task, split: splits.Split, settings: Settings,
                      learning_rate: float) -> dict:
    """What, besides its key, a training of ``system`` depends on."""
    backend = SYSTEMS[system][2]
    model_class = VectorCNN if backend == "vector_cnn" else TemporalCapsuleNetwork
    return {"model": backend if backend == "svm" else model_class.__name__,
            "code": "" if backend == "svm" else common.code_fingerprint(model_class),
            "config": {"hparams": asdict(HPARAMS), "learning_rate": learning_rate, "epochs": settings.epochs,
                       "vector_cnn_epochs": settings.vector_cnn_epochs, "gmm_components": settings.gmm_components,
                       "features": features.extractor_key(EXTRACTORS[SYSTEMS[system][1]]), "classes": task.classes,
                       "utterances": config.fingerprint(corpus.manifest["utterance_id"].tolist())},
            "split": common.split_identity(split)}


def train_system(corpus: Corpus, table: str, system: str, task: Task, split: splits.Split, seed: int,
                 settings: Settings, learning_rate: float, device: str = "auto",
                 cache: str | Path | None = None) -> training.Outcome:
    """One cached training of ``system`` on ``split`` for ``task`` (SVMs included, as one job)."""
    key = common.TrainingKey(PAPER, table, system, f"{corpus.name} {task.name} lr={learning_rate:g}", split.name, seed)

    def train(checkpoint: Path) -> training.Outcome:
        data = split_inputs(corpus, SYSTEMS[system][1], task, split, seed, settings, cache)
        if SYSTEMS[system][2] == "svm":
            return training.evaluate_estimator(svm_estimator(data["train"].y, len(task.classes)), data)
        make_model = model_builder(system, data["train"].x.shape[-1], len(task.classes))
        cfg = network_config(system, settings, learning_rate, seed, device, "val" in data)
        return training.train_and_evaluate(make_model, data, cfg, checkpoint)

    return common.run_training(key, training_identity(corpus, system, task, split, settings, learning_rate), train, cache)


def trained_model(corpus: Corpus, table: str, system: str, task: Task, split: splits.Split, seed: int,
                  settings: Settings, learning_rate: float, cache: str | Path | None = None):
    """The network :func:`train_system` left behind (with its inputs), reloaded from its checkpoint."""
    key = common.TrainingKey(PAPER, table, system, f"{corpus.name} {task.name} lr={learning_rate:g}", split.name, seed)
    folder = common.run_folder(key, training_identity(corpus, system, task, split, settings, learning_rate), cache)
    data = split_inputs(corpus, SYSTEMS[system][1], task, split, seed, settings, cache)
    make_model = model_builder(system, data["train"].x.shape[-1], len(task.classes))
    return training.load_trained(make_model, folder / "checkpoint.ckpt", "val" if "val" in data else "last"), data


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class LearningRateChoice:
    """The rate validation chose for one system and task, with every candidate's scores (test UA
    is kept for information only: it never chooses)."""

    system: str
    task: str
    chosen: float
    validation_wa: dict[float, float]
    test_ua: dict[float, float]

    def record(self) -> dict:
        return {"system": SYSTEMS[self.system][0], "task": self.task, "chosen": self.chosen,
                **{f"validation WA @ {r:g}": v for r, v in self.validation_wa.items()},
                **{f"test UA @ {r:g}": v for r, v in self.test_ua.items()}}


def choose_learning_rate(candidates: Mapping[float, training.Outcome]) -> float:
    """The candidate with the best validation WA; ties keep the earlier candidate."""
    rates = list(candidates)
    return max(rates, key=lambda rate: (candidates[rate].validation_score("WA"), -rates.index(rate)))


@dataclass
class TableRun:
    """What running one table returns: outcomes per (system, task) (one per split), the learning
    rate each used, the choices made on validation (with every candidate's scores), and the
    training time of every candidate."""

    outcomes: dict[tuple[str, str], list[training.Outcome]] = field(default_factory=dict)
    rates: dict[tuple[str, str], float] = field(default_factory=dict)
    choices: dict[tuple[str, str], LearningRateChoice] = field(default_factory=dict)
    training_seconds: float = 0.0

    def chosen_rates(self) -> dict[tuple[str, str], float]:
        """The rates chosen on a validation speaker, for tables without one to reuse."""
        return {key: choice.chosen for key, choice in self.choices.items()}


def run_table(corpus: Corpus, table: str, systems: Sequence[str], table_splits: Sequence[splits.Split], settings: Settings,
              device: str = "auto", cache: str | Path | None = None, tasks: Sequence[str] | None = None,
              reuse_rates: Mapping[tuple[str, str], float] | None = None, log=print) -> TableRun:
    """Every system × task over ``table_splits`` (split i trains with seed i). A network whose
    split has a validation speaker trains at each candidate learning rate and keeps validation's
    choice; without one it uses ``reuse_rates[(system, task)]`` (else the default rate)."""
    out = TableRun()
    for task_name in tasks or list(corpus.tasks):
        task = corpus.tasks[task_name]
        for system in systems:
            runs = []
            for seed, split in enumerate(table_splits):
                if SYSTEMS[system][2] == "svm":
                    rates = [HPARAMS.learning_rate]
                elif len(split.val):
                    rates = list(settings.learning_rates)
                else:
                    rates = [(reuse_rates or {}).get((system, task_name), HPARAMS.learning_rate)]
                candidates = {rate: train_system(corpus, table, system, task, split, seed, settings, rate, device, cache) for rate in rates}
                out.training_seconds += sum(o.training_seconds() for o in candidates.values())
                chosen = choose_learning_rate(candidates) if len(rates) > 1 else rates[0]
                if len(rates) > 1:
                    out.choices[system, task_name] = LearningRateChoice(
                        system, task_name, chosen, {r: o.validation_score("WA") for r, o in candidates.items()},
                        {r: o.levels["utterance"].score("UA") for r, o in candidates.items()})
                runs.append(candidates[chosen])
                out.rates[system, task_name] = chosen
            out.outcomes[system, task_name] = runs
            uar = [o.levels["utterance"].score("UA") for o in runs]
            log(f"[{settings.profile}, {corpus.name}] {table} {task_name:<18} {SYSTEMS[system][0]:<34} {len(runs)} split(s): "
                f"utterance UA {100 * np.mean(uar):.1f} ± {100 * np.std(uar):.1f}")
    return out


def constant_outputs(table: str, table_run: TableRun) -> list[str]:
    """Models that predict one class for every test utterance of a split (UA = chance)."""
    flagged = []
    for (system, task), runs in table_run.outcomes.items():
        constant = sum(len(np.unique(o.levels["utterance"].y_pred)) == 1 for o in runs)
        if constant:
            flagged.append(f"{table} {SYSTEMS[system][0]} ({task}): one class for every test utterance in {constant} of {len(runs)} split(s)")
    return flagged


def add_rows(run: results.Run, table: str, table_run: TableRun, paper: Mapping[tuple[str, str], Mapping[str, float]],
             n_boot: int) -> None:
    """Utterance- and window-level UA rows; the paper's value (its one 2-class number beside
    **both** binary readings) at the utterance level."""
    for (system, task), runs in table_run.outcomes.items():
        for level in ("utterance", "window"):
            value = paper.get((table, system), {}).get(task.split(" ")[0])
            run.add(results.ResultRow(
                table=table, row=SYSTEMS[system][0], column=task, metric="UA", level=level,
                paper_value=value / 100 if value is not None and level == "utterance" else None,
                **results.summarise_runs(runs, level, "UA", n_boot)))


def not_run(paper: Mapping[tuple[str, str], Mapping[str, float]], tasks: Sequence[str], ran: set[tuple[str, str, str]]) -> list[results.Cell]:
    """The paper's (table, system) cells × ``tasks`` that no table of this run trained."""
    return [results.Cell(table, SYSTEMS[system][0], task) for table, system in paper for task in tasks
            if (table, system, task) not in ran]


def acted_run(corpus: Corpus, settings: Settings, device: str, table2: TableRun, table3: TableRun) -> results.Run:
    """The results of Tables 2 and 3 (paper values only on RAVDESS, the paper's corpus)."""
    run = results.Run(
        paper=PAPER, corpus=corpus.name, profile=settings.profile, device=device, seeds=list(range(settings.table3_runs)),
        started=corpus.started,
        protocol=f"{corpus.name} speech. Table 2: the last {settings.test_speakers} actors (sorted) test, the one before "
                 "validates, the others train. Table 3: emotion-stratified random 75/25 utterance splits "
                 "(speaker-dependent), one run per split. UA of utterances (mean window posterior).",
        notes={"settings": asdict(settings), "hparams": asdict(HPARAMS), "tasks": {t.name: t.note for t in corpus.tasks.values()},
               "dropped_tasks": corpus.dropped_tasks,
               "learning_rate_choices": [c.record() for c in table2.choices.values()],
               "constant_output": constant_outputs("Table 2", table2) + constant_outputs("Table 3", table3)})
    paper = PAPER_VALUES if corpus.name == "ravdess" else {}
    add_rows(run, "Table 2", table2, paper, settings.n_boot)
    add_rows(run, "Table 3", table3, paper, settings.n_boot)
    run.training_seconds.update({"Table 2": table2.training_seconds, "Table 3": table3.training_seconds})
    ran = {(t, s, task) for t, table_run in (("Table 2", table2), ("Table 3", table3)) for s, task in table_run.outcomes}
    run.not_run += not_run(paper, list(corpus.tasks), ran)
    return run


def paper_beside_ours(run: results.Run, table: str, tasks: Sequence[str]) -> pd.DataFrame:
    """One line per system of ``table`` in the paper's order: paper % / ours (utterance UA, mean ± std)."""
    rows = run.table()
    rows = rows[(rows["table"] == table) & (rows["level"] == "utterance")] if len(rows) else rows
    lines = {}
    for (t, system), values in PAPER_VALUES.items():
        if t != table:
            continue
        line = {}
        for task in tasks:
            ours = rows[(rows["row"] == SYSTEMS[system][0]) & (rows["column"] == task)] if len(rows) else rows
            mine = f"{100 * ours['value'].iloc[0]:.1f} ± {100 * ours['std'].iloc[0]:.1f}" if len(ours) else "not run"
            line[task] = f"{values.get(task.split(' ')[0], '–')} / {mine}"
        lines[SYSTEMS[system][0]] = line
    return pd.DataFrame(lines).T.rename_axis(f"{table}: paper / ours (UA %)")


def binary_reading_gaps(run: results.Run) -> pd.DataFrame:
    """|ours − paper| (UA points) per cell where both binary readings ran and the paper has a value."""
    rows = run.table()
    if not len(rows):
        return pd.DataFrame()
    rows = rows[(rows["level"] == "utterance") & rows["column"].str.startswith("2-class") & rows["paper_value"].notna()]
    gaps = (100 * (rows["value"] - rows["paper_value"]).abs()).groupby([rows["table"], rows["row"], rows["column"]]).first()
    return gaps.unstack("column").dropna() if len(gaps) else pd.DataFrame()


def fau_run(corpus: Corpus, settings: Settings, device: str, table1: dict[str, TableRun], table4: TableRun) -> results.Run:
    """Tables 1 and 4 on FAU-Aibo beside the paper's values."""
    run = results.Run(
        paper=PAPER, corpus="fau-aibo", profile=settings.profile, device=device, seeds=list(range(settings.table3_runs)),
        started=corpus.started,
        protocol="FAU-Aibo (IS2009 chunks). Table 1: one school trains, the other tests (speaker-disjoint). "
                 "Table 4: 2-class, random 75/25 utterance splits. UA of chunks.",
        notes={"settings": asdict(settings), "hparams": asdict(HPARAMS)})
    for column, table_run in table1.items():
        train_school, test_school = column.split("→")
        for (system, task), runs in table_run.outcomes.items():
            value = PAPER_FAU[system][train_school, test_school][0 if task == "2-class" else 1]
            run.add(results.ResultRow(table="Table 1", row=SYSTEMS[system][0], column=f"{column} {task}", metric="UA",
                                      level="utterance", paper_value=value / 100,
                                      **results.summarise_runs(runs, "utterance", "UA", settings.n_boot)))
    add_rows(run, "Table 4", table4, {("Table 4", "feature_proposed"): {"2-class": PAPER_TABLE4["Proposed Framework"]}},
             settings.n_boot)
    run.training_seconds.update({"Table 1": sum(t.training_seconds for t in table1.values()), "Table 4": table4.training_seconds})
    return run


def run_fau_aibo(corpus: Corpus, settings: Settings, device: str = "auto", cache: str | Path | None = None,
                 reuse_rates: Mapping[tuple[str, str], float] | None = None, log=print) -> results.Run:
    """Tables 1 (both school directions, every system) and 4 (proposed, 2-class, 75/25 splits)."""
    table1 = {f"{a}→{b}": run_table(corpus, "Table 1", list(PAPER_FAU), [school_split(corpus, a, b)], settings, device, cache,
                                    reuse_rates=reuse_rates, log=log)
              for a, b in (("Mont", "Ohm"), ("Ohm", "Mont"))}
    random_splits = splits.random_stratified(corpus.manifest, HPARAMS.table3_test_fraction, repeats=settings.table3_runs, seed=0)
    table4 = run_table(corpus, "Table 4", ["feature_proposed"], random_splits, settings, device, cache, tasks=["2-class"],
                       reuse_rates=reuse_rates, log=log)
    return fau_run(corpus, settings, device, table1, table4)


# --------------------------------------------------------------------------- figures


def conv_capsule_points(model: TemporalCapsuleNetwork, x: np.ndarray, points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 2: squashed conv-capsule vectors at every time step of the windows ``x``, an equal
    random sample per capsule: (vectors, capsule index)."""
    conv, _ = capsule_activations(model, x)
    capsules = conv.shape[1]
    vectors = conv.transpose(1, 0, 2, 3).reshape(capsules, -1, conv.shape[-1])  # (K, windows × T', filters)
    per_capsule = min(points // capsules, vectors.shape[1])
    rng = np.random.default_rng(seed)
    chosen = np.stack([v[rng.choice(len(v), per_capsule, replace=False)] for v in vectors])
    return chosen.reshape(-1, chosen.shape[-1]), np.repeat(np.arange(capsules), per_capsule)


def output_capsule_points(model: TemporalCapsuleNetwork, data: Examples, points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 3: class-capsule outputs (flattened) of a random sample of windows, with their labels."""
    chosen = np.random.default_rng(seed).choice(len(data.x), min(points, len(data.x)), replace=False)
    _, outputs = capsule_activations(model, data.x[chosen])
    return outputs.reshape(len(chosen), -1), data.y[chosen]
