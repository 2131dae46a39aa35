"""PostGIS output and input against a real PostgreSQL + PostGIS server the tests start."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import need  # tests/report/conftest.py
from shapely.geometry import Point

from iptown_gis.errors import CancelledError, OutputError, ParameterError
from iptown_gis.report import collect_run
from iptown_gis.report.postgis import list_tables, publish, publish_run, read_layer

PGBIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_url():
    need((PGBIN / "initdb").exists(), "PostgreSQL 15 is not installed (apt-get install postgresql)")
    need(POSTGIS_CONTROL.exists(), "PostGIS is not installed (apt-get install postgresql-15-postgis-3)")
    try:
        import geoalchemy2  # noqa: F401
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        need(False, "pip install 'iptown_gis[postgis]' (sqlalchemy, geoalchemy2, psycopg)")
    root = Path(tempfile.mkdtemp(prefix="iptown-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as 'postgres'
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chown(sock, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *a: subprocess.run([*as_user, *a], check=True, capture_output=True, text=True, timeout=120)  # noqa: E731
    run(str(PGBIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
    run(str(PGBIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        psql = [str(PGBIN.parent / "bin" / "psql") if (PGBIN / "psql").exists() else "psql",
                "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
        subprocess.run([*psql, "-c", "CREATE DATABASE iptown_test"], check=True, capture_output=True, timeout=60)
        subprocess.run([*psql, "-d", "iptown_test", "-c", "CREATE EXTENSION postgis"], check=True,
                       capture_output=True, timeout=60)
        yield f"postgresql://postgres:secret@127.0.0.1:{port}/iptown_test"
    finally:
        subprocess.run([*as_user, str(PGBIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


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
