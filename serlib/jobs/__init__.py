"""A paper's training grid as job specs, run here or on a Dask cluster (``serlib reproduce --executor``).

A paper module that defines ``training_grid(settings, data_root, cache, device)`` (a list of
:class:`~serlib.papers.common.Training`) can have its grid run before its notebook:

1. :func:`plan` expands the grid into :class:`JobSpec` s: paper, profile, overrides and the
   training's key and digest (a hash of its configuration, split, seed and model code).
2. :func:`execute` runs the specs whose outcome is not stored yet: ``local`` in this process,
   one after another; ``dask`` on a ``LocalCluster``, a running scheduler, or SLURM/PBS workers
   started through ``dask-jobqueue`` from a :class:`ClusterProfile`. Each job is
   :func:`run_job`: it finds the one training whose digest it names in the paper's grid and
   writes its outcome atomically under the cache. A worker process plans the grid once and keeps
   it for its later jobs: the manifest, the splits, the identities and the cached features it
   reads; a training's inputs (windows, padded batches, scaled functionals) are made only when
   that training runs, so a worker builds the inputs of its own trainings and no others.
3. The notebook then runs as always and reads every outcome from the cache: the tables are made
   only from stored outcomes, so the numbers never depend on where a job ran.

Rerunning skips every key whose outcome is stored, so an interrupted grid resumes; ``force``
clears the grid's stored outcomes and checkpoints first.

The package: :mod:`~serlib.jobs.grid` (job specs, planning, running a job, the executors),
:mod:`~serlib.jobs.worker` (what a Dask worker keeps between jobs; needs distributed, so not
re-exported), :mod:`~serlib.jobs.progress` (where a grid stands), :mod:`~serlib.jobs.transfer` (outcomes exported
to ``outcomes/`` and imported into a cache) and :mod:`~serlib.jobs.cluster` (cluster profiles).
Every name is re-exported here: ``jobs.<name>`` is the interface.
"""

from __future__ import annotations

from serlib.jobs.cluster import ClusterProfile
from serlib.jobs.grid import (EXECUTORS, OUTCOME_FILE, KEY_FILE, CHECKPOINT_FILE, NETWORK_FILE, JobSpec, GridReport, paper_module,
                              settings_overrides, GridCache, plan, run_job, is_done, clear, Execution, execute,
                              train_grid)
from serlib.jobs.transfer import OUTCOMES_DIR, export_outcomes, exported_not_imported, import_outcomes
from serlib.jobs.progress import GroupProgress, GridProgress, grid_progress, progress_lines
from serlib.jobs.grid import _progress, _run_local, _client, _run_dask  # noqa: F401 - private, kept reachable
from serlib.jobs.transfer import _same_file, _copy_atomically  # noqa: F401 - private, kept reachable
from serlib.jobs.progress import _recorded_seconds, _finished_epochs  # noqa: F401 - private, kept reachable

__all__ = ["ClusterProfile", "EXECUTORS", "OUTCOME_FILE", "KEY_FILE", "CHECKPOINT_FILE", "NETWORK_FILE", "JobSpec", "GridReport",
           "paper_module", "settings_overrides", "GridCache", "plan", "run_job", "is_done", "clear", "Execution",
           "execute", "train_grid", "OUTCOMES_DIR", "export_outcomes", "exported_not_imported", "import_outcomes",
           "GroupProgress", "GridProgress", "grid_progress", "progress_lines"]
