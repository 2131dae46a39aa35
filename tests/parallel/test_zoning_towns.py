"""The zoning stage's towns solved as tasks on Dask equal the in-process layouts."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest

from iptown_gis.pipeline import StudyContext
from iptown_gis.progress import as_progress
from iptown_gis.scenario import load_scenario
from iptown_gis.stage_results import SitesResult

pytestmark = pytest.mark.dask


def _context(scenario_path, out, executor=None):
    scen = load_scenario(scenario_path)
    z = scen.section("zoning")
    z.radius_m, z.cell_size_m = 1500.0, 250.0
    z.body_km2, z.wing_east_km2, z.wing_west_km2 = 0.5, 0.3, 0.3
    z.axis_margin_m = 100.0
    z.method = "heuristic"
    z.time_limit = 600.0  # far beyond the search time: the layouts depend on the seed only
    ctx = StudyContext(scenario=scen, out_dir=out, executor=executor)
    seats = ctx.layer("seats")
    pick = seats[seats["adcode"].isin([340102, 340402, 340504])].copy()
    pick["site_id"] = pick["adcode"]
    pick["choice"] = pick["adcode"].map({340102: 1, 340402: 2, 340504: 3})
    ctx.sites = SitesResult(selected=pick, ranked=pick)
    return ctx


def test_towns_on_executor_equal_serial(scenario_path, executor, tmp_path):
    from iptown_gis.zoning import stage

    a = _context(scenario_path, tmp_path / "a")
    b = _context(scenario_path, tmp_path / "b", executor)
    stage.run(a, as_progress(None))
    stage.run(b, as_progress(None))
    assert [t.town["town_id"] for t in b.zoning.layouts] == ["340102", "340402", "340504"]
    for ta, tb in zip(a.zoning.layouts, b.zoning.layouts, strict=True):
        np.testing.assert_array_equal(ta.labels, tb.labels)
        np.testing.assert_array_equal(ta.module_labels, tb.module_labels)
        assert ta.model.objective_ == tb.model.objective_
    for sub in ("zoning", "zoning/town_2", "zoning/town_3"):
        sa = json.loads((tmp_path / "a" / sub / "summary.json").read_text())
        sb = json.loads((tmp_path / "b" / sub / "summary.json").read_text())
        assert sa["town"] == sb["town"]
        da = gpd.read_file(tmp_path / "a" / sub / "layout.gpkg", layer="districts")
        db = gpd.read_file(tmp_path / "b" / sub / "layout.gpkg", layer="districts")
        assert da.drop(columns="geometry").equals(db.drop(columns="geometry"))
        assert da.geometry.geom_equals_exact(db.geometry, tolerance=0).all()
    assert {o["path"] for o in a.outputs} == {o["path"] for o in b.outputs}
