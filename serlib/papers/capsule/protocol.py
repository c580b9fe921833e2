"""The capsule paper's protocol: each network's learning rate chosen on the validation actor, then
the tables' trainings at that rate (:func:`run_protocol`), the same trainings as a grid
(:func:`training_grid`), and the tables without a validation speaker (:func:`run_table`, FAU-Aibo)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from serlib import results, splits, training
from serlib.papers import common
from serlib.papers.capsule.config import HPARAMS, SYSTEMS, Settings, Variant, variant
from serlib.papers.capsule.data import Corpus, load_acted, table2_split, table3_splits
from serlib.papers.capsule.trainings import is_network, system_training, train_system


@dataclass(frozen=True)
class LearningRateChoice:
    """The rate the validation actor chose for one system and task (of a variant): every
    candidate's utterance-level validation UA at its kept epoch, and its test UA, kept for
    information only (it never chooses)."""

    system: str
    task: str
    chosen: float
    validation_ua: dict[float, float]
    test_ua: dict[float, float]
    variant: str = ""
    kept_epoch: int | None = None  # the epoch the validation actor kept at the chosen rate

    def record(self) -> dict:
        return {"system": SYSTEMS[self.system][0], "task": self.task, "variant": self.variant, "chosen": self.chosen,
                "kept epoch": self.kept_epoch,
                **{f"validation UA @ {r:g}": v for r, v in self.validation_ua.items()},
                **{f"test UA @ {r:g}": v for r, v in self.test_ua.items()}}


def choose_learning_rate(candidates: Mapping[float, training.Outcome]) -> float:
    """The candidate whose kept epoch has the best utterance-level validation UA; ties keep the
    earlier candidate."""
    rates = list(candidates)
    return max(rates, key=lambda rate: (candidates[rate].validation_score(HPARAMS.select_metric, HPARAMS.select_level),
                                        -rates.index(rate)))


@dataclass(frozen=True)
class Cell:
    """One (table, system, task) of the protocol, of the paper's protocol or of a labelled variant."""

    table: str
    system: str
    task: str
    variant: str = ""


def protocol_cells(corpus: Corpus, settings: Settings) -> list[Cell]:
    """Every cell the settings ask for on this corpus: Table 2, Table 3, then the variants (each
    in the table it is reported beside)."""
    tasks = [t for t in settings.tasks if t in corpus.tasks]
    table3_tasks = [t for t in settings.table3_tasks or tasks if t in corpus.tasks]
    variant_tasks = [t for t in settings.variant_tasks if t in corpus.tasks]
    return ([Cell("Table 2", system, task) for task in tasks for system in settings.table2_systems]
            + [Cell("Table 3", system, task) for task in table3_tasks for system in settings.table3_systems]
            + [Cell(variant(name).table, system, task, name) for name in settings.variants for task in variant_tasks
               for system in variant(name).systems])


def training_variant(cell: Cell) -> Variant | None:
    """The cell's variant where it changes the trainings (its model or its windows); None for the
    paper protocol and for a variant that only moves a system to Table 2's split (that one trains
    the paper protocol's model and shares its trainings and rate)."""
    chosen = variant(cell.variant) if cell.variant else None
    return chosen if chosen is not None and chosen.changes_training else None


def rate_variant(cell: Cell) -> Variant | None:
    """The cell's variant where it chooses its own learning rate (it changes the network)."""
    chosen = training_variant(cell)
    return chosen if chosen is not None and chosen.chooses_own_rate else None


def table_runs(corpus: Corpus, table: str, settings: Settings) -> list[tuple[splits.Split, int]]:
    """(split, seed) of each run of ``table``: Table 2 (and every variant) trains its one split
    once per seed; Table 3 trains split i with seed i."""
    if table == "Table 2":
        return [(table2_split(corpus, settings), seed) for seed in range(settings.table2_seeds)]
    return [(split, seed) for seed, split in enumerate(table3_splits(corpus, settings))]


def rate_candidates(corpus: Corpus, cell: Cell, settings: Settings, device: str = "auto",
                    cache: str | Path | None = None) -> dict[float, common.Training]:
    """The trainings that choose a network's learning rate for a task, once per system and task
    (and variant that changes the network), whatever table the cell is in: one per candidate on Table 2's split, whose
    validation actor chooses (seed 0). None for an SVM."""
    if not is_network(cell.system):
        return {}
    split = table2_split(corpus, settings)
    return {rate: system_training(corpus, "Table 2", cell.system, corpus.tasks[cell.task], split, 0, settings, rate,
                                  device, cache, rate_variant(cell))
            for rate in settings.learning_rates}


def rate_choice(cell: Cell, candidates: Mapping[float, training.Outcome]) -> LearningRateChoice:
    """Validation's choice among the candidates' outcomes."""
    chosen = choose_learning_rate(candidates)
    kept = candidates[chosen].kept_epoch(HPARAMS.select_metric, HPARAMS.select_level)
    return LearningRateChoice(
        cell.system, cell.task, chosen,
        {r: o.validation_score(HPARAMS.select_metric, HPARAMS.select_level) for r, o in candidates.items()},
        {r: o.levels["utterance"].score("UA") for r, o in candidates.items()}, cell.variant if rate_variant(cell) else "", kept)


def cell_trainings(corpus: Corpus, cell: Cell, learning_rate: float, settings: Settings, device: str = "auto",
                   cache: str | Path | None = None) -> list[common.Training]:
    """The trainings of ``cell`` at the chosen ``learning_rate`` (Table 2's seed 0 is the candidate that
    won, unless a variant changes the windows). A variant trains on Table 2's split, whatever table
    it is reported beside."""
    task, table = corpus.tasks[cell.task], "Table 2" if cell.variant else cell.table
    return [system_training(corpus, table, cell.system, task, split, seed, settings, learning_rate, device, cache, training_variant(cell))
            for split, seed in table_runs(corpus, table, settings)]


@dataclass
class TableOutcomes:
    """What running one table returns: outcomes per (system, task) (one per run), the learning
    rate each used, and the training time of those trainings."""

    outcomes: dict[tuple[str, str], list[training.Outcome]] = field(default_factory=dict)
    rates: dict[tuple[str, str], float] = field(default_factory=dict)
    training_seconds: float = 0.0


@dataclass
class ProtocolOutcomes:
    """Tables 2 and 3 and the variants: the learning rates validation chose (with every
    candidate's scores), each table's outcomes, and the variants' outcomes by name."""

    choices: dict[tuple[str, str, str], LearningRateChoice] = field(default_factory=dict)
    tables: dict[str, TableOutcomes] = field(default_factory=dict)
    variants: dict[str, TableOutcomes] = field(default_factory=dict)
    choice_seconds: float = 0.0

    def table(self, cell: Cell) -> TableOutcomes:
        return (self.variants if cell.variant else self.tables).setdefault(cell.variant or cell.table, TableOutcomes())

    def chosen_rates(self) -> dict[tuple[str, str], float]:
        """The paper-protocol rates by (system, task), for tables without a validation speaker (FAU-Aibo) to reuse."""
        return {(system, task): choice.chosen for (system, task, name), choice in self.choices.items() if not name}


@dataclass(frozen=True)
class CellPlan:
    """One cell's trainings and where its learning rate comes from: the rate candidates (none for
    an SVM), validation's choice among them (None until every candidate is stored), the rate, and
    the table's trainings at that rate (none until the rate is known)."""

    cell: Cell
    candidates: dict[float, common.Training]
    candidate_outcomes: dict[float, training.Outcome]  # read (or trained) where the choice was made
    choice: LearningRateChoice | None
    rate: float | None
    trainings: list[common.Training]


def plan_cell(corpus: Corpus, cell: Cell, settings: Settings, device: str = "auto", cache: str | Path | None = None,
              train_candidates: bool = False) -> CellPlan:
    """The one place a cell's learning rate is chosen: the page (:func:`run_protocol`, which trains
    the candidates, ``train_candidates``), ``--plan`` and the grid (:func:`training_grid`, which
    reads them only once all are stored) consume this plan."""
    candidates = rate_candidates(corpus, cell, settings, device, cache)
    choice, outcomes = None, {}
    if candidates and (train_candidates or all(job.done(cache) for job in candidates.values())):
        outcomes = {rate: job.run(cache) for rate, job in candidates.items()}
        choice = rate_choice(cell, outcomes)
    rate = choice.chosen if choice else None if candidates else HPARAMS.learning_rate
    trainings = [] if rate is None else cell_trainings(corpus, cell, rate, settings, device, cache)
    return CellPlan(cell, candidates, outcomes, choice, rate, trainings)


def run_protocol(corpus: Corpus, settings: Settings, device: str = "auto", cache: str | Path | None = None,
                 log=print) -> ProtocolOutcomes:
    """Every cell of :func:`protocol_cells`: each network's learning rate chosen once per system and
    task on the validation actor (utterance-level UA; :func:`plan_cell`), then the table's trainings at that rate."""
    out, candidate_digests = ProtocolOutcomes(), set()
    for cell in protocol_cells(corpus, settings):
        plan = plan_cell(corpus, cell, settings, device, cache, train_candidates=True)
        choice_key = (cell.system, cell.task, cell.variant if rate_variant(cell) else "")
        if plan.choice is not None and choice_key not in out.choices:
            candidate_digests |= {job.digest for job in plan.candidates.values()}
            out.choice_seconds += sum(o.training_seconds() for o in plan.candidate_outcomes.values())
            out.choices[choice_key] = plan.choice
        cell_outcomes = [job.run(cache) for job in plan.trainings]
        table = out.table(cell)
        table.outcomes[cell.system, cell.task], table.rates[cell.system, cell.task] = cell_outcomes, plan.rate
        table.training_seconds += sum(o.training_seconds() for job, o in zip(plan.trainings, cell_outcomes)
                                      if job.digest not in candidate_digests)  # a winning candidate counts once
        log(cell_line(settings, corpus, cell.variant or cell.table, cell.task, cell.system, plan.rate, cell_outcomes))
    return out


def cell_line(settings: Settings, corpus: Corpus, label: str, task: str, system: str, rate: float,
              cell_outcomes: Sequence[training.Outcome]) -> str:
    """The log line of one cell's outcomes: profile, corpus, rate and utterance UA (mean ± std)."""
    uar = [o.levels["utterance"].score("UA") for o in cell_outcomes]
    return (f"[{settings.profile}, {corpus.name}] {label} {task:<18} {SYSTEMS[system][0]:<34} "
            f"{f'lr {rate:g}' if is_network(system) else 'no lr'}, {len(cell_outcomes)} training(s): "
            f"utterance UA {results.mean_and_spread(float(np.mean(uar)), results.spread(uar))}")


#: :func:`training_grid` comes in two stages: the rate candidates, then the table's trainings at the chosen rate.
GRID_STAGES = 2


def training_grid(settings: Settings, data_root: str | Path | None = None, cache: str | Path | None = None,
                  device: str = "auto") -> list[common.Training]:
    """The protocol's trainings (for ``serlib reproduce --executor dask`` and resumable grids), in two
    stages: every learning-rate candidate, and the table trainings of each cell whose candidates are all
    stored (the rate they chose decides those trainings). :func:`serlib.jobs.train_grid` plans again until
    no stage is left."""
    corpus = load_acted(settings, data_root, cache, progress=False)
    grid: dict[str, common.Training] = {}
    for cell in protocol_cells(corpus, settings):
        plan = plan_cell(corpus, cell, settings, device, cache)
        grid.update({job.digest: job for job in [*plan.candidates.values(), *plan.trainings]})
    return list(grid.values())


def run_table(corpus: Corpus, table: str, systems: Sequence[str], table_splits: Sequence[splits.Split], settings: Settings,
              device: str = "auto", cache: str | Path | None = None, tasks: Sequence[str] | None = None,
              reuse_rates: Mapping[tuple[str, str], float] | None = None, log=print) -> TableOutcomes:
    """Every system × task over ``table_splits`` without a validation speaker (FAU-Aibo; split i
    trains with seed i), each network at ``reuse_rates[(system, task)]`` (the rate RAVDESS's
    validation actor chose), else the default rate."""
    out = TableOutcomes()
    for task_name in tasks or list(corpus.tasks):
        task = corpus.tasks[task_name]
        for system in systems:
            rate = (reuse_rates or {}).get((system, task_name), HPARAMS.learning_rate)
            cell_outcomes = [train_system(corpus, table, system, task, split, seed, settings, rate, device, cache)
                    for seed, split in enumerate(table_splits)]
            out.outcomes[system, task_name], out.rates[system, task_name] = cell_outcomes, rate
            out.training_seconds += sum(o.training_seconds() for o in cell_outcomes)
            log(cell_line(settings, corpus, table, task_name, system, rate, cell_outcomes))
    return out
