from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner

from iptown_gis.cli.main import cli
from iptown_gis.pipeline import run_scenario
from iptown_gis.scenario import load_scenario
from iptown_gis.stage_results import SitesResult, ZoningResult
from iptown_gis.zoning import grid_cells


def _cells_file(tmp_path):
    cs = grid_cells((500000, 3500000, 500800, 3500800), 100.0, crs="EPSG:4548")
    g = cs.to_geodataframe()
    x = (cs.centroids[:, 0] - 500000) / 800
    g["sb"] = 1 - np.abs(x - 0.5)
    g["se"] = x
    g["sw"] = 1 - x
    g["water"] = 0
    g.loc[0, "water"] = 1
    p = tmp_path / "cells.gpkg"
    g.to_file(p, layer="grid", driver="GPKG")
    return p


def test_cli_optimise_writes_outputs(tmp_path):
    p = _cells_file(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["zoning", "optimise", "--cells", f"{p}:grid", "--body", "8", "--wing-east", "5",
                                 "--wing-west", "5", "--suit-body", "sb", "--suit-east", "se", "--suit-west", "sw",
                                 "--exclude", "water", "--method", "exact", "--time-limit", "60", "--modules",
                                 "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["all_checks_passed"]
    assert summary["method"] == "exact"
    assert summary["status"] == "optimal"
    assert summary["gap"] is not None
    assert summary["gap"] <= 1e-6
    gj = gpd.read_file(out / "layout.geojson")
    assert gj.crs.to_epsg() == 4326
    d = gj[gj["module"].isna()]
    assert sorted(d["district"]) == ["body", "wing_east", "wing_west"]
    assert dict(zip(d["district"], d["n_cells"])) == {"body": 8, "wing_east": 5, "wing_west": 5}
    assert (gj["module"].notna()).sum() == 7
    np.testing.assert_allclose(d["area_km2"].to_numpy(), d["n_cells"].to_numpy() * 0.01)
    layers = {row[0] for row in pyogrio.list_layers(out / "layout.gpkg")}
    assert layers == {"districts", "modules", "cells"}
    cells = gpd.read_file(out / "layout.gpkg", layer="cells")
    assert cells.crs.to_epsg() == 4548
    assert not cells.loc[cells["excluded"], "district"].notna().any()
    assert (out / "layout.png").stat().st_size > 1000
    assert "categorizedSymbol" in (out / "layout_districts.qml").read_text()


def test_cli_bad_column_and_infeasible_exit_2(tmp_path):
    p = _cells_file(tmp_path)
    base = ["zoning", "optimise", "--cells", f"{p}:grid", "--wing-east", "5", "--wing-west", "5",
            "--suit-east", "se", "--suit-west", "sw", "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(cli, [*base, "--body", "8", "--suit-body", "nope"])
    assert r.exit_code == 2
    assert "nope" in r.output
    r = CliRunner().invoke(cli, [*base, "--body", "200", "--suit-body", "sb"])
    assert r.exit_code == 2
    assert "size targets" in r.output


def test_stage_on_sample(tmp_path, scenario_path):
    scen = load_scenario(scenario_path)
    z = scen.section("zoning")
    z.radius_m, z.cell_size_m = 1500.0, 250.0
    z.body_km2, z.wing_east_km2, z.wing_west_km2 = 0.5, 0.3, 0.3
    z.axis_margin_m = 100.0
    z.time_limit = 20.0
    z.method = "heuristic"
    man = run_scenario(scen, tmp_path, stages=["zoning"])
    summary = json.loads((tmp_path / "zoning" / "summary.json").read_text())
    assert summary["all_checks_passed"]
    assert "340100" in summary["site"]["source"]
    assert abs(summary["site"]["lon"] - 117.2217) < 0.01
    kinds = {o["path"] for o in man["outputs"]}
    assert {"zoning/layout.geojson", "zoning/layout.gpkg", "zoning/summary.json"} <= kinds


def _small(z):
    z.radius_m, z.cell_size_m = 1500.0, 250.0
    z.body_km2, z.wing_east_km2, z.wing_west_km2 = 0.5, 0.3, 0.3
    z.axis_margin_m = 100.0
    z.time_limit = 20.0
    z.method = "heuristic"


def test_stage_lays_out_every_chosen_town(tmp_path, scenario_path):
    """With a site selection, one layout per chosen town, numbered by the selection's choice order."""
    import geopandas as gpd

    from iptown_gis.pipeline import StudyContext
    from iptown_gis.progress import as_progress
    from iptown_gis.zoning import stage

    scen = load_scenario(scenario_path)
    _small(scen.section("zoning"))
    ctx = StudyContext(scenario=scen, out_dir=tmp_path)
    seats = ctx.layer("seats")
    pick = seats[seats["adcode"].isin([340402, 340102])].copy()
    pick["site_id"] = pick["adcode"]
    # the selection lists 340402 as town 2, 340102 as town 1: the towns follow 'choice', not row order
    pick["choice"] = pick["adcode"].map({340102: 1, 340402: 2})
    pick = pick.sort_values("adcode", ascending=False)
    ctx.sites = SitesResult(selected=pick, ranked=pick)
    stage.run(ctx, as_progress(None))
    res = ctx.zoning
    assert isinstance(res, ZoningResult)
    assert [t.town["town_id"] for t in res.layouts] == ["340102", "340402"]
    assert [t.town["town_no"] for t in res.layouts] == [1, 2]
    assert all(t.time_s > 0 for t in res.layouts)
    assert res.first is res.layouts[0]
    assert res.first.paths["gpkg"].name == "layout.gpkg"
    one = json.loads((tmp_path / "zoning" / "summary.json").read_text())
    two = json.loads((tmp_path / "zoning" / "town_2" / "summary.json").read_text())
    assert one["town"] == {"town_no": 1, "town_id": "340102", "town_name": pick.loc[pick["adcode"] == 340102,
                                                                                     "unit_name"].iloc[0]}
    assert two["town"]["town_id"] == "340402"
    assert one["all_checks_passed"]
    assert two["all_checks_passed"]
    for folder, no in ((tmp_path / "zoning", 1), (tmp_path / "zoning" / "town_2", 2)):
        d = gpd.read_file(folder / "layout.gpkg", layer="districts")
        assert set(d["town_no"]) == {no}
        assert (folder / "layout.png").stat().st_size > 0
        gj = gpd.read_file(folder / "layout.geojson")
        assert {"town_no", "town_id", "town_name"} <= set(gj.columns)
    paths = {o["path"] for o in ctx.outputs}
    assert {"zoning/layout.gpkg", "zoning/town_2/layout.gpkg"} <= paths
    assert any("town 2 (" in o["description"] for o in ctx.outputs)
    # towns = "first": only town no. 1
    scen.section("zoning").towns = "first"
    ctx2 = StudyContext(scenario=scen, out_dir=tmp_path / "first")
    # a script's old-style dictionaries still work (deprecated): converted to the typed results
    with pytest.warns(DeprecationWarning, match="ctx.sites"):
        ctx2.results["sites"] = {"selected": pick, "ranked": pick}
    assert isinstance(ctx2.sites, SitesResult)
    assert ctx2.sites.selected is pick
    stage.run(ctx2, as_progress(None))
    with pytest.warns(DeprecationWarning, match="StudyContext.results"):
        assert len(ctx2.results["zoning"]["towns"]) == 1
    assert len(ctx2.zoning.layouts) == 1
    assert not (tmp_path / "first" / "zoning" / "town_2").exists()


def test_cli_layout_out_dir_means_dir(tmp_path):
    """``iptown zoning layout --out DIR`` writes the layout into DIR itself, not DIR/zoning/; a re-run replaces it."""
    from iptown_gis.study.edit import build_study

    scen = build_study(None, tmp_path / "study", overrides={
        "zoning.radius_m": 2500.0, "zoning.cell_size_m": 300.0, "zoning.body_km2": 2.0, "zoning.wing_east_km2": 1.0,
        "zoning.wing_west_km2": 1.0, "zoning.method": "heuristic", "zoning.time_limit": 5.0, "zoning.modules": False,
        "zoning.site": [117.2272, 31.8206]})
    out = tmp_path / "town"
    for _ in range(2):
        r = CliRunner().invoke(cli, ["zoning", "layout", str(scen), "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert f"layout written to {out} " in r.output
    assert not (out / "zoning").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"] == ["zoning"]
    listed = {o["path"] for o in manifest["outputs"]}
    assert {"layout.geojson", "layout.gpkg", "summary.json", "layout.png"} <= listed
    assert listed == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["site"]["lon"] == pytest.approx(117.2272, abs=1e-6)
    districts = gpd.read_file(out / "layout.gpkg", layer="districts")
    assert sorted(districts["district"]) == ["body", "wing_east", "wing_west"]
