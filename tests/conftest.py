"""Shared fixtures: the bundled Anhui sample (small real data)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "anhui"
GPKG = SAMPLE / "anhui.gpkg"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_gpkg() -> Path:
    return GPKG


@pytest.fixture(scope="session")
def scenario_path() -> Path:
    return SAMPLE / "scenario.toml"


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(condition: bool, reason: str) -> None:
    """Skip outside CI, fail in CI (env CI=true) when a system dependency is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


PGBIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL + PostGIS server started for the session: ``postgresql://...`` of an empty database."""
    _need((PGBIN / "initdb").exists(), "PostgreSQL 15 is not installed (apt-get install postgresql)")
    _need(POSTGIS_CONTROL.exists(), "PostGIS is not installed (apt-get install postgresql-15-postgis-3)")
    try:
        import geoalchemy2  # noqa: F401
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        _need(False, "pip install 'iptown_gis[postgis]' (sqlalchemy, geoalchemy2, psycopg)")
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
