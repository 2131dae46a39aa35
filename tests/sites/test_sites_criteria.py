"""Candidates and per-candidate criteria (rasters, hot spots, anchors, network access, NEG)."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from shapely.geometry import LineString, Point, box

from iptown_gis.errors import (
    ColumnError,
    DataNotFoundError,
    GeometryError,
    NetworkError,
    ParameterError,
)
from iptown_gis.io.raster import Raster
from iptown_gis.sites.candidates import SITE_ID, candidates_from_layer, candidates_from_raster
from iptown_gis.sites.config import AnchorSpec, CriterionSpec
from iptown_gis.sites.criteria import (
    access_costs,
    anchors_from_layer,
    anchors_from_specs,
    compute_criteria,
    hotspot_values,
    neg_values,
    sample_raster,
    select_anchors,
)

CRS = "EPSG:4548"


def _raster() -> Raster:
    data = np.ma.MaskedArray(np.arange(12, dtype=float).reshape(3, 4), mask=np.zeros((3, 4), bool))
    data.mask[0, 0] = True
    return Raster(data=data, transform=Affine(1000, 0, 0, 0, -1000, 3000), crs=CRS)


def _points(xy: list[tuple[float, float]], **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[Point(x, y) for x, y in xy], crs=CRS)


def test_candidates_from_points_and_polygons() -> None:
    polys = gpd.GeoDataFrame({"code": ["a", "b"]},
                             geometry=[box(0, 0, 10, 10), shapely.Polygon([(0, 0), (10, 0), (10, 10), (9, 10),
                                                                           (9, 1), (0, 1)])], crs=CRS)
    c = candidates_from_layer(polys, id_field="code")
    assert c[SITE_ID].tolist() == ["a", "b"]
    assert (c.geom_type == "Point").all()
    assert c.within(polys.geometry.reset_index(drop=True)).all()  # representative points lie inside
    pts = _points([(0, 0), (1, 1)])
    assert candidates_from_layer(pts)[SITE_ID].tolist() == [0, 1]


def test_candidates_bad_input() -> None:
    pts = _points([(0, 0), (1, 1)], code=[1, 1])
    with pytest.raises(ColumnError, match="not unique"):
        candidates_from_layer(pts, id_field="code")
    with pytest.raises(ColumnError, match="no id column 'nope'"):
        candidates_from_layer(pts, id_field="nope")
    lines = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=CRS)
    with pytest.raises(GeometryError, match="points or polygons"):
        candidates_from_layer(lines)
    with pytest.raises(GeometryError, match="empty"):
        candidates_from_layer(pts.iloc[:0])


def test_candidates_from_raster() -> None:
    c = candidates_from_raster(_raster(), threshold=9.0)
    assert sorted(c["value"].tolist()) == [9.0, 10.0, 11.0]
    assert c[SITE_ID].tolist() == ["r2c1", "r2c2", "r2c3"]
    np.testing.assert_allclose(sample_raster(_raster(), c), c["value"].to_numpy())
    q = candidates_from_raster(_raster(), quantile=0.9)
    assert len(q) == 2  # 10 and 11 of the 11 valid values 1..11
    with pytest.raises(ParameterError, match="exactly one"):
        candidates_from_raster(_raster())
    with pytest.raises(ParameterError, match="lower the threshold"):
        candidates_from_raster(_raster(), threshold=100.0)


def test_sample_raster_outside_and_masked_are_nan() -> None:
    pts = _points([(500, 2500), (1500, 2500), (3500, 500), (9000, 500)])
    v = sample_raster(_raster(), pts)
    assert np.isnan(v[0])  # masked cell
    assert v[1] == 1.0
    assert v[2] == 11.0
    assert np.isnan(v[3])  # outside the raster
    # reprojection: the same points in WGS84 give the same values
    v2 = sample_raster(_raster(), pts.to_crs(4326))
    np.testing.assert_array_equal(np.isnan(v), np.isnan(v2))
    np.testing.assert_allclose(v[1:3], v2[1:3])
    with pytest.raises(ParameterError, match="cannot read a raster"):
        sample_raster(42, pts)


def test_hotspot_values_join_by_location() -> None:
    zones = gpd.GeoDataFrame({"gi_z": [2.5, -1.0], "p": [0.01, 0.3], "hot_spot": [True, False]},
                             geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=CRS)
    pts = _points([(5, 5), (15, 5), (50, 50)])
    z = hotspot_values(zones, pts, kind="z")
    np.testing.assert_array_equal(z[:2], [2.5, -1.0])
    assert np.isnan(z[2])
    np.testing.assert_array_equal(hotspot_values(zones, pts, kind="p")[:2], [0.01, 0.3])
    np.testing.assert_array_equal(hotspot_values(zones, pts, kind="significant")[:2], [1.0, 0.0])
    with pytest.raises(ColumnError, match="z-score"):
        hotspot_values(zones[["geometry"]], pts, kind="z")


def test_neg_values_and_scenario_change() -> None:
    neg = {"region_ids": np.array([340100, 340200]), "shares": np.array([0.6, 0.4]),
           "scenarios": {"hsr": {"share": np.array([0.7, 0.3])}}}
    np.testing.assert_allclose(neg_values(neg, [340200, 340100, 340100.0]), [0.4, 0.6, 0.6])
    np.testing.assert_allclose(neg_values(neg, ["340100"], scenario="hsr"), [0.1])
    with pytest.raises(DataNotFoundError, match="no NEG scenario 'x'"):
        neg_values(neg, [340100], scenario="x")
    with pytest.raises(ColumnError, match="no region"):
        neg_values(neg, [999])


def test_anchor_selection() -> None:
    specs = [AnchorSpec(name="ustc", kind="university", lon=117.264, lat=31.839),
             AnchorSpec(name="hfut", kind="university", lon=117.297, lat=31.847),
             AnchorSpec(name="court", kind="ip_court", lon=117.225, lat=31.818)]
    a = anchors_from_specs(specs, crs=CRS)
    assert a.crs.to_epsg() == 4548
    assert select_anchors(a, ["university"])["name"].tolist() == ["ustc", "hfut"]
    assert select_anchors(a, ["court", "ustc"])["name"].tolist() == ["ustc", "court"]
    with pytest.raises(DataNotFoundError, match="no anchor named"):
        select_anchors(a, ["rail_station"])
    with pytest.raises(DataNotFoundError, match="no anchors given"):
        anchors_from_specs([])
    lay = gpd.GeoDataFrame({"title": ["x"]}, geometry=[Point(0, 0)], crs=CRS)
    with pytest.raises(ColumnError, match="no name column 'name'"):
        anchors_from_layer(lay)
    assert anchors_from_layer(lay, name_field="title")["name"].tolist() == ["x"]


def _toy_network():
    from iptown_gis.network import build_network

    # a 20 km east-west road and, far away, a separate 1 km road
    roads = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (10_000, 0)]), LineString([(10_000, 0), (20_000, 0)]),
                                       LineString([(0, 50_000), (1_000, 50_000)])], crs=CRS)
    return build_network(roads, default_speed_kmh=60.0)


def test_access_costs_on_a_network() -> None:
    net = _toy_network()
    cands = _points([(0, 0), (10_000, 0), (20_000, 0)], **{SITE_ID: ["a", "b", "c"]})
    anchors = _points([(0, 0), (20_000, 0)], name=["w", "e"], kind=["x", "x"])
    t = access_costs(net, cands, anchors, weight="time", aggregate="min", largest_component=False)
    np.testing.assert_allclose(t, [0.0, 10.0, 0.0])  # 10 km at 60 km/h
    m = access_costs(net, cands, anchors, weight="time", aggregate="mean", largest_component=False)
    np.testing.assert_allclose(m, [10.0, 10.0, 10.0])
    d = access_costs(net, cands, anchors, weight="length", aggregate="min", largest_component=False)
    np.testing.assert_allclose(d, [0.0, 10_000.0, 0.0])


def test_candidates_outside_network_reach() -> None:
    net = _toy_network()
    anchors = _points([(0, 0)], name=["w"], kind=["x"])
    island = _points([(0, 0), (500, 50_000)], **{SITE_ID: ["ok", "island"]})
    with pytest.raises(NetworkError, match=r"1 of 2 candidates are outside the network's reach.*island"):
        access_costs(net, island, anchors, largest_component=False)
    far = _points([(0, 0), (5_000, 30_000)], **{SITE_ID: ["ok", "far"]})
    with pytest.raises(NetworkError, match="candidates: 1 of 2 point"):
        access_costs(net, far, anchors, max_snap_distance=10_000.0)


def test_compute_criteria_skips_missing_stages(caplog: pytest.LogCaptureFixture) -> None:
    cands = _points([(500, 2500), (1500, 2500), (2500, 1500)], **{SITE_ID: [1, 2, 3], "gdp": [1.0, 2.0, 3.0],
                                                                 "pref": [340100, 340100, 340200]})
    specs = [CriterionSpec(name="mp", source="market_potential", weight=1),
             CriterionSpec(name="gdp", source="column", column="gdp", transform="log1p", weight=1),
             CriterionSpec(name="share", source="neg_share", weight=1),
             CriterionSpec(name="acc", source="access", anchors=["ustc"], direction="cost", weight=1)]
    with caplog.at_level(logging.WARNING, logger="iptown_gis.sites.criteria"):
        res = compute_criteria(cands, specs, results={}, prefecture_field="pref")
    assert list(res.values.columns) == ["gdp"]
    assert set(res.skipped) == {"mp", "share", "acc"}
    assert "criterion 'mp' skipped" in caplog.text
    np.testing.assert_allclose(res.values["gdp"], np.log1p([1.0, 2.0, 3.0]))
    results = {"surfaces": {"market_potential": {"surface": None, "raster": _raster()}},
               "neg": {"region_ids": [340100, 340200], "shares": [0.7, 0.3]}}
    res2 = compute_criteria(cands, specs[:3], results=results, prefecture_field="pref")
    np.testing.assert_allclose(res2.values["mp"], [np.nan, 1.0, 6.0])
    np.testing.assert_allclose(res2.values["share"], [0.7, 0.7, 0.3])
    required = [CriterionSpec(name="mp", source="kde", weight=1, required=True)]
    with pytest.raises(DataNotFoundError, match=r"'mp'.*required but the surfaces stage produced no 'kde'"):
        compute_criteria(cands, required, results={})
    with pytest.raises(ColumnError, match="no column 'nope'"):
        compute_criteria(cands, [CriterionSpec(name="x", source="column", column="nope", weight=1)])
    with pytest.raises(ColumnError, match="prefecture_field"):
        compute_criteria(cands, specs[2:3], results=results, prefecture_field=None)
    assert isinstance(res2.values, pd.DataFrame)


def _rail_network():
    """A 40 km road (10 km segments) with a railway beside it, stations at x = 0 and 40 km."""
    from iptown_gis.network import build_network

    roads = gpd.GeoDataFrame(geometry=[LineString([(x, 0), (x + 10_000, 0)]) for x in range(0, 40_000, 10_000)],
                             crs=CRS)
    rail = gpd.GeoDataFrame(geometry=[LineString([(0, 500), (20_000, 500)]), LineString([(20_000, 500),
                                                                                        (40_000, 500)])], crs=CRS)
    stations = _points([(0, 250), (40_000, 250)], name=["w", "e"])
    return build_network(roads, railways=rail, stations=stations, default_speed_kmh=60.0, rail_speed_kmh=120.0)


def test_station_access_to_the_nearest_station() -> None:
    from iptown_gis.sites.criteria import station_access, station_nodes

    net = _rail_network()
    assert len(station_nodes(net)) == 2
    # beside the railway at 20 km (a rail node 500 m away): 20 km of road to a station, not a ride
    cands = _points([(0, 0), (10_000, 0), (20_000, 100)], **{SITE_ID: ["a", "b", "c"]})
    t = station_access(net, cands, weight="time")
    np.testing.assert_allclose(t, [0.0, 10.0, 20.0 + 0.1 / 30.0 * 60.0])
    res = compute_criteria(cands, [CriterionSpec(name="rail", source="station_access", direction="cost",
                                                 weight=1)], network=net)
    np.testing.assert_allclose(res.values["rail"], t)
    # a roads-only network has no stations: skipped (or an error when required)
    roads_only = _toy_network()
    res2 = compute_criteria(cands, [CriterionSpec(name="rail", source="station_access", weight=1)],
                            network=roads_only)
    assert res2.skipped == {"rail": "the network has no rail stations (build it with railways and stations)"}
    with pytest.raises(DataNotFoundError, match=r"'rail'.*required but the network has no rail stations"):
        compute_criteria(cands, [CriterionSpec(name="rail", source="station_access", weight=1, required=True)],
                         network=roads_only)
    with pytest.raises(DataNotFoundError, match="no rail stations"):
        station_access(roads_only, cands)
    far = _points([(0, 0), (20_000, 25_000)], **{SITE_ID: ["ok", "far"]})
    with pytest.raises(NetworkError, match=r"candidates: 1 of 2 .*\[sites\] max_snap_distance"):
        station_access(net, far)


def test_column_per_column() -> None:
    cands = _points([(0, 0), (1, 0), (2, 0)], **{SITE_ID: [1, 2, 3], "gdp": [10.0, 20.0, 90.0],
                                                   "pop": [1.0, 4.0, 3.0], "zero": [1.0, 0.0, 1.0]})
    spec = CriterionSpec(name="gpc", source="column", column="gdp", per="pop", weight=1)
    np.testing.assert_allclose(compute_criteria(cands, [spec]).values["gpc"], [10.0, 5.0, 30.0])
    with pytest.raises(ColumnError, match=r"per = 'nope': candidates have no such column"):
        compute_criteria(cands, [CriterionSpec(name="x", source="column", column="gdp", per="nope", weight=1)])
    with pytest.raises(ColumnError, match=r"per = 'zero' must be > 0"):
        compute_criteria(cands, [CriterionSpec(name="x", source="column", column="gdp", per="zero", weight=1)])
    with pytest.raises(ValueError, match="per = 'pop' works with source = 'column' only"):
        CriterionSpec(name="x", source="kde", per="pop", weight=1)
