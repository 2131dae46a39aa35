"""The internal network type: a directed graph in compressed sparse row (CSR) form.

Nodes are positions ``0 .. n_nodes - 1`` with metric coordinates ``x``, ``y`` (metres, in
``crs``) and user-facing ``node_ids``. Edges are stored grouped by tail node: the heads of
node ``i``'s out-edges are ``indices[indptr[i]:indptr[i + 1]]``, with per-edge arrays
``length_m`` (metres), ``time_min`` (minutes), an optional ``mode`` ("road", "rail",
"transfer") and any extra generalised-cost arrays in ``edge_attrs``. An undirected road is
two directed edges. Parallel edges are allowed; routing uses the cheapest one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from iptown_gis.errors import NetworkError, ParameterError

__all__ = ["WEIGHT_UNITS", "Network", "from_edge_arrays"]

log = logging.getLogger(__name__)

#: Unit of each built-in weight.
WEIGHT_UNITS: dict[str, str] = {"length": "m", "time": "min"}


@dataclass(eq=False)
class Network:
    """A directed transport network in CSR form (see the module docstring).

    Build one with :func:`~iptown_gis.network.build_network`,
    :func:`~iptown_gis.network.from_osmnx` or :func:`~iptown_gis.network.read_osm`.
    """

    crs: pyproj.CRS
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    node_ids: NDArray[Any]
    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    length_m: NDArray[np.float64]
    time_min: NDArray[np.float64]
    mode: NDArray[Any] | None = None
    edge_source: NDArray[np.int64] | None = None
    edge_geometry: NDArray[Any] | None = None
    edge_attrs: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    node_attrs: dict[str, NDArray[Any]] = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.x)
        m = len(self.indices)
        if len(self.y) != n or len(self.node_ids) != n or len(self.indptr) != n + 1:
            raise NetworkError("network arrays disagree on the number of nodes")
        for name in ("length_m", "time_min"):
            if len(getattr(self, name)) != m:
                raise NetworkError(f"network edge array {name!r} has the wrong length")
        if int(self.indptr[-1]) != m:
            raise NetworkError("network indptr does not match the number of edges")

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.x)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.indices)

    @property
    def tails(self) -> NDArray[np.int64]:
        """Tail node of every edge (the CSR row index expanded)."""
        if "tails" not in self._cache:
            self._cache["tails"] = np.repeat(
                np.arange(self.n_nodes, dtype=np.int64), np.diff(self.indptr)
            )
        out: NDArray[np.int64] = self._cache["tails"]
        return out

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` of the nodes in metres."""
        return (float(self.x.min()), float(self.y.min()), float(self.x.max()), float(self.y.max()))

    def __repr__(self) -> str:
        return (f"Network({self.n_nodes} nodes, {self.n_edges} directed edges, crs={self.crs.to_string()!r}"
                f"{', modes=' + ','.join(sorted(set(self.mode.tolist()))) if self.mode is not None else ''})")

    # ---------------------------------------------------------------- weights
    def weight_array(self, weight: str | NDArray[np.float64]) -> NDArray[np.float64]:
        """The per-edge cost array for ``weight``.

        Parameters
        ----------
        weight
            ``"length"`` (metres), ``"time"`` (minutes), the name of an array in
            ``edge_attrs`` (a generalised cost), or an array with one value per edge.

        Raises
        ------
        ParameterError
            Unknown weight name, wrong array length, or negative / NaN costs.
        """
        if isinstance(weight, str):
            if weight == "length":
                arr = self.length_m
            elif weight == "time":
                arr = self.time_min
            elif weight in self.edge_attrs:
                arr = self.edge_attrs[weight]
            else:
                have = ", ".join(["length", "time", *sorted(self.edge_attrs)])
                raise ParameterError(f"unknown weight {weight!r}: use one of {have}")
            return np.asarray(arr, dtype=np.float64)
        arr = np.asarray(weight, dtype=np.float64)
        if arr.shape != (self.n_edges,):
            raise ParameterError(
                f"a weight array needs one value per directed edge ({self.n_edges}), got shape {arr.shape}"
            )
        if np.isnan(arr).any() or (arr < 0).any():
            raise ParameterError("edge weights must be finite or +inf and not negative")
        return arr

    def csgraph(self, weight: str | NDArray[np.float64] = "length") -> csr_matrix:
        """The network as a SciPy sparse matrix for :mod:`scipy.sparse.csgraph`.

        Parallel edges are reduced to the cheapest; zero costs stay explicit edges; edges
        of infinite cost are dropped.
        """
        key = ("csgraph", weight) if isinstance(weight, str) else None
        if key is not None and key in self._cache:
            out: csr_matrix = self._cache[key]
            return out
        w = self.weight_array(weight)
        mat = _min_csr(self.tails, self.indices, w, self.n_nodes)
        if key is not None:
            self._cache[key] = mat
        return mat

    def undirected_neighbours(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """CSR ``(indptr, indices)`` of the simple undirected graph (no loops, no repeats)."""
        if "undirected" not in self._cache:
            n = self.n_nodes
            t, h = self.tails, self.indices
            keep = t != h
            a = np.concatenate([t[keep], h[keep]])
            b = np.concatenate([h[keep], t[keep]])
            key = np.unique(a * n + b)
            rows = key // n
            cols = key % n
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
            self._cache["undirected"] = (indptr, cols.astype(np.int64))
        out: tuple[NDArray[np.int64], NDArray[np.int64]] = self._cache["undirected"]
        return out

    def components(self) -> tuple[int, NDArray[np.int32]]:
        """Weakly connected components: ``(count, label per node)``, label 0 = largest."""
        if "components" not in self._cache:
            from scipy.sparse.csgraph import connected_components

            if self.n_nodes == 0:
                self._cache["components"] = (0, np.zeros(0, dtype=np.int32))
            else:
                k, lab = connected_components(self.csgraph("length"), directed=True, connection="weak")
                sizes = np.bincount(lab, minlength=k)
                order = np.argsort(-sizes, kind="stable")
                rank = np.empty(k, dtype=np.int32)
                rank[order] = np.arange(k, dtype=np.int32)
                self._cache["components"] = (int(k), rank[lab])
        out: tuple[int, NDArray[np.int32]] = self._cache["components"]
        return out

    def subnetwork(self, node_mask: NDArray[np.bool_]) -> Network:
        """The network induced by the nodes where ``node_mask`` is true."""
        node_mask = np.asarray(node_mask, dtype=bool)
        new_index = np.full(self.n_nodes, -1, dtype=np.int64)
        new_index[node_mask] = np.arange(int(node_mask.sum()))
        t, h = self.tails, self.indices
        keep = node_mask[t] & node_mask[h]
        return from_edge_arrays(
            crs=self.crs, x=self.x[node_mask], y=self.y[node_mask], node_ids=self.node_ids[node_mask],
            tails=new_index[t[keep]], heads=new_index[h[keep]], length_m=self.length_m[keep],
            time_min=self.time_min[keep],
            mode=None if self.mode is None else self.mode[keep],
            edge_source=None if self.edge_source is None else self.edge_source[keep],
            edge_geometry=None if self.edge_geometry is None else self.edge_geometry[keep],
            edge_attrs={k: v[keep] for k, v in self.edge_attrs.items()},
            node_attrs={k: v[node_mask] for k, v in self.node_attrs.items()},
        )

    def largest_component(self) -> Network:
        """The largest weakly connected component as a network of its own."""
        _, lab = self.components()
        return self.subnetwork(lab == 0)


def _min_csr(tails: NDArray[np.int64], heads: NDArray[np.int64], w: NDArray[np.float64], n: int) -> csr_matrix:
    """CSR matrix keeping the cheapest of parallel edges; explicit zeros kept; inf dropped."""
    fin = np.isfinite(w)
    t, h, w = tails[fin], heads[fin], w[fin]
    key = t.astype(np.int64) * n + h
    order = np.lexsort((w, key))
    key_s = key[order]
    first = np.ones(len(key_s), dtype=bool)
    first[1:] = key_s[1:] != key_s[:-1]
    sel = order[first]
    rows = t[sel]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    idx_dtype = np.int32 if n < 2**31 - 1 and len(sel) < 2**31 - 1 else np.int64
    mat = csr_matrix((w[sel].astype(np.float64), h[sel].astype(idx_dtype), indptr.astype(idx_dtype)),
                     shape=(n, n))
    mat.has_sorted_indices = True
    return mat


def from_edge_arrays(
    *,
    crs: Any,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    tails: NDArray[np.int64],
    heads: NDArray[np.int64],
    length_m: NDArray[np.float64],
    time_min: NDArray[np.float64],
    node_ids: NDArray[Any] | None = None,
    mode: NDArray[Any] | None = None,
    edge_source: NDArray[np.int64] | None = None,
    edge_geometry: NDArray[Any] | None = None,
    edge_attrs: dict[str, NDArray[np.float64]] | None = None,
    node_attrs: dict[str, NDArray[Any]] | None = None,
) -> Network:
    """Assemble a :class:`Network` from edge lists (sorted into CSR order here).

    Parameters
    ----------
    crs
        The network's metric CRS.
    x, y
        Node coordinates (metres).
    tails, heads
        Node index at the start and end of each directed edge.
    length_m, time_min
        Edge lengths (metres) and travel times (minutes).
    node_ids
        External node ids (default 0..n-1).
    mode
        Mode per edge (``"road"``, ``"rail"``, ``"transfer"``); ``None``: one mode.
    edge_source
        Row of the source line layer per edge.
    edge_geometry
        Line geometry per edge (for edge snapping and drawing).
    edge_attrs, node_attrs
        Further numeric edge arrays and node arrays (e.g. the node ``mode``).

    Raises
    ------
    NetworkError
        No nodes, or edges naming nodes that do not exist.
    ColumnError-like ParameterError
        NaN or negative lengths / times.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise NetworkError("the network has no nodes: give a road layer with line features")
    tails = np.asarray(tails, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    if len(tails) and (tails.min() < 0 or heads.min() < 0 or tails.max() >= n or heads.max() >= n):
        raise NetworkError("edges refer to nodes outside 0..n_nodes-1")
    length_m = np.asarray(length_m, dtype=np.float64)
    time_min = np.asarray(time_min, dtype=np.float64)
    for name, arr in (("length", length_m), ("travel time", time_min)):
        bad = np.isnan(arr) | (arr < 0)
        if bad.any():
            raise ParameterError(f"{int(bad.sum())} edge(s) have a NaN or negative {name}: fix the input")
    order = np.argsort(tails, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n), out=indptr[1:])

    def take(a: NDArray[Any] | None) -> NDArray[Any] | None:
        return None if a is None else np.asarray(a)[order]

    return Network(
        crs=pyproj.CRS.from_user_input(crs),
        x=x, y=y,
        node_ids=np.arange(n, dtype=np.int64) if node_ids is None else np.asarray(node_ids),
        indptr=indptr, indices=heads[order], length_m=length_m[order], time_min=time_min[order],
        mode=take(mode), edge_source=take(edge_source), edge_geometry=take(edge_geometry),
        edge_attrs={k: np.asarray(v, dtype=np.float64)[order] for k, v in (edge_attrs or {}).items()},
        node_attrs=dict(node_attrs or {}),
    )
