"""Typed stage results, ``run_scenario(stop_after=)`` and the old ``ctx.results`` dictionary view."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from iptown_gis.errors import NetworkError, ScenarioError
from iptown_gis.network import Network, ODMatrix
from iptown_gis.pipeline import StudyContext, run_scenario, run_stages, run_study
from iptown_gis.report.catalogue import result_facts
from iptown_gis.scenario import load_scenario
from iptown_gis.stage_results import (
    NEGResult,
    NetworkResult,
    ReportResult,
    SitesResult,
    StageResults,
    SurfacesResult,
    TownLayout,
    ZoningResult,
)


@pytest.fixture(scope="module")
def network_run(tmp_path_factory: pytest.TempPathFactory, scenario_path: Path) -> tuple[StudyContext, Path]:
    out = tmp_path_factory.mktemp("stop") / "run"
    return run_study(scenario_path, out, stop_after="network"), out


def test_stop_after_runs_up_to_that_stage(network_run: tuple[StudyContext, Path]) -> None:
    ctx, out = network_run
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["stages"] == ["network"]
    assert man == ctx.manifest
    assert {o["stage"] for o in man["outputs"]} == {"network"}
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "network"]
    assert set(man["timings_s"]) == {"network", "total"}


def test_stop_after_gives_typed_results(network_run: tuple[StudyContext, Path]) -> None:
    ctx, _ = network_run
    assert isinstance(ctx.network, NetworkResult)
    assert isinstance(ctx.network.network, Network)
    assert isinstance(ctx.network.seat_od, ODMatrix)
    assert ctx.network.seat_od.shape[0] == ctx.network.seat_od.shape[1] > 10
    assert ctx.neg is None
    assert ctx.surfaces is None
    assert ctx.sites is None
    assert ctx.zoning is None
    assert ctx.report is None
    assert ctx.stage_results.network is ctx.network


def test_old_results_keys_still_answer_with_a_deprecation(network_run: tuple[StudyContext, Path]) -> None:
    ctx, _ = network_run
    with pytest.warns(DeprecationWarning, match=r"ctx\.network, ctx\.neg"):
        res = ctx.results
    assert res["network"] is ctx.network.network
    assert res["seat_od"] is ctx.network.seat_od
    assert list(res) == ["network", "seat_od"]
    assert "neg" not in res
    assert res.get("sites") is None
    with pytest.raises(KeyError, match="neg"):
        _ = res["neg"]
    # the report's facts read the typed results exactly as they read the old dictionary
    assert result_facts(ctx.stage_results) == result_facts(dict(res))


def test_stop_after_combines_with_stages(tmp_path: Path, scenario_path: Path) -> None:
    man = run_scenario(scenario_path, tmp_path / "r", stages=["network", "report"], stop_after="network")
    assert man["stages"] == ["network"]


def test_stop_after_unknown_stage_is_a_scenario_error(tmp_path: Path, scenario_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"unknown stage 'zonning' to stop after .*network, neg, surfaces"):
        run_scenario(scenario_path, tmp_path / "never", stop_after="zonning")
    assert not (tmp_path / "never").exists()


def test_stop_after_a_stage_the_scenario_lacks(tmp_path: Path, scenario_path: Path) -> None:
    import tomllib

    from iptown_gis.scenario import parse_scenario

    raw = tomllib.loads(scenario_path.read_text(encoding="utf-8"))
    del raw["zoning"]
    scen = parse_scenario(raw, source=scenario_path)
    with pytest.raises(ScenarioError, match=r"--stop-after zoning: the scenario has no \[zoning\] section"):
        run_scenario(scen, tmp_path / "never", stop_after="zoning", require_stages=True)
    assert not (tmp_path / "never").exists()


def test_cli_stop_after(tmp_path: Path, scenario_path: Path) -> None:
    from iptown_gis.cli.main import cli

    r = CliRunner().invoke(cli, ["run", str(scenario_path), "--out", str(tmp_path / "o"), "--stop-after", "nope"])
    assert r.exit_code == 2
    assert "unknown stage 'nope' to stop after" in r.output
    assert not (tmp_path / "o").exists()


def test_run_stages_without_manifest(tmp_path: Path, scenario_path: Path) -> None:
    ctx = StudyContext(scenario=load_scenario(scenario_path), out_dir=tmp_path)
    assert run_stages(ctx, before="neg") == ["network"]
    assert isinstance(ctx.network, NetworkResult)
    assert not (tmp_path / "manifest.json").exists()
    with pytest.raises(ScenarioError, match="before = 'nope': unknown stage"):
        run_stages(ctx, before="nope")


# -- the typed results read as the old dictionaries -------------------------------------------------
def _qsm_dict() -> dict:
    a = np.arange(3.0)
    return {"summary": {"model": "qsm", "regions": 3}, "region_ids": ["1", "2", "3"], "names": ["a", "b", "c"],
            "shares": a, "observed_shares": a.copy(), "price_index": a, "income": a, "wage": a, "real_wage": a,
            "cost_minutes": np.zeros((3, 3)), "scenarios": {"baseline": {"share": a, "stable": True}},
            "params": {"sigma": 5.0}, "validation": {"own": {"r2": 0.5}}, "tornado": None, "tornado_region": "1",
            "tau": 0.0, "sigma": 5.0, "mu": 0.4, "model": "qsm", "counties": {"region_ids": ["9"]}}


def test_neg_result_reads_as_the_old_dictionary() -> None:
    d = _qsm_dict()
    res = NEGResult.from_dict(d)
    assert res.shares is d["shares"]
    assert res.summary == {"model": "qsm", "regions": 3}
    assert list(res) == [k for k in d if d[k] is not None]  # key order kept (the report lists first scalars)
    assert res["region_ids"] == ["1", "2", "3"]
    assert res.get("nope") is None
    fkv = NEGResult(model="fkv", region_ids=["1"], shares=np.ones(1), tau=0.1, sigma=4.0, mu=0.4, scenarios={})
    assert list(fkv) == ["region_ids", "shares", "tau", "sigma", "mu", "scenarios", "model"]
    res["custom"] = 1
    assert res.extra == {"custom": 1}
    assert res["custom"] == 1


def test_surfaces_result_reads_as_the_old_dictionary(tmp_path: Path) -> None:
    import pyproj
    from affine import Affine

    from iptown_gis.surfaces.grid import Grid, Surface

    grid = Grid(transform=Affine(100.0, 0.0, 0.0, 0.0, -100.0, 1000.0), shape=(10, 10),
                crs=pyproj.CRS.from_epsg(32650), mask=np.ones((10, 10), dtype=bool))
    surf = Surface(grid=grid, values=np.ma.MaskedArray(np.ones((10, 10))), name="kde", tags={})
    res = SurfacesResult(grid=grid, mass_source="seats.pop")
    res.add_raster("kde", tmp_path / "kde.tif", surf)
    res.zonal = {}
    old = dict(res)
    assert list(old) == ["paths", "grid", "mass_source", "kde", "zonal"]
    assert old["kde"]["path"] == tmp_path / "kde.tif"
    assert old["kde"]["surface"] is surf
    assert old["kde"]["array"] is surf.values
    assert old["paths"] == {"kde": tmp_path / "kde.tif"}
    back = SurfacesResult.from_dict({"paths": old["paths"], "grid": grid,
                                     "kde": {"path": old["kde"]["path"], "surface": surf, "array": surf.values}})
    assert back.rasters["kde"].surface is surf
    assert back.raster("market_potential") is None


def test_zoning_and_sites_results_read_as_the_old_dictionaries() -> None:
    t1 = TownLayout(summary={"objective": 1.0}, paths={}, site=(1.0, 2.0), town={"town_no": 1}, time_s=0.5)
    t2 = TownLayout(summary={"objective": 2.0}, paths={}, site=(3.0, 4.0), town={"town_no": 2}, time_s=0.7)
    z = ZoningResult(layouts=[t1, t2], districts=("body",), modules=("m",))
    old = dict(z)
    assert old["summary"] == {"objective": 1.0}
    assert [t["town"]["town_no"] for t in old["towns"]] == [1, 2]
    assert list(old)[-3:] == ["districts", "modules", "towns"]
    again = ZoningResult.from_dict(old)
    assert [t.summary for t in again.layouts] == [{"objective": 1.0}, {"objective": 2.0}]
    s = SitesResult(ranked=None, criteria=["a"])
    assert dict(s) == {"ranked": None, "selected": None, "summary": {}, "criteria": ["a"], "skipped": {},
                       "anchors": None, "model": None, "assignment": None}
    assert "paths" not in s
    assert dict(ReportResult()) == {"html": None, "maps": [], "qgis_project": None, "styles": [], "postgis": None}


def test_old_dictionary_writes_become_typed_results() -> None:
    store = StageResults()
    from iptown_gis.stage_results import LegacyResults

    view = LegacyResults(store)
    view["neg"] = {"region_ids": ["1"], "income": np.ones(1), "sigma": 4.0}
    view["network"] = {"network": "net"}
    view["mine"] = 42
    assert isinstance(store.neg, NEGResult)
    assert store.neg.sigma == 4.0
    assert store.network is not None
    assert store.network.network == "net"
    assert list(view) == ["neg", "network", "mine"]  # the order they were set
    del view["network"]
    assert store.network is None
    assert len(view) == 2
    with pytest.raises(KeyError, match="seat_od"):
        del view["seat_od"]


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["objective", "status", "gap", "time_s", "note"]),
                       st.one_of(st.floats(allow_nan=False), st.text(max_size=5), st.booleans()), max_size=5))
def test_facts_equal_for_typed_and_old_results(data: dict) -> None:
    """Whatever a script stored, the report's facts are those of the old dictionary."""
    store = StageResults()
    store.zoning = ZoningResult.from_dict(data)
    store.sites = SitesResult(summary=dict(data), criteria=["x"])
    old = {"zoning": dict(data), "sites": dict(store.sites)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert result_facts(store) == result_facts(old)


def test_select_on_network_needs_a_network(sample_gpkg: Path) -> None:
    import geopandas as gpd

    from iptown_gis.sites.candidates import candidates_from_layer
    from iptown_gis.sites.workflow import select_on_network

    seats = gpd.read_file(sample_gpkg, layer="seats").to_crs(32650)
    cands = candidates_from_layer(seats.head(5), id_field="adcode")
    cands["rank"] = [3, 1, 2, 5, 4]
    with pytest.raises(NetworkError, match="needs a network: give roads"):
        select_on_network(cands, k=2, model="pmedian", demand=seats, network=None)
    # without demand or spacing, 'rank' needs no network: the first k in rank order
    sel = select_on_network(cands, k=2, model="rank")
    assert sorted(sel.selected["site_id"].tolist()) == sorted(cands.nsmallest(2, "rank")["site_id"].tolist())
