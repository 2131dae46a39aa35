"""CLI commands and pipeline stages on Dask give the same outputs as in-process.

Costs are compared exactly, surfaces to 1e-12 relative. One command starts its own 2-worker
cluster with ``--workers 2``; the others join the session cluster with ``--scheduler``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner

from iptown_gis.cli.main import cli

pytestmark = pytest.mark.dask


def _invoke(args):
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def _raster(path):
    with rasterio.open(path) as src:
        return src.read(1, masked=True), src.transform, src.crs


def _same_raster(a, b, *, tiled_b=True):
    va, ta, ca = _raster(a)
    vb, tb, cb = _raster(b)
    assert ta == tb
    assert ca == cb
    assert np.array_equal(va.mask, vb.mask)
    assert va.count() > 1000
    np.testing.assert_allclose(vb.filled(0), va.filled(0), rtol=1e-12, atol=0)
    if tiled_b:
        with rasterio.open(b) as src:
            assert src.profile["tiled"]
            assert src.tags()["iptown_tiled"] == "yes"


@pytest.fixture(scope="module")
def roads_opts(sample_gpkg):
    return ["--roads", f"{sample_gpkg}:roads", "--length-field", "length_km", "--length-unit", "km"]


def test_network_od_workers(sample_gpkg, roads_opts, tmp_path):
    base = ["network", "od", *roads_opts, "--origins", f"{sample_gpkg}:seats", "--id-field", "adcode",
            "--largest-component"]
    a = _invoke([*base, "--out", str(tmp_path / "a.csv")])
    b = _invoke([*base, "--out", str(tmp_path / "b.csv"), "--workers", "2"])
    assert a["origins"] == b["origins"] == 120
    da, db = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert len(da) == 120 * 120
    pd.testing.assert_frame_equal(da, db, check_exact=True)


def test_network_od_overlay_and_isochrones(sample_gpkg, roads_opts, executor, tmp_path):
    import geopandas as gpd

    base = ["network", "od", *roads_opts, "--origins", f"{sample_gpkg}:seats", "--id-field", "adcode",
            "--largest-component", "--weight", "length"]
    _invoke([*base, "--out", str(tmp_path / "plain.npz"), "--method", "plain"])
    _invoke([*base, "--out", str(tmp_path / "ov.npz"), "--method", "overlay", "--scheduler", executor.address])
    pa, ov = np.load(tmp_path / "plain.npz", allow_pickle=True), np.load(tmp_path / "ov.npz", allow_pickle=True)
    assert np.array_equal(pa["origin_ids"], ov["origin_ids"])
    fin = np.isfinite(pa["values"])
    assert fin.sum() > 100 * 100
    assert np.array_equal(fin, np.isfinite(ov["values"]))
    np.testing.assert_allclose(ov["values"][fin], pa["values"][fin], rtol=1e-12)

    seats = gpd.read_file(sample_gpkg, layer="seats")
    seats.iloc[[0, 40, 90]].to_file(tmp_path / "centres.geojson", driver="GeoJSON")
    iso = ["network", "isochrones", *roads_opts, "--centres", str(tmp_path / "centres.geojson"),
           "--id-field", "adcode", "--bands", "20,40"]
    _invoke([*iso, "--out", str(tmp_path / "iso_a.gpkg")])
    _invoke([*iso, "--out", str(tmp_path / "iso_b.gpkg"), "--scheduler", executor.address])
    ia, ib = gpd.read_file(tmp_path / "iso_a.gpkg"), gpd.read_file(tmp_path / "iso_b.gpkg")
    assert len(ia) == 6
    assert ia["area_km2"].tolist() == ib["area_km2"].tolist()
    assert ia.geometry.geom_equals_exact(ib.geometry, tolerance=0).all()


@pytest.mark.parametrize("mode", ["euclidean", "network"])
def test_surface_market_potential(sample_gpkg, roads_opts, executor, tmp_path, mode):
    cell = "1000" if mode == "euclidean" else "4000"
    base = ["surface", "market-potential", "--masses", f"{sample_gpkg}:seats", "--mass-field", "pop_2020",
            "--boundary", f"{sample_gpkg}:province", "--cell", cell, "--crs", "EPSG:4548", "--mode", mode]
    if mode == "network":
        base += ["--roads", f"{sample_gpkg}:roads", "--max-snap", "30000"]  # major roads only
    a = _invoke([*base, "--out", str(tmp_path / "a.tif")])
    b = _invoke([*base, "--out", str(tmp_path / "b.tif"), "--scheduler", executor.address])
    _same_raster(tmp_path / "a.tif", tmp_path / "b.tif", tiled_b=mode == "euclidean")
    for k in ("min", "max", "mean"):
        assert b[k] == pytest.approx(a[k], rel=1e-6)  # float32 file vs float64 summary


def test_surface_kde(sample_gpkg, executor, tmp_path):
    base = ["surface", "kde", "--points", f"{sample_gpkg}:places", "--weight-field", "population",
            "--boundary", f"{sample_gpkg}:province", "--cell", "1000", "--crs", "EPSG:4548"]
    for extra in ([], ["--radius", "25000"]):   # the Silverman radius and a given one
        _invoke([*base, *extra, "--out", str(tmp_path / "a.tif")])
        b = _invoke([*base, *extra, "--out", str(tmp_path / "b.tif"), "--scheduler", executor.address])
        assert b["iptown_kernel"] == "quartic"
        _same_raster(tmp_path / "a.tif", tmp_path / "b.tif")


def test_cli_executor_errors(sample_gpkg, tmp_path):
    res = CliRunner().invoke(cli, ["surface", "kde", "--points", f"{sample_gpkg}:places", "--boundary",
                                   f"{sample_gpkg}:province", "--cell", "5000", "--crs", "EPSG:4548",
                                   "--out", str(tmp_path / "x.tif"), "--workers", "2", "--scheduler",
                                   "tcp://127.0.0.1:1"])
    assert res.exit_code == 2
    assert "not both" in res.output
    assert not (tmp_path / "x.tif").exists()


@pytest.fixture(scope="module")
def small_scenario(scenario_path):
    """The Anhui study with a 2 km grid and no hot spots / zonal tables (the parts Dask does not run)."""
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(scenario_path)
    scen.sections["surfaces"] = scen.section("surfaces").model_copy(
        update={"cell": 2000.0, "hotspot_zones": None, "zonal_zones": [], "raster_potential": False})
    return scen


def test_run_scenario_network_surfaces(small_scenario, executor, tmp_path):
    from iptown_gis.pipeline import run_scenario

    stages = ["network", "surfaces"]
    ma = run_scenario(small_scenario, tmp_path / "local", stages=stages)
    mb = run_scenario(small_scenario, tmp_path / "dask", stages=stages, executor=executor)
    assert ma["stages"] == mb["stages"] == stages
    oa = pd.read_csv(tmp_path / "local" / "network" / "od_seats.csv")
    ob = pd.read_csv(tmp_path / "dask" / "network" / "od_seats.csv")
    assert len(oa) == 120 * 120
    pd.testing.assert_frame_equal(oa, ob, check_exact=True)
    for name in ("market_potential", "neg_market_access", "kde"):
        _same_raster(tmp_path / "local" / "surfaces" / f"{name}.tif", tmp_path / "dask" / "surfaces" / f"{name}.tif",
                     tiled_b=False)


def test_make_executor_parallel_section(executor):
    from iptown_gis.cli._common import make_executor
    from iptown_gis.parallel.config import ParallelConfig

    with make_executor(None, None, parallel=ParallelConfig()) as ex:
        assert ex is None   # no scheduler/workers anywhere: in-process
    cfg = ParallelConfig(scheduler=executor.address, memory_budget="1GB", od_batch=7, tile_size=512)
    with make_executor(None, None, parallel=cfg) as ex:
        assert ex.address == executor.address
        assert ex.n_workers == 2
        assert (ex.od_batch, ex.tile_size, ex.budget.bytes_per_worker) == (7, 512, 1024**3)
