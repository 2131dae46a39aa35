"""Deprecated: the tiled surfaces moved to :mod:`iptown_gis.surfaces`.

``market_potential_tiled`` and ``potential_cells`` are in :mod:`iptown_gis.surfaces.potential`,
``kde_tiled`` and ``kde_cells`` in :mod:`iptown_gis.surfaces.kde`, ``TileSpec`` and
``tile_windows`` in :mod:`iptown_gis.surfaces.tiles` (all take ``executor=``, in-process by
default). The old names still work here, with a :class:`DeprecationWarning`; they are resolved
by name when first used, so :mod:`iptown_gis.parallel` (the executor layer) imports no topic.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

#: Old name -> module that holds it now.
MOVED = {
    "market_potential_tiled": "iptown_gis.surfaces.potential",
    "potential_cells": "iptown_gis.surfaces.potential",
    "kde_tiled": "iptown_gis.surfaces.kde",
    "kde_cells": "iptown_gis.surfaces.kde",
    "TileSpec": "iptown_gis.surfaces.tiles",
    "tile_windows": "iptown_gis.surfaces.tiles",
    "BLOCK": "iptown_gis.surfaces.tiles",
}


def __getattr__(name: str) -> Any:
    """The moved names, with a deprecation warning naming their new place."""
    if name in MOVED:
        warnings.warn(f"iptown_gis.parallel.tiles.{name} moved to {MOVED[name]}.{name}; import it from there",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(MOVED[name]), name)
    raise AttributeError(f"module 'iptown_gis.parallel.tiles' has no attribute {name!r}")
