"""Heuristic zoning for large instances: seeded growth, then simulated annealing.

1. **Construction** (vectorised seed choice): the first zone grows from the cell with the
   best neighbourhood-smoothed suitability (sparse adjacency powers); zones that must touch
   it grow from its frontier on the side their orientation asks for; ``cover`` models grow all
   zones at once from far-apart seeds. Growth is best-first on suitability.
2. **Simulated annealing** over contiguity-preserving moves: a cell on a zone boundary (found
   by vectorised sampling of adjacency edges whose two ends differ) changes zone; when that
   pushes a zone out of its size range a compensating boundary move follows. Removing a cell
   is allowed only when its zone stays connected (a bounded local search around the cell,
   then an exact search when needed). Sizes, touching and orientation are soft during the
   search (a penalty), contiguity and exclusions are hard. The best layout meeting every
   constraint is kept; a last greedy pass polishes it.

The annealing steps are compiled (:mod:`iptown_gis.zoning._anneal_jit`, Numba, cached on disk
after the first run): about 4x faster than the same moves in Python on the sample's towns, with
layouts at least as good (mean objective over 5 seeds higher on all six sample instances).
The search is deterministic for a given ``seed`` (NumPy ``default_rng``, which also seeds the
compiled steps' stream); only a time limit that stops the annealing early can make two runs
differ (reported as ``status="time_limit"``).

The bound is the LP relaxation without contiguity, touching and orientation (a
transportation problem, solved with HiGHS), plus an isoperimetric bound of the compactness
term and a contact bound of the affinity term.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from iptown_gis.errors import InfeasibleError
from iptown_gis.progress import Progress, as_progress
from iptown_gis.zoning.instance import ZoningInstance
from iptown_gis.zoning.result import SolveResult  # re-exported: its old home

__all__ = ["SolveResult", "lp_bound", "solve_heuristic"]

log = logging.getLogger(__name__)

_EXCL = -2
_CHUNK = 20_000  # compiled annealing steps between two checks of the clock and of cancellation


def _jit() -> Any:
    """The compiled moves (imported on first use: Numba loads only when a layout is searched)."""
    from iptown_gis.zoning import _anneal_jit

    return _anneal_jit


def _ring_runs_table() -> list[int]:
    """For each 8-bit mask of the ring N, NE, E, SE, S, SW, W, NW around a grid cell: the number
    of runs of set cells (cyclically; consecutive ring cells are rook-adjacent) that contain a
    rook neighbour (even position). At most one such run: removing the centre keeps its zone's
    rook neighbours connected through the ring (a "simple point")."""
    out = []
    for m in range(256):
        f = [(m >> t) & 1 for t in range(8)]
        if not any(f[t] for t in (0, 2, 4, 6)):
            out.append(0)
            continue
        if all(f):
            out.append(1)
            continue
        z = f.index(0)
        runs, cur, has_rook = 0, False, False
        for k in range(1, 9):
            t = (z + k) % 8
            if f[t]:
                cur = True
                has_rook = has_rook or t % 2 == 0
            else:
                if cur and has_rook:
                    runs += 1
                cur, has_rook = False, False
        out.append(runs)
    return out


_RING_RUNS = _ring_runs_table()


def _grid_rings(cells: Any, nbr: list[list[int]]) -> list[tuple[int, ...]] | None:
    """The 8-neighbourhood ring of every cell of a square grid (-1 where no cell), or ``None``
    when the cells are not a rook grid consistent with the adjacency."""
    if cells.kind != "grid" or cells.n == 0:
        return None
    if cells.grid_rc is not None:
        rc = np.asarray(cells.grid_rc, dtype="int64")
    else:
        side = cells.side
        xy = cells.centroids
        rc = np.column_stack([np.rint((xy[:, 1].max() - xy[:, 1]) / side),
                              np.rint((xy[:, 0] - xy[:, 0].min()) / side)]).astype("int64")
    rc = rc - rc.min(axis=0) + 1
    nr, nc = rc.max(axis=0) + 2
    grid = np.full((nr, nc), -1, dtype="int64")
    grid[rc[:, 0], rc[:, 1]] = np.arange(cells.n)
    if (grid >= 0).sum() != cells.n:
        return None
    offs = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
    ring = np.column_stack([grid[rc[:, 0] + dr, rc[:, 1] + dc] for dr, dc in offs])
    rook = ring[:, 0::2]
    # the adjacency must be exactly the rook neighbours present
    deg = (rook >= 0).sum(axis=1)
    if not np.array_equal(deg, np.fromiter((len(x) for x in nbr), dtype="int64", count=cells.n)):
        return None
    a = cells.adjacency()
    r_i = np.repeat(np.arange(cells.n), 4)
    r_j = rook.ravel()
    ok = r_j >= 0
    if not np.all(np.asarray(a[r_i[ok], r_j[ok]]).ravel() > 0):
        return None
    return [tuple(row) for row in ring.tolist()]


class _Search:
    """Mutable layout state with O(degree) moves.

    The state lives in flat arrays (:mod:`iptown_gis.zoning._anneal_jit`: ``G`` the instance,
    ``S`` the state) that the compiled moves change in place; the construction reads them
    through the same attributes (``lab``, ``size``, ``count``, ``area``, ``sqa``, ``contact``)."""

    def __init__(self, model: ZoningInstance) -> None:
        cs = model.cells
        self.m = model
        self.n = n = cs.n
        self.K = K = model.k
        side = cs.side
        self.side = side
        nbr, nbl = cs.neighbour_lists()
        self.nbr = nbr
        self.ring = _grid_rings(cs, nbr)
        s = model.suitability
        self.s = [[*row.tolist(), 0.0] for row in s]  # s[c][-1] == 0 for "unassigned"
        self.w = model.size_weight.tolist()
        self.lo = model.lower.tolist()
        self.hi = model.upper.tolist()
        self.unit = 1.0 if model.measure == "cells" else float(cs.areas.mean())
        self.touches = list(model.touches)
        self.order = list(model.order)
        self.margin = model.margin / side
        self.cover = model.cover
        A = model.affinity
        use_aff = model.affinity_weight > 0 and bool(np.any(A != 0))
        touch_of: dict[tuple[int, int], list[int]] = {}
        for t, (x, y) in enumerate(self.touches):
            touch_of.setdefault((x, y), []).append(t)
            touch_of.setdefault((y, x), []).append(t)
        max_t = max([len(v) for v in touch_of.values()] + [1])
        touch_rows = np.full((K, K, max_t), -1, dtype=np.int64)
        for (x, y), ts in touch_of.items():
            if x != y:
                touch_rows[x, y, :len(ts)] = ts
        deg = np.fromiter((len(r) for r in nbr), dtype=np.int64, count=n)
        nb_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(deg, out=nb_ptr[1:])
        nb_idx = np.fromiter((k for r in nbr for k in r), dtype=np.int64, count=int(nb_ptr[-1]))
        nb_len = np.fromiter((x / side for r in nbl for x in r), dtype=np.float64, count=int(nb_ptr[-1]))
        ring = np.asarray(self.ring, dtype=np.int64) if self.ring is not None else np.full((1, 8), -1, np.int64)
        s_full = np.zeros((n, K + 1))
        s_full[:, :K] = s
        a_full = np.zeros((K + 1, K + 1))
        a_full[:K, :K] = A
        order = np.asarray(self.order, dtype=np.int64).reshape(-1, 2)
        par = np.array([self.unit, float(model.affinity_weight), float(model.compactness_weight), side,
                        self.margin, float(use_aff), float(bool(self.cover)), float(self.ring is not None),
                        float(len(self.touches))])
        self.G = (nb_ptr, nb_idx, nb_len, ring, np.asarray(cs.perimeters / side, dtype=np.float64), s_full,
                  np.asarray(model.size_weight, dtype=np.float64), np.asarray(cs.areas, dtype=np.float64),
                  np.asarray(model.projection * cs.areas, dtype=np.float64), np.asarray(model.lower, dtype=np.float64),
                  np.asarray(model.upper, dtype=np.float64), a_full, touch_rows, order,
                  np.ascontiguousarray(cs.edges, dtype=np.int64), np.asarray(_RING_RUNS, dtype=np.int64), par)
        self.lab = np.where(cs.excluded, _EXCL, -1).astype(np.int64)
        self.members = np.zeros((K, n), dtype=np.int64)
        self.count = np.zeros(K, dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.size = np.zeros(K)
        self.area = np.zeros(K)
        self.sqa = np.zeros(K)
        self.contact = np.zeros(len(self.touches), dtype=np.int64)
        self._obj = np.zeros(1)
        self.S = (self.lab, self.members, self.count, self.pos, self.size, self.area, self.sqa, self.contact,
                  self._obj, np.zeros(n + 1, dtype=np.int64), np.zeros(max(n, 1), dtype=np.int64))

    @property
    def obj(self) -> float:
        """The objective of the current state."""
        return float(self._obj[0])

    @obj.setter
    def obj(self, value: float) -> None:
        self._obj[0] = value

    def zone_cells(self, d: int) -> np.ndarray:
        """The cells of zone ``d`` (in the state's member order)."""
        return self.members[d, :self.count[d]]

    # -------------------------------------------------------------- bookkeeping
    def assign(self, c: int, q: int) -> float:
        """Move cell ``c`` to zone ``q`` (-1 = unassigned); return the objective change."""
        return float(_jit().assign(int(c), int(q), self.G, self.S))

    def penalty(self) -> float:
        """Violation of the soft constraints (sizes in units, touching, orientation in sides)."""
        return float(_jit().penalty(self.G, self.S))

    def violations(self) -> list[str]:
        """Human-readable list of the soft constraints the current state breaks."""
        z = self.m.zones
        out = [f"size of {z[d]!r} ({self.size[d]:g} not in [{self.lo[d]:g}, {self.hi[d]:g}])"
               for d in range(self.K) if not (self.lo[d] - 1e-9 <= self.size[d] <= self.hi[d] + 1e-9)]
        for t, (x, y) in enumerate(self.touches):
            if self.contact[t] <= 0:
                out.append(f"touching ({z[x]!r} does not touch {z[y]!r})")
        for x, y in self.order:
            if self.area[x] > 0 and self.area[y] > 0:
                diff = self.sqa[x] / self.area[x] - self.sqa[y] / self.area[y]
                if diff < self.m.margin:
                    out.append(f"orientation ({z[x]!r} centroid {diff:.0f} m beyond {z[y]!r} along bearing "
                               f"{self.m.axis_bearing:g}, needs > 0)")
        return out

    def removable(self, c: int, p: int) -> bool:
        """True if zone ``p`` stays connected (and non-empty) without cell ``c``."""
        return bool(_jit().removable(int(c), int(p), self.G, self.S))

    def labels(self) -> np.ndarray:
        lab = np.asarray(self.lab, dtype="int64")
        lab[lab == _EXCL] = -1
        return lab


# ---------------------------------------------------------------- construction
def _smoothed(model: ZoningInstance, d: int, radius: int) -> np.ndarray:
    """Suitability of zone ``d`` averaged over ``radius`` adjacency steps (usable cells only)."""
    cs = model.cells
    use = (~cs.excluded).astype("float64")
    A = cs.adjacency() + sp.identity(cs.n, format="csr")
    v = model.suitability[:, d] * use
    c = use.copy()
    for _ in range(max(radius, 0)):
        v = A @ v
        c = A @ c
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(c > 0, v / np.maximum(c, 1e-12), -np.inf)
    return np.where(use > 0, out, -np.inf)


def _grow(st: _Search, d: int, seed: int, target: float, bias: np.ndarray | None) -> None:
    """Best-first growth of zone ``d`` from ``seed`` up to ``target`` (size units)."""
    lab, s = st.lab, st.s
    heap: list[tuple[float, int]] = []
    if lab[seed] != -1:
        return
    st.assign(seed, d)
    pushed = {seed}

    def push(c: int) -> None:
        for k in st.nbr[c]:
            if k not in pushed and lab[k] == -1:
                pushed.add(k)
                pr = s[k][d] + (0.0 if bias is None else float(bias[k]))
                heapq.heappush(heap, (-pr, k))

    push(seed)
    while heap and st.size[d] + 1e-9 < target:
        _, c = heapq.heappop(heap)
        if lab[c] != -1:
            continue
        if st.size[d] + st.w[c] > st.hi[d] + 1e-9:
            continue
        st.assign(c, d)
        push(c)


def _construct(st: _Search, rng: np.random.Generator, attempt: int) -> None:
    m = st.m
    K = st.K
    target = [(lo + hi) / 2.0 for lo, hi in zip(st.lo, st.hi)]
    proj = m.projection
    side = st.side
    spread = float(np.std(m.suitability[~m.cells.excluded])) + 1e-3
    if st.cover:
        _construct_cover(st, rng, target)
        return
    # growth order: zones touched by others first
    partners = dict(m.touches)
    order = sorted(range(K), key=lambda d: (d in partners, d))
    cell_area = float(m.cells.areas.mean())
    for d in order:
        bias = None
        ref = partners.get(d)
        built = [b for b in range(K) if st.count[b] > 0]
        signs = []
        for x, y in m.order:
            if x == d and y in built:
                signs.append((1.0, y))
            elif y == d and x in built:
                signs.append((-1.0, x))
        if signs:
            b = np.zeros(m.cells.n)
            for sg, other in signs:
                cen = st.sqa[other] / st.area[other]
                b += sg * (proj - cen) / side
            bias = 0.05 * spread * b
        if ref is not None and st.count[ref] > 0:
            cand = sorted({k for c in st.zone_cells(ref).tolist() for k in st.nbr[c] if st.lab[k] == -1})
            if not cand:
                continue
            ca = np.asarray(cand)
            sc = m.suitability[ca, d] + (0.0 if bias is None else bias[ca] * 20.0)
            top = ca[np.argsort(-sc, kind="stable")[: max(1, min(3, len(ca)))]]
            seed = int(top[0] if attempt == 0 else rng.choice(top))
        else:
            cells_needed = target[d] / (1.0 if m.measure == "cells" else cell_area)
            radius = int(max(1, round(math.sqrt(cells_needed / math.pi))))
            sm = _smoothed(m, d, radius)
            free = np.asarray([lab == -1 for lab in st.lab])
            sm = np.where(free, sm, -np.inf)
            k = max(1, min(5, int(np.isfinite(sm).sum())))
            top = np.argsort(-sm, kind="stable")[:k]
            seed = int(top[0] if attempt == 0 else rng.choice(top))
        _grow(st, d, seed, target[d], bias)


def _construct_cover(st: _Search, rng: np.random.Generator, target: list[float]) -> None:
    m = st.m
    free = np.flatnonzero(~m.cells.excluded)
    xy = m.cells.centroids
    first = int(rng.choice(free))
    seeds = [first]
    dist = np.linalg.norm(xy[free] - xy[first], axis=1)
    for _ in range(1, st.K):
        nxt = int(free[int(np.argmax(dist))])
        seeds.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(xy[free] - xy[nxt], axis=1))
    order = rng.permutation(st.K)
    heaps: list[list[tuple[float, int]]] = [[] for _ in range(st.K)]
    lab = st.lab
    for d, c in zip(order, seeds):
        st.assign(c, int(d))
        for k in st.nbr[c]:
            heapq.heappush(heaps[d], (-st.s[k][d], k))
    active = set(range(st.K))
    while active:
        d = min(active, key=lambda z: (st.size[z] / max(target[z], 1e-9), z))
        h = heaps[d]
        placed = False
        while h:
            _, c = heapq.heappop(h)
            if lab[c] == -1:
                st.assign(c, d)
                for k in st.nbr[c]:
                    if lab[k] == -1:
                        heapq.heappush(h, (-st.s[k][d], k))
                placed = True
                break
        if not placed or st.size[d] >= st.hi[d] - 1e-9:
            active.discard(d)
    # leftovers: attach each unassigned piece to a neighbouring zone (keeps contiguity)
    for c in range(st.n):
        if lab[c] != -1:
            continue
        piece = [c]
        seen = {c}
        i = 0
        zone = -1
        while i < len(piece):
            u = piece[i]
            i += 1
            for v in st.nbr[u]:
                if lab[v] == -1 and v not in seen:
                    seen.add(v)
                    piece.append(v)
                elif lab[v] >= 0 and (zone < 0 or st.size[lab[v]] < st.size[zone]):
                    zone = lab[v]
        if zone >= 0:
            for u in piece:
                st.assign(u, zone)


# ------------------------------------------------------------------ annealing
def _anneal(st: _Search, rng: np.random.Generator, iters: int, t0: float, t1: float, mu: float,
            deadline: float | None, prog: Progress) -> tuple[float, list[int] | None, bool]:
    """Run ``iters`` annealing steps; returns (best feasible objective, its labels, timed_out).

    The steps run compiled (:func:`iptown_gis.zoning._anneal_jit.anneal_steps`), in chunks
    between which the time limit, progress and cancellation are checked."""
    J = _jit()
    best_obj = -math.inf
    best_lab = np.empty(st.n, dtype=np.int64)
    have = False
    pen = st.penalty()
    if pen <= 1e-12:
        best_obj = st.obj
        best_lab[:] = st.lab
        have = True
    cool = (t1 / t0) ** (1.0 / max(iters, 1)) if t0 > 0 else 1.0
    T = t0
    J.seed(int(rng.integers(0, 2**31 - 1)))
    it = 0
    timed_out = False
    while it < iters:
        k = min(_CHUNK, iters - it)
        T, pen, best_obj, found = J.anneal_steps(st.G, st.S, k, T, cool, mu, pen, best_obj, best_lab)
        have = have or bool(found)
        it += k
        if deadline is not None and time.perf_counter() > deadline:
            timed_out = True
            break
        prog.update(it / iters, f"annealing {it:,}/{iters:,}")
    return float(best_obj), (best_lab.tolist() if have else None), timed_out


def _set_state(st: _Search, labels: list[int]) -> None:
    for c in range(st.n):
        if st.lab[c] != _EXCL and st.lab[c] != labels[c]:
            st.assign(c, labels[c] if labels[c] != _EXCL else -1)


def _temperature(st: _Search, rng: np.random.Generator) -> float:
    """Initial temperature: the median size of an objective change of a random boundary move."""
    deltas = []
    m = st.m
    s = m.suitability[~m.cells.excluded]
    spread = float(np.percentile(s, 90) - np.percentile(s, 10)) if s.size else 1.0
    for _ in range(200):
        d = int(rng.integers(0, st.K))
        mem = st.zone_cells(d)
        if not len(mem):
            continue
        c = int(mem[int(rng.integers(0, len(mem)))])
        for k in st.nbr[c]:
            q = st.lab[k]
            if q != d and q != _EXCL and not (st.cover and q < 0):
                obj0 = st.obj
                st.assign(c, q)
                deltas.append(abs(st.obj - obj0))
                st.assign(c, d)
                st.obj = obj0
                break
    med = float(np.median([x for x in deltas if x > 0])) if any(x > 0 for x in deltas) else 0.0
    return max(med, 0.05 * spread, 1e-6)


# ---------------------------------------------------------------------- bound
def lp_bound(model: ZoningInstance) -> float:
    """Upper bound: LP relaxation without contiguity/touching/orientation plus term bounds."""
    import highspy

    cs = model.cells
    use = np.flatnonzero(~cs.excluded)
    n, K = len(use), model.k
    s = model.suitability[use]
    w = model.size_weight[use]
    from iptown_gis._highs import new_highs

    h = new_highs()
    lp = highspy.HighsLp()
    nv = n * K
    lp.num_col_ = nv
    lp.num_row_ = n + K
    lp.col_cost_ = (-s).ravel()  # x[i, d] at i * K + d
    lp.col_lower_ = np.zeros(nv)
    lp.col_upper_ = np.ones(nv)
    lo_row = np.concatenate([np.ones(n) if model.cover else np.zeros(n), model.lower])
    hi_row = np.concatenate([np.ones(n), model.upper])
    lp.row_lower_ = lo_row
    lp.row_upper_ = hi_row
    cols = np.arange(nv)
    rows_cell = np.repeat(np.arange(n), K)
    rows_zone = n + np.tile(np.arange(K), n)
    vals_zone = np.repeat(w, K)
    mat = sp.csc_matrix((np.concatenate([np.ones(nv), vals_zone]),
                         (np.concatenate([rows_cell, rows_zone]), np.concatenate([cols, cols]))),
                        shape=(n + K, nv))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr
    lp.a_matrix_.index_ = mat.indices
    lp.a_matrix_.value_ = mat.data
    lp.a_matrix_.num_col_ = nv
    lp.a_matrix_.num_row_ = n + K
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return float("inf")
    bound = -float(h.getInfo().objective_function_value)
    return bound + _term_bounds(model)


def _term_bounds(model: ZoningInstance) -> float:
    """Upper bounds of the compactness (minus) and affinity (plus) terms, in objective units."""
    cs = model.cells
    side = cs.side
    out = 0.0
    use = ~cs.excluded
    cell_area = float(cs.areas[use].mean()) if use.any() else 1.0
    per_sorted = np.sort(cs.perimeters[use])[::-1] / side
    pmax = []
    for d in range(model.k):
        n_lo = model.lower[d] if model.measure == "cells" else model.lower[d] / cs.areas[use].max()
        n_hi = model.upper[d] if model.measure == "cells" else model.upper[d] / cs.areas[use].min()
        n_lo = max(float(np.ceil(n_lo - 1e-9)), 1.0)
        if model.compactness_weight > 0:
            if cs.kind == "grid":
                pmin = 2.0 * math.ceil(2.0 * math.sqrt(n_lo) - 1e-9)
            else:
                a_lo = model.lower[d] if model.measure == "area" else n_lo * float(cs.areas[use].min())
                pmin = 2.0 * math.sqrt(math.pi * max(a_lo, cell_area * 0)) / side
            out -= model.compactness_weight * pmin
        pmax.append(float(per_sorted[: int(np.floor(n_hi + 1e-9))].sum()))
    if model.affinity_weight > 0:
        A = model.affinity
        for d in range(model.k):
            for e in range(d + 1, model.k):
                if A[d, e] > 0:
                    out += model.affinity_weight * A[d, e] * min(pmax[d], pmax[e])
    return out


# ----------------------------------------------------------------------- main
def solve_heuristic(
    model: ZoningInstance,
    *,
    seed: int = 0,
    time_limit: float | None = None,
    iterations: int | None = None,
    restarts: int | None = None,
    compute_bound: bool = True,
    progress: Any = None,
) -> SolveResult:
    """Seeded growth + simulated annealing (see the module docstring).

    Parameters
    ----------
    model
        The problem.
    seed
        Random seed: same seed, same layout (unless ``time_limit`` stops the search).
    time_limit
        Seconds for the whole search (construction, annealing, polish).
    iterations
        Annealing steps per restart (default ``min(max(150 n, 40000), 2000000)`` for ``n``
        usable cells).
    restarts
        Independent constructions + annealing runs; the best wins (default 3 up to 3,000
        usable cells, else 1).
    compute_bound
        Also compute the LP bound (an extra LP solve); ``False``: ``bound`` is NaN.
    progress
        Progress reporter or callback, one step per restart plus the bound (``None``: silent).

    Returns
    -------
    SolveResult
        The best layout over the restarts (``-1`` = unused cell); ``status`` is ``"optimal"``
        (objective equals the LP bound), ``"feasible"`` or ``"time_limit"``.

    Raises
    ------
    InfeasibleError
        No layout meeting every constraint was found; names the constraints still broken.
    """
    prog = as_progress(progress)
    t_start = time.perf_counter()
    deadline = None if time_limit is None else t_start + float(time_limit)
    n_use = int((~model.cells.excluded).sum())
    if iterations is None:
        iterations = int(min(max(150 * n_use, 40_000), 2_000_000))
    if restarts is None:
        restarts = 3 if n_use <= 3000 else 1
    root = np.random.SeedSequence(int(seed))
    children = root.spawn(restarts)
    best_obj = -math.inf
    best_lab: np.ndarray | None = None
    worst_msgs: list[str] = []
    timed_out = False
    s = model.suitability[~model.cells.excluded]
    spread = float(s.max() - s.min()) if s.size else 1.0
    A = model.affinity
    mu = 2.0 * (spread + 4.0 * model.compactness_weight + 8.0 * model.affinity_weight * float(np.abs(A).max())) + 1.0
    steps = prog.steps(restarts + 1)
    for r in range(restarts):
        rng = np.random.default_rng(children[r])
        st = _Search(model)
        _construct(st, rng, r)
        t0 = _temperature(st, rng)
        sub = steps[r]
        obj, lab, to = _anneal(st, rng, iterations, t0, t0 * 1e-4, mu, deadline, sub)
        timed_out = timed_out or to
        if lab is not None:
            _set_state(st, lab)
            st.obj = model.evaluate(np.where(np.asarray(lab) == _EXCL, -1, np.asarray(lab))).objective
            # greedy polish from the best feasible layout
            obj2, lab2, _ = _anneal(st, rng, max(iterations // 10, 5_000), 1e-12, 1e-12, mu * 10, deadline,
                                    Progress(None))
            if lab2 is not None and obj2 > obj:
                obj, lab = obj2, lab2
        if lab is None:
            worst_msgs = st.violations()
        else:
            arr = np.asarray(lab, dtype="int64")
            arr[arr == _EXCL] = -1
            val = model.evaluate(arr).objective
            log.debug("restart %d: objective %.6f", r, val)
            if val > best_obj + 1e-12:
                best_obj, best_lab = val, arr
        if deadline is not None and time.perf_counter() > deadline and best_lab is not None:
            timed_out = True
            break
    if best_lab is None:
        raise InfeasibleError(
            "heuristic found no layout meeting every constraint; still broken: "
            + ("; ".join(worst_msgs) or "contiguity") +
            ". Check the targets, exclusions and axis, or try method='exact' to prove infeasibility"
        )
    steps[-1].update(0.0, "bound")
    bound = lp_bound(model) if compute_bound else float("nan")
    status = "time_limit" if timed_out else "feasible"
    if np.isfinite(bound) and bound - best_obj <= 1e-9 * max(1.0, abs(best_obj)):
        status = "optimal"
    return SolveResult(labels=best_lab, status=status, bound=bound, objective=best_obj,
                       info={"iterations": iterations, "restarts": restarts,
                             "time_s": time.perf_counter() - t_start})
