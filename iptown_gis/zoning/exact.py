"""Exact zoning: a mixed-integer program with cut-based contiguity, solved with HiGHS.

"Exact" means that the MIP's feasible layouts are those of :class:`ZoningModel` (checked
against brute force, with size tolerances and axis margins, in
``tests/zoning/test_exact_brute_force.py``), so ``"optimal"`` and the bound are the model's.
:func:`build_mip` calls one builder per constraint family (``_add_assignment``,
``_add_sizes``, ``_add_roots``, ``_add_compactness``, ``_add_affinity``, ``_add_touching``,
``_add_contact_bound``, ``_add_contact_flow``, ``_add_orientation``, ``_add_contact_position``,
``_add_single_flow``).

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
* orientation, the model's own condition ``S_a / A_a - S_b / A_b >= margin`` (``S`` the
  area-weighted projection sum, ``A`` the area of a zone) times ``A_a A_b``:
  ``S_a A_b - S_b A_a >= margin * A_a * A_b`` with the layout's areas. With the McCormick
  columns ``P_i = x[i,a] A_b`` and ``Q_i = x[i,b] A_a`` (exact for binary ``x`` and bounded
  areas) all three products are linear, ``A_a A_b = sum_i area_i P_i`` included, so the row is
  an exact reformulation, not a relaxation or a restriction (a constant right-hand side
  ``margin * max A_a * max A_b`` would cut off layouts with smaller zones); a plain linear row
  when both areas are fixed;
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
from dataclasses import dataclass
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


@dataclass
class _Frame:
    """What every constraint builder shares: the model, the MIP under construction, the usable
    cells (positions ``0..nu-1``) with their adjacency, and ``info`` (the column blocks built so
    far, read by the cut separation and the warm start)."""

    model: ZoningModel
    mip: _MIP
    info: dict[str, Any]
    use: np.ndarray  # cell id of each usable position
    edges: np.ndarray  # adjacency between usable positions, (me, 2)
    edge_len: np.ndarray  # shared boundary of each edge in mean cell sides
    s: np.ndarray  # suitability (nu, K)
    w: np.ndarray  # size measure of each usable cell
    per: np.ndarray  # perimeter of each usable cell in mean cell sides
    amin: float
    amax: float
    max_cells: np.ndarray  # most cells a zone can hold (M_d)

    @property
    def nu(self) -> int:
        return len(self.use)

    @property
    def K(self) -> int:
        return self.model.k

    @property
    def me(self) -> int:
        return len(self.edges)


def _frame(model: ZoningModel) -> _Frame:
    """The usable cells of ``model`` renumbered ``0..nu-1``, their adjacency and measures."""
    cs = model.cells
    use = np.flatnonzero(~cs.excluded)
    nu = len(use)
    pos = np.full(cs.n, -1)
    pos[use] = np.arange(nu)
    e = pos[cs.edges]
    ok = (e >= 0).all(axis=1)
    amin, amax = float(cs.areas[use].min()), float(cs.areas[use].max())
    if model.measure == "cells":
        mcnt = np.minimum(np.floor(model.upper + 1e-9), nu)
    else:
        mcnt = np.minimum(np.floor(model.upper / amin + 1e-9), nu)
    return _Frame(model=model, mip=_MIP(), info={"use": use, "edges": e[ok]}, use=use, edges=e[ok],
                  edge_len=cs.edge_length[ok] / cs.side, s=model.suitability[use],
                  w=model.size_weight[use], per=cs.perimeters[use] / cs.side, amin=amin, amax=amax,
                  max_cells=mcnt)


def _add_assignment(f: _Frame) -> np.ndarray:
    """Assignment columns ``x[i,d]`` (binary) and rows ``sum_d x[i,d] <= 1`` (``= 1`` under cover).

    The objective (minimised, so negated) is ``-s[i,d] x[i,d]`` plus, with a compactness
    weight, each cell's full perimeter ``w_c per_i x[i,d]`` (the shared sides are given back by
    :func:`_add_compactness`). Sets ``info["X"]`` ``(nu, K)``.
    """
    m, mip, nu, K = f.model, f.mip, f.nu, f.K
    wc = m.compactness_weight
    xc = -f.s + (wc * f.per[:, None] if wc > 0 else 0.0)
    X = mip.vars(nu * K, 0, 1, xc.ravel(), integer=True).reshape(nu, K)
    f.info["X"] = X
    mip.rows(nu, np.repeat(np.arange(nu), K), X.ravel(), 1.0, 1.0 if m.cover else 0.0, 1.0)
    return X


def _add_sizes(f: _Frame) -> None:
    """Size rows ``L_d <= sum_i m_i x[i,d] <= U_d`` (``m_i`` = 1 or the cell area)."""
    m, X = f.model, f.info["X"]
    f.mip.rows(f.K, np.tile(np.arange(f.K), f.nu), X.ravel(), np.repeat(f.w, f.K), m.lower, m.upper)


def _add_roots(f: _Frame) -> None:
    """Roots and the local contiguity rows every formulation needs.

    ``r[i,d]`` binary marks the root of ``d``: exactly one per non-empty zone, ``r <= x``, and
    the root is the zone's lowest-numbered cell within ``M_d - 1`` adjacency steps
    (``x[i,d] <= sum r[j,d]`` over ``j <= i`` within reach; roots that cannot reach a zone's lower
    size are fixed to 0: symmetry breaking and distance-based variable fixing). A member that is
    not the root has a neighbour in its zone. Sets ``info["R"]``, ``info["D"]`` (hop distances)
    and ``info["arcs"]`` (both directions of every edge).
    """
    m, mip, info, nu, K = f.model, f.mip, f.info, f.nu, f.K
    X, e, w, mcnt = info["X"], f.edges, f.w, f.max_cells
    D = hop_distances(nu, e)
    later = np.arange(nu)[None, :] >= np.arange(nu)[:, None]  # later[r, i]: i >= r
    rub = np.ones((nu, K))
    for d in range(K):
        reach = later & (mcnt[d] - 1 >= D)
        if m.measure == "cells":
            rub[:, d] = reach.sum(axis=1) >= m.lower[d] - 1e-9
        else:
            rub[:, d] = (reach * w[None, :]).sum(axis=1) >= m.lower[d] - 1e-9
    R = mip.vars(nu * K, 0, 1, 0.0, integer=True).reshape(nu, K)
    mip.ub[-1] = rub.ravel()
    info["R"] = R
    info["D"] = D
    for d in range(K):
        mip.rows(1, np.zeros(nu), R[:, d], 1.0, 1.0 if m.lower[d] > 0 else 0.0, 1.0)
    mip.le(R.ravel(), X.ravel())
    # x[i,d] <= sum of r[j,d] over j <= i within M_d - 1 steps of i
    for d in range(K):
        rr_, ii_ = np.nonzero(later & (mcnt[d] - 1 >= D) & (rub[:, d] > 0)[:, None])
        mip.rows(nu, np.concatenate([np.arange(nu), ii_]), np.concatenate([X[:, d], R[rr_, d]]),
                 np.concatenate([np.ones(nu), -np.ones(len(ii_))]), -np.inf, 0.0)
    # a member that is not the root has a neighbour in its zone: x_i - r_i - sum_j x_j <= 0
    if f.me:
        ends = np.concatenate([e, e[:, ::-1]])
        for d in range(K):
            rr = np.concatenate([np.arange(nu), np.arange(nu), ends[:, 0]])
            cc = np.concatenate([X[:, d], R[:, d], X[ends[:, 1], d]])
            vv = np.concatenate([np.ones(nu), -np.ones(nu), -np.ones(len(ends))])
            mip.rows(nu, rr, cc, vv, -np.inf, 0.0)
    info["arcs"] = np.concatenate([e, e[:, ::-1]])


def _add_compactness(f: _Frame) -> None:
    """Shared-side products ``y[ij,d] <= x[i,d], x[j,d]`` rewarded ``2 w_c len_ij`` (the
    perimeter term), only with a positive compactness weight. Sets ``info["Y"]``."""
    wc, mip, X, e = f.model.compactness_weight, f.mip, f.info["X"], f.edges
    if not (wc > 0 and f.me):
        return
    Y = np.empty((f.me, f.K), dtype="int64")
    for d in range(f.K):
        Y[:, d] = mip.vars(f.me, 0, 1, -2.0 * wc * f.edge_len)
        mip.le(Y[:, d], X[e[:, 0], d])
        mip.le(Y[:, d], X[e[:, 1], d])
    f.info["Y"] = Y


def _add_affinity(f: _Frame) -> None:
    """Contact products ``z[ij] = x[i,a] x[j,b]`` for zone pairs with a non-zero affinity: upper
    McCormick rows for a reward, the lower row ``z >= x_ia + x_jb - 1`` for a penalty. Sets
    ``info["Z"]`` (list of ``(a, b, columns)``)."""
    m, mip, X, e = f.model, f.mip, f.info["X"], f.edges
    wa, A, K = m.affinity_weight, m.affinity, f.K
    zlist: list[tuple[int, int, np.ndarray]] = []
    f.info["Z"] = zlist
    if not (wa > 0 and f.me):
        return
    for d in range(K):
        for g in range(d + 1, K):
            if A[d, g] == 0:
                continue
            for a, b in ((d, g), (g, d)):
                Z = mip.vars(f.me, 0, 1, -wa * A[d, g] * f.edge_len)
                if A[d, g] > 0:
                    mip.le(Z, X[e[:, 0], a])
                    mip.le(Z, X[e[:, 1], b])
                else:  # z >= x_ia + x_jb - 1
                    k = len(Z)
                    rr = np.arange(k)
                    mip.rows(k, np.concatenate([rr, rr, rr]), np.concatenate([Z, X[e[:, 0], a], X[e[:, 1], b]]),
                             np.concatenate([np.ones(k), -np.ones(k), -np.ones(k)]), -1.0, np.inf)
                zlist.append((a, b, Z))


def _add_touching(f: _Frame) -> None:
    """Touching: for each pair ``(a, b)`` exactly one contact edge, ``t[ij] <= x[i,a], x[j,b]``
    (``T1``: the ``a``-end is ``edges[:, 0]``; ``T2``: the reverse), ``sum t = 1``. The contact
    then acts as a unit commodity for :func:`_add_contact_flow` and the contact-rooted cuts.
    Sets ``info["T"]`` (list of ``(a, b, T1, T2)``)."""
    mip, X, e, me = f.mip, f.info["X"], f.edges, f.me
    tlist: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    f.info["T"] = tlist
    if not me:
        return
    for a, b in f.model.touches:
        T1 = mip.vars(me, 0, 1)
        T2 = mip.vars(me, 0, 1)
        mip.le(T1, X[e[:, 0], a])
        mip.le(T1, X[e[:, 1], b])
        mip.le(T2, X[e[:, 0], b])
        mip.le(T2, X[e[:, 1], a])
        mip.rows(1, np.zeros(2 * me), np.concatenate([T1, T2]), 1.0, 1.0, 1.0)
        tlist.append((a, b, T1, T2))


def _add_contact_bound(f: _Frame) -> None:
    """Contact bound: ``sum_i s[i,a] x[i,a] <= sum G(i, j) t[ij]``, ``G(i, j)`` the best total
    suitability of a connected set of ``a``'s size through its contact cell ``i`` avoiding the
    cell ``j`` of ``b`` it touches (exact by enumeration when cheap, else a ball bound, see
    :mod:`iptown_gis.zoning._connected_sets`); contacts with no such set are fixed to 0."""
    from iptown_gis.zoning._connected_sets import best_through

    m, mip, info, nu, me, e = f.model, f.mip, f.info, f.nu, f.me, f.edges
    X, s, use = info["X"], f.s, f.use
    g = m.cells.adjacency()[use][:, use].tocsr()
    g.sort_indices()
    if m.measure == "cells":
        lo_c = np.ceil(m.lower - 1e-9)
    else:
        lo_c = np.ceil(m.lower / f.amax - 1e-9)
    for a, _b, T1, T2 in info["T"]:
        best, _ = best_through(g.indptr, g.indices, s[:, a], int(max(lo_c[a], 1)), int(f.max_cells[a]), info["D"])
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


def _add_contact_flow(f: _Frame) -> None:
    """Contact flow: one unit leaves the contact's cell of ``b`` and reaches ``b``'s root
    through cells of ``b`` (node capacities ``x[., b]``). Its LP is as strong as every cut
    ``t(C + N(C)) <= x_b(N(C)) + r_b(C)``, which stops the relaxation from touching a wing
    with a thin fractional trail of ``b``. Sets ``info["TF"]`` (list of ``(a, b, columns)``)."""
    mip, info, nu, me, e = f.mip, f.info, f.nu, f.me, f.edges
    X, R, arcs = info["X"], info["R"], info["arcs"]
    na = len(arcs)
    info["TF"] = []
    for a, b, T1, T2 in info["T"]:
        Fc = mip.vars(na, 0.0, 1.0)
        info["TF"].append((a, b, Fc))
        # conservation at j: in - out + t_b(j) - r_b[j] = 0 (t_b: contacts whose b-end is j)
        rr = np.concatenate([arcs[:, 1], arcs[:, 0], e[:, 1], e[:, 0], np.arange(nu)])
        cc = np.concatenate([Fc, Fc, T1, T2, R[:, b]])
        vv = np.concatenate([np.ones(na), -np.ones(na), np.ones(me), np.ones(me), -np.ones(nu)])
        mip.rows(nu, rr, cc, vv, 0.0, 0.0)
        # node capacity: in + t_b(j) <= x[j, b]
        rr = np.concatenate([arcs[:, 1], e[:, 1], e[:, 0], np.arange(nu)])
        cc = np.concatenate([Fc, T1, T2, X[:, b]])
        vv = np.concatenate([np.ones(na), np.ones(me), np.ones(me), -np.ones(nu)])
        mip.rows(nu, rr, cc, vv, -np.inf, 0.0)


def _add_orientation(f: _Frame) -> None:
    r"""Orientation, exactly: for each pair ``(a, b)`` in ``order``, the model's condition

    .. math:: S_a / A_a - S_b / A_b \ge \mu

    (``S`` the area-weighted projection sum, ``A`` the area of a zone, ``mu`` the margin; both
    in cell units) multiplied by :math:`A_a A_b > 0`:

    .. math:: S_a A_b - S_b A_a - \mu A_a A_b \ge 0 .

    With :math:`P_i = x_{ia} A_b` and :math:`Q_i = x_{ib} A_a`, each product of a binary and a
    zone area in :math:`[A^{lo}, A^{hi}]` is a McCormick column (exact for a binary ``x``):
    :math:`S_a A_b = \sum_i q_i a_i P_i`, :math:`S_b A_a = \sum_i q_i a_i Q_i` and
    :math:`A_a A_b = \sum_i a_i P_i`, so the row
    :math:`\sum_i (q_i - \mu) a_i P_i - \sum_i q_i a_i Q_i \ge 0` is the condition itself, not
    a stricter one. When both areas are fixed (equal bounds) it is the linear row
    :math:`S_a / A_a - S_b / A_b \ge \mu`. A zone whose lower size is 0 is required to be
    non-empty (its centroid must exist). Sets ``info["AZ"]`` (zone areas) and ``info["W"]``
    (list of ``(x zone, area zone, P columns)``).
    """
    m, mip, info, nu, K, use = f.model, f.mip, f.info, f.nu, f.K, f.use
    cs, X = m.cells, info["X"]
    wlist: list[tuple[int, int, np.ndarray]] = []
    info["W"] = wlist
    if not m.order:
        return
    q = m.projection[use]
    q = (q - q.mean()) / cs.side
    amean = cs.areas[use].mean()
    ar = cs.areas[use] / amean
    aq = ar * q
    if m.measure == "area":
        zlo, zhi = m.lower / amean, m.upper / amean
    else:
        zlo = m.lower * f.amin / amean
        zhi = m.upper * f.amax / amean
    fixed = [bool(np.isclose(zlo[d], zhi[d])) for d in range(K)]
    margin = m.margin / cs.side
    AZ = mip.vars(K, 0.0, np.inf)  # zone areas (in mean cell areas)
    for d in range(K):
        mip.rows(1, np.zeros(nu + 1), np.concatenate([X[:, d], [AZ[d]]]),
                 np.concatenate([ar, [-1.0]]), 0.0, 0.0)
    info["AZ"] = AZ
    for d in sorted({z for pair in m.order for z in pair}):
        if zlo[d] <= 0:  # the orientation needs the zone's centroid: at least one cell
            mip.rows(1, np.zeros(nu), X[:, d], 1.0, 1.0, np.inf)
    for a, b in m.order:
        if fixed[a] and fixed[b]:
            # S_a / A_a - S_b / A_b >= margin with constant areas
            mip.rows(1, np.zeros(2 * nu), np.concatenate([X[:, a], X[:, b]]),
                     np.concatenate([aq / zlo[a], -aq / zlo[b]]), margin, np.inf)
            continue
        # P = x_a * A_b, Q = x_b * A_a (McCormick, exact for binary x)
        cols = []
        for xa, ob in ((a, b), (b, a)):
            P = mip.vars(nu, 0.0, zhi[ob])
            lo_o, hi_o = zlo[ob], zhi[ob]
            # P <= hi x ; P >= lo x
            mip.le(P, X[:, xa], hi_o)
            rr = np.arange(nu)
            mip.rows(nu, np.concatenate([rr, rr]), np.concatenate([P, X[:, xa]]),
                     np.concatenate([np.ones(nu), np.full(nu, -lo_o)]), 0.0, np.inf)
            # P <= A_ob - lo (1 - x)  ->  P - A_ob - lo x <= -lo
            # P >= A_ob - hi (1 - x)  ->  P - A_ob - hi x >= -hi
            for bound_c, lo_r, hi_r in ((lo_o, -np.inf, -lo_o), (hi_o, -hi_o, np.inf)):
                rr2 = np.concatenate([rr, rr, rr])
                cc2 = np.concatenate([P, np.full(nu, AZ[ob]), X[:, xa]])
                vv2 = np.concatenate([np.ones(nu), -np.ones(nu), np.full(nu, -bound_c)])
                mip.rows(nu, rr2, cc2, vv2, lo_r, hi_r)
            cols.append(P)
            wlist.append((xa, ob, P))
        # S_a A_b - S_b A_a - margin A_a A_b >= 0, with A_a A_b = sum_i ar_i P_i
        mip.rows(1, np.zeros(2 * nu), np.concatenate(cols), np.concatenate([aq - margin * ar, -aq]),
                 0.0, np.inf)


def _add_contact_position(f: _Frame) -> None:
    """The position of each contact along the axis, in cell widths, as an integer column: the
    relaxation mixes contacts at different distances from the body's centre, and a branch on
    this column (contact west / east of a position) splits those mixtures. Sets ``info["P"]``
    (list of ``(a, b, column, position per cell)``); only with the contact flow."""
    m, mip, info, e, me = f.model, f.mip, f.info, f.edges, f.me
    info["P"] = []
    if not (info["T"] and "TF" in info):
        return
    q = m.projection[f.use]
    k = np.floor((q - q.min()) / m.cells.side + 1e-9)
    for a, b, T1, T2 in info["T"]:
        P = mip.vars(1, 0.0, float(k.max()), 0.0, integer=True)
        mip.rows(1, np.zeros(2 * me + 1), np.concatenate([T1, T2, P]),
                 np.concatenate([k[e[:, 1]], k[e[:, 0]], [-1.0]]), 0.0, 0.0)
        info["P"].append((a, b, P, k))


def _add_single_flow(f: _Frame) -> None:
    """The single-commodity flow (Shirabe 2005), the complete contiguity model without cuts:
    the root of ``d`` emits up to ``M_d - 1`` units, every member absorbs one, and flow runs only
    between cells of ``d``. Sets ``info["F"]`` ``(arcs, K)``."""
    mip, info, nu = f.mip, f.info, f.nu
    X, arcs, R = info["X"], info["arcs"], info["R"]
    na = len(arcs)
    F = np.empty((na, f.K), dtype="int64")
    for d in range(f.K):
        cap = max(f.max_cells[d] - 1.0, 0.0)
        F[:, d] = mip.vars(na, 0.0, cap)
        mip.le(F[:, d], X[arcs[:, 0], d], cap)
        mip.le(F[:, d], X[arcs[:, 1], d], cap)
        # inflow - outflow - x + M r >= 0
        rr = np.concatenate([arcs[:, 1], arcs[:, 0], np.arange(nu), np.arange(nu)])
        cc = np.concatenate([F[:, d], F[:, d], X[:, d], R[:, d]])
        vv = np.concatenate([np.ones(na), -np.ones(na), -np.ones(nu), np.full(nu, f.max_cells[d])])
        mip.rows(nu, rr, cc, vv, 0.0, np.inf)
    info["F"] = F


def build_mip(model: ZoningModel, *, drop: frozenset[str] = frozenset(),
              flow: bool = True) -> tuple[_MIP, dict[str, Any]]:
    """Build the MIP of ``model``, one builder per constraint family (see the module docstring).

    Parameters
    ----------
    model
        The zoning model.
    drop
        Constraint groups to leave out (for the infeasibility diagnosis): ``"orientation"``,
        ``"touching"``, ``"contiguity"``.
    flow
        Add the single-commodity flow (the complete model without lazy connectivity cuts).

    Returns
    -------
    (mip, info)
        The MIP (a minimisation of the negated objective) and its column blocks by name
        (``X``, ``R``, ``T``, ``AZ``, ...), used by the cut separation and the warm start.
    """
    f = _frame(model)
    contiguity = "contiguity" not in drop
    _add_assignment(f)
    _add_sizes(f)
    if contiguity:
        _add_roots(f)
    _add_compactness(f)
    _add_affinity(f)
    if "touching" in drop:
        f.info["T"] = []
    else:
        _add_touching(f)
    if contiguity and f.info["T"]:
        _add_contact_bound(f)
        _add_contact_flow(f)
    if "orientation" in drop:
        f.info["W"] = []
    else:
        _add_orientation(f)
    _add_contact_position(f)
    if flow and contiguity:
        _add_single_flow(f)
    return f.mip, f.info


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

    Parameters
    ----------
    model
        The zoning model (cells, zones, targets and weights).
    time_limit
        Wall-clock limit in seconds for the whole solve, the root cut loop (at most 30 % of it)
        and the re-solves included (default 60; ``None``: no limit).
    mip_gap
        Relative MIP gap at which HiGHS stops as optimal (default ``1e-6``).
    seed
        HiGHS's random seed (the same seed gives the same layout).
    start
        A layout (one zone index per cell, ``-1`` = unused, e.g. the heuristic's) passed to
        HiGHS as the incumbent; also the fallback when the time limit leaves a disconnected
        zone. ``None``: no warm start.
    cut_rounds
        Rounds of contiguity cuts on the LP relaxation before the MIP (default 200); ``0``:
        the single-commodity flow formulation instead of cuts.
    progress
        Progress reporter or callback (``None``: silent).

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
