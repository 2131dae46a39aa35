"""Benchmark of the sites stage on the Anhui sample.

Prints the time to rank the sample's candidates (criteria + scoring + 1000 Monte Carlo weight
draws) and to solve p-median and MCLP exactly with HiGHS for k = 3 and k = 10 over the
120 seats (candidates; demand: the 440 places weighted by population) and over the 440 places
(candidates and demand), with the solver's status and optimality gap. The baseline, run in the
same process, is a greedy-add heuristic on the same cost matrix: the ratio shows what the exact
optimum gains and what it costs in time.

Run: .venv/bin/python benchmarks/bench_sites.py
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iptown_gis.datasets import anhui_layer
from iptown_gis.network import build_network
from iptown_gis.pipeline import StudyContext
from iptown_gis.scenario import load_scenario
from iptown_gis.sites.candidates import SITE_ID, candidates_from_layer
from iptown_gis.sites.criteria import network_costs
from iptown_gis.sites.location import MCLP, PMedian
from iptown_gis.sites.stage import rank_stage
from iptown_gis.stage_results import NetworkResult

logging.basicConfig(level=logging.ERROR)


def greedy_pmedian(cost: np.ndarray, w: np.ndarray, k: int) -> tuple[list[int], float]:
    """Greedy add: open the site that lowers the weighted cost most, k times (vectorised)."""
    c = np.where(np.isfinite(cost), cost, 1e12)
    best = np.full(c.shape[0], 1e12)
    chosen: list[int] = []
    for _ in range(k):
        tot = (w[:, None] * np.minimum(best[:, None], c)).sum(axis=0)
        tot[chosen] = np.inf
        j = int(np.argmin(tot))
        chosen.append(j)
        best = np.minimum(best, c[:, j])
    return chosen, float((w * best).sum())


def greedy_mclp(cost: np.ndarray, w: np.ndarray, k: int, s: float) -> tuple[list[int], float]:
    cov = np.isfinite(cost) & (cost <= s)
    covered = np.zeros(cost.shape[0], bool)
    chosen: list[int] = []
    for _ in range(k):
        gain = (w[:, None] * (cov & ~covered[:, None])).sum(axis=0)
        gain[chosen] = -1
        j = int(np.argmax(gain))
        chosen.append(j)
        covered |= cov[:, j]
    return chosen, float(w[covered].sum())


def main() -> None:
    scen = load_scenario()
    print("== ranking the sample (criteria from the network + columns; surfaces/NEG not run) ==")
    for cand in ("county_seats", "places"):
        ctx = StudyContext(scenario=scen.model_copy(deep=True), out_dir=Path("/tmp"))
        cfg = ctx.scenario.section("sites")
        cfg.candidates = cand
        cfg.id_field = None
        if cand == "places":
            cfg.criteria = [c for c in cfg.criteria if c.source != "column"]
            cfg.prefecture_field = "prefecture_adcode"
        ctx.network = NetworkResult(network=build_network(ctx.layer("roads")))
        t0 = time.perf_counter()
        res = rank_stage(ctx)
        dt = time.perf_counter() - t0
        r = res["ranked"]
        print(f"rank {cand:13s}: {len(r):4d} candidates x {len(res['criteria'])} criteria, "
              f"{cfg.robustness.draws} weight draws: {dt:6.2f} s  (top: {r[SITE_ID].iloc[0]}, "
              f"P(top {cfg.k}) = {r['p_top_k'].iloc[0]:.3f})")

    seats = candidates_from_layer(anhui_layer("seats"), id_field="adcode")
    places = anhui_layer("places")
    w = places["population"].to_numpy(dtype=float)
    net = build_network(anhui_layer("roads"))
    opts = {"max_snap_distance": 30_000.0, "largest_component": True}
    t0 = time.perf_counter()
    c_seats = network_costs(net, places, seats, weight="time", check_reach=False, **opts)
    c_places = network_costs(net, places, None, weight="time", check_reach=False, **opts)
    print(f"\nOD matrices 440 x 120 and 440 x 440 (minutes): {time.perf_counter() - t0:.2f} s")
    standard = 60.0
    print(f"\n== location models (HiGHS, mip_gap = 0), MCLP standard {standard:g} min ==")
    print(f"{'model':8s} {'candidates':>10s} {'k':>3s} {'time s':>8s} {'status':>9s} {'gap':>8s} "
          f"{'objective':>14s} {'greedy obj':>14s} {'obj ratio':>9s} {'greedy s':>9s} {'time ratio':>10s}")
    for label, cost in (("120 seats", c_seats), ("440 places", c_places)):
        for k in (3, 10):
            for name in ("pmedian", "mclp"):
                t0 = time.perf_counter()
                if name == "pmedian":
                    m = PMedian(cost, p_facilities=k, weights=w).solve()
                else:
                    m = MCLP(cost, service_radius=standard, p_facilities=k, weights=w).solve()
                dt = time.perf_counter() - t0
                t1 = time.perf_counter()
                if name == "pmedian":
                    _, g = greedy_pmedian(cost, w, k)
                else:
                    _, g = greedy_mclp(cost, w, k, standard)
                gt = time.perf_counter() - t1
                ratio = m.objective_ / g if g else float("nan")
                print(f"{name:8s} {label:>10s} {k:3d} {dt:8.2f} {m.status_:>9s} {m.gap_:8.1e} "
                      f"{m.objective_:14.6g} {g:14.6g} {ratio:9.4f} {gt:9.4f} {dt / max(gt, 1e-9):10.0f}")


if __name__ == "__main__":
    main()
