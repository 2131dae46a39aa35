"""Run a snippet in a fresh Python with its own headless QGIS (for profile / missing-module tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PRELUDE = """
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import QgsApplication
PROFILE = os.environ["IPTOWN_TEST_PROFILE"]
app = QgsApplication([], True, PROFILE)
app.initQgis()
sys.path.append("/usr/share/qgis/python/plugins")
sys.path.append("/usr/share/qgis/python")
RESULT = {}
"""

EPILOGUE = """
print("@@RESULT@@" + json.dumps(RESULT, default=str))
app.exitQgis()
"""


def run_qgis_script(code: str, *, profile: Path, timeout: float = 120) -> dict:
    env = dict(os.environ, IPTOWN_TEST_PROFILE=str(profile), QT_QPA_PLATFORM="offscreen")
    script = PRELUDE + textwrap.dedent(code) + EPILOGUE
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=timeout)
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    if proc.returncode != 0 or not marker:
        raise AssertionError(f"QGIS script failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-5000:]}")
    return json.loads(marker[-1][len("@@RESULT@@"):])
