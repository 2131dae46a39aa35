"""Shortest-path costs between node sets: the exact core graph, the search plan, node costs.

One implementation for every caller (:func:`~iptown_gis.network.od_matrix`, isochrones,
market potential, the study-area builder), in-process or on an executor:

- :func:`node_costs` checks the request and chooses the graph (:func:`plan_search`): the whole
  network, or its exact *core* graph when only some target nodes are wanted (the usual
  many-to-many case):

  1. dangling trees are pruned: a node that is not a terminal (source or target) and has at
     most one neighbour cannot lie on a shortest path between two terminals, repeatedly;
  2. chains of degree-2 non-terminal nodes are contracted into one edge per direction whose
     cost is the sum of the chain's directed edge costs (``inf`` where a one-way breaks it).

  Every shortest path between terminals survives in the core with the same cost, so the result
  equals plain Dijkstra (up to the order of float additions; exact for integer costs).
- ``method="overlay"`` adds the many-to-many overlay graph for large terminal sets (a national
  seat-by-seat matrix; :mod:`iptown_gis.network._overlay`): exact shortest paths, equal to
  plain Dijkstra to the order of floating-point sums (1e-15 relative).
- The sources then run in batches through :func:`iptown_gis.network._dijkstra.shortest_paths`
  (SciPy for small searches, the cached compiled kernel for large ones, decided once per
  request), in this process (``executor=None``) or as tasks on an executor
  (:func:`iptown_gis.parallel.dask_executor`): the search graph is sent once to every worker
  and each task searches one batch of sources. A source's search does not depend on its batch,
  so the matrix is bit-for-bit the same on 1 or N workers.

``tests/network/test_od.py`` checks the core graph against plain SciPy and NetworkX,
``tests/parallel/test_parallel_od.py`` in-process against Dask.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from iptown_gis.errors import ParameterError
from iptown_gis.network._dijkstra import choose_engine, shortest_paths
from iptown_gis.network._overlay import Overlay, assemble_overlay, cell_arcs, plan_cells
from iptown_gis.network.model import Network, _min_csr
from iptown_gis.parallel.budget import MemoryBudget
from iptown_gis.progress import Progress, ProgressCallback, as_progress

if TYPE_CHECKING:
    from iptown_gis.parallel.executor import DaskExecutor

__all__ = [
    "METHODS",
    "CoreGraph",
    "SearchPlan",
    "batch_sizes",
    "core_graph",
    "dijkstra_block",
    "many_to_many",
    "node_costs",
    "overlay_graph",
    "plan_search",
]

log = logging.getLogger(__name__)

#: Search methods of :func:`node_costs`.
METHODS = ("auto", "plain", "core", "overlay")

#: Memory for one block of the source x node distance array in-process (bytes).
_BLOCK_BYTES = 256 * 1024 * 1024


@dataclass
class CoreGraph:
    """An exact reduced graph for shortest paths between terminals."""

    nodes: NDArray[np.int64]  # original node index of each core node
    index: NDArray[np.int64]  # core index of each original node (-1 if removed)
    matrix: Any  # scipy csr_matrix
    pruned: int = 0
    contracted: int = 0


def _prune_trees(uptr: NDArray[np.int64], uidx: NDArray[np.int64], terminal: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Alive mask after repeatedly removing non-terminal nodes with <= 1 alive neighbour."""
    n = len(uptr) - 1
    deg = np.diff(uptr).astype(np.int64)
    alive = np.ones(n, dtype=bool)
    leaves = np.flatnonzero((deg <= 1) & ~terminal)
    while len(leaves):
        alive[leaves] = False
        starts, ends = uptr[leaves], uptr[leaves + 1]
        cnt = ends - starts
        if cnt.sum() == 0:
            break
        pos = np.repeat(starts - np.cumsum(np.r_[0, cnt[:-1]]), cnt) + np.arange(int(cnt.sum()))
        nb = uidx[pos]
        nb = nb[alive[nb]]
        np.subtract.at(deg, nb, 1)
        cand = np.unique(nb)
        leaves = cand[(deg[cand] <= 1) & ~terminal[cand] & alive[cand]]
    return alive


def core_graph(net: Network, w: NDArray[np.float64], terminals: NDArray[np.int64]) -> CoreGraph:
    """Build the exact core graph keeping ``terminals`` (see the module docstring).

    Parameters
    ----------
    net
        The network.
    w
        Cost per directed edge (the weight searched).
    terminals
        Nodes the core must keep (sources and targets of the search).
    """
    n = net.n_nodes
    terminal = np.zeros(n, dtype=bool)
    terminal[terminals] = True
    uptr, uidx = net.undirected_neighbours()
    alive = _prune_trees(uptr, uidx, terminal)
    # degree in the alive subgraph
    src = np.repeat(np.arange(n), np.diff(uptr))
    ok = alive[src] & alive[uidx]
    adeg = np.bincount(src[ok], minlength=n)
    contract = alive & ~terminal & (adeg == 2)
    base = _min_csr(net.tails, net.indices, w, n)
    keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(base.indptr)) * n + base.indices
    kw = base.data

    def wlookup(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.float64]:
        k = a * n + b
        pos = np.searchsorted(keys, k)
        pos = np.minimum(pos, len(keys) - 1)
        hit = keys[pos] == k if len(keys) else np.zeros(len(k), dtype=bool)
        return np.where(hit, kw[pos] if len(keys) else 0.0, np.inf)

    ca: list[int] = []
    cb: list[int] = []
    steps_a: list[int] = []
    steps_b: list[int] = []
    chain_of: list[int] = []
    n_contracted = int(contract.sum())
    if n_contracted:
        up = uptr.tolist()
        ui = uidx.tolist()
        con = contract.tolist()
        alv = alive.tolist()
        visited = np.zeros(n, dtype=bool).tolist()
        # chain starts: alive non-contractible nodes next to a contractible node
        starts = np.flatnonzero(alive & ~contract)
        has_c = np.zeros(n, dtype=bool)
        has_c[src[ok & contract[uidx]]] = True
        chain = 0
        for a in starts[has_c[starts]].tolist():
            for j in range(up[a], up[a + 1]):
                c = ui[j]
                if not con[c] or visited[c]:
                    continue
                prev, cur = a, c
                path = [a]
                while con[cur]:
                    visited[cur] = True
                    path.append(cur)
                    nxt = -1
                    for k in range(up[cur], up[cur + 1]):
                        v = ui[k]
                        if v != prev and alv[v]:
                            nxt = v
                            break
                    prev, cur = cur, nxt
                path.append(cur)
                ca.append(a)
                cb.append(cur)
                steps_a.extend(path[:-1])
                steps_b.extend(path[1:])
                chain_of.extend([chain] * (len(path) - 1))
                chain += 1
    base_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(base.indptr))
    keep_node = alive & ~contract
    direct = keep_node[base_rows] & keep_node[base.indices]
    t_list = [base_rows[direct]]
    h_list = [base.indices[direct].astype(np.int64)]
    w_list = [base.data[direct]]
    if ca:
        sa = np.asarray(steps_a, dtype=np.int64)
        sb = np.asarray(steps_b, dtype=np.int64)
        ch = np.asarray(chain_of, dtype=np.int64)
        fw = wlookup(sa, sb)
        bw = wlookup(sb, sa)
        nch = len(ca)
        fwd = np.bincount(ch, weights=np.where(np.isinf(fw), 0.0, fw), minlength=nch)
        bwd = np.bincount(ch, weights=np.where(np.isinf(bw), 0.0, bw), minlength=nch)
        fwd[np.bincount(ch, weights=np.isinf(fw), minlength=nch) > 0] = np.inf
        bwd[np.bincount(ch, weights=np.isinf(bw), minlength=nch) > 0] = np.inf
        a_arr = np.asarray(ca, dtype=np.int64)
        b_arr = np.asarray(cb, dtype=np.int64)
        loop = a_arr == b_arr
        t_list += [a_arr[~loop], b_arr[~loop]]
        h_list += [b_arr[~loop], a_arr[~loop]]
        w_list += [fwd[~loop], bwd[~loop]]
    nodes = np.flatnonzero(keep_node).astype(np.int64)
    index = np.full(n, -1, dtype=np.int64)
    index[nodes] = np.arange(len(nodes))
    t = index[np.concatenate(t_list)]
    h = index[np.concatenate(h_list)]
    mat = _min_csr(t, h, np.concatenate(w_list), len(nodes))
    core = CoreGraph(nodes=nodes, index=index, matrix=mat, pruned=int((~alive).sum()), contracted=n_contracted)
    log.debug("core graph: %d of %d nodes (%d pruned, %d contracted)", len(nodes), n, core.pruned, n_contracted)
    return core


# --------------------------------------------------------------------------- node costs
@dataclass
class SearchPlan:
    """What a many-source search runs on: the graph (whole or exact core), the unique source
    rows, the target columns and the cost limit (see :func:`plan_search`)."""

    graph: Any
    sources: NDArray[np.int64]  # unique search sources, as rows of ``graph``
    inverse: NDArray[np.int64]  # position in ``sources`` of each requested source
    cols: NDArray[np.int64] | None  # target columns of ``graph`` (None: every node)
    limit: float
    n_out: int  # result width for an empty request
    core: CoreGraph | None = None
    empty: bool = False

    @property
    def out_width(self) -> int:
        return int(self.graph.shape[0]) if self.cols is None else len(self.cols)

    def empty_result(self) -> NDArray[np.float64]:
        return np.empty((0, self.n_out))

    def finish(self, res: NDArray[np.float64]) -> NDArray[np.float64]:
        """Unreachable (``inf``) to NaN, rows back in the requested source order."""
        res[np.isinf(res)] = np.nan
        return res[self.inverse.ravel()]


def plan_search(
    net: Network,
    source_nodes: Any,
    *,
    weight: str | NDArray[np.float64] = "length",
    cutoff: float | None = None,
    targets: Any = None,
    method: str = "auto",
    methods: tuple[str, ...] = METHODS,
    core_methods: tuple[str, ...] = ("auto", "core", "overlay"),
) -> SearchPlan:
    """Check a search request and choose its graph (see :func:`node_costs`).

    ``methods`` lists the accepted methods; ``core_methods`` those that search the exact core
    graph when targets are given (``"auto"`` skips a core that keeps over 90 % of the nodes).
    The core graph is cached on the network per weight and terminal set.

    Parameters
    ----------
    net
        The network.
    source_nodes, targets
        Node indices searched from and (optionally) to.
    weight, cutoff, method
        As in :func:`node_costs`.
    methods, core_methods
        See above.
    """
    src = np.asarray(source_nodes, dtype=np.int64).ravel()
    n = net.n_nodes
    if len(src) and (src.min() < 0 or src.max() >= n):
        raise ParameterError(f"source node positions must lie in 0..{n - 1}")
    if cutoff is not None and not cutoff >= 0:
        raise ParameterError(f"cutoff must be a cost >= 0, got {cutoff}")
    tgt = None if targets is None else np.asarray(targets, dtype=np.int64).ravel()
    if tgt is not None and len(tgt) and (tgt.min() < 0 or tgt.max() >= n):
        raise ParameterError(f"target node positions must lie in 0..{n - 1}")
    if method not in methods:
        raise ParameterError(f"method must be one of {', '.join(map(repr, methods))}; got {method!r}")
    limit = np.inf if cutoff is None else float(cutoff)
    n_out = n if tgt is None else len(tgt)
    if len(src) == 0:
        return SearchPlan(graph=None, sources=src, inverse=src, cols=tgt, limit=limit, n_out=n_out, empty=True)
    w = net.weight_array(weight)
    core = None
    if tgt is not None and method in core_methods:
        terms = np.unique(np.r_[src, tgt])
        key = ("core", weight, hash(terms.tobytes())) if isinstance(weight, str) else None
        core = net._cache.get(key) if key is not None else None
        if core is None:
            core = core_graph(net, w, terms)
            if key is not None:
                net._cache[key] = core
        # a core that keeps most nodes does not repay its set-up (unless asked for)
        if method == "auto" and core.matrix.shape[0] > 0.9 * n:
            core = None
    if core is not None and tgt is not None:
        graph = core.matrix
        s_idx = core.index[src]
        cols: NDArray[np.int64] | None = core.index[tgt]
    else:
        graph = net.csgraph(weight) if isinstance(weight, str) else _min_csr(net.tails, net.indices, w, n)
        s_idx = src
        cols = tgt
    uniq, inv = np.unique(s_idx, return_inverse=True)
    return SearchPlan(graph=graph, sources=uniq, inverse=inv, cols=cols, limit=limit, n_out=n_out, core=core)


def dijkstra_block(sources: NDArray[np.int64], graph: Any, limit: float,
                   cols: NDArray[np.int64] | None, engine: str = "auto") -> NDArray[np.float64]:
    """Distances from one batch of ``sources`` on ``graph``: the task every path runs.

    Parameters
    ----------
    sources
        Rows of ``graph`` to search from.
    graph
        CSR search graph.
    limit
        Cost limit (farther nodes are ``inf``).
    cols
        Target columns, ``None`` for every node.
    engine
        Search engine (decided once per request by :func:`node_costs`).

    Returns
    -------
    numpy.ndarray
        ``len(sources) x width`` costs, ``inf`` where unreachable.
    """
    return shortest_paths(graph, sources, limit=limit, cols=cols, engine=engine)


def batch_sizes(n_sources: int, width: int, *, budget: MemoryBudget | None = None,
                batch_size: int | None = None, slots: int = 1) -> int:
    """Sources per batch: the override, else what the budget allows, split over ``slots``.

    At least four batches per task slot are made (for balance and progress) when there are
    enough sources.

    Parameters
    ----------
    n_sources
        Number of sources to search from.
    width
        Result columns per source.
    budget
        Memory budget of one worker (default :class:`~iptown_gis.parallel.MemoryBudget`).
    batch_size
        Explicit sources per batch (wins over the budget).
    slots
        Parallel task slots (executor threads).

    Returns
    -------
    int
        Sources per batch (at least 1).

    Raises
    ------
    ParameterError
        ``batch_size`` below 1.
    """
    if batch_size is not None:
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        return int(batch_size)
    b = (budget or MemoryBudget()).od_batch_size(max(width, 1), copies=2)
    balanced = math.ceil(n_sources / max(4 * slots, 1))
    return max(1, min(b, balanced if slots > 1 else b))


def _run_batches(graph: Any, sources: NDArray[np.int64], limit: float, cols: NDArray[np.int64] | None,
                 *, executor: DaskExecutor | None, batch_size: int | None, engine: str,
                 prog: Progress, what: str) -> NDArray[np.float64]:
    """All sources' rows, searched in batches here or as executor tasks (same numbers)."""
    n = len(sources)
    width = int(graph.shape[0])
    out = np.empty((n, width if cols is None else len(cols)))
    if n == 0:
        return out
    eng = choose_engine(n, graph, engine)
    if executor is None:
        b = int(batch_size) if batch_size is not None else max(1, min(n, _BLOCK_BYTES // max(1, 8 * width)))
        if b < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        for i in range(0, n, b):
            prog.update(i / n, f"{what} {i}/{n} sources")
            out[i:i + b] = dijkstra_block(sources[i:i + b], graph, limit, cols, eng)
        prog.update(1.0, f"{what} done")
        return out
    override = batch_size if batch_size is not None else executor.od_batch
    b = batch_sizes(n, width, budget=executor.budget, batch_size=override, slots=executor.n_threads)
    starts = list(range(0, n, b))
    g = executor.scatter(graph)
    c = executor.scatter(cols) if cols is not None else None

    def put(k: int, block: NDArray[np.float64]) -> None:
        i = starts[k]
        out[i:i + len(block)] = block

    executor.map_tasks(dijkstra_block, [sources[i:i + b] for i in starts], g, limit, c, eng,
                       progress=prog, message=what, on_result=put)
    return out


def _cell_task(item: tuple[Any, NDArray[np.int64]]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    return cell_arcs(*item)


def overlay_graph(graph: Any, terminals: NDArray[np.int64], *, n_cells: int | None = None, seed: int = 0,
                  executor: DaskExecutor | None = None,
                  progress: ProgressCallback | Progress | None = None) -> Overlay:
    """The overlay graph of ``graph`` for ``terminals``; cells run as tasks on ``executor``.

    Parameters
    ----------
    graph
        CSR search graph.
    terminals
        Node positions whose pairwise costs the overlay keeps exact.
    n_cells
        Number of cells (default about one per 900 nodes).
    seed
        Seed of the cell partition.
    executor
        Executor for the cells' searches; ``None`` runs them here.
    progress
        Progress / cancellation callback.

    Returns
    -------
    Overlay
        The overlay graph and the positions of the terminals in it.
    """
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
    engine: str = "auto",
    progress: ProgressCallback | Progress | None = None,
) -> NDArray[np.float64]:
    """Shortest-path costs from ``source_nodes`` to every node (or to ``targets``).

    Parameters
    ----------
    net
        The network.
    source_nodes
        Node positions (0..n_nodes-1) to start from.
    weight
        ``"length"`` (m), ``"time"`` (min), a name in ``net.edge_attrs`` or a per-edge array.
    cutoff
        Stop searching beyond this cost; farther nodes are NaN.
    targets
        Node positions to report (columns); ``None`` for all nodes.
    method
        ``"core"`` (exact reduced graph, only with ``targets``), ``"plain"`` (Dijkstra on the
        whole graph), ``"auto"`` (core when targets are given and it is worth it) or
        ``"overlay"`` (many-to-many; needs ``targets``; best for hundreds of sources and
        targets on a large graph).
    executor
        An executor (:func:`iptown_gis.parallel.dask_executor`) to run the batches of sources
        on; ``None`` (default) runs them in this process. The costs are identical either way.
    batch_size
        Sources per batch (default: 256 MB of results in-process, the executor's memory
        budget otherwise).
    n_cells
        Overlay cells (``method="overlay"``; default about one per 900 core nodes).
    engine
        ``"auto"`` (SciPy for small searches, the compiled kernel for large ones), ``"scipy"``
        or ``"numba"``; the same numbers whichever runs.
    progress
        Progress / cancellation callback (checked between batches).

    Returns
    -------
    numpy.ndarray
        ``len(source_nodes) x n_nodes`` (or ``x len(targets)``) float64; NaN = unreachable or
        beyond ``cutoff``.

    Raises
    ------
    ParameterError
        Node positions out of range, a negative cutoff, an unknown method or engine,
        ``method="overlay"`` without targets, or ``batch_size`` below 1.
    DependencyError
        ``engine="numba"`` without Numba installed.
    """
    prog = as_progress(progress)
    if method == "overlay" and targets is None:
        raise ParameterError("method='overlay' computes costs between node sets: give targets")
    if engine not in ("auto", "scipy", "numba"):
        choose_engine(0, None, engine)  # raises with the list of engines
    if targets is not None and method in ("auto", "core", "overlay"):
        prog.update(0.0, "core graph")
    plan = plan_search(net, source_nodes, weight=weight, cutoff=cutoff, targets=targets, method=method)
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
    res = _run_batches(graph, s_idx, limit, cols, executor=executor, batch_size=batch_size, engine=engine,
                       prog=prog, what="shortest paths")
    if method == "overlay" and cutoff is not None:
        res[res > limit] = np.inf
    return plan.finish(res)


def _check_nodes(nodes: Any, n: int, what: str) -> NDArray[np.int64]:
    arr = np.asarray(nodes, dtype=np.int64).ravel()
    if len(arr) and (arr.min() < 0 or arr.max() >= n):
        raise ParameterError(f"{what} node positions must lie in 0..{n - 1}")
    return arr


def many_to_many(
    graph: Any,
    sources: Any,
    targets: Any = None,
    *,
    method: str = "overlay",
    executor: DaskExecutor | None = None,
    batch_size: int | None = None,
    n_cells: int | None = None,
    engine: str = "auto",
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
    executor, batch_size, n_cells, engine, progress
        As in :func:`node_costs`.

    Returns
    -------
    numpy.ndarray
        ``len(sources) x len(targets)``; ``inf`` = unreachable.

    Raises
    ------
    ParameterError
        A non-square graph, negative or NaN costs, node positions out of range, or an unknown
        method.
    """
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
    res = _run_batches(gr, s_idx, np.inf, cols, executor=executor, batch_size=batch_size, engine=engine,
                       prog=prog, what="shortest paths")
    return res[inv.ravel()]
