"""Grid, Harris potential (hand-computable cases), FFT vs direct, bad inputs."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from iptown_gis.errors import ColumnError, CRSError, GeometryError, ParameterError
from iptown_gis.surfaces import (
    make_grid,
    market_access,
    market_potential,
    parse_decay,
    potential_at,
    potential_direct,
    potential_fft,
    rasterize_masses,
)

CRS = "EPSG:32650"


def masses(xy, values, crs=CRS):
    return gpd.GeoDataFrame({"m": values}, geometry=[Point(x, y) for x, y in xy], crs=crs)


def test_grid_frame_and_mask(square):
    g = make_grid(square, cell=1000)
    assert g.shape == (10, 10)
    assert g.n_inside == 100
    assert g.bounds == (500_000, 3_500_000, 510_000, 3_510_000)
    x, y = g.centres()
    assert x[0] == 500_500
    assert y[0] == 3_509_500
    r, c = g.rowcol(np.array([500_500.0]), np.array([3_509_500.0]))
    assert (r[0], c[0]) == (0, 0)


def test_grid_mask_follows_polygon():
    tri = gpd.GeoDataFrame(geometry=[box(0, 0, 4000, 2000)], crs=CRS)
    g = make_grid(tri, cell=1000)
    assert g.n_inside == 8
    assert g.cell_polygons().area.sum() == pytest.approx(8e6)


def test_two_masses_hand_computed(square):
    # power:1, masses 100 and 50 at known distances from the cell centre (500500, 3509500)
    g = make_grid(square, cell=1000)
    m = masses([(503_500, 3_505_500), (500_500, 3_499_500)], [100.0, 50.0])
    s = market_potential(g, m, mass_field="m", decay="power:1")
    d1 = math.hypot(3000, 4000)  # 5000 m
    d2 = 10_000.0
    assert s.values[0, 0] == pytest.approx(100 / d1 + 50 / d2, rel=1e-12)
    e = market_potential(g, m, mass_field="m", decay="exp:5000")
    assert e.values[0, 0] == pytest.approx(100 * math.exp(-1) + 50 * math.exp(-2), rel=1e-12)
    p2 = market_potential(g, m, mass_field="m", decay="power:2")
    assert p2.values[0, 0] == pytest.approx(100 / d1**2 + 50 / d2**2, rel=1e-12)


def test_min_distance_clamp_default_half_cell(square):
    g = make_grid(square, cell=1000)
    m = masses([(500_500, 3_509_500)], [10.0])  # exactly at a cell centre
    s = market_potential(g, m, mass_field="m", decay="power:1")
    assert s.values[0, 0] == pytest.approx(10 / 500.0)
    assert s.tags["iptown_min_distance"] == "500"
    s2 = market_potential(g, m, mass_field="m", decay="power:1", min_distance=2000)
    assert s2.values[0, 1] == pytest.approx(10 / 2000.0)  # 1000 m away, clamped to 2000


def test_market_access_g_equal_one_and_price_index(square):
    g = make_grid(square, cell=1000)
    m = masses([(503_500, 3_505_500), (500_500, 3_499_500)], [100.0, 50.0])
    sigma, tau = 5.0, 0.1  # per km
    ma = market_access(g, m, income_field="m", sigma=sigma, tau=tau)
    want = 100 * math.exp(-(sigma - 1) * tau * 5.0) + 50 * math.exp(-(sigma - 1) * tau * 10.0)
    assert ma.values[0, 0] == pytest.approx(want, rel=1e-12)
    ma2 = market_access(g, m, income_field="m", price_index=[2.0, 1.0], sigma=sigma, tau=tau)
    want2 = 100 * 2.0**4 * math.exp(-(sigma - 1) * tau * 5.0) + 50 * math.exp(-(sigma - 1) * tau * 10.0)
    assert ma2.values[0, 0] == pytest.approx(want2, rel=1e-12)
    with pytest.raises(ParameterError, match="sigma must be > 1"):
        market_access(g, m, income_field="m", sigma=1.0)


@settings(max_examples=25, deadline=None)
@given(
    vals=st.lists(st.floats(0, 1e6), min_size=3, max_size=3),
    which=st.integers(0, 2),
    extra=st.floats(1e-3, 1e6),
    decay=st.sampled_from(["power:1", "power:2", "exp:3000"]),
)
def test_potential_rises_with_any_mass(vals, which, extra, decay):
    x = np.array([100.0, 2500.0, 7000.0])
    y = np.array([0.0, 4000.0, -3000.0])
    tx, ty = np.meshgrid(np.linspace(-5000, 9000, 7), np.linspace(-5000, 5000, 5))
    before = potential_at(tx, ty, x, y, np.array(vals), decay=decay, min_distance=500)
    bigger = np.array(vals)
    bigger[which] += extra
    after = potential_at(tx, ty, x, y, bigger, decay=decay, min_distance=500)
    assert np.all(after >= before)
    assert np.all(after > before) or decay.startswith("exp")


@pytest.mark.parametrize("decay", ["power:1", "power:1.7", "exp:4000"])
def test_fft_equals_direct(decay):
    rng = np.random.default_rng(4)
    mass = rng.random((37, 53)) * (rng.random((37, 53)) > 0.3)
    f = potential_fft(mass, cell=1000, decay=decay)
    d = potential_direct(mass, cell=1000, decay=decay)
    assert np.max(np.abs(f - d) / np.abs(d)) < 1e-10


def test_raster_of_point_masses_matches_points(square):
    g = make_grid(square, cell=1000)
    m = masses([(503_500, 3_505_500), (507_500, 3_501_500)], [3.0, 4.0])  # at cell centres
    r = rasterize_masses(g, m, field="m")
    assert r.sum() == 7.0
    f = potential_fft(r, cell=1000, decay="power:1")
    s = market_potential(g, m, mass_field="m", decay="power:1")
    np.testing.assert_allclose(f[g.mask], s.inside_values(), rtol=1e-10)


def test_geotiff_has_crs_tags_nodata(tmp_path):
    tri = gpd.GeoDataFrame(geometry=[Point(505_000, 3_505_000).buffer(4000)], crs=CRS)
    g = make_grid(tri, cell=500)
    m = masses([(505_000, 3_505_000)], [1.0])
    s = market_potential(g, m, mass_field="m", decay="exp:2000")
    out = s.write(tmp_path / "mp.tif")
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32650
        assert src.nodata == -9999
        a = src.read(1, masked=True)
        assert a.mask.sum() == g.n_cells - g.n_inside
        assert src.tags()["iptown_decay"] == "exp:2000"
        np.testing.assert_allclose(a.compressed(), s.inside_values().astype("float32"), rtol=1e-6)


# ------------------------------------------------------------------ bad input


def test_crs_mismatch_raises_unless_reproject(square):
    g = make_grid(square, cell=1000)
    m = masses([(503_500, 3_505_500)], [1.0]).to_crs(4326)
    with pytest.raises(CRSError, match="reproject"):
        market_potential(g, m, mass_field="m")
    s = market_potential(g, m, mass_field="m", reproject=True)
    assert np.isfinite(s.inside_values()).all()


@pytest.mark.parametrize("cell", [0, -5, float("nan")])
def test_bad_cell(square, cell):
    with pytest.raises(ParameterError, match="cell size must be a positive"):
        make_grid(square, cell=cell)


def test_grid_over_budget_states_size(square):
    with pytest.raises(ParameterError, match=r"100,000 rows x 100,000 columns"):
        make_grid(square, cell=0.1, memory_budget="1GB")


def test_nan_and_negative_masses(square):
    g = make_grid(square, cell=1000)
    with pytest.raises(ColumnError, match="NaN"):
        market_potential(g, masses([(503_500, 3_505_500), (0, 0)], [1.0, np.nan]), mass_field="m")
    with pytest.raises(ColumnError, match="negative"):
        market_potential(g, masses([(503_500, 3_505_500), (0, 0)], [1.0, -2.0]), mass_field="m")
    with pytest.raises(ColumnError, match="no column 'pop'"):
        market_potential(g, masses([(503_500, 3_505_500)], [1.0]), mass_field="pop")
    with pytest.raises(ColumnError, match="negative"):
        potential_fft(-np.ones((3, 3)), cell=1, decay="power:1")


def test_no_masses(square):
    g = make_grid(square, cell=1000)
    empty = masses([], []).iloc[:0]
    with pytest.raises(GeometryError, match="at least 1"):
        market_potential(g, empty, mass_field="m")


@pytest.mark.parametrize("spec", ["power", "power:-1", "exp:0", "gauss:3", "power:x"])
def test_bad_decay(spec):
    with pytest.raises(ParameterError, match="decay"):
        parse_decay(spec)
