"""Benchmark: hot spots (Gi*, local Moran) on Anhui's 104 counties, ours against esda, cold and warm.

Run: ``.venv/bin/python benchmarks/bench_hotspots.py [--permutations 999] [--grid-side 0]``

Each case runs in a fresh interpreter (``subprocess.run([sys.executable, "-c", ...])``), so the
cold figure is the whole process: interpreter start, imports and, for esda, Numba's JIT
compilation of its conditional-randomisation kernels; the warm figure is a second call in the
same process. Ours also reports whether numba/esda/libpysal got imported at all. Then the real
CLI, ``iptown surface hotspots --zones ...:counties --field pop_2020``, end to end, against the
target: cold CLI on the 104 counties with 999 permutations <= 3 s. ``--grid-side N`` adds an
N x N cell grid surface (time and peak RSS of the chunked randomisation).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GPKG = ROOT / "sample_data" / "anhui" / "anhui.gpkg"
TARGET_S = 3.0

OURS = """
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.filterwarnings("ignore")
import geopandas as gpd
from iptown_gis.surfaces.hotspots import hotspots
c = gpd.read_file({gpkg!r}, layer="counties", engine="pyogrio")
def run():
    t = time.perf_counter()
    g = hotspots(c, field="pop_2020", permutations={perms}, seed=20171)
    m = hotspots(c, field="pop_2020", statistic="moran", permutations={perms}, seed=20171)
    return time.perf_counter() - t, g, m
first, g, m = run()
cold = time.perf_counter() - t0
warm, _, _ = run()
print(json.dumps({{"cold_in_process": cold, "first_call": first, "warm": warm,
                  "hot": int(g.hot_spot.sum()), "hh": int((m.cluster == "HH").sum()),
                  "p_gi": g["p"].tolist(), "p_moran": m["p"].tolist(),
                  "numba": "numba" in sys.modules, "esda": "esda" in sys.modules,
                  "libpysal": "libpysal" in sys.modules}}))
"""

ESDA = """
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.filterwarnings("ignore")
import geopandas as gpd, libpysal, esda
c = gpd.read_file({gpkg!r}, layer="counties", engine="pyogrio")
y = c.pop_2020.to_numpy(dtype="float64")
def run():
    t = time.perf_counter()
    w = libpysal.weights.Queen.from_dataframe(c, use_index=False, silence_warnings=True)
    g = esda.G_Local(y, w, transform="B", star=True, permutations={perms}, seed=20171, n_jobs=1)
    w = libpysal.weights.Queen.from_dataframe(c, use_index=False, silence_warnings=True)
    m = esda.Moran_Local(y, w, transformation="r", permutations={perms}, seed=20171, n_jobs=1)
    return time.perf_counter() - t, g, m
first, g, m = run()
cold = time.perf_counter() - t0
warm, _, _ = run()
print(json.dumps({{"cold_in_process": cold, "first_call": first, "warm": warm,
                  "p_gi": g.p_sim.tolist(), "p_moran": m.p_sim.tolist()}}))
"""

GRID = """
import json, resource, time, warnings
warnings.filterwarnings("ignore")
import geopandas as gpd, numpy as np
from shapely.geometry import box
from iptown_gis.surfaces import make_grid
from iptown_gis.surfaces.grid import Surface
from iptown_gis.surfaces.hotspots import hotspots
side = {side}
frame = gpd.GeoDataFrame(geometry=[box(500_000, 3_500_000, 500_000 + side * 100, 3_500_000 + side * 100)],
                         crs="EPSG:32650")
g = make_grid(frame, cell=100)
rng = np.random.default_rng(0)
s = Surface(grid=g, values=g.masked(rng.random(g.shape)), name="v", tags={{}})
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
res = hotspots(s, permutations={perms}, seed=1)
dt = time.perf_counter() - t
print(json.dumps({{"cells": int(g.n_inside), "seconds": dt, "rss_before_mb": rss0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _python(code: str) -> tuple[float, dict]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"subprocess failed:\n{out.stderr}")
    return wall, json.loads(out.stdout.strip().splitlines()[-1])


def measure(perms: int = 999) -> dict:
    """Ours and esda in fresh processes, then the real CLI (Gi* and Moran); the figures as a dict."""
    wall_o, ours = _python(OURS.format(gpkg=str(GPKG), perms=perms))
    wall_e, ref = _python(ESDA.format(gpkg=str(GPKG), perms=perms))
    cli = Path(sys.executable).parent / "iptown"
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for stat in ("gi*", "moran"):
            out = Path(tmp) / f"x_{stat.strip('*')}.gpkg"
            cmd = [str(cli), "surface", "hotspots", "--zones", f"{GPKG}:counties", "--field", "pop_2020",
                   "--statistic", stat, "--permutations", str(perms), "--out", str(out)]
            t = time.perf_counter()
            run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
            times[stat] = time.perf_counter() - t
            if run.returncode != 0 or not out.exists():
                raise RuntimeError(f"CLI failed ({' '.join(cmd)}):\n{run.stderr}")
    same_gi = ours.pop("p_gi") == ref.pop("p_gi")
    same_moran = ours.pop("p_moran") == ref.pop("p_moran")
    equal = same_gi and same_moran
    return {"permutations": perms, "equal_to_esda": equal, "ours_process": wall_o, "ours": ours,
            "esda_process": wall_e, "esda": ref, "cli": times}


def report(r: dict) -> None:
    perms, ours, ref, wall_o, wall_e = r["permutations"], r["ours"], r["esda"], r["ours_process"], r["esda_process"]
    print(f"ours  (Gi* + local Moran, 104 counties, {perms} permutations): cold process {wall_o:.2f} s "
          f"(in-process {ours['cold_in_process']:.2f} s, first call {ours['first_call'] * 1000:.0f} ms), "
          f"warm {ours['warm'] * 1000:.1f} ms | {ours['hot']} hot spots, {ours['hh']} HH | imported: "
          f"numba {ours['numba']}, esda {ours['esda']}, libpysal {ours['libpysal']}")
    print(f"esda  (G_Local star + Moran_Local, libpysal Queen, n_jobs=1): cold process {wall_e:.2f} s "
          f"(in-process {ref['cold_in_process']:.2f} s, first call {ref['first_call']:.2f} s), "
          f"warm {ref['warm'] * 1000:.1f} ms")
    print(f"ratio ours/esda: cold {wall_o / wall_e:.3f} (esda {wall_e / wall_o:.1f}x slower), "
          f"warm {ours['warm'] / ref['warm']:.3f}; pseudo p-values equal to esda's (same seed): {r['equal_to_esda']}")
    times = r["cli"]
    print(f"CLI cold end to end `iptown surface hotspots --zones anhui.gpkg:counties --field pop_2020`: "
          f"gi* {times['gi*']:.2f} s, moran {times['moran']:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--grid-side", type=int, default=0, help="also an N x N grid surface (0: skip)")
    args = ap.parse_args()
    perms = args.permutations
    r = measure(perms)
    report(r)
    t = r["cli"]["gi*"]
    print(f"target cold CLI <= {TARGET_S:.0f} s: {t:.2f} s -> {'PASS' if t <= TARGET_S else 'FAIL'}")

    if args.grid_side:
        wall_g, grid = _python(GRID.format(side=args.grid_side, perms=perms))
        print(f"grid {args.grid_side} x {args.grid_side} = {grid['cells']:,} cells, Gi*, {perms} permutations: "
              f"{grid['seconds']:.2f} s (process {wall_g:.2f} s); peak RSS {grid['peak_rss_mb']:.0f} MB "
              f"(before the call {grid['rss_before_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
