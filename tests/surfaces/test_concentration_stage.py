"""Concentration indices, network mode, the pipeline stage and the CLI."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner
from shapely.geometry import Point

from iptown_gis.errors import ColumnError, GeometryError, ParameterError
from iptown_gis.stage_results import NEGResult, NetworkResult
from iptown_gis.surfaces import make_grid, market_potential
from iptown_gis.surfaces.concentration import (
    activity_table,
    ellison_glaeser,
    k_density,
    location_quotient,
)

CRS = "EPSG:32650"


def test_location_quotient_hand():
    t = pd.DataFrame({"ip": [30.0, 10.0], "other": [70.0, 90.0]}, index=["a", "b"])
    lq = location_quotient(t)
    # ip share overall 40/200 = 0.2; region a 0.3 -> 1.5, b 0.1 -> 0.5
    np.testing.assert_allclose(lq["ip"], [1.5, 0.5])
    np.testing.assert_allclose(lq["other"], [0.7 / 0.8, 0.9 / 0.8])
    with pytest.raises(ColumnError, match=">= 0"):
        location_quotient(-t)


def test_ellison_glaeser_hand():
    # 4 regions equal in total employment; industry A: 2 plants of 10 in region r1
    df = pd.DataFrame({
        "region": ["r1", "r1", "r2", "r3", "r4", "r2", "r3", "r4"],
        "cat": ["A", "A", "B", "B", "B", "C", "C", "C"],
        "emp": [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0],
    })
    df.loc[len(df)] = ["r1", "C", 0.0]
    eg = ellison_glaeser(df, category="cat", region="region", weight="emp").set_index("category")
    x = np.array([20, 20, 20, 20]) / 80  # region shares
    s = np.array([1.0, 0, 0, 0])
    g = ((s - x) ** 2).sum()
    h = 0.5
    want = (g - (1 - (x**2).sum()) * h) / ((1 - (x**2).sum()) * (1 - h))
    assert eg.loc["A", "G"] == pytest.approx(g)
    assert eg.loc["A", "H"] == pytest.approx(h)
    assert eg.loc["A", "gamma"] == pytest.approx(want)
    with pytest.raises(GeometryError, match="2 regions"):
        ellison_glaeser(df.assign(region="r1"), category="cat", region="region")


def test_activity_table_spatial_join(anhui_layers):
    pl = anhui_layers["places"].copy()
    pl["cat"] = np.where(pl.population > 0, "town", "village")
    t = activity_table(pl, category="cat", region="adcode", regions=anhui_layers["counties"])
    assert t.to_numpy().sum() == pytest.approx((pl.within(anhui_layers["counties"].union_all())).sum())
    eg = ellison_glaeser(pl, category="cat", region="adcode", regions=anhui_layers["counties"],
                         group="parent_adcode")
    assert {"parent_adcode", "gamma"} <= set(eg.columns)


def test_k_density_clustered_vs_random():
    rng = np.random.default_rng(5)
    ref_xy = rng.uniform(0, 100_000, (400, 2))
    ref = gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in ref_xy], crs=CRS)
    clustered = ref.iloc[np.argsort(np.hypot(ref_xy[:, 0] - 20_000, ref_xy[:, 1] - 20_000))[:30]]
    kd = k_density(clustered, ref, simulations=199, seed=2)
    assert kd.localized[:10].all()  # short distances far above the global band
    assert kd.localization_index > 0
    assert np.all(kd.global_upper >= kd.local_upper - 1e-15)
    assert np.trapezoid(kd.k, kd.distance) <= 1.0 + 1e-6
    random = ref.iloc[rng.choice(400, 30, replace=False)]
    kr = k_density(random, ref, simulations=199, seed=2)
    assert not kr.localized.any()
    with pytest.raises(GeometryError, match="at least 3"):
        k_density(ref.iloc[:2], ref)
    with pytest.raises(ParameterError, match="simulations"):
        k_density(random, ref, simulations=5)


# ------------------------------------------------------------------ network mode


def test_network_mode_hand_and_not_below_euclidean():
    from shapely.geometry import LineString

    from iptown_gis.network import build_network

    roads = gpd.GeoDataFrame(geometry=[LineString([(500_000, 3_500_500), (510_000, 3_500_500)])], crs=CRS)
    net = build_network(roads)
    bnd = gpd.GeoDataFrame(geometry=[Point(505_000, 3_501_000).buffer(1)], crs=CRS).envelope
    g = make_grid(gpd.GeoDataFrame(geometry=[bnd.iloc[0].buffer(0).envelope.buffer(2000).envelope], crs=CRS), cell=1000)
    m = gpd.GeoDataFrame({"m": [100.0]}, geometry=[Point(510_000, 3_501_500)], crs=CRS)
    s = market_potential(g, m, mass_field="m", mode="network", network=net, decay="power:1")
    e = market_potential(g, m, mass_field="m", decay="power:1")
    assert np.all(s.inside_values() <= e.inside_values() + 1e-12)
    # a cell centre: access to the nearest node + along the line + the mass's 1000 m access leg
    x, y = g.centres()
    i = 0
    nodes_x = np.array([500_000.0, 510_000.0])
    near = nodes_x[np.argmin(np.hypot(nodes_x - x[i], 3_500_500 - y[i]))]
    d = np.hypot(near - x[i], 3_500_500 - y[i]) + abs(510_000 - near) + 1000.0
    assert s.inside_values()[i] == pytest.approx(100.0 / d)


def test_network_mode_needs_roads(square):
    g = make_grid(square, cell=1000)
    m = gpd.GeoDataFrame({"m": [1.0]}, geometry=[Point(505_000, 3_505_000)], crs=CRS)
    with pytest.raises(ParameterError, match="--roads"):
        market_potential(g, m, mass_field="m", mode="network")


# ------------------------------------------------------------------ stage and CLI


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from iptown_gis.pipeline import run_scenario

    out = tmp_path_factory.mktemp("study")
    manifest = run_scenario(None, out, stages=["network", "surfaces"])
    return out, manifest


def test_stage_outputs(study):
    out, manifest = study
    names = {o["path"] for o in manifest["outputs"] if o["stage"] == "surfaces"}
    for f in ("market_potential.tif", "neg_market_access.tif", "kde.tif", "potential_all_cells.tif",
              "zonal.gpkg", "hotspots.gpkg", "zonal_counties.csv"):
        assert f"surfaces/{f}" in names
    with rasterio.open(out / "surfaces" / "market_potential.tif") as src:
        assert src.crs.to_epsg() == 4548
        assert src.res == (1000.0, 1000.0)
        assert src.tags()["iptown_mode"] == "network"
        assert src.overviews(1)
        a = src.read(1, masked=True)
        assert 130_000 < a.count() < 150_000
        assert a.min() > 0
    z = gpd.read_file(out / "surfaces" / "zonal.gpkg", layer="counties")
    assert len(z) == 104
    assert z.market_potential_mean.notna().all()
    hs = gpd.read_file(out / "surfaces" / "hotspots.gpkg")
    assert {"gi_z", "p", "q", "hot_spot", "significance"} <= set(hs.columns)
    # Gi* on the raw variable (census persons per km2), not on the smoothed KDE
    assert "pop_2020_per_km2" in hs.columns
    np.testing.assert_allclose(hs.pop_2020_per_km2, hs.pop_2020 / (hs.geometry.area / 1e6), rtol=1e-9)


def test_cli_market_potential_any_region(tmp_path, sample_gpkg):
    from iptown_gis.cli.main import cli

    out = tmp_path / "mp.tif"
    g = f"{sample_gpkg}"
    r = CliRunner().invoke(cli, ["surface", "market-potential", "--masses", f"{g}:seats", "--mass-field",
                                 "pop_2020", "--boundary", f"{g}:province", "--cell", "5000", "--mode", "network",
                                 "--roads", f"{g}:roads", "--decay", "exp:50000", "--out", str(out)])
    # the sample has major roads only: some 5 km cells lie beyond the default 10 km snap limit
    assert r.exit_code == 2
    assert "grid cells: " in r.output
    assert "--max-snap" in r.output
    r = CliRunner().invoke(cli, ["surface", "market-potential", "--masses", f"{g}:seats", "--mass-field",
                                 "pop_2020", "--boundary", f"{g}:province", "--cell", "5000", "--mode", "network",
                                 "--roads", f"{g}:roads", "--decay", "exp:50000", "--max-snap", "30000",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output.strip().splitlines()[-1])
    assert info["crs"] == "EPSG:32650"  # the data is in degrees: UTM zone of its extent
    assert info["cells_without_value"] == 0
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32650
        n_all = src.read(1, masked=True).count()
    # --drop-far: the far cells get no value (nodata), the summary counts them
    r = CliRunner().invoke(cli, ["surface", "market-potential", "--masses", f"{g}:seats", "--mass-field",
                                 "pop_2020", "--boundary", f"{g}:province", "--cell", "5000", "--mode", "network",
                                 "--roads", f"{g}:roads", "--decay", "exp:50000", "--drop-far",
                                 "--out", str(tmp_path / "drop.tif")])
    assert r.exit_code == 0, r.output
    dropped = json.loads(r.output.strip().splitlines()[-1])["cells_without_value"]
    assert 0 < dropped < info["cells_inside"]
    with rasterio.open(tmp_path / "drop.tif") as src:
        assert src.read(1, masked=True).count() == n_all - dropped


def test_cli_bad_inputs_exit_2(tmp_path, sample_gpkg):
    from iptown_gis.cli.main import cli

    masses = gpd.read_file(sample_gpkg, layer="seats").to_crs(4548)
    mpath = tmp_path / "seats_4548.gpkg"
    masses.to_file(mpath, layer="seats", engine="pyogrio")
    base = ["surface", "market-potential", "--mass-field", "pop_2020", "--boundary", f"{sample_gpkg}:province",
            "--out", str(tmp_path / "x.tif")]
    r = CliRunner().invoke(cli, [*base, "--masses", f"{mpath}:seats", "--cell", "5000"])
    assert r.exit_code == 2
    assert "reproject" in r.output
    r = CliRunner().invoke(cli, [*base, "--masses", f"{mpath}:seats", "--cell", "5000", "--reproject"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, [*base, "--masses", f"{sample_gpkg}:seats", "--cell", "1"])
    assert r.exit_code == 2
    assert "rows x" in r.output
    r = CliRunner().invoke(cli, [*base, "--masses", f"{sample_gpkg}:seats", "--cell", "5000", "--decay", "exp"])
    assert r.exit_code == 2
    assert "decay" in r.output


def test_cli_kde_hotspots_zonal(tmp_path, sample_gpkg):
    from iptown_gis.cli.main import cli

    g = str(sample_gpkg)
    k = tmp_path / "kde.tif"
    r = CliRunner().invoke(cli, ["surface", "kde", "--points", f"{g}:places", "--boundary", f"{g}:province",
                                 "--cell", "5000", "--radius", "30000", "--weight-field", "population",
                                 "--out", str(k)])
    assert r.exit_code == 0, r.output
    z = tmp_path / "z.gpkg"
    r = CliRunner().invoke(cli, ["surface", "zonal", "--raster", str(k), "--zones", f"{g}:counties",
                                 "--id-field", "adcode", "--out", str(z), "--csv", str(tmp_path / "z.csv"),
                                 "--reproject"])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "z.csv")) == 104
    h = tmp_path / "h.gpkg"
    r = CliRunner().invoke(cli, ["surface", "hotspots", "--zones", f"{g}:counties", "--field", "pop_2020",
                                 "--permutations", "199", "--out", str(h)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["surface", "hotspots", "--raster", str(k), "--statistic", "moran",
                                 "--permutations", "99", "--out", str(tmp_path / "hc.gpkg")])
    assert r.exit_code == 0, r.output


def test_stage_uses_neg_results(tmp_path, scenario_path):
    """With NEG results, market access is over the NEG regions with their Y, G, sigma and tau."""
    import copy

    import tomllib

    from iptown_gis.network import build_network
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.progress import Progress
    from iptown_gis.scenario import parse_scenario
    from iptown_gis.surfaces import make_grid, market_access
    from iptown_gis.surfaces.stage import run

    raw = tomllib.loads(scenario_path.read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    raw["surfaces"].update(cell=10000.0, kde_points=None, hotspot_zones=None, zonal_zones=[],
                           raster_potential=False)
    scen = parse_scenario(raw, source=scenario_path)
    ctx = StudyContext(scenario=scen, out_dir=tmp_path)
    regions = ctx.layer("prefecture_seats")
    ids = [str(v) for v in regions.adcode][::-1]  # another order than the layer's
    n = len(ids)
    income = np.linspace(1.0, 2.0, n)
    g = np.linspace(0.8, 1.2, n)
    ctx.neg = NEGResult(region_ids=ids, income=income, price_index=g, sigma=4.0, tau=0.01)
    net = build_network(ctx.layer("roads"))
    ctx.network = NetworkResult(network=net)
    run(ctx, Progress())
    ma = ctx.surfaces.rasters["neg_market_access"].surface
    assert ma.tags["iptown_income_source"] == "neg"
    pos = {v: i for i, v in enumerate(ids)}
    order = [pos[str(v)] for v in regions.adcode]
    grid = make_grid(ctx.layer("boundary"), cell=10000.0)
    want = market_access(grid, regions, income=income[order], price_index=g[order], sigma=4.0, tau=0.01,
                         mode="network", network=net, cost="time",
                         max_snap_distance=scen.section("network").max_snap_distance)
    np.testing.assert_allclose(ma.inside_values(), want.inside_values(), rtol=1e-12)
