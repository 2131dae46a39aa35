"""Benchmark: NEG short-run and long-run equilibria for R = 16, 104 and 2,000 regions.

Random symmetric cost matrices (Euclidean distances between uniform random points in the
unit square, tau = 3, sigma = 5, mu = 0.4, random observed shares). Prints wall times,
iterations and the ratio against the smallest case. Target: R = 2,000 short run < 2 s.

    .venv/bin/python benchmarks/bench_neg.py [--long-max 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from iptown_gis.neg import NEGModel, long_run, short_run


def case(n: int, seed: int = 0) -> tuple[NEGModel, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (n, 2))
    cost = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    cost = 0.5 * (cost + cost.T)
    np.fill_diagonal(cost, 0.0)
    model = NEGModel.from_costs(cost, tau=3.0, sigma=5.0, mu=0.4, phi=rng.dirichlet(np.ones(n)))
    return model, rng.dirichlet(np.ones(n))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 104, 2000])
    ap.add_argument("--long-max", type=int, default=2000, help="largest R for the long run")
    args = ap.parse_args()
    base_sr = base_lr = None
    print(f"{'R':>6} {'short s':>9} {'iter':>5} {'method':>12} {'x base':>8} | {'long s':>8} {'evals':>6} "
          f"{'t_model':>9} {'stable':>6} {'x base':>8}")
    for n in args.sizes:
        model, lam = case(n)
        short_run(model, lam)  # warm caches
        t0 = time.perf_counter()
        sr = short_run(model, lam)
        t_sr = time.perf_counter() - t0
        method = "newton" if n <= 300 else "anderson-fp"
        base_sr = base_sr or t_sr
        if n <= args.long_max:
            t0 = time.perf_counter()
            lr = long_run(model, lam, tol=1e-7)
            t_lr = time.perf_counter() - t0
            base_lr = base_lr or t_lr
            lr_txt = (f"{t_lr:8.2f} {lr.steps:6d} {lr.time:9.1f} {lr.stable!s:>6} {t_lr / base_lr:8.1f}")
        else:
            lr_txt = "skipped"
        print(f"{n:6d} {t_sr:9.4f} {sr.iterations:5d} {method:>12} {t_sr / base_sr:8.1f} | {lr_txt}")
    print("target: R = 2000 short run < 2 s")


if __name__ == "__main__":
    main()
