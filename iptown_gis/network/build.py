"""Build a :class:`~iptown_gis.network.model.Network` from road (and rail) line layers.

Topology comes from geometry: line end points closer than ``snap_tolerance`` metres become
one node. With ``split_crossings=True`` lines are also split at interior vertices they share
with another line (a crossing drawn with a common vertex); crossings without a common vertex
stay bridges / tunnels. Direction comes from a ``oneway`` column when present.

Several modes fit in one network: railways get their own nodes and are joined to roads only
at named points (``stations``, e.g. the seats), by transfer edges carrying a time penalty.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from iptown_gis.crs.metric import require_crs, to_metric
from iptown_gis.errors import ColumnError, GeometryError, NetworkError, ParameterError
from iptown_gis.io.vector import LayerSpec, check_geometries, read_vector
from iptown_gis.network.model import Network, from_edge_arrays
from iptown_gis.network.speeds import DEFAULT_SPEED_KMH, RAIL_SPEED_KMH, resolve_speeds
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = ["build_network", "load_lines", "load_points"]

log = logging.getLogger(__name__)

#: A layer given in memory or by its file (``FILE[:LAYER]``).
LayerInput: TypeAlias = gpd.GeoDataFrame | str | os.PathLike[str] | LayerSpec

_ONEWAY_FWD = {"yes", "true", "1", "t", "y", "f", "forward", "是", "单向"}
_ONEWAY_BWD = {"-1", "reverse", "backward", "b"}
_LENGTH_UNITS = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "ft": 0.3048}


def _load(layer: LayerInput, *, name: str, crs: Any, geom: str) -> gpd.GeoDataFrame:
    if isinstance(layer, gpd.GeoDataFrame):
        gdf = layer.copy()
        check_geometries(gdf, name=name, geom_types=[geom])
        require_crs(gdf, name=name)
        return to_metric(gdf, crs=crs, name=name)
    if isinstance(layer, (str, os.PathLike, LayerSpec)):
        return read_vector(layer, name=name, crs=crs, geom_types=[geom])
    raise TypeError(f"{name} should be a GeoDataFrame or a FILE[:LAYER] path, got {type(layer).__name__}")


def load_lines(layer: LayerInput, *, name: str = "roads", crs: Any = None) -> gpd.GeoDataFrame:
    """A line layer (GeoDataFrame or ``FILE[:LAYER]``) checked and in a metric CRS.

    Parameters
    ----------
    layer
        A GeoDataFrame of lines or a ``FILE[:LAYER]`` string.
    name
        What to call the layer in messages.
    crs
        The metric CRS to project to (default: the layer's own when metric, else its UTM zone).

    Raises
    ------
    GeometryError
        Empty layer or non-line geometries.
    CRSError
        The layer has no CRS.
    """
    return _load(layer, name=name, crs=crs, geom="LineString")


def load_points(layer: LayerInput, *, name: str = "points", crs: Any = None) -> gpd.GeoDataFrame:
    """A point layer (GeoDataFrame or ``FILE[:LAYER]``) checked and in a metric CRS.

    Polygons are accepted and replaced by a point inside them (``representative_point``).

    Parameters
    ----------
    layer
        A GeoDataFrame of points (or polygons) or a ``FILE[:LAYER]`` string.
    name
        What to call the layer in messages.
    crs
        The metric CRS to project to (default: the layer's own when metric, else its UTM zone).
    """
    if isinstance(layer, gpd.GeoDataFrame):
        gdf = layer.copy()
        check_geometries(gdf, name=name)
        require_crs(gdf, name=name)
        gdf = to_metric(gdf, crs=crs, name=name)
    else:
        gdf = read_vector(layer, name=name, crs=crs)
    kinds = set(gdf.geom_type)
    if kinds - {"Point"}:
        if kinds & {"LineString", "MultiLineString"}:
            raise GeometryError(f"{name}: expected points (or polygons), found lines")
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    return gdf


def _oneway_codes(values: pd.Series) -> NDArray[np.int8]:
    """+1 forward only, -1 backward only, 0 both ways."""
    out = np.zeros(len(values), dtype=np.int8)
    for i, v in enumerate(values.to_numpy()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, (bool, np.bool_)):
            out[i] = 1 if v else 0
            continue
        text = str(v).strip().lower()
        if text in _ONEWAY_BWD:
            out[i] = -1
        elif text in _ONEWAY_FWD:
            out[i] = 1
    return out


def _explode_lines(gdf: gpd.GeoDataFrame) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Single-part line geometries and the row position of each part."""
    geoms = gdf.geometry.to_numpy()
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_num_coordinates(parts) >= 2
    return parts[keep], idx[keep].astype(np.int64)


def _apportion(attr: np.ndarray, row: np.ndarray, piece_len: np.ndarray, n: int, factor: float) -> np.ndarray:
    """``attr * factor`` of each piece's feature (``row``) times the piece's share of that feature's length."""
    tot = np.bincount(row, weights=piece_len, minlength=n)
    share = np.divide(piece_len, tot[row], out=np.ones_like(piece_len), where=tot[row] > 0)
    return np.asarray(attr[row] * factor * share)


def _split_at_shared_vertices(
    parts: NDArray[Any], tol: float
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Split lines at interior vertices that another line also uses (within ``tol``)."""
    coords, line_of = shapely.get_coordinates(parts, return_index=True)
    ncoord = shapely.get_num_coordinates(parts)
    start = np.zeros(len(parts), dtype=np.int64)
    np.cumsum(ncoord[:-1], out=start[1:])
    pos = np.arange(len(coords)) - start[line_of]
    q = max(tol, 1e-6)
    key = np.round(coords[:, :2] / q).astype(np.int64)
    _, vid = np.unique(key, axis=0, return_inverse=True)
    vid = vid.ravel()
    # number of distinct lines touching each vertex id
    pair = np.unique(np.c_[vid, line_of], axis=0)
    nlines = np.bincount(pair[:, 0], minlength=int(vid.max()) + 1)
    interior = (pos > 0) & (pos < ncoord[line_of] - 1)
    cut = interior & (nlines[vid] >= 2)
    if not cut.any():
        return parts, np.arange(len(parts), dtype=np.int64)
    # each cut vertex ends one piece and starts the next: duplicate it
    rep = np.where(cut, 2, 1)
    c2 = np.repeat(coords, rep, axis=0)
    l2 = np.repeat(line_of, rep)
    # piece id increments after every cut vertex's first copy and at each new line
    first_copy = np.zeros(len(c2), dtype=bool)
    ends = np.cumsum(rep) - 1
    first_copy[ends[cut] - 1] = True
    new_line = np.r_[True, l2[1:] != l2[:-1]]
    piece = np.cumsum(new_line | np.r_[False, first_copy[:-1]]) - 1
    pieces = shapely.linestrings(c2, indices=piece)
    owner = l2[np.r_[0, np.flatnonzero(np.diff(piece)) + 1]]
    log.info("split %d lines at %d shared vertices into %d pieces", len(parts), int(cut.sum()), len(pieces))
    return pieces, owner.astype(np.int64)


def _cluster_points(pts: NDArray[np.float64], tol: float) -> NDArray[np.int64]:
    """Label points so that points within ``tol`` metres (transitively) share a label."""
    if tol <= 0:
        _, lab = np.unique(pts, axis=0, return_inverse=True)
        return lab.ravel().astype(np.int64)
    tree = cKDTree(pts)
    pairs = tree.query_pairs(tol, output_type="ndarray")
    n = len(pts)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    return lab.astype(np.int64)


def _line_edges(
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    mode: str,
    snap_tolerance: float,
    split_crossings: bool,
    length_field: str | None,
    length_unit: str,
    oneway_field: str | None,
    speeds: Mapping[str, float] | None,
    default_speed_kmh: float,
    class_field: str | None,
    speed_field: str | None,
) -> dict[str, Any]:
    parts, row = _explode_lines(gdf)
    if len(parts) == 0:
        raise GeometryError(f"{name}: no usable lines (every feature has fewer than two vertices)")
    geom_len = shapely.length(parts)
    if length_field is not None:
        if length_field not in gdf.columns:
            raise ColumnError(
                f"{name}: no length column {length_field!r}; columns are: "
                f"{', '.join(c for c in gdf.columns if c != gdf.geometry.name)}"
            )
        if length_unit not in _LENGTH_UNITS:
            raise ParameterError(f"length_unit must be one of {', '.join(_LENGTH_UNITS)}, got {length_unit!r}")
        attr = pd.to_numeric(gdf[length_field], errors="coerce").to_numpy(dtype=np.float64)
    else:
        attr = None
    if attr is not None:
        bad = ~np.isfinite(attr) | (attr < 0)
        if bad.any():
            rows = list(gdf.index[bad][:5])
            raise ColumnError(
                f"{name}: column {length_field!r} has {int(bad.sum())} NaN or negative length(s) "
                f"(e.g. rows {rows}); fill them or drop length_field to measure the geometry"
            )
    if split_crossings:
        parts, owner = _split_at_shared_vertices(parts, snap_tolerance)
        row = row[owner]
        piece_len = shapely.length(parts)
    else:
        piece_len = geom_len
    # an attribute length is apportioned by each piece's geometric share of its feature
    length = piece_len if attr is None else _apportion(attr, row, piece_len, len(gdf), _LENGTH_UNITS[length_unit])
    if np.isnan(length).any():
        raise ColumnError(f"{name}: NaN lengths in {int(np.isnan(length).sum())} line(s): repair the geometries")
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).iloc[row].reset_index(drop=True)
    if mode == "rail":
        default = default_speed_kmh if default_speed_kmh != DEFAULT_SPEED_KMH else RAIL_SPEED_KMH
    else:
        default = default_speed_kmh
    kmh, _ = resolve_speeds(frame, class_field=class_field, speed_field=speed_field, speeds=speeds,
                            default_speed_kmh=default, name=name)
    of = oneway_field if oneway_field is not None else ("oneway" if "oneway" in frame.columns else None)
    if of is not None and of not in frame.columns:
        raise ColumnError(f"{name}: no oneway column {of!r}")
    oneway = _oneway_codes(frame[of]) if of is not None else np.zeros(len(parts), dtype=np.int8)
    start = shapely.get_coordinates(shapely.get_point(parts, 0))
    end = shapely.get_coordinates(shapely.get_point(parts, -1))
    return {"parts": parts, "row": row, "length": length, "kmh": kmh, "oneway": oneway,
            "start": start, "end": end, "mode": mode}


def _nodes_for(
    e: dict[str, Any], tol: float, offset: int
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    n = len(e["parts"])
    pts = np.vstack([e["start"], e["end"]])
    lab = _cluster_points(pts, tol)
    k = int(lab.max()) + 1
    cnt = np.bincount(lab, minlength=k)
    xy = np.c_[np.bincount(lab, weights=pts[:, 0], minlength=k) / cnt,
               np.bincount(lab, weights=pts[:, 1], minlength=k) / cnt]
    return xy, lab[:n] + offset, lab[n:] + offset


def build_network(
    roads: Any,
    *,
    railways: Any | None = None,
    stations: Any | None = None,
    speeds: Mapping[str, float] | None = None,
    default_speed_kmh: float = DEFAULT_SPEED_KMH,
    rail_speed_kmh: float = RAIL_SPEED_KMH,
    snap_tolerance: float = 1.0,
    split_crossings: bool = False,
    length_field: str | None = None,
    length_unit: str = "km",
    oneway_field: str | None = None,
    class_field: str | None = None,
    speed_field: str | None = None,
    transfer_penalty_min: float = 15.0,
    transfer_max_distance: float = 5000.0,
    transfer_speed_kmh: float = 30.0,
    crs: Any | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> Network:
    """Build a routable network from road lines (and optionally railways joined at stations).

    Parameters
    ----------
    roads
        Road lines: a GeoDataFrame or ``FILE[:LAYER]`` (Shapefile, GeoPackage, GeoJSON...).
    railways
        Optional rail lines, a second mode joined to the roads only at ``stations``.
    stations
        Points where road and rail meet (stations, or the seats); needed with ``railways``.
    speeds
        Road class -> km/h overrides of :func:`~iptown_gis.network.speeds.default_speeds`.
    default_speed_kmh
        Speed of roads without class or speed (the bundled Anhui roads have neither).
    rail_speed_kmh
        Speed on railways without a speed column.
    snap_tolerance
        End points closer than this (metres) become one node (joins near-misses).
    split_crossings
        Split lines at interior vertices shared with another line.
    length_field, length_unit
        Take edge lengths from this column (in ``length_unit``: m, km, mi, ft) instead of the
        geometry; split pieces get a share proportional to their geometric length.
    oneway_field
        Column with OSM-style oneway values (yes/true/1 forward, -1 reverse); default
        ``oneway`` when present; otherwise every road runs both ways.
    class_field, speed_field
        Road class and speed columns (auto-detected when ``None``; see
        :func:`~iptown_gis.network.speeds.resolve_speeds`).
    transfer_penalty_min
        Minutes added to every road<->rail transfer (waiting, boarding).
    transfer_max_distance
        A station joins a mode only if that mode has a node within this distance (metres).
    transfer_speed_kmh
        Speed on the straight transfer leg between the two modes' nodes (taxi / bus / walk).
    crs
        Metric CRS for the network (default: the roads' own projected CRS, else their UTM zone).
    progress
        Progress / cancellation callback.

    Returns
    -------
    Network

    Raises
    ------
    GeometryError
        Empty road layer or non-line geometries.
    CRSError
        A layer has no CRS, or stations / railways cannot be put in the roads' CRS.
    ColumnError
        NaN / negative lengths in ``length_field``, zero / negative speeds in a speed column,
        or a named column is missing.
    ParameterError
        A non-positive speed, negative tolerance or penalty.
    """
    prog = as_progress(progress)
    if snap_tolerance < 0 or not np.isfinite(snap_tolerance):
        raise ParameterError(f"snap_tolerance must be >= 0 metres, got {snap_tolerance}")
    if transfer_penalty_min < 0:
        raise ParameterError(f"transfer_penalty_min must be >= 0 minutes, got {transfer_penalty_min}")
    for label, v in (("rail_speed_kmh", rail_speed_kmh), ("transfer_speed_kmh", transfer_speed_kmh)):
        if not (np.isfinite(v) and v > 0):
            raise ParameterError(f"{label} must be a positive speed in km/h, got {v}")
    if not (np.isfinite(default_speed_kmh) and default_speed_kmh > 0):
        raise ParameterError(f"default_speed_kmh must be a positive speed in km/h, got {default_speed_kmh}")
    prog.update(0.0, "reading roads")
    rd = load_lines(roads, name="roads", crs=crs)
    net_crs = pyproj.CRS.from_user_input(rd.crs)
    common: dict[str, Any] = {"snap_tolerance": snap_tolerance, "split_crossings": split_crossings,
              "length_field": length_field, "length_unit": length_unit, "oneway_field": oneway_field,
              "speeds": speeds, "class_field": class_field, "speed_field": speed_field}
    prog.update(0.2, "building road topology")
    edges = [_line_edges(rd, name="roads", mode="road", default_speed_kmh=default_speed_kmh, **common)]
    if railways is not None:
        if stations is None:
            raise ParameterError("railways need stations (named transfer points, e.g. the seats) to join the roads")
        rl = load_lines(railways, name="railways", crs=net_crs)
        rail_common: dict[str, Any] = {**common, "length_field": length_field if length_field in rl.columns else None,
                       "oneway_field": None, "speeds": None, "class_field": None, "speed_field": None}
        edges.append(_line_edges(rl, name="railways", mode="rail", default_speed_kmh=rail_speed_kmh, **rail_common))
    prog.update(0.5, "snapping end points")
    xs, tails, heads, lens, times, modes, srcs, geoms, node_mode = [], [], [], [], [], [], [], [], []
    offset = 0
    for e in edges:
        xy, a, b = _nodes_for(e, snap_tolerance, offset)
        offset += len(xy)
        xs.append(xy)
        node_mode.append(np.full(len(xy), e["mode"], dtype=object))
        t_min = e["length"] / (e["kmh"] * 1000.0 / 60.0)
        loop = a == b
        if loop.any():
            log.info("%s: dropping %d line(s) whose two ends snap to one node", e["mode"], int(loop.sum()))
        fwd = (e["oneway"] >= 0) & ~loop
        bwd = (e["oneway"] <= 0) & ~loop
        rev = shapely.reverse(e["parts"][bwd])
        tails += [a[fwd], b[bwd]]
        heads += [b[fwd], a[bwd]]
        lens += [e["length"][fwd], e["length"][bwd]]
        times += [t_min[fwd], t_min[bwd]]
        modes += [np.full(int(fwd.sum()) + int(bwd.sum()), e["mode"], dtype=object)]
        srcs += [e["row"][fwd], e["row"][bwd]]
        geoms += [e["parts"][fwd], rev]
    xy = np.vstack(xs)
    nmode = np.concatenate(node_mode)
    if railways is not None:
        prog.update(0.8, "adding transfers at stations")
        st = load_points(stations, name="stations", crs=net_crs)
        t_extra = _transfers(xy, nmode, st, penalty=transfer_penalty_min, max_dist=transfer_max_distance,
                             access_kmh=transfer_speed_kmh)
        if t_extra is not None:
            ta, tb, tl, tt = t_extra
            tails += [ta, tb]
            heads += [tb, ta]
            lens += [tl, tl]
            times += [tt, tt]
            modes += [np.full(2 * len(ta), "transfer", dtype=object)]
            srcs += [np.full(2 * len(ta), -1, dtype=np.int64)]
            geoms += [shapely.linestrings(np.stack([xy[ta], xy[tb]], axis=1)),
                      shapely.linestrings(np.stack([xy[tb], xy[ta]], axis=1))]
    net = from_edge_arrays(
        crs=net_crs, x=xy[:, 0], y=xy[:, 1],
        tails=np.concatenate(tails), heads=np.concatenate(heads),
        length_m=np.concatenate(lens), time_min=np.concatenate(times),
        mode=np.concatenate(modes).astype(str), edge_source=np.concatenate(srcs),
        edge_geometry=np.concatenate(geoms), node_attrs={"mode": nmode.astype(str)},
    )
    if net.n_edges == 0:
        raise NetworkError("the roads form no edges (all lines collapse to points at this snap_tolerance)")
    k, lab = net.components()
    if k > 1:
        sizes = np.bincount(lab)
        log.warning("network has %d disconnected components; the largest holds %d of %d nodes (%.1f%%)",
                    k, int(sizes[0]), net.n_nodes, 100.0 * sizes[0] / net.n_nodes)
    prog.update(1.0, f"network: {net.n_nodes} nodes, {net.n_edges} edges")
    log.info("built %r", net)
    return net


def _transfers(
    xy: NDArray[np.float64], nmode: NDArray[Any], stations: gpd.GeoDataFrame, *, penalty: float,
    max_dist: float, access_kmh: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]] | None:
    pts = shapely.get_coordinates(stations.geometry.to_numpy())
    road = np.flatnonzero(nmode == "road")
    rail = np.flatnonzero(nmode == "rail")
    if len(rail) == 0 or len(road) == 0:
        return None
    dr, ir = cKDTree(xy[road]).query(pts)
    dl, il = cKDTree(xy[rail]).query(pts)
    ok = (dr <= max_dist) & (dl <= max_dist)
    if (~ok).any():
        log.warning("%d of %d station(s) have no road or rail node within %.0f m: no transfer there",
                    int((~ok).sum()), len(pts), max_dist)
    a = road[ir[ok]]
    b = rail[il[ok]]
    pair = np.unique(np.c_[a, b], axis=0)
    if len(pair) == 0:
        return None
    a, b = pair[:, 0], pair[:, 1]
    dist = np.hypot(*(xy[a] - xy[b]).T)
    t = penalty + dist / (access_kmh * 1000.0 / 60.0)
    log.info("added %d road<->rail transfers (penalty %.1f min)", len(a), penalty)
    return a.astype(np.int64), b.astype(np.int64), dist, t

