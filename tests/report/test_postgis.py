"""PostGIS output and input against a real PostgreSQL + PostGIS server the tests start (``pg_url`` in
tests/conftest.py)."""

from __future__ import annotations

import socket

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from iptown_gis.errors import CancelledError, OutputError, ParameterError
from iptown_gis.report import collect_run
from iptown_gis.report.postgis import list_tables, publish, publish_run, read_layer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _layers():
    pts = gpd.GeoDataFrame({"name": ["a", "b", "c"], "score": [0.9, 0.5, 0.1]},
                           geometry=[Point(500000 + i * 1000, 3500000) for i in range(3)], crs="EPSG:4548")
    tab = pd.DataFrame({"region": ["Hefei", "Wuhu"], "share": [0.3, 0.1]})
    return {"sites": pts, "shares": tab}


def test_publish_and_read_back(pg_url):
    res = publish(_layers(), pg_url, schema="t_roundtrip")
    assert res["tables"] == ["sites", "shares"]
    assert "secret" not in res["url"]
    back = read_layer(pg_url, "sites", schema="t_roundtrip")
    assert isinstance(back, gpd.GeoDataFrame)
    assert back.crs.to_epsg() == 4548
    assert list(back["name"]) == ["a", "b", "c"]
    assert back.geometry.iloc[2].x == pytest.approx(502000)
    tab = read_layer(pg_url, "shares", schema="t_roundtrip")
    assert list(tab["share"]) == [0.3, 0.1]


def test_existing_schema_refused_unless_overwrite(pg_url):
    publish(_layers(), pg_url, schema="t_exists")
    with pytest.raises(OutputError, match=r"already exists.*--overwrite"):
        publish({"other": _layers()["shares"]}, pg_url, schema="t_exists")
    assert list_tables(pg_url, schema="t_exists") == ["shares", "sites"]
    publish({"other": _layers()["shares"]}, pg_url, schema="t_exists", overwrite=True)
    assert list_tables(pg_url, schema="t_exists") == ["other"]


def test_failed_write_leaves_no_partial_tables(pg_url):
    layers = _layers()
    bad = gpd.GeoDataFrame({"x": [1]}, geometry=[Point(0, 0)], crs=None)
    with pytest.raises(OutputError, match="no CRS"):
        publish({"sites": layers["sites"], "bad": bad}, pg_url, schema="t_partial")
    assert list_tables(pg_url, schema="t_partial") == []
    # cancelled half-way: rolled back too
    calls = []

    def cancel_after_first(f, msg):
        calls.append(msg)
        return len(calls) < 2

    with pytest.raises(CancelledError):
        publish(layers, pg_url, schema="t_cancel", progress=cancel_after_first)
    assert list_tables(pg_url, schema="t_cancel") == []
    # a failed overwrite keeps the old schema intact
    publish(layers, pg_url, schema="t_keep")
    with pytest.raises(OutputError):
        publish({"sites": layers["sites"], "bad": bad}, pg_url, schema="t_keep", overwrite=True)
    assert list_tables(pg_url, schema="t_keep") == ["shares", "sites"]


def test_unreachable_database_is_typed_error():
    pytest.importorskip("psycopg")
    url = f"postgresql://nobody:hunter2@127.0.0.1:{_free_port()}/none"
    with pytest.raises(OutputError, match="cannot reach the database") as exc:
        publish(_layers(), url, schema="x")
    assert "hunter2" not in str(exc.value)
    with pytest.raises(ParameterError, match="not a plain SQL identifier"):
        publish(_layers(), url, schema="Robert'); DROP TABLE x;--")


def test_publish_run_and_cli(pg_url, run_dir):
    from iptown_gis.cli import cli

    res = publish_run(collect_run(run_dir), pg_url, schema="t_run")
    assert {"ranked_sites", "layout_districts", "layout_modules", "layout_cells", "scenario_comparison"} \
        <= set(res["tables"])
    sites = read_layer(pg_url, "ranked_sites", schema="t_run")
    assert len(sites) == 104
    assert "rank" in sites.columns
    runner = CliRunner()
    r = runner.invoke(cli, ["report", "publish", str(run_dir), "--out", pg_url, "--schema", "t_run"])
    assert r.exit_code == 2
    assert "already exists" in r.output
    r = runner.invoke(cli, ["report", "publish", str(run_dir), "--out", pg_url, "--schema", "t_run", "--overwrite"])
    assert r.exit_code == 0, r.output
    out = run_dir / "back.gpkg"
    r = runner.invoke(cli, ["report", "read", "--from", pg_url, "--schema", "t_run", "layout_districts", str(out)])
    assert r.exit_code == 0, r.output
    assert len(gpd.read_file(out)) == 3


def test_postgis_table_as_scenario_input(pg_url, tmp_path):
    """A scenario input may be a PostGIS table: read, filtered and projected like a file."""
    from iptown_gis.errors import DataNotFoundError
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.scenario import load_scenario

    seats = gpd.GeoDataFrame({"code": [1, 2, 3], "pop": [10.0, 20.0, 30.0]},
                             geometry=[Point(117.2, 31.8), Point(118.4, 31.3), Point(117.4, 32.9)], crs=4326)
    publish({"seats": seats}, pg_url, schema="t_input")
    scen = tmp_path / "s.toml"
    scen.write_text(
        f'[study]\ncrs = "EPSG:4548"\n[inputs]\n'
        f'seats = {{ path = "{pg_url}", layer = "t_input.seats", where = "pop > 15", id_field = "code" }}\n'
        f'missing = {{ path = "{pg_url}", layer = "t_input.nope" }}\n'
    )
    ctx = StudyContext(scenario=load_scenario(scen), out_dir=tmp_path)
    got = ctx.layer("seats")
    assert got.crs.to_epsg() == 4548
    assert sorted(got["code"]) == [2, 3]
    with pytest.raises(DataNotFoundError, match=r"no table t_input\.nope"):
        ctx.layer("missing")
