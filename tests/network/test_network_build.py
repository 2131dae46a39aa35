"""Building networks from line layers: topology, speeds, modes and bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from iptown_gis.errors import ColumnError, CRSError, GeometryError, ParameterError
from iptown_gis.network import build_network, node_costs, resolve_speeds
from iptown_gis.network.speeds import parse_maxspeed


def test_sample_roads_build(sample_gpkg):
    net = build_network(f"{sample_gpkg}:roads", crs="EPSG:4548")
    assert net.crs.to_epsg() == 4548
    assert 7000 < net.n_nodes < 7100
    assert net.n_edges == 2 * 11094
    # no class / speed column: default 60 km/h = 1000 m per minute
    np.testing.assert_allclose(net.time_min, net.length_m / 1000.0)
    k, lab = net.components()
    assert k == 6
    assert (lab == 0).sum() == 7038


def test_grid_topology(grid_roads):
    net = build_network(grid_roads)
    assert net.n_nodes == 20
    assert net.n_edges == 62
    d = node_costs(net, [0], weight="length")
    assert np.nanmax(d) == pytest.approx(7000.0)


def test_snap_tolerance_joins_near_miss():
    lines = [LineString([(0, 0), (1000, 0)]), LineString([(1000.4, 0.3), (2000, 0)])]
    gdf = gpd.GeoDataFrame(geometry=lines, crs="EPSG:32650")
    assert build_network(gdf, snap_tolerance=0.0).components()[0] == 2
    assert build_network(gdf, snap_tolerance=1.0).components()[0] == 1


def test_oneway_column():
    lines = [LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (2000, 0)])]
    gdf = gpd.GeoDataFrame({"oneway": ["yes", "-1"]}, geometry=lines, crs="EPSG:32650")
    net = build_network(gdf)
    assert net.n_edges == 2
    a = int(np.argmin(net.x))
    d = node_costs(net, [a])
    # 0 -> 1000 allowed, 1000 -> 2000 only backwards (2000 -> 1000)
    assert d[0].tolist()[:2] == [0.0, 1000.0]
    assert np.isnan(d[0, 2])


def test_split_crossings():
    # two lines crossing at a shared interior vertex (500, 0)
    lines = [LineString([(0, 0), (500, 0), (1000, 0)]), LineString([(500, -500), (500, 0), (500, 500)])]
    gdf = gpd.GeoDataFrame(geometry=lines, crs="EPSG:32650")
    assert build_network(gdf).components()[0] == 2
    net = build_network(gdf, split_crossings=True)
    assert net.n_nodes == 5
    assert net.components()[0] == 1
    assert net.length_m.sum() == pytest.approx(2 * 2000.0)


def test_length_field_and_classes():
    lines = [LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (2000, 0)])]
    gdf = gpd.GeoDataFrame({"len_km": [2.0, 1.0], "road_class": ["G104国道", "高速公路"]}, geometry=lines,
                           crs="EPSG:32650")
    net = build_network(gdf, length_field="len_km")
    assert sorted(set(net.length_m.round(6))) == [1000.0, 2000.0]
    t = dict(zip(net.length_m.round(6), net.time_min))
    assert t[2000.0] == pytest.approx(2.0 / 70.0 * 60.0)
    assert t[1000.0] == pytest.approx(1.0 / 100.0 * 60.0)
    net2 = build_network(gdf, length_field="len_km", speeds={"国道": 35.0})
    assert dict(zip(net2.length_m.round(6), net2.time_min))[2000.0] == pytest.approx(2.0 / 35.0 * 60.0)


def test_maxspeed_parsing():
    assert parse_maxspeed("50 mph") == pytest.approx(80.4672)
    assert parse_maxspeed("60;80") == 60.0
    assert np.isnan(parse_maxspeed("signals"))
    frame = gpd.GeoDataFrame({"highway": ["primary", "unknown"], "maxspeed": [None, "40"]})
    kmh, _ = resolve_speeds(frame)
    assert kmh.tolist() == [60.0, 40.0]


def test_multimodal_transfers_only_at_stations():
    roads = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (100_000, 0)])], crs="EPSG:32650")
    rail = gpd.GeoDataFrame(geometry=[LineString([(0, 500), (100_000, 500)])], crs="EPSG:32650")
    stations = gpd.GeoDataFrame(geometry=[Point(0, 250), Point(100_000, 250)], crs="EPSG:32650")
    net = build_network(roads, railways=rail, stations=stations, transfer_penalty_min=10.0,
                        rail_speed_kmh=200.0, transfer_speed_kmh=30.0)
    assert set(net.mode) == {"road", "rail", "transfer"}
    assert (net.mode == "transfer").sum() == 4
    road0 = int(np.flatnonzero((net.node_attrs["mode"] == "road") & (net.x == 0))[0])
    road1 = int(np.flatnonzero((net.node_attrs["mode"] == "road") & (net.x == 100_000))[0])
    d = node_costs(net, [road0], weight="time", targets=[road1])
    # road 100 km at 60 km/h = 100 min; rail 30 min + 2 transfers (10 min + 500 m at 30 km/h = 1 min)
    assert d[0, 0] == pytest.approx(30.0 + 2 * 11.0)
    with pytest.raises(ParameterError, match="need stations"):
        build_network(roads, railways=rail)


def test_empty_road_layer():
    gdf = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:32650"))
    with pytest.raises(GeometryError, match="empty"):
        build_network(gdf)


def test_lines_without_crs():
    gdf = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])])
    with pytest.raises(CRSError, match="no CRS"):
        build_network(gdf)


def test_zero_or_negative_speeds(grid_roads):
    with pytest.raises(ParameterError, match="positive"):
        build_network(grid_roads, default_speed_kmh=0.0)
    with pytest.raises(ParameterError, match="positive km/h"):
        build_network(grid_roads, speeds={"primary": -5.0})
    bad = grid_roads.assign(maxspeed=[0] + [50] * (len(grid_roads) - 1))
    with pytest.raises(ColumnError, match="zero or negative speed"):
        build_network(bad)


def test_nan_lengths(grid_roads):
    bad = grid_roads.assign(len_km=[np.nan] + [1.0] * (len(grid_roads) - 1))
    with pytest.raises(ColumnError, match="NaN or negative length"):
        build_network(bad, length_field="len_km")
    with pytest.raises(ColumnError, match="no length column"):
        build_network(grid_roads, length_field="nope")


def test_points_as_roads_rejected():
    gdf = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32650")
    with pytest.raises(GeometryError, match="LineString"):
        build_network(gdf)
