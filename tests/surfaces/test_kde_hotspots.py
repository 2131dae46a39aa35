"""KDE (QGIS Heatmap definition), hot spots (equal to esda), FDR, zonal statistics."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from iptown_gis.errors import ColumnError, CRSError, GeometryError, ParameterError
from iptown_gis.surfaces import make_grid
from iptown_gis.surfaces.hotspots import fdr_qvalues, grid_weights, hotspots, local_gi_star, local_moran
from iptown_gis.surfaces.kde import bandwidth, kde, kernel_values
from iptown_gis.surfaces.zonal import zonal_stats

CRS = "EPSG:32650"


def pts(xy, w=None):
    d = {} if w is None else {"w": w}
    return gpd.GeoDataFrame(d, geometry=[Point(x, y) for x, y in xy], crs=CRS)


# ------------------------------------------------------------------ KDE


def test_quartic_kernel_matches_qgis_formula():
    r = 1000.0
    d = np.array([0.0, 250.0, 500.0, 999.0, 1000.0, 1001.0])
    raw = kernel_values(d, r, output="raw")
    np.testing.assert_allclose(raw, [1.0, (1 - 0.0625) ** 2, 0.5625, (1 - 0.999**2) ** 2, 0.0, 0.0])
    scaled = kernel_values(d, r, output="scaled")
    k = 116.0 / (5.0 * math.pi * r**2)  # qgskde.cpp quarticKernel, OutputScaled
    np.testing.assert_allclose(scaled, k * 15.0 / 16.0 * raw)
    dens = kernel_values(d, r, output="density")
    np.testing.assert_allclose(dens, 3.0 / (math.pi * r**2) * raw)


def test_kde_density_integrates_to_weight(square):
    g = make_grid(square, cell=50)
    s = kde(pts([(505_000, 3_505_000)], [7.0]), g, radius=2000, weight_field="w", output="density")
    assert s.inside_values().sum() * 50 * 50 == pytest.approx(7.0, rel=2e-3)
    s = kde(pts([(505_000, 3_505_000)], [7.0]), g, radius=2000, weight_field="w", output="scaled")
    assert s.inside_values().sum() * 50 * 50 == pytest.approx(7.0 * 7.25, rel=2e-3)  # QGIS's constant
    gs = kde(pts([(505_000, 3_505_000)], [7.0]), g, kernel="gaussian", radius=500, weight_field="w",
             output="density")
    assert gs.inside_values().sum() * 50 * 50 == pytest.approx(7.0, rel=2e-3)


def test_kde_hand_values(square):
    g = make_grid(square, cell=1000)
    p = pts([(500_500, 3_509_500), (502_500, 3_509_500)], [2.0, 1.0])
    s = kde(p, g, radius=2500, weight_field="w")
    # cell (0,1) centre is 1000 m from both points
    assert s.values[0, 1] == pytest.approx(3.0 * (1 - 0.16) ** 2)
    assert s.values[0, 0] == pytest.approx(2.0 + 1.0 * (1 - (2000 / 2500) ** 2) ** 2)
    assert s.values[0, 4] == pytest.approx(0.0 + 1.0 * (1 - (2000 / 2500) ** 2) ** 2)


def test_bandwidth_rules():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1000, 500), rng.normal(0, 1000, 500)
    sd = math.sqrt(x.var() + y.var())
    dm = np.median(np.hypot(x - np.median(x), y - np.median(y)))

    def iqr(v):
        return (np.quantile(v, 0.75) - np.quantile(v, 0.25)) / 1.349

    spread = min(sd, math.sqrt(1 / math.log(2)) * dm, math.hypot(iqr(x), iqr(y)))
    assert bandwidth(x, y) == pytest.approx(0.9 * spread * 500**-0.2)
    sx, sy = min(x.std(), iqr(x)), min(y.std(), iqr(y))
    assert bandwidth(x, y, rule="scott") == pytest.approx(math.sqrt((sx**2 + sy**2) / 2) * 500 ** (-1 / 6))
    # on a normal pattern the robust rule stays within 5 % of ArcGIS's plain one
    plain = 0.9 * min(sd, math.sqrt(1 / math.log(2)) * np.median(np.hypot(x - x.mean(), y - y.mean())))
    assert bandwidth(x, y) == pytest.approx(plain * 500**-0.2, rel=0.05)
    with pytest.raises(GeometryError, match="at least 2 points"):
        bandwidth(x[:1], y[:1])
    with pytest.raises(GeometryError, match="not finite"):
        bandwidth(np.append(x, np.inf), np.append(y, 0.0))


@pytest.mark.parametrize("rule", ["silverman", "scott"])
@pytest.mark.parametrize("far", [1e20, 2e6])
def test_one_outlier_does_not_inflate_the_bandwidth(rule, far):
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1000, 200), rng.normal(0, 1000, 200)
    h = bandwidth(x, y, rule=rule)
    h_out = bandwidth(np.append(x, far), np.append(y, 0.0), rule=rule)
    assert h_out == pytest.approx(h, rel=0.05)  # was 1e17 m for the point at 1e20 m


def test_far_points_are_warned_and_all_far_refused(square, caplog):
    g = make_grid(square, cell=1000)
    rng = np.random.default_rng(3)
    xy = [(500_000 + float(a), 3_500_000 + float(b)) for a, b in rng.uniform(0, 10_000, (40, 2))]
    base = kde(pts(xy), g)
    with caplog.at_level("WARNING", logger="iptown_gis.surfaces.kde"):
        s = kde(pts([*xy, (1e20, 3_505_000.0)]), g)
    assert "1 of 41 point(s) lie more than" in caplog.text
    assert "rows [40]" in caplog.text
    r, r_base = float(s.tags["iptown_radius_m"]), float(base.tags["iptown_radius_m"])
    assert r == pytest.approx(r_base, rel=0.25)  # not 1e17 m: the surface is not flat
    assert np.nanmax(s.inside_values()) > 5 * np.nanmin(s.inside_values()) > 0 or np.nanmin(s.inside_values()) == 0
    with pytest.raises(GeometryError, match="none of the 2 point"):
        kde(pts([(2.5e6, 0.0), (2.6e6, 0.0)]), g, radius=5000)
    with pytest.raises(GeometryError, match="not finite"):
        kde(pts([(505_000, 3_505_000), (np.inf, 0.0)]), g, radius=5000)


def test_kde_bad_inputs(square):
    g = make_grid(square, cell=1000)
    with pytest.raises(CRSError, match="reproject"):
        kde(pts([(505_000, 3_505_000)]).to_crs(4326), g, radius=1000)
    with pytest.raises(ColumnError, match="negative"):
        kde(pts([(505_000, 3_505_000), (1, 1)], [1.0, -1.0]), g, radius=1000, weight_field="w")
    with pytest.raises(GeometryError, match="at least 2"):
        kde(pts([(505_000, 3_505_000)]), g)  # rule needs 2 points
    with pytest.raises(ParameterError, match="radius must be > 0"):
        kde(pts([(505_000, 3_505_000)]), g, radius=-1)


@pytest.mark.qgis
def test_kde_equals_qgis_heatmap(tmp_path):
    """Run QGIS's own QgsKernelDensityEstimation and compare cell by cell."""
    qgis_core = pytest.importorskip("qgis.core")
    qgis_analysis = pytest.importorskip("qgis.analysis")
    import rasterio

    app = qgis_core.QgsApplication([], False)
    app.initQgis()
    # points at cell centres of a 100 m grid; QGIS's raster = extent grown by the radius
    # (two weight-0 points widen QGIS's extent so no kernel block touches the raster edge, where
    # QGIS's unsigned block offsets make it drop the block)
    xy = [(500_050.0, 3_500_050.0), (500_350.0, 3_500_250.0), (500_650.0, 3_500_650.0), (500_150.0, 3_500_750.0),
          (499_050.0, 3_499_050.0), (501_650.0, 3_501_750.0)]
    w = [1.0, 2.5, 4.0, 0.5, 0.0, 0.0]
    p = pts(xy, w)
    path = tmp_path / "p.gpkg"
    p.to_file(path, layer="p", engine="pyogrio")
    layer = qgis_core.QgsVectorLayer(f"{path}|layername=p", "p", "ogr")
    assert layer.isValid()
    radius, pixel = 550.0, 100.0  # extent +- radius falls on 100 m multiples, like our grid origin
    params = qgis_analysis.QgsKernelDensityEstimation.Parameters()
    params.source = layer
    params.radius = radius
    params.pixelSize = pixel
    params.shape = qgis_analysis.QgsKernelDensityEstimation.KernelQuartic
    params.weightField = "w"
    params.outputValues = qgis_analysis.QgsKernelDensityEstimation.OutputScaled
    out = tmp_path / "q.tif"
    kd = qgis_analysis.QgsKernelDensityEstimation(params, str(out), "GTiff")
    assert kd.run() == qgis_analysis.QgsKernelDensityEstimation.Success
    with rasterio.open(out) as src:
        q = src.read(1, masked=True).filled(0.0)
        t = src.transform
        h, wd = q.shape
    frame = gpd.GeoDataFrame(geometry=[box(t.c, t.f - h * pixel, t.c + wd * pixel, t.f)], crs=CRS)
    g = make_grid(frame, cell=pixel)
    assert g.transform.c == t.c
    assert g.transform.f == t.f
    ours = kde(p, g, radius=radius, weight_field="w", output="scaled").values.filled(0.0)
    np.testing.assert_allclose(ours[:h, :wd], q, rtol=1e-5, atol=1e-12)


# ------------------------------------------------------------------ hot spots


@pytest.fixture(scope="module")
def counties():
    from iptown_gis.datasets import anhui_layer

    c = anhui_layer("counties")
    c["dens"] = c.pop_2020 / c.area_km2
    return c


def test_gi_star_equals_esda_and_formula(counties):
    import esda
    import libpysal

    res = hotspots(counties, field="dens", permutations=999, seed=7)
    w = libpysal.weights.Queen.from_dataframe(counties, use_index=False, silence_warnings=True)
    ref = esda.G_Local(counties.dens.to_numpy(), w, transform="B", star=True, permutations=999, seed=7, n_jobs=1)
    np.testing.assert_allclose(res.gi, ref.Gs)
    np.testing.assert_allclose(res.gi_z, ref.Zs)
    np.testing.assert_allclose(res.p, ref.p_sim)  # same seed, same permutation scheme
    # Getis-Ord (1992) / ArcGIS formula with binary weights and self included
    x = counties.dens.to_numpy()
    n = x.size
    wb = w.sparse.toarray() + np.eye(n)
    xbar, s = x.mean(), x.std()
    wi = wb.sum(1)
    z = (wb @ x - xbar * wi) / (s * np.sqrt((n * (wb**2).sum(1) - wi**2) / (n - 1)))
    np.testing.assert_allclose(res.gi_z, z, rtol=1e-10)
    assert res.hot_spot.any()
    assert set(res.columns) >= {"gi_z", "p", "q", "significance", "hot_spot"}


def test_local_moran_equals_esda(counties):
    import esda
    import libpysal

    res = hotspots(counties, field="dens", statistic="moran", permutations=499, seed=3)
    w = libpysal.weights.Queen.from_dataframe(counties, use_index=False, silence_warnings=True)
    ref = esda.Moran_Local(counties.dens.to_numpy(), w, transformation="r", permutations=499, seed=3, n_jobs=1)
    np.testing.assert_allclose(res.moran_i, ref.Is)
    np.testing.assert_allclose(res.p, ref.p_sim)
    np.testing.assert_allclose(res.moran_z_sim, ref.z_sim)
    # hand formula of Anselin's I_i with row-standardised weights
    x = counties.dens.to_numpy()
    z = x - x.mean()
    wr = w.sparse.toarray()
    wr = wr / wr.sum(1, keepdims=True)
    ii = (z / ((z**2).sum() / (x.size - 1))) * (wr @ z)
    np.testing.assert_allclose(res.moran_i, ii, rtol=1e-10)


def test_gi_star_on_grid_cells_equals_esda(square):
    import esda

    g = make_grid(square, cell=1000)
    rng = np.random.default_rng(0)
    from iptown_gis.surfaces.grid import Surface

    vals = rng.random(g.shape)
    vals[2:5, 2:5] += 3
    s = Surface(grid=g, values=g.masked(vals), name="v", tags={})
    res = hotspots(s, permutations=999, seed=1)
    w = grid_weights(g)
    ref = esda.G_Local(vals[g.mask], w, transform="B", star=True, permutations=999, seed=1, n_jobs=1)
    np.testing.assert_allclose(res.gi_z, ref.Zs)
    np.testing.assert_allclose(res.p, ref.p_sim)
    assert res.loc[res.gi_z.idxmax(), ["row", "col"]].tolist() == [3, 3]
    assert res.loc[(res.row == 3) & (res.col == 3), "gi_z"].item() > 3


def test_fdr_qvalues_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    q = fdr_qvalues(p)
    # sorted p: .005 .01 .03 .04 .2 -> n p / rank: .025 .025 .05 .05 .2 (then running minimum from the top)
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.025, 0.2])
    p = np.array([0.01, 0.041, 0.029, 0.005, 0.2])  # no ties with esda's strict bound
    q = fdr_qvalues(p)
    import esda

    thr = esda.fdr(p, 0.05)
    assert set(np.flatnonzero(q <= 0.05)) == set(np.flatnonzero(p <= thr))


def test_hotspot_bad_inputs(counties):
    with pytest.raises(GeometryError, match="at least 5"):
        hotspots(counties.iloc[:4], field="dens")
    bad = counties.copy()
    bad.loc[0, "dens"] = np.nan
    with pytest.raises(ColumnError, match="NaN"):
        hotspots(bad, field="dens")
    with pytest.raises(ColumnError, match="constant"):
        hotspots(counties.assign(c=1.0), field="c")
    with pytest.raises(ColumnError, match="field="):
        hotspots(counties, field="nope")
    with pytest.raises(ParameterError, match="permutations"):
        local_gi_star(counties.dens, None, permutations=10)  # type: ignore[arg-type]
    _ = local_moran


# ------------------------------------------------------------------ zonal


def test_zonal_stats_hand(square):
    g = make_grid(square, cell=1000)
    from iptown_gis.surfaces.grid import Surface

    vals = np.arange(100, dtype=float).reshape(10, 10)
    s = Surface(grid=g, values=g.masked(vals), name="v", tags={})
    zones = gpd.GeoDataFrame({"id": ["west", "east"]},
                             geometry=[box(500_000, 3_500_000, 505_000, 3_510_000),
                                       box(505_000, 3_500_000, 510_000, 3_510_000)], crs=CRS)
    z = zonal_stats(s, zones, stats=("mean", "max", "sum", "min"), id_field="id")
    west = vals[:, :5]
    assert z.loc[0, "v_mean"] == pytest.approx(west.mean())
    assert z.loc[0, "v_max"] == west.max()
    assert z.loc[0, "v_min"] == west.min()
    assert z.loc[1, "v_sum"] == pytest.approx(vals[:, 5:].sum())
    assert z.loc[1, "v_count"] == 50
    with pytest.raises(ParameterError, match="unknown zonal"):
        zonal_stats(s, zones, stats=("median",))
    with pytest.raises(CRSError, match="reproject"):
        zonal_stats(s, zones.to_crs(4326))
    _ = pd
