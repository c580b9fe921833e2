"""Cournut & Buldu, *Speech Emotion Recognition using Recurrent Neural Networks* (KTH report).

Protocol: one speaker-disjoint train/validation/test split of Emo-DB (408/56/71 utterances,
Table 1); MFCC or MSPEC frames with Δ and ΔΔ (Table 2, eq. 1) standardised with training
statistics, cut into 25-frame sequences every 3 frames (§3.1.2); a 2-layer recurrent classifier
(§2.3, §3.2) trained for 10 epochs with Adam (§2.4, §4.2); test accuracy of the model after the
last epoch. Table 3 varies the feature type with LSTM cells, Table 4 the cell on MFCC+Δ+ΔΔ and
MSPEC+Δ+ΔΔ (the two LSTM cells are shared with Table 3 and trained once). Ten seeds per
configuration give the paired MSPEC − MFCC differences a CI; labelled variants (:data:`VARIANTS`)
try the front end and normalisation of KTH's speech course labs, where the names come from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from serlib import corpora, features, metrics, results, splits, training
from serlib.identity import training_identity
from serlib.examples import Examples
from serlib.models.rnn import RecurrentClassifier
from serlib.papers import common
from serlib.papers.contract import MainModel

PAPER = "rnn"


@dataclass(frozen=True)
class Hyperparameters:
    """Every number the paper gives (section in the comment) and our choices where it gives none."""

    sample_rate: int = 16000
    window_ms: float = 25.0  # not given: the usual MFCC frame; 25 frames = 250 ms (§3.1.2) implies a 10 ms hop
    hop_ms: float = 10.0
    n_fft: int = 512
    n_mels: int = 40  # Table 2: MSPEC size 40
    n_mfcc: int = 13  # Table 2: MFCC size 13
    sequence_length: int = 25  # §3.1.2: 25 frames (250 ms)
    sequence_shift: int = 3  # §3.1.2: shift 3 (88 % overlap)
    dropout: float = 0.2  # §3.2
    l2: float = 1e-4  # §3.2, on the dense layer
    batch_size: int = 128  # §2.4
    learning_rate: float = 1e-3  # Adam, not given: Keras' default
    epochs: int = 10  # §4.2


HPARAMS = Hyperparameters()


@dataclass(frozen=True)
class Variant:
    """A labelled sensitivity run: another front end or normalisation for the two +Δ+ΔΔ LSTM
    configurations, testing an explanation of why our MSPEC − MFCC sign differs from the paper's."""

    name: str
    question: str
    front_end: Literal["ours", "DT2119"]
    normalisation: Literal["global", "per utterance"]

    def behaviour(self) -> dict:
        """What changes the trainings (a training's identity): not the wording."""
        return {"front_end": self.front_end, "normalisation": self.normalisation}


#: The names MSPEC and MFCC are those of KTH's speech course labs (DT2119), whose front end the
#: paper's authors most likely used: pre-emphasis 0.97, mel filters from 133.33 Hz, liftering.
VARIANTS = (
    Variant("DT2119 front end", "Does the lab's front end (pre-emphasis, mel filters from 133.33 Hz) turn the sign?",
            "DT2119", "global"),
    Variant("DT2119 front end, per-utterance normalisation", "The lab's front end with each utterance z-scored by "
            "itself (cepstral mean and variance normalisation)", "DT2119", "per utterance"),
    Variant("per-utterance normalisation", "Our front end with each utterance z-scored by itself", "ours", "per utterance"),
)
#: The pair every variant trains (table, MSPEC type, MFCC type, cell): the +Δ+ΔΔ LSTM rows of Tables 3 and 4.
VARIANT_PAIR = ("Table 3", "MSPEC +Δ+ΔΔ", "MFCC +Δ+ΔΔ", "LSTM")
#: Its two configurations (feature type, cell), in the order their trainings run: MFCC first.
VARIANT_CONFIGURATIONS = tuple((kind, VARIANT_PAIR[3]) for kind in (VARIANT_PAIR[2], VARIANT_PAIR[1]))


def variant(name: str) -> Variant:
    """The variant called ``name``; an unknown name is an error listing the known ones."""
    return common.named(VARIANTS, name)


@dataclass(frozen=True)
class Settings:
    """What a run may change (notebook parameters / ``serlib reproduce -p``)."""

    profile: str
    corpus: str = common.setting("emodb", common.Valid(corpus=True))  # a registered corpus or a CSV manifest
    seeds: tuple[int, ...] = tuple(range(10))  # ten: the paired MSPEC − MFCC differences need them
    epochs: int = HPARAMS.epochs
    train_per_class_and_speaker: int | None = None  # a subset of the training utterances (smoke)
    train_sequence_shift: int = HPARAMS.sequence_shift  # a sparser shift for training windows (smoke)
    eval_sequence_shift: int = HPARAMS.sequence_shift  # a sparser shift for validation and test windows (smoke)
    variants: tuple[str, ...] = common.variants_setting(VARIANTS)  # sensitivity runs of the two +Δ+ΔΔ LSTM rows
    variant_seeds: tuple[int, ...] = tuple(range(3))  # sensitivity runs: 3 seeds each fit the CPU (18 trainings)
    n_boot: int = 1000  # bootstrap resamples of each CI


PROFILES = {
    # smoke: one training utterance per speaker and class, sparser windows, one epoch, one seed
    "smoke": Settings("smoke", seeds=(0,), epochs=1, train_per_class_and_speaker=1, train_sequence_shift=12, eval_sequence_shift=12,
                      variant_seeds=(0,), n_boot=200),
    "full": Settings("full"),
}


def settings(profile: str = "smoke", **overrides) -> Settings:
    """The profile's settings with overrides; an unknown corpus or variant is an error naming the valid ones."""
    return common.resolve(PROFILES, profile, overrides)


#: The paper's classes: Emo-DB's seven.
CLASSES = ("anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness")
FEATURE_TYPES = {"MFCC": ("MFCC", 0), "MFCC +Δ": ("MFCC", 1), "MFCC +Δ+ΔΔ": ("MFCC", 2),
                 "MSPEC": ("MSPEC", 0), "MSPEC +Δ": ("MSPEC", 1), "MSPEC +Δ+ΔΔ": ("MSPEC", 2)}
CELLS = {"Vanilla": "rnn", "LSTM": "lstm", "Bidirectional": "blstm"}

#: Tables 3 and 4 as printed: test accuracy (the paper's 25-frame sequences, last epoch).
PAPER_VALUES = {
    ("Table 3", "MFCC", "LSTM"): 0.531, ("Table 3", "MFCC +Δ", "LSTM"): 0.531, ("Table 3", "MFCC +Δ+ΔΔ", "LSTM"): 0.540,
    ("Table 3", "MSPEC", "LSTM"): 0.545, ("Table 3", "MSPEC +Δ", "LSTM"): 0.566, ("Table 3", "MSPEC +Δ+ΔΔ", "LSTM"): 0.578,
    ("Table 4", "MFCC +Δ+ΔΔ", "Vanilla"): 0.484, ("Table 4", "MFCC +Δ+ΔΔ", "LSTM"): 0.540,
    ("Table 4", "MFCC +Δ+ΔΔ", "Bidirectional"): 0.577, ("Table 4", "MSPEC +Δ+ΔΔ", "Vanilla"): 0.517,
    ("Table 4", "MSPEC +Δ+ΔΔ", "LSTM"): 0.578, ("Table 4", "MSPEC +Δ+ΔΔ", "Bidirectional"): 0.577,
}
#: The best model of the paper (Fig. 3's confusion matrix).
BEST = ("MSPEC +Δ+ΔΔ", "LSTM")


def configurations() -> list[tuple[str, str]]:
    """(feature type, cell) pairs of Tables 3 and 4, each trained once."""
    return sorted({(feature_type, cell) for _, feature_type, cell in PAPER_VALUES})


def extractors(front_end: str = "ours") -> dict[str, features.LogMel]:
    """MFCC and MSPEC (§2.2.1) with the frame settings of :data:`HPARAMS`; ``"DT2119"``: the
    speech course labs' versions (pre-emphasis, mel filters from 133.33 Hz, liftered MFCC)."""
    frame = dict(sample_rate=HPARAMS.sample_rate, window_ms=HPARAMS.window_ms, hop_ms=HPARAMS.hop_ms,
                 n_fft=HPARAMS.n_fft, n_mels=HPARAMS.n_mels)
    if front_end == "DT2119":
        return {"MFCC": features.LabMFCC(**frame, n_mfcc=HPARAMS.n_mfcc), "MSPEC": features.LabLogMel(**frame)}
    return {"MFCC": features.MFCC(**frame, n_mfcc=HPARAMS.n_mfcc), "MSPEC": features.LogMel(**frame)}


def choose_speakers(manifest: pd.DataFrame) -> tuple[str, str]:
    """(test, validation) speaker. Rule: in sorted order, the last speaker tests and the one
    before validates. On Emo-DB that is 16 (71 utterances) and 15 (56), leaving 408 to train:
    the only assignment with the paper's sizes (Table 1)."""
    speakers = sorted(manifest["speaker"].unique())
    if len(speakers) < 3:
        raise ValueError(f"the rnn protocol needs 3 speakers or more (train, validation, test); found {speakers}")
    return speakers[-1], speakers[-2]


@dataclass
class Data:
    """The corpus, its labels, the split and the cached frame features of one run."""

    corpus: str
    manifest: pd.DataFrame
    classes: common.ClassMapping
    labels: np.ndarray
    split: splits.Split
    frames: dict[str, list[np.ndarray]]  # by feature kind ("MFCC", "MSPEC"), our front end
    started: float = field(default_factory=time.time)  # when the run began: the results file's wall time counts from here
    variant_frames: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)  # by front end, then kind

    def frames_of(self, kind: str, front_end: str = "ours") -> list[np.ndarray]:
        return self.frames[kind] if front_end == "ours" else self.variant_frames[front_end][kind]

    @property
    def protocol(self) -> str:
        test, val = (sorted(set(self.manifest["speaker"].iloc[self.split.parts()[p]])) for p in ("test", "val"))
        sizes = "/".join(str(len(self.split.parts()[p])) for p in ("train", "val", "test"))
        return (f"speaker-disjoint train/val/test = {sizes} utterances (test speaker {', '.join(test)}, "
                f"val speaker {', '.join(val)}), {len(self.classes.classes)} classes")


def load_data(settings: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
              progress: bool = True) -> Data:
    """The corpus mapped onto the paper's classes, the split (checked speaker-disjoint) and the
    MFCC and MSPEC frames of every utterance (cached)."""
    started = time.time()
    manifest = common.load_corpus(settings.corpus, data_root)
    mapping = common.map_classes(manifest["emotion"], CLASSES, settings.corpus)
    manifest = corpora.select_emotions(manifest, mapping.classes)
    test, val = choose_speakers(manifest)
    split = splits.fixed_speakers(manifest, test=[test], val=[val], name=f"{common.corpus_label(settings.corpus)} test={test} val={val}")
    if settings.train_per_class_and_speaker:
        train = manifest.iloc[split.train].assign(row=split.train)
        kept = common.smoke_subset(train, ["speaker", "emotion"], settings.train_per_class_and_speaker)["row"]
        split = splits.make_split(manifest, split.name + " (smoke subset)", kept, split.test, split.val)
    labels = manifest["emotion"].map({e: i for i, e in enumerate(mapping.classes)}).to_numpy()
    frames = {name: features.extract(manifest, extractor, cache, progress) for name, extractor in extractors().items()}
    variant_frames = {front_end: {name: features.extract(manifest, extractor, cache, progress)
                                  for name, extractor in extractors(front_end).items()}
                      for front_end in sorted({variant(v).front_end for v in settings.variants} - {"ours"})}
    return Data(common.corpus_label(settings.corpus), manifest, mapping, labels, split, frames, started, variant_frames)


def inputs(data: Data, feature_type: str, settings: Settings, variant_: Variant | None = None) -> dict[str, Examples]:
    """Standardised sequences (§3.1.2) of one feature type per split part. The z-score statistics
    come from the training utterances only (a variant may z-score each utterance by itself)."""
    per_utterance = variant_ is not None and variant_.normalisation == "per utterance"
    return sequences(data.frames_of(FEATURE_TYPES[feature_type][0], variant_.front_end if variant_ else "ours"), data.labels,
                     data.split.parts(), FEATURE_TYPES[feature_type][1], settings, per_utterance)


def sequences(frames: Sequence[np.ndarray], labels: np.ndarray, parts: Mapping[str, np.ndarray], order: int,
              settings: Settings, per_utterance: bool = False, fit_rows: np.ndarray | None = None) -> dict[str, Examples]:
    """The 25-frame sequences (§3.1.2) of each part's utterances: frames with their Δ up to
    ``order`` (eq. 1), z-scored with the statistics of ``fit_rows`` (by default ``parts["train"]``;
    or each utterance by itself), windows every ``settings``' shift."""
    fit_rows = parts["train"] if fit_rows is None else fit_rows
    rows = np.unique(np.concatenate([np.asarray(r, dtype=int) for r in [*parts.values(), fit_rows]]))  # only the utterances used
    dynamic = [features.with_dynamics(frames[r], order) for r in rows]
    if per_utterance:
        scaled = features.per_utterance_standardised(dynamic)
    else:
        position = {r: i for i, r in enumerate(rows)}
        scaled = features.Standardizer().fit([dynamic[position[r]] for r in fit_rows]).transform(dynamic)
    scaled = dict(zip(rows.tolist(), scaled))
    shifts = {"train": settings.train_sequence_shift, "val": settings.eval_sequence_shift, "test": settings.eval_sequence_shift}
    return {part: features.windowed_examples(scaled, labels, rows, HPARAMS.sequence_length, shifts[part])
            for part, rows in parts.items()}


def train_config(settings: Settings, device: str) -> training.TrainConfig:
    """Adam, batch 128, the model after the last epoch (§4.2: "the final accuracy")."""
    return training.TrainConfig(epochs=settings.epochs, batch_size=HPARAMS.batch_size,
                                learning_rate=HPARAMS.learning_rate, device=device, select="last", progress=False)


def feature_dims(feature_type: str) -> int:
    """Values per frame of a feature type: the static coefficients with their Δ and ΔΔ."""
    kind, order = FEATURE_TYPES[feature_type]
    return (HPARAMS.n_mfcc if kind == "MFCC" else HPARAMS.n_mels) * (order + 1)


def main_model(settings: Settings | None = None) -> MainModel:
    """The paper's best configuration (Fig. 3: LSTM on MSPEC +Δ+ΔΔ) for pages beyond the paper:
    its sequences, z-scored with the training utterances' statistics, and its 10-epoch loop."""
    chosen = settings or PROFILES["full"]
    feature_type, cell = BEST
    kind, order = FEATURE_TYPES[feature_type]
    extractor = extractors()[kind]
    return MainModel(
        PAPER, f"{cell}, {feature_type}", RecurrentClassifier,
        extract=lambda manifest, cache, progress: features.extract(manifest, extractor, cache, progress),
        inputs=lambda frames, labels, parts, fit_rows: sequences(frames, labels, parts, order, chosen, fit_rows=fit_rows),
        make_model=lambda frames, n_classes: RecurrentClassifier(feature_dims(feature_type), n_classes, CELLS[cell],
                                                                 dropout=HPARAMS.dropout, l2=HPARAMS.l2),
        train_config=lambda seed, device: replace(train_config(chosen, device), seed=seed),
        arguments={"feature_type": feature_type, "cell": CELLS[cell]},
        trained={"hparams": asdict(HPARAMS), "epochs": chosen.epochs, "train_sequence_shift": chosen.train_sequence_shift,
                 "eval_sequence_shift": chosen.eval_sequence_shift},
        feature_keys={"features": features.extractor_key(extractor)},
    )


InputsOf = Callable[[str, "Variant | None"], dict[str, Examples]]


def trainings(data: Data, feature_type: str, cell: str, settings: Settings, device: str = "auto",
              examples_of: InputsOf | None = None, variant_: Variant | None = None) -> list[common.Training]:
    """One (feature type, cell) configuration (of a variant), once per seed: one
    :class:`~serlib.papers.common.Training` each. Its inputs are made (``examples_of(feature_type,
    variant)``, by default :func:`inputs` kept for the last pair) only when it trains, so a grid of
    them holds one feature type's windows."""
    examples_of = examples_of or lru_cache(maxsize=1)(lambda name, v: inputs(data, name, settings, v))
    make_model = lambda: RecurrentClassifier(feature_dims(feature_type), len(data.classes.classes), CELLS[cell],  # noqa: E731
                                             dropout=HPARAMS.dropout, l2=HPARAMS.l2)
    kind = FEATURE_TYPES[feature_type][0]
    trained = {"hparams": asdict(HPARAMS), "epochs": settings.epochs, "train_sequence_shift": settings.train_sequence_shift}
    if settings.eval_sequence_shift != HPARAMS.sequence_shift:  # absent at the paper's shift: earlier runs keep their identities
        trained["eval_sequence_shift"] = settings.eval_sequence_shift
    if variant_ is not None:  # absent for the paper's protocol, so its identities stay those of earlier runs
        trained["variant"] = variant_.behaviour()
    read = {"features": features.extractor_key(extractors(variant_.front_end if variant_ else "ours")[kind]),
            "classes": data.classes.classes}
    identity = training_identity(RecurrentClassifier, {"feature_type": feature_type, "cell": CELLS[cell]}, trained, read,
                                 data.split)
    base = train_config(settings, device)
    system = f"{feature_type} {cell}" + (f" [{variant_.name}]" if variant_ else "")
    return [
        common.Training(
            common.TrainingKey(PAPER, "Tables 3-4", system, f"{len(data.classes.classes)}-class", data.split.name, seed),
            identity, lambda checkpoint, seed=seed: training.train_and_evaluate(make_model, examples_of(feature_type, variant_),
                                                                                replace(base, seed=seed), checkpoint))
        for seed in (settings.variant_seeds if variant_ else settings.seeds)
    ]


GRID_STAGES = 1  # the grid is planned once: no choice waits on stored outcomes


def training_grid(settings: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
                  device: str = "auto") -> list[common.Training]:
    """Every training of Tables 3 and 4 (each configuration × seed) and of the chosen variants
    (for ``serlib reproduce --executor dask``)."""
    data = load_data(settings, data_root, cache, progress=False)
    examples_of = lru_cache(maxsize=1)(lambda name, v: inputs(data, name, settings, v))
    grid = [job for feature_type, cell in configurations()
            for job in trainings(data, feature_type, cell, settings, device, examples_of)]
    return grid + [job for name in settings.variants for feature_type, cell in VARIANT_CONFIGURATIONS
                   for job in trainings(data, feature_type, cell, settings, device, examples_of, variant(name))]


def train_configuration(data: Data, feature_type: str, cell: str, settings: Settings, device: str = "auto",
                        cache: str | Path | None = None, variant_: Variant | None = None) -> list[training.Outcome]:
    """One (feature type, cell) configuration (of a variant), once per seed; each seed is one cached training."""
    return [job.run(cache) for job in trainings(data, feature_type, cell, settings, device, variant_=variant_)]


def run_tables(data: Data, settings: Settings, device: str = "auto", cache: str | Path | None = None,
               log=print) -> dict[tuple[str, str], list[training.Outcome]]:
    """Every configuration of Tables 3 and 4 (one outcome per seed)."""
    outcomes = {}
    for feature_type, cell in configurations():
        outcomes[feature_type, cell] = train_configuration(data, feature_type, cell, settings, device, cache)
        accuracy = np.mean([o.levels["window"].score("WA") for o in outcomes[feature_type, cell]])
        log(f"[{settings.profile}, {data.corpus}] {feature_type:<13} {cell:<13} sequence accuracy {accuracy:.3f}")
    return outcomes


def run_variants(data: Data, settings: Settings, device: str = "auto", cache: str | Path | None = None,
                 log=print) -> dict[str, dict[tuple[str, str], list[training.Outcome]]]:
    """Each chosen variant's two +Δ+ΔΔ LSTM configurations (one outcome per variant seed)."""
    outcomes: dict[str, dict[tuple[str, str], list[training.Outcome]]] = {}
    for name in settings.variants:
        outcomes[name] = {}
        for feature_type, cell in VARIANT_CONFIGURATIONS:
            outcomes[name][feature_type, cell] = train_configuration(data, feature_type, cell, settings, device, cache, variant(name))
            accuracy = np.mean([o.levels["window"].score("WA") for o in outcomes[name][feature_type, cell]])
            log(f"[{settings.profile}, {data.corpus}] {feature_type:<13} {cell:<13} [{name}] sequence accuracy {accuracy:.3f}")
    return outcomes


Outcomes = dict[tuple[str, str], list[training.Outcome]]


def results_file(data: Data, outcomes: Outcomes, settings: Settings, device: str,
                variants: Mapping[str, Outcomes] | None = None) -> results.ResultsFile:
    """Rows of Tables 3-4: sequence accuracy (the paper's unit) beside the paper's number, plus
    utterance-level accuracy and UA at both levels; the variants' sequence accuracy (labelled,
    the paper's value beside them). Paper values beside scores only on the paper's corpus. Then
    each MSPEC − MFCC difference (:func:`kind_difference`, the paper's difference beside it on any
    corpus): :data:`KIND_PAIRS`, and :data:`VARIANT_PAIR` under each variant."""
    record = results.ResultsFile(paper=PAPER, corpus=data.corpus, profile=settings.profile, device=device, seeds=list(settings.seeds),
                      protocol=data.protocol, started=data.started,
                      notes={"settings": asdict(settings), "hparams": asdict(HPARAMS), "classes": data.classes.note,
                             "variants": {name: {"question": variant(name).question, **variant(name).behaviour(),
                                                 "seeds": list(settings.variant_seeds)} for name in variants or {}}})
    on_paper_corpus = data.corpus == "emodb"
    for (table, feature_type, cell), paper_value in PAPER_VALUES.items():
        for level, metric in (("window", "WA"), ("utterance", "WA"), ("window", "UA"), ("utterance", "UA")):
            headline = (level, metric) == ("window", "WA") and on_paper_corpus
            record.add(results.ResultRow(
                table=table, row=feature_type, column=cell, metric=metric, level=level,
                paper_value=paper_value if headline else None,
                **results.summarise_seeds(outcomes[feature_type, cell], level, metric, settings.n_boot)))
    for name, by_configuration in (variants or {}).items():
        for (feature_type, cell), cell_outcomes in by_configuration.items():
            record.add(results.ResultRow(
                table="Table 3", row=feature_type, column=cell, metric="WA", level="window", variant=name,
                paper_value=PAPER_VALUES["Table 3", feature_type, cell] if on_paper_corpus else None,
                **results.summarise_seeds(cell_outcomes, "window", "WA", settings.n_boot)))
        record.add(kind_difference(by_configuration, VARIANT_PAIR, settings.n_boot, variant=name))
        record.training_seconds[f"variant: {name}"] = common.training_seconds(o for cell_outcomes in by_configuration.values() for o in cell_outcomes)
    for pair in KIND_PAIRS:
        record.add(kind_difference(outcomes, pair, settings.n_boot, level=common.corrected_level(len(KIND_PAIRS))))
    record.training_seconds["Tables 3-4"] = common.training_seconds(o for cell_outcomes in outcomes.values() for o in cell_outcomes)
    return record


#: The paired comparisons of the feature kinds: (table, MSPEC type, MFCC type, cell).
KIND_PAIRS = tuple(("Table 3", f"MSPEC{suffix}", f"MFCC{suffix}", "LSTM") for suffix in ("", " +Δ", " +Δ+ΔΔ")) + tuple(
    ("Table 4", "MSPEC +Δ+ΔΔ", "MFCC +Δ+ΔΔ", cell) for cell in ("Vanilla", "Bidirectional"))


def kind_difference(outcomes: Outcomes, pair: tuple[str, str, str, str], n_boot: int = 1000,
                    variant: str = "", level: float = 0.95) -> results.ResultRow:
    """MSPEC − MFCC sequence accuracy of ``pair`` (table, MSPEC type, MFCC type, cell: two
    configurations that differ only in the feature kind), seeds averaged, with a paired ``level``
    bootstrap CI that draws the test utterances (one resample scores both) and, with several seeds,
    each configuration's seeds (so the spread between trainings is in it), and the paper's difference. The paper's five
    pairs are judged together at 95 % corrected (Bonferroni), so :func:`results_file` asks each for 99 %."""
    table, mspec, mfcc, cell = pair
    first, second = ([o.levels["window"] for o in outcomes[kind, cell]] for kind in (mspec, mfcc))
    value, low, high = metrics.paired_difference_ci(first[0].y_true, [p.y_pred for p in first], [p.y_pred for p in second],
                                                    metrics.weighted_accuracy, common.resamples(n_boot, level), level,
                                                    groups=first[0].utterance, resample_seeds=len(first) > 1 or len(second) > 1)
    return results.ResultRow(table=table, row=results.difference_name(mspec, mfcc), column=cell, metric="WA", level="window",
                             paper_value=round(PAPER_VALUES[table, mspec, cell] - PAPER_VALUES[table, mfcc, cell], 6),
                             value=value, ci_low=low, ci_high=high, std=None, seeds=len(first), variant=variant,
                             quantity=results.DIFFERENCE, ci_level=level)


def mspec_minus_mfcc(record: results.ResultsFile, variant: str = "") -> pd.DataFrame:
    """The results file's MSPEC − MFCC rows (:func:`kind_difference`) of ``variant`` ("" for the
    paper's front end), in points, beside the paper's difference; ``sign``: whether our CI
    establishes the paper's sign, the opposite one, or neither."""
    rows = results.differences(record.table())
    lines = []
    for _, row in rows[rows["variant"] == variant].iterrows():
        mspec = row["row"].partition(results.MINUS)[0]
        paper, low, high = 100 * row["paper_value"], 100 * row["ci_low"], 100 * row["ci_high"]
        lines.append({"table": row["table"], "MSPEC − MFCC": f"{mspec.removeprefix('MSPEC') or ' (static)'} {row['column']}".strip(),
                      "paper (points)": f"{paper:+.1f}", "ours (points)": f"{100 * row['value']:+.1f}",
                      "CI": f"[{low:+.1f}, {high:+.1f}]", "CI level": f"{100 * row['ci_level']:g} %", "seeds": int(row["seeds"]),
                      "sign": common.sign_agreement(low, high, paper)})
    return pd.DataFrame(lines)


def variant_differences(record: results.ResultsFile) -> pd.DataFrame:
    """:func:`mspec_minus_mfcc` of the +Δ+ΔΔ LSTM pair under each variant, with both accuracies."""
    rows = results.scores(record.table())
    _, mspec, mfcc, cell = VARIANT_PAIR
    lines = []
    for name in dict.fromkeys(rows["variant"]) if len(rows) else ():
        if not name:
            continue
        accuracy = rows[(rows["variant"] == name) & (rows["metric"] == "WA") & (rows["level"] == "window")].set_index("row")["value"]
        lines.append(mspec_minus_mfcc(record, name).assign(
            variant=name, **{f"{kind} {cell} (%)": f"{100 * accuracy[kind]:.1f}" for kind in (mspec, mfcc)}))
    return pd.concat(lines, ignore_index=True).drop(columns=["table", "MSPEC − MFCC"]) if lines else pd.DataFrame()


def verdict_box(record: results.ResultsFile, differences: pd.DataFrame, profile: str, variant_diffs: pd.DataFrame | None = None) -> str:
    """The page's opening box (Markdown): how many of Tables 3-4's accuracies we reproduce, whether
    the paper's MSPEC > MFCC holds (under our front end and under each variant), and what the
    paper's Fig. 3 lets us compare."""
    cells = results.headline_cells(record.table().assign(paper=PAPER, corpus=record.corpus))
    if not len(cells):
        return f"- No paper value applies to {record.corpus} ({profile} profile): ours alone below."
    classes = results.cell_classes(cells)
    lines = [f"- **Tables 3-4** on {corpora.display_name(record.corpus)} ({profile} profile, {len(record.seeds)} seeds), "
             f"{len(cells)} sequence accuracies (a row printed in both tables counted once): "
             + results.class_counts(classes, bold=True)
             + f"; ours range over {100 * cells['value'].min():.1f}–{100 * cells['value'].max():.1f} %, the paper's over "
             f"{100 * cells['paper_value'].min():.1f}–{100 * cells['paper_value'].max():.1f} %."]
    signed = differences[differences["paper (points)"].astype(float) != 0] if len(differences) else differences
    if len(signed):
        counts = signed["sign"].value_counts()
        equal = len(differences) - len(signed)
        lines.append(f"- **MSPEC > MFCC**, the paper's finding in {len(signed)} of {len(differences)} pairs"
                     + (f" (the paper prints {'the other pair' if equal == 1 else f'the other {equal} pairs'} equal)" if equal else "")
                     + f": our paired CI ({signed['CI level'].iloc[0]}"
                     + (f", {common.correction(len(differences))}" if len(differences) > 1 else "")
                     + ", over the test utterances" + (f" and the {len(record.seeds)} seeds" if len(record.seeds) > 1 else "")
                     + f") establishes that sign in {counts.get('agrees', 0)}, the opposite sign in "
                     f"{counts.get('opposite', 0)}, neither in {counts.get('not established', 0)} "
                     "([why our numbers differ](rnn-why)).")
    if variant_diffs is not None and len(variant_diffs):
        lines.append(f"- **Front-end variants** (the +Δ+ΔΔ LSTM pair, {profile} profile; MSPEC − MFCC, paper "
                     f"{variant_diffs['paper (points)'].iloc[0]} points): "
                     + "; ".join(f"*{v['variant']}* {v['ours (points)']} {v['CI']}, {v['sign']}" for _, v in variant_diffs.iterrows())
                     + f". Each variant has {len(record.notes.get('settings', {}).get('variant_seeds', ())) or 'few'} seeds "
                     f"(the paper's rows {len(record.seeds)}): its CI draws them too, but so few seeds show little of "
                     "the spread between trainings, so read these signs as indicative.")
    lines.append("- **Fig. 3** (the best model's confusion matrix) is a figure whose numbers did not survive text "
                 "extraction: ours is shown alone, with the four statements the text makes (two recalls, two confusions) "
                 "set beside ours ([Fig. 3](rnn-fig3)).")
    return "\n".join(lines)


def why_table(record: results.ResultsFile, differences: pd.DataFrame, variant_diffs: pd.DataFrame,
              split: splits.Split) -> pd.DataFrame:
    """For each gap to the paper: the explanations we test, the run that tests each, and what it
    showed, drawn from this run (``differences``: :func:`mspec_minus_mfcc`; ``variant_diffs``:
    :func:`variant_differences`; ``split``: the one split every training shares)."""
    test_speaker = f"one test speaker of {len(split.test)} utterances"
    rows = results.scores(record.table())
    cells = results.headline_cells(rows.assign(paper=PAPER, corpus=record.corpus)) if len(rows) else rows
    if not len(cells):
        return pd.DataFrame()
    paper_rows = rows[(rows["variant"] == "") & (rows["level"] == "window") & (rows["metric"] == "WA")].set_index(["table", "row", "column"])
    held = int((cells["close"] | cells["paper_in_ci"]).sum())
    mspec = cells[(cells["table"] == "Table 3") & cells["row"].str.startswith("MSPEC")]
    lines = [{"gap": f"Tables 3-4: {len(cells) - held} of {len(cells)} accuracies neither within {results.CLOSE_POINTS:g} points "
                     "of the paper nor holding it in our CI; Table 3's MSPEC rows "
                     + ", ".join(f"{r['row']} {r['gap']:+.1f}" for _, r in mspec.iterrows()) + " points",
              "explanation": f"seed noise: {test_speaker}",
              "run that tests it": f"{len(record.seeds)} seeds per configuration, 95% CI over test utterances",
              "what it showed": (f"std over seeds {100 * cells['std'].min():.1f}–{100 * cells['std'].max():.1f} points"
                                 if cells["std"].notna().any() else "no std over seeds (one seed)") + "; the paper's "
                                f"value lies in our CI in {int(cells['paper_in_ci'].sum())} of {len(cells)}"}]
    for name, chosen in rows[(rows["variant"] != "")].groupby("variant", sort=False) if len(rows) else ():
        changes = "; ".join(f"{r['row']} {r['column']} {100 * paper_rows['value'][r['table'], r['row'], r['column']]:.1f} → "
                            f"{100 * r['value']:.1f} (paper {100 * r['paper_value']:.1f})" if pd.notna(r["paper_value"]) else
                            f"{r['row']} {r['column']} → {100 * r['value']:.1f}" for _, r in chosen.iterrows())
        lines.append({"gap": "", "explanation": f"the front end and normalisation: “{name}”",
                      "run that tests it": f"variant, the +Δ+ΔΔ LSTM pair, {int(chosen['seeds'].max())} seeds",
                      "what it showed": changes})
    if len(differences):
        signed = differences[differences["paper (points)"].astype(float) != 0]
        counts = differences["sign"].value_counts()
        lines.append({"gap": f"MSPEC − MFCC: the paper finds MSPEC better in {len(signed)} of {len(differences)} like-for-like pairs",
                      "explanation": f"seed noise: {test_speaker}",
                      "run that tests it": f"paired differences, {int(differences['seeds'].max())} seeds, one bootstrap "
                                           f"resample of the test utterances and of each kind's seeds scoring both kinds; "
                                           f"CIs at {differences['CI level'].iloc[0]}"
                                           + (f" ({common.correction(len(differences))})" if len(differences) > 1 else ""),
                      "what it showed": f"our CI establishes the paper's sign in {counts.get('agrees', 0)}, the opposite in "
                                        f"{counts.get('opposite', 0)}, neither in {counts.get('not established', 0)}"
                                        + (f", a difference where the paper prints none in {counts['differs (paper: equal)']}"
                                           if "differs (paper: equal)" in counts else "")})
        for _, v in variant_diffs.iterrows() if len(variant_diffs) else ():
            lines.append({"gap": "", "explanation": f"the front end and normalisation: “{v['variant']}”",
                          "run that tests it": f"variant, the +Δ+ΔΔ LSTM pair, {v['seeds']} seeds",
                          "what it showed": f"MSPEC − MFCC {v['ours (points)']} {v['CI']} (paper {v['paper (points)']}): {v['sign']}"})
    return common.prose_frame(lines)


def every_level(record: results.ResultsFile) -> pd.DataFrame:
    """Mean ± std over seeds of every metric and level, one line per configuration."""
    rows = results.scores(record.table()).drop_duplicates(["row", "column", "metric", "level"])
    rows["ours"] = [results.mean_and_spread(v, s) for v, s in zip(rows["value"], rows["std"])]
    return rows.pivot(index=["row", "column"], columns=["level", "metric"], values="ours")


def best_confusion(data: Data, outcomes: dict) -> np.ndarray:
    """Fig. 3: row-normalised confusion matrix of the best model, sequences of all seeds pooled."""
    return training.pooled_confusion(outcomes[BEST], "window", len(data.classes.classes))


#: What the paper's text says of its Fig. 3 (§4): (true class, predicted class, the claim).
FIG3_CLAIMS = (("anger", "anger", "above 80 % recall"), ("sadness", "sadness", "above 80 % recall"),
               ("happiness", "anger", "the main confusion of happiness"), ("boredom", "fear", "the main confusion of boredom"))


def fig3_claims(normalised: np.ndarray, classes: Sequence[str]) -> str:
    """Ours beside each statement the paper's text makes about its Fig. 3 (Markdown), and whether it
    holds; classes the corpus lacks are left out."""
    parts = []
    for true, predicted, claim in FIG3_CLAIMS:
        if true not in classes or predicted not in classes:
            continue
        row = normalised[classes.index(true)]
        share = 100 * row[classes.index(predicted)]
        if true == predicted:
            holds = share > 80
        else:  # the main confusion: the largest share outside the diagonal
            off = [(value, name) for value, name in zip(row, classes) if name != true]
            holds = max(off)[1] == predicted
        parts.append(f"{true} → {predicted} {share:.1f} % (the text: {claim}; {'holds' if holds else 'does not hold'})")
    return ("**The text's statements, in ours:** " + "; ".join(parts) + ".") if parts else ""


def ordering_summary(rows: pd.DataFrame) -> str:
    """One line for the summary's scoreboard: our UA ordering of the systems vs the paper's."""
    return common.ordering_of_rows(rows)
