"""The one search routine of the package: many-source Dijkstra on a CSR graph, two engines.

- ``"scipy"``: :func:`scipy.sparse.csgraph.dijkstra` (compiled C, nothing to compile at run
  time; holds the GIL, searches every node, Fibonacci heap).
- ``"numba"``: a compiled kernel (:mod:`iptown_gis.network._dijkstra_jit`) with an indexed
  binary heap (decrease-key, at most one entry per node) that runs the sources in parallel
  threads (``numba.prange``, GIL released) and, when target columns are given, stops each
  search as soon as all of them are settled. Its machine code is cached on disk (``cache=True``): the first process on a
  machine compiles it (several seconds), later processes load it (about half a second,
  Numba's import included).

``engine="auto"`` (:func:`choose_engine`) takes SciPy for small searches, where the compiled
kernel's start-up would cost more than it saves, and the kernel for large ones (rule measured by
``benchmarks/bench_od.py``). Both engines return the same float64 numbers, bit for bit: a
node's cost is the minimum over its settled predecessors of ``cost(pred) + edge``, which does
not depend on the order in which a correct Dijkstra settles nodes
(``tests/network/test_dijkstra_kernel.py`` checks this on float graphs). Results are identical
from run to run and across processes, whatever the number of threads or batches.

Numba is optional: :func:`available` tells whether the kernel can be used; without it every
search runs on SciPy.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from iptown_gis.errors import DependencyError, ParameterError

__all__ = ["ENGINES", "available", "choose_engine", "many_source_dijkstra", "shortest_paths"]

log = logging.getLogger(__name__)

#: Search engines accepted by :func:`shortest_paths`.
ENGINES = ("auto", "scipy", "numba")

#: ``engine="auto"`` runs the compiled kernel when ``sources x edges`` exceeds this. SciPy
#: relaxes about 4e7 edges a second (one core, every node searched), so this is about half a
#: second of SciPy; below it the kernel's one-off start-up in a new process (Numba's import and
#: loading the cached machine code, 0.5-1.5 s; several seconds when nothing is cached yet) costs
#: more than its threads and early stopping save. Measured: on the Anhui sample (120 seats, 2.2e6)
#: SciPy and the warm kernel take the same time; on the national overlay (2,849 seats, 4.8e8) the
#: kernel is 1.5x faster per thread and runs on every core (``benchmarks/bench_od.py``,
#: ``bench_national.py``).
AUTO_NUMBA_WORK = 25_000_000

_HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def available() -> bool:
    """True when Numba is installed (the compiled kernel can run)."""
    return _HAVE_NUMBA


def choose_engine(n_sources: int, graph: Any, engine: str = "auto") -> str:
    """The engine a search of ``n_sources`` sources on ``graph`` runs on (``"scipy"`` or ``"numba"``).

    ``engine="auto"``: the compiled kernel when Numba is installed and the search is large
    (``n_sources * edges > AUTO_NUMBA_WORK``), else SciPy. Decide once per request and pass the
    result to every batch, so that a request's batches run on one engine.
    """
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(map(repr, ENGINES))}; got {engine!r}")
    if engine == "numba":
        if not _HAVE_NUMBA:
            raise DependencyError("engine='numba' needs numba: pip install numba")
        return "numba"
    if engine == "scipy" or not _HAVE_NUMBA:
        return "scipy"
    return "numba" if int(n_sources) * int(graph.nnz) > AUTO_NUMBA_WORK else "scipy"


def many_source_dijkstra(
    graph: Any,
    sources: NDArray[np.int64],
    *,
    targets: NDArray[np.int64] | None = None,
    limit: float = np.inf,
    threads: int | None = None,
) -> NDArray[np.float64]:
    """Shortest-path costs from ``sources`` to all nodes (or to ``targets``) with the compiled kernel.

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
        Nodes farther than ``limit`` are ``inf``.
    threads
        Number of parallel searches (default: Numba's thread count).

    Returns
    -------
    numpy.ndarray
        ``len(sources) x n`` (or ``x len(targets)``); ``inf`` where unreachable or beyond
        ``limit`` (as SciPy).

    Raises
    ------
    DependencyError
        Numba is not installed.
    """
    if not _HAVE_NUMBA:
        raise DependencyError("the compiled Dijkstra needs numba: pip install numba")
    from iptown_gis.network import _dijkstra_jit as jit  # numba is imported only when a search needs it

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
    n_threads = threads or jit.threads()
    n_chunks = max(1, min(len(src), int(n_threads)))
    jit.many(indptr, indices, weights, src, col_of, n_cols, float(limit), out, n_chunks)
    if targets is None:
        return out
    return out[:, inv.ravel()]


def shortest_paths(
    graph: Any,
    sources: NDArray[np.int64],
    *,
    limit: float = np.inf,
    cols: NDArray[np.int64] | None = None,
    engine: str = "auto",
) -> NDArray[np.float64]:
    """Costs from ``sources`` on a CSR ``graph``; every search of the package goes through here.

    Parameters
    ----------
    graph
        A ``scipy.sparse.csr_matrix`` of non-negative edge costs.
    sources
        Node positions to search from.
    limit
        Nodes farther than ``limit`` are ``inf``.
    cols
        Target columns to report (the compiled kernel then stops each search once they are
        all settled); ``None`` for every node.
    engine
        ``"auto"``, ``"scipy"`` or ``"numba"`` (see :func:`choose_engine`).

    Returns
    -------
    numpy.ndarray
        ``len(sources) x n`` (or ``x len(cols)``) float64; ``inf`` where unreachable or beyond
        ``limit``. The same numbers whichever engine runs and however the sources are split.
    """
    src = np.asarray(sources, dtype=np.int64)
    if len(src) and choose_engine(len(src), graph, engine) == "numba":
        return many_source_dijkstra(graph, src, targets=cols, limit=limit)
    d = dijkstra(graph, directed=True, indices=src, limit=limit)
    return d if cols is None else np.ascontiguousarray(d[:, cols])
