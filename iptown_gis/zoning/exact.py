"""Exact zoning: a mixed-integer program with cut-based contiguity, solved with HiGHS.

Variables (usable cells ``i``, zones ``d``): ``x[i,d]`` binary (cell ``i`` in zone ``d``),
``r[i,d]`` binary (``i`` is the root of ``d``). The formulation:

* root = the zone's lowest-numbered cell (symmetry breaking), and every member lies within
  ``M_d - 1`` adjacency steps of it (a zone of at most ``M_d`` cells): ``x[i,d] <= sum r[j,d]``
  over ``j <= i`` within ``M_d - 1`` steps (distance-based variable fixing);
* a member that is not the root has a neighbour in its zone;
* contiguity by **rooted vertex-separator cuts** (equivalent to a multi-commodity flow, far
  tighter than a single-commodity flow): for a cell set ``C`` containing ``i`` with outer
  neighbours ``N(C)``, ``x[i,d] <= sum_{N(C)} x[.,d] + sum_C r[.,d]``; and, for zones ``a``, ``b``
  that must touch, ``x[i,a] <= sum_{N(C)} (x[.,a] + x[.,b]) + sum_C x[.,b]``. They are separated
  by node-capacitated minimum cuts, first on the LP relaxation for several rounds (a root cut
  loop), then on each integer optimum until every zone is connected (lazy constraints: the
  MIP is re-solved with the new cuts; an integer optimum whose zones are all connected is
  optimal for the full model);
* touching: one contact edge, ``t[ij] <= x[i,a], t[ij] <= x[j,b], sum t = 1``. The contact
  then acts as a unit commodity, which is what closes most of the LP gap (on the 20 x 20
  benchmark the root bound falls from 40.05 to 39.61 against the optimum 39.434):

  - a **contact flow** carries one unit from the contact's cell of ``b`` to ``b``'s root through
    cells of ``b`` (node capacities ``x[., b]``): as strong as every cut
    ``t(C + N(C)) <= x_b(N(C)) + r_b(C)``, it forbids touching a wing through a thin fractional
    trail of the body;
  - **contact-rooted cuts** ``x[i,a] <= x_a(N(C)) + t(contacts with their a-end in C)``: the
    wing is connected to its contact;
  - a **contact bound** ``sum s_a x[., a] <= sum G(i, j) t[ij]``, ``G(i, j)`` the best total
    suitability of a connected set of ``a``'s size through ``i`` avoiding ``j`` (exhaustive
    enumeration of connected sets in compiled code when there are few enough, see
    :mod:`iptown_gis.zoning._connected_sets`, else a ball bound);
  - an integer column per wing holds its contact's position along the axis (in cell widths),
    so that HiGHS can branch on "the contact lies west / east of here", the mixture the
    relaxation keeps longest;
* orientation, exactly linearised: ``S_a A_b - S_b A_a >= margin * max A_a * max A_b`` where
  ``S`` is the area-weighted projection sum and ``A`` the area of a zone; each product of a
  binary ``x`` and a bounded zone area is a McCormick variable (exact for binaries), or a
  constant when both areas are fixed;
* compactness ``y[ij,d] = x[i,d] x[j,d]`` and affinity ``z = x[i,d] x[j,e]`` products (only
  when their weights are positive).

The heuristic's layout is passed as a MIP start (``setSolution`` after ``passModel`` with the
full column vector). The single-commodity flow formulation (Shirabe 2005) remains available
(``cut_rounds=0``) and serves the infeasibility diagnosis. It is not kept beside the cuts:
it slows HiGHS's node LPs 2-3 times, and HiGHS 1.16's Python callbacks cannot add lazy
constraints, so connectivity of an integer optimum is checked and, if broken, cut and re-solved.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import numpy as np
import scipy.sparse as sp

from iptown_gis.errors import InfeasibleError, SolverError
from iptown_gis.progress import as_progress
from iptown_gis.zoning.instance import ZoningInstance as ZoningModel  # the model's interface (it imports us)
from iptown_gis.zoning.result import SolveResult

__all__ = ["build_mip", "solve_exact"]

log = logging.getLogger(__name__)


class _MIP:
    """A small sparse MIP builder (columns, rows as COO triplets); minimisation."""

    def __init__(self) -> None:
        self.n = 0
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.integ: list[np.ndarray] = []
        self.m = 0
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.rlo: list[np.ndarray] = []
        self.rhi: list[np.ndarray] = []

    def vars(self, k: int, lb: float, ub: float | np.ndarray, cost: float | np.ndarray = 0.0,
             integer: bool = False) -> np.ndarray:
        idx = np.arange(self.n, self.n + k)
        self.n += k
        self.lb.append(np.full(k, float(lb)))
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype="float64"), (k,)).copy())
        self.cost.append(np.broadcast_to(np.asarray(cost, dtype="float64"), (k,)).copy())
        self.integ.append(np.full(k, 1 if integer else 0, dtype="int32"))
        return idx

    def rows(self, k: int, r: np.ndarray, c: np.ndarray, v: np.ndarray | float,
             lo: float | np.ndarray, hi: float | np.ndarray) -> None:
        r = np.asarray(r, dtype="int64")
        self.r.append(self.m + r)
        self.c.append(np.asarray(c, dtype="int64"))
        self.v.append(np.broadcast_to(np.asarray(v, dtype="float64"), r.shape).copy())
        self.rlo.append(np.broadcast_to(np.asarray(lo, dtype="float64"), (k,)).copy())
        self.rhi.append(np.broadcast_to(np.asarray(hi, dtype="float64"), (k,)).copy())
        self.m += k

    def le(self, a: np.ndarray, b: np.ndarray, coef_b: float | np.ndarray = 1.0, rhs: float = 0.0) -> None:
        """Rows ``a - coef_b * b <= rhs`` elementwise."""
        k = len(a)
        rr = np.arange(k)
        self.rows(k, np.concatenate([rr, rr]), np.concatenate([a, b]),
                  np.concatenate([np.ones(k), -np.broadcast_to(np.asarray(coef_b, dtype="float64"), (k,))]),
                  -np.inf, rhs)

    def highs(self, *, time_limit: float | None, mip_gap: float, seed: int, relax: bool = False,
              log_output: bool = False) -> Any:
        import highspy

        from iptown_gis._highs import new_highs

        h = new_highs(log_output=log_output or None)
        if time_limit is not None:
            h.setOptionValue("time_limit", float(time_limit))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("random_seed", int(seed) % (2**31 - 1))
        # no "threads" option: HiGHS has one scheduler per process, and a Highs whose threads
        # differ from the first one's (e.g. the sites stage's) cannot run at all.
        lp = highspy.HighsLp()
        lp.num_col_ = self.n
        lp.num_row_ = self.m
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.concatenate(self.lb)
        lp.col_upper_ = np.concatenate(self.ub)
        lp.row_lower_ = np.concatenate(self.rlo) if self.rlo else np.empty(0)
        lp.row_upper_ = np.concatenate(self.rhi) if self.rhi else np.empty(0)
        mat = sp.csc_matrix((np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
                            shape=(self.m, self.n))
        mat.sum_duplicates()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = mat.indptr
        lp.a_matrix_.index_ = mat.indices
        lp.a_matrix_.value_ = mat.data
        lp.a_matrix_.num_col_ = self.n
        lp.a_matrix_.num_row_ = self.m
        if not relax:
            lp.integrality_ = [highspy.HighsVarType(int(t)) for t in np.concatenate(self.integ)]
        h.passModel(lp)
        return h


def build_mip(model: ZoningModel, *, drop: frozenset[str] = frozenset(),
              flow: bool = True) -> tuple[_MIP, dict[str, Any]]:
    """Build the MIP of ``model``; ``drop`` leaves out constraint groups (for diagnosis):
    ``"orientation"``, ``"touching"``, ``"contiguity"``."""
    cs = model.cells
    use = np.flatnonzero(~cs.excluded)
    nu, K = len(use), model.k
    pos = np.full(cs.n, -1)
    pos[use] = np.arange(nu)
    e = pos[cs.edges]
    ok = (e >= 0).all(axis=1)
    e, elen = e[ok], cs.edge_length[ok] / cs.side
    me = len(e)
    s = model.suitability[use]
    w = model.size_weight[use]
    per = cs.perimeters[use] / cs.side
    mip = _MIP()
    wc, wa = model.compactness_weight, model.affinity_weight
    xc = -s + (wc * per[:, None] if wc > 0 else 0.0)
    X = mip.vars(nu * K, 0, 1, xc.ravel(), integer=True).reshape(nu, K)
    info: dict[str, Any] = {"use": use, "X": X, "edges": e}
    # one zone per cell (exactly one under cover)
    mip.rows(nu, np.repeat(np.arange(nu), K), X.ravel(), 1.0, 1.0 if model.cover else 0.0, 1.0)
    # sizes
    mip.rows(K, np.tile(np.arange(K), nu), X.ravel(), np.repeat(w, K), model.lower, model.upper)
    amin, amax = float(cs.areas[use].min()), float(cs.areas[use].max())
    if model.measure == "cells":
        Mcnt = np.minimum(np.floor(model.upper + 1e-9), nu)
    else:
        Mcnt = np.minimum(np.floor(model.upper / amin + 1e-9), nu)
    if "contiguity" not in drop:
        # the root of a zone is its lowest-numbered cell (symmetry breaking), and a zone of at most
        # M cells lies within M - 1 adjacency steps of its root (distance-based variable fixing)
        D = hop_distances(nu, e)
        later = np.arange(nu)[None, :] >= np.arange(nu)[:, None]  # later[r, i]: i >= r
        rub = np.ones((nu, K))
        for d in range(K):
            reach = later & (Mcnt[d] - 1 >= D)
            if model.measure == "cells":
                rub[:, d] = reach.sum(axis=1) >= model.lower[d] - 1e-9
            else:
                rub[:, d] = (reach * w[None, :]).sum(axis=1) >= model.lower[d] - 1e-9
        R = mip.vars(nu * K, 0, 1, 0.0, integer=True).reshape(nu, K)
        mip.ub[-1] = rub.ravel()
        info["R"] = R
        info["D"] = D
        for d in range(K):
            mip.rows(1, np.zeros(nu), R[:, d], 1.0, 1.0 if model.lower[d] > 0 else 0.0, 1.0)
        mip.le(R.ravel(), X.ravel())
        # x[i,d] <= sum of r[j,d] over j <= i within M_d - 1 steps of i
        for d in range(K):
            rr_, ii_ = np.nonzero(later & (Mcnt[d] - 1 >= D) & (rub[:, d] > 0)[:, None])
            mip.rows(nu, np.concatenate([np.arange(nu), ii_]), np.concatenate([X[:, d], R[rr_, d]]),
                     np.concatenate([np.ones(nu), -np.ones(len(ii_))]), -np.inf, 0.0)
        # a member that is not the root has a neighbour in its zone: x_i - r_i - sum_j x_j <= 0
        if me:
            ends = np.concatenate([e, e[:, ::-1]])
            for d in range(K):
                rr = np.concatenate([np.arange(nu), np.arange(nu), ends[:, 0]])
                cc = np.concatenate([X[:, d], R[:, d], X[ends[:, 1], d]])
                vv = np.concatenate([np.ones(nu), -np.ones(nu), -np.ones(len(ends))])
                mip.rows(nu, rr, cc, vv, -np.inf, 0.0)
        arcs = np.concatenate([e, e[:, ::-1]])
        na = len(arcs)
        info["arcs"] = arcs
    if wc > 0 and me:
        Y = np.empty((me, K), dtype="int64")
        for d in range(K):
            Y[:, d] = mip.vars(me, 0, 1, -2.0 * wc * elen)
            mip.le(Y[:, d], X[e[:, 0], d])
            mip.le(Y[:, d], X[e[:, 1], d])
        info["Y"] = Y
    zlist = []
    if wa > 0 and me:
        A = model.affinity
        for d in range(K):
            for f in range(d + 1, K):
                if A[d, f] == 0:
                    continue
                for a, b in ((d, f), (f, d)):
                    Z = mip.vars(me, 0, 1, -wa * A[d, f] * elen)
                    if A[d, f] > 0:
                        mip.le(Z, X[e[:, 0], a])
                        mip.le(Z, X[e[:, 1], b])
                    else:  # z >= x_ia + x_jb - 1
                        k = len(Z)
                        rr = np.arange(k)
                        mip.rows(k, np.concatenate([rr, rr, rr]), np.concatenate([Z, X[e[:, 0], a], X[e[:, 1], b]]),
                                 np.concatenate([np.ones(k), -np.ones(k), -np.ones(k)]), -1.0, np.inf)
                    zlist.append((a, b, Z))
    info["Z"] = zlist
    tlist = []
    if "touching" not in drop and me:
        for a, b in model.touches:
            T1 = mip.vars(me, 0, 1)
            T2 = mip.vars(me, 0, 1)
            mip.le(T1, X[e[:, 0], a])
            mip.le(T1, X[e[:, 1], b])
            mip.le(T2, X[e[:, 0], b])
            mip.le(T2, X[e[:, 1], a])
            # exactly one contact edge: the t variables then mark *the* contact, which the
            # contact flow and the contact-rooted cuts below treat as a unit commodity
            mip.rows(1, np.zeros(2 * me), np.concatenate([T1, T2]), 1.0, 1.0, 1.0)
            tlist.append((a, b, T1, T2))
    info["T"] = tlist
    if "contiguity" not in drop and tlist:
        # contact flow: one unit leaves the contact's cell of b and reaches b's root through
        # cells of b (node capacities x[., b]); its LP is as strong as every cut
        # t(C + N(C)) <= x_b(N(C)) + r_b(C), which stops the relaxation from touching a wing
        # with a thin fractional trail of b
        arcs_ = info["arcs"]
        na_ = len(arcs_)
        # a wing scores at most the best connected set of its size through its contact cell
        # that avoids the cell of b it touches (exact by enumeration when cheap, else a ball bound)
        from iptown_gis.zoning._connected_sets import best_through

        g = cs.adjacency()[use][:, use].tocsr()
        g.sort_indices()
        if model.measure == "cells":
            lo_c = np.ceil(model.lower - 1e-9)
        else:
            lo_c = np.ceil(model.lower / amax - 1e-9)
        for a, _b, T1, T2 in tlist:
            best, _ = best_through(g.indptr, g.indices, s[:, a], int(max(lo_c[a], 1)), int(Mcnt[a]), info["D"])
            # slot of e[:, 1] in e[:, 0]'s neighbour list and vice versa
            slot01 = _slots(g, e[:, 0], e[:, 1])
            slot10 = _slots(g, e[:, 1], e[:, 0])
            g1 = best[e[:, 0], slot01]  # T1: the a-end is e0, the b-end e1
            g2 = best[e[:, 1], slot10]
            never = np.concatenate([T1[~np.isfinite(g1)], T2[~np.isfinite(g2)]])
            if len(never):  # no connected set of a's size through this contact: it cannot be used
                mip.rows(1, np.zeros(len(never)), never, 1.0, -np.inf, 0.0)
            g1 = np.where(np.isfinite(g1), g1, 0.0)
            g2 = np.where(np.isfinite(g2), g2, 0.0)
            mip.rows(1, np.zeros(nu + 2 * me), np.concatenate([X[:, a], T1, T2]),
                     np.concatenate([s[:, a], -g1, -g2]), -np.inf, 0.0)
        R_ = info["R"]
        info["TF"] = []
        for a, b, T1, T2 in tlist:
            Fc = mip.vars(na_, 0.0, 1.0)
            info["TF"].append((a, b, Fc))
            # conservation at j: in - out + t_b(j) - r_b[j] = 0 (t_b: contacts whose b-end is j)
            rr = np.concatenate([arcs_[:, 1], arcs_[:, 0], e[:, 1], e[:, 0], np.arange(nu)])
            cc = np.concatenate([Fc, Fc, T1, T2, R_[:, b]])
            vv = np.concatenate([np.ones(na_), -np.ones(na_), np.ones(me), np.ones(me), -np.ones(nu)])
            mip.rows(nu, rr, cc, vv, 0.0, 0.0)
            # node capacity: in + t_b(j) <= x[j, b]
            rr = np.concatenate([arcs_[:, 1], e[:, 1], e[:, 0], np.arange(nu)])
            cc = np.concatenate([Fc, T1, T2, X[:, b]])
            vv = np.concatenate([np.ones(na_), np.ones(me), np.ones(me), -np.ones(nu)])
            mip.rows(nu, rr, cc, vv, -np.inf, 0.0)
    wlist = []
    if "orientation" not in drop and model.order:
        q = model.projection[use]
        q = (q - q.mean()) / cs.side
        ar = cs.areas[use] / cs.areas[use].mean()
        aq = ar * q
        if model.measure == "area":
            zlo, zhi = model.lower / cs.areas[use].mean(), model.upper / cs.areas[use].mean()
        else:
            zlo = model.lower * amin / cs.areas[use].mean()
            zhi = model.upper * amax / cs.areas[use].mean()
        fixed = [bool(np.isclose(zlo[d], zhi[d])) for d in range(K)]
        margin = model.margin / cs.side
        AZ = mip.vars(K, 0.0, np.inf)  # zone areas (in mean cell areas)
        for d in range(K):
            mip.rows(1, np.zeros(nu + 1), np.concatenate([X[:, d], [AZ[d]]]),
                     np.concatenate([ar, [-1.0]]), 0.0, 0.0)
        info["AZ"] = AZ
        for a, b in model.order:
            if fixed[a] and fixed[b]:
                # S_a / A_a - S_b / A_b >= margin with constant areas
                mip.rows(1, np.zeros(2 * nu), np.concatenate([X[:, a], X[:, b]]),
                         np.concatenate([aq / zlo[a], -aq / zlo[b]]), margin, np.inf)
                continue
            # S_a A_b - S_b A_a >= margin * zhi_a * zhi_b ; P = x_a * A_b, Q = x_b * A_a
            cols, vals = [], []
            for xa, ob, sign in ((a, b, 1.0), (b, a, -1.0)):
                P = mip.vars(nu, 0.0, zhi[ob])
                lo_o, hi_o = zlo[ob], zhi[ob]
                # P <= hi x ; P >= lo x
                mip.le(P, X[:, xa], hi_o)
                k = nu
                rr = np.arange(k)
                mip.rows(k, np.concatenate([rr, rr]), np.concatenate([P, X[:, xa]]),
                         np.concatenate([np.ones(k), np.full(k, -lo_o)]), 0.0, np.inf)
                # P <= A_ob - lo (1 - x)  ->  P - A_ob - lo x <= -lo
                # P >= A_ob - hi (1 - x)  ->  P - A_ob - hi x >= -hi
                for bound_c, lo_r, hi_r in ((lo_o, -np.inf, -lo_o), (hi_o, -hi_o, np.inf)):
                    rr2 = np.concatenate([rr, rr, rr])
                    cc2 = np.concatenate([P, np.full(k, AZ[ob]), X[:, xa]])
                    vv2 = np.concatenate([np.ones(k), -np.ones(k), np.full(k, -bound_c)])
                    mip.rows(k, rr2, cc2, vv2, lo_r, hi_r)
                cols.append(P)
                vals.append(sign * aq)
                wlist.append((xa, ob, P))
            mip.rows(1, np.zeros(2 * nu), np.concatenate(cols), np.concatenate(vals),
                     margin * zhi[a] * zhi[b], np.inf)
    info["W"] = wlist
    info["P"] = []
    if tlist and "TF" in info:
        # the position of each contact along the axis, in cell widths, as an integer column:
        # the relaxation mixes contacts at different distances from the body's centre, and a
        # branch on this column (contact west / east of a position) splits those mixtures
        q = model.projection[use]
        k = np.floor((q - q.min()) / cs.side + 1e-9)
        for a, b, T1, T2 in tlist:
            P = mip.vars(1, 0.0, float(k.max()), 0.0, integer=True)
            mip.rows(1, np.zeros(2 * me + 1), np.concatenate([T1, T2, P]),
                     np.concatenate([k[e[:, 1]], k[e[:, 0]], [-1.0]]), 0.0, 0.0)
            info["P"].append((a, b, P, k))
    # the single-commodity flow (Shirabe 2005): the complete model without cuts
    if flow and "contiguity" not in drop:
        arcs, R = info["arcs"], info["R"]
        na = len(arcs)
        F = np.empty((na, K), dtype="int64")
        for d in range(K):
            cap = max(Mcnt[d] - 1.0, 0.0)
            F[:, d] = mip.vars(na, 0.0, cap)
            mip.le(F[:, d], X[arcs[:, 0], d], cap)
            mip.le(F[:, d], X[arcs[:, 1], d], cap)
            # inflow - outflow - x + M r >= 0
            rr = np.concatenate([arcs[:, 1], arcs[:, 0], np.arange(nu), np.arange(nu)])
            cc = np.concatenate([F[:, d], F[:, d], X[:, d], R[:, d]])
            vv = np.concatenate([np.ones(na), -np.ones(na), -np.ones(nu), np.full(nu, Mcnt[d])])
            mip.rows(nu, rr, cc, vv, 0.0, np.inf)
        info["F"] = F
    return mip, info


def _slots(g: sp.csr_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Position of neighbour ``j`` in the sorted neighbour list of ``i`` (CSR ``g``)."""
    return np.array([int(np.searchsorted(g.indices[g.indptr[a]:g.indptr[a + 1]], b))
                     for a, b in zip(i, j, strict=True)], dtype="int64")


def hop_distances(n: int, edges: np.ndarray) -> np.ndarray:
    """Adjacency-step distances between all ``n`` cells (``inf`` between components)."""
    from scipy.sparse.csgraph import shortest_path

    g = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    return shortest_path(g, directed=False, unweighted=True)


# ------------------------------------------------------------------ cutting planes
def _min_cut_sets(arcs: np.ndarray, cap: np.ndarray, term: np.ndarray, sources: np.ndarray,
                  want: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """For each source cell ``i``, the set ``C`` (containing ``i``) minimising
    ``sum_{k in N(C) - C} cap_k + sum_{k in C} term_k``, when that value is below ``want[i]``.

    A node-capacitated minimum cut: node ``k`` is split into ``k_in -> k_out`` (capacity
    ``cap_k``), ``k_out -> j_in`` for each arc (infinite), ``k_out -> T`` (``term_k``); the
    source is ``i_out``. Capacities are scaled to integers for SciPy's Dinic.
    """
    from scipy.sparse.csgraph import breadth_first_order, maximum_flow

    nu = len(cap)
    scale = 1e5
    big = 10**9
    T = 2 * nu
    src = np.concatenate([np.arange(nu), nu + arcs[:, 0], nu + np.arange(nu)])
    dst = np.concatenate([nu + np.arange(nu), arcs[:, 1], np.full(nu, T)])
    cv = np.concatenate([np.rint(cap * scale), np.full(len(arcs), big), np.rint(term * scale)]).astype("int64")
    keep = cv > 0
    g = sp.csr_matrix((cv[keep].astype("int32"), (src[keep], dst[keep])), shape=(T + 1, T + 1))
    g.sum_duplicates()
    # a pattern with both directions so residual arcs exist
    pattern = (g + g.T).tocsr()
    pattern.data[:] = 0
    full = (g + pattern).tocsr()
    out = []
    for i in sources.tolist():
        res = maximum_flow(full, nu + i, T)
        if res.flow_value >= want[i] * scale - 0.5:
            continue
        resid = (full - res.flow).tocsr()
        resid.data = (resid.data > 0).astype("int8")
        resid.eliminate_zeros()
        reached = breadth_first_order(resid, nu + i, directed=True, return_predecessors=False)
        mask = np.zeros(T + 1, dtype=bool)
        mask[reached] = True
        out.append((i, mask[nu:T]))
    return out


def _separate(model: ZoningModel, info: dict[str, Any], val: np.ndarray, *, tol: float = 1e-3,
              max_per_zone: int = 60) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Violated connectivity cuts at the fractional point ``val`` (rows ``coef @ cols <= 0``).

    * rooted cuts (zone ``d``, cell ``i``, set ``C`` containing ``i``, ``N(C)`` its outer
      neighbours): ``x[i,d] <= sum_{N(C)} x[.,d] + sum_C r[.,d]``: if ``i`` is in ``d`` either
      the root is in ``C`` or the zone leaves ``C``;
    * touching cuts (zones ``a`` and ``b`` that must touch): ``x[i,a] <= sum_{N(C)} (x[.,a] +
      x[.,b]) + sum_C x[.,b]``: ``a`` reaches a cell of ``b`` inside ``C`` or leaves ``C``.
    """
    X, R, arcs = info["X"], info.get("R"), info.get("arcs")
    if R is None or arcs is None:
        return []
    xv = val[X]
    rv = val[R]
    nu, K = xv.shape
    nbr_src, nbr_dst = arcs[:, 0], arcs[:, 1]
    cuts: list[tuple[np.ndarray, np.ndarray, float]] = []

    def nbhd(C: np.ndarray) -> np.ndarray:
        m = np.zeros(nu, dtype=bool)
        m[nbr_dst[C[nbr_src]]] = True
        return m & ~C

    e = info["edges"]
    contact: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for a, _b, T1, T2 in info.get("T", []):
        tw = np.zeros(nu)
        np.add.at(tw, e[:, 0], val[T1])
        np.add.at(tw, e[:, 1], val[T2])
        contact[a] = (tw, T1, T2)
    jobs: list[tuple[int, int | None]] = [(d, None) for d in range(K)]
    for a, z in model.touches:
        jobs += [(a, z), (z, a)]
    jobs += [(a, -1) for a in contact]
    for d, b in jobs:
        if b is None:
            cap, term = xv[:, d], rv[:, d]
        elif b == -1:
            cap, term = xv[:, d], contact[d][0]
        else:
            cap, term = xv[:, d] + xv[:, b], xv[:, b]
        cand = np.flatnonzero(xv[:, d] > tol)
        cand = cand[np.argsort(-xv[cand, d], kind="stable")][:max_per_zone]
        for i, C in _min_cut_sets(arcs, cap, term, cand, xv[:, d] - tol):
            N = np.flatnonzero(nbhd(C))
            Ci = np.flatnonzero(C)
            if b is None:
                cols = np.concatenate([[X[i, d]], X[N, d], R[Ci, d]])
                rhs = xv[N, d].sum() + rv[Ci, d].sum()
                coef = np.concatenate([[1.0], -np.ones(len(N)), -np.ones(len(Ci))])
            elif b == -1:  # rooted at the contact: x[i,a] <= x_a(N(C)) + t(contacts with a-end in C)
                _, T1, T2 = contact[d]
                tc = np.concatenate([T1[C[e[:, 0]]], T2[C[e[:, 1]]]])
                cols = np.concatenate([[X[i, d]], X[N, d], tc])
                rhs = xv[N, d].sum() + val[tc].sum()
                coef = np.concatenate([[1.0], -np.ones(len(N) + len(tc))])
            else:
                cols = np.concatenate([[X[i, d]], X[N, d], X[N, b], X[Ci, b]])
                rhs = xv[N, d].sum() + xv[N, b].sum() + xv[Ci, b].sum()
                coef = np.concatenate([[1.0], -np.ones(2 * len(N)), -np.ones(len(Ci))])
            if xv[i, d] - rhs > tol:
                cuts.append((cols, coef, float(xv[i, d] - rhs)))
    return cuts


def _cut_loop(model: ZoningModel, mip: _MIP, info: dict[str, Any], *, rounds: int, seed: int,
              deadline: float | None, stall: int = 4) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """Strengthen the LP relaxation with connectivity cuts; returns the cuts and the LP bound."""
    h = mip.highs(time_limit=None, mip_gap=1.0, seed=seed, relax=True)
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    bound = float("inf")
    history: list[float] = []
    for rnd in range(rounds):
        h.run()
        bound = -float(h.getInfo().objective_function_value)
        history.append(bound)
        val = np.asarray(h.getSolution().col_value)
        cuts = _separate(model, info, val)
        log.debug("cut round %d: LP bound %.6f, %d cuts", rnd, bound, len(cuts))
        if not cuts or (deadline is not None and time.perf_counter() > deadline):
            break
        if len(history) > stall and history[-1 - stall] - bound < 1e-4 * max(abs(bound), 1.0):
            break  # tailing off: the branch and bound gains more than further rounds
        starts = np.cumsum([0] + [len(c) for c, _, _ in cuts[:-1]]).astype("int32")
        idx = np.concatenate([c for c, _, _ in cuts]).astype("int32")
        vals = np.concatenate([v for _, v, _ in cuts])
        h.addRows(len(cuts), np.full(len(cuts), -np.inf), np.zeros(len(cuts)), len(idx), starts, idx, vals)
        kept += [(c, v) for c, v, _ in cuts]
    return kept, bound


def _start_vector(model: ZoningModel, mip: _MIP, info: dict[str, Any], labels: np.ndarray) -> np.ndarray:
    """A complete feasible column vector for a feasible layout (the warm start)."""
    cs = model.cells
    use = info["use"]
    lab = np.asarray(labels)[use]
    nu, K = len(use), model.k
    val = np.zeros(mip.n)
    X = info["X"]
    xv = np.zeros((nu, K))
    on = lab >= 0
    xv[np.flatnonzero(on), lab[on]] = 1.0
    val[X.ravel()] = xv.ravel()
    e = info["edges"]
    if "R" in info:
        for d in range(K):
            mem = np.flatnonzero(lab == d)
            if len(mem):
                val[info["R"][int(mem[0]), d]] = 1.0
    arc_id: dict[tuple[int, int], int] = {}
    nbrs: list[list[int]] = [[] for _ in range(nu)]
    if "arcs" in info:  # for the flows' paths
        arc_id = {(int(i), int(j)): k for k, (i, j) in enumerate(info["arcs"].tolist())}
        for i, j in e.tolist():
            nbrs[i].append(j)
            nbrs[j].append(i)
    if "F" in info:
        for d in range(K):
            mem = np.flatnonzero(lab == d)
            if len(mem) == 0:
                continue
            root = int(mem[0])
            parent = {root: -1}
            order = [root]
            dq = deque([root])
            while dq:
                u = dq.popleft()
                for v in nbrs[u]:
                    if lab[v] == d and v not in parent:
                        parent[v] = u
                        order.append(v)
                        dq.append(v)
            sub = dict.fromkeys(order, 1.0)
            for v in reversed(order[1:]):
                sub[parent[v]] += sub[v]
                val[info["F"][arc_id[(parent[v], v)], d]] = sub[v]
    if "Y" in info:
        for d in range(K):
            val[info["Y"][:, d]] = xv[e[:, 0], d] * xv[e[:, 1], d]
    for a, b, Z in info["Z"]:
        val[Z] = xv[e[:, 0], a] * xv[e[:, 1], b]
    for (a, b, T1, T2), flow in zip(info["T"], info.get("TF", [None] * len(info["T"])), strict=True):
        # one contact edge (the first), and the contact flow along a path of b to its root
        c1 = np.flatnonzero(xv[e[:, 0], a] * xv[e[:, 1], b] > 0)
        c2 = np.flatnonzero(xv[e[:, 0], b] * xv[e[:, 1], a] > 0)
        if len(c1):
            val[T1[c1[0]]] = 1.0
            j = int(e[c1[0], 1])
        elif len(c2):
            val[T2[c2[0]]] = 1.0
            j = int(e[c2[0], 0])
        else:
            continue
        if flow is None:
            continue
        root = int(np.flatnonzero(lab == b)[0])
        prev = {j: -1}
        dq = deque([j])
        while dq and root not in prev:
            u = dq.popleft()
            for v in nbrs[u]:
                if lab[v] == b and v not in prev:
                    prev[v] = u
                    dq.append(v)
        v = root
        while prev.get(v, -1) != -1:
            val[flow[2][arc_id[(prev[v], v)]]] = 1.0
            v = prev[v]
    for (_a, _b, T1, T2), (_, _, P, k) in zip(info["T"], info.get("P", []), strict=False):
        val[P] = float(k[e[:, 1]] @ val[T1] + k[e[:, 0]] @ val[T2])
    if "AZ" in info:
        ar = cs.areas[use] / cs.areas[use].mean()
        for d in range(K):
            val[info["AZ"][d]] = float((ar * xv[:, d]).sum())
        for xa, ob, P in info["W"]:
            val[P] = xv[:, xa] * float((ar * xv[:, ob]).sum())
    return val


def _run(model: ZoningModel, *, drop: frozenset[str], time_limit: float | None, mip_gap: float, seed: int,
         start: np.ndarray | None, cut_rounds: int = 0) -> tuple[Any, dict[str, Any], _MIP]:
    import highspy

    t0 = time.perf_counter()
    use_cuts = cut_rounds > 0 and "contiguity" not in drop
    # with cuts, connectivity is enforced lazily (integer rounds below): the single-commodity
    # flow would make every integer solution connected, but it slows the node LPs 2-3 times
    # (the 20 x 20 benchmark then does not finish in 20 minutes; without it, about 6)
    mip, info = build_mip(model, drop=drop, flow=not use_cuts)
    info["cuts"] = 0
    info["rounds"] = 0
    if use_cuts:
        deadline = None if time_limit is None else t0 + 0.3 * time_limit
        cuts, lp = _cut_loop(model, mip, info, rounds=cut_rounds, seed=seed, deadline=deadline, stall=6)
        for cols, coef in cuts:
            mip.rows(1, np.zeros(len(cols)), cols, coef, -np.inf, 0.0)
        info["cuts"] = len(cuts)
        info["root_lp_bound"] = lp
    while True:
        remaining = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1.0)
        h = mip.highs(time_limit=remaining, mip_gap=mip_gap, seed=seed, log_output=log.isEnabledFor(5))
        if start is not None:  # the warm start is the incumbent: spend the effort on the bound
            h.setOptionValue("mip_heuristic_effort", 0.01)
            vec = _start_vector(model, mip, info, start)
            status = h.setSolution(mip.n, np.arange(mip.n, dtype="int32"), vec)
            log.debug("warm start (objective %.6f): %s", -float(np.concatenate(mip.cost) @ vec), status)
        h.run()
        info["rounds"] += 1
        if not use_cuts:
            break
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kInfeasible or h.getInfo().primal_solution_status != 2:
            break
        val = np.asarray(h.getSolution().col_value)
        val = np.where(np.isin(np.arange(mip.n), np.concatenate([info["X"].ravel(), info["R"].ravel()])),
                       np.rint(val), val)
        cuts2 = _separate(model, info, val, max_per_zone=10**9)
        log.debug("integer round %d: %s, objective %.6f, %d connectivity cuts", info["rounds"],
                  h.modelStatusToString(st), -float(h.getInfo().objective_function_value), len(cuts2))
        if not cuts2:
            info["connected"] = True
            break
        info["connected"] = False
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        for cols, coef, _ in cuts2:
            mip.rows(1, np.zeros(len(cols)), cols, coef, -np.inf, 0.0)
        info["cuts"] += len(cuts2)
    return h, info, mip


def solve_exact(
    model: ZoningModel,
    *,
    time_limit: float | None = 60.0,
    mip_gap: float = 1e-6,
    seed: int = 0,
    start: np.ndarray | None = None,
    cut_rounds: int = 200,
    progress: Any = None,
) -> SolveResult:
    """Solve ``model`` as a MIP with HiGHS (see the module docstring).

    Returns
    -------
    SolveResult
        ``status`` is ``"optimal"`` (gap below ``mip_gap``) or ``"time_limit"`` (incumbent);
        ``bound`` is HiGHS's dual bound.

    Raises
    ------
    InfeasibleError
        HiGHS proved the instance infeasible; the message names the constraint group whose
        removal makes it feasible (orientation, touching, contiguity) or the size targets.
    SolverError
        No layout found within the time limit, or another solver failure.
    """
    import highspy

    prog = as_progress(progress)
    prog.update(0.0, "building MIP")
    t0 = time.perf_counter()
    h, info, mip = _run(model, drop=frozenset(), time_limit=time_limit, mip_gap=mip_gap, seed=seed,
                        start=start, cut_rounds=cut_rounds)
    status = h.getModelStatus()
    S = highspy.HighsModelStatus
    log.debug("HiGHS: %s after %.2f s (%d columns, %d rows)", h.modelStatusToString(status),
              time.perf_counter() - t0, mip.n, mip.m)
    if status == S.kInfeasible:
        raise InfeasibleError(_diagnose(model, time_limit=time_limit, seed=seed))
    hinfo = h.getInfo()
    has_sol = hinfo.primal_solution_status == 2 or (status == S.kOptimal)
    if not has_sol:
        raise SolverError(f"HiGHS stopped without a layout: {h.modelStatusToString(status)}; raise the time "
                          "limit or use method='heuristic'")
    x = np.asarray(h.getSolution().col_value)[info["X"]]
    lab = np.full(model.cells.n, -1, dtype="int64")
    xr = np.rint(x).astype(bool)
    anyz = xr.any(axis=1)
    lab[info["use"][anyz]] = np.argmax(xr[anyz], axis=1)
    bound = -float(hinfo.mip_dual_bound)
    objective = -float(hinfo.objective_function_value)
    if status == S.kOptimal and info.get("connected", True):
        st = "optimal"
    elif status in (S.kOptimal, S.kTimeLimit, S.kInterrupt, S.kSolutionLimit, S.kIterationLimit):
        st = "time_limit"
    else:
        raise SolverError(f"HiGHS failed: {h.modelStatusToString(status)}")
    if not info.get("connected", True) or (st != "optimal" and "F" not in info and not _all_connected(model, lab)):
        # the relaxation's incumbent still has a disconnected zone: fall back on the warm start
        if start is None:
            raise SolverError("the MIP stopped at the time limit before its layout was contiguous; raise the "
                              "time limit or use method='heuristic'")
        lab = np.asarray(start, dtype="int64").copy()
        objective = model.evaluate(lab).objective
        st = "time_limit"
    prog.update(1.0, f"MIP {st}")
    return SolveResult(labels=lab, status=st, bound=max(bound, objective), objective=objective,
                       info={"columns": mip.n, "rows": mip.m, "time_s": time.perf_counter() - t0,
                             "mip_gap": float(hinfo.mip_gap), "nodes": int(hinfo.mip_node_count),
                             "cuts": int(info.get("cuts", 0)), "mip_rounds": int(info.get("rounds", 1)),
                             "root_lp_bound": float(info.get("root_lp_bound", float("nan")))})


def _all_connected(model: ZoningModel, labels: np.ndarray) -> bool:
    from iptown_gis.zoning.check import check_layout

    return all(c.passed for c in check_layout(model, labels) if c.name.startswith("contiguity"))


def _diagnose(model: ZoningModel, *, time_limit: float | None, seed: int) -> str:
    """Name the constraint group that makes ``model`` infeasible."""
    import highspy

    tl = 30.0 if time_limit is None else max(min(time_limit, 30.0), 1.0)
    tried = []
    for group in ("orientation", "touching", "contiguity"):
        tried.append(group)
        h, _, _ = _run(model, drop=frozenset(tried), time_limit=tl, mip_gap=1.0, seed=seed, start=None)
        if h.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
            what = {"orientation": f"orientation (the wings cannot lie on opposite sides of the body along "
                                   f"bearing {model.axis_bearing:g} deg)",
                    "touching": "touching (a wing cannot touch the body)",
                    "contiguity": "contiguity (a zone cannot be one connected piece of its size)"}[group]
            extra = "" if len(tried) == 1 else f" (together with {', '.join(tried[:-1])})"
            return f"no feasible layout: the constraint that cannot be met is {what}{extra}"
    return ("no feasible layout: the size targets cannot be met with the usable cells "
            f"(lower {model.lower.tolist()}, upper {model.upper.tolist()}, {model.measure})")
