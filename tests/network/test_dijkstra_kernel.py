"""The compiled many-source Dijkstra equals SciPy's, with targets, limits and zero/inf edges."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from iptown_gis.errors import ParameterError
from iptown_gis.network import _dijkstra

pytestmark = pytest.mark.skipif(not _dijkstra.available(), reason="numba is not installed")


@st.composite
def graphs(draw: st.DrawFn) -> tuple[sp.csr_matrix, np.ndarray]:
    n = draw(st.integers(2, 40))
    m = draw(st.integers(0, 4 * n))
    rows = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    cols = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    w = np.array(draw(st.lists(st.integers(0, 50), min_size=m, max_size=m)), dtype=float)
    keep = rows != cols
    g = sp.coo_matrix((w[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    g.sum_duplicates()
    src = np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n)), dtype=np.int64)
    return g, src


@settings(max_examples=150, deadline=None)
@given(case=graphs(), limit=st.sampled_from([np.inf, 30.0, 0.0]))
def test_equals_scipy_on_integer_graphs(case: tuple[sp.csr_matrix, np.ndarray], limit: float) -> None:
    g, src = case
    ref = dijkstra(g, directed=True, indices=src, limit=limit)
    got = _dijkstra.many_source_dijkstra(g, src, limit=limit)
    np.testing.assert_array_equal(got, ref)  # integer costs: bit-identical
    tgt = np.unique(src[::-1])[:5]
    got_t = _dijkstra.many_source_dijkstra(g, src, targets=tgt, limit=limit)
    np.testing.assert_array_equal(got_t, ref[:, tgt])


def test_threads_do_not_change_results() -> None:
    rng = np.random.default_rng(3)
    n = 500
    rows = rng.integers(0, n, 3000)
    cols = rng.integers(0, n, 3000)
    g = sp.coo_matrix((rng.random(3000) * 10, (rows, cols)), shape=(n, n)).tocsr()
    src = np.arange(0, n, 7)
    one = _dijkstra.many_source_dijkstra(g, src, threads=1)
    two = _dijkstra.many_source_dijkstra(g, src, threads=2)
    np.testing.assert_array_equal(one, two)
    ref = dijkstra(g, directed=True, indices=src)
    np.testing.assert_allclose(one, ref, rtol=1e-12)


def test_zero_weight_edges_and_duplicate_targets() -> None:
    g = sp.csr_matrix((np.array([0.0, 2.0, np.inf]), (np.array([0, 1, 2]), np.array([1, 2, 3]))), shape=(4, 4))
    got = _dijkstra.shortest_paths(g, np.array([0, 0]), cols=np.array([3, 2, 2, 1]))
    np.testing.assert_array_equal(got, [[np.inf, 2.0, 2.0, 0.0]] * 2)


@st.composite
def float_graphs(draw: st.DrawFn) -> tuple[sp.csr_matrix, np.ndarray]:
    n = draw(st.integers(2, 60))
    m = draw(st.integers(0, 5 * n))
    rows = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    cols = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    w = np.array(draw(st.lists(st.floats(0.0, 100.0, allow_nan=False), min_size=m, max_size=m)))
    keep = rows != cols
    g = sp.coo_matrix((w[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    g.sum_duplicates()
    src = np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n)), dtype=np.int64)
    return g, src


@settings(max_examples=150, deadline=None)
@given(case=float_graphs(), limit=st.sampled_from([np.inf, 55.5]))
def test_engines_bit_identical_on_float_graphs(case: tuple[sp.csr_matrix, np.ndarray], limit: float) -> None:
    """A node's cost is min over settled predecessors of cost + edge: the same float64 in both engines."""
    g, src = case
    tgt = np.unique(src)[:7]
    for cols in (None, tgt):
        a = _dijkstra.shortest_paths(g, src, limit=limit, cols=cols, engine="scipy")
        b = _dijkstra.shortest_paths(g, src, limit=limit, cols=cols, engine="numba")
        np.testing.assert_array_equal(a, b)


def test_auto_engine_by_size() -> None:
    small = sp.csr_matrix(np.ones((3, 3)))
    assert _dijkstra.choose_engine(10, small) == "scipy"
    big = sp.random(2000, 2000, density=0.01, format="csr", random_state=0)
    n_big = _dijkstra.AUTO_NUMBA_WORK // big.nnz + 1
    assert _dijkstra.choose_engine(n_big, big) == "numba"
    assert _dijkstra.choose_engine(n_big, big, "scipy") == "scipy"
    with pytest.raises(ParameterError, match="engine must be one of"):
        _dijkstra.choose_engine(1, small, "fast")

