"""The Numba kernels of :mod:`iptown_gis.network._dijkstra` (imported only when they run).

Module-level functions with ``cache=True``: the first process compiles them into Numba's cache
(the package's ``__pycache__``, or the user cache directory when that is not writable, or
``NUMBA_CACHE_DIR``); later processes load the machine code from there instead of compiling.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

__all__ = ["many"]


@nb.njit(nogil=True, cache=True)
def _search(indptr: Any, indices: Any, weights: Any, source: int, col_of: Any, n_cols: int,
            limit: float, dist: Any, done: Any, hk: Any, hv: Any, pos: Any, row: Any) -> None:  # pragma: no cover
    """One Dijkstra from ``source`` with an indexed binary heap (decrease-key; ``pos[v]`` is
    ``v``'s heap slot, -1 when not in the heap), stopping once all ``n_cols`` targets are settled."""
    n = indptr.shape[0] - 1
    for i in range(n):
        dist[i] = np.inf
        done[i] = False
        pos[i] = -1
    dist[source] = 0.0
    hk[0] = 0.0
    hv[0] = source
    pos[source] = 0
    size = 1
    remaining = n_cols
    while size > 0:
        # pop the minimum
        d = hk[0]
        u = hv[0]
        pos[u] = -1
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
                    pos[hv[i]] = i
                    i = c
                else:
                    break
            hk[i] = k
            hv[i] = v
            pos[v] = i
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
                # insert, or decrease the key in place; then sift up
                i = pos[v]
                if i < 0:
                    i = size
                    size += 1
                while i > 0:
                    p = (i - 1) // 2
                    if hk[p] > nd:
                        hk[i] = hk[p]
                        hv[i] = hv[p]
                        pos[hv[i]] = i
                        i = p
                    else:
                        break
                hk[i] = nd
                hv[i] = v
                pos[v] = i
    # write the row: settled nodes within the limit, else inf
    if n_cols > 0:
        for i in range(n):
            c = col_of[i]
            if c >= 0:
                row[c] = dist[i] if (done[i] and dist[i] <= limit) else np.inf
    else:
        for i in range(n):
            row[i] = dist[i] if dist[i] <= limit else np.inf


@nb.njit(nogil=True, parallel=True, cache=True)
def many(indptr: Any, indices: Any, weights: Any, sources: Any, col_of: Any, n_cols: int,
         limit: float, out: Any, n_chunks: int) -> None:  # pragma: no cover
    """One search per source (rows of ``out``), ``n_chunks`` parallel threads."""
    n = indptr.shape[0] - 1
    ns = sources.shape[0]
    for ch in nb.prange(n_chunks):
        dist = np.empty(n, dtype=np.float64)
        done = np.empty(n, dtype=np.bool_)
        hk = np.empty(n + 1, dtype=np.float64)
        hv = np.empty(n + 1, dtype=np.int64)
        pos = np.empty(n, dtype=np.int64)
        for s in range(ch, ns, n_chunks):
            _search(indptr, indices, weights, sources[s], col_of, n_cols, limit, dist, done, hk, hv, pos, out[s])


def threads() -> int:
    """Numba's thread count."""
    return int(nb.get_num_threads())
