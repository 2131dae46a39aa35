"""Engine tools for sites, zoning and whole studies, run through the real protocol on the bundled
Anhui sample and compared with the library called directly; the scenario writer of
:mod:`iptown_gis.study` on its own."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import tomllib
from engine_helpers import outputs
from engine_helpers import run as job

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "anhui"
GPKG = SAMPLE / "anhui.gpkg"
DEM = SAMPLE / "dem_coarse.tif"
CRS = "EPSG:4548"


def fails(algorithm: str, parameters: dict[str, Any], error: str, pattern: str) -> str:
    code, msgs = job(algorithm, parameters)
    assert code == 2, msgs[-1]
    assert msgs[-1]["type"] == "error"
    assert msgs[-1]["error"] == error, msgs[-1]
    assert msgs[-1]["user_error"] is True
    assert re.search(pattern, msgs[-1]["message"]), msgs[-1]["message"]
    return str(msgs[-1]["message"])


def layer(name: str) -> dict[str, str]:
    return {"path": str(GPKG), "layer": name}


# ----------------------------------------------------------------------------------- sites
RANK_WEIGHTS = {"gdp_2022": 0.5, "pop_2020": 0.2, "elevation": 0.3}


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    out = tmp_path_factory.mktemp("sites") / "ranked.gpkg"
    res = outputs("ranksites", {
        "CANDIDATES": {**layer("seats"), "label": "Candidate sites 'seats'"}, "ID_FIELD": "adcode",
        "BENEFIT_FIELDS": ["gdp_2022"], "COST_FIELDS": "pop_2020",
        "RASTERS": [{"path": str(DEM), "name": "elevation"}],
        "WEIGHTS": "gdp_2022=0.5, pop_2020=0.2, elevation=0.3", "TOP_K": 5, "DRAWS": 200, "SEED": 3,
        "METRIC_CRS": CRS, "OUTPUT": str(out)})
    return res


@pytest.fixture(scope="module")
def want_ranked():
    from iptown_gis.io.vector import read_vector
    from iptown_gis.sites.candidates import candidates_from_layer
    from iptown_gis.sites.criteria import sample_raster
    from iptown_gis.sites.select import rank_sites

    seats = read_vector(GPKG, layer="seats", crs=CRS)
    cands = candidates_from_layer(seats.reset_index(drop=True), id_field="adcode")
    crit = pd.DataFrame({"gdp_2022": cands["gdp_2022"].astype(float), "pop_2020": cands["pop_2020"].astype(float),
                         "elevation": sample_raster(str(DEM), cands, name="elevation")}, index=cands.index)
    return rank_sites(cands, crit, weights=RANK_WEIGHTS,
                      directions={"gdp_2022": "benefit", "pop_2020": "cost", "elevation": "benefit"},
                      k=5, draws=200, seed=3)


def test_ranksites_matches_library_in_rank_order_with_source_fid(ranked, want_ranked):
    got = pyogrio.read_dataframe(ranked["OUTPUT"], fid_as_index=True)
    assert pyogrio.list_layers(ranked["OUTPUT"])[0][0] == "ranked_sites"
    assert len(got) == 120
    assert pyproj.CRS.from_user_input(got.crs) == pyproj.CRS.from_user_input(CRS)
    # written in rank order: the first feature is the best site
    assert got["rank"].tolist() == sorted(got["rank"])
    assert got["rank"].iloc[0] == 1
    assert got.index.tolist() == sorted(got.index)
    assert [int(v) for v in got["site_id"]] == [int(v) for v in want_ranked["site_id"]]
    np.testing.assert_allclose(got["score"], want_ranked["score"], rtol=1e-12)
    np.testing.assert_allclose(got["p_top_k"], want_ranked["p_top_k"], rtol=1e-12)
    np.testing.assert_allclose(got["norm_elevation"], want_ranked["norm_elevation"], rtol=1e-12)
    # the candidates' GeoPackage fid is kept as source_fid and still points at the input feature
    src = pyogrio.read_dataframe(GPKG, layer="seats", read_geometry=False, fid_as_index=True)["adcode"]
    assert "fid" not in got.columns
    assert all(int(src[f]) == int(s) for f, s in zip(got["source_fid"], got["site_id"], strict=True))


def test_selectsites_pmedian_matches_library(ranked, want_ranked, tmp_path):
    from iptown_gis.io.vector import read_vector
    from iptown_gis.network import build_network
    from iptown_gis.sites.criteria import network_costs
    from iptown_gis.sites.select import choose_sites

    res = outputs("selectsites", {
        "RANKED": ranked["OUTPUT"], "K": 3, "MODEL": "pmedian", "ROADS": layer("roads"),
        "DEMAND": layer("seats"), "DEMAND_WEIGHT": "pop_2020", "METRIC_CRS": CRS,
        "OUTPUT": str(tmp_path / "selected.gpkg")})
    chosen = gpd.read_file(res["OUTPUT"])
    assert len(chosen) == 3
    net = build_network(read_vector(GPKG, layer="roads", crs=CRS))
    pool = want_ranked.reset_index(drop=True)
    demand = read_vector(GPKG, layer="seats", crs=CRS).reset_index(drop=True)
    dc = network_costs(net, demand, pool, weight="time", check_reach=False)
    lib = choose_sites(pool, k=3, model="pmedian", demand_cost=dc,
                       demand_weights=demand["pop_2020"].to_numpy(float), demand_ids=demand.index.tolist())
    assert res["OBJECTIVE"] == pytest.approx(lib.summary["objective"], rel=1e-9)
    assert [int(v) for v in chosen["site_id"]] == [int(v) for v in lib.selected["site_id"]]
    np.testing.assert_allclose(chosen["demand_served"], lib.selected["demand_served"])


def test_selectsites_rank_model_needs_no_roads(ranked, want_ranked, tmp_path):
    from iptown_gis.sites.select import choose_sites

    res = outputs("selectsites", {"RANKED": ranked["OUTPUT"], "K": 4, "OUTPUT": str(tmp_path / "top.gpkg")})
    lib = choose_sites(want_ranked.reset_index(drop=True), k=4, model="rank")
    chosen = gpd.read_file(res["OUTPUT"])
    assert [int(v) for v in chosen["site_id"]] == [int(v) for v in lib.selected["site_id"]]
    assert res["OBJECTIVE"] == pytest.approx(lib.summary["objective"], rel=1e-12)


def test_sites_errors(ranked, tmp_path):
    fails("selectsites", {"RANKED": ranked["OUTPUT"], "K": 2, "MODEL": "pmedian", "OUTPUT": str(tmp_path / "s.gpkg")},
          "NetworkError", r"model 'pmedian' needs network costs: set 'Road lines'")
    fails("selectsites", {"RANKED": ranked["OUTPUT"], "K": 2, "MIN_SPACING": 30, "OUTPUT": str(tmp_path / "s.gpkg")},
          "NetworkError", r"model 'rank' with a minimum spacing needs network costs")
    fails("ranksites", {"CANDIDATES": layer("seats"), "OUTPUT": str(tmp_path / "r.gpkg")},
          "ParameterError", r"give at least one criterion: benefit fields, cost fields or surface rasters")
    fails("ranksites", {"CANDIDATES": layer("seats"), "BENEFIT_FIELDS": ["gdp_2022"], "NORMALISATION": "log",
                        "OUTPUT": str(tmp_path / "r.gpkg")}, "ParameterError", r"NORMALISATION.*minmax, zscore, rank")


# ----------------------------------------------------------------------------------- zoning
@pytest.fixture(scope="module")
def cells_gpkg(tmp_path_factory):
    from iptown_gis.io.vector import write_vector
    from iptown_gis.zoning import grid_cells

    cs = grid_cells((500_000, 3_500_000, 501_000, 3_501_000), 100.0, crs=CRS)
    g = cs.to_geodataframe()[["geometry"]]
    rng = np.random.default_rng(3)
    x, y = (cs.centroids - cs.centroids.min(axis=0)).T / 1000
    g["sb"] = np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) * 8) + 0.3 * rng.random(cs.n)
    g["se"] = x + 0.3 * rng.random(cs.n)
    g["sw"] = (1 - x) + 0.3 * rng.random(cs.n)
    g["ex"] = 0
    path = tmp_path_factory.mktemp("cells") / "cells.gpkg"
    write_vector(g, path, layer="cells")
    return path


ZONING = {"SUIT_BODY": "sb", "SUIT_EAST": "se", "SUIT_WEST": "sw", "EXCLUDE": "ex", "BODY": 20, "WING_EAST": 12,
          "WING_WEST": 12, "TOLERANCE": 0.1, "METHOD": "heuristic", "TIME_LIMIT": 30, "SEED": 5}


def test_zoningoptimise_matches_library(cells_gpkg, tmp_path):
    from iptown_gis.io.vector import read_vector
    from iptown_gis.zoning import ZoningModel, cells_from_polygons, layout_frames

    res = outputs("zoningoptimise", {
        "CELLS": str(cells_gpkg), **ZONING, "MODULES": True, "OUTPUT_DISTRICTS": str(tmp_path / "d.gpkg"),
        "OUTPUT_MODULES": str(tmp_path / "m.gpkg"), "OUTPUT_CELLS": str(tmp_path / "c.gpkg")})
    cells = cells_from_polygons(read_vector(cells_gpkg), exclude="ex")
    m = ZoningModel.districts(cells, suit_body="sb", suit_east="se", suit_west="sw", body=20, wing_east=12,
                              wing_west=12, tolerance=0.1).solve(method="heuristic", time_limit=30, seed=5)
    assert res["OBJECTIVE"] == pytest.approx(m.objective_, rel=1e-12)
    assert res["STATUS"] == m.status_
    assert res["GAP"] == pytest.approx(m.gap_, rel=1e-9)
    d = gpd.read_file(res["OUTPUT_DISTRICTS"], layer="districts")
    want = layout_frames(cells, m)["districts"]
    assert dict(zip(d["district"], d["n_cells"], strict=True)) == dict(
        zip(want["district"], want["n_cells"], strict=True))
    assert len(gpd.read_file(res["OUTPUT_MODULES"], layer="modules")) == 7
    got_cells = gpd.read_file(res["OUTPUT_CELLS"], layer="cells")
    want_cells = layout_frames(cells, m)["cells"]
    assert got_cells["district"].fillna("-").tolist() == want_cells["district"].fillna("-").tolist()


def test_zoningoptimise_optional_outputs_and_errors(cells_gpkg, tmp_path):
    res = outputs("zoningoptimise", {"CELLS": str(cells_gpkg), **ZONING, "MODULES": False, "MEASURE": "km²",
                                     "BODY": 0.2, "WING_EAST": 0.12, "WING_WEST": 0.12,
                                     "OUTPUT_DISTRICTS": str(tmp_path / "d.gpkg")})
    assert set(res) == {"OBJECTIVE", "GAP", "STATUS", "OUTPUT_DISTRICTS"}
    d = gpd.read_file(res["OUTPUT_DISTRICTS"])
    assert dict(zip(d["district"], d["n_cells"], strict=True))["body"] in range(18, 23)
    params = {"CELLS": str(cells_gpkg), **ZONING, "OUTPUT_DISTRICTS": str(tmp_path / "e.gpkg")}
    del params["SUIT_BODY"]
    fails("zoningoptimise", params, "ParameterError", r"parameter SUIT_BODY is required")
    fails("zoningoptimise", {**params, "SUIT_BODY": "nope"}, "ColumnError", r"nope")


SMALL = {"RADIUS": 3000, "CELL_SIZE": 300, "BODY_KM2": 2.5, "WING_EAST_KM2": 1.5, "WING_WEST_KM2": 1.5,
         "METHOD": "heuristic", "TIME_LIMIT": 8, "MODULES": True}


def test_studyarealayout_site_in_a_projected_crs(tmp_path):
    from iptown_gis.study.edit import build_study

    x, y = pyproj.Transformer.from_crs(4326, CRS, always_xy=True).transform(117.2272, 31.8206)
    out = tmp_path / "layout"
    res = outputs("studyarealayout", {**SMALL, "SITE": {"x": x, "y": y, "crs": CRS}, "OUTPUT_FOLDER": str(out)})
    gpkg = out / "zoning" / "layout.gpkg"
    assert res == {"OUTPUT_FOLDER": str(out), "SUMMARY": str(out / "zoning" / "summary.json"),
                   "DISTRICTS": f"{gpkg}|layername=districts", "CELLS": f"{gpkg}|layername=cells",
                   "MODULES_LAYER": f"{gpkg}|layername=modules"}
    summary = json.loads(Path(res["SUMMARY"]).read_text())
    assert summary["site"]["lon"] == pytest.approx(117.2272, abs=1e-6)
    assert summary["site"]["lat"] == pytest.approx(31.8206, abs=1e-6)
    assert json.loads((out / "manifest.json").read_text())["stages"] == ["zoning"]
    districts = gpd.read_file(gpkg, layer="districts")
    areas = dict(zip(districts["district"], districts["area_km2"], strict=True))
    for name, target in (("body", 2.5), ("wing_east", 1.5), ("wing_west", 1.5)):
        assert areas[name] == pytest.approx(target, rel=0.05 + 0.09 / target)  # ±5 % (+ one cell)
    assert len(gpd.read_file(gpkg, layer="modules")) == 7
    # the scenario it ran is the library's build_study of the same overrides
    lonlat = [round(v, 7) for v in pyproj.Transformer.from_crs(CRS, 4326, always_xy=True).transform(x, y)]
    want = build_study(None, tmp_path / "want", overrides={
        "zoning.radius_m": 3000.0, "zoning.cell_size_m": 300.0, "zoning.body_km2": 2.5, "zoning.wing_east_km2": 1.5,
        "zoning.wing_west_km2": 1.5, "zoning.method": "heuristic", "zoning.time_limit": 8.0, "zoning.modules": True,
        "zoning.site": lonlat})
    assert (out / "study" / "scenario.toml").read_text() == want.read_text()


def test_studyarealayout_bad_site(tmp_path):
    fails("studyarealayout", {"SITE": {"x": "east", "y": 31.8}, "OUTPUT_FOLDER": str(tmp_path)},
          "ParameterError", r"SITE: the point needs numbers x and y")
    fails("studyarealayout", {"SITE": {"x": 1.0, "y": 2.0, "crs": "EPSG:999999"}, "OUTPUT_FOLDER": str(tmp_path)},
          "CRSError", r"SITE: unknown CRS")


def test_site_point_forms():
    from iptown_gis.engine.params import Params
    from iptown_gis.engine.tools.zoning import site_lonlat

    assert site_lonlat(Params({}, algorithm="t")) is None
    assert site_lonlat(Params({"SITE": "117.2272,31.8206 [EPSG:4326]"}, algorithm="t")) == [117.2272, 31.8206]
    assert site_lonlat(Params({"SITE": {"x": 117.2272, "y": 31.8206}}, algorithm="t")) == [117.2272, 31.8206]


# ----------------------------------------------------------------------------------- studies
def test_runscenario_network_stage(tmp_path):
    from iptown_gis.study.layers import output_layers

    out = tmp_path / "run"
    res = outputs("runscenario", {"STAGES": ["network"], "OUTPUT_FOLDER": str(out)})
    assert res["OUTPUT_FOLDER"] == str(out)
    assert res["MANIFEST"] == str(out / "manifest.json")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"] == ["network"]
    assert res["OUTPUT_LAYERS"] == output_layers(manifest, out)
    gpkg = out / "network" / "network.gpkg"
    assert {"source": f"{gpkg}|layername=edges", "name": "Road network: roads", "provider": "ogr", "stage": "network",
            "kind": "vector", "style_key": "edges"} in res["OUTPUT_LAYERS"]
    assert all(set(i) == {"source", "name", "provider", "stage", "kind", "style_key"} for i in res["OUTPUT_LAYERS"])


def test_runscenario_errors(tmp_path):
    fails("runscenario", {"SCENARIO": str(tmp_path / "nope.toml"), "OUTPUT_FOLDER": str(tmp_path / "o")},
          "DataNotFoundError", r"nope\.toml.*does not exist")
    fails("runscenario", {"STAGES": ["network", "weather"], "OUTPUT_FOLDER": str(tmp_path / "o")},
          "ParameterError", r"STAGES: 'weather' is not one of network, neg, surfaces, sites, zoning, report")


@pytest.fixture(scope="module")
def picked(tmp_path_factory):
    """Layers a user picked in the panel, already written to a GeoPackage by the plugin."""
    from iptown_gis.io.vector import read_vector, write_vector

    path = tmp_path_factory.mktemp("picked") / "picked.gpkg"
    write_vector(read_vector(GPKG, layer="roads", metric=False), path, layer="my_roads")
    places = read_vector(GPKG, layer="places", metric=False).drop(columns=["geonameid"])
    write_vector(places, path, layer="my_places")
    seats = read_vector(GPKG, layer="seats", metric=False).query("level == 'county'")
    write_vector(seats, path, layer="my_seats")
    return path


def test_planstudy_picked_layers_and_overrides(picked, tmp_path):
    from iptown_gis.scenario import default_scenario_path
    from iptown_gis.study.layers import output_layers

    base = tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))
    crits = [dict(c, weight=0.5) if c["name"] == "population" else c for c in base["sites"]["criteria"]]
    run_dir = tmp_path / "run 1"
    res = outputs("planstudy", {
        "RUN_DIR": str(run_dir), "NAME": "panel run", "STAGES": ["network"],
        "LAYERS": {"roads": {"path": str(picked), "layer": "my_roads"},
                   "places": {"path": str(picked), "layer": "my_places"},
                   "county_seats": {"path": str(picked), "layer": "my_seats"}},
        "OVERRIDES": {"neg.sigma": 4.5, "zoning.body_km2": 4.0, "sites.criteria": crits}})
    scen = run_dir / "scenario.toml"
    assert res["SCENARIO_FILE"] == str(scen)
    data = tomllib.loads(scen.read_text(encoding="utf-8"))
    assert data["inputs"]["roads"] == {"path": str(picked), "layer": "my_roads"}
    assert data["inputs"]["places"] == {"path": str(picked), "layer": "my_places"}  # no geonameid column
    assert data["inputs"]["county_seats"] == {"path": str(picked), "layer": "my_seats", "id_field": "adcode"}
    assert data["inputs"]["railways"] == {"path": str(GPKG), "layer": "railways"}
    assert data["inputs"]["dem"] == {"path": str(DEM)}
    assert data["neg"]["sigma"] == 4.5
    assert data["zoning"]["body_km2"] == 4.0
    assert data["sites"]["criteria"] == crits
    assert data["study"]["name"] == "panel run"
    assert {k: v for k, v in data.items() if k not in ("inputs", "neg", "zoning", "sites", "study")} == {
        k: v for k, v in base.items() if k not in ("inputs", "neg", "zoning", "sites", "study")}
    manifest = json.loads(Path(res["MANIFEST"]).read_text())
    assert manifest["stages"] == ["network"]
    assert manifest["scenario"]["name"] == "panel run"
    roads = next(i for i in manifest["inputs"] if i["name"] == "roads")
    assert (roads["path"], roads["layer"]) == (str(picked), "my_roads")
    assert res["OUTPUT_FOLDER"] == str(run_dir)
    assert res["OUTPUT_LAYERS"] == output_layers(manifest, run_dir)
    assert any(i["source"].endswith("network.gpkg|layername=edges") for i in res["OUTPUT_LAYERS"])


def test_planstudy_errors(picked, tmp_path):
    fails("planstudy", {"RUN_DIR": str(tmp_path / "a"), "OVERRIDES": {"neg.sigmaa": 3.0}},
          "ScenarioError", r"\[neg\] sigmaa: unknown key")
    fails("planstudy", {"RUN_DIR": str(tmp_path / "b"), "OVERRIDES": {"neg.sigma": 0.5}},
          "ScenarioError", r"\[neg\] sigma")
    fails("planstudy", {"RUN_DIR": str(tmp_path / "c"), "LAYERS": {"roads": {"path": str(tmp_path / "no.gpkg")}}},
          "DataNotFoundError", r"layer for input 'roads': file .*no\.gpkg.* does not exist")
    fails("planstudy", {"RUN_DIR": str(tmp_path / "d"), "LAYERS": {"roads": {"path": str(picked), "layer": "x"}}},
          "DataNotFoundError", r"no layer 'x' in picked\.gpkg; layers are: my_roads")
    fails("planstudy", {"RUN_DIR": str(tmp_path / "e"), "LAYERS": "roads.gpkg"},
          "ParameterError", r"LAYERS: give a JSON object")
    fails("planstudy", {"RUN_DIR": str(tmp_path / "f"), "STAGES": ["all"]}, "ParameterError", r"STAGES")
    fails("planstudy", {"BASE_SCENARIO": str(tmp_path / "none.toml"), "RUN_DIR": str(tmp_path / "g")},
          "DataNotFoundError", r"none\.toml.*does not exist")


def test_scenariodefaults_bundled_study():
    from iptown_gis.engine.tools.study import PANEL_KEYS
    from iptown_gis.scenario import default_scenario_path

    res = outputs("scenariodefaults", {})
    data = tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))
    assert res["SCENARIO"] == str(default_scenario_path().resolve())
    assert res["DATA"] == data
    assert list(res["VALUES"]) == list(PANEL_KEYS)
    assert res["VALUES"]["neg.sigma"] == 5.0
    assert res["VALUES"]["zoning.body_km2"] == 5.0
    assert res["VALUES"]["sites.criteria"] == data["sites"]["criteria"]
    assert res["VALUES"]["surfaces.mass_field"] == "pop_2020"
    assert all(res["SUPPORTED"].values())


def test_scenariodefaults_fall_back_to_the_section_models(tmp_path):
    from iptown_gis.neg.config import NEGConfig
    from iptown_gis.sites.config import RobustnessConfig
    from iptown_gis.study.edit import toml_dumps
    from iptown_gis.surfaces.config import SurfacesConfig
    from iptown_gis.zoning.config import ZoningConfig

    data = {"study": {"name": "reduced", "when": dt.date(2024, 5, 1)}, "neg": {"mu": 0.3}, "zoning": {"radius_m": 3000}}
    base = tmp_path / "reduced.toml"
    base.write_text(toml_dumps(data), encoding="utf-8")
    keys = ["neg.sigma", "neg.mu", "neg.tau", "zoning.body_km2", "zoning.wing_east_km2", "sites.criteria",
            "surfaces.mass_field", "sites.robustness.draws", "neg.no_such_key", "weather.rain"]
    res = outputs("scenariodefaults", {"BASE_SCENARIO": str(base), "KEYS": keys})
    assert res["SCENARIO"] == str(base)
    assert res["DATA"] == {**data, "study": {"name": "reduced", "when": "2024-05-01"}}
    assert res["VALUES"] == {
        "neg.sigma": NEGConfig().sigma, "neg.mu": 0.3, "neg.tau": NEGConfig().tau,
        "zoning.body_km2": ZoningConfig().body_km2, "zoning.wing_east_km2": ZoningConfig().wing_east_km2,
        "sites.criteria": None, "surfaces.mass_field": SurfacesConfig().mass_field,
        "sites.robustness.draws": RobustnessConfig().draws, "neg.no_such_key": None, "weather.rain": None}
    assert res["SUPPORTED"] == {"neg.sigma": True, "neg.mu": True, "neg.tau": True, "zoning.body_km2": True,
                                "zoning.wing_east_km2": True, "sites.criteria": False, "surfaces.mass_field": False,
                                "sites.robustness.draws": False, "neg.no_such_key": False, "weather.rain": False}
    bad = tmp_path / "bad.toml"
    bad.write_text("[neg\nsigma = 5", encoding="utf-8")
    fails("scenariodefaults", {"BASE_SCENARIO": str(bad)}, "ScenarioError", r"bad\.toml: not valid TOML")
    fails("scenariodefaults", {"BASE_SCENARIO": str(tmp_path / "gone.toml")}, "DataNotFoundError",
          r"gone\.toml.*does not exist")


def test_engine_info_lists_the_tools_with_their_defaults():
    from iptown_gis.engine import describe
    from iptown_gis.engine.tools import sites, study, zoning

    algs = describe()["algorithms"]
    want = {"ranksites": sites.RANK_DEFAULTS, "selectsites": sites.SELECT_DEFAULTS,
            "zoningoptimise": zoning.OPTIMISE_DEFAULTS, "studyarealayout": zoning.LAYOUT_DEFAULTS,
            "runscenario": {"LOAD_OUTPUTS": True}, "planstudy": {},
            "scenariodefaults": {"KEYS": list(study.PANEL_KEYS)}}
    for name, defaults in want.items():
        assert algs[name]["defaults"] == defaults
        assert algs[name]["summary"]
        assert not algs[name]["summary"].startswith(name)
    assert algs["studyarealayout"]["defaults"]["BODY_KM2"] == 6.0  # ZoningConfig's default
    assert algs["selectsites"]["defaults"]["DEFAULT_SPEED"] == 60.0
    assert algs["ranksites"]["defaults"]["NORMALISATION"] in sites.NORMALISATIONS


# ----------------------------------------------------------------------------------- iptown_gis.study
def test_toml_round_trips_the_bundled_study():
    from iptown_gis.study.edit import toml_dumps

    data = tomllib.loads((SAMPLE / "scenario.toml").read_text(encoding="utf-8"))
    assert tomllib.loads(toml_dumps(data)) == data


def test_toml_round_trips_awkward_values():
    from iptown_gis.study.edit import toml_dumps

    data = {
        "top": 1, "title": 'a "quoted"\nline\twith \\ tabs',
        "study": {"name": "x", "when": dt.datetime(2024, 5, 1, 12, 30), "day": dt.date(2024, 5, 1), "on": True},
        "inputs": {"roads": {"path": "/data/r.gpkg", "layer": "roads"}, "dem": "dem.tif",
                   "with space": {"path": "a b.gpkg"}},
        "neg": {"sigma": 5.0, "big": 1e300, "inf": float("inf"), "amenity": {"340100": 0.05},
                "scenarios": [{"name": "a", "links": [["1", "2"]]}, {"name": "b"}]},
        "zoning": {"recipe": {"body": {"slope": 0.1}}, "empty": {}},
        "sites": {"k": np.int64(3), "w": np.float64(0.25)},
    }
    back = tomllib.loads(toml_dumps(data))
    assert back["sites"] == {"k": 3, "w": 0.25}
    assert back["neg"]["inf"] == float("inf")
    back["sites"] = data["sites"] = {}
    assert back == data
    with pytest.raises(TypeError, match="cannot write NoneType"):
        toml_dumps({"neg": {"sigma": None}})


def test_set_and_get_key():
    from iptown_gis.errors import ParameterError
    from iptown_gis.study.edit import get_key, set_key

    data: dict[str, Any] = {"neg": {"sigma": 5.0}}
    set_key(data, "neg.sigma", 4.0)
    set_key(data, "sites.constraints.min_spacing", 60.0)
    assert data == {"neg": {"sigma": 4.0}, "sites": {"constraints": {"min_spacing": 60.0}}}
    assert get_key(data, "sites.constraints.min_spacing") == 60.0
    assert get_key(data, "sites.constraints") == {"min_spacing": 60.0}
    assert get_key(data, "sites.nope", "dflt") == "dflt"
    assert get_key(data, "neg.sigma.deeper") is None
    with pytest.raises(ParameterError, match=r"neg\.sigma is a value, not a table"):
        set_key(data, "neg.sigma.deeper", 1)
    with pytest.raises(ParameterError, match=r"give section\.key"):
        set_key(data, "neg.", 1)


def test_build_study_relative_base_and_removed_keys(tmp_path, monkeypatch):
    from iptown_gis.errors import ParameterError
    from iptown_gis.scenario import load_scenario
    from iptown_gis.study.edit import build_study

    monkeypatch.chdir(SAMPLE)
    target = build_study("scenario.toml", tmp_path / "run", overrides={"zoning.axis_margin_m": None},
                         layers={"roads": f"{GPKG}:roads"})
    scen = load_scenario(target)
    assert scen.input_path("county_seats") == GPKG
    assert scen.inputs["county_seats"].where == "level == 'county'"
    assert scen.inputs["roads"].layer == "roads"
    data = tomllib.loads(target.read_text(encoding="utf-8"))
    assert "axis_margin_m" not in data["zoning"]
    assert data["study"]["name"] == "Anhui IP characteristic towns"
    with pytest.raises(ParameterError, match=r"override neg\.sigma"):
        build_study(None, tmp_path / "run2", overrides={"neg.sigma": object()})
    with pytest.raises(ParameterError, match=r"layer for input 'roads'"):
        build_study(None, tmp_path / "run3", layers={"roads": 3})


def test_output_layers_rules(tmp_path):
    from iptown_gis.io.vector import write_vector
    from iptown_gis.study.layers import output_layers

    pts = gpd.GeoDataFrame({"a": [1]}, geometry=gpd.points_from_xy([117.0], [31.0]), crs="EPSG:4326")
    for rel, layers in (("z/layout.gpkg", ["districts", "modules"]), ("s/one.gpkg", ["sites"])):
        for name in layers:
            write_vector(pts, tmp_path / rel, layer=name)
    write_vector(pts, tmp_path / "z" / "layout.geojson")
    write_vector(pts, tmp_path / "w" / "web.geojson")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "mp.tif").write_bytes(b"not read")
    (tmp_path / "r" / "t.csv").write_text("a\n1\n")
    items = ["r/mp.tif", "z/layout.gpkg", "z/layout.geojson", "s/one.gpkg", "w/web.geojson", "r/t.csv", "gone.gpkg"]
    manifest = {"outputs": [{"path": p, "stage": p.split("/")[0], "kind": "k"} for p in items]}
    got = output_layers(manifest, tmp_path)
    assert got == [
        {"source": str(tmp_path / "r/mp.tif"), "name": "mp", "provider": "gdal", "stage": "r", "kind": "k",
         "style_key": "mp"},
        {"source": f"{tmp_path / 'z/layout.gpkg'}|layername=districts", "name": "districts", "provider": "ogr",
         "stage": "z", "kind": "k", "style_key": "districts"},
        {"source": f"{tmp_path / 'z/layout.gpkg'}|layername=modules", "name": "modules", "provider": "ogr",
         "stage": "z", "kind": "k", "style_key": "modules"},
        {"source": f"{tmp_path / 's/one.gpkg'}|layername=sites", "name": "one", "provider": "ogr", "stage": "s",
         "kind": "k", "style_key": "sites"},
        {"source": str(tmp_path / "w/web.geojson"), "name": "web", "provider": "ogr", "stage": "w", "kind": "k",
         "style_key": "web"},
    ]
