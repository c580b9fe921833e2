"""Luo, Zou & Huang, *Investigation on joint representation learning for robust feature extraction in speech
emotion recognition* (Interspeech 2018; our copy has no title page: identified from its content).

Three systems (§3): the plain CRNN, HSF-CRNN (with the 6373 openSMILE ComParE 2016 functionals)
and multi-CRNN (30- and 50-frame segments), on 40 log-mel bands (§4.2). Table 1: WA and UA on
IEMOCAP 4-class, four sessions train and one tests (§4.1). Table 2: UA on the development set of
the ComParE 2018 Atypical Affect challenge (EmotAsS).

Both corpora are licence-gated. The page runs Table 1's protocol on **nEMO** (Polish, 9 actors)
as a stand-in, with its actors in 5 fixed speaker-disjoint folds (:data:`serlib.corpora.NEMO_FOLDS`)
in the place of IEMOCAP's sessions. The same code runs IEMOCAP and EmotAsS from a user's copy.
The paper gives no optimiser, learning rate, batch size, epochs or model selection: each test fold
takes the first speaker of the next fold as its validation speaker (out of training), keeps the
epoch with the best validation UA and picks the learning rate with the best validation UA.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import corpora, features, metrics, results, splits, training
from serlib.identity import training_identity
from serlib.examples import Examples, pad_sequences
from serlib.models.crnn import HSFCRNN, MultiCRNN, PlainCRNN
from serlib.papers import common
from serlib.papers.contract import MainModel

PAPER = "crnn"


@dataclass(frozen=True)
class Hyperparameters:
    """Every number the paper gives (section in the comment) and our choices where it gives none."""

    sample_rate: int = 16000
    window_ms: float = 25.0  # §4.2: 25 ms frames
    hop_ms: float = 10.0  # §4.2: every 10 ms
    n_fft: int = 1024  # §4.2: 1024-point STFT of Hamming-windowed frames
    n_mels: int = 40  # §4.2: 40 log-mel filter banks
    segment: int = 30  # §4.2: plain CRNN segments of 30 frames ...
    segment_overlap: int = 10  # ... overlapping by 10
    long_segment: int = 50  # §4.2: multi-CRNN's second channel, 50 frames ...
    long_segment_overlap: int = 25  # ... overlapping by 25
    functionals: str = "ComParE_2016"  # §4.2: the ComParE 2016 HSFs, 6373 values
    batch_size: int = 32  # not given: utterances per batch
    max_epochs: int = 40  # not given: the epoch with the best validation UA is kept (a pilot at 1e-3 was still improving at 20)
    select_metric: str = "UA"  # not given: IEMOCAP's UA is the paper's headline metric


HPARAMS = Hyperparameters()


SYSTEMS = {"Plain CRNN": PlainCRNN, "Multi-CRNN": MultiCRNN, "HSF-CRNN": HSFCRNN}


@dataclass(frozen=True)
class Settings:
    """What a run may change (notebook parameters / ``serlib reproduce -p``)."""

    profile: str
    # the stand-in (a registered corpus with a ``session`` column)
    corpus: str = common.setting("nemo", common.Valid(corpus=True))  # a registered corpus or a CSV manifest
    systems: tuple[str, ...] = common.setting(("Plain CRNN", "Multi-CRNN", "HSF-CRNN"), common.Valid(among=tuple(SYSTEMS)))
    # sessions (folds) that are test sets
    test_folds: tuple[int, ...] = common.setting(common.SESSION_FOLD_NUMBERS, common.Valid(among=common.SESSION_FOLD_NUMBERS))
    # Adam; chosen per fold on validation UA (3e-4 learnt too slowly in a pilot)
    learning_rates: tuple[float, ...] = common.setting((3e-3, 1e-3), common.Valid(positive=True))
    epochs: int = HPARAMS.max_epochs
    seeds: tuple[int, ...] = common.setting((0,), common.Valid(at_least=0))
    per_class_and_speaker: int | None = None  # a subset of every speaker's utterances (smoke)
    n_boot: int = 1000  # bootstrap resamples of each CI


PROFILES = {
    # smoke: 2 utterances per speaker and class, one test fold, one learning rate, one epoch
    "smoke": Settings("smoke", test_folds=(4,), learning_rates=(1e-3,), epochs=1, per_class_and_speaker=2, n_boot=200),
    # two seeds: one seed's rerun moved pooled UA by several points (rerun_note), so the paired CIs draw the seeds too
    "full": Settings("full", seeds=(0, 1)),
}


def settings(profile: str = "smoke", **overrides) -> Settings:
    """The profile's settings with overrides; unknown systems, corpora or learning rates are errors."""
    return common.resolve(PROFILES, profile, overrides)


CLASSES = common.FOUR_CLASSES
#: The corpora Table 1 runs on (nEMO, the stand-in; IEMOCAP when given), shared with the etransformer paper.
TASKS = common.SESSION_TASKS



#: Table 1 (IEMOCAP, %) and Table 2 (Atypical Affect UA, %) as printed.
PAPER_TABLE1 = {
    ("Plain CRNN", "WA"): 0.5654, ("Plain CRNN", "UA"): 0.5642,
    ("Multi-CRNN", "WA"): 0.5753, ("Multi-CRNN", "UA"): 0.5806,
    ("HSF-CRNN", "WA"): 0.6035, ("HSF-CRNN", "UA"): 0.6398,
}
PAPER_TABLE2 = {
    ("Plain CRNN", "Develop set"): 0.2937, ("Multi-CRNN", "Develop set"): 0.3065,
    ("HSF-CRNN", "Develop set"): 0.3245, ("HSF-CRNN", "Test set"): 0.35795,
    ("Baseline [20]", "Develop set"): 0.418, ("Baseline [20]", "Test set"): 0.280,
}
#: The work Table 2's baseline row cites (identified from the text: the challenge's own baseline).
QUOTED_REFERENCES = {
    "[20]": "B. Schuller et al., *The INTERSPEECH 2018 Computational Paralinguistics Challenge: Atypical & "
            "Self-Assessed Affect, Crying & Heart Beats*, Proc. Interspeech 2018",
}
QUOTED_SOURCE = "our copy of the paper has no reference list; the bracket is identified from the text"
#: The paper's finding: HSF-CRNN > multi-CRNN > plain CRNN (Tables 1 and 2).
PAPER_ORDER = ("HSF-CRNN", "Multi-CRNN", "Plain CRNN")


def extractors() -> dict[str, features.Extractor]:
    """40 log-mel bands (§4.2) and the ComParE 2016 functionals (§4.2)."""
    return {
        "spectrogram": features.LogMel(HPARAMS.sample_rate, HPARAMS.window_ms, HPARAMS.hop_ms, HPARAMS.n_fft, HPARAMS.n_mels),
        "functionals": features.OpenSmileFunctionals(HPARAMS.sample_rate, HPARAMS.functionals),
    }


def make_model(system: str, n_classes: int, n_functionals: int):
    """One of :data:`SYSTEMS` with the segment sizes of :data:`HPARAMS`."""
    short = (HPARAMS.segment, HPARAMS.segment - HPARAMS.segment_overlap)
    long = (HPARAMS.long_segment, HPARAMS.long_segment - HPARAMS.long_segment_overlap)
    if system == "Plain CRNN":
        return PlainCRNN(n_classes, HPARAMS.n_mels, *short)
    if system == "Multi-CRNN":
        return MultiCRNN(n_classes, HPARAMS.n_mels, short, long)
    if system == "HSF-CRNN":
        return HSFCRNN(n_functionals, n_classes, HPARAMS.n_mels, *short)
    raise ValueError(f"unknown system {system!r}; known: {list(SYSTEMS)}")


# --------------------------------------------------------------------------- data


@dataclass
class Data:
    """The corpus as the paper's task, its speaker-disjoint folds and the cached features."""

    corpus: str
    manifest: pd.DataFrame
    classes: tuple[str, ...]
    labels: np.ndarray
    folds: list[splits.Split]
    spectrograms: list[np.ndarray]
    functionals: np.ndarray
    task: common.SessionTask
    started: float = field(default_factory=time.time)

    def fold(self, session: int) -> splits.Split:
        """The fold whose test set is ``session``."""
        for fold in self.folds:
            if set(self.manifest["session"].iloc[fold.test]) == {session}:
                return fold
        raise ValueError(f"no fold tests session {session}; sessions: {sorted(self.manifest['session'].unique())}")

    @property
    def protocol(self) -> str:
        sessions = sorted(self.manifest["session"].unique())
        return (f"leave-one-session-out over {len(sessions)} speaker-disjoint sessions ({len(self.manifest)} utterances, "
                f"{self.manifest['speaker'].nunique()} speakers, {len(self.classes)} classes); validation speaker = the "
                f"first speaker of the next session; single-split view: session {self.task.single_split_test} tests")


def load_data(settings: Settings, corpus: str | None = None, root: str | Path | None = None,
              data_root: str | Path | None = None, cache: str | Path | None = None, progress: bool = True) -> Data:
    """A session corpus (nEMO or IEMOCAP) as the 4-class task, its leave-one-session-out folds
    (each checked speaker-disjoint, validation speaker included) and both feature sets (cached)."""
    started = time.time()
    name = corpus or settings.corpus
    manifest, labels, task = common.session_corpus(name, settings.per_class_and_speaker, root, data_root)
    folds = splits.session_folds(manifest, validate_on_next=True)  # each checked speaker-disjoint by make_split
    found = extract(manifest, cache, progress)
    return Data(common.corpus_label(name), manifest, CLASSES, labels, folds, found["spectrogram"], found["functionals"], task, started)


def extract(manifest: pd.DataFrame, cache: str | Path | None, progress: bool) -> dict:
    """Log-mel spectrograms (list of (frames, 40)) and functionals ((utterances, 6373)), cached."""
    chosen = extractors()
    return {"spectrogram": features.extract(manifest, chosen["spectrogram"], cache, progress),
            "functionals": np.stack(features.extract(manifest, chosen["functionals"], cache, progress))}


def inputs(spectrograms: list[np.ndarray], functionals: np.ndarray, labels: np.ndarray,
           parts: dict[str, np.ndarray], fit_rows: np.ndarray | None = None) -> dict[str, Examples]:
    """One example per utterance and part: its z-scored log-mel spectrogram (per band) zero-padded
    with its length, and its z-scored functionals. Both sets of statistics come from the training
    utterances only (the paper does not say how it normalises; z-scores are the usual choice for
    the ComParE set, whose features span many orders of magnitude). ``fit_rows``: the utterances
    the statistics come from, when ``parts`` has no training part."""
    train = parts["train"] if fit_rows is None else fit_rows
    spectrogram_scaler = features.Standardizer().fit([spectrograms[r] for r in train])
    functional_scaler = features.Standardizer().fit([functionals[train]])
    examples = {}
    for part, rows in parts.items():
        if len(rows) == 0:
            continue
        padded = pad_sequences(dict(zip(rows, spectrogram_scaler.transform([spectrograms[r] for r in rows]))), labels, rows)
        x = {"spectrogram": padded.x, "functionals": functional_scaler.transform([functionals[rows]])[0]}
        examples[part] = Examples(x, padded.y, padded.utterance, padded.lengths)
    return examples


# --------------------------------------------------------------------------- training


def train_config(settings: Settings, learning_rate: float, seed: int, device: str, select: str = "val",
                 epochs: int | None = None) -> training.TrainConfig:
    """Adam, batch 32; keep the epoch with the best validation UA (``select="val"``)."""
    return training.TrainConfig(epochs=epochs or settings.epochs, batch_size=HPARAMS.batch_size, learning_rate=learning_rate,
                                seed=seed, device=device, select=select, select_metric=HPARAMS.select_metric,
                                eval_batch_size=64, progress=False)


def system_training(examples: Callable[[], dict[str, Examples]], n_functionals: int, system: str, table: str,
                    split: splits.Split, cfg: training.TrainConfig, corpus: str) -> common.Training:
    """One training of ``system`` (key: table, system + learning rate, split, seed); its inputs
    are made (``examples()``) only when it trains."""
    model_class = SYSTEMS[system]
    identity = training_identity(model_class, {"n_functionals": n_functionals, "n_classes": len(CLASSES)},
                                 {"hparams": asdict(HPARAMS), "config": cfg.identity()},
                                 {"features": feature_keys(), "corpus": corpus}, split)
    key = common.TrainingKey(PAPER, table, f"{system} lr={cfg.learning_rate:g}", f"{corpus} 4-class", split.name, cfg.seed)
    build = lambda: make_model(system, len(CLASSES), n_functionals)  # noqa: E731
    return common.Training(key, identity, lambda checkpoint: training.train_and_evaluate(build, examples(), cfg, checkpoint))


#: The main model's learning rate on other corpora: the candidate of Table 1 that HSF-CRNN's
#: validation speakers chose most often on nEMO (3 of 5 folds; 1e-3 for the other 2). One rate
#: for every corpus, so a cross-corpus grid trains each fold once instead of once per candidate.
MAIN_MODEL_LEARNING_RATE = 3e-3


def main_model(settings: Settings | None = None) -> MainModel:
    """HSF-CRNN, the paper's best system (Table 1), for pages beyond the paper: z-scored log-mel
    spectrograms and ComParE functionals, the epoch with the best validation UA kept."""
    chosen = settings or PROFILES["full"]
    return MainModel(
        PAPER, "HSF-CRNN", HSFCRNN,
        extract=lambda manifest, cache, progress: extract(manifest, cache, progress),
        inputs=lambda found, labels, parts, fit_rows: inputs(found["spectrogram"], found["functionals"], labels, dict(parts),
                                                             fit_rows),
        make_model=lambda found, n_classes: make_model("HSF-CRNN", n_classes, found["functionals"].shape[1]),
        train_config=lambda seed, device: train_config(chosen, MAIN_MODEL_LEARNING_RATE, seed, device),
        arguments={"n_functionals": "ComParE_2016"},
        trained={"hparams": asdict(HPARAMS)},
        feature_keys=feature_keys(),
    )


def feature_keys() -> dict[str, str]:
    return {name: features.extractor_key(extractor) for name, extractor in extractors().items()}


def train_system(examples: dict[str, Examples], system: str, table: str, split: splits.Split,
                 cfg: training.TrainConfig, corpus: str, cache: str | Path | None = None) -> training.Outcome:
    """One cached training of ``system`` on ready ``examples``."""
    n_functionals = examples["train"].x["functionals"].shape[1]
    return system_training(lambda: examples, n_functionals, system, table, split, cfg, corpus).run(cache)


def table1_trainings(data: Data, settings: Settings, device: str = "auto") -> dict[tuple[str, int, float], list[common.Training]]:
    """Every (system, test fold, learning rate) of Table 1, one training per seed. A fold's inputs
    are made when its first training runs and kept until another fold's are needed."""
    examples_of = lru_cache(maxsize=1)(
        lambda session: inputs(data.spectrograms, data.functionals, data.labels, data.fold(session).parts()))
    trainings = {}
    for session in settings.test_folds:
        fold = data.fold(session)
        for system in settings.systems:
            for rate in settings.learning_rates:
                trainings[system, session, rate] = [
                    system_training(lambda session=session: examples_of(session), data.functionals.shape[1], system,
                                    "Table 1", fold,
                                    train_config(settings, rate, seed, device), data.corpus)
                    for seed in settings.seeds]
    return trainings


GRID_STAGES = 1  # the grid is planned once: no choice waits on stored outcomes


def training_grid(settings: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
                  device: str = "auto") -> list[common.Training]:
    """Table 1's trainings on ``settings.corpus`` (for ``serlib reproduce --executor dask``; IEMOCAP
    and EmotAsS, when given, train inside the notebook)."""
    data = load_data(settings, data_root=data_root, cache=cache, progress=False)
    return [job for trainings in table1_trainings(data, settings, device).values() for job in trainings]


@dataclass
class FoldOutcomes:
    """Table 1 on one corpus: per system, test fold and learning rate, one outcome per seed; the
    learning rate each fold chose on its validation speaker."""

    outcomes: dict[tuple[str, int, float], list[training.Outcome]]
    chosen: dict[tuple[str, int], float]

    def selected(self, system: str, session: int) -> list[training.Outcome]:
        return self.outcomes[system, session, self.chosen[system, session]]

    def validation_ua(self, system: str, session: int, rate: float) -> float:
        """Mean over seeds of the best validation UA at learning rate ``rate``: what the choice compares."""
        return float(np.mean([o.validation_score(HPARAMS.select_metric) for o in self.outcomes[system, session, rate]]))

    def pooled(self, system: str, sessions: list[int]) -> list[training.Outcome]:
        """Per seed, the chosen models' test predictions pooled over ``sessions``."""
        return training.pool_folds_per_seed(self.selected(system, s) for s in sessions)


def run_table1(data: Data, settings: Settings, device: str = "auto", cache: str | Path | None = None, log=print) -> FoldOutcomes:
    """Every (system, test fold, learning rate, seed) training; each fold's learning rate is the
    one with the best mean validation UA over seeds (its validation speaker, never its test fold)."""
    fold_outcomes = FoldOutcomes({}, {})
    for (system, session, rate), trainings in table1_trainings(data, settings, device).items():
        fold_outcomes.outcomes[system, session, rate] = [job.run(cache) for job in trainings]
        if rate != settings.learning_rates[-1]:
            continue
        rate = fold_outcomes.chosen[system, session] = max(settings.learning_rates, key=lambda r: fold_outcomes.validation_ua(system, session, r))
        test = training.mean_score(fold_outcomes.selected(system, session), "UA")
        log(f"[{settings.profile}, {data.corpus}] session {session} {system:<10} lr {rate:g} "
            f"(val UA {fold_outcomes.validation_ua(system, session, rate):.3f}) test UA {test:.3f}")
    return fold_outcomes


def best_epoch(outcome: training.Outcome) -> int:
    """The epoch ``select="val"`` kept: the first with the best validation UA."""
    return outcome.kept_epoch(HPARAMS.select_metric)


#: The training loss below which a model has (nearly) fitted its training utterances (cross-entropy
#: of 0.1: the right class at about 0.9 probability on average).
FITTED_LOSS = 0.1


def fitted_epoch(outcome: training.Outcome, threshold: float = FITTED_LOSS) -> int | None:
    """The first epoch whose mean training loss fell below ``threshold``; None if none did."""
    return next((h["epoch"] for h in outcome.history if h.get("train_loss", np.inf) < threshold), None)


def choices(data: Data, fold_outcomes: FoldOutcomes, settings: Settings) -> pd.DataFrame:
    """Per system and fold: validation speaker, validation UA of each learning rate, the chosen
    rate, its best epoch and the epoch its training loss first fell below :data:`FITTED_LOSS`
    (the first seed, named in the columns): a best epoch long before that one is a barely trained
    model that validation preferred."""
    seed = f"seed {settings.seeds[0]}"
    rows = []
    for (system, session), rate in fold_outcomes.chosen.items():
        fold = data.fold(session)
        row = {"system": system, "test session": session,
               "validation speaker": ", ".join(sorted(data.manifest["speaker"].iloc[fold.val].unique()))}
        for candidate in settings.learning_rates:
            row[f"val UA, lr {candidate:g}"] = round(fold_outcomes.validation_ua(system, session, candidate), 3)
        row["chosen lr"] = rate
        row[f"best epoch ({seed})"] = best_epoch(fold_outcomes.selected(system, session)[0])
        fitted = fitted_epoch(fold_outcomes.selected(system, session)[0])
        row[f"training loss < {FITTED_LOSS:g} from epoch ({seed})"] = "–" if fitted is None else fitted
        rows.append(row)
    return pd.DataFrame(rows).set_index(["system", "test session"])


def results_file(data: Data, fold_outcomes: FoldOutcomes, settings: Settings, device: str) -> results.ResultsFile:
    """Table 1 rows: WA and UA of each system over all test folds pooled, and on the paper's
    single split. Paper values only on the paper's corpus, and only for the single split."""
    record = results.ResultsFile(paper=PAPER, corpus=data.corpus, profile=settings.profile, device=device,
                         seeds=list(settings.seeds), protocol=data.protocol, started=data.started,
                         notes={"settings": asdict(settings), "hparams": asdict(HPARAMS), "task": data.task.note,
                                "chosen_learning_rates": {f"{s} / session {f}": r for (s, f), r in fold_outcomes.chosen.items()}})
    sessions = list(settings.test_folds)
    views = {f"{len(sessions)}-fold leave-one-session-out": sessions}
    if data.task.single_split_test in sessions:
        views[f"single split (session {data.task.single_split_test} tests)"] = [data.task.single_split_test]
    for system in settings.systems:
        for column, chosen_sessions in views.items():
            pooled = fold_outcomes.pooled(system, chosen_sessions)
            for metric in ("WA", "UA"):
                paper_value = None
                if not data.task.stand_in and column.startswith("single split"):
                    paper_value = PAPER_TABLE1[system, metric]
                record.add(results.ResultRow(table="Table 1", row=system, column=column, metric=metric, level="utterance",
                                             paper_value=paper_value,
                                             **results.summarise_seeds(pooled, "utterance", metric, settings.n_boot)))
    for row in difference_rows(data, fold_outcomes, settings, next(iter(views))):
        record.add(row)
    record.training_seconds["Table 1"] = common.training_seconds(o for cell_outcomes in fold_outcomes.outcomes.values() for o in cell_outcomes)
    return record


#: The comparisons that the paper's ordering HSF-CRNN > multi-CRNN > plain CRNN (Table 1) makes:
#: in each pair the paper's first system scores higher.
ORDER_PAIRS = (("HSF-CRNN", "Multi-CRNN"), ("Multi-CRNN", "Plain CRNN"), ("HSF-CRNN", "Plain CRNN"))


def order_pairs(settings: Settings) -> list[tuple[str, str]]:
    """:data:`ORDER_PAIRS` of which both systems ran."""
    return [pair for pair in ORDER_PAIRS if set(pair) <= set(settings.systems)]


def difference_rows(data: Data, fold_outcomes: FoldOutcomes, settings: Settings, column: str) -> list[results.ResultRow]:
    """The paper's ordering as paired differences (WA, UA; :func:`order_pairs`) on the pooled test
    sessions, each with a CI that draws the test speakers and then their utterances, at 95 %
    corrected (Bonferroni) for the number of UA comparisons; beside the paper's difference (its
    Table 1, IEMOCAP's single split: on a stand-in, the sign to look for)."""
    pairs = order_pairs(settings)
    level = common.corrected_level(len(pairs))
    speakers = data.manifest["speaker"].to_numpy()
    rows = []
    for first, second in pairs:
        for metric in ("WA", "UA"):
            value, low, high = common.paired_difference(
                fold_outcomes.pooled(first, list(settings.test_folds)), fold_outcomes.pooled(second, list(settings.test_folds)),
                metric, common.resamples(settings.n_boot, level), speakers, level)
            rows.append(results.ResultRow(
                table="Table 1", row=results.difference_name(first, second), column=column, metric=metric, level="utterance",
                paper_value=round(PAPER_TABLE1[first, metric] - PAPER_TABLE1[second, metric], 6), value=value, ci_low=low,
                ci_high=high, std=None, seeds=len(settings.seeds), quantity=results.DIFFERENCE, ci_level=level))
    return rows


def order_differences(rows: pd.DataFrame, column: str, metric: str | None = "UA") -> pd.DataFrame:
    """The stored differences of :data:`ORDER_PAIRS` in ``column`` (``metric``; None: both), in
    points, with whether each CI establishes the paper's sign (``verdict``)."""
    found = results.differences(rows)
    found = found[(found["column"] == column) & ((found["metric"] == metric) if metric else True)]
    return pd.DataFrame([{"pair": row.row, "left": row.row.split(results.MINUS)[0], "system": row.row.split(results.MINUS)[1],
                          "metric": row.metric, "ours": 100 * row.value, "low": 100 * row.ci_low, "high": 100 * row.ci_high,
                          "paper": 100 * row.paper_value, "level": row.ci_level,
                          "verdict": common.sign_agreement(100 * row.ci_low, 100 * row.ci_high, 100 * row.paper_value)}
                         for row in found.itertuples()],
                        columns=["pair", "left", "system", "metric", "ours", "low", "high", "paper", "level", "verdict"])


def differences_table(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """The paper's ordering as paired differences (WA and UA, points with their CI) beside the
    paper's differences (IEMOCAP's single split: on a stand-in, the sign to look for)."""
    found = order_differences(rows, column, metric=None)
    if not len(found):
        return pd.DataFrame()
    table = pd.DataFrame(common.comparison_cells(found, lambda row: row.pair, "paper (IEMOCAP)")).T.rename_axis("pair")
    levels = sorted(set(found["level"]))
    table.attrs["caption"] = (f"{column}; paired bootstrap CIs at {', '.join(f'{100 * level:.1f} %' for level in levels)} "
                              f"({common.correction(len(found) // 2)}), drawing the test speakers and then their utterances.")
    return table


def table1(record: results.ResultsFile) -> pd.DataFrame:
    """Ours (with 95 % CI) per system, view and metric, in the paper's order."""
    return results.ours_by_column(record, PAPER_ORDER[::-1])


def per_fold(data: Data, fold_outcomes: FoldOutcomes, settings: Settings) -> pd.DataFrame:
    """UA of each system's chosen model on each test fold (mean over seeds)."""
    return pd.DataFrame({
        system: {f"session {s} ({', '.join(sorted(data.manifest['speaker'].iloc[data.fold(s).test].unique()))})":
                 round(100 * training.mean_score(fold_outcomes.selected(system, s), "UA"), 1)
                 for s in settings.test_folds}
        for system in settings.systems})


def confusion(fold_outcomes: FoldOutcomes, system: str, sessions: list[int]) -> np.ndarray:
    """Row-normalised confusion matrix of ``system``'s pooled test predictions (seeds summed)."""
    return training.pooled_confusion(fold_outcomes.pooled(system, sessions), "utterance", len(CLASSES))


# --------------------------------------------------------------------------- Table 2: EmotAsS


def transferred_choices(data: Data, fold_outcomes: FoldOutcomes, system: str) -> tuple[float, int]:
    """Learning rate (the most often chosen) and epochs (median best epoch) of ``system`` on
    Table 1's validation speakers: EmotAsS gives no speaker ids to validate on, and its devel set
    is what Table 2 reports, so nothing is chosen on it."""
    rates = Counter(rate for (s, _), rate in fold_outcomes.chosen.items() if s == system)
    epochs = [best_epoch(o) for (s, session) in fold_outcomes.chosen if s == system for o in fold_outcomes.selected(s, session)]
    return rates.most_common(1)[0][0], int(np.median(epochs))


#: Who vouches that EmotAsS's train and devel partitions share no speaker: its files name none.
EMOTASS_SPEAKERS = "the EmotAsS release (its partitions hold different speakers; its files name none)"


def run_table2(emotass_root: str | Path, table1_data: Data, table1_outcomes: FoldOutcomes, settings: Settings, device: str = "auto",
               cache: str | Path | None = None, progress: bool = True) -> results.ResultsFile:
    """Table 2: each system trained on the challenge's train partition with the learning rate and
    epochs chosen on Table 1's validation speakers, scored (UA) on the devel partition."""
    manifest = corpora.load_manifest("emotass", emotass_root, download=False)
    labelled = corpora.select_emotions(manifest, CLASSES)
    if settings.per_class_and_speaker:
        labelled = common.smoke_subset(labelled, ["partition", "emotion"], 4 * settings.per_class_and_speaker)
    labelled = labelled.sort_values("utterance_id", ignore_index=True)
    split = splits.make_split(labelled, "EmotAsS train / devel", np.flatnonzero(labelled["partition"] == "train"),
                              np.flatnonzero(labelled["partition"] == "devel"), speakers_from=EMOTASS_SPEAKERS)
    labels = labelled["emotion"].map({e: i for i, e in enumerate(CLASSES)}).to_numpy()
    found = extract(labelled, cache, progress)
    examples = inputs(found["spectrogram"], found["functionals"], labels, {"train": split.train, "test": split.test})
    record = results.ResultsFile(paper=PAPER, corpus="emotass", profile=settings.profile, device=device, seeds=list(settings.seeds),
                         protocol=f"train partition ({len(split.train)}) → devel partition ({len(split.test)}), 4 classes; "
                                  f"speaker-disjoint by {EMOTASS_SPEAKERS}, not checked in code; "
                                  "learning rate and epochs from the Table 1 run's validation speakers")
    outcomes = []
    for system in settings.systems:
        rate, epochs = transferred_choices(table1_data, table1_outcomes, system)
        cell_outcomes = [train_system(examples, system, "Table 2", split,
                             train_config(settings, rate, seed, device, select="last", epochs=epochs), "emotass", cache)
                for seed in settings.seeds]
        outcomes += cell_outcomes
        record.add(results.ResultRow(table="Table 2", row=system, column="Develop set", metric="UA", level="utterance",
                                     paper_value=PAPER_TABLE2[system, "Develop set"],
                                     **results.summarise_seeds(cell_outcomes, "utterance", "UA", settings.n_boot)))
    record.training_seconds["Table 2"] = common.training_seconds(outcomes)
    return record


# --------------------------------------------------------------------------- tables for the page


def describe_folds(data: Data) -> pd.DataFrame:
    """Per session: its speakers, utterances per class, and the validation speaker of its fold."""
    rows = {}
    for fold in data.folds:
        test = data.manifest.iloc[fold.test]
        session = int(test["session"].iloc[0])
        rows[f"session {session}"] = {
            "speakers": ", ".join(sorted(test["speaker"].unique())), "utterances": len(test),
            **test["emotion"].value_counts().reindex(CLASSES, fill_value=0).to_dict(),
            "validation speaker when it tests": ", ".join(sorted(data.manifest["speaker"].iloc[fold.val].unique())),
            "training utterances": len(fold.train),
        }
    return pd.DataFrame(rows).T


def paper_table(values: dict[tuple[str, str], float]) -> pd.DataFrame:
    """One of the paper's tables as printed (percent, with the printed digits: 28.0, 35.795)."""
    table = pd.Series({k: printed_percent(v) for k, v in values.items()}).unstack()
    columns = list(dict.fromkeys(column for _, column in values))  # as printed: WA before UA, develop before test
    rows = [s for s in (*PAPER_ORDER[::-1], "Baseline [20]") if s in table.index]
    return table.reindex(index=rows, columns=columns).fillna("–")


def printed_percent(fraction: float) -> str:
    """``fraction`` as the paper prints a percentage: its decimals (at most three; a printed trailing
    zero after the first decimal, as in 56.50, is not kept by a float), at least one."""
    digits = f"{100 * fraction:.3f}".rstrip("0")
    return digits + "0" if digits.endswith(".") else digits


def ordering(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """The systems ranked by our WA and UA in ``column`` of results ``rows``, beside the paper's
    ranking (Table 1), and for each pair of neighbours in our ranking whether its paired difference
    (:func:`difference_rows`) establishes that order: an order whose CI spans 0 is not established."""
    scored = results.scores(rows)
    scored = scored[scored["column"] == column].set_index(["row", "metric"])
    out = {}
    for metric in ("WA", "UA"):
        ours = common.ranking({s: scored.loc[(s, metric), "value"] for s in scored.index.get_level_values(0).unique()})
        paper = common.ranking({s: PAPER_TABLE1[s, metric] for s in ours})
        found = order_differences(rows, column, metric).set_index("pair")
        established = []
        for better, worse in zip(ours, ours[1:]):
            if (pair := results.difference_name(better, worse)) in found.index:
                established.append("yes" if found.loc[pair, "low"] > 0 else "no")
            elif (pair := results.difference_name(worse, better)) in found.index:
                established.append("yes" if found.loc[pair, "high"] < 0 else "no")
            else:
                established.append("not compared")
        out[metric] = {"paper (IEMOCAP)": " > ".join(paper), "ours": " > ".join(ours), "same order": ours == paper,
                       NEIGHBOURS: ", ".join(established)}
    table = pd.DataFrame(out).T
    levels = sorted(set(order_differences(rows, column)["level"]))
    table.attrs["caption"] = (f"By point score; each neighbouring pair's order is established when its paired difference's CI "
                              f"({', '.join(f'{100 * level:.1f} %' for level in levels) or 'none stored'}, over the test speakers "
                              "and their utterances) excludes 0.")
    return table


#: The column of :func:`ordering` that says whether each neighbouring pair's order is established.
NEIGHBOURS = "neighbours' order established (paired CI)"


#: Pooled UA of the 30 trainings' first run on nEMO (seed 0, LSTMs on packed sequences), from
#: results/crnn/nemo-full.json as committed before 879544b (its git_commit 84f2231): the same
#: function as today's fused kernel, with another floating-point rounding.
EARLIER_RUN_UA = {"Plain CRNN": 0.4463, "Multi-CRNN": 0.4266, "HSF-CRNN": 0.4903}


def first_seed_ua(fold_outcomes: FoldOutcomes, settings: Settings) -> dict[str, float]:
    """Each system's pooled test UA over ``settings.test_folds`` for its first seed alone."""
    return {system: fold_outcomes.pooled(system, list(settings.test_folds))[0].levels["utterance"].score("UA")
            for system in settings.systems}


def rerun_note(first_seed: dict[str, float], settings: Settings, corpus: str) -> str:
    """How far pooled UA of seed 0 (``first_seed``, :func:`first_seed_ua`) moved from
    :data:`EARLIER_RUN_UA` (the same 30 trainings and seed on nEMO): one seed's run-to-run spread,
    which no bootstrap over test utterances shows. "" for any other corpus, profile or first seed,
    which has no earlier run."""
    if (corpus, settings.profile, settings.seeds[0]) != ("nemo", "full", 0):
        return ""
    moves = [f"{100 * EARLIER_RUN_UA[s]:.1f} to {100 * first_seed[s]:.1f} ({s})" for s in PAPER_ORDER[::-1] if s in first_seed]
    seeds = len(settings.seeds)
    coda = ("do not cover: a second seed is what would establish an order." if seeds == 1 else
            f"do not cover. This page trains {seeds} seeds, and its means and paired CIs draw on all of them "
            "(the CIs draw the seeds too).")
    return ("**How far one run moves by chance.** Seed 0's 30 trainings were run twice: the second time "
            "after the LSTM moved to PyTorch's fused kernel on padded batches, which computes the same function (outputs "
            "and gradients equal the packed version's to 1e-5) with a different floating-point rounding. Seed 0's pooled "
            f"UA moved from {common.listed(moves)}. So one seed's run-to-run spread is several points, which CIs drawn "
            "from the test speakers and utterances of one trained model each " + coda)


def pooled_column(rows: pd.DataFrame) -> str:
    """The leave-one-session-out column of Table 1 rows."""
    return next(c for c in rows["column"].unique() if "leave-one-session-out" in c)


def ordering_summary(rows: pd.DataFrame) -> str:
    """One line for the summary's scoreboard: for how many of the paper's ordering's paired UA
    differences our CI establishes the paper's sign, first (where stored), then our UA ordering on
    the pooled folds by point score vs the paper's."""
    table1 = rows[(rows["table"] == "Table 1") & (rows["metric"] == "UA")]
    column = pooled_column(table1)
    pooled = results.scores(table1)
    pooled = pooled[pooled["column"] == column]
    line = common.ordering_line(dict(zip(pooled["row"], pooled["value"])),
                                {system: PAPER_TABLE1[system, "UA"] for system in pooled["row"]}, "UA")
    found = order_differences(table1, column)
    if not len(found):
        return line
    verdicts = list(found["verdict"])
    agreeing = [pair for pair, verdict in zip(found["pair"], verdicts) if verdict == "agrees"]
    return (f"the paper's order as paired differences: its sign established for {verdicts.count('agrees')} of {len(verdicts)}"
            + (f" ({', '.join(agreeing)})" if agreeing else "") + f", the opposite for {verdicts.count('opposite')}; "
            f"by point score, {line}")


def verdict(rows: pd.DataFrame, corpus: str, profile: str) -> str:
    """One paragraph for the page: does the paper's ordering hold on this run's pooled folds by
    point score, and which of its paired differences (:func:`difference_rows`) does the run establish."""
    column = pooled_column(rows)
    ua = results.scores(rows)
    ua = ua[(ua["column"] == column) & (ua["metric"] == "UA")].set_index("row")
    ours = common.ranking(ua["value"].to_dict())
    paper = tuple(s for s in PAPER_ORDER if s in ours)
    held = "holds" if ours == paper else "does not hold"
    lines = [f"**On {corpora.display_name(corpus)} ({profile} profile, {column}), by point score the paper's UA ordering "
             f"{' > '.join(paper)} {held}: ours is {' > '.join(ours)}.**"]
    found = order_differences(rows, column)
    if len(found):
        verdicts = list(found["verdict"])
        each = [f"{row.pair} {common.signed_ci(row.ours, row.low, row.high, scale=1)} ({row.verdict})" for row in found.itertuples()]
        level = found["level"].iloc[0]
        seeds_drawn = f", and the {int(ua['seeds'].max())} seeds of each" if "seeds" in ua and ua["seeds"].max() > 1 else ""
        lines.append(f"Paired UA differences (points), each with a {100 * level:.1f} % CI over the test speakers and their "
                     f"utterances{seeds_drawn} ({common.correction(len(found))}): {'; '.join(each)}. The paper's sign is "
                     f"established for {verdicts.count('agrees')} of {len(found)}, the opposite for {verdicts.count('opposite')}; "
                     "the paper's differences, on IEMOCAP, give only the sign to look for.")
    seeds = int(ua["seeds"].max()) if "seeds" in ua else None
    if seeds is not None and seeds < 3:
        covered = ("these CIs draw the seeds too, but so few show little of a rerun's spread" if seeds > 1 else
                   "these CIs cover the test speakers and utterances, not a rerun's spread")
        lines.append(f"With {seeds} seed{'s' if seeds > 1 else ''} per system {covered}, which on this corpus is several "
                     "points: read the order as indicative.")
    return " ".join(lines)


def verdict_box(rows: pd.DataFrame, corpus: str, profile: str, ran: set[str]) -> str:
    """The page's opening box (Markdown): what this run reproduced, what it did not and why, from
    the results ``rows`` of the stand-in and the corpora that ``ran`` (e.g. ``{"iemocap"}``)."""
    lines = [f"- **Reproduced here:** Table 1's protocol on **{corpora.display_name(corpus)}**, the public stand-in, in 5 speaker-disjoint "
             f"folds ({profile} profile). {verdict(rows, corpus, profile)}"]
    gated = {"iemocap": "Table 1 on IEMOCAP", "emotass": "Table 2 on EmotAsS"}
    for name, what in gated.items():
        if name in ran:
            lines.append(f"- **{what}:** run from a licensed copy; its table below sets ours beside the paper's.")
    missing = [what for name, what in gated.items() if name not in ran]
    if missing:
        lines.append(f"- **Not reproduced here:** {' and '.join(missing)}: licence-gated corpora. The same code runs them "
                     "from a licensed copy (`iemocap_root`, `emotass_root`) and is tested on fixtures of their release layouts.")
    lines.append("- **Why our numbers differ from the paper's:** a different corpus and language (Polish acted speech, 9 "
                 "actors) stands in for IEMOCAP, so the numbers are not compared in size; the ordering of the three systems is.")
    return "\n".join(lines)
