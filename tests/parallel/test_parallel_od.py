"""Distributed OD batches equal the in-process results on the Anhui sample."""

from __future__ import annotations

import numpy as np
import pytest

from iptown_gis.errors import ParameterError
from iptown_gis.network import node_costs
from iptown_gis.network import node_costs as net_node_costs
from iptown_gis.network.costs import batch_sizes, many_to_many

pytestmark = pytest.mark.dask


def test_plain_all_nodes_equal_in_process(anhui_net, anhui_seat_nodes, executor):
    ref = net_node_costs(anhui_net, anhui_seat_nodes, weight="time")
    got = node_costs(anhui_net, anhui_seat_nodes, weight="time", executor=executor, batch_size=17)
    assert got.shape == (len(anhui_seat_nodes), anhui_net.n_nodes)
    assert np.array_equal(got, ref, equal_nan=True)


def test_core_targets_equal_in_process(anhui_net, anhui_seat_nodes, executor):
    ref = net_node_costs(anhui_net, anhui_seat_nodes, targets=anhui_seat_nodes)
    got = node_costs(anhui_net, anhui_seat_nodes, targets=anhui_seat_nodes, executor=executor, batch_size=9)
    assert np.array_equal(got, ref, equal_nan=True)
    # and the in-process path of the parallel module is the network's own
    assert np.array_equal(node_costs(anhui_net, anhui_seat_nodes, targets=anhui_seat_nodes), ref, equal_nan=True)


def test_cutoff_equal(anhui_net, anhui_seat_nodes, executor):
    ref = net_node_costs(anhui_net, anhui_seat_nodes[:30], cutoff=50_000.0)
    got = node_costs(anhui_net, anhui_seat_nodes[:30], cutoff=50_000.0, executor=executor, batch_size=7)
    assert np.isnan(ref).any()
    assert np.array_equal(got, ref, equal_nan=True)


def test_overlay_exact(anhui_net, anhui_seat_nodes, executor):
    plain = net_node_costs(anhui_net, anhui_seat_nodes, targets=anhui_seat_nodes, method="plain")
    local = node_costs(anhui_net, anhui_seat_nodes, targets=anhui_seat_nodes, method="overlay", n_cells=12)
    dist = node_costs(anhui_net, anhui_seat_nodes, targets=anhui_seat_nodes, method="overlay", n_cells=12,
                      executor=executor, batch_size=11)
    assert np.array_equal(dist, local, equal_nan=True)
    assert np.array_equal(np.isnan(local), np.isnan(plain))
    fin = np.isfinite(plain)
    np.testing.assert_allclose(local[fin], plain[fin], rtol=1e-12, atol=0)
    assert np.allclose(np.diag(local)[np.isfinite(np.diag(local))], 0.0)


def test_overlay_rectangular_and_cutoff(anhui_net, anhui_seat_nodes):
    src, tgt = anhui_seat_nodes[:20], anhui_seat_nodes[40:]
    plain = net_node_costs(anhui_net, src, targets=tgt, method="plain", cutoff=80_000.0)
    ov = node_costs(anhui_net, src, targets=tgt, method="overlay", cutoff=80_000.0, n_cells=8)
    assert np.array_equal(np.isnan(ov), np.isnan(plain))
    fin = np.isfinite(plain)
    np.testing.assert_allclose(ov[fin], plain[fin], rtol=1e-12)


def test_many_to_many_sparse_graph(anhui_net, anhui_seat_nodes, executor):
    from scipy.sparse.csgraph import dijkstra

    g = anhui_net.csgraph("length")
    ref = dijkstra(g, directed=True, indices=anhui_seat_nodes)[:, anhui_seat_nodes]
    got = many_to_many(g, anhui_seat_nodes, n_cells=20, executor=executor)
    assert np.array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-12)
    assert np.array_equal(got, many_to_many(g, anhui_seat_nodes, n_cells=20))


def test_errors(anhui_net, anhui_seat_nodes):
    with pytest.raises(ParameterError, match="give targets"):
        node_costs(anhui_net, anhui_seat_nodes, method="overlay")
    with pytest.raises(ParameterError, match="method must be one of"):
        node_costs(anhui_net, anhui_seat_nodes, method="fast")
    with pytest.raises(ParameterError, match="must lie in"):
        node_costs(anhui_net, [anhui_net.n_nodes + 5])
    with pytest.raises(ParameterError, match="cutoff"):
        node_costs(anhui_net, anhui_seat_nodes, cutoff=-1.0)
    with pytest.raises(ParameterError, match="batch_size"):
        batch_sizes(10, 10, batch_size=0)
