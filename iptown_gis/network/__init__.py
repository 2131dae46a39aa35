"""Transport-cost networks and origin-destination cost matrices.

Build a :class:`Network` from road (and rail) line layers, osmnx graphs or OSM files; snap
points to it; compute OD cost matrices with one many-source Dijkstra (SciPy for small
searches, a cached compiled kernel for large ones; in-process or on an executor); turn costs
into iceberg transport-cost factors for the NEG models; draw isochrones.

The submodules load on first use of one of their names (``iptown_gis.network.od_matrix``
imports :mod:`iptown_gis.network.od`), so importing the package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iptown_gis._lazy import lazy_namespace

if TYPE_CHECKING:
    from iptown_gis.network.build import build_network, load_lines, load_points
    from iptown_gis.network.costs import core_graph, many_to_many, node_costs, overlay_graph
    from iptown_gis.network.isochrones import isochrones
    from iptown_gis.network.model import WEIGHT_UNITS, Network, from_edge_arrays
    from iptown_gis.network.od import ODMatrix, iceberg, od_matrix
    from iptown_gis.network.osm import from_osmnx, read_osm, to_geodataframes, to_osmnx, write_network
    from iptown_gis.network.snap import (
        ACCESS_MODES,
        SnapPolicy,
        SnapResult,
        access_node_mask,
        snap_access,
        snap_points,
    )
    from iptown_gis.network.speeds import (
        CHINESE_CLASS_SPEEDS,
        DEFAULT_SPEED_KMH,
        OSM_HIGHWAY_SPEEDS,
        default_speeds,
        resolve_speeds,
    )

__all__ = [
    "ACCESS_MODES",
    "CHINESE_CLASS_SPEEDS",
    "DEFAULT_SPEED_KMH",
    "OSM_HIGHWAY_SPEEDS",
    "WEIGHT_UNITS",
    "Network",
    "ODMatrix",
    "SnapPolicy",
    "SnapResult",
    "access_node_mask",
    "build_network",
    "core_graph",
    "default_speeds",
    "from_edge_arrays",
    "from_osmnx",
    "iceberg",
    "isochrones",
    "load_lines",
    "load_points",
    "many_to_many",
    "node_costs",
    "od_matrix",
    "overlay_graph",
    "read_osm",
    "resolve_speeds",
    "snap_access",
    "snap_points",
    "to_geodataframes",
    "to_osmnx",
    "write_network",
]

#: Public name -> the submodule that defines it.
_HOME = {
    "build_network": "build", "load_lines": "build", "load_points": "build",
    "many_to_many": "costs", "node_costs": "costs", "overlay_graph": "costs", "core_graph": "costs",
    "isochrones": "isochrones",
    "WEIGHT_UNITS": "model", "Network": "model", "from_edge_arrays": "model",
    "ODMatrix": "od", "iceberg": "od", "od_matrix": "od",
    "from_osmnx": "osm", "read_osm": "osm", "to_geodataframes": "osm", "to_osmnx": "osm", "write_network": "osm",
    "ACCESS_MODES": "snap", "SnapPolicy": "snap", "SnapResult": "snap", "access_node_mask": "snap",
    "snap_access": "snap", "snap_points": "snap",
    "CHINESE_CLASS_SPEEDS": "speeds", "DEFAULT_SPEED_KMH": "speeds", "OSM_HIGHWAY_SPEEDS": "speeds",
    "default_speeds": "speeds", "resolve_speeds": "speeds",
}


__getattr__, __dir__ = lazy_namespace(__name__, globals(), _HOME)
