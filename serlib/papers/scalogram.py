"""*Speech emotion recognition using scalogram-based deep structure*, International Journal of
Engineering 33(2), 2020 (doi 10.5829/ije.2020.33.02b.13).

Protocol (§4): 4 classes (anger, sadness, happiness, neutral) on SAVEE, Emo-DB and RAVDESS (male
actors); 3D Morlet scalograms of 2.5 s segments (§2.1) classified by feature learning blocks +
attention BLSTM (§2.2). Speaker-independent: leave one speaker out, 5 random initialisations;
speaker-dependent: a random 80/20 split. Tables 1-3: confusion matrices of the speaker-independent
experiments; Table 4: UAR of both.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import corpora, features, metrics, results, splits, training
from serlib.examples import stack_examples
from serlib.models.scalogram import ScalogramCRNN
from serlib.papers import common

PAPER = "scalogram"

#: §2.1 and our choices for what it leaves open (the notebook's table says why).
SCALOGRAM = features.Scalogram(
    sample_rate=16000, segment_s=2.5, segment_overlap_s=1.0, frame_ms=25.0, frame_overlap_ms=10.0,
    n_bars=20, sigma=1.0, omega=5.0, n_scales=32, fmin=80.0, fmax=8000.0, top_db=30.0,
)


@dataclass(frozen=True)
class Hyperparameters:
    batch_size: int = 40  # §4
    learning_rate: float = 1e-3  # not given: Adam's usual rate
    epochs: int = 15  # not given: the training loss had levelled off by then in a pilot
    initialisations: int = 5  # §4: "5 random initialisations"
    speaker_dependent_test: float = 0.2  # §4: random 80/20
    dense_units: int = 64  # not given
    dropout: float = 0.3  # not given


HPARAMS = Hyperparameters()


@dataclass(frozen=True)
class Settings:
    profile: str
    corpora: tuple[str, ...] = ("savee", "emodb", "ravdess")  # registered corpora or CSV manifests
    seeds: tuple[int, ...] = tuple(range(HPARAMS.initialisations))
    epochs: int = HPARAMS.epochs
    speakers: int | None = None  # smoke: the first speakers (sorted) only
    per_class_and_speaker: int | None = None  # smoke: utterances per speaker and class
    folds: int | None = None  # smoke: the first leave-one-speaker-out folds only
    time_extraction: bool = True  # full profile: time a cold extraction into an empty cache
    n_boot: int = 1000


PROFILES = {
    "smoke": Settings("smoke", seeds=(0,), epochs=1, speakers=3, per_class_and_speaker=2, folds=1, n_boot=200),
    "full": Settings("full"),
}


def settings(profile: str = "smoke", **overrides) -> Settings:
    """The profile's settings with overrides; an unknown corpus is an error naming the valid ones."""
    chosen = common.resolve(PROFILES, profile, overrides)
    for name in chosen.corpora:
        common.check_corpus_name(name, "corpora")
    return chosen


#: The paper's classes, in its tables' order.
CLASSES = ("anger", "sadness", "happiness", "neutral")
PROTOCOLS = ("speaker-dependent", "speaker-independent")

#: Table 4, UAR as printed.
PAPER_UAR = {
    ("savee", "speaker-dependent"): 0.871, ("savee", "speaker-independent"): 0.839,
    ("emodb", "speaker-dependent"): 0.891, ("emodb", "speaker-independent"): 0.864,
    ("ravdess", "speaker-dependent"): 0.851, ("ravdess", "speaker-independent"): 0.721,
}
#: Table 4's literature rows (speaker-dependent, speaker-independent UAR %), quoted, not rerun.
QUOTED = {
    "savee": {"[16]": (None, 84.9), "[31]": (None, 59.4), "[12]": (None, 42.3), "[17]": (None, 47.3), "[41]": (75.4, 73.6)},
    "emodb": {"[16]": (None, 83.4), "[31]": (None, 84.5), "[12]": (None, 76.9), "[36]": (None, 82.8), "[17]": (None, 69.3),
              "[26]": (None, 79.6), "[40]": (None, 80.8), "[41]": (86.4, 82.9)},
    "ravdess": {"[15]": (None, 60.1), "[27]": (None, 70.0), "[42]": (None, 64.5)},
}
#: Tables 1-3: rows true, columns predicted, in :data:`CLASSES` order (%).
PAPER_CONFUSION = {
    "savee": ("Table 1", [[77.5, 6.3, 8.1, 8.1], [6.1, 79.2, 6.1, 8.6], [16.7, 1.7, 81.6, 0], [0.9, 1.8, 0, 97.3]]),
    "emodb": ("Table 2", [[92.9, 0, 7.1, 0], [1.4, 94.4, 0, 4.2], [35.5, 0, 61.3, 3.2], [0, 3.2, 0, 96.8]]),
    "ravdess": ("Table 3", [[67.2, 7.8, 25.0, 0], [6.3, 89.1, 1.6, 3.1], [9.4, 10.9, 79.7, 0], [3.1, 38.1, 6.3, 52.5]]),
}


@dataclass
class Corpus:
    """One corpus of the run: its manifest (the paper's classes present), labels and scalograms."""

    name: str
    manifest: pd.DataFrame
    classes: common.ClassMapping
    labels: np.ndarray
    scalograms: list[np.ndarray] | None = None
    started: float = field(default_factory=time.time)  # when the run began: the results file's wall time counts from here

    @property
    def protocol(self) -> str:
        return ("4 classes; speaker-independent = leave one speaker out (predictions pooled over folds); "
                "speaker-dependent = stratified random 80/20 utterance split"
                + ("; RAVDESS male actors" if self.name == "ravdess" else "")
                + ("" if not self.classes.missing else f"; {self.classes.note}"))


def load_corpus(name: str, settings: Settings, data_root: str | Path | None = None) -> Corpus:
    """The paper's 4 classes of corpus ``name`` (RAVDESS: male actors only, §4); the smoke profile
    keeps a few speakers with every class."""
    manifest = common.load_corpus(name, data_root)
    mapping = common.map_classes(manifest["emotion"], CLASSES, name)
    manifest = corpora.select_emotions(manifest, mapping.classes)
    if name == "ravdess":
        manifest = manifest[manifest["gender"] == "m"].reset_index(drop=True)
    if settings.speakers:
        kept = sorted(manifest["speaker"].unique())[: settings.speakers]
        manifest = common.smoke_subset(manifest, ["speaker", "emotion"], settings.per_class_and_speaker or 1, kept)
    labels = manifest["emotion"].map(mapping.classes.index).to_numpy()
    return Corpus(common.corpus_label(name), manifest, mapping, labels)


def extract_scalograms(corpora_: list[Corpus], cache: str | Path | None = None, time_cold: bool = False,
                       progress: bool = True) -> dict[str, float]:
    """Fill each corpus's scalograms from the cache (extracting what is missing). With ``time_cold``
    the extraction is first timed into an empty temporary cache. Returns the timings (s)."""
    timings = {}
    if time_cold:
        with tempfile.TemporaryDirectory() as cold:
            started = time.time()
            for corpus in corpora_:
                features.extract(corpus.manifest, SCALOGRAM, cold, progress)
            timings["cold extraction"] = time.time() - started
    features.extract(pd.concat([c.manifest for c in corpora_]), SCALOGRAM, cache, progress)
    started = time.time()
    for corpus in corpora_:
        corpus.scalograms = features.extract(corpus.manifest, SCALOGRAM, cache, progress)
    timings["cached read"] = time.time() - started
    return timings


def protocol_splits(corpus: Corpus, protocol: str, settings: Settings) -> list[splits.Split]:
    """Leave-one-speaker-out folds (the first ``settings.folds``) or one stratified 80/20 split."""
    if protocol == "speaker-independent":
        return splits.leave_one_speaker_out(corpus.manifest)[: settings.folds]
    return splits.random_stratified(corpus.manifest, HPARAMS.speaker_dependent_test, repeats=1, seed=0)


def train_config(settings: Settings, device: str) -> training.TrainConfig:
    return training.TrainConfig(epochs=settings.epochs, batch_size=HPARAMS.batch_size, learning_rate=HPARAMS.learning_rate,
                                device=device, select="last", progress=False)


def fold_training(corpus: Corpus, protocol: str, split: splits.Split, seed: int, settings: Settings,
                  device: str = "auto") -> common.Training:
    """One model on one fold: all segments of the training utterances."""
    shape = corpus.scalograms[0].shape
    n_classes = len(corpus.classes.classes)
    make_model = lambda: ScalogramCRNN(shape[2], shape[3], n_classes, dense_units=HPARAMS.dense_units,  # noqa: E731
                                       dropout=HPARAMS.dropout)
    identity = {"model": "ScalogramCRNN", "code": common.code_fingerprint(ScalogramCRNN),
                "config": {"hparams": asdict(HPARAMS), "epochs": settings.epochs, "features": features.extractor_key(SCALOGRAM),
                           "classes": corpus.classes.classes},
                "split": common.split_identity(split)}
    key = common.TrainingKey(PAPER, "Table 4", "scalogram CRNN", f"{corpus.name} {protocol}", split.name, seed)

    def train(checkpoint: Path) -> training.Outcome:
        data = {part: stack_examples(corpus.scalograms, corpus.labels, rows) for part, rows in split.parts().items() if len(rows)}
        return training.train_and_evaluate(make_model, data, replace(train_config(settings, device), seed=seed), checkpoint)

    return common.Training(key, identity, train)


def train_fold(corpus: Corpus, protocol: str, split: splits.Split, seed: int, settings: Settings,
               device: str = "auto", cache: str | Path | None = None) -> training.Outcome:
    """One model on one fold (one cached training)."""
    return fold_training(corpus, protocol, split, seed, settings, device).run(cache)


def training_grid(settings: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
                  device: str = "auto") -> list[common.Training]:
    """Every training of Table 4: corpus × protocol × fold × initialisation (for ``serlib reproduce --executor dask``)."""
    chosen = [load_corpus(name, settings, data_root) for name in settings.corpora]
    extract_scalograms(chosen, cache, progress=False)
    return [fold_training(corpus, protocol, fold, seed, settings, device)
            for corpus in chosen for protocol in PROTOCOLS for fold in protocol_splits(corpus, protocol, settings)
            for seed in settings.seeds]


def run_protocol(corpus: Corpus, protocol: str, settings: Settings, device: str = "auto",
                 cache: str | Path | None = None) -> list[training.Outcome]:
    """One outcome per initialisation, test predictions pooled over the folds."""
    folds = protocol_splits(corpus, protocol, settings)
    return [training.pool_folds([train_fold(corpus, protocol, fold, seed, settings, device, cache) for fold in folds])
            for seed in settings.seeds]


def run_corpus(corpus: Corpus, settings: Settings, device: str = "auto", cache: str | Path | None = None,
               log=print) -> dict[str, list[training.Outcome]]:
    """Both protocols of Table 4 on one corpus."""
    outcomes = {}
    for protocol in PROTOCOLS:
        outcomes[protocol] = run_protocol(corpus, protocol, settings, device, cache)
        uar = np.mean([o.levels["window"].score("UA") for o in outcomes[protocol]])
        log(f"[{settings.profile}, {corpus.name}] {protocol:<20} {len(protocol_splits(corpus, protocol, settings))} fold(s) "
            f"× {len(settings.seeds)} init(s): segment UAR {uar:.3f}")
    return outcomes


def confusion(outcomes: list[training.Outcome], n_classes: int) -> np.ndarray:
    """Row-normalised confusion matrix, segments of every fold and initialisation pooled."""
    return metrics.row_normalised(sum(metrics.confusion_matrix(o.levels["window"].y_true, o.levels["window"].y_pred, n_classes)
                                      for o in outcomes))


def results_run(corpus: Corpus, outcomes: dict[str, list[training.Outcome]], settings: Settings, device: str,
                timings: dict[str, float]) -> results.Run:
    """Table 4 rows (segment and utterance UAR) and, for the paper's corpora, the cells of its
    confusion-matrix table beside the paper's."""
    run = results.Run(paper=PAPER, corpus=corpus.name, profile=settings.profile, device=device, seeds=list(settings.seeds),
                      protocol=corpus.protocol, started=corpus.started, notes={"settings": asdict(settings), "hparams": asdict(HPARAMS),
                                                       "scalogram": asdict(SCALOGRAM), "timings_s": timings})
    for protocol in PROTOCOLS:
        for level in ("window", "utterance"):
            paper_value = PAPER_UAR.get((corpus.name, protocol)) if level == "window" else None
            run.add(results.ResultRow(table="Table 4", row=corpus.name, column=protocol, metric="UA", level=level,
                                      paper_value=paper_value, **results.summarise_seeds(outcomes[protocol], level, "UA", settings.n_boot)))
        run.training_seconds[protocol] = common.training_seconds(outcomes[protocol])
    if corpus.name in PAPER_CONFUSION and not corpus.classes.missing:
        _add_confusion_rows(run, corpus, outcomes["speaker-independent"], settings)
    return run


def _add_confusion_rows(run: results.Run, corpus: Corpus, outcomes: list[training.Outcome], settings: Settings) -> None:
    """Each cell of Tables 1-3: mean over initialisations, bootstrap CI over test utterances."""
    table, paper_matrix = PAPER_CONFUSION[corpus.name]
    predictions = [o.levels["window"] for o in outcomes]
    for i, true in enumerate(CLASSES):
        for j, predicted in enumerate(CLASSES):
            def cell(y_true, y_pred, i=i, j=j):
                return float(np.mean(y_pred[y_true == i] == j)) if np.any(y_true == i) else 0.0
            low, high = metrics.bootstrap_ci(predictions[0].y_true, [p.y_pred for p in predictions], cell,
                                             groups=predictions[0].utterance, n_boot=min(300, settings.n_boot))
            values = [cell(p.y_true, p.y_pred) for p in predictions]
            run.add(results.ResultRow(table=table, row=true, column=predicted, metric="confusion", level="window",
                                      paper_value=paper_matrix[i][j] / 100, value=float(np.mean(values)),
                                      std=float(np.std(values)), ci_low=low, ci_high=high, seeds=len(values)))


def paper_beside_ours(corpus: Corpus, ours: np.ndarray) -> pd.DataFrame:
    """Tables 1-3 as 'paper / ours' percentages."""
    table, paper_matrix = PAPER_CONFUSION[corpus.name]
    return pd.DataFrame(
        [[f"{p:.1f} / {100 * o:.1f}" for p, o in zip(paper_row, our_row)] for paper_row, our_row in zip(paper_matrix, ours)],
        index=pd.Index(CLASSES, name=f"{table}: paper / ours (%)"), columns=CLASSES)


def quoted_rows() -> pd.DataFrame:
    """Table 4's literature rows, as printed."""
    return pd.DataFrame(
        [(corpus, ref, dep, indep) for corpus, rows in QUOTED.items() for ref, (dep, indep) in rows.items()],
        columns=["corpus", "method (quoted from the paper)", "speaker dep. UAR %", "speaker indep. UAR %"])
