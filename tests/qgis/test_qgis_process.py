"""``qgis_process`` (QGIS's command-line runner) with the plugin installed in a profile: three
algorithms run, write their outputs and exit 0 (the engine keeps the scientific stack out of
the QGIS process, so nothing aborts at shutdown any more)."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
import rasterio
from conftest import GPKG, make_profile, qgis_process_cmd, require_qgis


@pytest.fixture(scope="module")
def profile(plugin_zip, tmp_path_factory):
    require_qgis()
    return make_profile(tmp_path_factory.mktemp("qp_profiles"), plugin_zip)


def qgis_process(profile, *args, cwd):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(profile),
               QGIS_PLUGINPATH=str(profile / "profiles" / "default" / "python" / "plugins"),
               XDG_RUNTIME_DIR=str(cwd))
    for key in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(key, None)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    proc = subprocess.run([*qgis_process_cmd(), "--json", *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=cwd, check=False, stdin=subprocess.DEVNULL)
    start = proc.stdout.find("{")
    assert start >= 0, (f"no JSON from qgis_process (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n"
                        f"{proc.stderr[-3000:]}")
    return proc, json.loads(proc.stdout[start:])


def test_provider_is_listed(profile, tmp_path):
    proc, out = qgis_process(profile, "list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    algs = out["providers"]["iptown"]["algorithms"]
    assert "iptown:odmatrix" in algs
    assert len(algs) == 14


def test_breakpoints(profile, tmp_path):
    proc, out = qgis_process(profile, "run", "iptown:breakpoints", "--", "SIGMA=5", "MU=0.4", "N_T=11",
                             f"OUTPUT={tmp_path / 'tomahawk.gpkg'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out["results"]["BREAK_POINT"] == pytest.approx(1.6266, abs=1e-4)
    assert out["results"]["SUSTAIN_POINT"] == pytest.approx(1.8073, abs=1e-4)
    assert (tmp_path / "tomahawk.gpkg").is_file()


def test_odmatrix(profile, tmp_path):
    proc, _out = qgis_process(profile, "run", "iptown:odmatrix", "--", f"ROADS={GPKG}|layername=roads",
                             f"ORIGINS={GPKG}|layername=seats", "ID_FIELD=adcode", "METRIC_CRS=EPSG:4548",
                             f"OUTPUT={tmp_path / 'od.gpkg'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import geopandas as gpd

    od = gpd.read_file(tmp_path / "od.gpkg")
    assert len(od) == 120 * 120
    assert od["cost"].notna().all()


def test_kerneldensity(profile, tmp_path):
    proc, _out = qgis_process(profile, "run", "iptown:kerneldensity", "--", f"BOUNDARY={GPKG}|layername=province",
                              f"POINTS={GPKG}|layername=places", "CELL=10000", "RADIUS=30000",
                              "METRIC_CRS=EPSG:4548", f"OUTPUT={tmp_path / 'kde.tif'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with rasterio.open(tmp_path / "kde.tif") as src:
        v = src.read(1, masked=True)
        assert str(src.crs) == "EPSG:4548"
    assert float(np.ma.max(v)) > 0


def test_a_user_error_is_a_message_not_a_crash(profile, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(profile),
               XDG_RUNTIME_DIR=str(tmp_path))
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([*qgis_process_cmd(), "run", "iptown:odmatrix", "--", f"ROADS={GPKG}|layername=roads",
                           f"ORIGINS={GPKG}|layername=seats", "ID_FIELD=nope", f"OUTPUT={tmp_path / 'od.gpkg'}"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])  # a failed algorithm, not a signal
    assert "no id column 'nope'" in proc.stdout + proc.stderr
    assert not (tmp_path / "od.gpkg").exists()
