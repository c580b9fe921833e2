"""A paper's training grid as job specs (:func:`plan`), one job run where it lands (:func:`run_job`),
and the executors that run a grid here or on a Dask cluster (:func:`execute`, :func:`train_grid`)."""

from __future__ import annotations

import importlib
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from serlib import config
from serlib.jobs.cluster import ClusterProfile
from serlib.papers import common
from serlib.papers.contract import GridModule

EXECUTORS = ("local", "dask")
OUTCOME_FILE, KEY_FILE, CHECKPOINT_FILE, NETWORK_FILE = common.OUTCOME_FILE, common.KEY_FILE, common.CHECKPOINT_FILE, common.NETWORK_FILE


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
    not_exported: list[str] = field(default_factory=list)  # ran, but ``--export`` found no outcome in this cache

    @property
    def ok(self) -> bool:
        return not self.failed


def paper_module(paper: str) -> GridModule:
    """The module of a registered paper or study (``serlib.papers.<paper>``, ``serlib.<study>``), else
    ``paper`` as a module path; a module without a grid (:class:`~serlib.papers.contract.GridModule`)
    is an error."""
    from serlib import papers

    module = importlib.import_module(paper if "." in paper else papers.get(paper).module_name)  # unregistered: an error
    if not isinstance(module, GridModule):
        missing = sorted(name for name in ("PROFILES", "GRID_STAGES", "Settings", "settings", "training_grid")
                         if not hasattr(module, name))
        raise ValueError(f"paper {paper!r} does not meet the grid contract (serlib.papers.contract.GridModule): "
                         f"it lacks {missing}")
    return module


def settings_overrides(module: GridModule, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook parameters that are fields of the paper's ``Settings`` (``-p corpus ...``)."""
    names = {f.name for f in fields(module.Settings)} - {"profile"}
    return {name: value for name, value in parameters.items() if name in names and value is not None}


class GridCache:
    """The grids one process has built, each with its data (manifest, splits, identities, cached
    features), by what planned them; the ``size`` latest are kept. Whoever runs jobs owns one: the
    local executor one per grid it trains, a Dask worker one for its life (:mod:`serlib.jobs.worker`),
    so a process that runs many jobs of a grid builds its data once."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._grids: dict[tuple, dict[str, common.Training]] = {}
        self._lock = threading.Lock()  # a worker of several threads runs several jobs at once

    def grid(self, paper: str, profile: str, overrides: tuple[tuple[str, str], ...], data_root: str, cache: str,
             device: str) -> dict[str, common.Training]:
        """The paper's grid by digest, built on first use."""
        key = (paper, profile, overrides, data_root, cache, device)
        with self._lock:
            if key not in self._grids:
                module = paper_module(paper)
                chosen = module.settings(profile, **dict(overrides))
                self._grids[key] = {training.digest: training
                                    for training in module.training_grid(chosen, data_root, cache, device)}
                while len(self._grids) > self.size:
                    del self._grids[next(iter(self._grids))]
            return self._grids[key]

    def forget(self) -> None:
        """Drop every grid (a staged grid plans again from the outcomes stored since)."""
        with self._lock:
            self._grids.clear()


def plan(paper: str, profile: str, parameters: Mapping[str, Any] | None = None, data_root: str | Path | None = None,
         cache: str | Path | None = None, device: str = "auto", grids: GridCache | None = None) -> list[JobSpec]:
    """The job specs of ``paper``'s grid under ``profile`` and the notebook ``parameters`` (built in
    ``grids`` where given, so that running the specs there reuses the grid's data)."""
    module = paper_module(paper)
    overrides = tuple(sorted((name, str(value)) for name, value in settings_overrides(module, parameters or {}).items()))
    root, folder = str(config.data_root(data_root)), str(config.cache_dir(cache))
    grid = (grids or GridCache()).grid(paper, profile, overrides, root, folder, device)
    return [JobSpec(paper, profile, overrides, training.key, digest, root, folder, device) for digest, training in grid.items()]


def run_job(spec: JobSpec, threads: int | None = None, grids: GridCache | None = None) -> str:
    """Train the one training ``spec`` names (reading its outcome if stored); returns its name.
    ``threads`` sets torch's threads in this process (one per Dask worker thread); ``grids``: the
    grids this process built (default: its Dask worker's, else a new one)."""
    if threads:
        from serlib.training import use_threads

        use_threads(threads)
    if grids is None:
        try:
            from serlib.jobs.worker import worker_grids  # needs distributed, as every Dask worker has
        except ImportError:
            grids = GridCache()
        else:
            grids = worker_grids() or GridCache()
    where = (spec.paper, spec.profile, spec.overrides, spec.data_root, spec.cache, spec.device)
    grid = grids.grid(*where)
    if spec.digest not in grid:  # a later stage of a staged grid: plan again with the outcomes stored since
        grids.forget()
        grid = grids.grid(*where)
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


# --------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class Execution:
    """Where and how a grid runs (``serlib reproduce --executor ...``): ``local`` in this process,
    one training after another; ``dask`` on a LocalCluster of ``workers``, a running scheduler
    (``scheduler_address`` or ``scheduler_file``) or the workers a ``cluster_profile`` starts.
    ``export_to`` (``--export``): a folder (``outcomes/``) that receives each training's outcome as
    soon as it finishes, so that a grid longer than a machine's session loses at most the trainings
    in flight when the machine goes. ``grid_only`` (``--grid-only``): the grid runs and the paper's
    notebook does not, so that a part of a grid (one test fold, say) leaves the page and its results
    file as they are until a run on every stored part (``-p test_folds 1,2,3``) regenerates them."""

    executor: str = "local"
    workers: int | None = None
    scheduler_address: str | None = None
    scheduler_file: str | None = None
    cluster_profile: str | None = None
    retries: int = 1
    force: bool = False
    export_to: str | None = None
    grid_only: bool = False

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
        """Whether the grid runs before the notebook (on a cluster, cleared by ``force``, exported
        as it finishes, or without the notebook)."""
        return self.executor != "local" or self.force or self.export_to is not None or self.grid_only

    def finished(self, spec: JobSpec, report: GridReport) -> None:
        """Record that ``spec`` ran, and export its outcome where ``export_to`` says (a training whose
        outcome this machine's cache lacks, e.g. one a remote worker stored in its own cache, is
        recorded as not exported)."""
        report.ran.append(spec.name)
        if self.export_to is not None:
            from serlib.jobs.transfer import export_outcomes  # transfer builds on this module

            copied, present = export_outcomes([spec], self.export_to)
            if not (copied or present):
                report.not_exported.append(spec.name)


def execute(specs: Sequence[JobSpec], execution: Execution = Execution(), log: Callable[[str], None] = print,
            grids: GridCache | None = None) -> GridReport:
    """Run every spec whose outcome is not stored (all of them with ``execution.force``); the local
    executor runs them with ``grids`` (those that planned them, where given)."""
    from serlib.jobs.transfer import OUTCOMES_DIR, exported_not_imported  # transfer builds on this module

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
        if execution.executor == "local":
            _run_local(todo, report, execution, log, grids or GridCache())
        else:
            _run_dask(todo, report, execution, log)
    if report.failed:
        log("failed: " + ", ".join(sorted(report.failed)))
    if report.not_exported:
        log(f"warning: {len(report.not_exported)} finished trainings were not exported to {execution.export_to}: their "
            f"outcomes are not in this machine's cache ({config.shown(todo[0].cache)}); workers that store them in "
            "their own cache need SERLIB_CACHE on a file system this machine shares (or `serlib outcomes export` "
            "run on each worker): " + ", ".join(sorted(report.not_exported)))
    return report


def train_grid(paper: str, profile: str, parameters: Mapping[str, Any] | None = None, execution: Execution = Execution(),
             data_root: str | Path | None = None, cache: str | Path | None = None, device: str = "auto",
             log: Callable[[str], None] = print, max_stages: int = 5) -> GridReport:
    """Plan and :func:`execute` ``paper``'s grid, and plan again while new trainings appear: a grid
    may come in stages (capsule: the learning rate that the validation actor chooses from stored
    candidates decides the table runs). ``force`` clears only the first stage's outcomes."""
    total = GridReport(0)
    grids = GridCache()
    for stage in range(max_stages):
        grids.forget()
        specs = plan(paper, profile, parameters, data_root, cache, device, grids)
        if stage and all(is_done(spec) for spec in specs):
            break
        if stage:
            log(f"stage {stage + 1}: {len(specs)} trainings planned now that earlier outcomes are stored")
        report = execute(specs, execution if not stage else replace(execution, force=False), log, grids)
        total.planned = len(specs)
        total.skipped, total.ran = report.skipped, total.ran + report.ran
        total.failed.update(report.failed)
        total.not_exported += report.not_exported
        if not report.ok or not report.ran:
            break
    return total


def _progress(report: GridReport, total: int, spec: JobSpec) -> str:
    """One line per finished job: the counts so far and its name."""
    in_flight = total - len(report.ran) - len(report.failed)
    return (f"[{len(report.ran)}/{total} done, {in_flight} queued or running, {len(report.failed)} failed] {spec.name}"
            + (" FAILED" if spec.name in report.failed else ""))


def _run_local(todo: Sequence[JobSpec], report: GridReport, execution: Execution, log: Callable[[str], None],
               grids: GridCache) -> None:
    """The jobs one after another in this process, with torch's threads set once
    (:func:`serlib.config.threads`: ``$SERLIB_THREADS``, else one per core this process may use)."""
    threads = config.threads()
    for spec in todo:
        for attempt in range(execution.retries + 1):
            try:
                run_job(spec, threads, grids)
                execution.finished(spec, report)
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

    from serlib.jobs.worker import GridCachePlugin

    client, threads, gpu = _client(execution)
    try:
        client.register_plugin(GridCachePlugin())
        futures = {client.submit(run_job, spec, threads, key=spec.name, retries=execution.retries, pure=False,
                                 resources={"GPU": 1} if gpu else None): spec for spec in todo}
        for future in as_completed(futures):
            spec = futures[future]
            if future.status == "finished":
                execution.finished(spec, report)
            else:
                error = future.exception()
                report.failed[spec.name] = f"{type(error).__name__}: {error}"
            log(_progress(report, len(todo), spec))
    finally:
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
