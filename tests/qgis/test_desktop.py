"""The plugin in the QGIS desktop a planner runs (``qgis`` under Xvfb, the zip installed in a
throw-away profile): every algorithm through ``processing.run`` on the bundled sample and on a
second region, results equal to the CLI's on the same inputs, styled loading, the panel's whole
study, Cancel (toolbox and panel), an engine crash, and QGIS exiting 0 with no Python error.

One QGIS session runs every check (``session_desktop.py``); the tests below read what it saw.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from conftest import CHINA, ENGINE, GPKG, HERE, ROOT, SAMPLE_GPKG, Session, make_profile, require_qgis, run_desktop

EXPECTED_ALGORITHMS = {
    "buildnetwork", "odmatrix", "isochrones",
    "marketpotential", "kerneldensity", "hotspots", "zonalstatistics",
    "negsimulation", "breakpoints", "ranksites", "selectsites",
    "zoningoptimise", "studyarealayout",
    "runscenario",
}


#: A planner's own study of another province: network, surfaces and site ranking (no NEG inputs).
ZHEJIANG_SCENARIO = """
[study]
name = "Zhejiang second-region check"

[inputs]
boundary = "zhejiang.gpkg:province"
seats = { path = "zhejiang.gpkg", layer = "seats", id_field = "adcode" }
roads = "zhejiang.gpkg:roads"

[network]
roads = "roads"
seats = "seats"
seat_id_field = "adcode"
length_field = "length_km"
length_unit = "km"
max_snap_distance = 60000.0  # Zhoushan's islands are far from the mainland highways

[surfaces]
boundary = "boundary"
cell = 5000.0
masses = "seats"
mass_field = "seat_count"
mode = "network"
drop_far = true  # Zhoushan's outer islands lie beyond the snap limit: no value there
kde_points = "seats"
kde_weight = "seat_count"
kde_radius = 30000.0
hotspot_zones = "cells"
hotspot_variable = "kde"
zonal_zones = []

[sites]
candidates = "seats"
id_field = "adcode"
name_field = "name"
k = 3
model = "rank"
max_snap_distance = 60000.0

[[sites.criteria]]
name = "market_potential"
source = "market_potential"
direction = "benefit"
weight = 0.6

[[sites.criteria]]
name = "kde"
source = "kde"
direction = "benefit"
weight = 0.4
"""


def _second_region(folder: Path) -> dict[str, str] | None:
    """Zhejiang from the national set (shared/data/china): province, county seats, highways."""
    if not (CHINA / "china_provinces.gpkg").is_file():
        return None
    prov = gpd.read_file(CHINA / "china_provinces.gpkg", layer="provinces")
    zj = prov[prov["adcode"].astype(str) == "330000"]
    seats = gpd.read_file(CHINA / "china_county_seats.gpkg", layer="county_seats")
    seats = seats[seats["province_adcode"].astype(str) == "330000"][["adcode", "name", "geometry"]]
    seats["seat_count"] = 1  # the national set has no population: every seat weighs one
    minx, miny, maxx, maxy = zj.total_bounds
    roads = gpd.read_file(CHINA / "china_highways.gpkg", layer="edges", bbox=(minx - 0.2, miny - 0.2, maxx + 0.2,
                                                                               maxy + 0.2))
    roads = roads[["length_km", "geometry"]]
    out = folder / "zhejiang.gpkg"
    zj[["adcode", "name", "geometry"]].to_file(out, layer="province", driver="GPKG")
    seats.to_file(out, layer="seats", driver="GPKG")
    roads.to_file(out, layer="roads", driver="GPKG")
    (folder / "zhejiang.toml").write_text(ZHEJIANG_SCENARIO, encoding="utf-8")
    return {"boundary": f"{out}|layername=province", "seats": f"{out}|layername=seats",
            "roads": f"{out}|layername=roads", "gpkg": str(out), "scenario": str(folder / "zhejiang.toml")}


@pytest.fixture(scope="module")
def desktop(plugin_zip, tmp_path_factory) -> Session:
    require_qgis()
    base = tmp_path_factory.mktemp("desktop")
    profiles = make_profile(base / "profiles", plugin_zip)
    config = {"results": str(base / "results.json"), "out": str(base / "out"), "gpkg": str(GPKG),
              "second_region": _second_region(base)}
    before = hashlib.sha256(SAMPLE_GPKG.read_bytes()).hexdigest()
    reuse = os.environ.get("IPTOWN_REUSE_DESKTOP")  # developers: a saved session's pickle, to rerun assertions
    if reuse and Path(reuse).is_file():
        return pickle.loads(Path(reuse).read_bytes())
    session = run_desktop(HERE / "session_desktop.py", profiles, config, timeout=1500)
    session.results["sample_unchanged"] = hashlib.sha256(SAMPLE_GPKG.read_bytes()).hexdigest() == before
    if reuse:
        Path(reuse).write_bytes(pickle.dumps(session))
    return session


def _cli(*args: str, cwd: Path) -> dict:
    proc = subprocess.run([str(ENGINE), *args], capture_output=True, text=True, cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _gpkg(path: str | Path, layer: str | None = None) -> gpd.GeoDataFrame:
    return gpd.read_file(str(path).split("|")[0], layer=layer)


# ------------------------------------------------------------------------------ the program
def test_qgis_exits_zero_without_python_errors(desktop):
    assert "checks" in desktop.results, f"the session wrote no results:\n{desktop.stderr[-5000:]}"
    assert desktop.returncode == 0, f"QGIS exit code {desktop.returncode}:\n{desktop.stderr[-5000:]}"
    assert desktop.results.get("python_errors") == [], desktop.results.get("python_errors")
    assert "tasks_left_at_exit" not in desktop.results
    for bad in ("free(): invalid pointer", "double free", "Segmentation fault", "Aborted"):
        assert bad not in desktop.stderr


def test_the_committed_sample_is_never_touched(desktop):
    assert desktop.results["sample_unchanged"]


def test_provider_panel_and_all_algorithms(desktop):
    c = desktop.check("startup")
    assert set(c["algorithms"]) == EXPECTED_ALGORITHMS
    assert c["warning"] == ""
    assert c["dock"]
    assert c["menu"]
    assert min(c["help_lengths"].values()) > 80


def test_parameter_defaults_come_from_the_engine(desktop):
    c = desktop.check("defaults_from_engine")
    assert c["engine"] == str(ENGINE)  # found through the zip's engine_hint.txt: nothing configured


def test_plugin_loads_none_of_the_scientific_stack(desktop):
    c = desktop.check("plugin_imports_nothing_of_the_scientific_stack")
    # QGIS itself imports Debian's numpy; nothing may come from pip / the venv
    assert c["numpy"] is None or c["numpy"].startswith("/usr/lib/python3/dist-packages/")


# ------------------------------------------------------------------------------ algorithms
def test_buildnetwork_equals_cli(desktop, tmp_path):
    c = desktop.check("buildnetwork")
    cli = _cli("network", "build", "--roads", f"{GPKG}:roads", "--crs", "EPSG:4548", "--out", str(tmp_path / "n.gpkg"),
               cwd=tmp_path)
    assert (c["edges"], c["nodes"]) == (cli["edges"], cli["nodes"])
    assert c["crs"] == "EPSG:4548"
    assert {"length_m", "time_min", "mode"} <= set(c["fields"])


def test_odmatrix_equals_cli(desktop, tmp_path):
    c = desktop.check("odmatrix")
    out = tmp_path / "od.csv"
    _cli("network", "od", "--roads", f"{GPKG}:roads", "--origins", f"{GPKG}:seats", "--id-field", "adcode",
         "--crs", "EPSG:4548", "--largest-component", "--out", str(out), cwd=tmp_path)
    ref = pd.read_csv(out)
    got = pd.DataFrame(_gpkg(c["path"]).drop(columns="geometry", errors="ignore"))
    assert c["rows"] == len(ref) == 120 * 120
    key = ["origin_id", "destination_id"]
    m = got.astype(dict.fromkeys(key, str)).merge(ref.astype(dict.fromkeys(key, str)), on=key, suffixes=("", "_cli"))
    assert len(m) == len(ref)
    np.testing.assert_allclose(m["cost"], m["cost_cli"], rtol=0, atol=1e-6)  # the CSV has 6 decimals
    assert set(got["unit"]) == {"min"}


def test_isochrones(desktop):
    c = desktop.check("isochrones")
    assert c["polygons"] == 16 * 2
    assert c["crs"] == "EPSG:4548"


def test_marketpotential_memory_layer_in_degrees_equals_cli(desktop, tmp_path):
    c = desktop.check("marketpotential")
    counties = gpd.read_file(GPKG, layer="seats").query("level == 'county'")
    counties.to_file(tmp_path / "counties.gpkg", layer="seats", driver="GPKG")
    ref = tmp_path / "mp.tif"
    _cli("surface", "market-potential", "--masses", f"{tmp_path / 'counties.gpkg'}:seats", "--mass-field",
         "pop_2020", "--boundary", f"{GPKG}:province", "--cell", "5000", "--mode", "network", "--roads",
         f"{GPKG}:roads", "--crs", "EPSG:4548", "--reproject", "--max-snap", "30000", "--out", str(ref), cwd=tmp_path)
    with rasterio.open(ref) as a, rasterio.open(c["files_path"]) as b, rasterio.open(c["path"]) as m:
        ra, rb, rm = a.read(1, masked=True), b.read(1, masked=True), m.read(1, masked=True)
        assert a.transform == b.transform == m.transform
        assert str(b.crs) == "EPSG:4548"
    np.testing.assert_allclose(rb.filled(np.nan), ra.filled(np.nan), rtol=1e-6, equal_nan=True)
    # the roads passed as a WGS84 memory layer (exported with their CRS) give the same surface
    np.testing.assert_allclose(rm.filled(np.nan), ra.filled(np.nan), rtol=1e-3, equal_nan=True)


def test_toolbox_raster_loads_styled_like_the_study_project(desktop, tmp_path):
    c = desktop.check("toolbox_raster_loads_styled")
    assert c["renderer"] == "singlebandpseudocolor"
    assert c["items"] == 5
    assert c["legend"] >= 5
    assert c["opacity"] == pytest.approx(0.85)
    with rasterio.open(c["path"]) as src:
        v = src.read(1, masked=True).compressed()
    lo, hi = np.percentile(v, [2, 98])
    assert c["max"] == pytest.approx(hi, rel=0.05)
    assert c["min"] == pytest.approx(lo, abs=max(1e-9, 0.05 * hi))
    ref = tmp_path / "kde.tif"
    _cli("surface", "kde", "--points", f"{GPKG}:places", "--weight-field", "population", "--boundary",
         f"{GPKG}:province", "--cell", "5000", "--radius", "30000", "--crs", "EPSG:4548", "--out", str(ref),
         cwd=tmp_path)
    with rasterio.open(ref) as a, rasterio.open(c["path"]) as b:
        np.testing.assert_allclose(b.read(1, masked=True).filled(np.nan), a.read(1, masked=True).filled(np.nan),
                                   rtol=1e-6, equal_nan=True)


def test_hotspots_equal_cli(desktop, tmp_path):
    c = desktop.check("hotspots")
    out = tmp_path / "hot.gpkg"
    _cli("surface", "hotspots", "--zones", f"{GPKG}:counties", "--field", "pop_2020", "--permutations", "199",
         "--out", str(out), cwd=tmp_path)
    a, b = _gpkg(out), _gpkg(c["path"])
    assert c["features"] == len(a) == 104
    np.testing.assert_allclose(b["gi_z"], a["gi_z"], rtol=1e-9)
    np.testing.assert_allclose(b["p"], a["p"], rtol=1e-12)
    assert list(b["significance"]) == list(a["significance"])


def test_zonal_statistics_equal_cli(desktop, tmp_path):
    c = desktop.check("zonalstatistics")
    mp = desktop.check("marketpotential")["files_path"]
    out = tmp_path / "zonal.gpkg"
    _cli("surface", "zonal", "--raster", mp, "--zones", f"{GPKG}:prefectures", "--id-field", "adcode",
         "--reproject", "--out", str(out), cwd=tmp_path)
    a, b = _gpkg(out), _gpkg(c["path"])
    assert c["features"] == len(a) == 16
    # the default column prefix is the surface's name: its iptown_surface tag in QGIS (a layer of any
    # name), the file name in the CLI; the values are the same
    for stat in ("mean", "max", "sum"):
        (ca,) = [col for col in a.columns if col.endswith(f"_{stat}")]
        (cb,) = [col for col in b.columns if col.endswith(f"_{stat}")]
        np.testing.assert_allclose(b[cb], a[ca], rtol=1e-9)


def test_negsimulation(desktop):
    c = desktop.check("negsimulation")
    assert c["features"] == 16
    assert c["share_sum"] == pytest.approx(1.0, abs=1e-9)
    assert {"share", "wage", "real_wage", "stable"} <= set(c["fields"])


def test_breakpoints_equal_cli(desktop, tmp_path):
    c = desktop.check("breakpoints")
    cli = _cli("neg", "breakpoints", "--sigma", "5", "--mu", "0.4", "--json", cwd=tmp_path)
    assert c["T_B"] == pytest.approx(cli["break_T"], abs=1e-9)
    assert c["T_S"] == pytest.approx(cli["sustain_T"], abs=1e-9)
    assert c["T_B"] == pytest.approx(1.627, abs=1e-3)
    assert c["T_S"] == pytest.approx(1.807, abs=1e-3)
    assert c["rows"] > 21


def test_ranksites_honours_selected_features_only(desktop):
    c = desktop.check("ranksites_selected_features_only")
    assert c["features"] == c["selected"] == 104
    assert c["first_ranks"] == sorted(c["first_ranks"])
    assert {"score", "rank", "p_top_k"} <= set(c["fields"])


def test_selectsites(desktop):
    c = desktop.check("selectsites")
    assert c["features"] == 3


def test_zoningoptimise(desktop):
    c = desktop.check("zoningoptimise")
    assert c["districts"] == 3
    assert c["modules"] == 7
    assert c["objective"] is not None


def test_studyarealayout_loads_styled(desktop):
    c = desktop.check("studyarealayout")
    assert c["summary"].endswith("summary.json")
    assert set(c["layers"].values()) <= {"categorizedSymbol", "RuleRenderer", "singleSymbol"}
    assert "categorizedSymbol" in c["layers"].values()


def test_bad_input_is_a_processing_error_and_qgis_goes_on(desktop):
    c = desktop.check("bad_input_is_a_clear_error")
    assert "no id column 'no_such_field'" in c["message"]


def test_long_algorithm_does_not_block_the_window(desktop):
    c = desktop.check("long_algorithm_does_not_block_the_window")
    assert c["alg_ok"]
    assert c["seconds"] > 1.0  # long enough to measure
    assert c["max_gap_s"] < 0.5, c


def test_cancel_in_the_toolbox_stops_the_engine_within_2_s(desktop):
    c = desktop.check("cancel_a_toolbox_run")
    assert c["alg_ok"] is False  # the algorithm reports failure (cancelled)
    assert c["cancel_s"] < 2.0, c
    assert not c["output_exists"]
    assert c["engines_left"] == []
    assert c["leftovers"] == []


def test_engine_crash_is_an_error_message(desktop):
    c = desktop.check("engine_crash_is_an_error_not_a_crash")
    assert c["killed"]
    assert c["alg_ok"] is False
    assert not c["output_exists"]
    assert c["messages"], "no 'stopped without a result' message in the log"


def test_second_region(desktop):
    c = desktop.check("second_region")
    assert c["od_rows"] == 90 * 90  # Zhejiang's 90 county-level seats
    assert c["mp_crs"].startswith("EPSG:326")  # degrees projected to the UTM zone of the data
    assert c["ranked"] > 80


# ------------------------------------------------------------------------------ the panel
def test_panel_fits_the_default_dock_width(desktop):
    c = desktop.check("panel_fits_default_width")
    if os.environ.get("IPTOWN_WRITE_DOCS"):  # regenerate docs/qgis_panel.png from this session
        shutil.copyfile(c["screenshot"], ROOT / "docs" / "qgis_panel.png")
    assert c["cut"] == [], c
    assert c["window"] == [1366, 768] or c["window"][0] <= 1366
    assert c["sigma_enabled"]
    assert c["sigma"] > 1
    assert c["weights_rows"] > 3


def test_panel_runs_the_whole_study_and_loads_styled_results(desktop):
    c = desktop.check("panel_whole_workflow")
    assert c["manifest_stages"] == ["network", "neg", "surfaces", "sites", "zoning", "report"]
    assert c["group"]
    kinds = {layer["type"] for layer in c["layers"]}
    assert kinds == {"raster", "vector"}
    rasters = [layer for layer in c["layers"] if layer["type"] == "raster"]
    assert all(layer["renderer"] in ("singlebandpseudocolor", "paletted") for layer in rasters), rasters
    assert "run" in c["compare_keys"]
    assert c["compare_rows"][0][c["compare_keys"].index("status")] == "done"
    assert c["max_gap_s"] < 1.0, c


def test_panel_cancel_stops_the_engine_and_keeps_nothing(desktop):
    c = desktop.check("panel_cancel")
    assert c["status"] == "cancelled"
    assert c["cancel_s"] < 2.0, c
    assert not c["engine_alive"]
    assert c["engines_left"] == []
    assert not c["run_dir_exists"]


def test_panel_runs_a_second_regions_study(desktop):
    c = desktop.check("panel_second_region")
    assert c["status"] == "done"
    assert c["stages"] == ["network", "surfaces", "sites"]
    assert c["layers"] >= 5
    assert not c["sigma_enabled"]  # no [neg] in that study: the panel leaves NEG parameters alone


def test_runscenario_algorithm_loads_its_layers(desktop):
    c = desktop.check("runscenario")
    assert c["stages"] == ["network"]
    assert c["loaded"] >= 2
    assert c["manifest"].endswith("manifest.json")
