"""Benchmark: the quantitative spatial model for R = 16, 104 and 1,000 regions.

Random economies (uniform points in a 300 x 300 km square at 60 km/h, internal times from the
nearest neighbour, random populations and GDP per person), central parameters, migration cost
from a stay share of 0.85. Times the inversion (``calibrate``) and one counterfactual (a link
between the two largest regions at 0.6 x its time) by hat algebra and by re-solving the levels
model; prints both, their ratio (measured in the same run) and the largest difference between
the two answers.

    .venv/bin/python benchmarks/bench_qsm.py [--sizes 16 104 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from iptown_gis.neg.qsm import (
    QSMParams,
    calibrate,
    counterfactual,
    internal_minutes,
    migration_cost_for_stay_share,
    solve_levels,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 104, 1000])
    args = ap.parse_args()
    print(f"{'R':>6} {'calibrate s':>12} {'hat s':>8} {'hat it':>7} {'levels s':>9} {'levels/hat':>11} "
          f"{'max |diff|':>11}")
    for n in args.sizes:
        rng = np.random.default_rng(n)
        xy = rng.uniform(0, 300, (n, 2))
        km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        t = internal_minutes(km)
        pop = rng.lognormal(0, 1, n)
        gdp = pop * rng.lognormal(0, 0.4, n)
        p = QSMParams(migration_cost=migration_cost_for_stay_share(pop, 0.85, epsilon=1.5))
        t0 = time.perf_counter()
        base = calibrate(pop, gdp, t, params=p)
        t1 = time.perf_counter()
        i, j = np.argsort(pop)[-2:]
        t2m = t.copy()
        t2m[i, j] = t2m[j, i] = 0.6 * t[i, j]
        r = counterfactual(base, minutes=t2m)
        t2 = time.perf_counter()
        w0, l0, _ = solve_levels(base.productivity, base.amenity, t, base.registered, gdp.sum(), params=p)
        w1, l1, _ = solve_levels(base.productivity, base.amenity, t2m, base.registered, gdp.sum(), params=p)
        t3 = time.perf_counter()
        diff = max(float(np.max(np.abs(l1 / l0 - r.population_hat))), float(np.max(np.abs(w1 / w0 - r.wage_hat))))
        print(f"{n:>6} {t1 - t0:>12.3f} {t2 - t1:>8.3f} {r.iterations:>7d} {t3 - t2:>9.3f} "
              f"{(t3 - t2) / max(t2 - t1, 1e-9):>11.1f} {diff:>11.2e}")


if __name__ == "__main__":
    main()
