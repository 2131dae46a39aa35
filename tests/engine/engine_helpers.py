"""Running a job through the real engine protocol in the test process (shared by the engine tests)."""

from __future__ import annotations

import io
import json
from typing import Any

from iptown_gis.engine import run_job


def run(algorithm: str, params: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Run one job through the protocol; the exit code and the parsed JSON lines."""
    stream = io.StringIO()
    code = run_job({"schema": 1, "algorithm": algorithm, "parameters": params}, stream=stream)
    return code, [json.loads(line) for line in stream.getvalue().splitlines()]


def outputs(algorithm: str, params: dict[str, Any]) -> dict[str, Any]:
    """The ``outputs`` of a job that must succeed (start first, result last, progress never back)."""
    code, msgs = run(algorithm, params)
    assert code == 0, msgs[-1]
    assert msgs[0]["type"] == "start"
    assert msgs[-1]["type"] == "result"
    fractions = [m["fraction"] for m in msgs if m["type"] == "progress"]
    assert fractions == sorted(fractions)
    return msgs[-1]["outputs"]
