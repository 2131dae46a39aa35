"""Best connected cell sets through each cell (a bound for the exact zoning MIP).

For a zone of ``lo``..``hi`` cells with per-cell scores, :func:`best_through` returns, for every
cell ``i`` and every neighbour ``j`` of ``i``, the largest total score of a connected set of
``lo``..``hi`` cells that contains ``i`` but not ``j`` (and, in the last column, the largest
over all sets containing ``i``). The MIP uses it as the valid inequality "a wing scores at most
the best wing through its contact cell that avoids the body cell it touches", which removes
most of the LP gap left by fractional wings (see :mod:`iptown_gis.zoning.exact`).

Exact values come from an exhaustive enumeration of the connected sets (Redelmeier's
algorithm on the cell graph, each set generated once from its lowest-numbered cell) in
compiled code; it is used when the number of sets is small enough (:func:`estimate_sets`),
otherwise :func:`best_through` returns a weaker bound that is still valid: the sum of the
``hi`` best positive scores within ``hi - 1`` adjacency steps of ``i``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

__all__ = ["best_through", "estimate_sets"]

log = logging.getLogger(__name__)

_kernel: Any = None
#: sets enumerated at most (about 5 s of compiled code); beyond it the ball bound is used
MAX_SETS = 30_000_000


def _build_kernel() -> Any:  # pragma: no cover - compiled code is not traced by coverage
    import numba as nb

    @nb.njit(nogil=True, cache=True)
    def _enumerate(indptr: Any, nbr: Any, score: Any, lo: int, hi: int, best: Any) -> int:
        n = indptr.shape[0] - 1
        maxdeg = best.shape[1] - 1
        inset = np.zeros(n, np.bool_)
        seen = np.zeros(n, np.int64)
        cur = np.empty(hi + 1, np.int64)
        cand = np.empty((hi + 1, n), np.int64)
        ncand = np.zeros(hi + 1, np.int64)
        marked = np.empty((hi + 1, n), np.int64)
        nmarked = np.zeros(hi + 1, np.int64)
        pos = np.zeros(hi + 1, np.int64)
        count = 0
        for root in range(n):
            seen[root] += 1
            inset[root] = True
            cur[0] = root
            ssum = score[root]
            size = 1
            if lo <= 1:
                count += 1
                best[root, maxdeg] = max(best[root, maxdeg], ssum)
                for s in range(indptr[root + 1] - indptr[root]):
                    best[root, s] = max(best[root, s], ssum)
            nm = 0
            nc = 0
            for p in range(indptr[root], indptr[root + 1]):
                v = nbr[p]
                if v > root and seen[v] == 0:
                    seen[v] += 1
                    marked[1, nm] = v
                    nm += 1
                    cand[1, nc] = v
                    nc += 1
            nmarked[1] = nm
            ncand[1] = nc
            pos[1] = 0
            depth = 1
            while depth >= 1 and hi > 1:
                if pos[depth] >= ncand[depth]:
                    for t in range(nmarked[depth]):
                        seen[marked[depth, t]] -= 1
                    depth -= 1
                    if depth >= 1:
                        v = cur[depth]
                        inset[v] = False
                        ssum -= score[v]
                        size -= 1
                    continue
                v = cand[depth, pos[depth]]
                pos[depth] += 1
                cur[depth] = v
                inset[v] = True
                ssum += score[v]
                size += 1
                if size >= lo:
                    count += 1
                    for q in range(size):
                        i = cur[q]
                        if ssum > best[i, maxdeg]:
                            best[i, maxdeg] = ssum
                        for s in range(indptr[i + 1] - indptr[i]):
                            if not inset[nbr[indptr[i] + s]] and ssum > best[i, s]:
                                best[i, s] = ssum
                if size == hi:
                    inset[v] = False
                    ssum -= score[v]
                    size -= 1
                    continue
                d2 = depth + 1
                nc = 0
                for t in range(pos[depth], ncand[depth]):
                    cand[d2, nc] = cand[depth, t]
                    nc += 1
                nm = 0
                for p in range(indptr[v], indptr[v + 1]):
                    w = nbr[p]
                    if w > root and seen[w] == 0:
                        seen[w] += 1
                        marked[d2, nm] = w
                        nm += 1
                        cand[d2, nc] = w
                        nc += 1
                ncand[d2] = nc
                nmarked[d2] = nm
                pos[d2] = 0
                depth = d2
            seen[root] -= 1
            inset[root] = False
        return count

    return _enumerate


def estimate_sets(n: int, hi: int, mean_degree: float) -> float:
    """A rough count of the connected sets of up to ``hi`` cells in a graph of ``n`` cells.

    Fixed polyominoes grow like ``0.317 * 4.0626**k / k`` (Jensen); the growth rate is scaled
    by the mean degree relative to the square grid's 4, and edge effects are ignored (so the
    count is over-estimated: the choice errs towards the cheap bound).
    """
    lam = 4.0626 * max(mean_degree, 1.0) / 4.0
    return float(n * sum(0.317 * lam**k / k for k in range(1, hi + 1)))


def best_through(indptr: np.ndarray, nbr: np.ndarray, score: np.ndarray, lo: int, hi: int,
                 hops: np.ndarray, *, max_sets: int = MAX_SETS) -> tuple[np.ndarray, bool]:
    """Best score of a connected ``lo``..``hi``-cell set through each cell, avoiding each neighbour.

    Parameters
    ----------
    indptr, nbr
        The cell graph in CSR form (sorted neighbour lists).
    score
        Score of each cell.
    lo, hi
        Size range of the sets (cells).
    hops
        ``(n, n)`` adjacency-step distances (for the fallback bound).
    max_sets
        Enumerate exhaustively only below this estimated number of sets.

    Returns
    -------
    (best, exact)
        ``best[i, s]``: the bound for sets containing ``i`` and not its ``s``-th neighbour (in
        ``nbr[indptr[i]:indptr[i + 1]]``), ``best[i, -1]``: over all sets containing ``i``
        (``-inf`` where no set exists); ``exact`` tells whether the values come from the full
        enumeration (else from the ball bound).
    """
    global _kernel
    n = len(indptr) - 1
    deg = np.diff(indptr)
    maxdeg = int(deg.max()) if n else 0
    lo, hi = max(int(lo), 1), int(hi)
    est = estimate_sets(n, hi, float(deg.mean()) if n else 0.0)
    if est <= max_sets:
        try:
            if _kernel is None:
                _kernel = _build_kernel()
        except ImportError:  # pragma: no cover - numba is a core dependency
            _kernel = None
        if _kernel is not None:
            best = np.full((n, maxdeg + 1), -np.inf)
            count = _kernel(indptr.astype(np.int64), nbr.astype(np.int64), np.asarray(score, dtype="float64"),
                            lo, hi, best)
            log.debug("enumerated %d connected sets of %d..%d cells (estimate %.3g)", count, lo, hi, est)
            return best, True
    # fallback: the hi best positive scores within hi - 1 steps (no set can do better)
    pos = np.maximum(np.asarray(score, dtype="float64"), 0.0)
    best = np.empty((n, maxdeg + 1))
    for i in range(n):
        ball = np.sort(pos[hops[i] <= hi - 1])[::-1]
        best[i, :] = ball[:hi].sum()
    log.debug("connected-set bound from balls (%d..%d cells, estimated %.3g sets)", lo, hi, est)
    return best, False
