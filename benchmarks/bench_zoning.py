"""Benchmark of the zoning optimiser (prints figures; not a unit test).

1. exact MIP on 15 x 15 and 20 x 20 grids: time to proven optimality (limit 1,200 s; on a
   2-core machine 11 s and 132 s);
2. heuristic on the same grids: objective / exact optimum (target >= 0.99);
3. heuristic on 10,000 and 40,000 cells: time, objective, LP bound and gap (target < 60 s
   for 10,000 cells).

Run: ``.venv/bin/python benchmarks/bench_zoning.py [--quick] [--heuristic-only]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from iptown_gis.zoning import ZoningModel, grid_cells


def instance(nr: int, body: int, wing: int, seed: int = 0, **kw: object) -> ZoningModel:
    rng = np.random.default_rng(seed)
    cs = grid_cells((0, 0, nr * 100, nr * 100), 100.0, crs="EPSG:4548")
    x, y = cs.centroids.T / (nr * 100)
    sb = np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) * 8) + 0.3 * rng.random(cs.n)
    se = x + 0.3 * rng.random(cs.n)
    sw = (1 - x) + 0.3 * rng.random(cs.n)
    return ZoningModel.districts(cs, suit_body=sb, suit_east=se, suit_west=sw, body=body, wing_east=wing,
                                 wing_west=wing, **kw)  # type: ignore[arg-type]


def main() -> None:
    quick = "--quick" in sys.argv
    heuristic_only = "--heuristic-only" in sys.argv  # the heuristic rows without the (slow) proofs
    print("== exact MIP (HiGHS; contact flow, connectivity cuts) vs heuristic on small grids ==")
    for nr, body, wing in ((15, 12, 8), (20, 16, 10)):
        if heuristic_only:
            t = time.perf_counter()
            he = instance(nr, body, wing).solve(method="heuristic", seed=1)
            print(f"{nr}x{nr} grid, body {body}, wings {wing}: heuristic {he.objective_:.6f} in "
                  f"{time.perf_counter() - t:.1f} s (exact not run: --heuristic-only)")
            continue
        t = time.perf_counter()
        ex = instance(nr, body, wing).solve(method="exact", time_limit=1200)
        t_ex = time.perf_counter() - t
        t = time.perf_counter()
        he = instance(nr, body, wing).solve(method="heuristic", seed=1)
        t_he = time.perf_counter() - t
        ref = "exact optimum" if ex.status_ == "optimal" else "best exact incumbent (not proven)"
        print(f"{nr}x{nr} grid, body {body}, wings {wing}: exact {ex.status_} objective {ex.objective_:.6f} "
              f"bound {ex.bound_:.6f} gap {ex.gap_:.2e} in {t_ex:.1f} s | heuristic {he.objective_:.6f} "
              f"in {t_he:.1f} s, ratio to {ref} {he.objective_ / ex.objective_:.5f}, to the bound "
              f"{he.objective_ / ex.bound_:.5f} (target >= 0.99)")
    print("== heuristic on large grids ==")
    sizes = ((100, 1500, 1000),) if quick else ((100, 1500, 1000), (200, 6000, 4000))
    for nr, body, wing in sizes:
        m = instance(nr, body, wing, tolerance=0.02)
        t = time.perf_counter()
        m.solve(method="heuristic", seed=1, time_limit=600)
        el = time.perf_counter() - t
        print(f"{nr * nr:,} cells, body {body}, wings {wing}: {el:.1f} s, objective {m.objective_:.3f}, "
              f"LP bound {m.bound_:.3f}, gap {m.gap_:.3%}, status {m.status_}"
              + (" (target < 60 s)" if nr == 100 else ""))


if __name__ == "__main__":
    main()
