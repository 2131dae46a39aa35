"""Key figures of a finished run, for the panel's comparison table.

Read from the run's manifest and the stages' own output files; nothing is recomputed here.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


def _neg(path: Path) -> dict[str, Any]:
    """Baseline long-run core region and its share (``neg/scenarios.csv``)."""
    with path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("scenario") == "baseline"]
    if not rows:
        return {}
    top = max(rows, key=lambda r: float(r["share"]))
    return {"NEG core": top.get("name") or top.get("region_id"), "NEG core share": float(top["share"]),
            "NEG stable": all(r.get("stable") == "True" for r in rows)}


def _zoning(path: Path) -> dict[str, Any]:
    s = json.loads(path.read_text(encoding="utf-8"))
    out = {"layout objective": s.get("objective"), "layout status": s.get("status"),
           "layout checks": s.get("all_checks_passed")}
    return {k: v for k, v in out.items() if v is not None}


def run_summary(manifest: dict[str, Any], run_dir: str | Path) -> dict[str, Any]:
    """Figures to compare runs by: stages, outputs, timings and each stage's headline numbers."""
    base = Path(run_dir)
    out: dict[str, Any] = {
        "stages": " ".join(manifest.get("stages", [])),
        "outputs": len(manifest.get("outputs", [])),
    }
    for item in manifest.get("outputs", []):
        p = base / item["path"]
        try:
            if p.name == "scenarios.csv" and item.get("stage") == "neg":
                out.update(_neg(p))
            elif p.name == "summary.json" and item.get("stage") == "zoning":
                out.update(_zoning(p))
        except (OSError, ValueError, KeyError):
            continue  # a figure that cannot be read is left out of the comparison
    for k, v in manifest.get("timings_s", {}).items():
        out[f"{k} s"] = v
    return out
