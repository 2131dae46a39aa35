"""Benchmark: OD matrices on the Anhui sample against NetworkX and igraph, plus a 1M-node grid.

Run: ``.venv/bin/python benchmarks/bench_od.py [--grid-side 1000] [--skip-grid]``

Prints build time, OD times, ratios against a NetworkX per-source Dijkstra and igraph's
compiled Dijkstra on the same graph, with the largest absolute difference; then the time and
peak memory (process max RSS) for 100 sources on a synthetic grid of side**2 nodes.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np

warnings.filterwarnings("ignore")

from iptown_gis.network import build_network, from_edge_arrays, node_costs, od_matrix, snap_points

ROOT = Path(__file__).resolve().parent.parent
GPKG = ROOT / "sample_data" / "anhui" / "anhui.gpkg"


def _maxdiff(a: np.ndarray, b: np.ndarray) -> float:
    a = np.where(np.isnan(a), np.inf, a)
    b = np.where(np.isnan(b), np.inf, b)
    if not (np.isinf(a) == np.isinf(b)).all():
        return float("inf")
    fin = np.isfinite(a)
    return float(np.abs(a[fin] - b[fin]).max()) if fin.any() else 0.0


def sample_case(repeat: int) -> None:
    import igraph as ig
    import networkx as nx

    t = time.perf_counter()
    net = build_network(f"{GPKG}:roads", crs="EPSG:4548", length_field="length_km")
    t_build = time.perf_counter() - t
    seats = gpd.read_file(GPKG, layer="seats")
    src = snap_points(net, seats).node
    print(f"sample network: {net.n_nodes} nodes, {net.n_edges} directed edges; build {t_build:.3f} s")
    t = time.perf_counter()
    od = od_matrix(net, seats, id_field="adcode", weight="time")
    print(f"od_matrix 120 x 120 seats (snap + costs + access legs): {time.perf_counter() - t:.3f} s, "
          f"{od.n_unreachable} unreachable")

    w = "time"
    wa = net.time_min
    # reference graphs (cheapest of parallel edges, as in Network.csgraph)
    mat = net.csgraph(w).tocoo()
    G = nx.DiGraph()
    G.add_nodes_from(range(net.n_nodes))
    G.add_weighted_edges_from(zip(mat.row.tolist(), mat.col.tolist(), mat.data.tolist()), weight="w")
    g = ig.Graph(n=net.n_nodes, edges=list(zip(mat.row.tolist(), mat.col.tolist())), directed=True)
    g.es["w"] = mat.data.tolist()
    del wa

    def best(f):  # best of `repeat` runs
        times, out = [], None
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = f()
            times.append(time.perf_counter() - t0)
        return min(times), out

    for label, targets in (("120 x 120", src), ("120 x all nodes", None)):
        t_ours, ours = best(lambda targets=targets: node_costs(net, src, weight=w, targets=targets))
        t_plain, plain = best(lambda targets=targets: node_costs(net, src, weight=w, targets=targets,
                                                                 method="plain"))
        from scipy.sparse.csgraph import dijkstra as sp_dijkstra

        csg = net.csgraph(w)
        t_sp, _ = best(lambda targets=targets, csg=csg: sp_dijkstra(csg, directed=True, indices=src)
                       if targets is None else sp_dijkstra(csg, directed=True, indices=src)[:, targets])

        def run_nx(targets=targets):
            out = np.full((len(src), net.n_nodes if targets is None else len(targets)), np.nan)
            for i, s in enumerate(src.tolist()):
                d = nx.single_source_dijkstra_path_length(G, s, weight="w")
                if targets is None:
                    out[i, list(d.keys())] = list(d.values())
                else:
                    out[i] = [d.get(int(t), np.nan) for t in targets]
            return out

        t0 = time.perf_counter()
        ref_nx = run_nx()
        t_nx = time.perf_counter() - t0
        t_ig, ref_ig = best(lambda targets=targets: np.array(g.distances(
            source=src.tolist(), target=None if targets is None else targets.tolist(), weights="w", mode="out")))
        print(f"{label}: ours {t_ours * 1000:.1f} ms (no core graph {t_plain * 1000:.1f} ms, SciPy csgraph "
              f"{t_sp * 1000:.1f} ms), NetworkX "
              f"{t_nx * 1000:.0f} ms, igraph {t_ig * 1000:.1f} ms | speed-up vs NetworkX {t_nx / t_ours:.1f}x, "
              f"vs igraph {t_ig / t_ours:.2f}x | max |diff| NetworkX {_maxdiff(ours, ref_nx):.2e}, "
              f"igraph {_maxdiff(ours, ref_ig):.2e}, plain {_maxdiff(ours, plain):.2e} min")


def grid_case(side: int, n_sources: int) -> None:
    t = time.perf_counter()
    n = side * side
    idx = np.arange(n, dtype=np.int64).reshape(side, side)
    a = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    b = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    rng = np.random.default_rng(1)
    length = rng.uniform(100.0, 1000.0, len(a))
    xs, ys = np.meshgrid(np.arange(side) * 500.0, np.arange(side) * 500.0)
    net = from_edge_arrays(crs="EPSG:32650", x=xs.ravel(), y=ys.ravel(), tails=np.r_[a, b], heads=np.r_[b, a],
                           length_m=np.r_[length, length], time_min=np.r_[length, length] / 1000.0)
    t_build = time.perf_counter() - t
    src = rng.choice(n, n_sources, replace=False)
    t = time.perf_counter()
    d = node_costs(net, src, weight="length")
    t_od = time.perf_counter() - t
    t = time.perf_counter()
    d2 = node_costs(net, src, weight="length", targets=src)
    t_mm = time.perf_counter() - t
    assert np.array_equal(d[:, src], d2) or _maxdiff(d[:, src], d2) < 1e-6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 / 1024.0
    print(f"grid {side} x {side} = {n:,} nodes, {net.n_edges:,} edges: build {t_build:.2f} s; "
          f"{n_sources} sources x all nodes {t_od:.2f} s; {n_sources} x {n_sources} {t_mm:.2f} s; "
          f"result {d.nbytes / 2**20:.0f} MiB; peak RSS {peak:.2f} GiB (limit 4 GiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--grid-side", type=int, default=1000)
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-grid", action="store_true")
    args = ap.parse_args()
    sample_case(args.repeat)
    if not args.skip_grid:
        grid_case(args.grid_side, args.sources)


if __name__ == "__main__":
    main()
