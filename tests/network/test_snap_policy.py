"""The network's one snapping policy: rail is boarded only at stations; far points are reported.

On the Anhui sample (OSM major roads + railways, the seats as stations): two points a few
metres off the railway, 25 km and more from any seat, travel by road under every stage's
snapping (seat-OD style ``od_matrix``, network market potential, site criteria, zoning
times), not on the 120 km/h line they happen to lie beside.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point

from iptown_gis.errors import NetworkError, ParameterError
from iptown_gis.network import (
    SnapPolicy,
    access_node_mask,
    build_network,
    node_costs,
    od_matrix,
    snap_access,
    snap_points,
)
from iptown_gis.sites.criteria import network_costs
from iptown_gis.surfaces.grid import make_grid
from iptown_gis.surfaces.potential import market_potential, network_distances
from iptown_gis.zoning.studyarea import _network_times

GPKG = Path(__file__).resolve().parents[2] / "sample_data" / "anhui" / "anhui.gpkg"
CRS = "EPSG:4548"
#: Beside the railway south-west of Anqing (30 m off a rail vertex), far from any seat.
A = (395_229.18, 3_308_968.59)
B = (402_964.85, 3_287_611.97)
KW = {"length_field": "length_km", "length_unit": "km", "default_speed_kmh": 60.0, "crs": CRS}


@pytest.fixture(scope="module")
def sample() -> dict[str, object]:
    roads = gpd.read_file(GPKG, layer="roads").to_crs(CRS)
    rail = gpd.read_file(GPKG, layer="railways").to_crs(CRS)
    seats = gpd.read_file(GPKG, layer="seats").to_crs(CRS)
    multi = build_network(roads, railways=rail, stations=seats, rail_speed_kmh=120.0, **KW)
    road = build_network(roads, **KW)
    pts = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[Point(A), Point(B)], crs=CRS)
    return {"multi": multi, "road": road, "pts": pts, "rail": rail, "seats": seats}


def test_points_lie_beside_the_railway_far_from_any_station(sample):
    pts, rail, seats = sample["pts"], sample["rail"], sample["seats"]
    assert (rail.distance(pts.geometry.iloc[0]).min(), rail.distance(pts.geometry.iloc[1]).min()) < (100.0, 100.0)
    d_seat, _ = cKDTree(np.c_[seats.geometry.x, seats.geometry.y]).query(np.array([A, B]))
    assert d_seat.min() > 25_000.0
    net = sample["multi"]
    modes = net.node_attrs["mode"]
    rail_xy = np.c_[net.x[modes == "rail"], net.y[modes == "rail"]]
    road_xy = np.c_[net.x[modes == "road"], net.y[modes == "road"]]
    assert cKDTree(rail_xy).query(np.array([A, B]))[0].max() < 100.0
    assert cKDTree(road_xy).query(np.array([A, B]))[0].min() > 1_000.0


def test_default_snapping_boards_road_nodes_only(sample):
    net, pts = sample["multi"], sample["pts"]
    s = snap_points(net, pts)
    assert set(net.node_attrs["mode"][s.node]) == {"road"}
    assert s.distance_m.min() > 1_000.0  # the road, not the rail vertex 30 m away
    loose = snap_points(net, pts, modes=None)
    assert set(net.node_attrs["mode"][loose.node]) == {"rail"}
    mask = access_node_mask(net)
    assert mask is not None
    assert mask.sum() == (net.node_attrs["mode"] == "road").sum()
    road_mask = access_node_mask(sample["road"])
    assert road_mask is None or road_mask.all()


def test_edge_snapping_joins_road_edges_only(sample):
    net, pts = sample["multi"], sample["pts"]
    s = snap_points(net, pts, snap="edge")
    assert set(net.mode[s.edge]) == {"road"}
    assert set(net.mode[snap_points(net, pts, snap="edge", modes=None).edge]) == {"rail"}


def test_point_beside_rail_gets_road_time_in_od(sample):
    net, road, pts = sample["multi"], sample["road"], sample["pts"]
    t = od_matrix(net, pts, id_field="id", weight="time", largest_component=True).values[0, 1]
    t_road = od_matrix(road, pts, id_field="id", weight="time", largest_component=True).values[0, 1]
    assert t == pytest.approx(t_road, rel=1e-9)
    # what the old any-node snapping gave: a ride on the line with no station and no penalty
    loose = snap_points(net, pts, modes=None)
    t_rail = node_costs(net, loose.node[:1], weight="time", targets=loose.node[1:])[0, 0] + loose.time_min.sum()
    assert t_rail < 0.25 * t


def test_point_beside_rail_gets_road_time_in_potential_sites_zoning(sample):
    net, road, pts = sample["multi"], sample["road"], sample["pts"]
    t_road = od_matrix(road, pts, id_field="id", weight="time", largest_component=True).values[0, 1]
    # network market potential (a cell at A, a mass at B)
    t_acc, m_acc, node_cost = network_distances(net, np.array([A[0]]), np.array([A[1]]), np.array([B[0]]),
                                                np.array([B[1]]), crs=CRS, cost="time")
    assert t_acc[0] + node_cost[0, 0] + m_acc[0] == pytest.approx(t_road, rel=1e-9)
    # site criteria (candidate A, destination B)
    c = network_costs(net, pts.iloc[[0]], pts.iloc[[1]], weight="time")
    assert c[0, 0] == pytest.approx(t_road, rel=1e-9)
    # zoning travel times (cell A, access point B)
    z = _network_times(net, np.array([A]), np.array([B]), CRS)
    assert z[0] == pytest.approx(t_road, rel=1e-9)


def test_stations_still_connect_the_modes(sample):
    """Seat to seat the rail (boarded at the seats, with the penalty) still helps."""
    net, road, seats = sample["multi"], sample["road"], sample["seats"]
    two = seats[seats["adcode"].astype(str).isin(["340100", "340200"])]  # Hefei, Wuhu
    t = od_matrix(net, two, id_field="adcode", weight="time", largest_component=True).values
    t_road = od_matrix(road, two, id_field="adcode", weight="time", largest_component=True).values
    assert t[0, 1] < t_road[0, 1]
    assert t[0, 1] > 2 * 15.0  # two transfers of 15 min at least


# --------------------------------------------------------------------------- snap limit
@pytest.fixture
def one_road() -> gpd.GeoDataFrame:
    """One 20 km road, in 1 km segments."""
    return gpd.GeoDataFrame(geometry=[LineString([(500_000 + 1000 * i, 3_500_000), (501_000 + 1000 * i, 3_500_000)])
                                      for i in range(20)], crs=CRS)


def test_market_potential_refuses_a_334_km_access_leg(one_road):
    net = build_network(one_road, crs=CRS)
    boundary = gpd.GeoDataFrame(geometry=[one_road.union_all().buffer(3000)], crs=CRS)
    grid = make_grid(boundary, cell=1000.0)
    far = gpd.GeoDataFrame({"m": [1.0, 2.0]}, geometry=[Point(510_000, 3_500_500), Point(510_000, 3_834_000)],
                           crs=CRS)
    with pytest.raises(NetworkError, match=r"masses: 1 of 2 .*334\.0 km.*max_snap_distance"):
        market_potential(grid, far, mass_field="m", mode="network", network=net)
    with pytest.raises(NetworkError, match=r"\[network\] max_snap_distance"):
        market_potential(grid, far, mass_field="m", mode="network", network=net,
                         snap_policy=SnapPolicy(key="[network] max_snap_distance"))
    # far="drop": the far mass adds nothing, the near one everything
    s = market_potential(grid, far, mass_field="m", mode="network", network=net,
                         snap_policy=SnapPolicy(far="drop"))
    near = market_potential(grid, far.iloc[[0]], mass_field="m", mode="network", network=net)
    np.testing.assert_allclose(s.values, near.values, equal_nan=True)


def test_far_cells_dropped_get_no_value(one_road):
    net = build_network(one_road, crs=CRS)
    boundary = gpd.GeoDataFrame(geometry=[one_road.union_all().buffer(6000)], crs=CRS)
    grid = make_grid(boundary, cell=1000.0)
    m = gpd.GeoDataFrame({"m": [1.0]}, geometry=[Point(510_000, 3_500_000)], crs=CRS)
    with pytest.raises(NetworkError, match=r"grid cells: .*farther than 3000 m"):
        market_potential(grid, m, mass_field="m", mode="network", network=net, max_snap_distance=3000.0)
    s = market_potential(grid, m, mass_field="m", mode="network", network=net,
                         snap_policy=SnapPolicy(max_distance=3000.0, far="drop"))
    x, y = grid.centres()
    d = snap_access(net, gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=CRS),
                    policy=SnapPolicy(max_distance=1e9)).distance_m
    assert 0 < int((d > 3000.0).sum()) < len(d)
    assert int(np.isfinite(s.values).sum()) == int((d <= 3000.0).sum())


def test_sites_error_names_the_key(one_road):
    net = build_network(one_road, crs=CRS)
    cand = gpd.GeoDataFrame(geometry=[Point(510_000, 3_500_000), Point(510_000, 3_560_000)], crs=CRS)
    with pytest.raises(NetworkError, match=r"candidates: 1 of 2 .*\[sites\] max_snap_distance / sites select "
                                           r"--max-snap"):
        network_costs(net, cand, cand.iloc[[0]])


def test_policy_rejects_bad_settings():
    with pytest.raises(ParameterError, match="snap distance must be > 0"):
        SnapPolicy(max_distance=0.0)
    with pytest.raises(ParameterError, match="far must be"):
        SnapPolicy(far="flag")  # type: ignore[arg-type]


def test_network_without_road_nodes_is_an_error(one_road):
    net = build_network(one_road, crs=CRS)
    net.node_attrs["mode"] = np.full(net.n_nodes, "rail")
    pts = gpd.GeoDataFrame(geometry=[Point(510_000, 3_500_000)], crs=CRS)
    with pytest.raises(NetworkError, match="no road nodes for points to join"):
        snap_points(net, pts)
    assert snap_points(net, pts, modes=None).distance_m[0] < 10_001.0


def test_zoning_times_refuse_far_cells_and_drop_far_access_points(one_road):
    net = build_network(one_road, crs=CRS)
    near = np.array([[505_000.0, 3_500_200.0]])
    with pytest.raises(NetworkError, match=r"study-area cells: 1 of 1 .*zoning falls back to straight lines"):
        _network_times(net, np.array([[505_000.0, 3_560_000.0]]), near, CRS)
    # a far access point is dropped (warned); the near one serves: 5 km of road at 60 km/h + two legs
    t = _network_times(net, near, np.array([[510_000.0, 3_500_000.0], [510_000.0, 3_600_000.0]]), CRS)
    assert t[0] == pytest.approx(5.0 + 0.2 / 30 * 60 + 0.0, rel=1e-9)


def test_from_options_defaults_equal_the_plain_policy():
    assert SnapPolicy.from_options() == SnapPolicy()
    p = SnapPolicy.from_options(max_distance=3000, drop_far=True, access_speed_kmh=20, source="--max-snap",
                                drop_source="--drop-far")
    assert (p.max_distance, p.far, p.access_speed_kmh) == (3000.0, "drop", 20.0)
    assert p.key == "--max-snap (or --drop-far)"
    assert SnapPolicy.from_options(source="[network] max_snap_distance").key == "[network] max_snap_distance"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"max_distance": 0.0, "source": "--max-snap"}, r"^--max-snap: the snap distance must be > 0 metres, got 0"),
    ({"max_distance": float("nan"), "source": "[network] max_snap_distance"},
     r"^\[network\] max_snap_distance: the snap distance must be > 0"),
    ({"max_distance": "far", "source": "'Largest access leg (m)' (MAX_SNAP_DISTANCE)"},
     r"^'Largest access leg \(m\)' \(MAX_SNAP_DISTANCE\): expected a number, got 'far'"),
    ({"max_distance": True, "source": "--max-snap"}, r"^--max-snap: expected a number, got True"),
    ({"access_speed_kmh": 0.0, "speed_source": "[surfaces] access_speed_kmh"},
     r"^\[surfaces\] access_speed_kmh: the access speed must be a positive speed in km/h, got 0"),
    ({"access_speed_kmh": float("inf")}, r"^access_speed_kmh: the access speed must be a positive speed"),
])
def test_from_options_errors_name_the_option(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        SnapPolicy.from_options(**kwargs)


def test_from_options_far_error_names_both_options(one_road):
    net = build_network(one_road, crs=CRS)
    pts = gpd.GeoDataFrame(geometry=[Point(510_000, 3_560_000)], crs=CRS)
    pol = SnapPolicy.from_options(max_distance=3000, source="--max-snap", drop_source="--drop-far")
    with pytest.raises(NetworkError, match=r"raise the snap distance \(--max-snap \(or --drop-far\)\)"):
        snap_access(net, pts, policy=pol)


def test_cli_bad_max_snap_names_the_flag(tmp_path):
    from click.testing import CliRunner

    from iptown_gis.cli.main import cli

    r = CliRunner().invoke(cli, ["surface", "market-potential", "--masses", f"{GPKG}:seats", "--mass-field",
                                 "pop_2020", "--boundary", f"{GPKG}:province", "--cell", "20000", "--mode",
                                 "network", "--roads", f"{GPKG}:roads", "--max-snap", "0",
                                 "--out", str(tmp_path / "mp.tif")])
    assert r.exit_code == 2
    assert "--max-snap: the snap distance must be > 0 metres" in r.output
    assert not (tmp_path / "mp.tif").exists()
