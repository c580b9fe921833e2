"""Cluster profiles: the SLURM or PBS batch jobs that each start one Dask worker
(``serlib reproduce --executor dask --cluster-profile``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


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
