"""OD matrices: exactness against independent Dijkstra, invariants, snapping, outputs, errors."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from iptown_gis.errors import ColumnError, NetworkError, ParameterError
from iptown_gis.network import (
    ODMatrix,
    build_network,
    core_graph,
    from_edge_arrays,
    iceberg,
    node_costs,
    od_matrix,
    snap_points,
    to_osmnx,
)


@pytest.fixture(scope="module")
def anhui(sample_gpkg):
    net = build_network(f"{sample_gpkg}:roads", crs="EPSG:4548", length_field="length_km")
    seats = gpd.read_file(sample_gpkg, layer="seats")
    return net, seats


def test_seats_snap_close(anhui):
    net, seats = anhui
    s = snap_points(net, seats, ids=seats["adcode"].to_numpy())
    assert s.distance_m.max() < 4100.0  # farthest seat is 4.0 km from a road node
    assert np.median(s.distance_m) < 1000.0


def test_core_equals_plain_and_networkx(anhui):
    net, seats = anhui
    nodes = snap_points(net, seats).node
    for weight in ("length", "time"):
        core = node_costs(net, nodes, weight=weight, targets=nodes, method="core")
        plain = node_costs(net, nodes, weight=weight, targets=nodes, method="plain")
        np.testing.assert_array_equal(np.isnan(core), np.isnan(plain))
        np.testing.assert_allclose(core, plain, rtol=1e-12, atol=0)
    G = nx.DiGraph()
    for t, h, w in zip(net.tails, net.indices, net.length_m):
        if not G.has_edge(t, h) or G[t][h]["w"] > w:
            G.add_edge(int(t), int(h), w=float(w))
    full = node_costs(net, nodes[:5], weight="length")
    for i, s in enumerate(nodes[:5]):
        ref = nx.single_source_dijkstra_path_length(G, int(s), weight="w")
        got = full[i]
        assert np.isnan(got).sum() == net.n_nodes - len(ref)
        keys = np.fromiter(ref.keys(), dtype=np.int64)
        np.testing.assert_allclose(got[keys], np.fromiter(ref.values(), dtype=float), rtol=1e-12)
    c = core_graph(net, net.length_m, np.unique(nodes))
    assert c.matrix.shape[0] < net.n_nodes
    assert c.pruned > 0
    assert c.contracted > 0


@st.composite
def random_graphs(draw):
    n = draw(st.integers(2, 25))
    m = draw(st.integers(1, 60))
    tails = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    heads = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    w = draw(st.lists(st.integers(0, 50), min_size=m, max_size=m))
    directed = draw(st.booleans())
    t, h, w = np.array(tails), np.array(heads), np.array(w, dtype=float)
    if not directed:
        t, h, w = np.r_[t, h], np.r_[h, t], np.r_[w, w]
    net = from_edge_arrays(crs="EPSG:32650", x=np.arange(n, dtype=float), y=np.zeros(n), tails=t, heads=h,
                           length_m=w, time_min=w / 10.0)
    k = draw(st.integers(1, n))
    terms = np.array(draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
    return net, terms


@settings(max_examples=150, deadline=None)
@given(random_graphs())
def test_triangle_inequality_and_exact_core(case):
    net, terms = case
    plain = node_costs(net, terms, targets=terms, method="plain")
    core = node_costs(net, terms, targets=terms, method="core")
    # integer weights: the core graph gives bit-identical costs
    np.testing.assert_array_equal(core, plain)
    d = np.where(np.isnan(core), np.inf, core)
    # d[i, j] <= d[i, k] + d[k, j] for all terminal triples (terms are both rows and columns)
    assert (d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-9).all()
    assert np.allclose(np.diag(d), 0.0)
    # independent Dijkstra (NetworkX) on the same graph
    G = nx.DiGraph()
    G.add_nodes_from(range(net.n_nodes))
    for t, h, w in zip(net.tails, net.indices, net.length_m):
        if not G.has_edge(t, h) or G[t][h]["w"] > w:
            G.add_edge(int(t), int(h), w=float(w))
    for i, s in enumerate(terms):
        ref = nx.single_source_dijkstra_path_length(G, int(s), weight="w")
        exp = np.array([ref.get(int(t), np.inf) for t in terms])
        np.testing.assert_array_equal(d[i], exp)


def test_cutoff_gives_nan(grid_roads):
    net = build_network(grid_roads)
    d = node_costs(net, [0], cutoff=2500.0)
    assert np.nanmax(d) <= 2500.0
    assert np.isnan(d).sum() == 20 - 6


def test_access_legs_included(grid_roads, grid_points):
    net = build_network(grid_roads)
    od = od_matrix(net, grid_points, id_field="code", weight="length")
    # a: 100 m west of (0,0); b: 100 m north of (4,3); network path 4 km + 3 km
    assert od.values[0, 1] == pytest.approx(100.0 + 7000.0 + 100.0)
    assert od.values[0, 2] == pytest.approx(100.0 + 3000.0)
    assert np.diag(od.values).tolist() == [0.0, 0.0, 0.0]
    odt = od_matrix(net, grid_points, id_field="code", weight="time", access_speed_kmh=6.0)
    # access: 100 m at 6 km/h = 1 min; network: 7 km at 60 km/h = 7 min
    assert odt.values[0, 1] == pytest.approx(1.0 + 7.0 + 1.0)
    assert odt.unit == "min"
    assert od.unit == "m"


def test_edge_snapping(grid_roads):
    net = build_network(grid_roads)
    pts = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[Point(500_300.0, 3_999_950.0), Point(500_800.0, 4_000_020.0)],
                           crs="EPSG:32650")
    od = od_matrix(net, pts, id_field="id", snap="edge", weight="length")
    # both on the first edge: 50 m + 500 m along + 20 m
    assert od.values[0, 1] == pytest.approx(570.0)
    odn = od_matrix(net, pts, id_field="id", snap="node", weight="length")
    assert odn.values[0, 1] > od.values[0, 1]


def test_unreachable_is_nan_and_components(grid_roads):
    from shapely.geometry import LineString

    island = gpd.GeoDataFrame({"id": [99]}, geometry=[LineString([(600_000, 4_000_000), (601_000, 4_000_000)])],
                              crs="EPSG:32650")
    roads = gpd.GeoDataFrame(__import__("pandas").concat([grid_roads, island]), crs="EPSG:32650")
    net = build_network(roads)
    pts = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[Point(500_000, 4_000_000), Point(600_500, 4_000_000)],
                           crs="EPSG:32650")
    od = od_matrix(net, pts, id_field="id", max_snap_distance=1000)
    assert np.isnan(od.values[0, 1])
    assert np.isnan(od.values[1, 0])
    assert od.n_unreachable == 2
    od2 = od_matrix(net, pts, id_field="id", largest_component=True, max_snap_distance=200_000)
    assert od2.n_unreachable == 0
    long = od.to_long()
    assert long["cost"].isna().sum() == 2
    assert len(od.to_long(dropna=True)) == 2


def test_outputs_roundtrip(tmp_path, grid_roads, grid_points):
    net = build_network(grid_roads)
    od = od_matrix(net, grid_points, id_field="code")
    csv = od.to_csv(tmp_path / "od.csv")
    import pandas as pd

    df = pd.read_csv(csv)
    assert list(df.columns) == ["origin_id", "destination_id", "cost"]
    assert len(df) == 9
    assert pd.read_parquet(od.to_parquet(tmp_path / "od.parquet"))["cost"].tolist() == pytest.approx(df["cost"])
    back = ODMatrix.from_npz(od.to_npz(tmp_path / "od.npz"))
    np.testing.assert_array_equal(back.values, od.values)
    assert back.origin_ids.tolist() == ["a", "b", "c"]
    assert back.unit == "m"


def test_iceberg():
    c = np.array([[0.0, 2.0], [np.nan, 1.0]])
    t = iceberg(c, tau=0.1)
    assert t[0, 0] == 1.0
    assert t[0, 1] == pytest.approx(np.exp(0.2))
    assert np.isinf(t[1, 0])
    p = iceberg(c, tau=0.1, form="power")
    assert p[0, 1] == pytest.approx(1.1**2)
    with pytest.raises(ParameterError, match="tau"):
        iceberg(c, tau=-1)
    with pytest.raises(ParameterError, match="form"):
        iceberg(c, tau=0.1, form="linear")


def test_duplicate_ids(grid_roads, grid_points):
    net = build_network(grid_roads)
    dup = grid_points.assign(code=["a", "a", "c"])
    with pytest.raises(ColumnError, match="duplicates"):
        od_matrix(net, dup, id_field="code")
    with pytest.raises(ColumnError, match="no id column"):
        od_matrix(net, grid_points, id_field="nope")


def test_points_outside_extent(grid_roads, grid_points):
    net = build_network(grid_roads)
    far = gpd.GeoDataFrame({"code": ["x"]}, geometry=[Point(700_000, 4_500_000)], crs="EPSG:32650")
    pts = gpd.GeoDataFrame(__import__("pandas").concat([grid_points, far]), crs="EPSG:32650")
    with pytest.raises(NetworkError, match=r"1 of 4 point\(s\).*x \(.*outside the network extent"):
        od_matrix(net, pts, id_field="code")
    od = od_matrix(net, pts, id_field="code", drop_far=True)
    assert od.shape == (3, 3)


def test_bad_weight_and_cutoff(grid_roads, grid_points):
    net = build_network(grid_roads)
    with pytest.raises(ParameterError, match="unknown weight"):
        od_matrix(net, grid_points, weight="money")
    with pytest.raises(ParameterError, match="cutoff"):
        node_costs(net, [0], cutoff=-1.0)


def test_generalised_cost(grid_roads, grid_points):
    net = build_network(grid_roads)
    net.edge_attrs["toll"] = net.length_m * 0.001
    od = od_matrix(net, grid_points, id_field="code", weight="toll")
    assert od.values[0, 2] == pytest.approx(3.0 + od.meta["origin_snap_m"][0] / 500.0)


def test_osmnx_roundtrip(grid_roads):
    from iptown_gis.network import from_osmnx

    net = build_network(grid_roads)
    G = to_osmnx(net)
    assert G.number_of_edges() == net.n_edges
    back = from_osmnx(G)
    np.testing.assert_allclose(np.sort(back.length_m), np.sort(net.length_m))
    d1 = node_costs(net, [0], weight="length")
    d2 = node_costs(back, [0], weight="length")
    np.testing.assert_allclose(np.sort(d1[0]), np.sort(d2[0]))


def test_engines_and_executor_paths_equal_on_the_sample(anhui):
    """SciPy and the compiled kernel give the same float64 costs; so does the deprecated import path."""
    import warnings

    from iptown_gis.network import _dijkstra

    net, seats = anhui
    nodes = snap_points(net, seats).node
    a = node_costs(net, nodes, weight="time", targets=nodes, engine="scipy")
    if _dijkstra.available():
        np.testing.assert_array_equal(a, node_costs(net, nodes, weight="time", targets=nodes, engine="numba"))
        full_s = node_costs(net, nodes[:20], weight="length", engine="scipy")
        np.testing.assert_array_equal(full_s, node_costs(net, nodes[:20], weight="length", engine="numba"))
    np.testing.assert_array_equal(a, node_costs(net, nodes, weight="time", targets=nodes, batch_size=7))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from iptown_gis.parallel.od import node_costs as old

    assert any(issubclass(w.category, DeprecationWarning) and "iptown_gis.network.node_costs" in str(w.message)
               for w in caught)
    assert old is node_costs
    with pytest.raises(ParameterError, match="engine must be one of"):
        node_costs(net, nodes, engine="fast")
