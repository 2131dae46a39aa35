"""Origin-destination cost matrices and iceberg transport costs.

Shortest paths run in float64 on a compiled multi-source Dijkstra: a Numba kernel that
searches the sources in parallel threads and stops once all targets are settled
(:mod:`iptown_gis.network._dijkstra`), or SciPy's :func:`scipy.sparse.csgraph.dijkstra`
where Numba is not installed. Unreachable pairs are ``NaN`` (never a
magic number). When only some target nodes are wanted (the usual many-to-many case) the
search runs on an exact *core* graph:

1. dangling trees are pruned: a node that is not a terminal (source or target) and has at
   most one neighbour cannot lie on a shortest path between two terminals, repeatedly;
2. chains of degree-2 non-terminal nodes are contracted into one edge per direction whose
   cost is the sum of the chain's directed edge costs (``inf`` where a one-way breaks it).

Every shortest path between terminals survives in the core with the same cost, so the
result equals plain Dijkstra (up to the order of float additions; exact for integer costs);
``tests/network/test_od.py`` checks this against plain SciPy and NetworkX.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from iptown_gis.errors import ColumnError, ParameterError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.network._dijkstra import shortest_paths
from iptown_gis.network.model import WEIGHT_UNITS, Network, _min_csr
from iptown_gis.network.snap import (
    DEFAULT_ACCESS_SPEED_KMH,
    DEFAULT_MAX_SNAP_DISTANCE,
    SnapResult,
    snap_points,
)
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = ["ODMatrix", "SearchPlan", "core_graph", "iceberg", "node_costs", "od_matrix", "plan_search"]

log = logging.getLogger(__name__)

#: Memory budget for one block of the source x node distance array (bytes).
_BLOCK_BYTES = 256 * 1024 * 1024


# --------------------------------------------------------------------------- core graph
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
    """Build the exact core graph keeping ``terminals`` (see the module docstring)."""
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
    rows, the target columns and the cost limit. Shared by :func:`node_costs` and the Dask
    path (:func:`iptown_gis.parallel.node_costs`), so both search the same graph."""

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
    methods: tuple[str, ...] = ("auto", "core", "plain"),
    core_methods: tuple[str, ...] = ("auto", "core"),
) -> SearchPlan:
    """Check a search request and choose its graph (see :func:`node_costs`).

    ``methods`` lists the accepted methods; ``core_methods`` those that search the exact core
    graph when targets are given (``"auto"`` skips a core that keeps over 90 % of the nodes).
    The core graph is cached on the network per weight and terminal set.
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


def node_costs(
    net: Network,
    source_nodes: Any,
    *,
    weight: str | NDArray[np.float64] = "length",
    cutoff: float | None = None,
    targets: Any = None,
    method: str = "auto",
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
        whole graph) or ``"auto"`` (core when targets are given).
    progress
        Progress / cancellation callback (checked between blocks of sources).

    Returns
    -------
    numpy.ndarray
        ``len(source_nodes) x n_nodes`` (or ``x len(targets)``) float64; NaN = unreachable.
    """
    prog = as_progress(progress)
    plan = plan_search(net, source_nodes, weight=weight, cutoff=cutoff, targets=targets, method=method)
    if plan.empty:
        return plan.empty_result()
    width = plan.graph.shape[0]
    uniq = plan.sources
    res = np.empty((len(uniq), plan.out_width))
    block = max(1, min(len(uniq), _BLOCK_BYTES // max(1, 8 * width)))
    for i in range(0, len(uniq), block):
        prog.update(i / len(uniq), f"shortest paths {i}/{len(uniq)} sources")
        res[i:i + block] = shortest_paths(plan.graph, uniq[i:i + block], limit=plan.limit, cols=plan.cols)
    prog.update(1.0, "shortest paths done")
    return plan.finish(res)


# --------------------------------------------------------------------------- OD matrix
@dataclass
class ODMatrix:
    """An origin-destination cost matrix.

    Attributes
    ----------
    values
        ``(n_origins, n_destinations)`` float64 costs; NaN = unreachable (or beyond cutoff).
    origin_ids, destination_ids
        Row and column ids.
    weight
        ``"length"``, ``"time"`` or a generalised-cost name.
    unit
        ``"m"`` for length, ``"min"`` for time.
    meta
        Snap distances and other provenance.
    """

    values: NDArray[np.float64]
    origin_ids: NDArray[Any]
    destination_ids: NDArray[Any]
    weight: str = "length"
    unit: str = "m"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    @property
    def n_unreachable(self) -> int:
        """Number of NaN (unreachable) pairs."""
        return int(np.isnan(self.values).sum())

    def to_long(self, *, dropna: bool = False) -> pd.DataFrame:
        """Long table ``origin_id, destination_id, cost`` (NaN cost = unreachable)."""
        no, nd = self.values.shape
        df = pd.DataFrame({
            "origin_id": np.repeat(self.origin_ids, nd),
            "destination_id": np.tile(self.destination_ids, no),
            "cost": self.values.ravel(),
        })
        return df.dropna(subset=["cost"]).reset_index(drop=True) if dropna else df

    def to_frame(self) -> pd.DataFrame:
        """Wide table: origins as rows, destinations as columns."""
        return pd.DataFrame(self.values, index=pd.Index(self.origin_ids, name="origin_id"),
                            columns=pd.Index(self.destination_ids, name="destination_id"))

    def to_csv(self, path: str | os.PathLike[str], *, dropna: bool = False) -> Path:
        """Write the long table as CSV (unreachable pairs have an empty cost)."""
        target = Path(path)
        with atomic_path(target) as tmp:
            self.to_long(dropna=dropna).to_csv(tmp, index=False, float_format="%.6f")
        return target

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write the long table as Parquet."""
        target = Path(path)
        with atomic_path(target) as tmp:
            self.to_long().to_parquet(tmp, index=False)
        return target

    def to_npz(self, path: str | os.PathLike[str]) -> Path:
        """Write the matrix with ids, weight and unit as a compressed ``.npz``."""
        target = Path(path)
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, values=self.values, origin_ids=_plain(self.origin_ids),
                                destination_ids=_plain(self.destination_ids),
                                weight=np.array(self.weight), unit=np.array(self.unit))
        return target

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str]) -> ODMatrix:
        """Read a matrix written by :meth:`to_npz`."""
        with np.load(path, allow_pickle=False) as z:
            return cls(values=z["values"], origin_ids=z["origin_ids"], destination_ids=z["destination_ids"],
                       weight=str(z["weight"]), unit=str(z["unit"]))

    def iceberg(self, *, tau: float, form: str = "exp") -> NDArray[np.float64]:
        """Iceberg factors of this matrix (see :func:`iceberg`)."""
        return iceberg(self.values, tau=tau, form=form)


def _plain(ids: Any) -> NDArray[Any]:
    """Ids as a non-object array (strings when they are objects) for ``.npz``."""
    a = np.asarray(ids)
    return a.astype(str) if a.dtype == object else a


def iceberg(cost: Any, *, tau: float, form: str = "exp") -> NDArray[np.float64]:
    """Iceberg transport-cost factors ``T >= 1`` for the NEG models.

    ``form="exp"``: ``T = exp(tau * cost)``; ``form="power"``: ``T = (1 + tau) ** cost``.
    ``T = 1`` where the cost is 0 (the diagonal); unreachable pairs (NaN cost) give
    ``T = inf``, i.e. no trade (freeness ``T**(1 - sigma) = 0``). Any shape; ``tau = 0`` gives
    ``T = 1`` (``inf`` where unreachable). :func:`iptown_gis.neg.trade_cost_matrix` is the NEG
    models' strict front to this function (square matrix, zero diagonal, no NaN, ``tau > 0``).

    Raises
    ------
    ParameterError
        ``tau`` negative or not finite, negative costs, or an unknown ``form``.
    """
    if not (np.isfinite(tau) and tau >= 0):
        raise ParameterError(f"tau must be a finite number >= 0, got {tau}")
    c = np.asarray(cost, dtype=np.float64)
    if (c[~np.isnan(c)] < 0).any():
        raise ParameterError("costs must not be negative")
    c = np.where(np.isnan(c), np.inf, c)
    with np.errstate(over="ignore", invalid="ignore"):
        if form == "exp":
            t = np.exp(tau * c)
        elif form == "power":
            t = np.power(1.0 + tau, c)
        else:
            raise ParameterError(f"form must be 'exp' or 'power', got {form!r}")
    if tau == 0:
        t = np.where(np.isinf(c), np.inf, 1.0)
    return np.asarray(t, dtype=np.float64)


def _ids(points: gpd.GeoDataFrame, id_field: str | None, name: str) -> NDArray[Any]:
    if id_field is None:
        ids = points.index.to_numpy()
        label = "index"
    else:
        if id_field not in points.columns:
            have = ", ".join(str(c) for c in points.columns if c != points.geometry.name)
            raise ColumnError(f"{name}: no id column {id_field!r}; columns are: {have}")
        ids = points[id_field].to_numpy()
        label = f"column {id_field!r}"
        if pd.isna(points[id_field]).any():
            raise ColumnError(f"{name}: id {label} has {int(pd.isna(points[id_field]).sum())} empty value(s)")
    dup = pd.Series(ids).duplicated(keep=False)
    if dup.any():
        ex = sorted({str(v) for v in np.asarray(ids)[dup.to_numpy()]})[:5]
        raise ColumnError(
            f"{name}: id {label} has duplicates ({int(dup.sum())} rows, e.g. {', '.join(ex)}); "
            "ids must be unique: choose another --id-field"
        )
    return ids


def od_matrix(
    net: Network,
    origins: gpd.GeoDataFrame,
    destinations: gpd.GeoDataFrame | None = None,
    *,
    id_field: str | None = None,
    weight: str = "length",
    snap: str = "node",
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH,
    max_snap_distance: float = DEFAULT_MAX_SNAP_DISTANCE,
    drop_far: bool = False,
    cutoff: float | None = None,
    largest_component: bool = False,
    snap_to: str | None = None,
    method: str = "auto",
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
) -> ODMatrix:
    """Origin-destination cost matrix between points, including both access legs.

    The cost of a pair is: straight access leg origin -> network, shortest path on the
    network, straight access leg network -> destination. For ``weight="length"`` legs count
    their length (metres); otherwise their time at ``access_speed_kmh`` (minutes). A point
    paired with itself (same location) costs 0.

    Parameters
    ----------
    net
        The network.
    origins
        Origin points (any CRS; transformed to the network's).
    destinations
        Destination points (default: the origins).
    id_field
        Column with unique ids (default: the index); the same column names both layers.
    weight
        ``"length"`` (m), ``"time"`` (min) or a generalised-cost name in ``net.edge_attrs``.
    snap
        ``"node"`` or ``"edge"`` (see :func:`~iptown_gis.network.snap.snap_points`).
    access_speed_kmh
        Speed on the access legs.
    max_snap_distance
        Points farther from the network are reported (:class:`NetworkError`).
    drop_far
        Drop such points instead (warning).
    cutoff
        Largest cost to compute; costlier pairs are NaN.
    largest_component
        Snap only to the largest connected component (recommended for messy data).
    snap_to
        Snap only to nodes of this mode (e.g. ``"road"`` in a road + rail network).
    method
        Shortest-path method (see :func:`node_costs`), or ``"overlay"``: the exact many-to-many
        method of :func:`iptown_gis.parallel.node_costs` (costs equal to 1e-15 relative).
    executor
        An :mod:`iptown_gis.parallel` Dask executor: the shortest paths run there in batches of
        sources (:func:`iptown_gis.parallel.node_costs`; identical costs). ``None``: in-process.
    progress
        Progress / cancellation callback.

    Returns
    -------
    ODMatrix

    Raises
    ------
    ColumnError
        Missing or duplicated ids.
    NetworkError
        Points too far from the network.
    ParameterError
        Unknown weight, bad cutoff or speed.
    """
    prog = as_progress(progress)
    if isinstance(weight, str) and weight not in ("length", "time") and weight not in net.edge_attrs:
        net.weight_array(weight)  # raises with the list of valid names
    same = destinations is None
    dest = origins if destinations is None else destinations
    o_ids = _ids(origins, id_field, "origins")
    d_ids = o_ids if same else _ids(dest, id_field, "destinations")
    k, lab = net.components()
    mask = None
    if largest_component and k > 1:
        if snap == "edge":
            net = net.largest_component()
            k, lab = 1, np.zeros(net.n_nodes, dtype=np.int32)
        else:
            mask = lab == 0
    if snap_to is not None:
        if snap == "edge":
            raise ParameterError("snap_to works with snap='node' only")
        modes = net.node_attrs.get("mode")
        if modes is None or not (modes == snap_to).any():
            raise ParameterError(f"snap_to={snap_to!r}: the network has no nodes of that mode")
        mask = (modes == snap_to) if mask is None else (mask & (modes == snap_to))
    prog.update(0.0, "snapping points")
    kw: dict[str, Any] = {"snap": snap, "max_distance": max_snap_distance, "access_speed_kmh": access_speed_kmh,
                          "drop_far": drop_far}
    so = snap_points(net, origins, ids=o_ids, name="origins", node_mask=mask, **kw)
    sd = so if same else snap_points(net, dest, ids=d_ids, name="destinations", node_mask=mask, **kw)
    if k > 1:
        comp_o = lab[so.node]
        comp_d = lab[sd.node]
        off = np.r_[so.ids[comp_o != 0], sd.ids[comp_d != 0]] if not same else so.ids[comp_o != 0]
        if len(off):
            log.warning("network has %d components; %d point(s) snap outside the largest one (e.g. %s): their "
                        "pairs with the main component are NaN; use --largest-component (largest_component=True) "
                        "to snap them to it",
                        k, len(np.unique(off.astype(str))), ", ".join(map(str, off[:5])))
    w = net.weight_array(weight)
    no_, oo, _ = so.candidates(net, w)
    nd_, _, di = sd.candidates(net, w)
    src_nodes = np.unique(no_[np.isfinite(oo)])
    tgt_nodes = np.unique(nd_[np.isfinite(di)])
    node_cut = cutoff
    if executor is None and method != "overlay":
        d = node_costs(net, src_nodes, weight=weight, cutoff=node_cut, targets=tgt_nodes, method=method,
                       progress=prog.sub(0.05, 0.95))
    else:
        from iptown_gis.parallel.od import node_costs as dask_node_costs

        d = dask_node_costs(net, src_nodes, weight=weight, cutoff=node_cut, targets=tgt_nodes, method=method,
                            executor=executor, progress=prog.sub(0.05, 0.95))
    d = np.where(np.isnan(d), np.inf, d)
    si = np.searchsorted(src_nodes, no_)
    ti = np.searchsorted(tgt_nodes, nd_)
    si = np.minimum(si, len(src_nodes) - 1)
    ti = np.minimum(ti, len(tgt_nodes) - 1)
    best = np.full((len(so), len(sd)), np.inf)
    for a in range(2):
        fa = np.isfinite(oo[:, a])
        if not fa.any():
            continue
        for b in range(2):
            fb = np.isfinite(di[:, b])
            if not fb.any():
                continue
            part = d[np.ix_(si[:, a], ti[:, b])] + oo[:, a][:, None] + di[:, b][None, :]
            part[~fa] = np.inf
            part[:, ~fb] = np.inf
            np.minimum(best, part, out=best)
    if snap == "edge" and so.edge is not None and sd.edge is not None and so.fraction is not None \
            and sd.fraction is not None:
        best = _same_edge(net, w, so, sd, best)
    unit = WEIGHT_UNITS.get(weight, weight) if isinstance(weight, str) else "cost"
    access = so.access(weight)[:, None] + sd.access(weight)[None, :]
    vals = best + access
    if so.xy is not None and sd.xy is not None:
        ident = (so.xy[:, None, 0] == sd.xy[None, :, 0]) & (so.xy[:, None, 1] == sd.xy[None, :, 1])
        vals[ident] = 0.0
    if cutoff is not None:
        vals[vals > cutoff] = np.inf
    vals[np.isinf(vals)] = np.nan
    prog.update(1.0, "OD matrix done")
    od = ODMatrix(values=vals, origin_ids=so.ids, destination_ids=sd.ids, weight=str(weight), unit=unit,
                  meta={"snap": snap, "access_speed_kmh": access_speed_kmh,
                        "origin_snap_m": so.distance_m, "destination_snap_m": sd.distance_m,
                        "components": k})
    log.info("OD matrix %d x %d (%s, %s): %d unreachable pair(s)", *od.shape, weight, unit, od.n_unreachable)
    return od


def _same_edge(net: Network, w: NDArray[np.float64], so: SnapResult, sd: SnapResult,
               best: NDArray[np.float64]) -> NDArray[np.float64]:
    """Direct along-edge costs for origin / destination on the same physical edge."""
    if so.edge is None or sd.edge is None or so.fraction is None or sd.fraction is None \
            or so.twin is None:
        return best
    for i in range(len(so)):
        e, f = so.edge[i], so.fraction[i]
        tw = so.twin[i]
        for j in np.flatnonzero((sd.edge == e) | (sd.edge == tw) & (tw >= 0)):
            # express destination's position on edge e
            g = sd.fraction[j] if sd.edge[j] == e else 1.0 - sd.fraction[j]
            if g >= f:
                c = (g - f) * w[e]
            elif tw >= 0:
                c = (f - g) * w[tw]
            else:
                continue
            best[i, j] = min(best[i, j], c)
    return best
