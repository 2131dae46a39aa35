"""OD / cost computations in batches of sources, in-process or on Dask.

:func:`node_costs` mirrors :func:`iptown_gis.network.node_costs` and adds ``executor``: with a
:class:`~iptown_gis.parallel.DaskExecutor` the search graph (the network's CSR matrix, or its
exact core graph when targets are given) is built once on the client, sent once to every
worker (``client.scatter(broadcast=True)``), and each task runs SciPy's Dijkstra for one batch
of sources. Each source's search does not depend on the batch it is in, so the assembled matrix
is bit-for-bit the in-process one.

``method="overlay"`` is the many-to-many method for large terminal sets (a national
seat-by-seat matrix): the core graph is partitioned into cells, each cell's key-node distances
become arcs of a small overlay graph (cells run as parallel tasks), and one Dijkstra per source
runs on the overlay (see :mod:`iptown_gis.parallel._overlay`). The results are exact shortest
paths; they agree with plain Dijkstra to the order of floating-point sums (1e-15 relative), and
in-process and Dask runs of the overlay method are identical.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from iptown_gis.errors import ParameterError
from iptown_gis.progress import Progress, ProgressCallback, as_progress

from ._overlay import Overlay, assemble_overlay, cell_arcs, plan_cells
from .budget import MemoryBudget

if TYPE_CHECKING:
    from iptown_gis.network import Network

    from .executor import DaskExecutor

__all__ = ["METHODS", "batch_sizes", "dijkstra_block", "many_to_many", "node_costs", "overlay_graph"]

log = logging.getLogger(__name__)

#: Search methods: those of :func:`iptown_gis.network.node_costs` plus ``"overlay"``.
METHODS = ("auto", "plain", "core", "overlay")


def dijkstra_block(sources: NDArray[np.int64], graph: Any, limit: float,
                   cols: NDArray[np.int64] | None) -> NDArray[np.float64]:
    """Distances from ``sources`` (one batch) on ``graph``; the task every path runs.

    It is the network package's own search routine, so batches on Dask workers give exactly
    the in-process numbers.
    """
    from iptown_gis.network._dijkstra import shortest_paths

    return shortest_paths(graph, sources, limit=limit, cols=cols)


def batch_sizes(n_sources: int, width: int, *, budget: MemoryBudget | None = None,
                batch_size: int | None = None, slots: int = 1) -> int:
    """Sources per batch: the override, else what the budget allows, split over ``slots``.

    At least four batches per task slot are made (for balance and progress) when there are
    enough sources.
    """
    if batch_size is not None:
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        return int(batch_size)
    b = (budget or MemoryBudget()).od_batch_size(max(width, 1), copies=2)
    balanced = math.ceil(n_sources / max(4 * slots, 1))
    return max(1, min(b, balanced if slots > 1 else b))


def _run_batches(graph: Any, sources: NDArray[np.int64], limit: float, cols: NDArray[np.int64] | None,
                 width: int, *, executor: DaskExecutor | None, batch_size: int | None,
                 prog: Progress, what: str) -> NDArray[np.float64]:
    n = len(sources)
    out_w = width if cols is None else len(cols)
    out = np.empty((n, out_w))
    if n == 0:
        return out
    budget = executor.budget if executor is not None else None
    override = batch_size if batch_size is not None else (executor.od_batch if executor is not None else None)
    slots = executor.n_threads if executor is not None else 1
    b = batch_sizes(n, width, budget=budget, batch_size=override, slots=slots)
    starts = list(range(0, n, b))
    if executor is None:
        for k, i in enumerate(starts):
            prog.update(k / len(starts), f"{what}: {i}/{n} sources")
            out[i:i + b] = dijkstra_block(sources[i:i + b], graph, limit, cols)
        prog.update(1.0, f"{what}: done")
        return out
    g = executor.scatter(graph)
    c = executor.scatter(cols) if cols is not None else None

    def put(k: int, block: NDArray[np.float64]) -> None:
        i = starts[k]
        out[i:i + len(block)] = block

    executor.map_tasks(dijkstra_block, [sources[i:i + b] for i in starts], g, limit, c,
                       progress=prog, message=what, on_result=put)
    return out


def _cell_task(item: tuple[Any, NDArray[np.int64]]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    return cell_arcs(*item)


def overlay_graph(graph: Any, terminals: NDArray[np.int64], *, n_cells: int | None = None, seed: int = 0,
                  executor: DaskExecutor | None = None,
                  progress: ProgressCallback | Progress | None = None) -> Overlay:
    """The overlay graph of ``graph`` for ``terminals``; cells run as tasks on ``executor``."""
    prog = as_progress(progress)
    key_nodes, cells, cut = plan_cells(graph, terminals, n_cells=n_cells, seed=seed)
    if executor is None:
        arcs = []
        for k, (_, sub, local) in enumerate(cells):
            if k % 16 == 0:
                prog.update(k / max(len(cells), 1), f"overlay cells {k}/{len(cells)}")
            arcs.append(cell_arcs(sub, local))
    else:
        arcs = executor.map_tasks(_cell_task, [(sub, local) for _, sub, local in cells],
                                  progress=prog, message="overlay cells")
    return assemble_overlay(key_nodes, cells, arcs, cut)


def _check_nodes(nodes: Any, n: int, what: str) -> NDArray[np.int64]:
    arr = np.asarray(nodes, dtype=np.int64).ravel()
    if len(arr) and (arr.min() < 0 or arr.max() >= n):
        raise ParameterError(f"{what} node positions must lie in 0..{n - 1}")
    return arr


def node_costs(
    net: Network,
    source_nodes: Any,
    *,
    weight: str | NDArray[np.float64] = "length",
    cutoff: float | None = None,
    targets: Any = None,
    method: str = "auto",
    executor: DaskExecutor | None = None,
    batch_size: int | None = None,
    n_cells: int | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> NDArray[np.float64]:
    """Shortest-path costs from ``source_nodes`` to every node (or to ``targets``), in batches.

    Same arguments and result as :func:`iptown_gis.network.node_costs`, plus:

    Parameters
    ----------
    method
        ``"plain"``, ``"core"``, ``"auto"`` (core when targets are given) as in the network
        package, or ``"overlay"`` (many-to-many; needs ``targets``; best for hundreds of
        sources and targets on a large graph).
    executor
        A :class:`~iptown_gis.parallel.DaskExecutor`; ``None`` runs in-process.
    batch_size
        Sources per task (default: from the executor's memory budget).
    n_cells
        Overlay cells (``method="overlay"``; default about one per 900 core nodes).

    Returns
    -------
    numpy.ndarray
        ``len(source_nodes) x n_nodes`` (or ``x len(targets)``); NaN = unreachable or beyond
        ``cutoff``. Identical with and without an executor.

    Raises
    ------
    ParameterError
        Node positions out of range, a negative cutoff, an unknown method, or
        ``method="overlay"`` without targets.
    """
    from iptown_gis.network.od import plan_search

    prog = as_progress(progress)
    if method == "overlay" and targets is None:
        raise ParameterError("method='overlay' computes costs between node sets: give targets")
    if targets is not None and method in ("auto", "core", "overlay"):
        prog.update(0.0, "core graph")
    # the same checks and graph (whole, or the cached exact core) as network.node_costs
    plan = plan_search(net, source_nodes, weight=weight, cutoff=cutoff, targets=targets, method=method,
                       methods=METHODS, core_methods=("auto", "core", "overlay"))
    if plan.empty:
        return plan.empty_result()
    graph, s_idx, cols, limit = plan.graph, plan.sources, plan.cols, plan.limit
    if method == "overlay" and cols is not None:
        ov = overlay_graph(graph, np.unique(np.r_[s_idx, cols]), n_cells=n_cells, executor=executor,
                           progress=prog.sub(0.02, 0.2))
        graph = ov.csr
        s_idx = ov.positions(s_idx)
        cols = ov.positions(cols)
        prog = prog.sub(0.2, 1.0)
    res = _run_batches(graph, s_idx, limit, cols, graph.shape[0], executor=executor, batch_size=batch_size,
                       prog=prog, what="shortest paths")
    if method == "overlay" and cutoff is not None:
        res[res > limit] = np.inf
    return plan.finish(res)


def many_to_many(
    graph: Any,
    sources: Any,
    targets: Any = None,
    *,
    method: str = "overlay",
    executor: DaskExecutor | None = None,
    batch_size: int | None = None,
    n_cells: int | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> NDArray[np.float64]:
    """Exact shortest-path costs between node sets of a SciPy sparse graph (no Network needed).

    Parameters
    ----------
    graph
        Square sparse adjacency (``graph[i, j]`` = cost of arc i -> j), non-negative.
    sources, targets
        Node positions (targets default to the sources).
    method
        ``"overlay"`` (default) or ``"plain"`` (one full Dijkstra per source).
    executor, batch_size, n_cells, progress
        As in :func:`node_costs`.

    Returns
    -------
    numpy.ndarray
        ``len(sources) x len(targets)``; ``inf`` = unreachable.
    """
    from scipy import sparse

    prog = as_progress(progress)
    g = sparse.csr_matrix(graph)
    n = g.shape[0]
    if g.shape[0] != g.shape[1]:
        raise ParameterError(f"graph must be a square matrix, got shape {g.shape}")
    if g.nnz and (np.isnan(g.data).any() or (g.data < 0).any()):
        raise ParameterError("graph costs must be non-negative numbers")
    src = _check_nodes(sources, n, "source")
    tgt = src if targets is None else _check_nodes(targets, n, "target")
    if method not in ("overlay", "plain"):
        raise ParameterError(f"method must be 'overlay' or 'plain', got {method!r}")
    uniq, inv = np.unique(src, return_inverse=True)
    if method == "overlay":
        ov = overlay_graph(g, np.unique(np.r_[uniq, tgt]), n_cells=n_cells, executor=executor,
                           progress=prog.sub(0.0, 0.2))
        gr, s_idx, cols = ov.csr, ov.positions(uniq), ov.positions(tgt)
        prog = prog.sub(0.2, 1.0)
    else:
        gr, s_idx, cols = g, uniq, tgt
    res = _run_batches(gr, s_idx, np.inf, cols, gr.shape[0], executor=executor, batch_size=batch_size,
                       prog=prog, what="shortest paths")
    return res[inv.ravel()]
