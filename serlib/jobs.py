"""A paper's training grid as job specs, run here or on a Dask cluster (``serlib reproduce --executor``).

A paper module that defines ``training_grid(settings, data_root, cache, device)`` (a list of
:class:`~serlib.papers.common.Training`) can have its grid run before its notebook:

1. :func:`plan` expands the grid into :class:`JobSpec` s: paper, profile, overrides and the
   training's key and digest (a hash of its configuration, split, seed and model code).
2. :func:`execute` runs the specs whose outcome is not stored yet: ``local`` in this process,
   one after another; ``dask`` on a ``LocalCluster``, a running scheduler, or SLURM/PBS workers
   started through ``dask-jobqueue`` from a :class:`ClusterProfile`. Each job is
   :func:`run_job`: it rebuilds the paper's grid where it runs, trains the one training whose
   digest it names and writes its outcome atomically under the cache.
3. The notebook then runs as always and reads every outcome from the cache: the tables are made
   only from stored outcomes, so the numbers never depend on where a job ran.

Rerunning skips every key whose outcome is stored, so an interrupted grid resumes; ``force``
clears the grid's stored outcomes and checkpoints first.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from serlib import config, files
from serlib.papers import common
from serlib.papers.contract import PaperModule

EXECUTORS = ("local", "dask")
OUTCOME_FILE, KEY_FILE, CHECKPOINT_FILE = common.OUTCOME_FILE, common.KEY_FILE, common.CHECKPOINT_FILE
#: Where ``serlib outcomes export`` puts a grid's stored outcomes by default: a folder of the
#: checkout, so that the trainings of a grid too long for one machine's session can be committed
#: and the grid resumed on the next machine after ``serlib outcomes import``.
OUTCOMES_DIR = config.PROJECT_ROOT / "outcomes"


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to run one training of a paper's grid."""

    paper: str  # a paper of the registry, or a module path defining settings() and training_grid()
    profile: str
    overrides: tuple[tuple[str, str], ...]
    key: common.TrainingKey
    digest: str
    data_root: str
    cache: str
    device: str = "auto"

    @property
    def name(self) -> str:
        """The job's key on the cluster and in reports: ``<paper>/<key slug>-<digest>``."""
        return f"{self.key.paper}/{self.key.slug()}-{self.digest}"


@dataclass
class GridReport:
    """How a grid ended: how many jobs it had, which were already done, which ran, which failed."""

    planned: int
    skipped: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # job name → error

    @property
    def ok(self) -> bool:
        return not self.failed


def paper_module(paper: str) -> PaperModule:
    """``serlib.papers.<paper>`` for a registered paper, else ``paper`` as a module path; a module
    that does not meet the paper contract (:class:`~serlib.papers.contract.PaperModule`) is an error."""
    from serlib import papers

    module = importlib.import_module(f"serlib.papers.{paper}" if "." not in paper else paper)
    if "." not in paper:
        papers.get(paper)  # a clear error for an unregistered name
    if not isinstance(module, PaperModule):
        missing = sorted(name for name in ("PAPER", "PROFILES", "GRID_STAGES", "Settings", "settings", "training_grid",
                                           "ordering_summary") if not hasattr(module, name))
        raise ValueError(f"paper {paper!r} does not meet the paper contract (serlib.papers.contract.PaperModule): "
                         f"it lacks {missing}")
    return module


def settings_overrides(module: PaperModule, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook parameters that are fields of the paper's ``Settings`` (``-p corpus ...``)."""
    names = {f.name for f in fields(module.Settings)} - {"profile"}
    return {name: value for name, value in parameters.items() if name in names and value is not None}


@lru_cache(maxsize=2)
def _grid(paper: str, profile: str, overrides: tuple[tuple[str, str], ...], data_root: str, cache: str,
          device: str) -> dict[str, common.Training]:
    """The paper's grid by digest. Kept per process, so a worker builds its data once for many jobs."""
    module = paper_module(paper)
    chosen = module.settings(profile, **dict(overrides))
    return {training.digest: training for training in module.training_grid(chosen, data_root, cache, device)}


def forget_grids() -> None:
    """Drop the grids (and their data) this process built."""
    _grid.cache_clear()


def plan(paper: str, profile: str, parameters: Mapping[str, Any] | None = None, data_root: str | Path | None = None,
         cache: str | Path | None = None, device: str = "auto") -> list[JobSpec]:
    """The job specs of ``paper``'s grid under ``profile`` and the notebook ``parameters``."""
    module = paper_module(paper)
    overrides = tuple(sorted((name, str(value)) for name, value in settings_overrides(module, parameters or {}).items()))
    root, folder = str(config.data_root(data_root)), str(config.cache_dir(cache))
    grid = _grid(paper, profile, overrides, root, folder, device)
    return [JobSpec(paper, profile, overrides, training.key, digest, root, folder, device) for digest, training in grid.items()]


def run_job(spec: JobSpec, threads: int | None = None) -> str:
    """Train the one training ``spec`` names (reading its outcome if stored); returns its name.
    ``threads`` sets torch's threads in this process (one per Dask worker thread)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    grid = _grid(spec.paper, spec.profile, spec.overrides, spec.data_root, spec.cache, spec.device)
    if spec.digest not in grid:  # a later stage of a staged grid: plan again with the outcomes stored since
        forget_grids()
        grid = _grid(spec.paper, spec.profile, spec.overrides, spec.data_root, spec.cache, spec.device)
    if spec.digest not in grid:
        raise LookupError(f"{spec.name}: not in the grid built here; the code or settings differ from the driver's")
    grid[spec.digest].run(spec.cache)
    return spec.name


def is_done(spec: JobSpec) -> bool:
    """Whether the training's outcome is stored."""
    return (common.folder_of(spec.key, spec.digest, spec.cache) / OUTCOME_FILE).exists()


def clear(specs: Sequence[JobSpec]) -> None:
    """Remove the stored outcome and checkpoint of every spec (``--force``)."""
    for spec in specs:
        shutil.rmtree(common.folder_of(spec.key, spec.digest, spec.cache), ignore_errors=True)


# --------------------------------------------------------------------------- where a grid stands


@dataclass
class GroupStatus:
    """The trainings of one table × system × task of a grid: how many are stored, started, not begun."""

    stored: int = 0
    started: int = 0  # a checkpoint, no outcome yet
    not_begun: int = 0
    started_epochs: list[int] = field(default_factory=list)  # epochs each started training has finished

    @property
    def left(self) -> int:
        return self.started + self.not_begun


@dataclass
class GridStatus:
    """What the cache holds of a grid (``serlib reproduce --plan``): its groups, and the recorded
    training time of each stored training by system, the pace its trainings left are timed at."""

    groups: dict[tuple[str, str, str], GroupStatus] = field(default_factory=dict)
    seconds_by_system: dict[str, list[float]] = field(default_factory=dict)
    exported: int = 0  # not stored in the cache, but finished in outcomes/ (not imported yet)

    def pace(self, system: str) -> float | None:
        """The median recorded time of the system's stored trainings; None where none recorded one."""
        timed = sorted(s for s in self.seconds_by_system.get(system, []) if s == s)
        return timed[len(timed) // 2] if timed else None

    def seconds_left(self, table: str, system: str, task: str) -> float | None:
        """The group's trainings left at its system's pace (a started one counts whole)."""
        pace = self.pace(system)
        return None if pace is None else pace * self.groups[table, system, task].left


def _recorded_seconds(outcome_path: Path) -> float:
    """Training time in a stored outcome's history (NaN where an epoch did not record it)."""
    import json

    import numpy as np

    with np.load(outcome_path, allow_pickle=False) as saved:
        history = json.loads(str(saved["history"]))
    return float(sum(h["seconds"] for h in history)) if all("seconds" in h for h in history) else float("nan")


def _finished_epochs(checkpoint: Path) -> int:
    """Epochs in a checkpoint's history; -1 where it cannot be read (e.g. being written)."""
    import torch

    try:
        return len(torch.load(checkpoint, map_location="cpu", weights_only=True)["history"])
    except Exception:  # noqa: BLE001 - a torn or foreign file is reported, not fatal
        return -1


def grid_status(specs: Sequence[JobSpec]) -> GridStatus:
    """Each (table, system, task) of ``specs`` with its :class:`GroupStatus`, read from the cache;
    trains nothing."""
    status = GridStatus()
    for spec in specs:
        key = spec.key
        group = status.groups.setdefault((key.table, key.system, key.task), GroupStatus())
        folder = common.folder_of(key, spec.digest, spec.cache)
        if (folder / OUTCOME_FILE).exists():
            group.stored += 1
            status.seconds_by_system.setdefault(key.system, []).append(_recorded_seconds(folder / OUTCOME_FILE))
        elif (folder / CHECKPOINT_FILE).exists():
            group.started += 1
            group.started_epochs.append(_finished_epochs(folder / CHECKPOINT_FILE))
        else:
            group.not_begun += 1
    status.exported = len(exported_not_imported(specs))
    return status


def status_lines(paper: str, status: GridStatus, stages: int = 1) -> list[str]:
    """A table of :func:`grid_status` and its totals, with the training time left where stored
    trainings of the same system give a pace; ``stages`` > 1 (the paper module's ``GRID_STAGES``)
    adds that later trainings are planned once these are stored."""
    def hours(seconds: float | None) -> str:
        return "?" if seconds is None else f"{seconds / 3600:.1f} h"

    groups = status.groups
    header = ("table", "system", "task", "stored", "started (epochs done)", "not begun", "left at stored pace")
    rows = [(table, system, task, str(g.stored),
             f"{g.started} ({', '.join(str(e) if e >= 0 else 'unreadable' for e in g.started_epochs)})" if g.started else "0",
             str(g.not_begun), hours(status.seconds_left(table, system, task)) if g.left else "-")
            for (table, system, task), g in groups.items()]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (header, *rows)]
    stored, started, not_begun = (sum(getattr(g, name) for g in groups.values()) for name in ("stored", "started", "not_begun"))
    timed = {name: status.seconds_left(*name) for name, g in groups.items() if g.left}
    untimed = sum(groups[name].left for name, seconds in timed.items() if seconds is None)
    lines.append(f"{paper}: {stored + started + not_begun} trainings planned now: {stored} stored, {started} started, "
                 f"{not_begun} not begun; {hours(sum(s for s in timed.values() if s is not None))} of training left "
                 "at the pace of the stored trainings of each system"
                 + (f", and {untimed} whose system has no stored training to time them by" if untimed else ""))
    if status.exported:
        lines.append(f"{status.exported} of the trainings not stored here are finished in {config.shown(OUTCOMES_DIR)}: "
                     "`serlib outcomes import` copies them into the cache")
    if stages > 1:
        lines.append(f"{paper}'s grid comes in {stages} stages: a later stage's trainings are planned, and counted "
                     "here, once the trainings they depend on are stored.")
    return lines


# --------------------------------------------------------------------------- outcomes that travel



def _same_file(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def _copy_atomically(source: Path, target: Path) -> None:
    with files.atomic_path(target) as temporary:
        shutil.copyfile(source, temporary)


def export_outcomes(specs: Sequence[JobSpec], folder: str | Path | None = None) -> tuple[list[str], list[str]]:
    """Copy the stored outcome of each of ``specs`` (a grid's trainings) to
    ``<folder>/<paper>/<key slug>-<digest>/outcome.npz`` (with its ``key.json``), the cache's layout under ``runs/``.
    Only outcomes travel: a training's identity (its digest) already names its code, settings and
    split, so an outcome imported on another machine is found only by the same training.
    Checkpoints stay behind. Returns (names copied, names already there byte for byte)."""
    root = Path(folder) if folder is not None else OUTCOMES_DIR
    copied, present = [], []
    for spec in specs:
        stored = common.folder_of(spec.key, spec.digest, spec.cache) / OUTCOME_FILE
        if not stored.exists():
            continue
        target = root / spec.key.paper / stored.parent.name / OUTCOME_FILE
        if _same_file(stored, target):
            present.append(spec.name)
            continue
        for name in (KEY_FILE, OUTCOME_FILE):  # the outcome last: it marks the training as stored
            if (stored.parent / name).exists():
                _copy_atomically(stored.parent / name, target.parent / name)
        copied.append(spec.name)
    return copied, present


def exported_not_imported(specs: Sequence[JobSpec], folder: str | Path | None = None) -> list[JobSpec]:
    """The specs not stored in their cache whose outcome ``folder`` (default ``outcomes/``) holds."""
    root = Path(folder) if folder is not None else OUTCOMES_DIR
    return [spec for spec in specs if not is_done(spec)
            and (root / spec.key.paper / f"{spec.key.slug()}-{spec.digest}" / OUTCOME_FILE).exists()]


def import_outcomes(folder: str | Path | None = None, cache: str | Path | None = None,
                    papers: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Copy each outcome under ``folder`` (as :func:`export_outcomes` wrote them) that the cache
    lacks into ``<cache>/runs/``; ``papers``: only theirs. Each is read first, so a torn or foreign
    file is an error naming it, and an outcome the cache holds already is left alone.
    Returns (names copied, names already in the cache)."""
    root = Path(folder) if folder is not None else OUTCOMES_DIR
    if not root.is_dir():
        raise ValueError(f"{root}: no such folder of exported outcomes (serlib outcomes export writes one)")
    copied, present = [], []
    for source in sorted(root.glob(f"*/*/{OUTCOME_FILE}")):
        paper, name = source.parent.parent.name, source.parent.name
        if papers and paper not in papers:
            continue
        try:
            common.load_outcome(source)
        except Exception as err:  # noqa: BLE001 - any unreadable file is named, whatever broke it
            raise ValueError(f"{source}: not a readable training outcome ({type(err).__name__}: {err})") from err
        target = config.cache_dir(cache) / "runs" / paper / name / OUTCOME_FILE
        if target.exists():
            present.append(f"{paper}/{name}")
            continue
        for file in (KEY_FILE, OUTCOME_FILE):
            if (source.parent / file).exists():
                _copy_atomically(source.parent / file, target.parent / file)
        copied.append(f"{paper}/{name}")
    return copied, present


# --------------------------------------------------------------------------- cluster profiles


@dataclass(frozen=True)
class ClusterProfile:
    """Batch jobs that each start one Dask worker (YAML, see ``README.md``, "Run on a cluster")."""

    scheduler: str  # "slurm" or "pbs"
    partition: str  # the queue
    walltime: str = "04:00:00"
    cores: int = 4
    memory: str = "16GB"
    gpus_per_job: int = 0
    jobs: int = 1  # batch jobs (workers) to start
    account: str | None = None
    job_extra: tuple[str, ...] = ()  # more #SBATCH / #PBS directives
    prologue: tuple[str, ...] = ()  # shell lines before the worker starts (modules, venv)
    python: str | None = None  # the workers' Python (default: this one)

    @classmethod
    def read(cls, path: str | Path) -> ClusterProfile:
        import yaml

        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"{path}: cannot read the cluster profile ({err})") from err
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {unknown}; known: {sorted(known)}")
        if values.get("scheduler") not in ("slurm", "pbs"):
            raise ValueError(f"{path}: scheduler must be 'slurm' or 'pbs', got {values.get('scheduler')!r}")
        if "partition" not in values:
            raise ValueError(f"{path}: give the partition (queue) the jobs go to")
        for name in ("job_extra", "prologue"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)

    def cluster(self, **scheduler_options: Any):
        """A ``dask_jobqueue`` SLURMCluster or PBSCluster: one worker process per batch job with
        ``cores`` threads; a GPU job asks the batch system for its GPUs and offers the worker a
        ``GPU`` resource, which GPU jobs request."""
        import dask_jobqueue

        directives = list(self.job_extra)
        gpus = self.gpus_per_job
        options = dict(queue=self.partition, walltime=self.walltime, cores=self.cores, processes=1, memory=self.memory,
                       job_script_prologue=list(self.prologue), python=self.python,
                       worker_extra_args=["--resources", f"GPU={gpus}"] if gpus else [],
                       scheduler_options=scheduler_options)
        if self.scheduler == "slurm":
            if gpus:
                directives.append(f"--gres=gpu:{gpus}")
            return dask_jobqueue.SLURMCluster(account=self.account, job_extra_directives=directives, **options)
        resource = f"select=1:ncpus={self.cores}:mem={self.memory}" + (f":ngpus={gpus}" if gpus else "")
        return dask_jobqueue.PBSCluster(account=self.account, resource_spec=resource, job_extra_directives=directives,
                                        **options)


# --------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class Execution:
    """Where and how a grid runs (``serlib reproduce --executor ...``): ``local`` in this process,
    one training after another; ``dask`` on a LocalCluster of ``workers``, a running scheduler
    (``scheduler_address`` or ``scheduler_file``) or the workers a ``cluster_profile`` starts."""

    executor: str = "local"
    workers: int | None = None
    scheduler_address: str | None = None
    scheduler_file: str | None = None
    cluster_profile: str | None = None
    retries: int = 1
    force: bool = False

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"unknown executor {self.executor!r}; valid: {list(EXECUTORS)}")
        cluster_options = [name for name in ("workers", "scheduler_address", "scheduler_file", "cluster_profile")
                           if getattr(self, name) is not None]
        if self.executor == "local" and cluster_options:
            raise ValueError(f"--{cluster_options[0].replace('_', '-')} needs --executor dask")
        if self.retries < 0 or (self.workers is not None and self.workers < 1):
            raise ValueError("--retries must be 0 or more and --workers 1 or more")

    @property
    def runs_grid(self) -> bool:
        """Whether the grid runs before the notebook (on a cluster, or cleared by ``force``)."""
        return self.executor != "local" or self.force


def execute(specs: Sequence[JobSpec], execution: Execution = Execution(), log: Callable[[str], None] = print) -> GridReport:
    """Run every spec whose outcome is not stored (all of them with ``execution.force``)."""
    if execution.force:
        clear(specs)
    report = GridReport(len(specs))
    todo = []
    for spec in specs:
        if is_done(spec):
            report.skipped.append(spec.name)
        else:
            todo.append(spec)
    log(f"{len(specs)} trainings: {len(report.skipped)} stored already, {len(todo)} to run ({execution.executor})")
    exported = exported_not_imported(todo)
    if exported:
        log(f"warning: {len(exported)} of them are finished in {config.shown(OUTCOMES_DIR)} but not in this cache; "
            "stop and run `serlib outcomes import` first to skip them")
    if todo:
        (_run_local if execution.executor == "local" else _run_dask)(todo, report, execution, log)
    if report.failed:
        log("failed: " + ", ".join(sorted(report.failed)))
    return report


def run_grid(paper: str, profile: str, parameters: Mapping[str, Any] | None = None, execution: Execution = Execution(),
             data_root: str | Path | None = None, cache: str | Path | None = None, device: str = "auto",
             log: Callable[[str], None] = print, max_stages: int = 5) -> GridReport:
    """Plan and :func:`execute` ``paper``'s grid, and plan again while new trainings appear: a grid
    may come in stages (capsule: the learning rate that the validation actor chooses from stored
    candidates decides the table runs). ``force`` clears only the first stage's outcomes."""
    total = GridReport(0)
    for stage in range(max_stages):
        forget_grids()
        specs = plan(paper, profile, parameters, data_root, cache, device)
        if stage and all(is_done(spec) for spec in specs):
            break
        if stage:
            log(f"stage {stage + 1}: {len(specs)} trainings planned now that earlier outcomes are stored")
        report = execute(specs, execution if not stage else replace(execution, force=False), log)
        total.planned = len(specs)
        total.skipped, total.ran = report.skipped, total.ran + report.ran
        total.failed.update(report.failed)
        if not report.ok or not report.ran:
            break
    forget_grids()
    return total


def _progress(report: GridReport, total: int, spec: JobSpec) -> str:
    """One line per finished job: the counts so far and its name."""
    in_flight = total - len(report.ran) - len(report.failed)
    return (f"[{len(report.ran)}/{total} done, {in_flight} queued or running, {len(report.failed)} failed] {spec.name}"
            + (" FAILED" if spec.name in report.failed else ""))


def _run_local(todo: Sequence[JobSpec], report: GridReport, execution: Execution, log: Callable[[str], None]) -> None:
    for spec in todo:
        for attempt in range(execution.retries + 1):
            try:
                run_job(spec)
                report.ran.append(spec.name)
                break
            except Exception as err:  # noqa: BLE001 - reported with its key; the other jobs still run
                if attempt == execution.retries:
                    report.failed[spec.name] = f"{type(err).__name__}: {err}"
        log(_progress(report, len(todo), spec))


def _client(execution: Execution):
    """(client, worker threads for torch, whether jobs ask for a GPU)."""
    from distributed import Client, LocalCluster

    if execution.scheduler_address or execution.scheduler_file:
        return Client(execution.scheduler_address, scheduler_file=execution.scheduler_file), None, False
    if execution.cluster_profile:
        profile = ClusterProfile.read(execution.cluster_profile)
        cluster = profile.cluster()
        cluster.scale(jobs=profile.jobs)
        return Client(cluster), profile.cores, profile.gpus_per_job > 0
    from serlib.features import worker_count

    cluster = LocalCluster(n_workers=execution.workers or worker_count(), threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    return Client(cluster), 1, False


def _run_dask(todo: Sequence[JobSpec], report: GridReport, execution: Execution, log: Callable[[str], None]) -> None:
    from distributed import as_completed

    client, threads, gpu = _client(execution)
    try:
        futures = {client.submit(run_job, spec, threads, key=spec.name, retries=execution.retries, pure=False,
                                 resources={"GPU": 1} if gpu else None): spec for spec in todo}
        for future in as_completed(futures):
            spec = futures[future]
            if future.status == "finished":
                report.ran.append(spec.name)
            else:
                error = future.exception()
                report.failed[spec.name] = f"{type(error).__name__}: {error}"
            log(_progress(report, len(todo), spec))
    finally:
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
