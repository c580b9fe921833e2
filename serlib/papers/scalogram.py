"""*Speech emotion recognition using scalogram-based deep structure*, International Journal of
Engineering 33(2), 2020 (doi 10.5829/ije.2020.33.02b.13).

Protocol (§4): 4 classes (anger, sadness, happiness, neutral) on SAVEE, Emo-DB and RAVDESS (male
actors); 3D Morlet scalograms of 2.5 s segments (§2.1) classified by feature learning blocks +
attention BLSTM (§2.2). Speaker-independent: leave one speaker out, 5 random initialisations;
speaker-dependent: a random 80/20 split. Tables 1-3: confusion matrices of the speaker-independent
experiments; Table 4: UAR of both. The paper gives no epoch count or stopping rule: each model
keeps the epoch with the best UAR on validation data (the next speaker, never the test speaker)
and stops ``patience`` epochs after it. Labelled variants (:data:`VARIANTS`) test the
explanations of the gaps to the paper.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd

from serlib import corpora, features, metrics, results, splits, training
from serlib.identity import training_identity
from serlib.examples import stack_examples
from serlib.models.scalogram import ScalogramCRNN
from serlib.papers import common
from serlib.papers.contract import MainModel

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
    max_epochs: int = 40  # not given: an upper bound; each model stops on its validation UAR
    patience: int = 8  # not given: epochs without a better validation UAR before a model stops
    initialisations: int = 5  # §4: "5 random initialisations"
    speaker_dependent_test: float = 0.2  # §4: random 80/20
    validation_fraction: float = 0.1  # not given: the share of a speaker-dependent training part that validates
    segment_folds: int = 5  # the segment-level variant's k
    dense_units: int = 64  # not given
    dropout: float = 0.3  # not given


HPARAMS = Hyperparameters()


@dataclass(frozen=True)
class Variant:
    """A labelled sensitivity run (not the paper's protocol as we read it): the explanation of a gap
    it tests, the Table 4 column it is reported in, and what it changes."""

    name: str
    question: str
    column: str  # "speaker-independent" or "speaker-dependent"
    kind: Literal["optimistic reading of the paper", "our fix", "label reading"]
    validation: Literal["next speaker", "test fold", "segments"] = "next speaker"
    balanced_loss: bool = False
    log_scalogram: bool = False
    calm_as_neutral: bool = False
    per_scale_normalised: bool = False
    corpora: tuple[str, ...] = ("savee", "ravdess")

    #: Switches added after variants had run: left out of :meth:`behaviour` while off, so that
    #: adding one keeps the identities (and cached trainings) of the variants that never used it.
    ADDED_SWITCHES: ClassVar[tuple[str, ...]] = ("per_scale_normalised",)

    def behaviour(self) -> dict:
        """What changes the trainings (a training's identity): not the wording."""
        return {k: v for k, v in asdict(self).items()
                if k not in ("question", "kind", "corpora") and not (k in self.ADDED_SWITCHES and not v)}


#: The sensitivity runs of the page's "Why our numbers differ" section, one initialisation each.
VARIANTS = (
    Variant("epoch chosen on the test fold", "Did the paper stop training, or pick its epoch, on the test speaker?",
            "speaker-independent", "optimistic reading of the paper", validation="test fold"),
    Variant("segment-level shuffled 5-fold", "Did the paper shuffle segments, so that overlapping segments of one "
            "utterance (and every speaker) fall on both sides of the split?", "speaker-dependent",
            "optimistic reading of the paper", validation="segments"),
    Variant("class-balanced loss", "Is sadness lost to neutral because SAVEE has twice as many neutral utterances?",
            "speaker-independent", "our fix", balanced_loss=True),
    Variant("log-compressed scalograms", "Does the modulus' dynamic range hide the quieter scales (ours feeds |W| "
            "as eq. 2 gives it)?", "speaker-independent", "our fix", log_scalogram=True),
    Variant("per-scale normalised scalograms", "Do a few loud scales dominate the input? Each scale standardised with "
            "the training part's mean and spread (ours feeds |W| as eq. 2 gives it)", "speaker-independent", "our fix",
            per_scale_normalised=True),
    Variant("calm merged into neutral", "Did the paper count RAVDESS calm as neutral? The neutral row of its Table 3 fits no "
            "count below 160 test items, each other row fits 64; the male actors have 48 neutral and 96 calm utterances.",
            "speaker-independent", "label reading", calm_as_neutral=True, corpora=("ravdess",)),
)


def variant(name: str) -> Variant:
    """The variant called ``name``; an unknown name is an error listing the known ones."""
    return common.named(VARIANTS, name)


@dataclass(frozen=True)
class Settings:
    profile: str
    corpora: tuple[str, ...] = common.setting(("savee", "emodb", "ravdess"), common.Valid(corpus=True))  # registered or CSV
    seeds: tuple[int, ...] = tuple(range(HPARAMS.initialisations))
    epochs: int = HPARAMS.max_epochs  # the most epochs a model trains (it stops earlier on validation)
    speakers: int | None = None  # smoke: the first speakers (sorted) only
    per_class_and_speaker: int | None = None  # smoke: utterances per speaker and class
    folds: int | None = None  # smoke: the first leave-one-speaker-out folds only
    variants: tuple[str, ...] = common.variants_setting(VARIANTS)  # sensitivity runs, on the corpora each names
    variant_seeds: tuple[int, ...] = (0,)
    time_extraction: bool = True  # full profile: time a cold extraction into an empty cache
    n_boot: int = 1000


PROFILES = {
    "smoke": Settings("smoke", seeds=(0,), epochs=1, speakers=3, per_class_and_speaker=2, folds=1, n_boot=200),
    "full": Settings("full"),
}


def settings(profile: str = "smoke", **overrides) -> Settings:
    """The profile's settings with overrides; an unknown corpus or variant is an error naming the valid ones."""
    return common.resolve(PROFILES, profile, overrides)


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
#: What is known of the works Table 4's literature rows cite. Our copy of the paper has no
#: reference list; the article's page lists them (https://www.ije.ir/article_103377.html).
QUOTED_REFERENCES = {
    "[15]": "Shegokar and Sircar (named in the text; RAVDESS, continuous wavelet features)",
    "[17]": "Correa et al. (named in the text)",
    "[31]": "Jiang et al. (named in the text)",
    "[36]": "the attention the model follows; its Emo-DB UA of 82.8 % is that of Chen et al., *3-D convolutional "
            "recurrent neural networks with attention model for speech emotion recognition*, IEEE Signal Processing "
            "Letters 25(10), 2018",
    "[12], [16], [26], [27], [40], [41], [42]": "not identified from the text: see the article's reference list",
}
QUOTED_SOURCE = "our copy of the paper has no reference list; the article's page has it: https://www.ije.ir/article_103377.html"
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
    calm_as_neutral: bool = False
    started: float = field(default_factory=time.time)  # when the run began: the results file's wall time counts from here

    @property
    def protocol(self) -> str:
        return ("4 classes; speaker-independent = leave one speaker out, the next speaker validates (early stopping on "
                "its UAR), predictions pooled over folds, CI resampling speakers; speaker-dependent = stratified random "
                f"80/20 utterance split, {HPARAMS.validation_fraction:.0%} of the 80 validating"
                + ("; RAVDESS male actors" if self.name == "ravdess" else "")
                + ("; calm counted as neutral" if self.calm_as_neutral else "")
                + ("" if not self.classes.missing else f"; {self.classes.note}"))

    @property
    def speakers(self) -> np.ndarray:
        """The speaker of each manifest row: the clusters of a speaker-level bootstrap."""
        return self.manifest["speaker"].to_numpy()


def load_corpus(name: str, settings: Settings, data_root: str | Path | None = None, calm_as_neutral: bool = False) -> Corpus:
    """The paper's 4 classes of corpus ``name`` (RAVDESS: male actors only, §4; ``calm_as_neutral``
    relabels RAVDESS calm as neutral); the smoke profile keeps a few speakers with every class."""
    manifest = common.load_corpus(name, data_root)
    if calm_as_neutral:
        manifest = manifest.assign(emotion=manifest["emotion"].replace({"calm": "neutral"}))
    mapping = common.map_classes(manifest["emotion"], CLASSES, name)
    manifest = corpora.select_emotions(manifest, mapping.classes)
    if name == "ravdess":
        manifest = manifest[manifest["gender"] == "m"].reset_index(drop=True)
    if settings.speakers:
        kept = common.smoke_speakers(manifest, settings.speakers, sorted(manifest["speaker"].unique())[: settings.speakers]
                                     if name in corpora.PARSERS else ())
        manifest = common.smoke_subset(manifest, ["speaker", "emotion"], settings.per_class_and_speaker or 1, kept)
    labels = manifest["emotion"].map(mapping.classes.index).to_numpy()
    return Corpus(common.corpus_label(name), manifest, mapping, labels, calm_as_neutral=calm_as_neutral)


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


def variant_corpora(corpora_: list[Corpus], settings: Settings, data_root: str | Path | None = None,
                    cache: str | Path | None = None) -> dict[str, Corpus]:
    """The corpora the chosen variants run on, by name: those of the run, and a calm-as-neutral
    RAVDESS where that variant is chosen (its scalograms extracted or read from the cache)."""
    chosen = {c.name: c for c in corpora_}
    if "ravdess" in chosen and any(variant(v).calm_as_neutral for v in settings.variants):
        relabelled = load_corpus("ravdess", settings, data_root, calm_as_neutral=True)
        extract_scalograms([relabelled], cache, progress=False)
        chosen["ravdess calm as neutral"] = relabelled
    return chosen


def corpus_of(variant_: Variant, name: str, chosen: Mapping[str, Corpus]) -> Corpus:
    """The corpus a variant runs on for corpus ``name``."""
    return chosen[f"{name} calm as neutral" if variant_.calm_as_neutral else name]


@dataclass(frozen=True)
class SegmentSplit(splits.Split):
    """A split of the *segments* (positions into every segment of the corpus, utterances in
    manifest order), not of the utterances: the segment-level variant. Speaker-dependent, and
    an utterance's overlapping segments fall on both sides."""


def segment_folds(corpus: Corpus, k: int, seed: int = 0) -> list[SegmentSplit]:
    """Shuffled emotion-stratified k-fold over segments; a stratified share of each fold's training
    segments validates."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    labels = np.repeat(corpus.labels, [len(s) for s in corpus.scalograms])
    segment_ids = np.array([f"{utterance}#{k}" for utterance, s in zip(corpus.manifest["utterance_id"], corpus.scalograms)
                            for k in range(len(s))])
    folds = []
    for i, (rest, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(labels, labels)):
        size = max(len(corpus.classes.classes), round(HPARAMS.validation_fraction * len(rest)))
        train, val = train_test_split(rest, test_size=size, stratify=labels[rest], random_state=seed + i)
        parts = {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}
        folds.append(SegmentSplit(f"segment fold {i + 1}/{k}", *parts.values(), speaker_independent=False,
                                  utterances={part: tuple(segment_ids[rows]) for part, rows in parts.items()}))
    return folds


def protocol_splits(corpus: Corpus, protocol: str, settings: Settings, variant_: Variant | None = None) -> list[splits.Split]:
    """Leave-one-speaker-out folds, each validated on the next speaker (the first ``settings.folds``),
    or one stratified 80/20 split validated on a share of its 80; a segment-level variant's folds."""
    if variant_ is not None and variant_.validation == "segments":
        return segment_folds(corpus, HPARAMS.segment_folds)[: settings.folds]
    if protocol == "speaker-independent":
        test_fold_validates = variant_ is not None and variant_.validation == "test fold"
        return splits.leave_one_speaker_out(corpus.manifest, validate_on_next=not test_fold_validates)[: settings.folds]
    return splits.random_stratified(corpus.manifest, HPARAMS.speaker_dependent_test, repeats=1, seed=0,
                                    validation_fraction=HPARAMS.validation_fraction)


def train_config(settings: Settings, device: str, variant_: Variant | None = None) -> training.TrainConfig:
    """Adam, batch 40 (§4); the epoch with the best validation UAR is kept, and training stops
    ``patience`` epochs after it."""
    return training.TrainConfig(epochs=settings.epochs, batch_size=HPARAMS.batch_size, learning_rate=HPARAMS.learning_rate,
                                device=device, select="val", select_metric="UA", patience=HPARAMS.patience,
                                balanced_loss=bool(variant_ and variant_.balanced_loss), progress=False)


#: log(|W| + floor): the variant's compression of the scalogram modulus.
LOG_FLOOR = 1e-4


def fold_examples(corpus: Corpus, split: splits.Split, variant_: Variant | None = None) -> dict[str, training.Examples]:
    """Each part's segments; the test-fold variant validates (stops and selects) on the test part."""
    scalograms = corpus.scalograms
    if variant_ is not None and variant_.log_scalogram:
        scalograms = [np.log(s + LOG_FLOOR) for s in scalograms]
    if isinstance(split, SegmentSplit):
        every = stack_examples(scalograms, corpus.labels, np.arange(len(corpus.manifest)))
        data = {part: training.Examples(every.x[rows], every.y[rows], every.utterance[rows])
                for part, rows in split.parts().items()}
    else:
        data = {part: stack_examples(scalograms, corpus.labels, rows) for part, rows in split.parts().items() if len(rows)}
    if variant_ is not None and variant_.per_scale_normalised:
        data = per_scale_standardised(data)
    if variant_ is not None and variant_.validation == "test fold":
        data["val"] = data["test"]
    return data


def per_scale_standardised(data: dict[str, training.Examples]) -> dict[str, training.Examples]:
    """Every part's scalograms (examples, frames, scales, bars) with each scale standardised by
    the mean and standard deviation of that scale over the training part only."""
    train = data["train"].x
    mean = train.mean(axis=(0, 1, 3), keepdims=True)
    std = train.std(axis=(0, 1, 3), keepdims=True) + 1e-8
    return {part: replace(examples, x=((examples.x - mean) / std).astype(np.float32)) for part, examples in data.items()}


def fold_training(corpus: Corpus, protocol: str, split: splits.Split, seed: int, settings: Settings,
                  device: str = "auto", variant_: Variant | None = None) -> common.Training:
    """One model on one fold: all segments of the training utterances (a variant's changes applied)."""
    shape = corpus.scalograms[0].shape
    n_classes = len(corpus.classes.classes)
    make_model = lambda: ScalogramCRNN(shape[2], shape[3], n_classes, dense_units=HPARAMS.dense_units,  # noqa: E731
                                       dropout=HPARAMS.dropout)
    identity = training_identity(ScalogramCRNN, {"shape": list(shape), "n_classes": n_classes},
                                 {"hparams": asdict(HPARAMS), "epochs": settings.epochs,
                                  "variant": variant_.behaviour() if variant_ else None},
                                 {"features": features.extractor_key(SCALOGRAM), "classes": corpus.classes.classes}, split)
    system = "scalogram CRNN" + (f" [{variant_.name}]" if variant_ else "")
    key = common.TrainingKey(PAPER, "Table 4", system, f"{corpus.name} {protocol}", split.name, seed)

    def train(checkpoint: Path) -> training.Outcome:
        data = fold_examples(corpus, split, variant_)
        return training.train_and_evaluate(make_model, data, replace(train_config(settings, device, variant_), seed=seed),
                                           checkpoint)

    return common.Training(key, identity, train)


def main_model(settings: Settings | None = None) -> MainModel:
    """The paper's network (§3) for pages beyond the paper: every 2.5 s segment's scalogram of the
    training utterances, early stopping and the kept epoch on validation UAR, as in Table 4's folds."""
    chosen = settings or PROFILES["full"]
    return MainModel(
        PAPER, "scalogram CRNN", ScalogramCRNN,
        extract=lambda manifest, cache, progress: features.extract(manifest, SCALOGRAM, cache, progress),
        inputs=lambda scalograms, labels, parts, fit_rows: {part: stack_examples(scalograms, labels, rows)
                                                            for part, rows in parts.items() if len(rows)},
        make_model=lambda scalograms, n_classes: ScalogramCRNN(scalograms[0].shape[2], scalograms[0].shape[3], n_classes,
                                                               dense_units=HPARAMS.dense_units, dropout=HPARAMS.dropout),
        train_config=lambda seed, device: replace(train_config(chosen, device), seed=seed),
        arguments={"shape": "scalogram segments"},
        trained={"hparams": asdict(HPARAMS), "epochs": chosen.epochs},
        feature_keys={"features": features.extractor_key(SCALOGRAM)},
    )


@dataclass
class ProtocolOutcomes:
    """One protocol's (or variant's) trainings: ``folds[i][j]`` is initialisation i on fold j."""

    folds: list[list[training.Outcome]]

    @property
    def pooled(self) -> list[training.Outcome]:
        """One outcome per initialisation, test predictions pooled over the folds."""
        return [training.pool_folds(per_fold) for per_fold in self.folds]

    def stopping_epochs(self) -> list[int]:
        """The epoch each model kept (best validation UAR), over every initialisation and fold."""
        return [o.kept_epoch("UA") for per_fold in self.folds for o in per_fold]


def protocol_trainings(corpus: Corpus, protocol: str, settings: Settings, device: str = "auto",
                       variant_: Variant | None = None) -> list[list[common.Training]]:
    """The trainings of one protocol (or variant): initialisations × folds."""
    seeds = settings.variant_seeds if variant_ else settings.seeds
    folds = protocol_splits(corpus, protocol, settings, variant_)
    return [[fold_training(corpus, protocol, fold, seed, settings, device, variant_) for fold in folds] for seed in seeds]


def chosen_variants(corpus_name: str, settings: Settings) -> list[Variant]:
    """The variants of ``settings`` that run on ``corpus_name``."""
    return [v for v in map(variant, settings.variants) if corpus_name in v.corpora]


GRID_STAGES = 1  # the grid is planned once: no choice waits on stored outcomes


def training_grid(settings: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
                  device: str = "auto") -> list[common.Training]:
    """Every training of Table 4 (corpus × protocol × fold × initialisation) and of the chosen
    variants (for ``serlib reproduce --executor dask``)."""
    chosen = [load_corpus(name, settings, data_root) for name in settings.corpora]
    extract_scalograms(chosen, cache, progress=False)
    by_name = variant_corpora(chosen, settings, data_root, cache)
    grid = [job for corpus in chosen for protocol in PROTOCOLS
            for per_seed in protocol_trainings(corpus, protocol, settings, device) for job in per_seed]
    grid += [job for corpus in chosen for v in chosen_variants(corpus.name, settings)
             for per_seed in protocol_trainings(corpus_of(v, corpus.name, by_name), v.column, settings, device, v)
             for job in per_seed]
    return grid


def run_protocol(corpus: Corpus, protocol: str, settings: Settings, device: str = "auto",
                 cache: str | Path | None = None, variant_: Variant | None = None) -> ProtocolOutcomes:
    """Every training of one protocol (or variant), run or read from the cache."""
    return ProtocolOutcomes([[job.run(cache) for job in per_seed]
                             for per_seed in protocol_trainings(corpus, protocol, settings, device, variant_)])


def _log_line(settings: Settings, corpus: Corpus, label: str, outcomes: ProtocolOutcomes) -> str:
    uar = np.mean([o.levels["window"].score("UA") for o in outcomes.pooled])
    return (f"[{settings.profile}, {corpus.name}] {label:<32} {len(outcomes.folds[0])} fold(s) × {len(outcomes.folds)} "
            f"init(s): segment UAR {uar:.3f}, kept epochs {np.median(outcomes.stopping_epochs()):.0f} (median)")


def run_corpus(corpus: Corpus, settings: Settings, device: str = "auto", cache: str | Path | None = None,
               log=print) -> dict[str, ProtocolOutcomes]:
    """Both protocols of Table 4 on one corpus."""
    outcomes = {}
    for protocol in PROTOCOLS:
        outcomes[protocol] = run_protocol(corpus, protocol, settings, device, cache)
        log(_log_line(settings, corpus, protocol, outcomes[protocol]))
    return outcomes


def run_variants(corpus: Corpus, by_name: Mapping[str, Corpus], settings: Settings, device: str = "auto",
                 cache: str | Path | None = None, log=print) -> dict[str, ProtocolOutcomes]:
    """The chosen variants that run on ``corpus`` (by variant name)."""
    outcomes = {}
    for v in chosen_variants(corpus.name, settings):
        outcomes[v.name] = run_protocol(corpus_of(v, corpus.name, by_name), v.column, settings, device, cache, v)
        log(_log_line(settings, corpus, v.name, outcomes[v.name]))
    return outcomes


def confusion(outcomes: list[training.Outcome], n_classes: int) -> np.ndarray:
    """Row-normalised confusion matrix, segments of every fold and initialisation pooled."""
    return training.pooled_confusion(outcomes, "window", n_classes)


def clusters_of(corpus: Corpus, column: str) -> np.ndarray | None:
    """Speaker-independent rows resample speakers (a cluster bootstrap); speaker-dependent ones utterances."""
    return corpus.speakers if column == "speaker-independent" else None


def results_file(corpus: Corpus, outcomes: dict[str, ProtocolOutcomes], settings: Settings, device: str,
                timings: dict[str, float], variants: Mapping[str, ProtocolOutcomes] | None = None,
                by_name: Mapping[str, Corpus] | None = None) -> results.ResultsFile:
    """Table 4 rows (segment and utterance UAR), the variants' rows (labelled, with the paper's
    value of their column beside them) and, for the paper's corpora, the cells of its
    confusion-matrix table beside the paper's."""
    record = results.ResultsFile(paper=PAPER, corpus=corpus.name, profile=settings.profile, device=device, seeds=list(settings.seeds),
                      protocol=corpus.protocol, started=corpus.started,
                      notes={"settings": asdict(settings), "hparams": asdict(HPARAMS), "scalogram": asdict(SCALOGRAM),
                             "timings_s": timings, "variants": {}})
    for protocol in PROTOCOLS:
        for level in ("window", "utterance"):
            paper_value = PAPER_UAR.get((corpus.name, protocol)) if level == "window" else None
            record.add(results.ResultRow(table="Table 4", row=corpus.name, column=protocol, metric="UA", level=level,
                                      paper_value=paper_value,
                                      **results.summarise_seeds(outcomes[protocol].pooled, level, "UA", settings.n_boot,
                                                                clusters_of(corpus, protocol))))
        record.training_seconds[protocol] = common.training_seconds(outcomes[protocol].pooled)
    for name, outcome in (variants or {}).items():
        v = variant(name)
        used = corpus_of(v, corpus.name, by_name or {corpus.name: corpus})
        for level in ("window", "utterance"):
            record.add(results.ResultRow(table="Table 4", row=corpus.name, column=v.column, metric="UA", level=level,
                                      paper_value=PAPER_UAR.get((corpus.name, v.column)) if level == "window" else None,
                                      variant=name, **results.summarise_seeds(outcome.pooled, level, "UA", settings.n_boot,
                                                                              clusters_of(used, v.column))))
        record.training_seconds[f"variant: {name}"] = common.training_seconds(outcome.pooled)
        record.notes["variants"][name] = {"question": v.question, "kind": v.kind, "protocol": variant_protocol(v, used),
                                       "seeds": list(settings.variant_seeds)}
    if corpus.name in PAPER_CONFUSION and not corpus.classes.missing:
        _add_confusion_rows(record, corpus, outcomes["speaker-independent"].pooled, settings)
    return record


def variant_protocol(v: Variant, used: Corpus) -> str:
    """The protocol a variant ran (its results-file provenance): the paper protocol's text of the
    corpus it ran on where only its inputs or loss change, else what its folds and validation were."""
    speakers = used.manifest["speaker"].nunique()
    if v.validation == "test fold":
        return (f"leave-one-speaker-out over {speakers} speakers, each fold training on all {speakers - 1} others (the paper "
                "protocol's validation speaker back in training) and keeping the epoch with the best UAR on the test "
                "speaker: leaks the test set")
    if v.validation == "segments":
        return (f"{HPARAMS.segment_folds}-fold stratified shuffle of segments: overlapping segments of one utterance, and "
                f"every speaker, on both sides of a fold; validation on a stratified {HPARAMS.validation_fraction:.0%} of "
                "each fold's training segments")
    return used.protocol


def _add_confusion_rows(record: results.ResultsFile, corpus: Corpus, outcomes: list[training.Outcome], settings: Settings) -> None:
    """Each cell of Tables 1-3: mean over initialisations, bootstrap CI resampling test speakers."""
    table, paper_matrix = PAPER_CONFUSION[corpus.name]
    predictions = [o.levels["window"] for o in outcomes]
    for i, true in enumerate(CLASSES):
        for j, predicted in enumerate(CLASSES):
            def cell(y_true, y_pred, i=i, j=j):
                return float(np.mean(y_pred[y_true == i] == j)) if np.any(y_true == i) else 0.0
            low, high = metrics.bootstrap_ci(predictions[0].y_true, [p.y_pred for p in predictions], cell,
                                             groups=corpus.speakers[predictions[0].utterance], n_boot=min(300, settings.n_boot))
            values = [cell(p.y_true, p.y_pred) for p in predictions]
            record.add(results.ResultRow(table=table, row=true, column=predicted, metric="confusion", level="window",
                                      paper_value=paper_matrix[i][j] / 100, value=float(np.mean(values)),
                                      std=results.spread(values), ci_low=low, ci_high=high, seeds=len(values)))


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


def table4(records: Mapping[str, results.ResultsFile]) -> pd.DataFrame:
    """Table 4 under the paper's protocol (as we read it): the rows of no variant."""
    rows = pd.concat([r.table().assign(paper=r.paper, corpus=r.corpus) for r in records.values()])
    return rows[(rows["table"] == "Table 4") & (rows["variant"] == "")]


def stopping_table(outcomes: Mapping[str, Mapping[str, ProtocolOutcomes]]) -> pd.DataFrame:
    """Per corpus and protocol (or variant): the epochs the models kept and trained (median, range)."""
    lines = []
    for corpus, by_protocol in outcomes.items():
        for label, protocol in by_protocol.items():
            kept = protocol.stopping_epochs()
            trained = [len(o.history) for per_fold in protocol.folds for o in per_fold]
            lines.append({"corpus": corpus, "protocol or variant": label, "models": len(kept),
                          "kept epoch (median, range)": f"{np.median(kept):.0f} ({min(kept)}–{max(kept)})",
                          "epochs trained (median, range)": f"{np.median(trained):.0f} ({min(trained)}–{max(trained)})"})
    return pd.DataFrame(lines)


def variant_table(records: Mapping[str, results.ResultsFile]) -> pd.DataFrame:
    """Each variant beside the paper and our paper-protocol value of its Table 4 column
    (segment-level UAR, %): does it close the gap? ``reaches the paper``: the paper's value lies
    within 3 points of the variant or inside its CI."""
    lines = []
    for corpus, record in records.items():
        rows = record.table()
        rows = rows[(rows["table"] == "Table 4") & (rows["level"] == "window")]
        ours = rows[rows["variant"] == ""].set_index("column")
        for row in rows[rows["variant"] != ""].itertuples():
            v = variant(row.variant)
            paper = row.paper_value
            reaches = paper is not None and not pd.isna(paper) and (
                abs(row.value - paper) * 100 <= results.CLOSE_POINTS or row.ci_low <= paper <= row.ci_high)
            lines.append({
                "corpus": corpus, "variant": row.variant, "kind": v.kind, "Table 4 column": row.column,
                "paper": "–" if pd.isna(paper) else f"{100 * paper:.1f}",
                "ours, paper's protocol": f"{100 * ours.loc[row.column, 'value']:.1f}",
                "variant [95% CI]": f"{100 * row.value:.1f} [{100 * row.ci_low:.1f}, {100 * row.ci_high:.1f}]",
                "change (points)": f"{100 * (row.value - ours.loc[row.column, 'value']):+.1f}",
                "reaches the paper": "–" if pd.isna(paper) else ("yes" if reaches else "no"),
            })
    return pd.DataFrame(lines)


def class_recalls(corpus: Corpus, outcomes: Mapping[str, ProtocolOutcomes], variants: Mapping[str, ProtocolOutcomes]) -> pd.DataFrame:
    """Per-class recall (%, segments pooled over folds and initialisations) of the speaker-independent
    protocol and of each speaker-independent variant: where each variant wins or loses."""
    chosen = {"paper's protocol": outcomes["speaker-independent"]}
    chosen |= {name: o for name, o in variants.items() if variant(name).column == "speaker-independent"}
    n_classes = len(corpus.classes.classes)
    return pd.DataFrame({label: 100 * training.pooled_recalls(o.pooled, "window", n_classes) for label, o in chosen.items()},
                        index=pd.Index(corpus.classes.classes, name=f"{corpus.name}: recall (%)")).T.round(1)


#: How a variant that picks its epoch on the test speaker is named wherever it reaches the paper.
LEAKS = (", a variant that leaks the test set (its epoch is chosen on the test speaker) and also trains on one speaker more "
         "than the paper protocol's folds, whose next speaker validates")


def findings(records: Mapping[str, results.ResultsFile]) -> str:
    """One line per corpus with variants (Markdown): which variants reach the paper's values, and
    how far the best one moves ours."""
    table = variant_table(records)
    if not len(table):
        return "No variant ran (they run on SAVEE and RAVDESS)."
    lines = []
    tested = set(table["corpus"])
    for corpus in (c for c in records if c not in tested):
        lines.append(f"- **{corpora.display_name(corpus)}:** no variant ran: each tests a gap on "
                     + " and ".join(sorted({corpora.display_name(c) for v in VARIANTS for c in v.corpora})) + ".")
    for corpus, chosen in table.groupby("corpus", sort=False):
        reached = [f"*{r['variant']}* ({r['Table 4 column']}: {r['variant [95% CI]'].split(' [')[0]} vs the paper's {r['paper']})"
                   + (LEAKS if variant(r['variant']).validation == 'test fold' else '')
                   for _, r in chosen[chosen["reaches the paper"] == "yes"].iterrows()]
        moved = chosen.loc[chosen["change (points)"].astype(float).idxmax()]
        lines.append(f"- **{corpora.display_name(corpus)}:** "
                     + (f"within {results.CLOSE_POINTS:g} points of the paper's value or holding it in its CI: {', '.join(reached)}. "
                        if reached else f"no variant comes within {results.CLOSE_POINTS:g} points of the paper's value or holds it in its CI. ")
                     + f"The largest change: *{moved['variant']}* ({moved['Table 4 column']}, {moved['change (points)']} points).")
    return "\n".join(lines)


def verdict_box(records: Mapping[str, results.ResultsFile], profile: str) -> str:
    """The page's opening box (Markdown): per corpus and Table 4 column, whether our
    paper-protocol UAR reproduces the paper's, and what the variants showed of the gaps."""
    cells = results.headline_cells(table4(records)).reset_index(drop=True)
    lines = []
    classes = results.cell_classes(cells)  # the same three classes as the intro's and the summary's scoreboard
    for corpus, chosen in cells.groupby("corpus", sort=False):
        parts = [f"{cell.column} {100 * cell.value:.1f} vs {100 * cell.paper_value:.1f} ({classes[cell.Index]})"
                 for cell in chosen.itertuples()]
        lines.append(f"- **{corpora.display_name(corpus)}** (Table 4, segment UAR, {profile} profile): " + "; ".join(parts) + ".")
    if not lines:
        return f"- No corpus of the paper ran in this {profile}-profile run: ours alone below."
    lines.append(f"- **Of {len(cells)} Table 4 cells:** " + results.class_counts(classes)
                 + " (the paper's value inside our CI, which resamples speakers in the speaker-independent column, "
                 "but more than " f"{results.CLOSE_POINTS:g} points away, is consistent but inconclusive).")
    if len(variant_table(records)):
        lines.append("- **Why the others differ:** labelled sensitivity runs test each explanation "
                     "([Why our numbers differ](scalogram-why)):\n" + "\n".join("  " + line for line in findings(records).splitlines()))
    return "\n".join(lines)


def ordering_summary(rows: pd.DataFrame) -> str:
    """One line for the summary's scoreboard: our UA ordering of the systems vs the paper's."""
    return common.ordering_of_rows(rows)
