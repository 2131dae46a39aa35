"""Running the heavy stages on Dask: OD batches, tiled surfaces, sweeps and Monte Carlo.

Everything here takes ``executor=None`` (in-process; Dask not needed) or a
:class:`DaskExecutor` opened with :func:`dask_executor` (``--scheduler ADDRESS`` for an
existing cluster, ``--workers N`` for a local one). Results are the same either way: exactly
for costs, to floating-point summation order (1e-12 relative) for sums.

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
from .executor import DaskExecutor, dask_executor, process_memory

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "DaskExecutor",
    "MemoryBudget",
    "dask_executor",
    "format_bytes",
    "many_to_many",
    "node_costs",
    "parse_bytes",
    "process_memory",
]

_LAZY = {
    "node_costs": "od", "many_to_many": "od", "overlay_graph": "od",
    "market_potential_tiled": "tiles", "kde_tiled": "tiles", "TileSpec": "tiles",
    "run_tasks": "sweeps", "neg_sweep": "sweeps", "scenario_batch": "sweeps", "monte_carlo": "sweeps",
    "neg_scenarios": "sweeps", "neg_bifurcation": "sweeps", "sites_robustness": "sweeps",
    "potential_cells": "tiles", "kde_cells": "tiles",
}


def __getattr__(name: str) -> Any:
    """Lazy access to the modules with heavier imports (network, surfaces, NEG)."""
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(f"iptown_gis.parallel.{_LAZY[name]}")
        return getattr(mod, name)
    raise AttributeError(f"module 'iptown_gis.parallel' has no attribute {name!r}")
