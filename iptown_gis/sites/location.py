"""Location models for choosing k towns jointly: p-median and maximal covering (MCLP).

Both are solved exactly as mixed-integer programs with HiGHS (``highspy``); the reported
optimality gap is HiGHS's relative MIP gap (0 when proven optimal with the default
``mip_gap=0``). The API follows PySAL spopt: a class per model with a
:meth:`~PMedian.from_cost_matrix` constructor and a :meth:`~PMedian.solve` method that returns
``self`` and leaves the results in attributes ending in ``_``.

Notation: demand points ``i`` (weight ``w_i``), candidate sites ``j``, network cost ``c_ij``
(NaN or inf = unreachable), ``p`` sites to open, binary ``y_j`` = site ``j`` is open.

Optional side constraints, shared by both models:

- at most ``max_per_group`` open sites per group (e.g. prefecture): ``sum_{j in g} y_j <= N``;
- minimum spacing ``s`` between open sites: ``y_j + y_l <= 1`` for every pair with
  ``min(d_jl, d_lj) < s`` (``d`` = candidate-to-candidate cost);
- predefined sites that must be open: ``y_j = 1``.

References
----------
ReVelle, C. S. and Swain, R. W. (1970). Central facilities location. Geographical Analysis 2(1).
Church, R. and ReVelle, C. (1974). The maximal covering location problem. Papers of the Regional
Science Association 32(1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from iptown_gis.errors import InfeasibleError, ParameterError, SolverError
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = ["MCLP", "LocationModel", "PMedian", "max_cover", "p_median"]

log = logging.getLogger(__name__)


def _highspy() -> Any:
    """The ``highspy`` module (see :mod:`iptown_gis._highs`)."""
    from iptown_gis._highs import import_highspy

    return import_highspy()


class LocationModel:
    """Common parts of :class:`PMedian` and :class:`MCLP` (constraints, solve, results).

    Attributes set by :meth:`solve`
    -------------------------------
    selected_ : numpy.ndarray
        Positions of the open candidates (ascending).
    selected_ids_ : list
        Their ids.
    objective_ : float
        Objective value of the solution (total weighted cost, or covered weight).
    dual_bound_ : float
        HiGHS's best bound on the optimum.
    gap_ : float
        Relative optimality gap ``|objective - bound| / |objective|`` (0 = proven optimal).
    status_ : str
        HiGHS model status (``"Optimal"``, ``"Time limit reached"``, ...).
    assignment_ : numpy.ndarray
        For each demand point, the position of its nearest open candidate (-1 if none reachable).
    cost_to_nearest_ : numpy.ndarray
        Cost from each demand point to its nearest open candidate (inf if none).
    runtime_ : float
        Solve time in seconds.
    """

    name = "location model"
    sense_max = False

    selected_: np.ndarray
    selected_ids_: list[Any]
    objective_: float
    dual_bound_: float
    gap_: float
    status_: str
    assignment_: np.ndarray
    cost_to_nearest_: np.ndarray
    runtime_: float
    nodes_: int
    n_variables_: int
    n_rows_: int

    def __init__(
        self,
        cost: np.ndarray,
        *,
        p_facilities: int,
        weights: np.ndarray | Sequence[float] | None = None,
        candidate_ids: Sequence[Any] | None = None,
        demand_ids: Sequence[Any] | None = None,
        groups: Sequence[Any] | np.ndarray | None = None,
        max_per_group: int | None = None,
        candidate_cost: np.ndarray | None = None,
        min_spacing: float | None = None,
        predefined: Sequence[int] | None = None,
        mip_gap: float = 0.0,
        time_limit: float | None = None,
    ) -> None:
        c = np.asarray(cost, dtype=float)
        if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
            raise ParameterError(f"cost must be a non-empty 2-D matrix (demand x candidates), got {c.shape}")
        n, m = c.shape
        c = np.where(np.isnan(c), np.inf, c)
        if (c < 0).any():
            raise ParameterError("cost must be non-negative")
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
        if w.size != n:
            raise ParameterError(f"{w.size} weights for {n} demand points (rows of the cost matrix)")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ParameterError("demand weights must be finite and non-negative")
        p = int(p_facilities)
        if p < 1:
            raise ParameterError(f"k (p_facilities) must be at least 1, got {p}")
        if p > m:
            raise ParameterError(f"k = {p} is larger than the number of candidates ({m}); lower k")
        if groups is not None and len(groups) != m:
            raise ParameterError(f"{len(groups)} group labels for {m} candidates")
        if max_per_group is not None and groups is None:
            raise ParameterError("max_per_group needs a group (prefecture) label per candidate")
        if min_spacing is not None:
            if candidate_cost is None:
                raise ParameterError("min_spacing needs the candidate-to-candidate cost matrix")
            cc = np.asarray(candidate_cost, dtype=float)
            if cc.shape != (m, m):
                raise ParameterError(f"candidate_cost must be {m} x {m}, got {cc.shape}")
        if not 0.0 <= mip_gap < 1.0:
            raise ParameterError(f"mip_gap must be in [0, 1), got {mip_gap}")
        self.cost = c
        self.weights = w
        self.p_facilities = p
        self.candidate_ids = list(candidate_ids) if candidate_ids is not None else list(range(m))
        self.demand_ids = list(demand_ids) if demand_ids is not None else list(range(n))
        if len(self.candidate_ids) != m or len(self.demand_ids) != n:
            raise ParameterError("candidate_ids / demand_ids must match the cost matrix shape")
        self.groups = None if groups is None else np.asarray(groups)
        self.max_per_group = max_per_group
        self.candidate_cost = None if candidate_cost is None else np.asarray(candidate_cost, dtype=float)
        self.min_spacing = min_spacing
        self.predefined = sorted({int(j) for j in (predefined or [])})
        if any(j < 0 or j >= m for j in self.predefined):
            raise ParameterError(f"predefined candidate positions must be in 0..{m - 1}")
        if len(self.predefined) > p:
            raise InfeasibleError(f"{len(self.predefined)} predefined sites but only k = {p} may open")
        self.mip_gap = float(mip_gap)
        self.time_limit = time_limit

    @classmethod
    def from_cost_matrix(
        cls, cost_matrix: np.ndarray, weights: np.ndarray | Sequence[float] | None = None,
        *, p_facilities: int, **kwargs: Any,
    ) -> LocationModel:
        """Build the model from a ``(demand, candidates)`` cost matrix (NaN = unreachable).

        Parameters
        ----------
        cost_matrix
            ``(n_demand, n_candidates)`` cost (NaN = unreachable).
        weights
            Demand weights (default 1 each).
        p_facilities
            Number of sites to open.
        **kwargs
            The other options of the model's constructor (side constraints, solver options).
        """
        return cls(cost_matrix, p_facilities=p_facilities, weights=weights, **kwargs)

    # -- model building -------------------------------------------------------------------
    def _side_rows(self) -> tuple[list[np.ndarray], list[np.ndarray], list[float], list[float], int]:
        """Rows over y only: cardinality, group caps, spacing pairs. Returns (cols, vals, lo, hi)."""
        m = self.cost.shape[1]
        cols: list[np.ndarray] = [np.arange(m)]
        vals: list[np.ndarray] = [np.ones(m)]
        lo: list[float] = [float(self.p_facilities)]
        hi: list[float] = [float(self.p_facilities)]
        if self.groups is not None and self.max_per_group is not None:
            labels, inv = np.unique(self.groups.astype(str), return_inverse=True)
            for g in range(labels.size):
                members = np.nonzero(inv == g)[0]
                if members.size > self.max_per_group:
                    cols.append(members)
                    vals.append(np.ones(members.size))
                    lo.append(-np.inf)
                    hi.append(float(self.max_per_group))
        n_pairs = 0
        if self.min_spacing is not None and self.candidate_cost is not None:
            cc = np.where(np.isnan(self.candidate_cost), np.inf, self.candidate_cost)
            sym = np.minimum(cc, cc.T)
            a, b = np.nonzero(np.triu(sym < self.min_spacing, k=1))
            n_pairs = a.size
            for j, l_ in zip(a, b):
                cols.append(np.array([j, l_]))
                vals.append(np.ones(2))
                lo.append(-np.inf)
                hi.append(1.0)
        return cols, vals, lo, hi, n_pairs

    def _build(self) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              np.ndarray]:
        raise NotImplementedError

    def _solve_lp(self, prog: Progress) -> np.ndarray:
        highspy = _highspy()
        a, cost, col_lo, col_hi, row_lo, row_hi, integ = self._build()
        lp = highspy.HighsLp()
        lp.num_col_ = int(a.shape[1])
        lp.num_row_ = int(a.shape[0])
        lp.col_cost_ = cost
        lp.col_lower_ = col_lo
        lp.col_upper_ = col_hi
        lp.row_lower_ = row_lo
        lp.row_upper_ = row_hi
        lp.sense_ = highspy.ObjSense.kMaximize if self.sense_max else highspy.ObjSense.kMinimize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
                           for f in integ]
        from iptown_gis._highs import new_highs

        h = new_highs()
        h.setOptionValue("mip_rel_gap", self.mip_gap)
        h.setOptionValue("random_seed", 0)
        if self.time_limit is not None:
            h.setOptionValue("time_limit", float(self.time_limit))
        h.passModel(lp)
        prog.update(0.1, f"{self.name}: solving {lp.num_col_} variables x {lp.num_row_} rows with HiGHS")
        t0 = time.perf_counter()
        h.run()
        self.runtime_ = time.perf_counter() - t0
        status = h.getModelStatus()
        self.status_ = h.modelStatusToString(status)
        info = h.getInfo()
        if status == highspy.HighsModelStatus.kInfeasible:
            raise InfeasibleError(
                f"{self.name} is infeasible (HiGHS: {self.status_}) with k = {self.p_facilities}"
                f"{self._constraint_text()}; relax the constraints or change k"
            )
        has_solution = int(info.primal_solution_status) == 2  # kSolutionStatusFeasible
        if status != highspy.HighsModelStatus.kOptimal and not has_solution:
            raise SolverError(f"{self.name} is not solved: HiGHS status {self.status_!r}, no feasible solution")
        if status != highspy.HighsModelStatus.kOptimal:
            log.warning("%s: HiGHS stopped with status %r; the solution may not be optimal (gap %.4g)",
                        self.name, self.status_, info.mip_gap)
        self.gap_ = float(max(info.mip_gap, 0.0)) if np.isfinite(info.mip_gap) else float("inf")
        self.dual_bound_ = float(info.mip_dual_bound)
        self.nodes_ = int(info.mip_node_count)
        self.n_variables_ = lp.num_col_
        self.n_rows_ = lp.num_row_
        return np.asarray(h.getSolution().col_value, dtype=float)

    def _constraint_text(self) -> str:
        parts = []
        if self.max_per_group is not None:
            parts.append(f"max_per_prefecture = {self.max_per_group}")
        if self.min_spacing is not None:
            parts.append(f"min_spacing = {self.min_spacing}")
        if self.predefined:
            parts.append(f"{len(self.predefined)} predefined sites")
        return (" under " + ", ".join(parts)) if parts else ""

    def _y_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.cost.shape[1]
        lo = np.zeros(m)
        lo[self.predefined] = 1.0
        return lo, np.ones(m)

    def _finish(self, y: np.ndarray) -> None:
        sel = np.nonzero(y > 0.5)[0]
        self.selected_ = sel
        self.selected_ids_ = [self.candidate_ids[j] for j in sel]
        sub = self.cost[:, sel]
        self.assignment_ = np.where(np.isfinite(sub).any(axis=1), sel[np.argmin(sub, axis=1)], -1)
        self.cost_to_nearest_ = sub.min(axis=1)

    def coverage(self, standard: float) -> dict[str, float]:
        """Share of demand weight within ``standard`` of an open site (after :meth:`solve`)."""
        within = self.cost_to_nearest_ <= standard
        total = float(self.weights.sum())
        cov = float(self.weights[within].sum())
        return {"standard": float(standard), "covered_weight": cov, "total_weight": total,
                "covered_share": cov / total if total > 0 else float("nan"),
                "covered_points": int(within.sum()), "total_points": int(within.size)}

    def summary(self) -> dict[str, Any]:
        """Solver report: status, objective, bound, gap, runtime, chosen ids."""
        finite = self.cost_to_nearest_[np.isfinite(self.cost_to_nearest_)]
        wf = self.weights[np.isfinite(self.cost_to_nearest_)]
        return {
            "model": self.name, "k": self.p_facilities, "status": self.status_,
            "objective": self.objective_, "dual_bound": self.dual_bound_, "gap": self.gap_,
            "runtime_s": self.runtime_, "nodes": self.nodes_, "variables": self.n_variables_,
            "rows": self.n_rows_, "selected_ids": list(self.selected_ids_),
            "mean_cost": float(np.average(finite, weights=wf)) if wf.sum() > 0 else float("nan"),
            "max_cost": float(finite.max()) if finite.size else float("nan"),
        }

    def solve(self, *, progress: ProgressCallback | Progress | None = None) -> LocationModel:
        """Solve exactly with HiGHS; results go to the attributes ending in ``_``.

        Raises
        ------
        InfeasibleError
            No feasible choice of sites (the message names the constraints).
        SolverError
            HiGHS stopped without a feasible solution.
        """
        raise NotImplementedError


class PMedian(LocationModel):
    """p-median: open ``p`` sites minimising the total weighted cost to the nearest open site.

    .. math::

        \\min \\sum_i \\sum_j w_i c_{ij} x_{ij}
        \\quad \\text{s.t.} \\quad \\sum_j x_{ij} = 1 \\;\\forall i, \\quad
        x_{ij} \\le y_j, \\quad \\sum_j y_j = p, \\quad y_j \\in \\{0, 1\\}, \\; x_{ij} \\ge 0

    Pairs with infinite cost get no ``x_ij``. The assignment variables are continuous: for any
    integral ``y`` the assignment LP has an integral optimum (each point to its nearest open
    site), so the MIP optimum is exact.

    Parameters
    ----------
    cost
        ``(n_demand, n_candidates)`` network cost (NaN / inf = unreachable).
    p_facilities
        Number of sites to open (k).
    weights
        Demand weights (population, knowledge workers, firms); default 1 each.
    drop_unreachable
        Leave out demand points that reach no candidate (with a warning) instead of raising
        :class:`InfeasibleError`.
    **kwargs
        Side constraints and solver options of :class:`LocationModel`.

    Examples
    --------
    >>> import numpy as np
    >>> m = PMedian.from_cost_matrix(np.array([[0., 5.], [5., 0.], [1., 4.]]), p_facilities=1).solve()
    >>> m.selected_ids_, m.objective_
    ([0], 6.0)
    """

    name = "p-median"
    sense_max = False

    def __init__(self, cost: np.ndarray, *, p_facilities: int, drop_unreachable: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(cost, p_facilities=p_facilities, **kwargs)
        reach = np.isfinite(self.cost).any(axis=1)
        if not reach.all():
            bad = [self.demand_ids[i] for i in np.nonzero(~reach)[0][:10]]
            if not drop_unreachable:
                raise InfeasibleError(
                    f"p-median: {int((~reach).sum())} demand point(s) reach no candidate over the network "
                    f"(e.g. {bad}); connect them, drop them, or use drop_unreachable=True"
                )
            log.warning("p-median: leaving out %d demand point(s) that reach no candidate (e.g. %s)",
                        int((~reach).sum()), bad)
        self._rows_used = np.nonzero(reach)[0]

    def _build(self) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              np.ndarray]:
        c = self.cost[self._rows_used]
        w = self.weights[self._rows_used]
        n, m = c.shape
        ii, jj = np.nonzero(np.isfinite(c))  # x variables, row-major
        nx = ii.size
        # columns: y (m) then x (nx); rows: assignment (n), linking (nx), side rows
        side_cols, side_vals, side_lo, side_hi, _ = self._side_rows()
        r_assign = ii
        r_link = n + np.arange(nx)
        n_side = len(side_cols)
        r_side0 = n + nx
        rows = [r_assign, r_link, r_link]
        cols = [m + np.arange(nx), m + np.arange(nx), jj]
        vals = [np.ones(nx), np.ones(nx), -np.ones(nx)]
        for s, (sc, sv) in enumerate(zip(side_cols, side_vals)):
            rows.append(np.full(sc.size, r_side0 + s))
            cols.append(sc)
            vals.append(sv)
        a = sp.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n + nx + n_side, m + nx),
        )
        a.sort_indices()
        obj = np.concatenate([np.zeros(m), w[ii] * c[ii, jj]])
        ylo, yhi = self._y_bounds()
        col_lo = np.concatenate([ylo, np.zeros(nx)])
        col_hi = np.concatenate([yhi, np.ones(nx)])
        row_lo = np.concatenate([np.ones(n), np.full(nx, -np.inf), side_lo])
        row_hi = np.concatenate([np.ones(n), np.zeros(nx), side_hi])
        integ = np.concatenate([np.ones(m, bool), np.zeros(nx, bool)])
        return a, obj, col_lo, col_hi, row_lo, row_hi, integ

    def solve(self, *, progress: ProgressCallback | Progress | None = None) -> PMedian:
        prog = as_progress(progress)
        x = self._solve_lp(prog)
        m = self.cost.shape[1]
        self._finish(x[:m])
        used = self._rows_used
        self.objective_ = float(np.sum(self.weights[used] * self.cost_to_nearest_[used]))
        prog.update(1.0, f"p-median: objective {self.objective_:.6g}, gap {self.gap_:.3g}")
        log.info("p-median k=%d: %s, objective %.6g, gap %.3g, %.2f s", self.p_facilities, self.status_,
                 self.objective_, self.gap_, self.runtime_)
        return self


class MCLP(LocationModel):
    """Maximal covering: open ``p`` sites maximising the demand weight within ``service_radius``.

    .. math::

        \\max \\sum_i w_i z_i \\quad \\text{s.t.} \\quad z_i \\le \\sum_{j: c_{ij} \\le S} y_j
        \\;\\forall i, \\quad \\sum_j y_j = p, \\quad y_j \\in \\{0, 1\\}, \\; 0 \\le z_i \\le 1

    ``z_i`` may be continuous: for integral ``y`` the optimum sets ``z_i = 1`` exactly for the
    covered points. ``objective_`` is the covered weight; ``covered_`` flags covered points.

    Parameters
    ----------
    cost
        ``(n_demand, n_candidates)`` network cost (NaN / inf = unreachable).
    service_radius
        The coverage standard ``S`` in the unit of ``cost`` (minutes or metres).
    p_facilities
        Number of sites to open (k).
    **kwargs
        Weights, side constraints and solver options of :class:`LocationModel`.
    """

    name = "MCLP"
    sense_max = True

    def __init__(self, cost: np.ndarray, *, service_radius: float, p_facilities: int, **kwargs: Any) -> None:
        super().__init__(cost, p_facilities=p_facilities, **kwargs)
        if not np.isfinite(service_radius) or service_radius <= 0:
            raise ParameterError(f"service_radius (standard) must be positive, got {service_radius}")
        self.service_radius = float(service_radius)

    @classmethod
    def from_cost_matrix(  # type: ignore[override]
        cls, cost_matrix: np.ndarray, weights: np.ndarray | Sequence[float] | None = None, *,
        service_radius: float, p_facilities: int, **kwargs: Any,
    ) -> MCLP:
        """Build the model from a ``(demand, candidates)`` cost matrix (NaN = unreachable).

        Parameters
        ----------
        cost_matrix
            ``(n_demand, n_candidates)`` cost (NaN = unreachable).
        weights
            Demand weights (default 1 each).
        service_radius
            Coverage standard (the unit of the cost).
        p_facilities
            Number of sites to open.
        **kwargs
            Side constraints and solver options of :class:`LocationModel`.
        """
        return cls(cost_matrix, service_radius=service_radius, p_facilities=p_facilities, weights=weights,
                   **kwargs)

    def _build(self) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              np.ndarray]:
        n, m = self.cost.shape
        ii, jj = np.nonzero(self.cost <= self.service_radius)
        side_cols, side_vals, side_lo, side_hi, _ = self._side_rows()
        n_side = len(side_cols)
        # columns: y (m) then z (n); rows: cover (n), side rows
        rows = [np.arange(n), ii]
        cols = [m + np.arange(n), jj]
        vals = [np.ones(n), -np.ones(ii.size)]
        for s, (sc, sv) in enumerate(zip(side_cols, side_vals)):
            rows.append(np.full(sc.size, n + s))
            cols.append(sc)
            vals.append(sv)
        a = sp.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n + n_side, m + n)
        )
        a.sort_indices()
        obj = np.concatenate([np.zeros(m), self.weights])
        ylo, yhi = self._y_bounds()
        col_lo = np.concatenate([ylo, np.zeros(n)])
        col_hi = np.concatenate([yhi, np.ones(n)])
        row_lo = np.concatenate([np.full(n, -np.inf), side_lo])
        row_hi = np.concatenate([np.zeros(n), side_hi])
        integ = np.concatenate([np.ones(m, bool), np.zeros(n, bool)])
        return a, obj, col_lo, col_hi, row_lo, row_hi, integ

    def solve(self, *, progress: ProgressCallback | Progress | None = None) -> MCLP:
        prog = as_progress(progress)
        x = self._solve_lp(prog)
        m = self.cost.shape[1]
        self._finish(x[:m])
        self.covered_ = self.cost_to_nearest_ <= self.service_radius
        self.objective_ = float(self.weights[self.covered_].sum())
        total = float(self.weights.sum())
        self.covered_share_ = self.objective_ / total if total > 0 else float("nan")
        prog.update(1.0, f"MCLP: covered {self.covered_share_:.1%}, gap {self.gap_:.3g}")
        log.info("MCLP k=%d S=%g: %s, covered %.6g (%.1f%%), gap %.3g, %.2f s", self.p_facilities,
                 self.service_radius, self.status_, self.objective_, 100 * self.covered_share_, self.gap_,
                 self.runtime_)
        return self

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out.update({"standard": self.service_radius, "covered_share": self.covered_share_})
        return out


def p_median(cost: np.ndarray, *, k: int, weights: np.ndarray | Sequence[float] | None = None,
             progress: ProgressCallback | Progress | None = None, **kwargs: Any) -> PMedian:
    """Solve a p-median problem exactly (see :class:`PMedian`) and return the solved model.

    Parameters
    ----------
    cost
        ``(n_demand, n_candidates)`` cost (NaN = unreachable).
    k
        Number of sites to open.
    weights
        Demand weights (default 1 each).
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.
    **kwargs
        The other options of :class:`PMedian` (``drop_unreachable``, side constraints, solver
        options).
    """
    return PMedian(cost, p_facilities=k, weights=weights, **kwargs).solve(progress=progress)


def max_cover(cost: np.ndarray, *, k: int, standard: float,
              weights: np.ndarray | Sequence[float] | None = None,
              progress: ProgressCallback | Progress | None = None, **kwargs: Any) -> MCLP:
    """Solve a maximal covering problem exactly (see :class:`MCLP`) and return the solved model.

    Parameters
    ----------
    cost
        ``(n_demand, n_candidates)`` cost (NaN = unreachable).
    k
        Number of sites to open.
    standard
        Coverage standard (the unit of the cost): demand within it of an open site is covered.
    weights
        Demand weights (default 1 each).
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.
    **kwargs
        Side constraints and solver options of :class:`LocationModel`.
    """
    return MCLP(cost, service_radius=standard, p_facilities=k, weights=weights, **kwargs).solve(
        progress=progress)
