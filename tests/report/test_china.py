"""WGS84 <-> GCJ-02 <-> BD-09: published test vectors, round trips under 0.5 m, any geometry."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from iptown_gis.crs import china
from iptown_gis.errors import CRSError, ParameterError

GEOD = Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_published_vectors():
    # the values every implementation (e.g. wandergis/coordTransform_py) gives
    lon, lat = china.wgs84_to_gcj02(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-12)
    lon, lat = china.gcj02_to_bd09(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)


def test_offset_is_hundreds_of_metres_in_anhui():
    lon, lat = np.array([117.2272, 118.433, 116.8]), np.array([31.8206, 31.352, 33.9])
    glon, glat = china.wgs84_to_gcj02(lon, lat)
    d = metres(lon, lat, glon, glat)
    assert np.all((d > 100) & (d < 800))


@settings(max_examples=30, deadline=None)
@given(st.floats(73.5, 134.8), st.floats(18.2, 53.5), st.sampled_from(["gcj02", "bd09"]))
def test_round_trip_under_half_a_metre(lon, lat, other):
    x, y = china.convert(lon, lat, src="wgs84", dst=other)
    bx, by = china.convert(x, y, src=other, dst="wgs84")
    assert metres(lon, lat, float(bx), float(by)) < 0.5
    # the inverse really inverts: forward(inverse(p)) == p too
    x2, y2 = china.convert(bx, by, src="wgs84", dst=other)
    assert metres(float(x), float(y), float(x2), float(y2)) < 0.5


def test_round_trip_vectorised_province_grid():
    lon, lat = np.meshgrid(np.linspace(114.8, 119.7, 80), np.linspace(29.4, 34.7, 80))
    for other in ("gcj02", "bd09"):
        x, y = china.convert(lon.ravel(), lat.ravel(), src="wgs84", dst=other)
        bx, by = china.convert(x, y, src=other, dst="wgs84")
        assert metres(lon.ravel(), lat.ravel(), bx, by).max() < 0.001  # in fact sub-millimetre
    gx, gy = china.convert(lon.ravel(), lat.ravel(), src="gcj02", dst="bd09")
    bx, by = china.convert(gx, gy, src="bd09", dst="gcj02")
    assert metres(lon.ravel(), lat.ravel(), bx, by).max() < 0.001


def test_outside_china_unchanged_by_gcj02():
    lon, lat = np.array([2.35, -74.0, 139.7, 100.0]), np.array([48.85, 40.7, 35.7, -5.0])
    assert china.out_of_china(lon, lat).all()
    x, y = china.wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(x, lon)
    np.testing.assert_array_equal(y, lat)
    bx, _by = china.gcj02_to_wgs84(lon, lat)
    np.testing.assert_array_equal(bx, lon)


def test_convert_gdf_any_geometry_keeps_z_and_attributes():
    poly = Polygon([(117.0, 31.0), (117.1, 31.0), (117.1, 31.1), (117.0, 31.0)])
    gdf = gpd.GeoDataFrame(
        {"name": ["p", "l", "mp", "z"]},
        geometry=[Point(117.2, 31.8), LineString([(117, 31), (118, 32)]), MultiPolygon([poly]),
                  Point(117.3, 31.9, 42.0)], crs="EPSG:4326")
    out = china.convert_gdf(gdf, src="wgs84", dst="gcj02")
    assert list(out["name"]) == ["p", "l", "mp", "z"]
    assert out.crs == gdf.crs
    assert out.geometry.iloc[3].has_z
    assert out.geometry.iloc[3].z == 42.0
    assert list(out.geom_type) == list(gdf.geom_type)
    x, _y = china.wgs84_to_gcj02(117.2, 31.8)
    assert out.geometry.iloc[0].x == pytest.approx(float(x), abs=1e-12)
    back = china.convert_gdf(out, src="gcj02", dst="wgs84")
    for a, b in zip(gdf.geometry, back.geometry, strict=True):
        ca, cb = np.asarray(a.exterior.coords if a.geom_type == "Polygon" else
                            (a.geoms[0].exterior.coords if a.geom_type == "MultiPolygon" else a.coords)), \
            np.asarray(b.exterior.coords if b.geom_type == "Polygon" else
                       (b.geoms[0].exterior.coords if b.geom_type == "MultiPolygon" else b.coords))
        assert metres(ca[:, 0], ca[:, 1], cb[:, 0], cb[:, 1]).max() < 0.5
    assert gdf.geometry.iloc[0].x == 117.2  # input untouched


def test_convert_gdf_errors():
    gdf = gpd.GeoDataFrame(geometry=[Point(117, 31)], crs="EPSG:4326")
    with pytest.raises(ParameterError, match="unknown coordinate system 'wgs72'"):
        china.convert_gdf(gdf, src="wgs72", dst="gcj02")
    with pytest.raises(CRSError, match="projected CRS"):
        china.convert_gdf(gdf.to_crs(4548), src="gcj02", dst="wgs84")
    with pytest.raises(CRSError, match="has no CRS"):
        china.convert_gdf(gpd.GeoDataFrame(geometry=[Point(117, 31)]), src="gcj02", dst="wgs84")
    with pytest.raises(ParameterError, match="same shape"):
        china.convert([1.0, 2.0], [1.0], src="wgs84", dst="gcj02")
    with pytest.raises(ParameterError, match="GeoDataFrame"):
        china.convert_gdf([Point(1, 1)], src="wgs84", dst="gcj02")


def test_aliases():
    assert china.normalise_system("GCJ-02") == "gcj02"
    assert china.normalise_system("Baidu") == "bd09"
    assert china.normalise_system("WGS84") == "wgs84"


def test_cli_convert_round_trip(tmp_path, sample_gpkg):
    from iptown_gis.cli import cli

    seats = gpd.read_file(sample_gpkg, layer="seats")
    runner = CliRunner()
    r = runner.invoke(cli, ["crs", "convert", "--from", "wgs84", "--to", "gcj02", f"{sample_gpkg}:seats",
                            str(tmp_path / "gcj.geojson")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["features"] == 120
    r = runner.invoke(cli, ["crs", "convert", "--from", "gcj02", "--to", "wgs84", str(tmp_path / "gcj.geojson"),
                            f"{tmp_path / 'back.gpkg'}:seats"])
    assert r.exit_code == 0, r.output
    back = gpd.read_file(tmp_path / "back.gpkg", layer="seats")
    gcj = gpd.read_file(tmp_path / "gcj.geojson")
    shift = metres(seats.geometry.x.to_numpy(), seats.geometry.y.to_numpy(), gcj.geometry.x.to_numpy(),
                   gcj.geometry.y.to_numpy())
    assert shift.min() > 100
    err = metres(seats.geometry.x.to_numpy(), seats.geometry.y.to_numpy(), back.geometry.x.to_numpy(),
                 back.geometry.y.to_numpy())
    assert err.max() < 0.5


def test_cli_convert_bad_input_exit_2(tmp_path):
    from iptown_gis.cli import cli

    r = CliRunner().invoke(cli, ["crs", "convert", "--from", "gcj02", "--to", "wgs84", str(tmp_path / "nope.gpkg"),
                                 str(tmp_path / "o.gpkg")])
    assert r.exit_code == 2
    assert "does not exist" in r.output


def test_scenario_coords_option_converts_input(tmp_path, sample_gpkg):
    """[inputs.X] coords = "gcj02": the pipeline converts the layer to WGS84 before projecting."""
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.scenario import load_scenario

    seats = gpd.read_file(sample_gpkg, layer="seats").head(10)
    gcj = china.convert_gdf(seats, src="wgs84", dst="gcj02")
    gcj.to_file(tmp_path / "amap.gpkg", layer="pois", engine="pyogrio")
    (tmp_path / "s.toml").write_text(
        '[study]\ncrs = "EPSG:4548"\n[inputs]\npois = { path = "amap.gpkg", layer = "pois", coords = "gcj02" }\n'
        'raw = "amap.gpkg:pois"\n', encoding="utf-8")
    ctx = StudyContext(scenario=load_scenario(tmp_path / "s.toml"), out_dir=tmp_path)
    fixed = ctx.layer("pois")
    raw = ctx.layer("raw")
    truth = seats.to_crs(4548)
    assert fixed.distance(truth, align=True).max() < 0.5
    assert raw.distance(truth, align=True).min() > 100
