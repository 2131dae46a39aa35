"""How cost grows with sources, cells and workers: three sizes each (for docs/scaling.md).

Uses the national data (or the same-size synthetic graph, see ``bench_scale.py``):

* sources: the exact seat-by-seat overlay matrix for 1/4, 1/2 and all county seats;
* cells: the Euclidean market potential of the prefecture masses at 4 km, 2 km and 1 km;
* workers: both at their largest size in-process, then on 1 and 2 Dask workers.

    python benchmarks/bench_scale_sizes.py [--data DIR] [--synthetic]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scale import ALBERS, DEFAULT_DATA, load_china, synthetic

from iptown_gis.network import node_costs
from iptown_gis.parallel import dask_executor
from iptown_gis.surfaces.grid import make_grid
from iptown_gis.surfaces.potential import market_potential_tiled


def timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--synthetic", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not args.synthetic and (args.data / "china_highways.gpkg").exists():
        net, seats, (sx, sy, pref), prov, label = load_china(args.data)
    else:
        net, seats, (sx, sy, pref), prov, label = synthetic()
    print(f"data: {label}")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(seats))
    _, inv = np.unique(pref, return_inverse=True)
    mx = np.bincount(inv, weights=sx) / np.bincount(inv)
    my = np.bincount(inv, weights=sy) / np.bincount(inv)
    mm = np.bincount(inv).astype(float)
    tmp = Path(tempfile.mkdtemp(prefix="bench_sizes_"))

    node_costs(net, seats[:50], targets=seats[:50], method="overlay")  # warm-up: compile, caches
    print("sources (seat x seat, exact overlay, in-process, after a warm-up):")
    base = None
    for frac in (0.25, 0.5, 1.0):
        s = seats[order[: int(len(seats) * frac)]]
        t = timed(lambda s=s: node_costs(net, s, targets=s, method="overlay"))
        base = base or t
        print(f"  {len(s):>6,} seats   {t:7.2f} s   ratio to the smallest {t / base:5.2f}x "
              f"(pairs ratio {(frac / 0.25) ** 2:4.1f}x)")

    print("cells (Euclidean market potential of 342 prefecture masses, in-process):")
    grids = {}
    base = None
    for cell in (4000.0, 2000.0, 1000.0):
        grid = make_grid(prov, cell=cell, crs=ALBERS, memory_budget=64 * 1024**3)
        grids[cell] = grid
        t = timed(lambda grid=grid: market_potential_tiled(grid, mx, my, mm, tmp / "mp.tif", decay="power:1"))
        base = base or t
        print(f"  {cell / 1000:.0f} km: {grid.n_inside:>10,} cells   {t:7.2f} s   ratio {t / base:6.2f}x")

    print("workers (all seats overlay; 2 km surface):")
    t_in = timed(lambda: node_costs(net, seats, targets=seats, method="overlay"))
    g2 = grids[2000.0]
    m_in = timed(lambda: market_potential_tiled(g2, mx, my, mm, tmp / "mp.tif", decay="power:1"))
    print(f"  in-process          seats {t_in:7.2f} s   surface {m_in:7.2f} s")
    for w in (1, 2):
        with dask_executor(workers=w) as ex:
            ex.client.run(lambda: __import__("iptown_gis.network.costs"))
            t = timed(lambda ex=ex: node_costs(net, seats, targets=seats, method="overlay", executor=ex))
            m = timed(lambda ex=ex: market_potential_tiled(g2, mx, my, mm, tmp / "mp.tif", decay="power:1",
                                                           executor=ex))
        print(f"  {w} Dask worker(s)    seats {t:7.2f} s   surface {m:7.2f} s   "
              f"speed-up vs in-process {t_in / t:4.2f}x / {m_in / m:4.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
