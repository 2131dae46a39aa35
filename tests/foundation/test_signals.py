"""SIGINT / SIGTERM at a spread of moments of ``iptown run`` and ``iptown network od`` (issue 18).

Each case starts the CLI in a subprocess, waits for a log line that marks the moment (before
any stage, inside the network build, inside the Numba Dijkstra of the OD matrix, inside the
surfaces stage and its network shortest paths), then sends the signal after a delay. The
process must exit with 130 (SIGINT) or 143 (SIGTERM), print no traceback and no ``Exception
ignored``, leave no temporary file, and leave either nothing at ``--out`` (no stage had
finished) or the finished stages with a ``manifest.json`` of status ``interrupted`` listing
exactly the files present. The cases run concurrently to keep the test short.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
G = (ROOT / "sample_data" / "anhui" / "anhui.gpkg").as_posix()
MAIN = "from iptown_gis.cli.main import main; main()"

SCENARIO = f"""
[study]
name = "signals"
crs = "EPSG:4548"

[inputs]
boundary = "{G}:province"
seats = "{G}:seats"
county_seats = {{ path = "{G}", layer = "seats", where = "level == 'county'" }}
roads = "{G}:roads"

[network]
roads = "roads"
seats = "seats"
seat_id_field = "adcode"
length_field = "length_km"
length_unit = "km"
largest_component = true
max_snap_distance = 30000.0  # the sample's major roads: 5 km cells up to 28 km from a road node

[surfaces]
cell = 5000.0
masses = "county_seats"
mass_field = "pop_2020"
mode = "network"
kde_points = false
hotspot_zones = false
zonal_zones = false
raster_potential = false
"""

#: (id, command, signal, marker in the -v log (None: from the start), delay after it in s,
#:  stages that must have finished)
CASES = [
    ("run-before-any-stage", "run", signal.SIGINT, "run: stages", 0.0, []),
    ("run-in-network-build", "run", signal.SIGTERM, "stage network: start", 0.3, []),
    ("run-in-od-dijkstra", "run", signal.SIGINT, "origins: snapped", 0.0, []),
    ("run-surfaces-start", "run", signal.SIGTERM, "stage surfaces: start", 0.0, ["network"]),
    ("run-in-surfaces-paths", "run", signal.SIGINT, "grid cells: snapped", 0.0, ["network"]),
    ("od-in-dijkstra", "od", signal.SIGINT, "origins: snapped", 0.0, []),
]


def _command(kind: str, scen: Path, out: Path) -> list[str]:
    base = [sys.executable, "-c", MAIN, "-v"]
    if kind == "run":
        return [*base, "run", str(scen), "--out", str(out)]
    return [*base, "network", "od", "--roads", f"{G}:roads", "--length-field", "length_km", "--origins",
            f"{G}:places", "--drop-far", "--out", str(out / "od.csv")]


def _start(case: tuple, tmp: Path, scen: Path) -> dict:
    name, kind, sig, marker, delay, _ = case
    out = tmp / name
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_command(kind, scen, out), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    state: dict = {"proc": proc, "out": out, "lines": [], "sent": None}

    def watch() -> None:
        t0 = time.monotonic()
        fired = False
        if marker is None:
            time.sleep(delay)
            proc.send_signal(sig)
            state["sent"] = time.monotonic() - t0
            fired = True
        assert proc.stderr is not None
        for line in proc.stderr:
            state["lines"].append(line)
            if not fired and marker in line:
                time.sleep(delay)
                if proc.poll() is None:
                    proc.send_signal(sig)
                    state["sent"] = time.monotonic() - t0
                fired = True

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    state["thread"] = th
    return state


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("signals")
    scen = tmp / "scenario.toml"
    scen.write_text(SCENARIO, encoding="utf-8")
    states = {c[0]: _start(c, tmp, scen) for c in CASES}
    for st in states.values():
        try:
            st["proc"].wait(timeout=420)
        except subprocess.TimeoutExpired:
            st["proc"].kill()
            st["proc"].wait()
        st["thread"].join(timeout=10)
    return states


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_signal_ends_the_run_cleanly(case: tuple, results: dict[str, dict]) -> None:
    name, _kind, sig, marker, _delay, finished = case
    st = results[name]
    log = "".join(st["lines"])
    assert st["sent"] is not None, f"{name}: the marker {marker!r} never came\n{log[-2000:]}"
    assert st["proc"].returncode == 128 + sig, f"{name}: exit {st['proc'].returncode}\n{log[-3000:]}"
    assert "Traceback" not in log, log[-3000:]
    assert "Exception ignored" not in log, log[-3000:]
    assert f"interrupted by {signal.Signals(sig).name}" in log
    out: Path = st["out"]
    if not finished:
        assert not out.exists(), f"{name}: left {sorted(str(p) for p in out.rglob('*'))}"
        return
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert not [f for f in files if any(part.startswith(".") for part in f.split("/"))], files  # no temp files
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["status"] == "interrupted"
    assert man["stages"] == finished
    assert man["interrupted_stage"] not in finished
    assert files == {o["path"] for o in man["outputs"]} | {"manifest.json"}
    assert all(o["stage"] in finished for o in man["outputs"])


def _signal_self(sig: int) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(0.5)  # the handler raises here


def test_swallowed_interrupt_is_raised_again() -> None:
    """A KeyboardInterrupt lost in a finaliser (``Exception ignored``) is raised at the next check."""
    from iptown_gis.errors import Interrupted
    from iptown_gis.progress import Progress, deferred_signals, interrupt_on_signals, raise_if_interrupted

    with interrupt_on_signals():
        with pytest.raises(Interrupted) as info:
            _signal_self(signal.SIGTERM)
        assert info.value.exit_code == 143
        # as if that exception had been swallowed: the signal is still pending
        with deferred_signals():
            raise_if_interrupted()  # cleaning up: nothing raised
        with pytest.raises(Interrupted, match="SIGTERM"):
            Progress(None).update(0.5)
    raise_if_interrupted()  # outside the policy nothing is pending
