"""The executor (in-process or on Dask) and the memory budget that sizes its tasks.

Topic functions take ``executor=None`` (:class:`SerialExecutor`, in-process; Dask not needed)
or a :class:`DaskExecutor` opened with :func:`dask_executor` (``--scheduler ADDRESS`` for an
existing cluster, ``--workers N`` for a local one) and cut their own work into tasks: tiles
(:func:`iptown_gis.surfaces.market_potential_tiled`), batches of draws
(:func:`iptown_gis.sites.robustness`), one NEG scenario or parameter point each
(:mod:`iptown_gis.neg.sweeps`). Results are the same either way: exactly for costs, to
floating-point summation order (1e-12 relative) for sums.

>>> from iptown_gis.network import node_costs                      # doctest: +SKIP
>>> from iptown_gis.parallel import dask_executor                  # doctest: +SKIP
>>> with dask_executor(workers=2, memory_budget="4GB") as ex:      # doctest: +SKIP
...     costs = node_costs(net, seats, targets=seats, method="overlay", executor=ex)

``node_costs``, ``many_to_many`` and ``overlay_graph`` moved to :mod:`iptown_gis.network`
(they take ``executor=`` there); importing them from here still works, with a
:class:`DeprecationWarning`.
"""

from __future__ import annotations

from typing import Any

from .budget import DEFAULT_MEMORY_BUDGET, MemoryBudget, format_bytes, parse_bytes
from .executor import DaskExecutor, Executor, SerialExecutor, as_executor, dask_executor, process_memory, run_tasks

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "DaskExecutor",
    "Executor",
    "MemoryBudget",
    "SerialExecutor",
    "as_executor",
    "dask_executor",
    "format_bytes",
    "many_to_many",
    "monte_carlo",
    "node_costs",
    "parse_bytes",
    "process_memory",
    "run_tasks",
]

_LAZY = {
    "node_costs": "od", "many_to_many": "od", "overlay_graph": "od",
    "monte_carlo": "sweeps",
    # deprecated: moved to their topics (parallel.tiles / parallel.sweeps warn and forward)
    "market_potential_tiled": "tiles", "kde_tiled": "tiles", "TileSpec": "tiles",
    "potential_cells": "tiles", "kde_cells": "tiles",
    "neg_sweep": "sweeps", "scenario_batch": "sweeps",
    "neg_scenarios": "sweeps", "neg_bifurcation": "sweeps", "sites_robustness": "sweeps",
}


def __getattr__(name: str) -> Any:
    """Lazy access to the modules with heavier imports (network) and to the moved names."""
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(f"iptown_gis.parallel.{_LAZY[name]}")
        return getattr(mod, name)
    raise AttributeError(f"module 'iptown_gis.parallel' has no attribute {name!r}")
