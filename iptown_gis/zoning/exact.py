"""Exact zoning: a mixed-integer program with flow-based contiguity, solved with HiGHS.

Variables (usable cells ``i``, zones ``d``, directed adjacency arcs ``(i, j)``):

* ``x[i,d]`` binary: cell ``i`` in zone ``d``; ``r[i,d]`` binary: ``i`` is the root of ``d``;
* ``f[ij,d] >= 0``: single-commodity flow of zone ``d`` (Shirabe 2005): the root emits up to
  ``M_d - 1`` units, every other cell of the zone consumes one, flow only runs between cells of
  the zone (``f <= (M_d - 1) x`` at both ends), so every cell is reached from the root through
  the zone: the zone is connected;
* touching: ``t[ij] <= x[i,a], t[ij] <= x[j,b], sum t >= 1``;
* orientation, exactly linearised: ``S_a A_b - S_b A_a >= margin * max A_a * max A_b`` where
  ``S`` is the area-weighted projection sum and ``A`` the area of a zone; each product of a
  binary ``x`` and a bounded zone area is a McCormick variable (exact for binaries), or a
  constant when both areas are fixed;
* compactness ``y[ij,d] = x[i,d] x[j,d]`` and affinity ``z = x[i,d] x[j,e]`` products (only
  when their weights are positive).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from iptown_gis.errors import InfeasibleError, SolverError
from iptown_gis.progress import as_progress
from iptown_gis.zoning.heuristic import SolveResult

if TYPE_CHECKING:
    from iptown_gis.zoning.model import ZoningModel

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

    def highs(self, *, time_limit: float | None, mip_gap: float, seed: int) -> Any:
        import highspy

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        if time_limit is not None:
            h.setOptionValue("time_limit", float(time_limit))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("random_seed", int(seed) % (2**31 - 1))
        h.setOptionValue("threads", 1)
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
        lp.integrality_ = [highspy.HighsVarType(int(t)) for t in np.concatenate(self.integ)]
        h.passModel(lp)
        return h


def build_mip(model: ZoningModel, *, drop: frozenset[str] = frozenset()) -> tuple[_MIP, dict[str, Any]]:
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
        R = mip.vars(nu * K, 0, 1, 0.0, integer=True).reshape(nu, K)
        info["R"] = R
        for d in range(K):
            mip.rows(1, np.zeros(nu), R[:, d], 1.0, 1.0 if model.lower[d] > 0 else 0.0, 1.0)
        mip.le(R.ravel(), X.ravel())
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
            mip.rows(1, np.zeros(2 * me), np.concatenate([T1, T2]), 1.0, 1.0, np.inf)
            tlist.append((a, b, T1, T2))
    info["T"] = tlist
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
    return mip, info


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
        arcs = info["arcs"]
        arc_id = {(int(i), int(j)): k for k, (i, j) in enumerate(arcs.tolist())}
        nbrs: list[list[int]] = [[] for _ in range(nu)]
        for i, j in e.tolist():
            nbrs[i].append(j)
            nbrs[j].append(i)
        for d in range(K):
            mem = np.flatnonzero(lab == d)
            if len(mem) == 0:
                continue
            root = int(mem[0])
            val[info["R"][root, d]] = 1.0
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
    for a, b, T1, T2 in info["T"]:
        val[T1] = xv[e[:, 0], a] * xv[e[:, 1], b]
        val[T2] = xv[e[:, 0], b] * xv[e[:, 1], a]
    if "AZ" in info:
        ar = cs.areas[use] / cs.areas[use].mean()
        for d in range(K):
            val[info["AZ"][d]] = float((ar * xv[:, d]).sum())
        for xa, ob, P in info["W"]:
            val[P] = xv[:, xa] * float((ar * xv[:, ob]).sum())
    return val


def _run(model: ZoningModel, *, drop: frozenset[str], time_limit: float | None, mip_gap: float, seed: int,
         start: np.ndarray | None) -> tuple[Any, dict[str, Any], _MIP]:
    mip, info = build_mip(model, drop=drop)
    h = mip.highs(time_limit=time_limit, mip_gap=mip_gap, seed=seed)
    if start is not None:
        import highspy

        sol = highspy.HighsSolution()
        sol.col_value = _start_vector(model, mip, info, start).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    return h, info, mip


def solve_exact(
    model: ZoningModel,
    *,
    time_limit: float | None = 60.0,
    mip_gap: float = 1e-6,
    seed: int = 0,
    start: np.ndarray | None = None,
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
                        start=start)
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
    if status == S.kOptimal:
        st = "optimal"
    elif status in (S.kTimeLimit, S.kInterrupt, S.kSolutionLimit, S.kIterationLimit):
        st = "time_limit"
    else:
        raise SolverError(f"HiGHS failed: {h.modelStatusToString(status)}")
    prog.update(1.0, f"MIP {st}")
    return SolveResult(labels=lab, status=st, bound=bound, objective=-float(hinfo.objective_function_value),
                       info={"columns": mip.n, "rows": mip.m, "time_s": time.perf_counter() - t0,
                             "mip_gap": float(hinfo.mip_gap), "nodes": int(hinfo.mip_node_count)})


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
