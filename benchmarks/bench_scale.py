"""Scale benchmark: national OD and a 1 km national market-potential surface, in-process vs Dask.

Data: ``../shared/data/china/`` (China's major road graph, 120,579 nodes; 2,855 county seats;
31 provinces; rebuild with ``scripts/build_china_data.py``), or ``--data DIR``. When absent, a
synthetic planar road graph of the same size and seats are generated (as on a user's machine).

Prints, in-process and on a 2-worker LocalCluster: wall time and peak memory per process for
1. the seat-by-seat matrix (~2,840 x 2,840, exact; the overlay many-to-many method), against
   SciPy's plain :func:`scipy.sparse.csgraph.dijkstra` run here on the same graph, from
   ``--scipy-sources`` seats (default 300; its time for every seat is extrapolated, and
   printed as such) or from every seat with ``--full-scipy``;
2. OD from all seats to all nodes (plain Dijkstra in batches; graph scattered once);
3. a 1 km national Euclidean market potential (tiled GeoTIFF);
and checks that each worker's peak memory stays under the budget (default 4 GiB).

    python benchmarks/bench_scale.py [--data DIR] [--workers 2] [--budget 4GB] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iptown_gis.network import node_costs
from iptown_gis.parallel import MemoryBudget, dask_executor, format_bytes, process_memory
from iptown_gis.parallel.executor import reset_peak_memory

#: The national data: ``$IPTOWN_CHINA_DATA``, else ``../shared/data/china`` next to the checkout.
DEFAULT_DATA = Path(os.environ.get("IPTOWN_CHINA_DATA", ROOT.parent / "shared" / "data" / "china"))
ALBERS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +datum=WGS84 +units=m +no_defs"


def load_china(data: Path):
    """The national road graph as a Network (metric, Albers) and the seats' node positions."""
    import pyogrio
    import pyproj

    from iptown_gis.network import from_edge_arrays

    e = pyogrio.read_dataframe(data / "china_highways.gpkg", layer="edges", read_geometry=False,
                               columns=["u", "v", "length_km"])
    n = pyogrio.read_dataframe(data / "china_highways.gpkg", layer="nodes", read_geometry=False,
                               columns=["node_id", "lon", "lat"])
    s = pyogrio.read_dataframe(data / "china_county_seats.gpkg", layer="county_seats", read_geometry=False,
                               columns=["adcode", "prefecture_adcode", "coord_quality", "road_node_id", "lon", "lat"])
    s = s[s["coord_quality"] != "placeholder_parent_seat"]
    ids = n["node_id"].to_numpy()
    order = np.argsort(ids)
    ids = ids[order]
    u = order[np.searchsorted(ids, e["u"].to_numpy())]
    v = order[np.searchsorted(ids, e["v"].to_numpy())]
    w = e["length_km"].to_numpy() * 1000.0
    tr = pyproj.Transformer.from_crs("EPSG:4326", ALBERS, always_xy=True)
    x, y = tr.transform(n["lon"].to_numpy(), n["lat"].to_numpy())
    net = from_edge_arrays(crs=ALBERS, x=x, y=y, tails=np.r_[u, v], heads=np.r_[v, u], length_m=np.r_[w, w],
                           time_min=np.r_[w, w] / 1000.0, node_ids=n["node_id"].to_numpy())
    seats = order[np.searchsorted(ids, s["road_node_id"].to_numpy())]
    sx, sy = tr.transform(s["lon"].to_numpy(), s["lat"].to_numpy())
    prov = pyogrio.read_dataframe(data / "china_provinces.gpkg", layer="provinces").to_crs(ALBERS)
    return net, seats, (sx, sy, s["prefecture_adcode"].to_numpy()), prov, "China major roads (scgraph-data)"


def synthetic(n_nodes: int = 120_579, n_seats: int = 2_849, seed: int = 1):
    """A planar road-like graph of the same size: Delaunay edges of random points, thinned."""
    import geopandas as gpd
    from scipy.spatial import Delaunay
    from shapely.geometry import box

    from iptown_gis.network import from_edge_arrays

    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 4_000_000, n_nodes)
    y = rng.uniform(0, 3_000_000, n_nodes)
    tri = Delaunay(np.c_[x, y])
    s = tri.simplices
    a = np.r_[s[:, 0], s[:, 1], s[:, 2]]
    b = np.r_[s[:, 1], s[:, 2], s[:, 0]]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = np.unique(lo.astype(np.int64) * n_nodes + hi)
    u, v = key // n_nodes, key % n_nodes
    keep = rng.random(len(u)) < 187_600 / len(u)  # about the national edge count
    u, v = u[keep], v[keep]
    w = np.hypot(x[u] - x[v], y[u] - y[v]) * rng.uniform(1.05, 1.4, len(u))
    net = from_edge_arrays(crs=ALBERS, x=x, y=y, tails=np.r_[u, v], heads=np.r_[v, u], length_m=np.r_[w, w],
                           time_min=np.r_[w, w] / 1000.0)
    seats = rng.choice(n_nodes, n_seats, replace=False)
    pref = np.arange(n_seats) // 8
    prov = gpd.GeoDataFrame(geometry=[box(0, 0, 4_000_000, 3_000_000)], crs=ALBERS)
    return net, seats, (x[seats], y[seats], pref), prov, "synthetic planar graph (no national data found)"


class Peak:
    """Wall time and this process's peak RSS over a block."""

    def __enter__(self) -> Peak:
        reset_peak_memory()
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        self.peak = process_memory()["peak"]


def line(name: str, wall: float, peaks: dict[str, int], extra: str = "") -> None:
    mem = ", ".join(f"{k} {format_bytes(v)}" for k, v in peaks.items())
    print(f"  {name:<44} {wall:8.2f} s   peak: {mem} {extra}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget", default="4GB")
    ap.add_argument("--cell", type=float, default=1000.0, help="surface cell (m)")
    ap.add_argument("--quick", action="store_true", help="skip the slow anchors (plain Dijkstra, all-nodes OD)")
    ap.add_argument("--synthetic", action="store_true", help="use the synthetic graph even when data exist")
    ap.add_argument("--scipy-sources", type=int, default=300, help="seats for the SciPy anchor (extrapolated)")
    ap.add_argument("--full-scipy", action="store_true", help="SciPy anchor from every seat (no extrapolation)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    budget = MemoryBudget.from_setting(args.budget)

    t = time.perf_counter()
    if not args.synthetic and (args.data / "china_highways.gpkg").exists():
        net, seats, (sx, sy, pref), prov, label = load_china(args.data)
    else:
        net, seats, (sx, sy, pref), prov, label = synthetic()
    print(f"data: {label}: {net.n_nodes:,} nodes, {net.n_edges // 2:,} edges, {len(seats):,} seats "
          f"({len(np.unique(seats)):,} distinct nodes); loaded in {time.perf_counter() - t:.1f} s")
    print(f"budget {budget.describe()}; this machine: {__import__('os').cpu_count()} cores")

    results: dict[str, dict[str, float]] = {}
    # ---------------------------------------------------------------- in-process
    print("in-process:")
    with Peak() as p:
        m_local = node_costs(net, seats, targets=seats, method="overlay")
    line("seat x seat, overlay (exact)", p.wall, {"main": p.peak}, f"cpu {p.cpu:.1f} s")
    results["seat_overlay_local"] = {"wall": p.wall}
    from scipy.sparse.csgraph import dijkstra

    k = len(seats) if args.full_scipy else min(args.scipy_sources, len(seats))
    pick = np.arange(len(seats)) if k == len(seats) else np.sort(np.random.default_rng(0).choice(len(seats), k,
                                                                                                   replace=False))
    with Peak() as p_sp:
        ref = dijkstra(net.csgraph("length"), directed=True, indices=seats[pick])[:, seats]
    t_sp = p_sp.wall * len(seats) / k
    how = "measured from every seat" if k == len(seats) else f"extrapolated from {k} seats, {p_sp.wall:.1f} s"
    ref[np.isinf(ref)] = np.nan
    fin = np.isfinite(ref)
    rel = float(np.max(np.abs(m_local[pick][fin] - ref[fin]) / np.maximum(ref[fin], 1e-300)))
    line("SciPy csgraph.dijkstra from every seat", t_sp, {"main": p_sp.peak}, f"({how})")
    print(f"  overlay vs SciPy rows: same unreachable {np.array_equal(np.isnan(ref), np.isnan(m_local[pick]))}, "
          f"max relative difference {rel:.1e}; speed-up {t_sp / p.wall:.1f}x")
    print(f"  target <= 15 s (national seat-by-seat matrix on this machine): "
          f"{'met' if p.wall <= 15 else 'NOT met'} in-process ({p.wall:.1f} s)")
    del ref
    if not args.quick:
        with Peak() as p:
            m_plain = node_costs(net, seats, targets=seats, method="plain")
        line("seats -> seats, our plain Dijkstra (no overlay)", p.wall, {"main": p.peak})
        results["seat_plain_local"] = {"wall": p.wall}
        fin = np.isfinite(m_plain)
        assert np.array_equal(np.isnan(m_plain), np.isnan(m_local))
        rel = float(np.max(np.abs(m_local[fin] - m_plain[fin]) / np.maximum(m_plain[fin], 1e-300)))
        print(f"  overlay vs plain: max relative difference {rel:.1e}; "
              f"speed-up {results['seat_plain_local']['wall'] / results['seat_overlay_local']['wall']:.1f}x")
        del m_plain

    # surface: prefecture-level masses (mass = number of county seats) on a 1 km grid
    from iptown_gis.surfaces.grid import make_grid
    from iptown_gis.surfaces.potential import market_potential_tiled

    _, inv = np.unique(pref, return_inverse=True)
    mx = np.bincount(inv, weights=sx) / np.bincount(inv)
    my = np.bincount(inv, weights=sy) / np.bincount(inv)
    mm = np.bincount(inv).astype(float)
    grid = make_grid(prov, cell=args.cell, crs=ALBERS, memory_budget=64 * 1024**3)
    print(f"surface: {grid.shape[0]:,} x {grid.shape[1]:,} frame, {grid.n_inside:,} cells inside, "
          f"{len(mm)} prefecture masses")
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    with Peak() as p:
        market_potential_tiled(grid, mx, my, mm, tmp / "mp_local.tif", decay="power:1")
    line("1 km market potential, tiled", p.wall, {"main": p.peak})
    results["mp_local"] = {"wall": p.wall}

    # ---------------------------------------------------------------- Dask
    print(f"Dask LocalCluster, {args.workers} workers x 1 thread, memory_limit {budget.describe()}:")
    worst = 0
    with dask_executor(workers=args.workers, memory_budget=budget) as ex:
        ex.client.run(lambda: __import__("iptown_gis.network.costs"))  # warm imports
        for name, key, fn in [
            ("seat x seat, overlay (exact)", "seat_overlay_dask",
             lambda: node_costs(net, seats, targets=seats, method="overlay", executor=ex)),
            ("1 km market potential, tiled", "mp_dask",
             lambda: market_potential_tiled(grid, mx, my, mm, tmp / "mp_dask.tif", decay="power:1", executor=ex)),
        ] + ([] if args.quick else [
            ("seats -> all nodes, plain Dijkstra batches", "all_nodes_dask",
             lambda: node_costs(net, seats, executor=ex)),
        ]):
            ex.reset_peak_memory()
            with Peak() as p:
                out = fn()
            wm = ex.worker_memory()
            peaks = {"client": p.peak, **{f"w{i}": m["peak"] for i, m in enumerate(wm.values())}}
            worst = max(worst, *(m["peak"] for m in wm.values()))
            line(name, p.wall, peaks)
            results[key] = {"wall": p.wall}
            if key == "seat_overlay_dask":
                same = np.array_equal(out, m_local, equal_nan=True)
                print(f"  identical to in-process: {same}; target <= 15 s: "
                      f"{'met' if p.wall <= 15 else 'NOT met'} ({p.wall:.1f} s)")
            if key == "all_nodes_dask":
                print(f"  result {out.shape[0]:,} x {out.shape[1]:,} ({format_bytes(out.nbytes)}) on the client")
            del out
    import rasterio

    with rasterio.open(tmp / "mp_local.tif") as a, rasterio.open(tmp / "mp_dask.tif") as b:
        rel = 0.0
        for _, win in a.block_windows(1):
            va, vb = a.read(1, window=win, masked=True), b.read(1, window=win, masked=True)
            if va.count():
                rel = max(rel, float(np.max(np.abs(va - vb) / np.abs(va))))
    print(f"  market potential Dask vs in-process: max relative difference {rel:.1e} (float32 file)")
    print(f"peak memory per worker {format_bytes(worst)} vs budget {budget.describe()}: "
          f"{'under' if worst < budget.bytes_per_worker else 'OVER'}")
    print("ratios (in-process / Dask):",
          ", ".join(f"{k} {results[k + '_local']['wall'] / results[k + '_dask']['wall']:.2f}x"
                    for k in ("seat_overlay", "mp") if k + "_dask" in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
