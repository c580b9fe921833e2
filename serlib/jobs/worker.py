"""What a Dask worker keeps between the jobs it runs: its :class:`~serlib.jobs.grid.GridCache`,
held by a worker plugin that :func:`~serlib.jobs.grid.execute` registers on the cluster."""

from __future__ import annotations

from distributed import WorkerPlugin, get_worker

from serlib.jobs.grid import GridCache


class GridCachePlugin(WorkerPlugin):
    """Gives each worker one :class:`GridCache` for its life: its jobs of one grid build the grid's
    data once."""

    name = "serlib-grid-cache"

    def setup(self, worker) -> None:
        self.grids = GridCache()


def worker_grids() -> GridCache | None:
    """The grid cache of the Dask worker this code runs on; None outside a worker (or on a worker
    without the plugin)."""
    try:
        worker = get_worker()
    except ValueError:  # not on a worker
        return None
    plugin = worker.plugins.get(GridCachePlugin.name)
    return getattr(plugin, "grids", None)
