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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from serlib import config, metrics, results, splits, training
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


def settings(profile: str = "smoke", **overrides: Any) -> Settings:
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

    def own_rows(self, predictions: training.Predictions, corpus: str) -> training.Predictions:
        """``predictions`` of ``corpus`` with its utterances as rows of the corpus's own manifest:
        how they are stored, so that a later run with other corpora, or in another order, reads
        them back right (:meth:`joint_rows`)."""
        return replace(predictions, utterance=predictions.utterance - self.rows(corpus)[0])

    def joint_rows(self, predictions: training.Predictions, corpus: str, source: str) -> training.Predictions:
        """Stored predictions of ``corpus`` (rows of its own manifest) as rows of the joint manifest,
        checked against its labels: stored ``source`` that no longer fits the corpus is a clear error."""
        rows = self.rows(corpus)
        own = np.asarray(predictions.utterance)
        if len(own) and (own.min() < 0 or own.max() >= len(rows) or
                         not np.array_equal(self.labels[rows[own]], predictions.y_true)):
            raise ValueError(f"{source}: its stored predictions of {corpus} do not fit this run's {corpus} "
                             f"({len(rows)} utterances): the corpus changed since they were stored; train again "
                             "(serlib reproduce crosscorpus --force)")
        return replace(predictions, utterance=rows[own])

    def describe(self) -> pd.DataFrame:
        """Per corpus: utterances per class, speakers, folds and how they were made."""
        counts = pd.crosstab(self.manifest["corpus"], self.manifest["emotion"]).reindex(columns=list(CLASSES), fill_value=0)
        table = counts.reindex(list(self.names))
        table.insert(0, "speakers", self.manifest.groupby("corpus")["speaker"].nunique().reindex(list(self.names)))
        table.insert(0, "utterances", counts.sum(axis=1).reindex(list(self.names)))
        table["folds"] = [len(self.folds[name]) for name in self.names]
        # each distinct rule once, in the caption, so that a long rule does not stretch every row
        letters = {rule: f"({chr(ord('a') + i)})" for i, rule in enumerate(dict.fromkeys(self.rules[n] for n in self.names))}
        table["fold rule"] = [letters[self.rules[name]] for name in self.names]
        table.index = pd.Index([common.corpus_label(name) for name in self.names], name="corpus")
        table.columns.name = None  # the crosstab's "emotion" would head the corpus column
        table.attrs["caption"] = "Fold rules: " + "; ".join(f"{letter} {rule}" for rule, letter in letters.items())
        return table


def load_corpora(chosen: Settings, data_root: str | Path | None = None) -> Corpora:
    """Each chosen corpus as the 4-class task with its speaker-disjoint folds (each checked
    speaker-disjoint: training and validation speakers against the held-out fold), joined into
    one manifest."""
    names = tuple(dict.fromkeys(chosen.corpora))
    if len(names) < 2:
        raise ValueError(f"a cross-corpus matrix needs two corpora or more; got {list(names)}")
    labels_of = [common.corpus_label(name) for name in names]
    twins = sorted({label for label in labels_of if labels_of.count(label) > 1})
    if twins:
        raise ValueError(f"corpora {list(names)}: two are named {twins} (a CSV is named by its stem); rename one")
    manifests, labels, own_folds, rules = [], [], {}, {}
    for name, label in zip(names, labels_of):
        manifest, corpus_labels, task = common.session_corpus(name, chosen.per_class_and_speaker, None, data_root)
        manifests.append(manifest.assign(corpus=label, speaker=label + ":" + manifest["speaker"].astype(str)))
        labels.append(corpus_labels)
        rules[label] = task.folds
        own_folds[label] = splits.session_folds(manifests[-1], validate_on_next=True)[: chosen.folds]
    joint = pd.concat(manifests, ignore_index=True)
    starts = np.cumsum([0] + [len(m) for m in manifests])
    folds = {label: [splits.make_split(joint, f"{label} {fold.name}", fold.train + start, fold.test + start, fold.val + start)
                     for fold in own_folds[label]]
             for label, start in zip(labels_of, starts)}
    return Corpora(tuple(labels_of), joint, np.concatenate(labels), folds, rules)


def test_name(data: Corpora, corpus: str) -> str:
    """The name a network's test of ``corpus`` is stored under: the corpus and a hash of its
    utterance ids in its manifest's order (the rows its stored predictions name)."""
    ids = data.manifest["utterance_id"].astype(str).to_numpy()[data.rows(corpus)]
    return f"{corpus}-{config.fingerprint(list(ids))[:12]}"


@dataclass(frozen=True)
class FoldTraining:
    """One training of the grid (its held-out fold is its outcome: the diagonal) and how its
    network tests another corpus (:meth:`tested`, stored beside the outcome: off the diagonal).
    A training tests every other corpus of its grid as soon as it has trained, so the grid's
    jobs (``--executor dask``, ``serlib outcomes export``) carry those tests with their outcomes."""

    training: common.Training
    test: Callable[[Path, str], training.Predictions]  # (checkpoint, corpus) → its utterance-level predictions (own rows)
    prepare: Callable[[], Any]  # reads the features (cached): done before a test is timed

    def tested(self, data: Corpora, corpus: str, cache: str | Path | None = None) -> training.Predictions:
        """The network's predictions of every utterance of ``corpus`` (stored, or made from its
        checkpoint), as rows of the joint manifest."""
        name = test_name(data, corpus)
        if not common.tested_path(self.training.folder(cache), name).exists():
            self.prepare()  # a test's recorded time is the prediction's, not reading the features
        stored = self.training.tested(name, lambda checkpoint: self.test(checkpoint, corpus), cache)
        return data.joint_rows(stored, corpus, f"{self.training.key.slug()}, its test of {corpus}")

    def held_out(self, data: Corpora, corpus: str, cache: str | Path | None = None) -> training.Outcome:
        """The training's outcome (its held-out fold of ``corpus``), as rows of the joint manifest."""
        outcome = self.training.run(cache)
        levels = {level: data.joint_rows(p, corpus, self.training.key.slug()) for level, p in outcome.levels.items()}
        return replace(outcome, levels=levels)

    def testing_seconds(self, data: Corpora, corpus: str, cache: str | Path | None = None) -> float:
        """How long the network took to predict ``corpus`` when its test was made (recorded with it)."""
        return common.tested_seconds(self.training.folder(cache), test_name(data, corpus))


def trainings(model: MainModel, data: Corpora, seeds: Sequence[int], device: str = "auto",
              features_of: Callable[[], Any] | None = None) -> dict[tuple[str, int], list[FoldTraining]]:
    """Every (training corpus, fold) of ``model``, one training per seed. A training's identity is
    what it trains on (its training and validation speakers) and its held-out fold; the corpora it
    is tested on afterwards are not part of it, so a corpus added later trains only its own row.
    Features are read when the first training (or test) runs."""
    features_of = features_of or _features(model, data, None)
    grid = {}
    for corpus, folds in data.folds.items():
        for number, split in enumerate(folds, start=1):
            grid[corpus, number] = [_fold_training(model, data, corpus, split, seed, device, features_of) for seed in seeds]
    return grid


def _fold_training(model: MainModel, data: Corpora, corpus: str, split: splits.Split, seed: int, device: str,
                   features_of: Callable[[], Any]) -> FoldTraining:
    cfg = model.train_config(seed, device)
    n_classes = len(CLASSES)
    identity = training_identity(model.model_class, {**model.arguments, "n_classes": n_classes},
                                 {**model.trained, "config": cfg.identity()},
                                 {**model.feature_keys, "classes": CLASSES}, split)
    key = common.TrainingKey(PAGE, "cross-corpus", model.name, f"trained on {corpus}", split.name, seed)

    def build() -> nn.Module:
        return model.make_model(features_of(), n_classes)

    def predictions(network: nn.Module, rows: np.ndarray, of: str) -> training.Predictions:
        """The network's utterance-level predictions of ``rows`` of corpus ``of``, as rows of its own manifest."""
        examples = model.inputs(features_of(), data.labels, {"test": rows}, split.train)["test"]
        made = training.evaluate(network, examples, training.resolve_device(cfg.device), cfg.eval_batch_size)["utterance"]
        return data.own_rows(made, of)

    def train(checkpoint: Path) -> training.Outcome:
        examples = model.inputs(features_of(), data.labels, {"train": split.train, "val": split.val}, split.train)
        network, history = training.trained_model(build, examples, cfg, checkpoint)
        for other in data.names:  # the other corpora, while the network is at hand (before the outcome marks it stored)
            name = test_name(data, other)
            if other != corpus and not common.tested_path(checkpoint.parent, name).exists():  # a retraining keeps them
                started = time.time()
                made = predictions(network, data.rows(other), other)
                common.save_tested(checkpoint.parent, name, made, seconds=time.time() - started)
        return training.Outcome({"utterance": predictions(network, split.test, corpus)}, history)

    def test(checkpoint: Path, of: str) -> training.Predictions:
        network = training.load_trained(build, checkpoint, cfg.select).to(training.resolve_device(cfg.device))
        return predictions(network, data.rows(of), of)

    return FoldTraining(common.Training(key, identity, train), test, features_of)


GRID_STAGES = 1  # the grid is planned once: no choice waits on stored outcomes


def training_grid(chosen: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
                  device: str = "auto") -> list[common.Training]:
    """Every training of the page (each model × training corpus × fold × seed)."""
    data = load_corpora(chosen, data_root)
    models = [main_model(paper, chosen.profile) for paper in chosen.models]
    return [job.training for model in models
            for jobs in trainings(model, data, chosen.seeds, device, _features(model, data, cache)).values() for job in jobs]


def _features(model: MainModel, data: Corpora, cache: str | Path | None) -> Callable[[], Any]:
    """The model's features of the joint manifest, read (or extracted into ``cache``) once, when first needed."""
    return lru_cache(maxsize=1)(lambda: model.extract(data.manifest, cache, False))


@dataclass
class MatrixOutcomes:
    """What a model's grid returns: per (training corpus, fold), one outcome per seed (its held-out
    fold), and per (training corpus, fold, test corpus) the networks' predictions of that corpus."""

    model: MainModel
    outcomes: dict[tuple[str, int], list[training.Outcome]]
    tested: dict[tuple[str, int, str], list[training.Predictions]] = field(default_factory=dict)
    seconds: float = 0.0  # training (the epochs' recorded seconds)
    testing_seconds: float = 0.0  # predicting the other corpora (recorded with each stored test)
    untimed_tests: int = 0  # stored tests without a recorded time


def train_model(model: MainModel, data: Corpora, chosen: Settings, device: str = "auto",
                cache: str | Path | None = None, log: Callable[[str], None] = print) -> MatrixOutcomes:
    """Every training of ``model`` and its tests on the other corpora (each read back where stored)."""
    grid = trainings(model, data, chosen.seeds, device, _features(model, data, cache))
    result = MatrixOutcomes(model, {})
    for (corpus, number), jobs in grid.items():
        result.outcomes[corpus, number] = [job.held_out(data, corpus, cache) for job in jobs]
        for other in data.names:
            if other != corpus:
                result.tested[corpus, number, other] = [job.tested(data, other, cache) for job in jobs]
                for seconds in (job.testing_seconds(data, other, cache) for job in jobs):
                    if np.isnan(seconds):
                        result.untimed_tests += 1
                    else:
                        result.testing_seconds += seconds
        if number == len(data.folds[corpus]):
            log(f"{model.name} · trained on {corpus} ({number} fold{'s' if number > 1 else ''}), tested on the "
                f"other {len(data.names) - 1}")
    result.seconds = sum(o.training_seconds() for cell_outcomes in result.outcomes.values() for o in cell_outcomes)
    return result


def _in_order(predictions: training.Predictions, rows: np.ndarray) -> training.Predictions:
    """``predictions`` of the utterances at ``rows``, in that order (an error if one is missing)."""
    where = {row: i for i, row in enumerate(predictions.utterance)}
    missing = [row for row in rows if row not in where]
    if missing:
        raise ValueError(f"{len(missing)} test utterances have no prediction (e.g. row {missing[0]})")
    chosen = np.array([where[row] for row in rows])
    return training.Predictions(*(getattr(predictions, name)[chosen] for name in ("y_true", "y_pred", "utterance", "posteriors")))


def cell_predictions(result: MatrixOutcomes, data: Corpora, train: str, test: str) -> list[list[training.Predictions]]:
    """The predictions behind one cell, per seed: on the diagonal the held-out folds (each
    utterance once, by the fold model that never heard its speaker); off it every fold model's
    predictions of the whole test corpus (each utterance once per fold model)."""
    numbers = sorted(number for corpus, number in result.outcomes if corpus == train)
    seeds = len(result.outcomes[train, numbers[0]])
    if train == test:
        return [[o[seed].levels["utterance"] for o in (result.outcomes[train, n] for n in numbers)] for seed in range(seeds)]
    rows = data.rows(test)
    return [[_in_order(result.tested[train, n, test][seed], rows) for n in numbers] for seed in range(seeds)]


def matrix(result: MatrixOutcomes, data: Corpora, n_boot: int = 1000, metric: str = "UA") -> pd.DataFrame:
    """One row per (training corpus, test corpus): ``metric`` of all the cell's test predictions
    pooled (mean and :func:`~serlib.results.spread` over seeds; off the diagonal, pooling the fold
    models' predictions of the same utterances is the mean of their UAs), its 95 % CI resampling the test corpus's speakers, the
    number of fold models and test speakers behind it, how many classes its predictions use, and
    whether it is the diagonal."""
    speakers = data.speakers()
    rows = []
    for train in data.names:
        for test in data.names:
            pooled = [training.Predictions.concat(models) for models in cell_predictions(result, data, train, test)]
            y_true, clusters = pooled[0].y_true, speakers[pooled[0].utterance]
            low, high = metrics.bootstrap_ci(y_true, [p.y_pred for p in pooled], metrics.METRICS[metric], groups=clusters,
                                             n_boot=n_boot)
            scores = [p.score(metric) for p in pooled]
            rows.append({"model": result.model.name, "train": train, "test": test, "metric": metric,
                         "value": float(np.mean(scores)), "std": results.spread(scores), "ci_low": low, "ci_high": high,
                         "models": len(cell_predictions(result, data, train, test)[0]), "seeds": len(pooled),
                         "test utterances": len(set(pooled[0].utterance)), "test speakers": len(set(clusters)),
                         "classes predicted": len(np.unique(np.concatenate([p.y_pred for p in pooled]))),
                         "diagonal": train == test})
    return pd.DataFrame(rows)


def drops(cells: pd.DataFrame) -> pd.DataFrame:
    """Each off-diagonal cell beside two diagonals, in points below them: its training corpus's
    (``drop (points)``: what leaving the corpus costs, mixed with how hard the test corpus is) and
    its test corpus's (``below test corpus's own (points)``: how far a model trained elsewhere falls
    short of one trained on the test corpus itself)."""
    diagonal = cells[cells["diagonal"]].set_index(["model", "train"])["value"]
    off = cells[~cells["diagonal"]].copy()
    off["within corpus"] = [diagonal[m, t] for m, t in zip(off["model"], off["train"])]
    off["drop (points)"] = 100 * (off["within corpus"] - off["value"])
    off["below test corpus's own (points)"] = 100 * (np.array([diagonal[m, t] for m, t in zip(off["model"], off["test"])])
                                                      - off["value"])
    return off


#: Below this many test speakers, a cell's speaker bootstrap has too few clusters to trust its width.
FEW_SPEAKERS = 8


#: What a results row's ``row`` puts before the training corpus (:func:`cell_row`).
TRAINED_ON = " · trained on "


def cell_row(model: str, train: str) -> str:
    """The ``row`` of a results row of ``model`` trained on ``train``: "<model> · trained on <corpus>"."""
    return f"{model}{TRAINED_ON}{train}"


def comparison_rows(trained: Sequence[MatrixOutcomes], data: Corpora, cells: pd.DataFrame, n_boot: int = 1000,
                    metric: str = "UA") -> list[results.ResultRow]:
    """The model with the highest mean off-diagonal ``metric`` against the next one, cell by cell,
    as results rows: the paired difference on the same test utterances (first seed) with a paired CI
    at 95 % corrected for the number of off-diagonal cells (Bonferroni, :func:`~serlib.papers.common.corrected_level`).
    The bootstrap draws the test corpus's speakers, then their utterances, each utterance with every
    fold model's prediction of it, for both models at once; none for one model."""
    order = drops(cells).groupby("model")["value"].mean().sort_values(ascending=False).index
    if len(order) < 2:
        return []
    best, runner_up = (next(r for r in trained if r.model.name == name) for name in order[:2])
    speakers = data.speakers()
    level = common.corrected_level(len(data.names) * (len(data.names) - 1))
    rows = []
    for train in data.names:
        for test in data.names:
            if train == test:
                continue
            first, second = (cell_predictions(result, data, train, test)[0] for result in (best, runner_up))
            pooled_first, pooled_second = training.Predictions.concat(first), training.Predictions.concat(second)
            difference, low, high = metrics.paired_difference_ci(
                pooled_first.y_true, [pooled_first.y_pred], [pooled_second.y_pred], metrics.METRICS[metric],
                common.resamples(n_boot, level), level, speakers=speakers[pooled_first.utterance],
                groups=pooled_first.utterance)
            rows.append(results.ResultRow("Cross-corpus", results.difference_name(*(cell_row(result.model.name, train)
                                                                                     for result in (best, runner_up))),
                                          test, metric, None, difference, low, high, std=None, level="utterance",
                                          quantity=results.DIFFERENCE, ci_level=level))
    return rows


def level_words(level: float, comparisons: int) -> str:
    """How a CI ``level`` judges each of ``comparisons`` cells, in words: corrected (Bonferroni) or not."""
    if math.isclose(level, common.corrected_level(comparisons)):
        return common.correction(comparisons)
    return f"each cell on its own, not corrected for the {comparisons} comparisons"


def best_against_next(record: results.ResultsFile) -> pd.DataFrame:
    """The results file's comparison rows (:func:`comparison_rows`) as the page shows them, in points."""
    compared = results.differences(record.table())
    if not len(compared):
        return pd.DataFrame()
    best, runner_up = (row.partition(TRAINED_ON)[0] for row, _ in results.operands(compared["row"].iloc[0], compared["column"].iloc[0]))
    bounds = list(zip(compared["ci_low"], compared["ci_high"]))
    level = float(compared["ci_level"].iloc[0])
    table = pd.DataFrame({"trained on": [row.rpartition(TRAINED_ON)[2] for row in compared["row"]],
                          "tested on": compared["column"].to_numpy(),
                          "difference (points)": [round(100 * value, 1) for value in compared["value"]],
                          f"{100 * level:.1f}% CI": [f"[{100 * low:+.1f}, {100 * high:+.1f}]" for low, high in bounds],
                          "established": ["ahead" if low > 0 else "behind" if high < 0 else "no" for low, high in bounds]})
    table.attrs["caption"] = (f"{best} minus {runner_up}, {compared['metric'].iloc[0]} off the diagonal (first seed); "
                              f"paired CIs at {100 * level:.1f} % ({level_words(level, len(compared))}), drawing the test "
                              "corpus's speakers, then their utterances, each with every fold model's prediction of it")
    table.attrs["level"] = level
    table.attrs["bounds"] = [(100 * low, 100 * high) for low, high in bounds]  # the CIs in points, for the verdict
    return table


def verdict(cells: pd.DataFrame, comparison: pd.DataFrame | None = None, chance: float = 1 / len(CLASSES)) -> str:
    """Which model transfers best (mean off-diagonal UA, and in how many cells its lead over the
    next model is established), the mean drop from the diagonal, which (model, pair) cells fail (CI
    reaching chance), in which every fold model predicts a single class, and which test corpora have
    too few speakers for a trustworthy CI: a Markdown list, one finding a line."""
    off = drops(cells)
    by_model = off.groupby("model")["value"].mean().sort_values(ascending=False)
    lines = ["Mean UA off the diagonal: " + "; ".join(f"{m} {100 * v:.1f} %" for m, v in by_model.items())
             + f" (chance {100 * chance:.0f} %)."]
    if len(by_model) > 1:
        lead = f"{by_model.index[0]} transfers best on average, {100 * (by_model.iloc[0] - by_model.iloc[1]):.1f} points above {by_model.index[1]}"
        if comparison is not None and len(comparison):
            ahead = int((comparison["established"] == "ahead").sum())
            behind = int((comparison["established"] == "behind").sum())
            near = sum(min(abs(low), abs(high)) < 1 for low, high in comparison.attrs.get("bounds", ()) if low > 0 or high < 0)
            level = comparison.attrs.get("level", 0.95)
            lead += (f"; cell by cell, its lead is established (paired {100 * level:.1f} % CI excluding 0, "
                     f"{level_words(level, len(comparison))}) in {ahead} of {len(comparison)} off-diagonal "
                     f"cells, and reversed in {behind}"
                     + (f" ({near} of these {ahead + behind} with the CI's nearer end within a point of 0)" if near else "")
                     + ": for these networks, one training per fold, on these test speakers; the training's own spread "
                     "is not in the CIs")
        lines.append(lead + ".")
    drop = off.groupby("model")["drop (points)"].mean().reindex(by_model.index)  # over a full matrix, the same against rows' or columns' diagonals
    lines.append("Mean points an off-diagonal cell falls below the diagonal (over the whole matrix the same whether "
                 "each cell is set against its row's or its column's; the table of every cell has both): "
                 + "; ".join(f"{m} {v:.1f}" for m, v in drop.items()) + ".")
    failing = off[off["ci_low"] <= chance]
    if len(failing):
        below = off[off["ci_high"] < chance]
        lines.append(f"{len(failing)} of {len(off)} off-diagonal cells have a CI that does not lie above chance"
                     + (f" ({len(below)} entirely below it: "
                        + ", ".join(f"{m}: {t} → {u}" for m, t, u in zip(below["model"], below["train"], below["test"])) + ")"
                        if len(below) else "") + ": "
                     + "; ".join(f"{m}: " + ", ".join(f"{t} → {s}" for t, s in zip(group["train"], group["test"]))
                                 for m, group in failing.groupby("model", sort=False)) + ".")
    else:
        lines.append(f"Every off-diagonal cell's CI lies above chance ({len(off)} cells).")
    if "classes predicted" in off and len(single := off[off["classes predicted"] == 1]):
        lines.append(f"In {len(single)} off-diagonal cell{'s' if len(single) > 1 else ''} every fold model predicts one "
                     "and the same class for every test utterance, so its UA is exactly chance with a CI of zero width: "
                     + "; ".join(f"{m}: " + ", ".join(f"{t} → {s}" for t, s in zip(group["train"], group["test"]))
                                 for m, group in single.groupby("model", sort=False)) + ".")
    speakers = cells.groupby("test", sort=False)["test speakers"].max()  # a column's whole corpus
    few = speakers[speakers < FEW_SPEAKERS]
    if len(few):
        lines.append(f"The CIs of the cells tested on {common.listed([f'{t} ({n} speakers)' for t, n in few.items()])} rest on "
                     f"fewer than {FEW_SPEAKERS} speakers: a bootstrap over so few speakers gives unreliable CIs.")
    return "\n".join(f"- {line}" for line in lines)  # a Markdown list: one finding a line


def protocol_text(data: Corpora) -> str:
    """The protocol in one paragraph (the results file's ``protocol``)."""
    return (f"train on one corpus, test on every corpus ({', '.join(data.names)}; the 4 shared classes); per training "
            "corpus, speaker-disjoint folds (the next fold's first speaker validates); diagonal = held-out folds pooled, "
            "off-diagonal = every fold model's predictions of the whole test corpus pooled (the mean of their UAs); "
            "utterance-level UA, 95 % CI over the test corpus's speakers")


def results_file(data: Corpora, trained: Sequence[MatrixOutcomes], cells: pd.DataFrame, chosen: Settings,
                 device: str) -> results.ResultsFile:
    """The page's results file: one row per (model, training corpus, test corpus), UA at the
    utterance level, and the best model's difference to the next per off-diagonal cell (:func:`comparison_rows`) (``results/crosscorpus/<corpora>-<profile>.json``); its wall time counts from
    loading the corpora, its training time from the checkpoints, with the testing time beside."""
    record = results.ResultsFile(PAGE, "+".join(data.names), protocol_text(data), chosen.profile, device,
                                 list(chosen.seeds), started=data.started,
                                 notes={"folds": data.rules, "settings": asdict(chosen),
                                        "testing_seconds": {t.model.name: round(t.testing_seconds, 1) for t in trained}})
    for cell in cells.itertuples(index=False):
        record.add(results.ResultRow("Cross-corpus", cell_row(cell.model, cell.train), cell.test, cell.metric, None,
                                     cell.value, cell.ci_low, cell.ci_high, std=cell.std, seeds=cell.seeds, level="utterance"))
    for row in comparison_rows(trained, data, cells, chosen.n_boot):
        record.add(row)
    record.training_seconds = {"Cross-corpus": sum(t.seconds for t in trained)}
    return record


def cost_text(trained: Sequence[MatrixOutcomes], device: str) -> str:
    """What the grid cost on ``device``, as each training recorded it when it ran (so a page
    regenerated from stored outcomes states the same): training time per model and the time its
    networks took to predict the other corpora. Feature extraction is not in it."""
    untimed = sum(t.untimed_tests for t in trained)
    return (f"**Cost, as each training recorded it when it ran** (this run: `{device}`): training " + "; ".join(f"{t.model.name} {t.seconds / 60:.0f} min" for t in trained)
            + f" (total {sum(t.seconds for t in trained) / 60:.0f} min); predicting the other corpora "
            f"{sum(t.testing_seconds for t in trained) / 60:.0f} min"
            + (f" ({untimed} stored tests recorded no time)" if untimed else "")
            + ". Extracting the features (once per corpus, cached and shared with the papers' pages) is not counted.")


def cells_table(cells: pd.DataFrame, profile: str, device: str) -> pd.DataFrame:
    """The matrix as a reader's table, one row per (model, training corpus, test corpus): the score
    and its CI in %, with each off-diagonal cell's drop. Where every cell tests all of its test
    corpus (each column's cells the same speakers and utterances, as with every fold held out),
    their counts are left to the corpora table (:meth:`Corpora.describe`); else each row shows them."""
    metric = cells["metric"].iloc[0]
    table = cells.merge(drops(cells)[["model", "train", "test", "drop (points)", "below test corpus's own (points)"]],
                        how="left", on=["model", "train", "test"])
    shown = pd.DataFrame({
        "model": table["model"], "trained on": table["train"], "tested on": table["test"],
        f"{metric} % [95% CI]": [f"{100 * value:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
                                 for value, lo, hi in zip(table["value"], table["ci_low"], table["ci_high"])],
        "below training corpus's own (points)": table["drop (points)"].round(1),
        "below test corpus's own (points)": table["below test corpus's own (points)"].round(1),
        "test speakers": table["test speakers"], "test utterances": table["test utterances"],
    }).set_index(["model", "trained on", "tested on"])
    whole_corpus = bool(cells.groupby("test")[["test speakers", "test utterances"]].nunique().eq(1).all().all())
    tested = "each cell tests every speaker and utterance of its test corpus (their counts are in the corpora table)"
    if whole_corpus:
        shown = shown.drop(columns=["test speakers", "test utterances"])
    else:
        tested = "a diagonal cell tests only the held-out folds run, an off-diagonal cell its whole test corpus"
    shown.attrs["caption"] = (f"profile {profile}, device {device}; {metric} at the utterance level; "
                              f"{int(cells['seeds'].iloc[0])} seed(s); the diagonal (trained and tested on one corpus) "
                              f"has no drop; {tested}")
    return shown


def matrix_of(trained: Sequence[MatrixOutcomes], data: Corpora, n_boot: int = 1000, metric: str = "UA") -> pd.DataFrame:
    """The cells of every model's matrix (:func:`matrix`), one after another."""
    return pd.concat([matrix(result, data, n_boot, metric) for result in trained], ignore_index=True)
