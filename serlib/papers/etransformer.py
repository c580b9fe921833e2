"""The etransformer paper: residual-BLSTM, time pooling and E-transformer for SER (IEMOCAP 4-class).

Configuration, printed numbers and protocol (the notebook ``notebooks/etransformer.ipynb`` calls
these). Every size of §2 lives in :class:`serlib.models.etransformer.Sizes`; every training number
of §3.1 in :class:`Hyperparameters`. The eight models of Table 2 are configurations of one network
(:data:`serlib.models.etransformer.ARCHITECTURES`).

Two protocols, both 5-fold:

- **random** (the paper's words, §3.1: "we randomly shuffle the data and make 5 fold cross
  validation"): utterance-level folds, emotion-stratified; every speaker is in training and test.
- **speaker-independent**: the corpus's five speaker-disjoint sessions (nEMO's fixed folds,
  IEMOCAP's sessions), checked speaker-disjoint in code.

The paper states no epochs and no model selection: each training keeps the epoch (of at most
``max_epochs``) with the best UA on validation data inside its training folds (random: a
stratified 10 % of the training utterances; speaker-independent: the first speaker of the next
session), never on the test fold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import corpora, features, results, splits, training
from serlib.identity import training_identity
from serlib.examples import Examples, pad_sequences
from serlib.models.etransformer import ARCHITECTURES, EmotionTransformer, Sizes, multiply_adds, parameter_count
from serlib.papers import common

PAPER = "etransformer"


@dataclass(frozen=True)
class Hyperparameters:
    """Every training number the paper gives (section in the comment) and our choices where it gives none."""

    sample_rate: int = 16000
    window_ms: float = 25.0  # §3.1: 25 ms Hamming window
    hop_ms: float = 10.0  # §3.1: 10 ms shift
    n_fft: int = 512  # not given: the next power of two above the 400-sample window
    n_mels: int = 40  # §3.1: 40 mel bands
    max_seconds: float = 4.0  # §3.1: cut at 4 s, shorter ones zero-padded
    learning_rate: float = 1e-4  # §3.1: Adam, 0.0001
    batch_size: int = 32  # §3.1
    max_epochs: int = 50  # not given: the epoch with the best validation UA is kept
    patience: int = 10  # not given: training stops 10 epochs after the best validation UA
    select_metric: str = "UA"  # not given: UA is the paper's headline metric
    folds: int = 5  # §3.1: 5-fold cross-validation
    validation_fraction: float = 0.1  # not given: the random protocol's validation share of its training folds
    fold_seed: int = 0  # the shuffle of the random folds

    @property
    def max_frames(self) -> int:
        return round(self.max_seconds * 1000 / self.hop_ms)


HPARAMS = Hyperparameters()
SIZES = Sizes(n_mels=HPARAMS.n_mels)
PROTOCOLS = ("speaker-independent", "random")
SYSTEMS = tuple(ARCHITECTURES)


@dataclass(frozen=True)
class Settings:
    """What a run may change (notebook parameters / ``serlib reproduce -p``)."""

    profile: str
    # a corpus with sessions: nemo (the stand-in) or iemocap
    corpus: str = common.setting("nemo", common.Valid(corpus=True))  # a registered corpus or a CSV manifest
    systems: tuple[str, ...] = common.setting(SYSTEMS, common.Valid(among=SYSTEMS))  # any of Table 2's eight models
    protocols: tuple[str, ...] = common.setting(PROTOCOLS, common.Valid(among=PROTOCOLS))
    # the models the speaker-independent folds train (of ``systems``; None: all of them)
    speaker_independent_systems: tuple[str, ...] | None = common.setting(None, common.Valid(among=SYSTEMS, nonempty=False))
    # folds that are test sets (1-based)
    test_folds: tuple[int, ...] = common.setting(tuple(range(1, HPARAMS.folds + 1)), common.Valid(among=tuple(range(1, HPARAMS.folds + 1))))
    epochs: int = HPARAMS.max_epochs
    seeds: tuple[int, ...] = common.setting((0,), common.Valid(at_least=0))
    per_class_and_speaker: int | None = None  # a subset of every speaker's utterances (smoke)
    n_boot: int = 1000  # bootstrap resamples of each CI


PROFILES = {
    # smoke: the proposed model and the baseline, one test fold of each protocol, one epoch
    "smoke": Settings("smoke", systems=("proposed", "Base7: BLSTM (baseline)"), test_folds=(4,), epochs=1,
                      per_class_and_speaker=2, n_boot=200),
    # the paper's random folds for all 8 models; the speaker-independent folds for the proposed
    # model and the baseline (the other ablations on those folds are listed as not run)
    "full": Settings("full", speaker_independent_systems=("proposed", "Base7: BLSTM (baseline)")),
}


def value_range(values: list[int]) -> str:
    """"3" when all are 3, else "min–max" (epochs, fold sizes)."""
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}–{max(values)}"


def short_name(system: str) -> str:
    """"Base3" for "Base3: w/ BLSTM and transformer": Table 2's rows by the name they begin with."""
    return system.split(":")[0]


def systems_of(settings: Settings, protocol: str) -> tuple[str, ...]:
    """The models that ``protocol``'s folds train, in Table 2's order."""
    chosen = settings.systems
    if protocol == "speaker-independent" and settings.speaker_independent_systems is not None:
        chosen = tuple(s for s in chosen if s in settings.speaker_independent_systems)
    return chosen


def not_yet_run(settings: Settings) -> list[str]:
    """What the full profile trains that ``settings`` leave out: test folds, protocols, and models
    per protocol (e.g. ["test folds 2, 3, 4, 5", "the speaker-independent folds"])."""
    full = PROFILES["full"]
    missing = []
    if folds := sorted(set(full.test_folds) - set(settings.test_folds)):
        missing.append(f"test fold{'s' if len(folds) > 1 else ''} {', '.join(map(str, folds))}")
    missing += [f"the {protocol} folds" for protocol in full.protocols if protocol not in settings.protocols]
    for protocol in (p for p in full.protocols if p in settings.protocols):
        if models := [short_name(m) for m in systems_of(full, protocol) if m not in systems_of(settings, protocol)]:
            missing.append(f"{', '.join(models)} on the {protocol} folds")
    return missing


def grid_size(settings: Settings) -> int:
    """How many trainings ``settings`` asks for: one per (protocol, model, test fold, seed)."""
    return sum(len(systems_of(settings, protocol)) for protocol in settings.protocols) * len(settings.test_folds) * len(settings.seeds)


def settings(profile: str = "smoke", **overrides) -> Settings:
    """The profile's settings with overrides; unknown systems, protocols, folds or corpora are errors."""
    return common.resolve(PROFILES, profile, overrides)


#: Table 2 (IEMOCAP, random 5-fold, %) as printed.
PAPER_TABLE2 = {
    "proposed": (69.31, 70.11),
    "Base1: w/ BLSTM": (67.21, 68.21),
    "Base2: w/ transformer": (68.04, 68.79),
    "Base3: w/ BLSTM and transformer": (67.01, 67.99),
    "Base4: w/o time pooling": (68.61, 69.70),
    "Base5: Conv-residual-BLSTM": (67.48, 67.88),
    "Base6: Conv-BLSTM": (65.38, 66.08),
    "Base7: BLSTM (baseline)": (61.48, 62.83),
}
#: Table 1's rows (IEMOCAP, WA and UA %), quoted, not rerun (None: not reported).
PAPER_TABLE1 = {
    "CNN-BLSTM (center-loss) [11]": (65.40, 66.90),
    "DS-LSTM [14]": (69.40, 69.50),
    "ACNN [24]": (67.28, 67.94),
    "Semi-supervised AAE [25]": (None, 68.80),
    "our method (the paper)": (69.31, 70.11),
}
#: The works Table 1's literature rows cite. Our copy of the paper has no reference list: each
#: bracket is resolved from how the text describes the work.
QUOTED_REFERENCES = {
    "[11]": "D. Dai, Z. Wu, R. Li, X. Wu, J. Jia and H. Meng, *Learning discriminative features from spectrograms "
            "using center loss for speech emotion recognition*, Proc. ICASSP 2019, pp. 7405–7409",
    "[14]": "J. Wang, M. Xue, R. Culhane, E. Diao, J. Ding and V. Tarokh, *Speech emotion recognition with dual-sequence "
            "LSTM architecture*, Proc. ICASSP 2020, pp. 6474–6478, doi:10.1109/ICASSP40776.2020.9054629",
    "[24]": "M. Xu, F. Zhang and W. Zhang, *Head fusion: improving the accuracy and robustness of speech emotion "
            "recognition on the IEMOCAP and RAVDESS dataset*, IEEE Access 9, 2021, pp. 74539–74549, "
            "doi:10.1109/ACCESS.2021.3067460",
    "[25]": "S. Latif, R. Rana, S. Khalifa, R. Jurdak, J. Epps and B. W. Schuller, *Multi-task semi-supervised adversarial "
            "autoencoding for speech emotion recognition*, IEEE Transactions on Affective Computing 13(2), 2022, "
            "pp. 992–1004, doi:10.1109/TAFFC.2020.2983669",
}
QUOTED_SOURCE = "our copy of the paper has no reference list; each bracket is identified from how the text describes the work"
#: Fig. 3's four confusion matrices are lost in the text; ours: the proposed model and three ablations.
CONFUSION_SYSTEMS = ("proposed", "Base1: w/ BLSTM", "Base2: w/ transformer", "Base7: BLSTM (baseline)")


def extractor() -> features.LogMel:
    """40 log-mel bands, 25 ms Hamming frames every 10 ms (§3.1)."""
    return features.LogMel(HPARAMS.sample_rate, HPARAMS.window_ms, HPARAMS.hop_ms, HPARAMS.n_fft, HPARAMS.n_mels)


def make_model(system: str, n_classes: int = 4) -> EmotionTransformer:
    return EmotionTransformer(n_classes, ARCHITECTURES[system], SIZES)


# --------------------------------------------------------------------------- data


@dataclass
class Data:
    """The corpus as the 4-class task, the folds of both protocols and the cached spectrograms."""

    corpus: str
    manifest: pd.DataFrame
    labels: np.ndarray
    folds: dict[str, list[splits.Split]]  # protocol → folds 1..5
    spectrograms: list[np.ndarray]
    task: common.SessionTask
    started: float = field(default_factory=time.time)

    def fold(self, protocol: str, number: int) -> splits.Split:
        """The ``number``-th fold (1-based) of ``protocol``; a clear error where the corpus has fewer."""
        if not 1 <= number <= len(self.folds[protocol]):
            raise ValueError(f"no {protocol} fold {number}: {self.corpus} has {len(self.folds[protocol])} "
                             f"(pass test_folds among 1..{len(self.folds[protocol])})")
        return self.folds[protocol][number - 1]

    @property
    def protocol(self) -> str:
        return (f"4 classes, {len(self.manifest)} utterances, {self.manifest['speaker'].nunique()} speakers; "
                f"speaker-independent = leave one of {len(self.folds['speaker-independent'])} speaker-disjoint sessions "
                f"out (validation: the first speaker of the next session); random = emotion-stratified utterance-level "
                f"{HPARAMS.folds}-fold (speakers shared; validation: {HPARAMS.validation_fraction:.0%} of the training "
                f"folds); at most {HPARAMS.max_seconds:g} s per utterance")


def load_data(settings: Settings, corpus: str | None = None, root: str | Path | None = None,
              data_root: str | Path | None = None, cache: str | Path | None = None, progress: bool = True) -> Data:
    """A session corpus (nEMO, or IEMOCAP at ``root``) as the 4-class task, the folds of both
    protocols, and its log-mel spectrograms (cached)."""
    started = time.time()
    name = corpus or settings.corpus
    manifest, labels, task = common.session_corpus(name, settings.per_class_and_speaker, root, data_root)
    folds = {"speaker-independent": splits.session_folds(manifest, validate_on_next=True),
             "random": splits.random_kfold(manifest, HPARAMS.folds, HPARAMS.validation_fraction, HPARAMS.fold_seed)}
    spectrograms = features.extract(manifest, extractor(), cache, progress)
    return Data(common.corpus_label(name), manifest, labels, folds, spectrograms, task, started)


def inputs(data: Data, split: splits.Split) -> dict[str, Examples]:
    """Per part, each utterance's first 4 s of log-mel frames, z-scored per band with statistics
    of the training utterances (not given in the paper; the usual choice), zero-padded with its
    length kept (the model masks the padding)."""
    cut = [s[: HPARAMS.max_frames] for s in data.spectrograms]
    scaler = features.Standardizer().fit([cut[r] for r in split.train])
    examples = {}
    for part, rows in split.parts().items():
        if len(rows):
            examples[part] = pad_sequences(dict(zip(rows, scaler.transform([cut[r] for r in rows]))), data.labels, rows)
    return examples


# --------------------------------------------------------------------------- trainings


def train_config(settings: Settings, seed: int, device: str) -> training.TrainConfig:
    """Adam 1e-4, batch 32, cross-entropy (§3.1); the epoch with the best validation UA."""
    return training.TrainConfig(epochs=settings.epochs, batch_size=HPARAMS.batch_size, learning_rate=HPARAMS.learning_rate,
                                seed=seed, device=device, select="val", select_metric=HPARAMS.select_metric,
                                patience=HPARAMS.patience, length_buckets=True, eval_batch_size=64, progress=False)


def system_training(examples: Callable[[], dict[str, Examples]], system: str, protocol: str, split: splits.Split,
                    corpus: str, cfg: training.TrainConfig) -> common.Training:
    """One training of ``system`` on one fold of ``protocol``; its inputs are made (``examples()``)
    only when it trains."""
    identity = training_identity(EmotionTransformer, {"architecture": asdict(ARCHITECTURES[system]), "sizes": asdict(SIZES)},
                                 {"hparams": asdict(HPARAMS), "config": cfg.identity()},
                                 {"features": features.extractor_key(extractor()), "corpus": corpus}, split)
    key = common.TrainingKey(PAPER, "Table 2", system, f"{corpus} 4-class {protocol}", split.name, cfg.seed)
    build = lambda: make_model(system)  # noqa: E731
    return common.Training(key, identity, lambda checkpoint: training.train_and_evaluate(build, examples(), cfg, checkpoint))


def table2_trainings(data: Data, settings: Settings, device: str = "auto") -> dict[tuple[str, str, int], list[common.Training]]:
    """(protocol, system, test fold) → one training per seed, fold by fold (the random folds
    first), so that a grid stopped part-way holds whole folds. A fold's inputs are made when its
    first training runs and kept until another fold's are needed."""
    examples_of = lru_cache(maxsize=1)(lambda protocol, number: inputs(data, data.fold(protocol, number)))
    grid = {}
    for number in settings.test_folds:
        for protocol in sorted(settings.protocols, key=("random", "speaker-independent").index):
            for system in systems_of(settings, protocol):
                grid[protocol, system, number] = [
                    system_training(lambda protocol=protocol, number=number: examples_of(protocol, number), system, protocol,
                                    data.fold(protocol, number), data.corpus, train_config(settings, seed, device))
                    for seed in settings.seeds]
    return grid


def committed_not_shown(data: Data, settings: Settings, outcomes: str | Path | None = None) -> int:
    """How many trainings of the full profile's grid on ``data`` whose (protocol, model, fold, seed)
    ``settings`` leave out are finished and committed in ``outcomes/`` (found by their identity: an
    outcome of other code or another corpus does not count)."""
    shown = {job.key for jobs in table2_trainings(data, settings).values() for job in jobs}
    full = replace(PROFILES["full"], corpus=settings.corpus)
    return sum(common.committed_outcome(job.key, job.digest, outcomes).exists()
               for jobs in table2_trainings(data, full).values() for job in jobs if job.key not in shown)


GRID_STAGES = 1  # the grid is planned once: no choice waits on stored outcomes


def training_grid(settings: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
                  device: str = "auto") -> list[common.Training]:
    """Every training of Table 2 on ``settings.corpus`` (for ``serlib reproduce --executor dask``)."""
    data = load_data(settings, data_root=data_root, cache=cache, progress=False)
    return [job for trainings in table2_trainings(data, settings, device).values() for job in trainings]


@dataclass
class Table2Outcomes:
    """Outcomes per (protocol, system, test fold), one per seed."""

    outcomes: dict[tuple[str, str, int], list[training.Outcome]]
    settings: Settings
    speakers: np.ndarray | None = None  # the speaker of each manifest row (the paired CIs resample speakers too)
    _differences: dict = field(default_factory=dict, repr=False)  # bootstraps already drawn

    def pooled(self, protocol: str, system: str) -> list[training.Outcome]:
        """Per seed, the test predictions of every test fold pooled."""
        return training.pool_folds_per_seed(self.outcomes[protocol, system, n] for n in self.settings.test_folds)

    @property
    def resampled(self) -> str:
        """What the paired bootstrap draws: "speakers and their utterances", or "utterances" where the speakers are unknown."""
        return "speakers and their utterances" if self.speakers is not None else "utterances"

    def test_speakers(self, protocol: str, system: str) -> int:
        """How many speakers ``system``'s pooled test utterances of ``protocol`` hold (0 when unknown)."""
        if self.speakers is None:
            return 0
        return len(np.unique(self.speakers[self.pooled(protocol, system)[0].levels["utterance"].utterance]))

    def difference(self, first: tuple[str, str], second: tuple[str, str], metric: str,
                   ci_level: float = 0.95) -> tuple[float, float, float]:
        """``metric`` of ``first`` (protocol, system) minus ``second``, with its paired ``ci_level`` CI
        over speakers and their utterances (drawn once per run and level: the tables, the results
        file and the verdict box share it)."""
        key = (first, second, metric, ci_level)
        if key not in self._differences:
            self._differences[key] = common.paired_difference(self.pooled(*first), self.pooled(*second), metric,
                                                              common.resamples(self.settings.n_boot, ci_level), self.speakers,
                                                              ci_level)
        return self._differences[key]


def run_table2(data: Data, settings: Settings, device: str = "auto", cache: str | Path | None = None, log=print) -> Table2Outcomes:
    """Every (protocol, system, fold, seed) training of Table 2."""
    table2_outcomes = Table2Outcomes({}, settings, data.manifest["speaker"].to_numpy())
    for (protocol, system, number), trainings in table2_trainings(data, settings, device).items():
        table2_outcomes.outcomes[protocol, system, number] = [job.run(cache) for job in trainings]
        ua = training.mean_score(table2_outcomes.outcomes[protocol, system, number], "UA")
        log(f"[{settings.profile}, {data.corpus}] {protocol:<19} fold {number} {system:<32} test UA {ua:.3f}")
    return table2_outcomes


# --------------------------------------------------------------------------- tables


def complexity(frames: int | None = None) -> pd.DataFrame:
    """Parameters of the eight models, and multiply-adds and frames per 4 s utterance: time
    pooling changes no parameter count (the paper says it "reduces the parameters by two in
    E-transformer module"); it halves the frames the transformer modules attend over."""
    frames = frames or HPARAMS.max_frames
    rows = []
    for system in SYSTEMS:
        model = make_model(system)
        adds = multiply_adds(model, frames)
        rows.append({"model": system, "parameters": parameter_count(model),
                     "frames into the transformer part": adds["frames after time pooling"] if model.transformers else None,
                     "multiply-adds per utterance (M)": round(adds["total"] / 1e6, 1),
                     "of which transformer part (M)": round(adds.get("transformer part", 0) / 1e6, 1)})
    return pd.DataFrame(rows).set_index("model")


#: How a results file's protocol names a run on part of the folds ("...; this run: test fold 1 of 5 only").
PART_RUN = "this run: "


def folds_tested(settings: Settings) -> str:
    """"" when ``settings`` test all folds, else which ("test fold 1", "test folds 4, 5"). A run on
    part of the folds says so in its protocol (:data:`PART_RUN`): a later run of all folds has
    another protocol text, so its file replaces the part's rows instead of merging with them."""
    if len(settings.test_folds) == HPARAMS.folds:
        return ""
    folds = sorted(settings.test_folds)
    return f"test fold{'s' if len(folds) > 1 else ''} {', '.join(map(str, folds))}"


def part_run(protocol: str) -> str:
    """The part of the folds a results file's ``protocol`` text says its run tested ("" for all)."""
    return protocol.partition(PART_RUN)[2]


def fold_part(settings: Settings) -> str:
    """"" when ``settings`` test all folds, else the part a page labels its numbers with ("test folds 1, 2 of 5 only")."""
    part = folds_tested(settings)
    return f"{part} of {HPARAMS.folds} only" if part else ""


def results_file(data: Data, table2_outcomes: Table2Outcomes, settings: Settings, device: str) -> results.ResultsFile:
    """Table 2 rows per system and protocol, test folds pooled, and the verdict's proposed − BaseN
    differences (:func:`difference_rows`). The paper's scores sit beside the random-fold scores on
    IEMOCAP only (its protocol and corpus); the speaker-independent rows on IEMOCAP are a labelled
    variant; a stand-in's scores carry no paper value (its differences carry the paper's)."""
    part = fold_part(settings)
    record = results.ResultsFile(paper=PAPER, corpus=data.corpus, profile=settings.profile, device=device,
                         seeds=list(settings.seeds), protocol=data.protocol + (f"; {PART_RUN}{part}" if part else ""),
                         started=data.started,
                         notes={"settings": asdict(settings), "hparams": asdict(HPARAMS), "sizes": asdict(SIZES),
                                "task": data.task.note})
    for protocol in settings.protocols:
        comparable = not data.task.stand_in and protocol == "random"
        variant = "" if protocol == "random" or data.task.stand_in else "speaker-independent folds"
        for system in systems_of(settings, protocol):
            pooled = table2_outcomes.pooled(protocol, system)
            for index, metric in enumerate(("WA", "UA")):
                record.add(results.ResultRow(
                    table="Table 2", row=system, column=f"{protocol} {HPARAMS.folds}-fold", metric=metric,
                    level="utterance", paper_value=PAPER_TABLE2[system][index] / 100 if comparable else None, variant=variant,
                    **results.summarise_seeds(pooled, "utterance", metric, settings.n_boot)))
        for row in difference_rows(table2_outcomes, protocol, variant):
            record.add(row)
    for row in inflation_rows(table2_outcomes, variant="" if data.task.stand_in else "speaker-independent folds"):
        record.add(row)
    record.training_seconds["Table 2"] = common.training_seconds(o for cell_outcomes in table2_outcomes.outcomes.values() for o in cell_outcomes)
    return record


def difference_rows(table2_outcomes: Table2Outcomes, protocol: str, variant: str = "",
                    ci_level: float | None = None) -> list[results.ResultRow]:
    """The verdict's comparisons as results rows: proposed − each BaseN (WA, UA) on ``protocol``'s
    folds, with the paired CI over the test speakers and their utterances at ``ci_level`` (default
    :func:`comparison_level`, the level the verdict judges them at) and, on the random folds, the
    paper's difference (its Table 2, IEMOCAP, random folds; the paper ran no speaker-independent
    protocol, so those rows carry none)."""
    settings = table2_outcomes.settings
    ci_level = comparison_level(table2_outcomes, protocol) if ci_level is None else ci_level
    rows = []
    for first, system in ablations(settings, protocol):
        for metric in ("WA", "UA"):
            value, low, high = table2_outcomes.difference((protocol, first), (protocol, system), metric, ci_level)
            rows.append(results.ResultRow(
                table="Table 2", row=results.difference_name(first, system), column=f"{protocol} {HPARAMS.folds}-fold",
                metric=metric, level="utterance",
                paper_value=round(paper_difference(first, system, metric) / 100, 6) if protocol == "random" else None,
                value=value, ci_low=low, ci_high=high, std=None, seeds=len(settings.seeds), variant=variant,
                quantity=results.DIFFERENCE, ci_level=ci_level))
    return rows


def paper_difference(first: str, second: str, metric: str) -> float:
    """``first`` − ``second`` in the paper's Table 2 (IEMOCAP, random folds; points, rounded as printed)."""
    index = ("WA", "UA").index(metric)
    return round(PAPER_TABLE2[first][index] - PAPER_TABLE2[second][index], 2)


def table2(record: results.ResultsFile) -> pd.DataFrame:
    """Ours (with 95 % CI) per system, protocol and metric, in the paper's order; a run on part of
    the folds says which in the caption."""
    table = results.ours_by_column(record, SYSTEMS)
    if part := part_run(record.protocol):
        table.attrs["caption"] = f"Pooled over {part} (a part of the grid)."
    return table


def paper_table(table: dict[str, tuple[float | None, float | None]]) -> pd.DataFrame:
    """A table of the paper (IEMOCAP, %), quoted as printed; Table 2 with our parameter count of
    each model beside it (the paper prints none)."""
    quoted = pd.DataFrame({"WA (%)": {k: v[0] for k, v in table.items()}, "UA (%)": {k: v[1] for k, v in table.items()}})
    if table is PAPER_TABLE2:
        quoted["parameters (ours)"] = [parameter_count(make_model(system)) for system in quoted.index]
    return quoted


def comparison_level(table2_outcomes: Table2Outcomes, protocol: str) -> float:
    """The CI level at which the verdict calls a proposed − BaseN difference established: 95 %
    corrected (Bonferroni) for the number of UA comparisons ``protocol`` makes."""
    return common.corrected_level(len(systems_of(table2_outcomes.settings, protocol)) - 1)


def ablations(settings: Settings, protocol: str) -> list[tuple[str, str]]:
    """The verdict's comparisons on ``protocol``'s folds: (proposed, BaseN) for each ablation run."""
    run = systems_of(settings, protocol)
    return [("proposed", system) for system in run if system != "proposed"] if "proposed" in run else []


def differences(table2_outcomes: Table2Outcomes, protocol: str, ci_level: float | None = None,
                pairs: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Per pair (``left`` − ``system``; default :func:`ablations`, at :func:`comparison_level`) and
    metric: ours in points with its paired CI (``low``, ``high``) beside the ``paper``'s difference
    on its random folds (on the speaker-independent folds: the sign to look for)."""
    pairs = ablations(table2_outcomes.settings, protocol) if pairs is None else pairs
    level = comparison_level(table2_outcomes, protocol) if ci_level is None else ci_level
    rows = []
    for first, second in pairs:
        for metric in ("WA", "UA"):
            value, low, high = table2_outcomes.difference((protocol, first), (protocol, second), metric, level)
            rows.append({"left": first, "system": second, "metric": metric, "ours": 100 * value, "low": 100 * low,
                         "high": 100 * high, "paper": paper_difference(first, second, metric)})
    return pd.DataFrame(rows, columns=["left", "system", "metric", "ours", "low", "high", "paper"])


def error_share(difference: float, baseline: float) -> float:
    """The share of the baseline's error that a gain of ``difference`` points removes (both in
    points): +5 over a baseline at 90 % removes half its 10 points of error, +5 over one at 60 %
    an eighth. Near the ceiling the same gain in points is a larger share."""
    return difference / (100 - baseline)


def pooled_score(table2_outcomes: Table2Outcomes, protocol: str, system: str, metric: str = "UA") -> float:
    """``system``'s ``metric`` on ``protocol``'s pooled test folds (points, mean over seeds)."""
    return 100 * training.mean_score(table2_outcomes.pooled(protocol, system), metric)


#: The column of :func:`contributions` that sets our error share beside the paper's (random folds
#: only: the paper ran no speaker-independent protocol, so it has no share to set beside ours there).
ERROR_SHARE = "BaseN's UA error removed: ours (where established) / paper"


def contributions(table2_outcomes: Table2Outcomes, protocol: str) -> pd.DataFrame:
    """Proposed − each ablation (points of WA and UA, paired bootstrap CI over speakers and their
    utterances at :func:`comparison_level`, the verdict's level), beside the paper's difference, and
    whether our CI establishes the paper's sign; and, on the random folds, the share of BaseN's UA
    error each removes beside the paper's share."""
    level = comparison_level(table2_outcomes, protocol)
    found = differences(table2_outcomes, protocol, level)
    if not len(found):
        return pd.DataFrame()
    paper_label = "paper" if protocol == "random" else "paper (its random folds)"
    table = common.comparison_cells(found, lambda row: row.system, paper_label)
    if protocol == "random":
        for _, row in found[found["metric"] == "UA"].iterrows():
            ours = (f"{error_share(row.ours, pooled_score(table2_outcomes, protocol, row.system)):.0%}"
                    if row.low > 0 or row.high < 0 else "–")
            table[row.system][ERROR_SHARE] = f"{ours} / {error_share(row.paper, PAPER_TABLE2[row.system][1]):.0%}"
    frame = pd.DataFrame(table).T.rename_axis("proposed − ...")
    corrected = f"at {100 * level:.1f} % ({common.correction(len(table))})" if len(table) > 1 else (
        "at 95 % (one comparison: no correction)")
    caption = [f"Paired bootstrap CIs {corrected}, "
               f"{common.resamples(table2_outcomes.settings.n_boot, level)} resamples of the test {table2_outcomes.resampled}."]
    if speakers := table2_outcomes.test_speakers(protocol, "proposed"):
        caption.append(f"The test utterances come from {speakers} speakers, all of them also in training." if protocol == "random"
                       else f"The test utterances come from {speakers} held-out speakers: with so few for the bootstrap "
                            "to draw, these CIs say little about how the difference carries to other speakers.")
    if protocol == "random":
        ours_range = [pooled_score(table2_outcomes, protocol, system) for system in systems_of(table2_outcomes.settings, protocol)]
        papers_range = [ua for _, ua in PAPER_TABLE2.values()]
        caption.append(f"The last column: the share of BaseN's UA error (100 − its UA) that the proposed model removes, ours "
                       f"where the CI excludes 0 and the paper's. Our models score {min(ours_range):.1f}–{max(ours_range):.1f} % "
                       f"UA here, the paper's {min(papers_range):.1f}–{max(papers_range):.1f} % on IEMOCAP: the same gain in "
                       "points removes a larger share nearer the ceiling.")
    else:
        caption.append("The paper ran no speaker-independent protocol: its columns are its random-fold differences, the "
                       "sign to look for (and so no share of error removed is set beside ours here).")
    frame.attrs["caption"] = " ".join(caption)
    return frame


@dataclass(frozen=True)
class PaperPair:
    """One of §3.3's comparisons that leave the proposed model out: what the paper credits the
    difference to, and what it measures with Base6 as this page builds it and as Conv + plain BLSTMs."""

    first: str
    second: str
    credited: str
    with_our_base6: str
    with_plain_base6: str


#: The paper's other comparisons of §3.3 (Table 2, random folds).
PAPER_PAIRS = (
    PaperPair("Base5: Conv-residual-BLSTM", "Base6: Conv-BLSTM", '"applying residual connection to BLSTM"',
              "the residual connection alone", "the residual connection and the FFN"),
    PaperPair("Base6: Conv-BLSTM", "Base7: BLSTM (baseline)", '"adding CNN layer as the front-end"',
              "the 3-Conv-layers front and the FFN", "the 3-Conv-layers front alone"),
)


def paper_pairs(table2_outcomes: Table2Outcomes, protocol: str = "random") -> pd.DataFrame:
    """The paper's other two claims of §3.3 (:data:`PAPER_PAIRS`), ours with a paired 95 % CI (not
    corrected: they are not among the verdict's comparisons) beside the paper's difference; the
    caption says what the paper credits each to and what each measures under either reading of Base6."""
    run = systems_of(table2_outcomes.settings, protocol)
    chosen = [pair for pair in PAPER_PAIRS if pair.first in run and pair.second in run]
    if not chosen:
        return pd.DataFrame()
    found = differences(table2_outcomes, protocol, 0.95, [(pair.first, pair.second) for pair in chosen])
    frame = pd.DataFrame(common.comparison_cells(found, lambda row: f"{short_name(row['left'])} − {short_name(row.system)}")).T
    frame.attrs["caption"] = " ".join(
        [f"{protocol.capitalize()} folds; paired bootstrap CIs at 95 %, not corrected (not among the verdict's comparisons), "
         f"{common.resamples(table2_outcomes.settings.n_boot, 0.95)} resamples of the test {table2_outcomes.resampled}."]
        + [f"{short_name(pair.first)} − {short_name(pair.second)}: §3.3 credits it to {pair.credited}; it measures "
           f"{pair.with_our_base6} with this page's Base6, {pair.with_plain_base6} with Base6 as Conv + plain BLSTMs."
           for pair in chosen])
    return frame


def per_fold_scores(table2_outcomes: Table2Outcomes, metric: str = "UA") -> pd.DataFrame:
    """Per protocol and model, ``metric`` (%) on each test fold and on the folds pooled (mean over
    seeds): how much a pooled score hides from one fold to the next."""
    settings = table2_outcomes.settings
    rows = {}
    for protocol in settings.protocols:
        for system in systems_of(settings, protocol):
            entry = rows.setdefault((protocol, system), {})
            for number in settings.test_folds:
                entry[f"fold {number}"] = 100 * training.mean_score(table2_outcomes.outcomes[protocol, system, number], metric)
            entry["pooled"] = pooled_score(table2_outcomes, protocol, system, metric)
    frame = pd.DataFrame(rows).T.rename_axis(["protocol", "model"]).round(1)
    seeds = settings.seeds
    frame.attrs["caption"] = (f"{metric} (%) of each test fold: " + (f"one training each (seed {seeds[0]})." if len(seeds) == 1
                              else f"the mean over {len(seeds)} trainings (seeds {common.listed([str(s) for s in seeds])})."))
    return frame


def per_class_recall(table2_outcomes: Table2Outcomes, protocol: str) -> pd.DataFrame:
    """Recall (%) of each class per model on ``protocol``'s pooled test folds, unrounded: the
    diagonals of the confusion matrices (§3.4 reads its Fig. 3 per emotion)."""
    run = systems_of(table2_outcomes.settings, protocol)
    n_classes = len(common.FOUR_CLASSES)
    return pd.DataFrame({system: 100 * training.pooled_recalls(table2_outcomes.pooled(protocol, system), "utterance", n_classes)
                         for system in run},
                        index=list(common.FOUR_CLASSES)).T.rename_axis("model")


def best_per_class(recall: pd.DataFrame, among: tuple[str, ...] = CONFUSION_SYSTEMS) -> str:
    """§3.4's claim checked on ``recall`` (:func:`per_class_recall`): in how many classes the
    proposed model has the highest recall of the models ``among`` (the paper: three of four, all
    but happy, of its Fig. 3's four models); a check on fewer of them than ran says it is not the paper's."""
    shown = recall.loc[[s for s in among if s in recall.index]]
    if "proposed" not in shown.index or len(shown) < 2:
        return ""
    others = shown.drop(index="proposed")
    best = [c for c in shown.columns if shown.loc["proposed", c] > others[c].max()]
    tied = [c for c in shown.columns if shown.loc["proposed", c] == others[c].max()]
    beaten = ", ".join(f"{c} ({short_name(others[c].idxmax())})" for c in shown.columns if c not in best + tied)
    ranked = np.sort(shown.to_numpy(), axis=0)
    margins = ranked[-1] - ranked[-2]  # per class: the best recall minus the next best
    line = (f"Of the {len(shown)} models of our Fig. 3, the proposed model has the highest recall in {len(best)} of "
            f"{len(shown.columns)} classes ({common.listed(best) or 'none'})" + (f", tied in {common.listed(tied)}" if tied else "")
            + (f"; another is higher in {beaten}" if beaten else "") + ". The best recall of a class leads the next by "
            + (f"{margins.min():.1f}" if margins.min() == margins.max() else f"{margins.min():.1f}–{margins.max():.1f}")
            + " points; no CI is computed, so no lead is tested.")
    if len(shown) < len(among):
        return line + f" The paper's claim compares {len(among)} models, so this is not its check."
    return line + " The paper: best in three of four, all but happy."


def stopped_by_cap(table2_outcomes: Table2Outcomes, patience: int = HPARAMS.patience) -> list[str]:
    """The systems (``proposed``, ``Base1``, ...) of which some training the epoch cap ended, not
    early stopping: it reached the cap with its validation UA (which selects the kept epoch) risen
    within its last ``patience`` epochs, so that longer training might have gained more."""
    cap = table2_outcomes.settings.epochs
    return sorted({short_name(system) for (_, system, _), outcomes in table2_outcomes.outcomes.items()
                   for outcome in outcomes
                   if len(outcome.history) == cap and outcome.kept_epoch(HPARAMS.select_metric) > cap - patience})


def verdict_box(table2_outcomes: Table2Outcomes, corpus: str, profile: str, iemocap_ran: bool,
                committed: int = 0) -> str:
    """The page's opening box: what this run reproduced, what it could not, and why; ``committed``:
    how many trainings of the full grid not on the page are finished (:func:`committed_not_shown`)."""
    lines = []
    if profile != "full":
        lines.append(f"**Profile `{profile}`:** a test of the code on a few utterances, **not a reproduction**; no "
                     "number on this page is a result.")
    task = common.session_task(corpus)
    where = f"the **{corpora.display_name(corpus)}** stand-in" if task.stand_in else f"**{corpora.display_name(corpus)}**"
    trained = "; ".join(f"{len(systems_of(table2_outcomes.settings, protocol))} of Table 2's 8 models on the {protocol} folds"
                        for protocol in table2_outcomes.settings.protocols)
    folds = table2_outcomes.settings.test_folds
    tested = (f"all {HPARAMS.folds} test folds" if len(folds) == HPARAMS.folds else
              f"test fold{'s' if len(folds) > 1 else ''} {common.listed([str(f) for f in folds])} of {HPARAMS.folds}")
    lines.append(f"**Ran on** {where} ({tested}, in each protocol): {trained}.")
    if profile == "full" and (missing := not_yet_run(table2_outcomes.settings)):
        ran, full = grid_size(table2_outcomes.settings), grid_size(PROFILES["full"])
        waiting = f" ({committed} of them already trained and committed)" if committed else ""
        lines.append(f"**Part of the grid:** this page rests on {ran} of the full protocol's {full} trainings; the other "
                     f"{full - ran} ({'; '.join(missing)}) are not on it yet{waiting}. Each is committed to `outcomes/` as it "
                     "finishes; a test fold joins this page once every model of both protocols has finished it and the page "
                     "is regenerated.")
    if profile == "full" and (capped := stopped_by_cap(table2_outcomes)):
        cap = table2_outcomes.settings.epochs
        lines.append(f"**Stopped by the {cap}-epoch cap, not by early stopping:** {common.listed(capped)} in at least one "
                     f"training (its validation UA had risen within its last {HPARAMS.patience} epochs), so "
                     f"{'their' if len(capped) > 1 else 'its'} numbers may understate what longer training gives "
                     "([epochs](etransformer-epochs)).")
    for protocol in table2_outcomes.settings.protocols:
        level = comparison_level(table2_outcomes, protocol)
        found = differences(table2_outcomes, protocol, level)
        ua = found[found["metric"] == "UA"]
        if len(ua):
            verdicts = [common.sign_agreement(r.low, r.high, r.paper) for r in ua.itertuples()]
            established = [r.system for r, v in zip(ua.itertuples(), verdicts) if v in ("agrees", "opposite")]
            ours = dict(zip(ua["system"], ua["ours"]))
            judged = (f"{len(verdicts)} comparisons, each judged on a {100 * level:.1f} % CI over "
                      f"{table2_outcomes.resampled} ({common.correction(len(verdicts))})" if len(verdicts) > 1
                      else f"1 comparison, judged on a 95 % CI over {table2_outcomes.resampled}")
            caveats = []
            if "Base6: Conv-BLSTM" in established:
                caveats.append("Base6 is built as this page reads §3.3, with the FFN and without the skip; read as Conv + "
                               "plain BLSTMs it would be another model ([choices](etransformer-choices)).")
            if established and len(table2_outcomes.settings.seeds) == 1:
                caveats.append("One seed each: a difference near the edge of its CI may not survive another.")
            sign = "the paper's sign" if protocol == "random" else "the sign of the paper's random-fold difference"
            lines.append(" ".join([f"**Components, {protocol} folds (proposed − BaseN, UA):** {judged}: "
                                   f"{sign} is established for {verdicts.count('agrees')}, "
                                   f"the opposite sign for {verdicts.count('opposite')}, neither for "
                                   f"{verdicts.count('not established')}"
                                   + (f"; established: {', '.join(f'{short_name(name)} ({ours[name]:+.1f})' for name in established)}"
                                      if established else "")
                                   + " ([the table](etransformer-contributions))."] + caveats))
    if gaps := [row for row in inflation_rows(table2_outcomes) if row.metric == "UA"]:
        first, total = kept_first_epoch(table2_outcomes, "speaker-independent")
        first_epoch_note = (" A speaker-independent fold also chooses its kept epoch on a single validation actor: "
                            f"{first} of its {total} trainings kept their first epoch ([epochs](etransformer-epochs)), so "
                            "part of the gap may be that weaker choice rather than the speakers." if first else "")
        each = [f"{short_name(row.row)} {common.signed_ci(row.value, row.ci_low, row.ci_high)}" for row in gaps]
        lines.append(f"**Random − speaker-independent folds** (UA points, 95 % CI, on the same utterances): "
                     f"{common.listed(each)}: the model{'s' if len(gaps) > 1 else ''} run under both protocols. The gap "
                     "holds what a random fold adds: the test actors in training and in validation, and somewhat more "
                     "training utterances ([inflation](etransformer-inflation))." + first_epoch_note)
    if not iemocap_ran:
        lines.append("**Not reproduced here:** Tables 1 and 2 on IEMOCAP (licence-gated): the paper's numbers are "
                     "quoted, and a stand-in's scores are never set beside them: only differences between two of "
                     "its models (proposed − BaseN) are set beside the paper's.")
    return "\n\n".join(lines)


#: The two protocols whose difference measures what shared speakers add: random minus speaker-independent.
INFLATION = ("random", "speaker-independent")


def inflation_rows(table2_outcomes: Table2Outcomes, variant: str = "") -> list[results.ResultRow]:
    """Random − speaker-independent folds per system (WA, UA; paired 95 % CI over speakers and their
    utterances, on the utterances both protocols tested: every one with all five folds): how much
    shared speakers inflate the scores. None unless both protocols ran."""
    settings = table2_outcomes.settings
    if set(PROTOCOLS) - set(settings.protocols):
        return []
    column = results.difference_name(*(f"{protocol} {HPARAMS.folds}-fold" for protocol in INFLATION))
    rows = []
    for system in systems_of(settings, "speaker-independent"):
        for metric in ("WA", "UA"):
            value, low, high = table2_outcomes.difference(*((protocol, system) for protocol in INFLATION), metric)
            rows.append(results.ResultRow(table="Table 2", row=system, column=column, metric=metric, level="utterance",
                                          paper_value=None, value=value, ci_low=low, ci_high=high, std=None,
                                          seeds=len(settings.seeds), variant=variant, quantity=results.DIFFERENCE))
    return rows


def inflation(table2_outcomes: Table2Outcomes, data: Data | None = None) -> pd.DataFrame:
    """:func:`inflation_rows` in points, one line per system; the caption says on how many
    utterances (fewer than the corpus where only some test folds ran) and, given the ``data``, how
    many utterances each protocol's tested folds train on."""
    found = inflation_rows(table2_outcomes)
    if not found:
        return pd.DataFrame()
    lines = {}
    for row in found:
        lines.setdefault(row.row, {})[f"{row.metric}: {results.difference_name(*INFLATION)}"] = common.signed_ci(
            row.value, row.ci_low, row.ci_high)
    table = pd.DataFrame(lines).T
    tested = [set(table2_outcomes.pooled(protocol, found[0].row)[0].levels["utterance"].utterance) for protocol in INFLATION]
    both = len(tested[0] & tested[1])
    of = f" of the {len(table2_outcomes.speakers)}" if table2_outcomes.speakers is not None else ""
    table.attrs["caption"] = (f"Paired 95 % CIs, {common.resamples(table2_outcomes.settings.n_boot, 0.95)} resamples of the test "
                              f"{table2_outcomes.resampled}, on the {both}{of} utterances both protocols tested.")
    if data is not None:
        sizes = {protocol: [len(data.fold(protocol, n).train) for n in table2_outcomes.settings.test_folds] for protocol in INFLATION}
        table.attrs["caption"] += (f" Training utterances per tested fold: {value_range(sizes['random'])} on the random "
                                   f"folds, {value_range(sizes['speaker-independent'])} on the speaker-independent ones.")
    return table


def confusion(table2_outcomes: Table2Outcomes, protocol: str, system: str) -> np.ndarray:
    """Row-normalised confusion matrix of ``system``'s pooled test predictions (seeds summed)."""
    return training.pooled_confusion(table2_outcomes.pooled(protocol, system), "utterance", len(common.FOUR_CLASSES))


def kept_first_epoch(table2_outcomes: Table2Outcomes, protocol: str) -> tuple[int, int]:
    """How many of ``protocol``'s trainings kept their first epoch (best validation UA there), of
    how many: a model chosen before it has trained much, as the speaker-independent folds' one
    validation actor can choose (outcomes without a history, as tests build them, are not counted)."""
    kept = [outcome.kept_epoch(HPARAMS.select_metric) for (each, _, _), outcomes in table2_outcomes.outcomes.items()
            if each == protocol for outcome in outcomes if outcome.history]
    return kept.count(1), len(kept)


def epochs_table(table2_outcomes: Table2Outcomes) -> pd.DataFrame:
    """Per protocol and model: the epoch kept (best validation UA), the last epoch trained (early
    stopping: :data:`HPARAMS` ``patience`` epochs without a gain, at most ``max_epochs``) and the
    training time its history records, as the range over test folds and seeds; the caption counts
    the trainings that kept their first epoch (:func:`kept_first_epoch`)."""
    rows = {}
    for (protocol, system, _), outcomes in table2_outcomes.outcomes.items():
        entry = rows.setdefault((protocol, system), {"kept": [], "last": [], "minutes": []})
        for outcome in outcomes:
            entry["kept"].append(outcome.kept_epoch(HPARAMS.select_metric))
            entry["last"].append(len(outcome.history))
            if np.isfinite(seconds := outcome.training_seconds()):
                entry["minutes"].append(round(seconds / 60))
    table = pd.DataFrame({key: {"epoch kept": value_range(v["kept"]), "last epoch": value_range(v["last"]),
                                "stopped early": f"{sum(last < table2_outcomes.settings.epochs for last in v['last'])} of {len(v['last'])}",
                                "training (min)": value_range(v["minutes"]) if v["minutes"] else "not recorded"}
                          for key, v in rows.items()}).T.rename_axis(["protocol", "model"])
    first = [f"{kept} of the {total} trainings on the {protocol} folds" for protocol in table2_outcomes.settings.protocols
             for kept, total in [kept_first_epoch(table2_outcomes, protocol)] if kept]
    if first:
        table.attrs["caption"] = (f"Kept their first epoch (the best validation UA came at once, so the model tested is "
                                  f"one epoch's): {common.listed(first)}.")
    return table


def describe_folds(data: Data, settings: Settings) -> pd.DataFrame:
    """Per protocol and test fold: utterances per part and the test fold's speakers."""
    rows = []
    for protocol in settings.protocols:
        for number in settings.test_folds:
            fold = data.fold(protocol, number)
            test_speakers = sorted(data.manifest["speaker"].iloc[fold.test].unique())
            rows.append({"protocol": protocol, "fold": number, "train": len(fold.train), "validation": len(fold.val),
                         "test": len(fold.test), "test speakers": ", ".join(test_speakers) if len(test_speakers) <= 3
                         else f"all {len(test_speakers)}", "speaker-disjoint": fold.speaker_independent})
    return pd.DataFrame(rows).set_index(["protocol", "fold"])


def ordering_summary(rows: pd.DataFrame) -> str:
    """One line for the summary's scoreboard: for how many proposed − BaseN differences (and which)
    our CI establishes the paper's sign, first (an ordering alone hides how close the models are), then
    our UA ordering of the models on the random folds by point score vs the paper's Table 2 (IEMOCAP)."""
    judged = results.differences(rows)
    judged = judged[(judged["table"] == "Table 2") & (judged["metric"] == "UA") & judged["column"].str.startswith("random")
                    & judged["row"].str.startswith(f"proposed{results.MINUS}")]
    verdicts = [common.sign_agreement(100 * low, 100 * high, 100 * paper)
                for low, high, paper in zip(judged["ci_low"], judged["ci_high"], judged["paper_value"])]
    agreeing = [short_name(row.partition(results.MINUS)[2]) for row, verdict in zip(judged["row"], verdicts) if verdict == "agrees"]
    rows = results.scores(rows)
    random_folds = rows[(rows["table"] == "Table 2") & (rows["metric"] == "UA") & rows["column"].str.startswith("random")]
    short = {system: short_name(system) for system in random_folds["row"]}
    line = common.ordering_line({short[s]: v for s, v in zip(random_folds["row"], random_folds["value"])},
                                {short[s]: PAPER_TABLE2[s][1] for s in random_folds["row"]}, "UA")
    part = part_run(str(random_folds["protocol"].iloc[0])) if len(random_folds) and "protocol" in random_folds else ""
    judged = (f"proposed − BaseN: the paper's sign established for {verdicts.count('agrees')} of {len(verdicts)}"
              + (f" ({', '.join(agreeing)})" if agreeing else "")
              + f", the opposite for {verdicts.count('opposite')}; ") if verdicts else ""
    return f"random folds, {judged}by point score, " + line + (f"; {part}" if part else "")
