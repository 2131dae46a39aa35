"""Benchmark of the surfaces package on the bundled Anhui sample (one run, prints figures).

1. Network-mode Harris market potential, 1 km cells over Anhui (~140,000 cells) to the 120
   seats (population), roads of the sample: time (network build shown separately).
2. All-cells Euclidean potential of a dense mass raster on the same 1 km grid: FFT against
   the direct O(N^2) double sum. The direct sum over all ~140,000 x 140,000 cell pairs takes
   about 10 minutes on this machine, so by default it is run for a random sample of target
   cells (every source cell summed for each) and its full time is extrapolated linearly
   (it is exactly linear in the number of targets); ``--full-direct`` runs every target.
   Prints the speed-up ratio (target >= 50x) and the largest relative difference on the
   targets computed (target < 1e-6).
3. The FFT potential at 250 m (~2.2 M cells inside, 4.2 M in the frame).

Usage: ``python benchmarks/bench_surfaces.py [--full-direct] [--sample 0.02]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from iptown_gis.datasets import anhui_layer
from iptown_gis.network import build_network
from iptown_gis.surfaces import make_grid, market_potential, potential_direct, potential_fft


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full-direct", action="store_true", help="direct sum for every target cell (~10 min)")
    ap.add_argument("--sample", type=float, default=0.02, help="fraction of target cells for the direct sum")
    args = ap.parse_args()

    province = anhui_layer("province")
    seats = anhui_layer("seats")
    roads = anhui_layer("roads")

    # 1. network-mode market potential at 1 km
    grid = make_grid(province, cell=1000)
    t0 = time.perf_counter()
    net = build_network(roads)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    mp = market_potential(grid, seats, mass_field="pop_2020", decay="power:1", mode="network", network=net)
    t_mp = time.perf_counter() - t0
    print(f"[1] network-mode market potential, 1 km: {grid.n_inside:,} cells x {len(seats)} masses "
          f"in {t_mp:.2f} s (network build {t_build:.2f} s; {net.n_nodes:,} nodes); "
          f"max {float(mp.values.max()):.1f}")

    # 2. FFT vs direct, all cells on all cells, 1 km
    rng = np.random.default_rng(20171)
    mass = np.where(grid.mask, rng.gamma(2.0, 500.0, grid.shape), 0.0)  # a dense population-like raster
    t0 = time.perf_counter()
    fft = potential_fft(mass, cell=grid.cell, decay="power:1")
    t_fft = time.perf_counter() - t0
    if args.full_direct:
        targets = grid.mask
    else:
        targets = np.zeros(grid.shape, bool)
        r, c = np.nonzero(grid.mask)
        pick = rng.choice(r.size, max(int(r.size * args.sample), 1), replace=False)
        targets[r[pick], c[pick]] = True
    t0 = time.perf_counter()
    direct = potential_direct(mass, cell=grid.cell, decay="power:1", targets=targets)
    t_dir = time.perf_counter() - t0
    n_t = int(targets.sum())
    t_dir_full = t_dir * grid.n_inside / n_t
    rel = float(np.max(np.abs(fft[targets] - direct[targets]) / np.abs(direct[targets])))
    how = "measured" if args.full_direct else f"extrapolated from {n_t:,} sampled targets ({t_dir:.1f} s)"
    print(f"[2] all-cells potential, 1 km, {grid.n_inside:,} cells ({int((mass > 0).sum()):,} sources): "
          f"FFT {t_fft:.3f} s, direct {t_dir_full:.1f} s ({how}); ratio {t_dir_full / t_fft:,.0f}x"
          f"{'' if args.full_direct else ' (from the extrapolated direct time)'} "
          f"(target >= 50x); max relative difference {rel:.2e} (target < 1e-6)")

    # 3. FFT at 250 m
    g250 = make_grid(province, cell=250)
    mass250 = np.where(g250.mask, rng.gamma(2.0, 30.0, g250.shape), 0.0)
    t0 = time.perf_counter()
    potential_fft(mass250, cell=250.0, decay="power:1")
    t250 = time.perf_counter() - t0
    print(f"[3] all-cells FFT potential, 250 m: {g250.n_inside:,} cells inside "
          f"({g250.n_cells:,} in the frame) in {t250:.2f} s")


if __name__ == "__main__":
    main()
