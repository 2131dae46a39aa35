"""Benchmark: the sample's 120 x 120 seat OD matrix, ours against SciPy, NetworkX and igraph, cold and warm.

Run: ``.venv/bin/python benchmarks/bench_od.py [--repeat 3] [--quick] [--json FILE]``

Every figure is measured in this run, each case in its own fresh interpreter
(``subprocess.run([sys.executable, ...])``), so *cold* is the whole process: interpreter start,
imports, reading ``anhui.gpkg``, building the graph, snapping the 120 seats, the 120-source
search, the access legs and writing the long CSV. *Warm* is the same OD computation called again
in the same process (graph kept; each library keeps whatever it caches, so ours keeps its core
graph; ``warm, no cache`` clears it). Each baseline script does the same job as
``iptown network od``: same file, same topology rule (line ends within 1 m joined), same weights
(minutes at 60 km/h), seats snapped to the nearest node with 30 km/h access legs; the
largest difference from our CSV is printed. Cold runs alternate between the cases and the
median of ``--repeat`` runs is reported. pandana is run when installed.

Ours cold is the real CLI, ``iptown network od --roads ...:roads --length-field length_km
--origins ...:seats --id-field adcode --out od.csv``; "compute beyond imports" is its wall time
minus that of a process that only imports the modules the command uses.

Targets (issue 19): ours cold <= 0.5 x NetworkX cold, and <= 1.5 s of compute beyond imports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GPKG = ROOT / "sample_data" / "anhui" / "anhui.gpkg"
BIN = Path(sys.executable).parent

# The graph every baseline builds: line ends within 1 m are one node (the cluster's mean point),
# edge cost = minutes at 60 km/h from length_km, both directions, cheapest of parallel edges.
BASE = r'''
import json, sys, time
t0 = time.perf_counter()
import geopandas as gpd, numpy as np, pandas as pd, shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
{imports}
t_imp = time.perf_counter()
gpkg, out = sys.argv[1], sys.argv[2]
def build():
    roads = gpd.read_file(gpkg, layer="roads").to_crs(32650)
    seats = gpd.read_file(gpkg, layer="seats").to_crs(32650)
    g = roads.geometry.values
    pts = np.r_[shapely.get_coordinates(shapely.get_point(g, 0)), shapely.get_coordinates(shapely.get_point(g, -1))]
    pairs = cKDTree(pts).query_pairs(1.0, output_type="ndarray")
    n = len(pts)
    _, lab = connected_components(coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)),
                                  directed=False)
    cnt = np.bincount(lab)
    xy = np.c_[np.bincount(lab, weights=pts[:, 0]) / cnt, np.bincount(lab, weights=pts[:, 1]) / cnt]
    a, b = lab[:len(roads)], lab[len(roads):]
    w = roads["length_km"].to_numpy() / 60.0 * 60.0
    ok = a != b
    a, b, w = a[ok], b[ok], w[ok]
    sxy = shapely.get_coordinates(seats.geometry.values)
    dist, node = cKDTree(xy).query(sxy)
    return len(xy), np.r_[a, b], np.r_[b, a], np.r_[w, w], node, dist / 1000.0 / 30.0 * 60.0, seats["adcode"].to_numpy()
def finish(d, node, acc, ids):
    m = d + acc[:, None] + acc[None, :]
    np.fill_diagonal(m, 0.0)
    pd.DataFrame({{"origin_id": np.repeat(ids, len(ids)), "destination_id": np.tile(ids, len(ids)),
                  "cost": m.ravel()}}).to_csv(out, index=False, float_format="%.6f")
n, tails, heads, w, node, acc, ids = build()
{prepare}
def search():
{search}
t1 = time.perf_counter()
d = search()
finish(d, node, acc, ids)
t_first = time.perf_counter() - t1
t2 = time.perf_counter()
search()
t_warm = time.perf_counter() - t2
print(json.dumps({{"imports": t_imp - t0, "in_process": time.perf_counter() - t0 - t_warm,
                  "first_search": t_first, "warm": t_warm, "warm_nocache": t_warm}}))
'''

BASELINES: dict[str, dict[str, str]] = {
    "SciPy csgraph": {
        "imports": "from scipy.sparse import csr_matrix\nfrom scipy.sparse.csgraph import dijkstra",
        # cheapest of parallel edges (a plain coo -> csr would sum them)
        "prepare": "order = np.lexsort((w, heads, tails))\n"
                   "first = np.r_[True, (np.diff(tails[order]) != 0) | (np.diff(heads[order]) != 0)]\n"
                   "sel = order[first]\n"
                   "g = csr_matrix((w[sel], (tails[sel], heads[sel])), shape=(n, n))",
        "search": "    return dijkstra(g, directed=True, indices=node)[:, node]",
    },
    "NetworkX": {
        "imports": "import networkx as nx",
        "prepare": "G = nx.DiGraph()\n"
                   "for u, v, c in zip(tails.tolist(), heads.tolist(), w.tolist()):\n"
                   "    if not G.has_edge(u, v) or G[u][v]['w'] > c:\n"
                   "        G.add_edge(u, v, w=c)",
        "search": "    rows = []\n"
                  "    for s in node.tolist():\n"
                  "        dd = nx.single_source_dijkstra_path_length(G, s, weight='w')\n"
                  "        rows.append([dd.get(t, np.inf) for t in node.tolist()])\n"
                  "    return np.array(rows)",
    },
    "igraph": {
        "imports": "import igraph as ig",
        "prepare": "G = ig.Graph(n=n, edges=list(zip(tails.tolist(), heads.tolist())), directed=True)\n"
                   "G.es['w'] = w.tolist()",
        "search": "    s = node.tolist()\n"
                  "    return np.array(G.distances(source=s, target=s, weights='w', mode='out'))",
    },
    "pandana (contraction hierarchy)": {
        "imports": "import pandana",
        "prepare": "P = pandana.Network(pd.Series(np.arange(n, dtype=float)), pd.Series(np.zeros(n)),\n"
                   "                    pd.Series(tails), pd.Series(heads), pd.DataFrame({'w': w}), twoway=False)",
        "search": "    o = np.repeat(node, len(node)); t = np.tile(node, len(node))\n"
                  "    return np.asarray(P.shortest_path_lengths(o, t, imp_name='w')).reshape(len(node), len(node))",
    },
}

OURS_WARM = r'''
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.filterwarnings("ignore")
from iptown_gis.network import build_network, load_points, od_matrix
t_imp = time.perf_counter()
gpkg, out = sys.argv[1], sys.argv[2]
net = build_network(f"{gpkg}:roads", length_field="length_km")
seats = load_points(f"{gpkg}:seats", name="origins", crs=net.crs)
t1 = time.perf_counter()
od = od_matrix(net, seats, id_field="adcode", weight="time")
od.to_csv(out)
t_first = time.perf_counter() - t1
t2 = time.perf_counter()
od_matrix(net, seats, id_field="adcode", weight="time")
t_warm = time.perf_counter() - t2
net._cache.clear()
t3 = time.perf_counter()
od_matrix(net, seats, id_field="adcode", weight="time")
t_nocache = time.perf_counter() - t3
print(json.dumps({"imports": t_imp - t0, "in_process": t2 - t0, "first_search": t_first, "warm": t_warm,
                  "warm_nocache": t_nocache, "numba": "numba" in sys.modules}))
'''

#: What ``iptown network od`` imports (for "compute beyond imports").
CLI_IMPORTS = ("import iptown_gis.cli.main, iptown_gis.cli.network, iptown_gis.network.build, "
               "iptown_gis.network.od, iptown_gis.network.snap, iptown_gis.io.vector")


def _installed(mod: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(mod) is not None


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed:\n{p.stderr[-2000:]}")
    return wall, p.stdout


def _csv_diff(a: Path, b: Path) -> float:
    import numpy as np
    import pandas as pd

    x = pd.read_csv(a).merge(pd.read_csv(b), on=["origin_id", "destination_id"], how="outer")
    ca, cb = x["cost_x"].to_numpy(), x["cost_y"].to_numpy()
    if (np.isnan(ca) != np.isnan(cb)).any():
        return float("inf")
    ok = ~np.isnan(ca)
    return float(np.max(np.abs(ca[ok] - cb[ok]))) if ok.any() else 0.0


def measure(repeat: int = 3) -> dict[str, Any]:
    """Run every case ``repeat`` times (alternating); medians and the checks, as a dict."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    py = sys.executable
    iptown = str(BIN / "iptown")
    cases = [name for name in BASELINES if _installed(BASELINES[name]["imports"].split()[1].split(".")[0])]
    skipped = [name for name in BASELINES if name not in cases]
    walls: dict[str, list[float]] = {"ours (iptown network od)": [], "imports only": [],
                                     **{c: [] for c in cases}}
    inner: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        scripts = {}
        for name in cases:
            spec = BASELINES[name]
            src = BASE.format(imports=spec["imports"], prepare=spec["prepare"], search=spec["search"])
            p = t / f"{len(scripts)}.py"
            p.write_text(src, encoding="utf-8")
            scripts[name] = p
        ours_cmd = [iptown, "network", "od", "--roads", f"{GPKG}:roads", "--length-field", "length_km",
                    "--origins", f"{GPKG}:seats", "--id-field", "adcode", "--out", str(t / "ours.csv")]
        for _ in range(repeat):
            walls["ours (iptown network od)"].append(_run(ours_cmd, env)[0])
            walls["imports only"].append(_run([py, "-c", CLI_IMPORTS], env)[0])
            for name in cases:
                wall, out = _run([py, str(scripts[name]), str(GPKG), str(t / f"{name}.csv")], env)
                walls[name].append(wall)
                inner[name] = json.loads(out.strip().splitlines()[-1])
        _, out = _run([py, "-c", OURS_WARM, str(GPKG), str(t / "ours_lib.csv")], env)
        inner["ours (iptown network od)"] = json.loads(out.strip().splitlines()[-1])
        diffs = {name: _csv_diff(t / "ours.csv", t / f"{name}.csv") for name in cases}
        diffs["ours (iptown network od)"] = _csv_diff(t / "ours.csv", t / "ours_lib.csv")
    med = {k: statistics.median(v) for k, v in walls.items()}
    ours = med["ours (iptown network od)"]
    nx_cold = med.get("NetworkX")
    compute = ours - med["imports only"]
    return {"cold": med, "runs": walls, "inner": inner, "max_abs_diff_min": diffs, "skipped": skipped,
            "ratio_vs_networkx": ours / nx_cold if nx_cold else None, "compute_beyond_imports": compute,
            "repeat": repeat}


def report(r: dict[str, Any]) -> None:
    print(f"120 x 120 seat OD on the Anhui sample, cold = new process, median of {r['repeat']} alternating runs")
    print(f"  {'case':<34} {'cold (s)':>9} {'imports':>8} {'1st OD (s)':>10} {'warm (ms)':>10} "
          f"{'warm no cache':>13} {'max |diff| vs ours (min)':>25}")
    for name, cold in r["cold"].items():
        if name == "imports only":
            continue
        i = r["inner"].get(name, {})
        print(f"  {name:<34} {cold:9.2f} {i.get('imports', float('nan')):8.2f} "
              f"{i.get('first_search', float('nan')):10.3f} {i.get('warm', float('nan')) * 1000:10.1f} "
              f"{i.get('warm_nocache', float('nan')) * 1000:13.1f} {r['max_abs_diff_min'].get(name, 0.0):25.2e}")
    o = r["inner"].get("ours (iptown network od)", {})
    print(f"  (ours warm/1st OD from a library script: build_network + od_matrix; numba imported: {o.get('numba')})")
    print(f"  a process importing only the command's modules: {r['cold']['imports only']:.2f} s")
    for s in r["skipped"]:
        print(f"  {s}: not installed, skipped")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one run per case")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args()
    r = measure(1 if args.quick else args.repeat)
    report(r)
    ratio = r["ratio_vs_networkx"]
    if ratio is not None:
        print(f"target cold ours <= 0.5 x cold NetworkX: {ratio:.2f} x -> {'PASS' if ratio <= 0.5 else 'FAIL'}")
    c = r["compute_beyond_imports"]
    print(f"target compute beyond imports <= 1.5 s: {c:.2f} s -> {'PASS' if c <= 1.5 else 'FAIL'}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
