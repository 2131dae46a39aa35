"""An exact many-to-many distance method: a sparse overlay graph over key nodes.

For distances between many *terminals* (e.g. all county seats of China), one Dijkstra per
terminal on the whole graph wastes most of its work on nodes that are neither terminals nor
on any route between regions. The overlay method (the idea behind multi-level Dijkstra and
customizable route planning) partitions the graph into cells and keeps only *key nodes*: the
terminals and the *boundary* nodes (ends of edges between cells). Inside each cell, the
distances between its key nodes are computed on the cell's own sub-graph; they become arcs of
an overlay graph, together with the original edges between cells.

Every shortest path splits at its cut edges into pieces that stay inside one cell and run
between key nodes, so shortest-path distances between key nodes in the overlay equal those in
the graph. Overlay arcs that are matched by a two-arc detour through another key node of the
same cell, both arcs strictly shorter, are dropped (by induction on arc length the distance
stays the same), which leaves a sparse overlay a few per cent of the graph's size. One
Dijkstra per terminal on the overlay then gives the exact terminal-to-terminal matrix.

Distances are sums of the same edge lengths in a different order, so they agree with a
Dijkstra on the full graph to the last few bits (relative 1e-15), not always bit for bit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["Overlay", "assemble_overlay", "build_overlay", "cell_arcs", "plan_cells"]

log = logging.getLogger(__name__)


@dataclass
class Overlay:
    """The overlay graph: ``csr`` over ``key_nodes`` (indices into the graph it was built from)."""

    key_nodes: np.ndarray
    csr: sparse.csr_matrix
    n_cells: int

    def positions(self, nodes: np.ndarray) -> np.ndarray:
        """Overlay positions of graph nodes that are key nodes."""
        pos = np.searchsorted(self.key_nodes, nodes)
        pos = np.minimum(pos, len(self.key_nodes) - 1)
        if not np.array_equal(self.key_nodes[pos], nodes):
            raise ValueError("some nodes are not key nodes of the overlay")
        return pos


def _partition(csr: sparse.csr_matrix, n_cells: int, rng: np.random.Generator) -> np.ndarray:
    """Cell of every node: graph-Voronoi regions of ``n_cells`` seeds (-1 = unreached)."""
    n = csr.shape[0]
    n_comp, comp = csgraph.connected_components(csr, directed=False)
    sizes = np.bincount(comp, minlength=n_comp)
    seeds = []
    for c in np.flatnonzero(sizes > 0):
        k = max(1, round(n_cells * sizes[c] / n))
        members = np.flatnonzero(comp == c)
        seeds.append(rng.choice(members, size=min(k, len(members)), replace=False))
    seed_arr = np.sort(np.concatenate(seeds))
    _, _, src = csgraph.dijkstra(csr, directed=True, indices=seed_arr, min_only=True,
                                 return_predecessors=True)
    cell = np.full(n, -1, dtype=np.int64)
    ok = src >= 0
    cell[ok] = np.searchsorted(seed_arr, src[ok])
    return cell


def _prune(m: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Mask of arcs of the dense distance matrix ``m`` that no two-arc detour makes redundant."""
    k = m.shape[0]
    keep = np.isfinite(m)
    np.fill_diagonal(keep, False)
    for i in range(0, k, chunk):
        a = m[i:i + chunk, :, None]          # x -> z
        b = m[None, :, :]                    # z -> y
        c = m[i:i + chunk, None, :]          # x -> y
        red = ((a + b <= c) & (a < c) & (b < c)).any(axis=1)
        keep[i:i + chunk] &= ~red
    return keep


def plan_cells(csr: sparse.csr_matrix, terminals: np.ndarray, *, n_cells: int | None = None,
               seed: int = 0) -> tuple[np.ndarray, list[tuple[np.ndarray, sparse.csr_matrix, np.ndarray]],
                                       tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Partition the graph and list the per-cell work.

    Returns
    -------
    key_nodes, cells, cut
        Sorted key nodes; for each cell with two or more key nodes ``(key_nodes_of_cell,
        cell_subgraph, local_positions_of_its_key_nodes)``; the cut arcs ``(rows, cols, lengths)``.
    """
    n = csr.shape[0]
    term = np.unique(np.asarray(terminals, dtype=np.int64))
    if n_cells is None:
        n_cells = max(1, n // 900)
    sym = csr.maximum(csr.T).tocsr()
    cell = _partition(sym, n_cells, np.random.default_rng(seed))
    coo = csr.tocoo()
    cut = cell[coo.row] != cell[coo.col]
    key = np.zeros(n, dtype=bool)
    key[coo.row[cut]] = True
    key[coo.col[cut]] = True
    key[term] = True
    inside = ~cut
    within = sparse.coo_matrix((coo.data[inside], (coo.row[inside], coo.col[inside])), shape=(n, n)).tocsr()
    order = np.argsort(cell, kind="stable")  # node ids ascending inside each cell
    n_c = int(cell.max()) + 1
    bounds = np.searchsorted(cell[order], np.arange(0, n_c + 1))
    cells = []
    for c in range(n_c):
        members = order[bounds[c]:bounds[c + 1]]
        kmem = members[key[members]]
        if len(kmem) < 2:
            continue
        sub = within[members][:, members].tocsr()
        cells.append((kmem, sub, np.searchsorted(members, kmem)))
    return np.flatnonzero(key), cells, (coo.row[cut], coo.col[cut], coo.data[cut])


def cell_arcs(sub: sparse.csr_matrix, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlay arcs of one cell: ``(from, to, length)`` in local key positions (a pure function)."""
    d = csgraph.dijkstra(sub, directed=True, indices=local)[:, local]
    keep = _prune(d)
    r, q = np.nonzero(keep)
    return r, q, d[r, q]


def assemble_overlay(key_nodes: np.ndarray, cells: list[tuple[np.ndarray, sparse.csr_matrix, np.ndarray]],
                     arcs: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                     cut: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Overlay:
    """The overlay graph from the cut arcs and each cell's arcs (same order as ``cells``)."""
    rows, cols, vals = [cut[0]], [cut[1]], [cut[2]]
    for (kmem, _, _), (r, q, v) in zip(cells, arcs, strict=True):
        rows.append(kmem[r])
        cols.append(kmem[q])
        vals.append(v)
    r_all = np.concatenate(rows)
    q_all = np.concatenate(cols)
    v_all = np.concatenate(vals)
    pr = np.searchsorted(key_nodes, r_all)
    pq = np.searchsorted(key_nodes, q_all)
    nk = len(key_nodes)
    # parallel arcs (a cut edge and an overlay arc between the same pair) keep the minimum
    o = np.lexsort((v_all, pq, pr))
    pr, pq, v_all = pr[o], pq[o], v_all[o]
    first = np.ones(len(pr), dtype=bool)
    first[1:] = (pr[1:] != pr[:-1]) | (pq[1:] != pq[:-1])
    h = sparse.csr_matrix((v_all[first], (pr[first], pq[first])), shape=(nk, nk))
    h.sort_indices()
    log.debug("overlay: %d cells, %d key nodes, %d arcs", len(cells), nk, h.nnz)
    return Overlay(key_nodes=key_nodes, csr=h, n_cells=len(cells))


def build_overlay(csr: sparse.csr_matrix, terminals: np.ndarray, *, n_cells: int | None = None,
                  seed: int = 0) -> Overlay:
    """Build the overlay of a graph (CSR, directed or symmetric) for ``terminals``, in-process.

    Parameters
    ----------
    csr
        Adjacency with non-negative lengths.
    terminals
        Node indices that must be key nodes (sources and targets).
    n_cells
        Number of cells (default: about one per 900 nodes).
    seed
        Seed of the (deterministic) choice of cell centres.
    """
    key_nodes, cells, cut = plan_cells(csr, terminals, n_cells=n_cells, seed=seed)
    arcs = [cell_arcs(sub, local) for _, sub, local in cells]
    return assemble_overlay(key_nodes, cells, arcs, cut)
