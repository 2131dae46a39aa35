"""Network algorithms: build network, OD cost matrix, isochrones (:mod:`iptown_gis.network`)."""

from __future__ import annotations

import logging
from typing import Any

from iptown_gis.engine.params import Params
from iptown_gis.engine.tools import tool
from iptown_gis.network.snap import DEFAULT_ACCESS_SPEED_KMH, DEFAULT_MAX_SNAP_DISTANCE
from iptown_gis.network.speeds import DEFAULT_SPEED_KMH, RAIL_SPEED_KMH

log = logging.getLogger(__name__)

LENGTH_UNITS = ("km", "m", "mi", "ft")
WEIGHTS = ("time", "length")
SNAPS = ("node", "edge")

#: Road-network parameters shared by every network algorithm.
NETWORK_DEFAULTS: dict[str, Any] = {
    "DEFAULT_SPEED": DEFAULT_SPEED_KMH,
    "LENGTH_UNIT": "km",
    "SNAP_TOLERANCE": 1.0,
    "SPLIT_CROSSINGS": False,
}
ACCESS_DEFAULTS: dict[str, Any] = {
    "ACCESS_SPEED": DEFAULT_ACCESS_SPEED_KMH,
    "MAX_SNAP_DISTANCE": DEFAULT_MAX_SNAP_DISTANCE,
}


def build_from_params(p: Params, *, roads: Any = None, railways: Any = None, stations: Any = None,
                      progress: Any = None) -> Any:
    """Build the network from ``ROADS`` (read unless given) exactly as every network algorithm does.

    Parameters
    ----------
    p
        The job's parameters: ``ROADS``, ``DEFAULT_SPEED`` (km/h), ``RAIL_SPEED`` (km/h, default
        the library's rail speed), ``TRANSFER_PENALTY`` (minutes, default 15), ``CLASS_FIELD``,
        ``SPEED_FIELD``, ``LENGTH_FIELD``, ``LENGTH_UNIT``, ``ONEWAY_FIELD``,
        ``SNAP_TOLERANCE`` (metres) and ``SPLIT_CROSSINGS``.
    roads
        The road lines already read (``None``: read ``ROADS`` as a metric line layer).
    railways, stations
        Optional rail lines and station points, in the roads' CRS (``None``: road network only).
    progress
        Progress reporter for the build (``None``: silent).

    Returns
    -------
    Network
        The network from :func:`iptown_gis.network.build_network`, in the roads' CRS.

    Raises
    ------
    ParameterError
        ``ROADS`` or a required number is missing or out of range.
    GeometryError
        Empty road layer or non-line geometries.
    """
    from iptown_gis.network import build_network

    if roads is None:
        roads = p.vector("ROADS", geom_types=("LineString",))
    return build_network(
        roads, railways=railways, stations=stations,
        default_speed_kmh=p.need_number("DEFAULT_SPEED", minimum=0.1),
        rail_speed_kmh=p.number("RAIL_SPEED", RAIL_SPEED_KMH, minimum=0.1) or RAIL_SPEED_KMH,
        transfer_penalty_min=p.number("TRANSFER_PENALTY", 15.0, minimum=0.0) or 0.0,
        class_field=p.text("CLASS_FIELD"), speed_field=p.text("SPEED_FIELD"),
        length_field=p.text("LENGTH_FIELD"), length_unit=p.choice("LENGTH_UNIT", LENGTH_UNITS),
        oneway_field=p.text("ONEWAY_FIELD"),
        snap_tolerance=p.need_number("SNAP_TOLERANCE", minimum=0.0),
        split_crossings=p.flag("SPLIT_CROSSINGS"), crs=roads.crs, progress=progress)


@tool("buildnetwork", defaults={**NETWORK_DEFAULTS, "RAIL_SPEED": RAIL_SPEED_KMH, "TRANSFER_PENALTY": 15.0})
def buildnetwork(p: Params) -> dict[str, Any]:
    """Build a routable network from road (and rail) lines; write its edges and nodes."""
    from iptown_gis.network.osm import to_geodataframes

    steps = p.progress.steps(3)
    roads = p.vector("ROADS", geom_types=("LineString",))
    rail = p.vector("RAILWAYS", crs=roads.crs, geom_types=("LineString",), required=False)
    stations = p.vector("STATIONS", crs=roads.crs, geom_types=("Point",), required=False)
    steps[0].update(1.0, "layers read")
    net = build_from_params(p, roads=roads, railways=rail, stations=stations, progress=steps[1])
    nodes, edges = to_geodataframes(net)
    log.info("%r; %d connected components", net, int(nodes["component"].max()) + 1)
    out = {"OUTPUT_EDGES": p.write_vector("OUTPUT_EDGES", edges, layer="edges"),
           "OUTPUT_NODES": p.write_vector("OUTPUT_NODES", nodes, layer="nodes")}
    steps[2].update(1.0, "written")
    return out


@tool("odmatrix", defaults={**NETWORK_DEFAULTS, **ACCESS_DEFAULTS, "WEIGHT": "time", "SNAP": "node",
                            "LARGEST_COMPONENT": True})
def odmatrix(p: Params) -> dict[str, Any]:
    """Travel cost between every origin and destination over the network, access legs included."""
    from iptown_gis.network import od_matrix

    steps = p.progress.steps(3)
    net = build_from_params(p, progress=steps[0])
    origins = p.vector("ORIGINS", crs=net.crs, geom_types=("Point",))
    dest = p.vector("DESTINATIONS", crs=net.crs, geom_types=("Point",), required=False)
    od = od_matrix(
        net, origins, dest, id_field=p.text("ID_FIELD"), weight=p.choice("WEIGHT", WEIGHTS),
        snap=p.choice("SNAP", SNAPS), access_speed_kmh=p.need_number("ACCESS_SPEED", minimum=0.1),
        max_snap_distance=p.need_number("MAX_SNAP_DISTANCE", minimum=0.0),
        cutoff=p.number("CUTOFF", minimum=0.0), largest_component=p.flag("LARGEST_COMPONENT", True),
        progress=steps[1])
    table = od.to_long()
    table["unit"] = od.unit
    log.info("%d x %d pairs in %s; %d unreachable", od.shape[0], od.shape[1], od.unit, od.n_unreachable)
    out = {"OUTPUT": p.write_table("OUTPUT", table, layer="od")}
    steps[2].update(1.0, "written")
    return out


@tool("isochrones", defaults={**NETWORK_DEFAULTS, **ACCESS_DEFAULTS, "BANDS": "15, 30, 60", "WEIGHT": "time",
                              "BUFFER": 1000.0})
def isochrones(p: Params) -> dict[str, Any]:
    """Service areas: for each centre and cost band, the area within reach over the network."""
    from iptown_gis.network.isochrones import isochrones as _isochrones

    steps = p.progress.steps(3)
    net = build_from_params(p, progress=steps[0])
    centres = p.vector("CENTRES", crs=net.crs, geom_types=("Point",))
    polys = _isochrones(
        net, centres, bands=p.numbers("BANDS", what="cost bands"), weight=p.choice("WEIGHT", WEIGHTS),
        id_field=p.text("ID_FIELD"), buffer_m=p.need_number("BUFFER", minimum=0.0),
        access_speed_kmh=p.need_number("ACCESS_SPEED", minimum=0.1),
        max_snap_distance=p.need_number("MAX_SNAP_DISTANCE", minimum=0.0), progress=steps[1])
    out = {"OUTPUT": p.write_vector("OUTPUT", polys, layer="isochrones")}
    steps[2].update(1.0, "written")
    return out
