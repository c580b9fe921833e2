"""Beyond the papers: each paper's main model trained on one corpus and tested on every corpus.

Protocol (the page writes it out):

1. Every corpus becomes the four shared classes (anger, happiness, neutral, sadness) as the
   IEMOCAP papers' task maps it (:func:`serlib.papers.common.session_corpus`: nEMO's and a CSV's
   own labels, RAVDESS without calm), split into speaker-disjoint folds: its sessions where it has
   them, else at most five folds of whole speakers (:func:`serlib.splits.speaker_folds`).
2. For each training corpus and each of its folds, a model (:class:`~serlib.papers.contract.MainModel`,
   its paper's features and loop) trains on the other folds; the first speaker of the next fold
   validates, as in crnn's Table 1 (early stopping and the kept epoch, where the paper's loop
   selects on validation). The held-out fold is its test on the training corpus (the diagonal);
   every other corpus, whole, is its test off the diagonal.
3. A cell's UA: on the diagonal, the held-out folds' predictions pooled; off it, the mean over the
   training corpus's fold models (each saw a different part of it). Its 95 % CI resamples the test
   corpus's speakers (all models of the cell together), so it says how far the cell would move on
   other speakers of the same corpus.

Every training is a :class:`~serlib.papers.common.Training` (keyed and stored like the papers',
exported to ``outcomes/crosscorpus/``); :func:`training_grid` lists them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serlib import metrics, results, splits, training
from serlib.identity import training_identity
from serlib.papers import common
from serlib.papers.contract import MainModel

PAGE = "crosscorpus"
#: The registered corpora with the four shared classes.
CORPORA = ("emodb", "ravdess", "savee", "nemo")
CLASSES = common.FOUR_CLASSES
#: The papers whose main model the page trains, cheapest first.
MODEL_PAPERS = ("rnn", "crnn", "scalogram")


@dataclass(frozen=True)
class Settings:
    """What a run may change (notebook parameters)."""

    profile: str
    corpora: tuple[str, ...] = common.setting(CORPORA, common.Valid(corpus=True))  # registered names or CSV manifests
    models: tuple[str, ...] = common.setting(MODEL_PAPERS, common.Valid(among=MODEL_PAPERS))
    seeds: tuple[int, ...] = common.setting((0,), common.Valid(at_least=0))  # one: the grid is models x corpora x folds
    folds: int | None = None  # smoke: each training corpus's first folds only
    per_class_and_speaker: int | None = None  # smoke: utterances per speaker and class
    n_boot: int = 1000  # bootstrap resamples of each CI


PROFILES = {
    # smoke: two small corpora, two utterances per speaker and class, one fold, the papers' smoke loops
    "smoke": Settings("smoke", corpora=("emodb", "savee"), folds=1, per_class_and_speaker=2, n_boot=200),
    "full": Settings("full"),
}


def settings(profile: str = "smoke", **overrides) -> Settings:
    """The profile's settings with overrides; an unknown corpus or model is an error naming the valid ones."""
    return common.resolve(PROFILES, profile, overrides)


def main_model(paper: str, profile: str) -> MainModel:
    """``paper``'s main model with its paper's loop under ``profile`` (smoke: one epoch)."""
    from importlib import import_module

    module = import_module(f"serlib.papers.{paper}")
    return module.main_model(module.settings(profile))


@dataclass
class Corpora:
    """The chosen corpora as one manifest (a ``corpus`` column; speakers prefixed with their
    corpus), the labels (indices into :data:`CLASSES`), and each corpus's folds."""

    names: tuple[str, ...]
    manifest: pd.DataFrame
    labels: np.ndarray
    folds: dict[str, list[splits.Split]]  # by training corpus: train and val of it, test = its held-out fold
    rules: dict[str, str]  # how each corpus's folds were made
    started: float = field(default_factory=time.time)

    def rows(self, corpus: str) -> np.ndarray:
        """Every row of ``corpus`` in the joint manifest."""
        return np.flatnonzero(self.manifest["corpus"].to_numpy() == corpus)

    def speakers(self) -> np.ndarray:
        """The speaker of each row: the clusters of every CI."""
        return self.manifest["speaker"].to_numpy()

    def describe(self) -> pd.DataFrame:
        """Per corpus: utterances per class, speakers, folds and how they were made."""
        counts = pd.crosstab(self.manifest["corpus"], self.manifest["emotion"]).reindex(columns=list(CLASSES), fill_value=0)
        table = counts.reindex(list(self.names))
        table.insert(0, "speakers", self.manifest.groupby("corpus")["speaker"].nunique().reindex(list(self.names)))
        table.insert(0, "utterances", counts.sum(axis=1).reindex(list(self.names)))
        table["folds"] = [len(self.folds[name]) for name in self.names]
        table["fold rule"] = [self.rules[name] for name in self.names]
        table.index = [common.corpus_label(name) for name in self.names]
        return table


def load_corpora(settings_: Settings, data_root: str | Path | None = None) -> Corpora:
    """Each chosen corpus as the 4-class task with its speaker-disjoint folds, joined into one
    manifest; each fold is checked speaker-disjoint on the joint manifest (train and validation
    of the training corpus against every test utterance)."""
    parts, labels, folds, rules, offset = [], [], {}, {}, 0
    names = tuple(dict.fromkeys(settings_.corpora))
    if len(names) < 2:
        raise ValueError(f"a cross-corpus matrix needs two corpora or more; got {list(names)}")
    labels_of = [common.corpus_label(name) for name in names]
    twins = sorted({label for label in labels_of if labels_of.count(label) > 1})
    if twins:
        raise ValueError(f"corpora {list(names)}: two are named {twins} (a CSV is named by its stem); rename one")
    for name in names:
        manifest, y, task = common.session_corpus(name, settings_.per_class_and_speaker, None, data_root)
        label = common.corpus_label(name)
        manifest = manifest.assign(corpus=label, speaker=label + ":" + manifest["speaker"].astype(str))
        rules[label] = task.folds
        own = splits.session_folds(manifest, validate_on_next=True)[: settings_.folds]
        folds[label] = [(fold, offset) for fold in own]
        parts.append(manifest)
        labels.append(y)
        offset += len(manifest)
    joint = pd.concat(parts, ignore_index=True)
    labels_ = np.concatenate(labels)
    every = np.arange(len(joint))
    joint_folds = {}
    for label, own in folds.items():
        joint_folds[label] = []
        for fold, start in own:
            elsewhere = every[joint["corpus"].to_numpy() != label]
            joint_folds[label].append(splits.make_split(
                joint, f"{label} {fold.name}", fold.train + start, np.concatenate([fold.test + start, elsewhere]),
                fold.val + start))
    return Corpora(tuple(labels_of), joint, labels_, joint_folds, rules)


def trainings(model: MainModel, data: Corpora, seeds: Sequence[int], device: str = "auto",
              features_of: Callable[[], Any] | None = None) -> dict[tuple[str, int], list[common.Training]]:
    """Every (training corpus, fold) of ``model``, one training per seed. A training tests its
    network on each corpus in turn (its held-out fold, every other corpus whole) and keeps the
    utterance-level predictions of all of them. Features are read when the first training runs."""
    features_of = features_of or lru_cache(maxsize=1)(lambda: model.extract(data.manifest, None, False))
    n_classes = len(CLASSES)
    grid = {}
    for corpus, folds in data.folds.items():
        for number, split in enumerate(folds, start=1):
            grid[corpus, number] = [_training(model, data, corpus, split, seed, device, features_of, n_classes) for seed in seeds]
    return grid


def _training(model: MainModel, data: Corpora, corpus: str, split: splits.Split, seed: int, device: str,
              features_of: Callable[[], Any], n_classes: int) -> common.Training:
    cfg = model.train_config(seed, device)
    identity = training_identity(model.model_class, {**model.arguments, "n_classes": n_classes},
                                 {**model.trained, "config": cfg.identity()},
                                 {**model.feature_keys, "classes": CLASSES}, split)
    key = common.TrainingKey(PAGE, "cross-corpus", model.name, f"trained on {corpus}", split.name, seed)
    test_sets = [split.test[data.manifest["corpus"].to_numpy()[split.test] == name] for name in data.names]

    def train(checkpoint: Path) -> training.Outcome:
        found = features_of()
        examples = model.inputs(found, data.labels, {"train": split.train, "val": split.val}, split.train)
        network, history = training.trained_model(lambda: model.make_model(found, n_classes), examples, cfg, checkpoint)
        device_ = training.resolve_device(cfg.device)
        tested = [training.evaluate(network, model.inputs(found, data.labels, {"test": rows}, split.train)["test"], device_,
                                    cfg.eval_batch_size)["utterance"] for rows in test_sets if len(rows)]
        return training.Outcome({"utterance": training.Predictions.concat(tested)}, history)

    return common.Training(key, identity, train)


GRID_STAGES = 1  # the grid is planned once: no choice waits on stored outcomes


def training_grid(settings_: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
                  device: str = "auto") -> list[common.Training]:
    """Every training of the page (each model × training corpus × fold × seed)."""
    data = load_corpora(settings_, data_root)
    models = [main_model(paper, settings_.profile) for paper in settings_.models]
    return [job for model in models for jobs in trainings(model, data, settings_.seeds, device, _features(model, data, cache)).values()
            for job in jobs]


def _features(model: MainModel, data: Corpora, cache: str | Path | None) -> Callable[[], Any]:
    return lru_cache(maxsize=1)(lambda: model.extract(data.manifest, cache, False))


@dataclass
class MatrixOutcomes:
    """What a model's grid returns: outcomes per (training corpus, fold), one per seed."""

    model: MainModel
    outcomes: dict[tuple[str, int], list[training.Outcome]]
    seconds: float = 0.0


def train_model(model: MainModel, data: Corpora, settings_: Settings, device: str = "auto",
                cache: str | Path | None = None, log: Callable[[str], None] = print) -> MatrixOutcomes:
    """Every training of ``model`` (each read from the cache when stored)."""
    grid = trainings(model, data, settings_.seeds, device, _features(model, data, cache))
    outcomes = {}
    for (corpus, number), jobs in grid.items():
        outcomes[corpus, number] = [job.run(cache) for job in jobs]
        log(f"[{settings_.profile}] {model.name}: trained on {corpus}, fold {number} of {len(data.folds[corpus])}")
    seconds = sum(o.training_seconds() for runs in outcomes.values() for o in runs)
    return MatrixOutcomes(model, outcomes, seconds)


def _predictions_on(outcome: training.Outcome, rows: np.ndarray) -> training.Predictions:
    """An outcome's utterance-level predictions of the utterances at ``rows`` (in that order)."""
    predictions = outcome.levels["utterance"]
    where = {row: i for i, row in enumerate(predictions.utterance)}
    chosen = np.array([where[row] for row in rows])
    return training.Predictions(*(getattr(predictions, name)[chosen] for name in ("y_true", "y_pred", "utterance", "posteriors")))


def matrix(result: MatrixOutcomes, data: Corpora, n_boot: int = 1000, metric: str = "UA") -> pd.DataFrame:
    """One row per (training corpus, test corpus): ``metric`` (mean over seeds), its 95 % CI over
    the test corpus's speakers, the number of models behind it and whether it is the diagonal."""
    speakers = data.speakers()
    rows = []
    for train in data.names:
        numbers = sorted(number for corpus, number in result.outcomes if corpus == train)
        seeds = len(result.outcomes[train, numbers[0]])
        for test in data.names:
            if test == train:  # the held-out folds pooled, per seed
                per_seed = []
                for seed in range(seeds):
                    held_out = [data.folds[train][n - 1].test for n in numbers]
                    held_out = [rows_[data.manifest["corpus"].to_numpy()[rows_] == train] for rows_ in held_out]
                    per_seed.append(training.Predictions.concat(
                        [_predictions_on(result.outcomes[train, n][seed], r) for n, r in zip(numbers, held_out)]))
                predictions, models = per_seed, len(numbers)
            else:  # every fold model (and seed) on the whole test corpus
                test_rows = data.rows(test)
                predictions = [_predictions_on(o, test_rows) for n in numbers for o in result.outcomes[train, n]]
                models = len(numbers)
            y_true = predictions[0].y_true
            score = float(np.mean([p.score(metric) for p in predictions]))
            low, high = metrics.bootstrap_ci(y_true, [p.y_pred for p in predictions], metrics.METRICS[metric],
                                             groups=speakers[predictions[0].utterance], n_boot=n_boot)
            rows.append({"model": result.model.name, "train": train, "test": test, "metric": metric, "value": score,
                         "ci_low": low, "ci_high": high, "models": models, "seeds": seeds,
                         "test utterances": len(y_true), "test speakers": len(set(speakers[predictions[0].utterance])),
                         "diagonal": train == test})
    return pd.DataFrame(rows)


def drops(cells: pd.DataFrame) -> pd.DataFrame:
    """Each off-diagonal cell beside its training corpus's diagonal: how many points it falls below."""
    diagonal = cells[cells["diagonal"]].set_index(["model", "train"])["value"]
    off = cells[~cells["diagonal"]].copy()
    off["within corpus"] = [diagonal[m, t] for m, t in zip(off["model"], off["train"])]
    off["drop (points)"] = 100 * (off["within corpus"] - off["value"])
    return off


def verdict(cells: pd.DataFrame, chance: float = 1 / len(CLASSES)) -> str:
    """Which model transfers best (mean off-diagonal UA), which pairs fail (CI reaching chance),
    and the mean drop from the diagonal, from the cells alone."""
    off = drops(cells)
    by_model = off.groupby("model")["value"].mean().sort_values(ascending=False)
    failing = off[off["ci_low"] <= chance]
    lines = ["Mean UA off the diagonal: " + "; ".join(f"{m} {100 * v:.1f} %" for m, v in by_model.items())
             + f" (chance {100 * chance:.0f} %)."]
    lines.append(f"{by_model.index[0]} transfers best on average" + (
        "" if len(by_model) < 2 else f", {100 * (by_model.iloc[0] - by_model.iloc[1]):.1f} points above the next model") + ".")
    drop = off.groupby("model")["drop (points)"].mean()
    lines.append("Mean drop from the diagonal: " + "; ".join(f"{m} {v:.1f} points" for m, v in drop.items()) + ".")
    if len(failing):
        pairs = sorted({f"{t} → {s}" for t, s in zip(failing["train"], failing["test"])})
        lines.append(f"{len(failing)} of {len(off)} off-diagonal cells have a CI reaching chance: " + ", ".join(pairs) + ".")
    else:
        lines.append(f"Every off-diagonal cell's CI lies above chance ({len(off)} cells).")
    return " ".join(lines)


def protocol_text(data: Corpora) -> str:
    """The protocol in one paragraph (the results file's ``protocol``)."""
    return (f"train on one corpus, test on every corpus ({', '.join(data.names)}; the 4 shared classes); per training "
            "corpus, speaker-disjoint folds (the next fold's first speaker validates); diagonal = held-out folds pooled, "
            "off-diagonal = mean over the fold models on the whole test corpus; utterance-level UA, 95 % CI over the "
            "test corpus's speakers")


def results_file(data: Corpora, trained: Sequence[MatrixOutcomes], cells: pd.DataFrame, settings_: Settings,
                 device: str) -> results.ResultsFile:
    """The page's results file: one row per (model, training corpus, test corpus), UA at the
    utterance level (``results/crosscorpus/<corpora>-<profile>.json``)."""
    record = results.ResultsFile(PAGE, "+".join(data.names), protocol_text(data), settings_.profile, device,
                                 list(settings_.seeds), notes={"folds": data.rules, "settings": asdict(settings_)})
    for cell in cells.itertuples(index=False):
        record.add(results.ResultRow("Cross-corpus", f"{cell.model} · trained on {cell.train}", cell.test, cell.metric, None,
                                     cell.value, cell.ci_low, cell.ci_high, seeds=cell.seeds, level="utterance"))
    record.training_seconds = {"Cross-corpus": sum(t.seconds for t in trained)}
    return record


def cells_table(cells: pd.DataFrame) -> pd.DataFrame:
    """The matrix as a reader's table: UA and CI in %, with each off-diagonal cell's drop."""
    table = cells.merge(drops(cells)[["model", "train", "test", "drop (points)"]], how="left", on=["model", "train", "test"])
    shown = pd.DataFrame({
        "model": table["model"], "trained on": table["train"], "tested on": table["test"],
        "UA (%)": (100 * table["value"]).round(1),
        "95% CI": [f"[{100 * lo:.1f}, {100 * hi:.1f}]" for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "below own corpus (points)": table["drop (points)"].round(1),
        "test speakers": table["test speakers"], "test utterances": table["test utterances"],
    })
    shown.attrs["caption"] = (f"{cells['metric'].iloc[0]} at the utterance level; {int(cells['seeds'].iloc[0])} seed(s); "
                              "the diagonal (trained and tested on one corpus) has no drop")
    return shown


def matrix_of(trained: Sequence[MatrixOutcomes], data: Corpora, n_boot: int = 1000, metric: str = "UA") -> pd.DataFrame:
    """The cells of every model's matrix (:func:`matrix`), one after another."""
    return pd.concat([matrix(result, data, n_boot, metric) for result in trained], ignore_index=True)
