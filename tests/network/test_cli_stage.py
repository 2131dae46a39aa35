"""CLI on a non-Anhui region, the pipeline stage, GeoPackage output, isochrones, OSM XML."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from iptown_gis.cli.main import cli
from iptown_gis.network import build_network, isochrones, read_osm, to_geodataframes, write_network


@pytest.fixture
def nairobi(tmp_path, make_grid):
    """A 6 x 6 grid of 1 km roads near Nairobi (UTM 37S), stored in WGS84 GeoJSON."""
    roads = gpd.GeoDataFrame(geometry=make_grid(6, 6, 1000.0, x0=257_000.0, y0=9_853_000.0), crs="EPSG:32737")
    roads.to_crs(4326).to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    pts = gpd.GeoDataFrame({"name": ["west", "east", "mid"]},
                           geometry=[Point(257_000.0, 9_853_000.0 - 200.0), Point(262_000.0, 9_858_000.0),
                                     Point(259_000.0, 9_855_000.0)], crs="EPSG:32737")
    pts.to_crs(4326).to_file(tmp_path / "towns.gpkg", layer="towns", driver="GPKG")
    return tmp_path


def test_cli_od_other_region(nairobi):
    out = nairobi / "od.csv"
    res = CliRunner().invoke(cli, ["network", "od", "--roads", str(nairobi / "roads.geojson"),
                                   "--origins", f"{nairobi / 'towns.gpkg'}:towns", "--id-field", "name",
                                   "--weight", "length", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert list(df.columns) == ["origin_id", "destination_id", "cost"]
    cost = df.set_index(["origin_id", "destination_id"])["cost"]
    # west is 200 m south of the grid corner; east is on the opposite corner: 10 km on the grid
    # (UTM 37S is chosen from the data; rounding of WGS84 storage is sub-millimetre)
    assert cost["west", "east"] == pytest.approx(10_000.0 + 200.0, abs=0.5)
    assert cost["west", "west"] == 0.0
    res = CliRunner().invoke(cli, ["network", "od", "--roads", str(nairobi / "roads.geojson"),
                                   "--origins", f"{nairobi / 'towns.gpkg'}:towns", "--id-field", "name",
                                   "--weight", "time", "--access-speed", "6", "--out", str(out)])
    assert res.exit_code == 0, res.output
    cost = pd.read_csv(out).set_index(["origin_id", "destination_id"])["cost"]
    assert cost["west", "east"] == pytest.approx(10.0 + 2.0, abs=1e-3)


def test_cli_errors_exit_2(nairobi, tmp_path):
    dup = gpd.read_file(nairobi / "towns.gpkg", layer="towns").assign(name="same")
    dup.to_file(tmp_path / "dup.gpkg", layer="towns", driver="GPKG")
    res = CliRunner().invoke(cli, ["network", "od", "--roads", str(nairobi / "roads.geojson"),
                                   "--origins", str(tmp_path / "dup.gpkg"), "--id-field", "name",
                                   "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2
    assert "duplicates" in res.output
    assert not (tmp_path / "x.csv").exists()


def test_cli_build_and_isochrones(nairobi):
    res = CliRunner().invoke(cli, ["network", "build", "--roads", str(nairobi / "roads.geojson"),
                                   "--out", str(nairobi / "net.gpkg")])
    assert res.exit_code == 0, res.output
    assert len(gpd.read_file(nairobi / "net.gpkg", layer="nodes")) == 36
    res = CliRunner().invoke(cli, ["network", "isochrones", "--roads", str(nairobi / "roads.geojson"),
                                   "--centres", str(nairobi / "towns.gpkg"), "--bands", "2,4",
                                   "--out", str(nairobi / "iso.gpkg")])
    assert res.exit_code == 0, res.output
    assert len(gpd.read_file(nairobi / "iso.gpkg")) == 6


def test_isochrones_nest(grid_roads, grid_points):
    net = build_network(grid_roads)
    iso = isochrones(net, grid_points.iloc[[2]], bands=(1, 3), buffer_m=100.0)
    small, big = iso.geometry.iloc[0], iso.geometry.iloc[1]
    assert big.contains(small)
    assert big.area > small.area
    with pytest.raises(Exception, match="bands must increase"):
        isochrones(net, grid_points, bands=(3, 1))


def test_write_network(tmp_path, grid_roads):
    net = build_network(grid_roads)
    nodes, edges = to_geodataframes(net)
    assert len(nodes) == 20
    assert len(edges) == 62
    p = write_network(net, tmp_path / "n.gpkg")
    assert len(gpd.read_file(p, layer="edges")) == 62


def test_stage_computes_seat_matrix(tmp_path):
    from iptown_gis.pipeline import run_scenario

    m = run_scenario(None, tmp_path, stages=["network"])
    assert "network" in m["stages"]
    z = np.load(tmp_path / "network" / "od_seats.npz")
    v = z["values"]
    assert v.shape == (120, 120)
    assert not np.isnan(v).any()
    assert np.allclose(np.diag(v), 0.0)
    assert (v[~np.eye(120, dtype=bool)] > 0).all()
    assert z["origin_ids"][0] == 340100
    assert str(z["unit"]) == "min"
    # Hefei -> Wuhu by road + rail in 1.5 - 3 hours
    assert 60.0 < v[0, 1] < 180.0
    assert len(gpd.read_file(tmp_path / "network" / "network.gpkg", layer="nodes")) > 8000


OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="30.0000" lon="114.0000" version="1"/>
  <node id="2" lat="30.0000" lon="114.0100" version="1"/>
  <node id="3" lat="30.0100" lon="114.0100" version="1"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/></way>
  <way id="11" version="1"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/>
    <tag k="oneway" v="yes"/></way>
</osm>
"""


def test_read_osm_xml(tmp_path):
    p = tmp_path / "tiny.osm"
    p.write_text(OSM_XML)
    net = read_osm(p)
    assert net.n_nodes == 3
    assert net.crs.to_epsg() == 32650
    assert set(net.node_ids.tolist()) == {1, 2, 3}
    # primary both ways (2 edges) + residential one way
    assert net.n_edges == 3
    i = np.argsort(net.length_m)
    # primary (east, ~963 m) at 60 km/h both ways; residential (north, ~1112 m) at 25 km/h
    np.testing.assert_allclose(net.time_min[i[:2]], net.length_m[i[:2]] / 1000.0)
    assert net.time_min[i[2]] == pytest.approx(net.length_m[i[2]] / (25_000.0 / 60.0))


def test_read_osm_pbf(tmp_path):
    """A .osm.pbf file (written here with pyosmium from the XML above) reads like the XML."""
    osmium = pytest.importorskip("osmium", reason="pip install osmium")
    xml = tmp_path / "tiny.osm"
    xml.write_text(OSM_XML)
    pbf = tmp_path / "tiny.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))

    class Copy(osmium.SimpleHandler):
        def node(self, n):
            writer.add_node(n)

        def way(self, w):
            writer.add_way(w)

    Copy().apply_file(str(xml))
    writer.close()
    net = read_osm(pbf)
    ref = read_osm(xml)
    assert net.crs.to_epsg() == 32650
    assert net.n_edges == ref.n_edges == 3
    np.testing.assert_allclose(np.sort(net.length_m), np.sort(ref.length_m), rtol=1e-6)
    np.testing.assert_allclose(np.sort(net.time_min), np.sort(ref.time_min), rtol=1e-6)
