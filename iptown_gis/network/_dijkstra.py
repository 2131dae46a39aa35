"""A compiled many-source Dijkstra (Numba) that stops once every target is settled.

SciPy's :func:`scipy.sparse.csgraph.dijkstra` holds the GIL, searches every node and uses a
Fibonacci heap. This kernel uses a binary heap with lazy deletion, runs the sources in
parallel threads (``numba.prange``, GIL released) and, when target columns are given, stops
each search as soon as all of them are settled. Costs are float64 path sums, the same
quantities SciPy computes; they can differ from SciPy only in the last bits where two
different paths tie (see ``tests/network/test_dijkstra_kernel.py``). Results are identical
from run to run and across processes, whatever the number of threads.

Numba is optional: :func:`available` tells whether the kernel can be used, and
:func:`iptown_gis.network.node_costs` falls back to SciPy without it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["available", "many_source_dijkstra", "shortest_paths"]

log = logging.getLogger(__name__)

try:  # pragma: no cover - exercised where numba is installed
    import numba as _nb

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    _nb = None  # type: ignore[assignment]
    _HAVE_NUMBA = False

_kernel: Any = None


def available() -> bool:
    """True when Numba is installed (the compiled kernel can run)."""
    return _HAVE_NUMBA


def _build_kernel() -> Any:  # pragma: no cover - compiled code is not traced by coverage
    nb = _nb
    assert nb is not None

    @nb.njit(nogil=True, cache=True)
    def _search(indptr: Any, indices: Any, weights: Any, source: int, col_of: Any, n_cols: int,
                limit: float, dist: Any, done: Any, hk: Any, hv: Any, row: Any) -> None:
        n = indptr.shape[0] - 1
        for i in range(n):
            dist[i] = np.inf
            done[i] = False
        dist[source] = 0.0
        hk[0] = 0.0
        hv[0] = source
        size = 1
        remaining = n_cols
        while size > 0:
            # pop the minimum
            d = hk[0]
            u = hv[0]
            size -= 1
            if size > 0:
                k = hk[size]
                v = hv[size]
                i = 0
                while True:
                    c = 2 * i + 1
                    if c >= size:
                        break
                    if c + 1 < size and hk[c + 1] < hk[c]:
                        c += 1
                    if hk[c] < k:
                        hk[i] = hk[c]
                        hv[i] = hv[c]
                        i = c
                    else:
                        break
                hk[i] = k
                hv[i] = v
            if done[u] or d > dist[u]:
                continue
            if d > limit:
                break
            done[u] = True
            if n_cols > 0:
                c = col_of[u]
                if c >= 0:
                    remaining -= 1
                    if remaining == 0:
                        break
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nd = d + weights[e]
                if nd < dist[v] and not done[v]:
                    dist[v] = nd
                    # push
                    i = size
                    size += 1
                    while i > 0:
                        p = (i - 1) // 2
                        if hk[p] > nd:
                            hk[i] = hk[p]
                            hv[i] = hv[p]
                            i = p
                        else:
                            break
                    hk[i] = nd
                    hv[i] = v
        # write the row: settled nodes within the limit, else NaN
        if n_cols > 0:
            for i in range(n):
                c = col_of[i]
                if c >= 0:
                    row[c] = dist[i] if (done[i] and dist[i] <= limit) else np.inf
        else:
            for i in range(n):
                row[i] = dist[i] if dist[i] <= limit else np.inf

    @nb.njit(nogil=True, parallel=True, cache=True)
    def _many(indptr: Any, indices: Any, weights: Any, sources: Any, col_of: Any, n_cols: int,
              limit: float, out: Any, n_chunks: int) -> None:
        n = indptr.shape[0] - 1
        m = indices.shape[0]
        ns = sources.shape[0]
        for ch in nb.prange(n_chunks):
            dist = np.empty(n, dtype=np.float64)
            done = np.empty(n, dtype=np.bool_)
            hk = np.empty(m + 1, dtype=np.float64)
            hv = np.empty(m + 1, dtype=np.int64)
            for s in range(ch, ns, n_chunks):
                _search(indptr, indices, weights, sources[s], col_of, n_cols, limit, dist, done, hk, hv, out[s])

    return _many


def many_source_dijkstra(
    graph: Any,
    sources: NDArray[np.int64],
    *,
    targets: NDArray[np.int64] | None = None,
    limit: float = np.inf,
    threads: int | None = None,
) -> NDArray[np.float64]:
    """Shortest-path costs from ``sources`` to all nodes (or to ``targets``) of a CSR graph.

    Parameters
    ----------
    graph
        A ``scipy.sparse.csr_matrix`` of non-negative edge costs (stored entries are edges,
        zeros included; ``inf`` entries are never used).
    sources
        Node positions to search from.
    targets
        Node positions to report (columns); each search stops once all are settled.
    limit
        Nodes farther than ``limit`` are NaN.
    threads
        Number of parallel searches (default: Numba's thread count).

    Returns
    -------
    numpy.ndarray
        ``len(sources) x n`` (or ``x len(targets)``); ``inf`` where unreachable or beyond
        ``limit`` (as SciPy).
    """
    global _kernel
    if not _HAVE_NUMBA:
        from iptown_gis.errors import DependencyError

        raise DependencyError("the compiled Dijkstra needs numba: pip install numba")
    if _kernel is None:
        _kernel = _build_kernel()
    n = int(graph.shape[0])
    indptr = np.ascontiguousarray(graph.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(graph.indices, dtype=np.int64)
    weights = np.ascontiguousarray(graph.data, dtype=np.float64)
    src = np.ascontiguousarray(sources, dtype=np.int64)
    if targets is None:
        col_of = np.full(1, -1, dtype=np.int64)
        n_cols = 0
        width = n
    else:
        tgt = np.asarray(targets, dtype=np.int64)
        uniq, inv = np.unique(tgt, return_inverse=True)
        col_of = np.full(n, -1, dtype=np.int64)
        col_of[uniq] = np.arange(len(uniq))
        n_cols = len(uniq)
        width = n_cols
    out = np.empty((len(src), width), dtype=np.float64)
    if len(src) == 0:
        return out if targets is None else out[:, inv.ravel()]
    n_threads = threads or (int(_nb.get_num_threads()) if _nb is not None else 1)
    n_chunks = max(1, min(len(src), int(n_threads)))
    _kernel(indptr, indices, weights, src, col_of, n_cols, float(limit), out, n_chunks)
    if targets is None:
        return out
    return out[:, inv.ravel()]


def shortest_paths(
    graph: Any,
    sources: NDArray[np.int64],
    *,
    limit: float = np.inf,
    cols: NDArray[np.int64] | None = None,
) -> NDArray[np.float64]:
    """The one search routine of the package: costs from ``sources`` on a CSR ``graph``.

    Uses the compiled kernel when Numba is installed, else :func:`scipy.sparse.csgraph.dijkstra`;
    both return ``inf`` for unreachable nodes and nodes beyond ``limit``. ``cols`` selects target
    columns (the compiled kernel then stops each search once they are all settled). Every
    caller (in-process, batched, on Dask workers) goes through here, so results are identical
    whichever way the work is split.
    """
    src = np.asarray(sources, dtype=np.int64)
    if _HAVE_NUMBA and len(src) > 0:
        return many_source_dijkstra(graph, src, targets=cols, limit=limit)
    from scipy.sparse.csgraph import dijkstra

    d = dijkstra(graph, directed=True, indices=src, limit=limit)
    return d if cols is None else np.ascontiguousarray(d[:, cols])
