"""``make bench``: every performance target of issue 19, measured in this run, with PASS / FAIL.

Run: ``.venv/bin/python benchmarks/targets.py [--quick] [--json FILE] [--readme README.md]``

Each target is measured here, in fresh processes (cold = a new interpreter), against its
baseline run in the same invocation:

1. cold ``iptown network od`` on the sample (120 seats) <= 0.5 x a cold NetworkX script doing
   the same, and <= 1.5 s of compute beyond imports (``bench_od.py``; SciPy and igraph too);
2. cold ``iptown surface hotspots`` on 104 counties, 999 permutations, <= 3 s, p-values equal to
   esda's (``bench_hotspots.py``);
3. ``iptown --help`` and the time to the first progress line of ``iptown run`` <= 0.5 s;
4. the national exact seat x seat matrix <= 15 s (aim 3 s), equal to Dijkstra
   (``bench_national.py``: very first run with an empty Numba cache, cold, warm, SciPy);
5. the whole ``iptown run`` on the sample <= 60 s, with its per-stage times (in-process, and
   with ``--workers`` = the core count: a local Dask cluster).

Timings depend on the machine and on what else runs on it: the table prints the core count and
the load average at the start and the end. ``--readme`` replaces the block between
``<!-- bench:start -->`` and ``<!-- bench:end -->`` in that file with the table
(``benchmarks/readme_table.py`` does the same from a ``--json`` file). The exit status is 0
whether or not targets are met; it is non-zero only when a measurement itself fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_hotspots
import bench_national
import bench_od
import readme_table

IPTOWN = str(Path(sys.executable).parent / "iptown")
PROGRESS_LINE = re.compile(r"\d+%")


def _median_wall(cmd: list[str], n: int) -> float:
    walls = []
    for _ in range(n):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        walls.append(time.perf_counter() - t)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return statistics.median(walls)


def measure_startup(n: int) -> dict[str, Any]:
    """``iptown --help`` and a bare interpreter, median of ``n`` cold processes each."""
    return {"help": _median_wall([IPTOWN, "--help"], n), "python": _median_wall([sys.executable, "-c", "pass"], n),
            "runs": n}


def measure_run(workers: int | None = None) -> dict[str, Any]:
    """``iptown run`` on the bundled sample (``--workers N`` when given): time to the first
    progress line, total, stages."""
    with tempfile.TemporaryDirectory(prefix="bench_run_") as tmp:
        out = Path(tmp) / "out"
        extra = [] if workers is None else ["--workers", str(workers)]
        t = time.perf_counter()
        p = subprocess.Popen([IPTOWN, "run", "--out", str(out), *extra], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        first = None
        assert p.stderr is not None
        tail: list[str] = []
        for line in p.stderr:
            if first is None and "iptown_gis.cli" in line and PROGRESS_LINE.search(line):
                first = time.perf_counter() - t
            tail = [*tail, line][-30:]
        p.wait()
        wall = time.perf_counter() - t
        if p.returncode != 0:
            raise RuntimeError("iptown run failed:\n" + "".join(tail))
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    timings = {k: float(v) for k, v in manifest["timings_s"].items()}
    return {"first_progress": first, "process": wall, "timings": timings, "workers": workers}


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def targets(r: dict[str, Any]) -> list[dict[str, str]]:
    """The target rows: what, measured, baseline / limit, ratio, verdict."""
    rows: list[dict[str, str]] = []

    def add(what: str, measured: str, against: str, ratio: str, ok: bool | None) -> None:
        rows.append({"target": what, "measured": measured, "against": against, "ratio": ratio,
                     "verdict": _verdict(ok)})

    od = r.get("od")
    if od:
        ours = od["cold"]["ours (iptown network od)"]
        nx = od["cold"].get("NetworkX")
        ratio = od["ratio_vs_networkx"]
        add("cold `iptown network od`, sample, 120 x 120", f"{ours:.2f} s",
            f"NetworkX script, cold: {nx:.2f} s" if nx else "NetworkX not installed",
            f"{ratio:.2f} x (<= 0.5)" if ratio is not None else "-", None if ratio is None else ratio <= 0.5)
        c = od["compute_beyond_imports"]
        add("  compute beyond imports", f"{c:.2f} s", f"imports only: {od['cold']['imports only']:.2f} s",
            f"{c / 1.5:.2f} x the 1.5 s limit", c <= 1.5)
    hs = r.get("hotspots")
    if hs:
        t = hs["cli"]["gi*"]
        add(f"cold `iptown surface hotspots`, 104 counties, {hs['permutations']} perm.", f"{t:.2f} s",
            f"esda, cold: {hs['esda_process']:.2f} s; p equal: {hs['equal_to_esda']}",
            f"{t / 3.0:.2f} x the 3 s limit; {hs['ours_process'] / hs['esda_process']:.3f} x esda",
            t <= 3.0 and bool(hs["equal_to_esda"]))
    st = r.get("startup")
    if st:
        add("`iptown --help`", f"{st['help']:.2f} s", f"bare `python -c pass`: {st['python']:.2f} s",
            f"{st['help'] / 0.5:.2f} x the 0.5 s limit", st["help"] <= 0.5)
    run = r.get("run")
    if run:
        fp = run["first_progress"]
        add("`iptown run`: first progress line", "none seen" if fp is None else f"{fp:.2f} s", "-",
            "-" if fp is None else f"{fp / 0.5:.2f} x the 0.5 s limit", None if fp is None else fp <= 0.5)
    nat = r.get("national")
    if nat:
        c = nat["cold"]
        t = c["first_call"]
        eq = c.get("max_rel_diff")
        sp = c.get("scipy_all_seats")
        against = "-"
        if sp is not None:
            against = (f"SciPy Dijkstra: {sp:.1f} s" + (" (extrapolated from "
                       f"{c['scipy_sources']} seats)" if c["scipy_extrapolated"] else ""))
        add(f"national seat x seat ({c['seats']:,} seats, {c['nodes']:,} nodes; {c['label']}), cold process",
            f"{t:.2f} s (cpu {c['first_call_cpu']:.1f} s)", against,
            f"{t / 15:.2f} x the 15 s limit; aim 3 s {'met' if t <= 3 else 'not met'}",
            t <= 15 and (eq is None or (eq <= 1e-12 and c["same_unreachable"])))
        if eq is not None:
            add("  equal to Dijkstra (SciPy rows)", f"max rel. diff {eq:.1e}",
                f"bit-equal {100 * c['bit_equal_share']:.1f} %", "<= 1e-12", eq <= 1e-12 and c["same_unreachable"])
        if "very_first" in nat:
            v = nat["very_first"]
            add("  very first run (empty Numba cache)", f"{v['first_call']:.2f} s", "compiles the kernel once",
                f"{v['first_call'] / 15:.2f} x the 15 s limit", v["first_call"] <= 15)
    if run:
        tot = run["timings"].get("total", run["process"])
        add("whole `iptown run` on the sample", f"{tot:.1f} s (process {run['process']:.1f} s)", "-",
            f"{tot / 60:.2f} x the 60 s limit", tot <= 60)
    rw = r.get("run_workers")
    if rw:
        tot = rw["timings"].get("total", rw["process"])
        ref = (run or {}).get("timings", {}).get("total")
        add(f"  the same with `--workers {rw['workers']}` (local Dask cluster, one process per core)",
            f"{tot:.1f} s (process {rw['process']:.1f} s)", f"{tot / ref:.2f} x the in-process run" if ref else "-",
            f"{tot / 60:.2f} x the 60 s limit", tot <= 60)
    return rows


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {"cores": os.cpu_count(), "load1": load, "python": platform.python_version(),
            "platform": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="one run per cold case, no very-first national run, SciPy reference on 100 seats")
    ap.add_argument("--json", type=Path, default=None, help="write every figure as JSON")
    ap.add_argument("--readme", type=Path, default=None, help="replace the bench block of this file")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["od", "hotspots", "startup", "national", "run", "run_workers"], help="leave a target out")
    args = ap.parse_args()
    r: dict[str, Any] = {"machine_start": machine(), "quick": args.quick}
    reps = 1 if args.quick else 3
    steps = [
        ("od", lambda: bench_od.measure(reps), bench_od.report),
        ("hotspots", lambda: bench_hotspots.measure(999), bench_hotspots.report),
        ("startup", lambda: measure_startup(reps if args.quick else 5), None),
        ("national", lambda: bench_national.measure(scipy_sources=100 if args.quick else 300,
                                                    first_run=not args.quick), bench_national.report),
        ("run", measure_run, None),
        ("run_workers", lambda: measure_run(workers=os.cpu_count() or 2), None),
    ]
    for name, run, show in steps:
        if name in args.skip:
            continue
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        r[name] = run()
        if show is not None:
            show(r[name])
        if name in ("run", "run_workers"):
            st = r[name]["timings"]
            print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in st.items() if k != "total")
                  + f"; total {st.get('total', float('nan')):.1f} s")
        print(f"   ({time.perf_counter() - t:.0f} s)", flush=True)
    r["machine_end"] = machine()
    r["targets"] = targets(r)
    print()
    print(readme_table.render(r))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(r, indent=1, default=float), encoding="utf-8")
    if args.readme:
        readme_table.write_block(args.readme, readme_table.render(r))
        print(f"wrote the table into {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
