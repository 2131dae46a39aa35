"""Conversions: osmnx graphs, OSM files, GeoDataFrames and GeoPackage.

* :func:`from_osmnx` / :func:`to_osmnx`: to and from an osmnx-style NetworkX MultiDiGraph.
* :func:`read_osm`: local OpenStreetMap files, ``.osm`` XML through osmnx and ``.osm.pbf``
  through pyosmium (``pip install osmium``) or pyrosm.
* :func:`to_geodataframes` / :func:`write_network`: nodes and edges as layers.

osmnx, networkx, osmium and pyrosm are imported lazily; a missing one raises
:class:`~iptown_gis.errors.DependencyError` saying what to install.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from iptown_gis.errors import DataNotFoundError, DependencyError, NetworkError
from iptown_gis.network.model import Network, from_edge_arrays
from iptown_gis.network.speeds import DEFAULT_SPEED_KMH, resolve_speeds
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = ["from_osmnx", "read_osm", "to_geodataframes", "to_osmnx", "write_network"]

log = logging.getLogger(__name__)


def _need(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(f"{module} is needed for this: pip install {extra}") from exc


def from_osmnx(
    G: Any,
    *,
    speeds: Mapping[str, float] | None = None,
    default_speed_kmh: float = DEFAULT_SPEED_KMH,
    crs: Any | None = None,
) -> Network:
    """A :class:`Network` from an osmnx MultiDiGraph (projected or in WGS84).

    Edge lengths come from the ``length`` attribute (metres; measured from geometry when
    missing). Travel times use ``speed_kph`` when osmnx added it, else ``maxspeed``, else
    the ``highway`` class table, else ``default_speed_kmh``. Geographic graphs are projected
    to ``crs`` or their UTM zone.

    Parameters
    ----------
    G
        The osmnx graph.
    speeds
        ``highway`` class -> km/h, overriding the default table.
    default_speed_kmh
        Speed of edges with no speed, maxspeed or known class.
    crs
        Metric CRS for a geographic graph (default its UTM zone).

    Raises
    ------
    NetworkError
        The graph has no nodes or its nodes lack ``x`` / ``y``.
    """
    if G.number_of_nodes() == 0:
        raise NetworkError("the osmnx graph has no nodes")
    src_crs = pyproj.CRS.from_user_input(G.graph.get("crs", "EPSG:4326"))
    ids = np.array(list(G.nodes), dtype=object)
    try:
        xs = np.array([d["x"] for _, d in G.nodes(data=True)], dtype=np.float64)
        ys = np.array([d["y"] for _, d in G.nodes(data=True)], dtype=np.float64)
    except KeyError as exc:
        raise NetworkError("osmnx graph nodes need 'x' and 'y' attributes") from exc
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xs, ys), crs=src_crs)
    from iptown_gis.crs.metric import metric_crs_for

    target = metric_crs_for(pts, preferred=crs)
    tr = pyproj.Transformer.from_crs(src_crs, target, always_xy=True)
    px, py = tr.transform(xs, ys)
    pos = {k: i for i, k in enumerate(G.nodes)}
    rows = []
    for u, v, _k, d in G.edges(keys=True, data=True):
        rows.append((pos[u], pos[v], d.get("length", np.nan), d.get("highway"), d.get("maxspeed"),
                     d.get("speed_kph"), d.get("geometry")))
    if not rows:
        raise NetworkError("the osmnx graph has no edges")
    df = pd.DataFrame(rows, columns=["u", "v", "length", "highway", "maxspeed", "speed_kph", "geometry"])
    geoms = np.array([g if g is not None else shapely.LineString([(xs[a], ys[a]), (xs[b], ys[b])])
                      for a, b, g in zip(df.u, df.v, df.geometry)], dtype=object)
    geoms = shapely.transform(geoms, lambda c: np.c_[tr.transform(c[:, 0], c[:, 1])])
    length = df["length"].to_numpy(dtype=np.float64)
    miss = np.isnan(length)
    if miss.any():
        length[miss] = shapely.length(geoms[miss])
    speed_col = "speed_kph" if df["speed_kph"].notna().any() else None
    frame = df.drop(columns=["geometry", "u", "v", "length"])
    if speed_col is None:
        frame = frame.drop(columns=["speed_kph"])
    kmh, _ = resolve_speeds(frame, class_field="highway", speed_field=speed_col, speeds=speeds,
                            default_speed_kmh=default_speed_kmh, name="osmnx graph")
    t_min = length / (kmh * 1000.0 / 60.0)
    return from_edge_arrays(
        crs=target, x=np.asarray(px), y=np.asarray(py), node_ids=ids,
        tails=df.u.to_numpy(), heads=df.v.to_numpy(), length_m=length, time_min=t_min,
        mode=np.full(len(df), "road"), edge_source=np.arange(len(df), dtype=np.int64), edge_geometry=geoms,
    )


def to_osmnx(net: Network) -> Any:
    """The network as an osmnx-style ``networkx.MultiDiGraph`` (projected, in ``net.crs``).

    Nodes carry ``x``, ``y``; edges ``length`` (m), ``travel_time`` (s), ``time_min``,
    ``mode`` and ``geometry``, as osmnx's routing and plotting functions expect.
    """
    nx = _need("networkx", "networkx")
    G = nx.MultiDiGraph(crs=net.crs.to_string())
    ids = net.node_ids.tolist()
    G.add_nodes_from((ids[i], {"x": float(net.x[i]), "y": float(net.y[i])}) for i in range(net.n_nodes))
    t, h = net.tails, net.indices
    geoms = net.edge_geometry
    for e in range(net.n_edges):
        d: dict[str, Any] = {"length": float(net.length_m[e]), "time_min": float(net.time_min[e]),
                             "travel_time": float(net.time_min[e] * 60.0)}
        if net.mode is not None:
            d["mode"] = str(net.mode[e])
        if geoms is not None:
            d["geometry"] = geoms[e]
        G.add_edge(ids[t[e]], ids[h[e]], **d)
    return G


def to_geodataframes(net: Network) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``(nodes, edges)`` GeoDataFrames in ``net.crs``.

    Nodes: ``node``, ``node_id``, ``component`` (0 = largest) and node attributes. Edges:
    ``u``, ``v`` (node positions), ``u_id``, ``v_id``, ``length_m``, ``time_min``, ``mode``,
    ``source_row`` and the geometry (straight lines when the network has none).
    """
    _, comp = net.components()
    nodes = gpd.GeoDataFrame(
        {"node": np.arange(net.n_nodes), "node_id": net.node_ids, "component": comp,
         **dict(net.node_attrs)},
        geometry=gpd.points_from_xy(net.x, net.y), crs=net.crs,
    )
    t, h = net.tails, net.indices
    geoms = net.edge_geometry
    if geoms is None:
        geoms = shapely.linestrings(np.stack([np.c_[net.x[t], net.y[t]], np.c_[net.x[h], net.y[h]]], axis=1))
    cols: dict[str, Any] = {"u": t, "v": h, "u_id": net.node_ids[t], "v_id": net.node_ids[h],
                            "length_m": net.length_m, "time_min": net.time_min}
    if net.mode is not None:
        cols["mode"] = net.mode
    if net.edge_source is not None:
        cols["source_row"] = net.edge_source
    cols.update(net.edge_attrs)
    edges = gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geoms, crs=net.crs), crs=net.crs)
    if nodes["node_id"].dtype == object:
        nodes["node_id"] = nodes["node_id"].astype(str)
        edges["u_id"] = edges["u_id"].astype(str)
        edges["v_id"] = edges["v_id"].astype(str)
    return nodes, edges


def write_network(net: Network, path: str | os.PathLike[str]) -> Path:
    """Write the network as a GeoPackage with layers ``nodes`` and ``edges`` (atomically)."""
    from iptown_gis.io.atomic import atomic_path, check_output_path

    target = check_output_path(path, kind="geopackage", what="network output")
    nodes, edges = to_geodataframes(net)
    with atomic_path(target) as tmp:
        nodes.to_file(tmp, layer="nodes", driver="GPKG", engine="pyogrio")
        edges.to_file(tmp, layer="edges", driver="GPKG", engine="pyogrio")
    log.info("wrote %s (%d nodes, %d edges)", target, net.n_nodes, net.n_edges)
    return target


def read_osm(
    path: str | os.PathLike[str],
    *,
    speeds: Mapping[str, float] | None = None,
    default_speed_kmh: float = DEFAULT_SPEED_KMH,
    highway: tuple[str, ...] | None = None,
    crs: Any | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> Network:
    """A network from a local OpenStreetMap file.

    ``.osm`` / ``.xml`` files go through ``osmnx.graph_from_xml``; ``.pbf`` files through
    pyosmium (or pyrosm when osmium is missing): ways with a ``highway`` tag (optionally only
    those in ``highway``) become lines split at shared OSM nodes, with ``oneway`` and
    ``maxspeed`` honoured.

    Parameters
    ----------
    path
        The ``.osm``, ``.xml`` or ``.pbf`` file.
    speeds, default_speed_kmh, crs
        As in :func:`from_osmnx`.
    highway
        Keep only ways of these ``highway`` classes (``None``: every road).
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    DependencyError
        osmnx / osmium / pyrosm missing.
    NetworkError
        The file holds no roads.
    """
    prog = as_progress(progress)
    p = Path(path)
    if not p.exists():
        raise DataNotFoundError(f"OSM file {str(p)!r} does not exist: check the path")
    name = p.name.lower()
    prog.update(0.0, f"reading {p.name}")
    if name.endswith(".pbf"):
        roads = _pbf_roads(p, highway)
        roads["length_m"] = _great_circle_length(roads)
        from iptown_gis.network.build import build_network

        return build_network(roads, speeds=speeds, default_speed_kmh=default_speed_kmh, snap_tolerance=0.0,
                             split_crossings=True, class_field="highway", length_field="length_m",
                             length_unit="m", crs=crs, progress=prog.sub(0.5, 1.0))
    ox = _need("osmnx", "osmnx")
    G = ox.graph_from_xml(p, simplify=True, retain_all=True)
    if highway:
        keep = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True)
                if (d.get("highway") if isinstance(d.get("highway"), str) else str(d.get("highway"))) in highway]
        G = G.edge_subgraph(keep).copy()
    if G.number_of_edges() == 0:
        raise NetworkError(f"{p.name}: no roads (ways with a highway tag) in the file")
    return from_osmnx(G, speeds=speeds, default_speed_kmh=default_speed_kmh, crs=crs)


def _great_circle_length(lines: gpd.GeoDataFrame) -> np.ndarray:
    """Great-circle length (m) of WGS84 lines, summed vertex to vertex as osmnx measures edges.

    Using osmnx's formula (haversine, earth radius 6,371,009 m) makes a ``.pbf`` network measure
    exactly like the same data read from ``.osm`` XML through osmnx.
    """
    coords, idx = shapely.get_coordinates(lines.geometry.to_numpy(), return_index=True)
    lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    same = idx[1:] == idx[:-1]
    dlat = lat[1:] - lat[:-1]
    dlon = lon[1:] - lon[:-1]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    seg = 2 * 6_371_009.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return np.bincount(idx[1:][same], weights=seg[same], minlength=len(lines))


def _pbf_roads(p: Path, highway: tuple[str, ...] | None) -> gpd.GeoDataFrame:
    try:
        osmium = _need("osmium", "osmium")
    except DependencyError:
        pyrosm = _need("pyrosm", "osmium (or pyrosm)")
        osm = pyrosm.OSM(str(p))
        gdf = osm.get_network(network_type="driving")
        if gdf is None or len(gdf) == 0:
            raise NetworkError(f"{p.name}: no roads in the file") from None
        return gdf.explode(index_parts=False)

    rows: list[tuple[str, Any, Any, Any]] = []
    lines: list[Any] = []
    fab = osmium.geom.WKBFactory()

    class _Handler(osmium.SimpleHandler):  # type: ignore[misc,name-defined]
        def way(self, w: Any) -> None:
            hw = w.tags.get("highway")
            if hw is None or (highway and hw not in highway):
                return
            try:
                wkb = fab.create_linestring(w)
            except Exception:  # ways with missing node locations
                return
            lines.append(shapely.from_wkb(bytes.fromhex(wkb) if isinstance(wkb, str) else wkb))
            rows.append((hw, w.tags.get("oneway"), w.tags.get("maxspeed"), w.tags.get("name")))

    _Handler().apply_file(str(p), locations=True)
    if not lines:
        raise NetworkError(f"{p.name}: no roads (ways with a highway tag) in the file")
    df = pd.DataFrame(rows, columns=["highway", "oneway", "maxspeed", "name"])
    return gpd.GeoDataFrame(df, geometry=lines, crs="EPSG:4326")
