"""The plugin tested where planners use it: the real QGIS program.

Nothing here imports ``qgis``. Each test session builds the plugin zip (``make plugin``'s
builder), installs it into a throw-away QGIS profile (unpacked into
``profiles/default/python/plugins`` and enabled in ``QGIS3.ini``, as Plugins > Install from
ZIP does), and runs

- the QGIS desktop, ``xvfb-run qgis --profiles-path PROFILE --code SCRIPT``, with a script
  that drives the provider and the panel and writes what it saw to a JSON file, then quits;
- ``qgis_process run iptown:...`` with the same profile.

The engine is this checkout's ``.venv/bin/iptown`` (found through the zip's ``engine_hint.txt``,
exactly as for a planner who ran ``make setup``). When QGIS or Xvfb is missing the tests FAIL
under ``CI=true`` and are skipped with the reason otherwise.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SAMPLE = ROOT / "sample_data" / "anhui"
SAMPLE_GPKG = SAMPLE / "anhui.gpkg"


def _private_copy() -> Path:
    """A copy of the sample GeoPackage for the QGIS tests: QGIS opens GeoPackages for update and
    touches them (statistics, WAL), which must never change the committed sample."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="iptown_qgis_sample_"))
    shutil.copyfile(SAMPLE_GPKG, folder / "anhui.gpkg")
    return folder / "anhui.gpkg"


GPKG = _private_copy()
CHINA = ROOT.parent / "shared" / "data" / "china"
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
ENGINE = ROOT / ".venv" / "bin" / "iptown"


def _missing() -> str | None:
    for exe in ("qgis", "xvfb-run", "qgis_process"):
        if shutil.which(exe) is None:
            return (f"'{exe}' is not installed: install QGIS and Xvfb (Debian: sudo apt install qgis python3-qgis "
                    "qgis-providers xvfb), or run 'make test', which does")
    if not ENGINE.is_file():
        return f"the engine {ENGINE} does not exist: run 'make setup'"
    return None


def require_qgis() -> None:
    why = _missing()
    if why:
        if IN_CI:
            pytest.fail(f"CI=true and the QGIS program tests cannot run: {why}", pytrace=False)
        pytest.skip(why)


@pytest.fixture(scope="session")
def plugin_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip ``make plugin`` builds."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_plugin.py"), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    (zip_path,) = out.glob("iptown_planner-*.zip")
    return zip_path


def make_profile(folder: Path, plugin_zip: Path | None, *, settings: dict[str, dict[str, str]] | None = None) -> Path:
    """A QGIS profiles folder with the plugin zip installed and enabled in profile 'default'."""
    prof = folder / "profiles" / "default"
    (prof / "python" / "plugins").mkdir(parents=True, exist_ok=True)
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    ini["PythonPlugins"] = {"iptown_planner": "true" if plugin_zip is not None else "false", "processing": "true"}
    ini["qgis"] = {"showTips322": "false", "checkVersion": "false", "allowVersionCheck": "false",
                   "askToSaveProjectChanges": "false", "warnOldProjectVersion": "false"}
    ini["core"] = {"NewsFeed\\httpsfeedqgisorg\\disabled": "true"}
    for section, values in (settings or {}).items():
        ini[section] = {**(ini.get(section, {})), **values}
    (prof / "QGIS").mkdir(parents=True, exist_ok=True)
    with (prof / "QGIS" / "QGIS3.ini").open("w", encoding="utf-8") as f:
        ini.write(f, space_around_delimiters=False)
    if plugin_zip is not None:  # exactly what `make plugin-install QGIS_PROFILE=...` does
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_plugin.py"), "--out",
                               str(plugin_zip.parent), "--install", str(prof)], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stderr
    return folder


@dataclass
class Session:
    """What one run of the QGIS desktop did."""

    returncode: int
    results: dict[str, Any]
    stdout: str
    stderr: str
    seconds: float

    def check(self, name: str) -> dict[str, Any]:
        checks = self.results.get("checks", {})
        assert name in checks, f"check {name!r} did not run; the session's output:\n{self.stderr[-4000:]}"
        c = checks[name]
        assert c.get("ok"), f"{name}: {c.get('error') or c}"
        return c


def run_desktop(script: Path, profiles: Path, config: dict[str, Any], *, env: dict[str, str] | None = None,
                timeout: float = 900) -> Session:
    """Run the QGIS desktop under Xvfb with ``script`` (``--code``); the script writes ``config['results']``."""
    import time

    cfg = profiles / "session.json"
    cfg.write_text(json.dumps(config), encoding="utf-8")
    e = dict(os.environ, IPTOWN_SESSION=str(cfg), QT_QPA_PLATFORM="xcb", XDG_RUNTIME_DIR=str(profiles / "xdg"),
             **(env or {}))
    for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        e.pop(key, None)  # QGIS is started as a planner starts it: no venv, nothing on PYTHONPATH
    e["PATH"] = os.pathsep.join(p for p in e.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    (profiles / "xdg").mkdir(mode=0o700, exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1366x768x24", "qgis", "--profiles-path",
                             str(profiles), "--nologo", "--noversioncheck", "--code", str(script)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[test harness] QGIS did not exit within {timeout} s and was killed"
    seconds = time.perf_counter() - t0
    path = Path(config["results"])
    results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return Session(proc.returncode, results, out, err, seconds)


def qgis_process_cmd() -> list[str]:
    """Debian's /usr/bin/qgis_process passes the GUI's --noversioncheck, which qgis_process 3.22
    rejects; the real binary beside it is used."""
    exe = shutil.which("qgis_process")
    assert exe is not None
    real = Path(exe).with_name("qgis_process.bin")
    return [str(real if real.is_file() else exe)]
