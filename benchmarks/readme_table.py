"""Write the performance table of ``benchmarks/targets.py`` into README (between marker lines).

Run: ``.venv/bin/python benchmarks/readme_table.py out/bench.json [--readme README.md]``

The block between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` is replaced by the table
rendered from the JSON that ``targets.py --json`` wrote, so the figures in README are always the
output of a benchmark run (machine, date and load average included).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"


def render(r: dict[str, Any]) -> str:
    """The Markdown table of the targets, with the machine it ran on and the stage times."""
    m0, m1 = r.get("machine_start", {}), r.get("machine_end", {})
    lines = [
        f"Measured by `make bench` (`benchmarks/targets.py{' --quick' if r.get('quick') else ''}`) on "
        f"{m0.get('date', '?')}: {m0.get('cores', '?')} cores, load average {m0.get('load1', float('nan')):.1f} "
        f"at the start and {m1.get('load1', float('nan')):.1f} at the end, Python {m0.get('python', '?')}. "
        "Cold = a new process; every baseline ran in the same invocation.",
        "",
        "| target | measured | baseline / reference | ratio | result |",
        "|---|---|---|---|---|",
    ]
    for row in r.get("targets", []):
        lines.append(f"| {row['target']} | {row['measured']} | {row['against']} | {row['ratio']} | {row['verdict']} |")
    od = r.get("od")
    if od:
        lines += ["", "OD 120 x 120 on the sample (median of cold runs; warm = the same call again in the process):",
                  "", "| case | cold process (s) | 1st OD in process (s) | warm (ms) | max abs. diff vs ours (min) |",
                  "|---|---|---|---|---|"]
        for name, cold in od["cold"].items():
            if name == "imports only":
                continue
            i = od["inner"].get(name, {})
            lines.append(f"| {name} | {cold:.2f} | {i.get('first_search', float('nan')):.3f} | "
                         f"{i.get('warm', float('nan')) * 1000:.1f} | {od['max_abs_diff_min'].get(name, 0.0):.1e} |")
        for s in od.get("skipped", []):
            lines.append(f"| {s} | not installed | | | |")
    run = r.get("run")
    if run:
        st = run["timings"]
        lines += ["", "Stages of `iptown run` on the sample: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in st.items() if k != "total") + "."]
    rw = r.get("run_workers")
    if rw:
        st = rw["timings"]
        lines += ["", f"With `--workers {rw['workers']}`: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in st.items() if k != "total") + "."]
    return "\n".join(lines)


def write_block(path: Path, text: str) -> None:
    """Replace the text between the markers in ``path`` (the markers must be there)."""
    src = path.read_text(encoding="utf-8")
    a, b = src.find(START), src.find(END)
    if a < 0 or b < a:
        raise SystemExit(f"{path}: no {START} ... {END} block to replace")
    path.write_text(src[:a + len(START)] + "\n" + text + "\n" + src[b:], encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", type=Path)
    ap.add_argument("--readme", type=Path, default=Path(__file__).resolve().parent.parent / "README.md")
    args = ap.parse_args()
    write_block(args.readme, render(json.loads(args.json.read_text(encoding="utf-8"))))
    print(f"wrote the table into {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
