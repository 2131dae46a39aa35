"""Transport-cost networks and origin-destination cost matrices.

Build a :class:`Network` from road (and rail) line layers, osmnx graphs or OSM files; snap
points to it; compute OD cost matrices with SciPy's compiled Dijkstra; turn costs into
iceberg transport-cost factors for the NEG models; draw isochrones.
"""

from iptown_gis.network.build import build_network, load_lines, load_points
from iptown_gis.network.isochrones import isochrones
from iptown_gis.network.model import WEIGHT_UNITS, Network, from_edge_arrays
from iptown_gis.network.od import ODMatrix, core_graph, iceberg, node_costs, od_matrix
from iptown_gis.network.osm import from_osmnx, read_osm, to_geodataframes, to_osmnx, write_network
from iptown_gis.network.snap import ACCESS_MODES, SnapPolicy, SnapResult, access_node_mask, snap_access, snap_points
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
    "node_costs",
    "od_matrix",
    "read_osm",
    "resolve_speeds",
    "snap_access",
    "snap_points",
    "to_geodataframes",
    "to_osmnx",
    "write_network",
]

