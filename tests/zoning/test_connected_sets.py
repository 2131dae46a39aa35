"""The connected-set bound used by the exact MIP, against brute force."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iptown_gis.zoning._connected_sets import best_through
from iptown_gis.zoning.exact import hop_distances


def _grid(nr: int, nc: int, drop: set[int]) -> tuple[np.ndarray, np.ndarray, nx.Graph, np.ndarray]:
    keep = [i for i in range(nr * nc) if i not in drop]
    pos = {c: k for k, c in enumerate(keep)}
    edges = []
    for c in keep:
        r, q = divmod(c, nc)
        for rr, qq in ((r + 1, q), (r, q + 1)):
            if rr < nr and qq < nc and rr * nc + qq in pos:
                edges.append((pos[c], pos[rr * nc + qq]))
    e = np.array(edges, dtype="int64").reshape(-1, 2)
    n = len(keep)
    g = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    g = (g + g.T).tocsr()
    g.sort_indices()
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(e.tolist())
    return g.indptr, g.indices, graph, hop_distances(n, e)


def _brute(graph: nx.Graph, indptr: np.ndarray, nbr: np.ndarray, score: np.ndarray, lo: int, hi: int) -> np.ndarray:
    n = graph.number_of_nodes()
    maxdeg = int(np.diff(indptr).max())
    best = np.full((n, maxdeg + 1), -np.inf)
    for k in range(lo, hi + 1):
        for S in itertools.combinations(range(n), k):
            if not nx.is_connected(graph.subgraph(S)):
                continue
            val = float(score[list(S)].sum())
            for i in S:
                best[i, -1] = max(best[i, -1], val)
                for s, j in enumerate(nbr[indptr[i]:indptr[i + 1]]):
                    if j not in S:
                        best[i, s] = max(best[i, s], val)
    return best


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), lo=st.integers(1, 4), extra=st.integers(0, 1),
       drop=st.sets(st.integers(0, 15), max_size=3))
def test_enumeration_matches_brute_force(seed, lo, extra, drop):
    indptr, nbr, graph, hops = _grid(4, 4, drop)
    score = np.random.default_rng(seed).normal(size=graph.number_of_nodes())
    hi = lo + extra
    best, exact = best_through(indptr, nbr, score, lo, hi, hops)
    assert exact
    np.testing.assert_allclose(best, _brute(graph, indptr, nbr, score, lo, hi))


def test_ball_bound_is_valid_and_weaker():
    indptr, nbr, graph, hops = _grid(4, 5, {7})
    score = np.random.default_rng(3).random(graph.number_of_nodes())
    exact, ok = best_through(indptr, nbr, score, 4, 4, hops)
    ball, ok2 = best_through(indptr, nbr, score, 4, 4, hops, max_sets=0)
    assert ok
    assert not ok2
    fin = np.isfinite(exact)
    assert (ball[fin] >= exact[fin] - 1e-12).all()
    assert (ball[fin] > exact[fin] + 1e-9).any()


def test_no_set_through_a_cell_is_minus_infinity():
    # a path of 3 cells: no connected 3-set avoids the middle cell's neighbour
    e = np.array([[0, 1], [1, 2]])
    g = sp.coo_matrix((np.ones(2), (e[:, 0], e[:, 1])), shape=(3, 3))
    g = (g + g.T).tocsr()
    g.sort_indices()
    best, _ = best_through(g.indptr, g.indices, np.array([1.0, 2.0, 3.0]), 3, 3, hop_distances(3, e))
    assert best[1, -1] == pytest.approx(6.0)
    assert np.isneginf(best[1, 0])
    assert np.isneginf(best[1, 1])
