"""``iptown sites``: scenario form, direct form on any region, and bad input (exit code 2)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sites_helpers import write_scenario

from iptown_gis.cli.main import cli
from iptown_gis.cli.sites import parse_standard
from iptown_gis.errors import ParameterError


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory, sample_gpkg: Path) -> dict[str, Path]:
    """A small region: the seats and places of two prefectures (Hefei 340100, Lu'an 341500)."""
    tmp = tmp_path_factory.mktemp("region")
    seats = gpd.read_file(sample_gpkg, layer="seats")
    places = gpd.read_file(sample_gpkg, layer="places")
    seats = seats[seats["adcode"].astype(str).str[:4].isin(["3401", "3415"])]
    places = places[places["prefecture_adcode"].astype(str).isin(["340100", "341500"])]
    roads = gpd.read_file(sample_gpkg, layer="roads")
    paths = {"seats": tmp / "seats.geojson", "places": tmp / "places.gpkg", "roads": tmp / "roads.gpkg"}
    seats.to_file(paths["seats"], driver="GeoJSON")
    places.to_file(paths["places"], layer="places", driver="GPKG")
    roads.to_file(paths["roads"], layer="roads", driver="GPKG")
    return paths


def _direct(region: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["sites", "select", "--candidates", str(region["seats"]), "--demand", f"{region['places']}:places",
            "--weight-field", "population", "--roads", f"{region['roads']}:roads", "--id-field", "adcode",
            "--max-snap", "30000", "--out", str(out), *extra]


def test_direct_pmedian_matches_brute_force(region: dict[str, Path], tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, _direct(region, tmp_path, "--k", "2", "--model", "pmedian", "--standard", "60min"))
    assert r.exit_code == 0, r.output
    sel = pd.read_csv(tmp_path / "selected.csv")
    assert len(sel) == 2
    assert (sel["status"] == "Optimal").all()
    assign = pd.read_csv(tmp_path / "assignment.csv")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["objective"] == pytest.approx(float((assign["cost"] * assign["weight"]).sum()), rel=1e-9)
    # brute force on the same network costs
    from iptown_gis.network import build_network
    from iptown_gis.sites.criteria import network_costs

    cands = gpd.read_file(region["seats"]).to_crs("EPSG:32650")
    demand = gpd.read_file(region["places"], layer="places").to_crs("EPSG:32650")
    net = build_network(gpd.read_file(region["roads"], layer="roads").to_crs("EPSG:32650"))
    cost = network_costs(net, demand, cands, weight="time", check_reach=False, max_snap_distance=30000)
    w = demand["population"].to_numpy(dtype=float)
    vals = {s: float((w * cost[:, list(s)].min(axis=1)).sum()) for s in itertools.combinations(range(len(cands)), 2)}
    best = min(vals, key=vals.__getitem__)
    assert set(sel["site_id"]) == set(cands["adcode"].to_numpy()[list(best)])
    assert sel["objective"].iloc[0] == pytest.approx(vals[best], rel=1e-6)
    assert 0.0 <= summary["covered_share"] <= 1.0


def test_direct_mclp(region: dict[str, Path], tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, _direct(region, tmp_path, "--k", "1", "--model", "mclp", "--standard", "40km"))
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["status"] == "Optimal"
    assert out["gap"] == 0.0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["cost_unit"] == "m"
    assert summary["standard"] == 40_000.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "99", "--model", "pmedian"], "k = 99 is larger than the number of candidates"),
        (["--k", "2", "--model", "mclp"], "--model mclp needs --standard"),
        (["--k", "2", "--model", "mclp", "--standard", "5 parsecs"], "unknown unit 'parsecs'"),
        (["--k", "2", "--model", "pmedian", "--max-snap", "100"], "demand points: .* farther than 100 m"),
        (["--k", "2", "--model", "pmedian", "--group-field", "parent_adcode", "--max-per-group", "1",
          "--min-spacing", "1e9"], "infeasible"),
    ],
)
def test_direct_bad_input_exit_2(region: dict[str, Path], tmp_path: Path, extra: list[str], message: str) -> None:
    args = _direct(region, tmp_path, *extra)
    if "--max-snap" in extra:
        i = args.index("--max-snap")
        del args[i:i + 2]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2
    import re

    assert re.search(message, r.output), r.output
    assert not (tmp_path / "selected.csv").exists()


def test_direct_form_usage_errors(region: dict[str, Path], tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["sites", "select", "--candidates", str(region["seats"]), "--k", "2",
                                 "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "needs --candidates, --demand and --roads" in r.output
    args = _direct(region, tmp_path, "--k", "2", "--weight-field", "nope")
    r2 = CliRunner().invoke(cli, args)
    assert r2.exit_code == 2
    assert "--weight-field 'nope'" in r2.output


def test_scenario_rank_and_select(tmp_path: Path, sample_gpkg: Path) -> None:
    scen = write_scenario(tmp_path, sample_gpkg)
    r = CliRunner().invoke(cli, ["sites", "rank", str(scen), "--out", str(tmp_path / "r"),
                                 "--weight", "population=0.8"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["candidates"] == 104
    assert out["top"][0]["rank"] == 1
    # --out DIR means DIR (not DIR/sites/); the stages before it write to DIR/<stage>/
    assert (tmp_path / "r" / "ranked.geojson").exists()
    assert not (tmp_path / "r" / "sites").exists()
    assert not (tmp_path / "r" / "selected.csv").exists()
    bad = CliRunner().invoke(cli, ["sites", "rank", str(scen), "--out", str(tmp_path / "b"), "--weight", "population"])
    assert bad.exit_code == 2
    assert "NAME=NUMBER" in bad.output
    r2 = CliRunner().invoke(cli, ["sites", "select", str(scen), "--k", "2", "--model", "mclp", "--standard", "60",
                                  "--out", str(tmp_path / "s")])
    assert r2.exit_code == 0, r2.output
    sel = pd.read_csv(tmp_path / "s" / "selected.csv")
    assert len(sel) == 2
    assert sel["demand_covered"].ge(0).all()
    r3 = CliRunner().invoke(cli, ["sites", "select", str(scen), "--k", "2", "--model", "mclp", "--standard", "5km",
                                  "--out", str(tmp_path / "t")])
    assert r3.exit_code == 2
    assert "measures time" in r3.output


def test_parse_standard() -> None:
    assert parse_standard("45min", "length") == (45.0, "time")
    assert parse_standard("1.5h", "length") == (90.0, "time")
    assert parse_standard("5km", "time") == (5000.0, "length")
    assert parse_standard("800", "length") == (800.0, "length")
    assert parse_standard(None, "time") == (None, "time")
    with pytest.raises(ParameterError, match="positive"):
        parse_standard("0min", "time")
    assert np.isclose(parse_standard("2e3m", "time")[0], 2000.0)
