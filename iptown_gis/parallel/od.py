"""Deprecated: OD batches moved to :mod:`iptown_gis.network.costs`.

:func:`iptown_gis.network.node_costs` takes ``executor=`` (and ``batch_size=``, ``n_cells=``,
``method="overlay"``) itself, so one implementation runs in-process and on Dask. The names
below stay importable from here, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import iptown_gis.network as _network

__all__: list[str] = []

#: Names that moved to :mod:`iptown_gis.network` / :mod:`iptown_gis.network.costs`.
_MOVED = ("METHODS", "batch_sizes", "dijkstra_block", "many_to_many", "node_costs", "overlay_graph")


def __getattr__(name: str) -> Any:
    """The moved names, with a deprecation warning naming their new home."""
    if name in _MOVED:
        home = _network if name in _network.__all__ else importlib.import_module("iptown_gis.network.costs")
        warnings.warn(f"iptown_gis.parallel.od.{name} moved to {home.__name__}.{name}; import it from there",
                      DeprecationWarning, stacklevel=2)
        return getattr(home, name)
    raise AttributeError(f"module 'iptown_gis.parallel.od' has no attribute {name!r}")
