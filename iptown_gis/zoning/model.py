"""The zoning problem: assign cells to contiguous zones of given size, maximising suitability.

The same model serves both stages of a "one body, two wings" layout:

* districts: ``body``, ``wing_east`` (cultural copyright), ``wing_west`` (industrial property),
  with unassigned cells allowed;
* modules: the seven functions inside the body (``cover=True``: every body cell is used).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from iptown_gis.errors import ColumnError, InfeasibleError, ParameterError
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.zoning.cells import CellSet, cells_from_polygons
from iptown_gis.zoning.check import check_layout
from iptown_gis.zoning.exact import solve_exact
from iptown_gis.zoning.heuristic import solve_heuristic
from iptown_gis.zoning.result import Evaluation  # re-exported: its old home

__all__ = [
    "DEFAULT_MODULE_AFFINITY",
    "DISTRICTS",
    "MODULES",
    "ZoningModel",
    "axis_vector",
]

log = logging.getLogger(__name__)

#: The three districts of a "one body, two wings" layout.
DISTRICTS: tuple[str, ...] = ("body", "wing_east", "wing_west")
#: The seven modules of the body's demonstration complex (REFERENCE.md section 2).
MODULES: tuple[str, ...] = (
    "ip_management", "ip_trading", "ip_services", "ip_education", "think_tank", "ip_culture", "ip_finance",
)
#: Default module affinities (reward per cell side of shared boundary).
DEFAULT_MODULE_AFFINITY: dict[tuple[str, str], float] = {
    ("ip_trading", "ip_finance"): 1.0,
    ("ip_education", "think_tank"): 1.0,
    ("ip_management", "ip_services"): 0.5,
    ("ip_services", "ip_trading"): 0.5,
    ("ip_culture", "ip_education"): 0.5,
}

#: Upper limit of usable cells for ``method="auto"`` to pick the exact MIP.
AUTO_EXACT_MAX_CELLS = 450


def axis_vector(bearing_deg: float) -> np.ndarray:
    """Unit vector (x east, y north) of a compass bearing in degrees (90 = towards east)."""
    b = np.deg2rad(float(bearing_deg))
    return np.array([np.sin(b), np.cos(b)])


class ZoningModel:
    r"""Contiguous zones of given size maximising suitability (districting with orientation).

    Cells :math:`i` (usable, not excluded), zones :math:`d = 1..K`, binary :math:`x_{id}`.

    .. math::

        \max \sum_{i,d} s_{id} x_{id}
            - w_c \sum_d P_d / \ell
            + w_a \sum_{d<e} A_{de} C_{de} / \ell

    subject to

    * :math:`\sum_d x_{id} \le 1` (``= 1`` when ``cover``), :math:`x_{id} = 0` on excluded cells;
    * size: :math:`L_d \le \sum_i m_i x_{id} \le U_d` with :math:`m_i = 1` (``measure="cells"``)
      or the cell area (``measure="area"``), :math:`[L_d, U_d]` = target :math:`\pm` tolerance;
    * contiguity: the cells of each zone induce a connected subgraph of the adjacency
      (rook for grids, a shared boundary for parcels);
    * touching: for each pair ``(a, b)`` in ``touches`` some cell of ``a`` is adjacent to a
      cell of ``b``;
    * orientation: for each pair ``(a, b)`` in ``order``, the area-weighted centroid of ``a``
      projected on the axis (unit vector of ``axis_bearing``) exceeds that of ``b`` by at
      least ``axis_margin`` metres (default: strictly, by 1 mm).

    :math:`P_d` is zone ``d``'s perimeter, :math:`C_{de}` the boundary length zones ``d`` and
    ``e`` share, :math:`\ell` the mean cell side. With :math:`w_c = w_a = 0` the objective is
    exactly the suitability sum. Use :meth:`from_cells`, :meth:`from_geodataframe` or
    :meth:`districts` / :meth:`modules` to build one; :meth:`solve` returns ``self`` with
    ``labels_`` (zone index per cell, ``-1`` unassigned), ``objective_``, ``bound_``, ``gap_``,
    ``status_``, ``method_``, ``time_``, ``checks_``.

    References
    ----------
    Shirabe, T. (2005). A model of contiguity for spatial unit allocation. Geographical Analysis.
    Duque, J. C., Church, R. L., Middleton, R. S. (2011). The p-regions problem. Geogr. Analysis.
    """

    def __init__(
        self,
        cells: CellSet,
        suitability: np.ndarray,
        *,
        zones: Sequence[str],
        lower: Sequence[float] | np.ndarray,
        upper: Sequence[float] | np.ndarray,
        measure: str = "cells",
        touches: Sequence[tuple[str, str]] = (),
        order: Sequence[tuple[str, str]] = (),
        axis_bearing: float = 90.0,
        axis_margin: float = 0.0,
        cover: bool = False,
        affinity: Mapping[tuple[str, str], float] | np.ndarray | None = None,
        affinity_weight: float = 0.0,
        compactness_weight: float = 0.0,
        check_connected: bool = True,
    ) -> None:
        self.cells = cells
        self.zones = tuple(str(z) for z in zones)
        k = len(self.zones)
        if k == 0 or len(set(self.zones)) != k:
            raise ParameterError(f"zones must be distinct names, got {list(zones)}")
        s = np.asarray(suitability, dtype="float64")
        if s.ndim == 1:
            s = s[:, None]
        if s.shape != (cells.n, k):
            raise ParameterError(f"suitability must be ({cells.n}, {k}) for {cells.n} cells, got {s.shape}")
        bad = ~np.isfinite(s).all(axis=1) & ~cells.excluded
        if bad.any():
            raise ColumnError(
                f"suitability has NaN/infinite values on {int(bad.sum())} usable cell(s) "
                f"(e.g. rows {np.flatnonzero(bad)[:5].tolist()}); fill them or exclude those cells"
            )
        self.suitability = np.where(np.isfinite(s), s, 0.0)
        if measure not in ("cells", "area"):
            raise ParameterError(f"measure must be 'cells' or 'area', got {measure!r}")
        self.measure = measure
        self.lower = np.asarray(lower, dtype="float64").reshape(k)
        self.upper = np.asarray(upper, dtype="float64").reshape(k)
        if (self.lower < 0).any() or (self.upper < self.lower).any() or (self.upper <= 0).any():
            raise ParameterError(f"zone size bounds must satisfy 0 <= lower <= upper, upper > 0; got "
                                 f"lower={self.lower.tolist()}, upper={self.upper.tolist()}")
        idx = {z: i for i, z in enumerate(self.zones)}

        def _pairs(pairs: Sequence[tuple[str, str]], what: str) -> list[tuple[int, int]]:
            out = []
            for a, b in pairs:
                if a not in idx or b not in idx or a == b:
                    raise ParameterError(f"{what} pair ({a!r}, {b!r}) must name two different zones of {self.zones}")
                out.append((idx[a], idx[b]))
            return out

        self.touches = _pairs(touches, "touches")
        self.order = _pairs(order, "order")
        self.axis_bearing = float(axis_bearing)
        if not np.isfinite(self.axis_bearing):
            raise ParameterError(f"axis_bearing must be a number of degrees, got {axis_bearing!r}")
        self.axis_margin = float(axis_margin)
        self.cover = bool(cover)
        A = np.zeros((k, k))
        if affinity is not None:
            if isinstance(affinity, Mapping):
                for (a, b), v in affinity.items():
                    if a not in idx or b not in idx:
                        raise ParameterError(f"affinity pair ({a!r}, {b!r}) names an unknown zone; zones: {self.zones}")
                    A[idx[a], idx[b]] = A[idx[b], idx[a]] = float(v)
            else:
                A = np.asarray(affinity, dtype="float64")
                if A.shape != (k, k):
                    raise ParameterError(f"affinity matrix must be {k} x {k}")
                A = (A + A.T) / 2.0
            np.fill_diagonal(A, 0.0)
        self.affinity = A
        for nm, v in (("affinity_weight", affinity_weight), ("compactness_weight", compactness_weight)):
            if not np.isfinite(v) or v < 0:
                raise ParameterError(f"{nm} must be a non-negative number, got {v!r}")
        self.affinity_weight = float(affinity_weight)
        self.compactness_weight = float(compactness_weight)
        if check_connected:
            cells.check_connected()
        self.labels_: np.ndarray | None = None
        self.objective_: float = float("nan")
        self.bound_: float = float("nan")
        self.gap_: float = float("nan")
        self.status_: str = "not solved"
        self.method_: str = ""
        self.seed_: int | None = None
        self.time_: float = float("nan")
        self.checks_: list[Any] = []
        self.evaluation_: Evaluation | None = None

    # ------------------------------------------------------------- constructors
    @classmethod
    def districts(
        cls,
        cells: CellSet,
        *,
        suit_body: np.ndarray | str,
        suit_east: np.ndarray | str,
        suit_west: np.ndarray | str,
        body: float,
        wing_east: float,
        wing_west: float,
        tolerance: float = 0.0,
        measure: str = "cells",
        axis_bearing: float = 90.0,
        axis_margin: float = 0.0,
        compactness_weight: float = 0.0,
        affinity: Mapping[tuple[str, str], float] | None = None,
        affinity_weight: float = 0.0,
        check_connected: bool = True,
    ) -> ZoningModel:
        """A "one body, two wings" district model.

        Parameters
        ----------
        cells
            The cell set (exclusions in ``cells.excluded``).
        suit_body, suit_east, suit_west
            Suitability per cell for each district: arrays, or column names of ``cells.data``.
        body, wing_east, wing_west
            Size targets: cell counts (``measure="cells"``) or square metres (``"area"``).
        tolerance
            Relative tolerance on each target (0.1 = +-10 %); counts are rounded inwards.
        axis_bearing
            Compass bearing (degrees) of the axis pointing from the west wing to the east wing;
            90 (the default) is the west-east axis.
        compactness_weight, affinity, affinity_weight
            Optional objective terms (see the class docstring).
        measure
            ``"cells"`` (targets are cell counts) or ``"area"`` (square metres).
        axis_margin
            Metres by which the east wing's centroid must lie beyond the body's on the axis, and
            the body's beyond the west wing's (see the class docstring; default strictly).
        check_connected
            Refuse a cell set whose usable cells are not connected (the districts could not be
            contiguous).

        Raises
        ------
        ColumnError
            A suitability column is missing or has NaN on a usable cell.
        ParameterError, InfeasibleError, GeometryError
        """
        s = np.column_stack([
            cells.column(v, what=f"{nm} suitability") if isinstance(v, str) else np.asarray(v, dtype="float64")
            for nm, v in (("body", suit_body), ("wing_east", suit_east), ("wing_west", suit_west))
        ])
        lo, hi = size_bounds([body, wing_east, wing_west], tolerance, measure=measure)
        return cls(cells, s, zones=DISTRICTS, lower=lo, upper=hi, measure=measure,
                   touches=[("wing_east", "body"), ("wing_west", "body")],
                   order=[("wing_east", "body"), ("body", "wing_west")],
                   axis_bearing=axis_bearing, axis_margin=axis_margin, cover=False,
                   affinity=affinity, affinity_weight=affinity_weight,
                   compactness_weight=compactness_weight, check_connected=check_connected)

    @classmethod
    def from_geodataframe(cls, gdf: Any, *, exclude: str | None = None, **kwargs: Any) -> ZoningModel:
        """A district model from cell polygons (metric CRS); ``kwargs`` as in :meth:`districts`.

        Parameters
        ----------
        gdf
            Cell polygons (GeoDataFrame, projected, metres); adjacency is a shared boundary of
            positive length (:func:`~iptown_gis.zoning.cells.cells_from_polygons`).
        exclude
            Optional column whose truthy values mark cells that no district may use.
        **kwargs
            The options of :meth:`districts` (``suit_body``, ``suit_east``, ``suit_west``,
            ``body``, ``wing_east``, ``wing_west``, ``tolerance``, ...); a suitability given
            as text names a column of ``gdf``.

        Returns
        -------
        ZoningModel
            The first-stage model (body and two wings).

        Raises
        ------
        GeometryError
            Empty layer, non-polygon or empty geometries, geographic CRS.
        ColumnError
            ``exclude`` column missing.
        """
        cells = cells_from_polygons(gdf, exclude=exclude)
        return cls.districts(cells, **kwargs)

    @classmethod
    def modules(
        cls,
        cells: CellSet,
        body_mask: np.ndarray,
        *,
        suitability: np.ndarray | None = None,
        shares: Mapping[str, float] | None = None,
        tolerance: float = 0.25,
        affinity: Mapping[tuple[str, str], float] | None = None,
        affinity_weight: float = 0.2,
        compactness_weight: float = 0.0,
    ) -> tuple[ZoningModel, np.ndarray]:
        """The second-stage model: the seven modules partitioning the body's cells.

        Parameters
        ----------
        cells
            The full cell set.
        body_mask
            Cells of the body.
        suitability
            ``(n, 7)`` suitability per module over all cells (default: zeros, so affinities and
            compactness drive the layout).
        shares
            Share of the body per module (default equal); normalised to sum to 1.
        tolerance
            Relative tolerance on each module's size.
        affinity, affinity_weight
            Module pair -> affinity (default
            :data:`~iptown_gis.zoning.model.DEFAULT_MODULE_AFFINITY`) and its weight in the objective.
        compactness_weight
            Weight of the compactness term (see the class docstring).

        Returns
        -------
        (model, ids)
            The model over the body's cells, and the original cell id of each of its cells.
        """
        sub, ids = cells.subset(body_mask)
        sub.excluded = np.zeros(sub.n, dtype=bool)
        k = len(MODULES)
        if shares is None:
            share = np.full(k, 1.0 / k)
        else:
            unknown = set(shares) - set(MODULES)
            if unknown:
                raise ParameterError(f"unknown module(s) {sorted(unknown)} in shares; modules: {MODULES}")
            share = np.array([float(shares.get(m, 0.0)) for m in MODULES])
            if (share <= 0).any():
                raise ParameterError("every module needs a positive share of the body")
            share = share / share.sum()
        if sub.n < k:
            raise InfeasibleError(f"the body has {sub.n} cells, fewer than the {k} modules: enlarge the body")
        target = share * sub.n
        lo = np.maximum(np.floor(target * (1 - tolerance)), 1)
        hi = np.maximum(np.ceil(target * (1 + tolerance)), lo)
        s = np.zeros((sub.n, k)) if suitability is None else np.asarray(suitability, dtype="float64")[ids]
        aff = DEFAULT_MODULE_AFFINITY if affinity is None else affinity
        m = cls(sub, s, zones=MODULES, lower=lo, upper=hi, measure="cells", cover=True,
                affinity=aff, affinity_weight=affinity_weight, compactness_weight=compactness_weight)
        return m, ids

    # ----------------------------------------------------------------- helpers
    @property
    def k(self) -> int:
        return len(self.zones)

    @property
    def size_weight(self) -> np.ndarray:
        """The measure of each cell: 1 (``cells``) or its area (``area``)."""
        return np.ones(self.cells.n) if self.measure == "cells" else self.cells.areas

    @property
    def projection(self) -> np.ndarray:
        """Each cell centroid projected on the axis, metres."""
        return self.cells.centroids @ axis_vector(self.axis_bearing)

    @property
    def margin(self) -> float:
        """The orientation margin actually required (at least 1 mm)."""
        return max(self.axis_margin, 1e-3)

    def usable(self) -> np.ndarray:
        return ~self.cells.excluded

    def evaluate(self, labels: np.ndarray) -> Evaluation:
        """Objective terms of ``labels`` (zone index per cell, -1 unassigned)."""
        lab = np.asarray(labels, dtype="int64")
        cs = self.cells
        on = lab >= 0
        suit = float(self.suitability[np.flatnonzero(on), lab[on]].sum())
        side = cs.side
        e = cs.edges
        la, lb = lab[e[:, 0]], lab[e[:, 1]]
        same = (la == lb) & (la >= 0)
        perim = float(cs.perimeters[on].sum() - 2.0 * cs.edge_length[same].sum()) / side
        diff = (la != lb) & (la >= 0) & (lb >= 0)
        aff = float((self.affinity[la[diff], lb[diff]] * cs.edge_length[diff]).sum()) / side if diff.any() else 0.0
        obj = suit - self.compactness_weight * perim + self.affinity_weight * aff
        return Evaluation(objective=obj, suitability=suit, compactness=perim, affinity=aff)

    def precheck(self) -> None:
        """Cheap feasibility checks; :class:`InfeasibleError` names the constraint that fails."""
        w = self.size_weight
        use = self.usable()
        avail = float(w[use].sum())
        unit = "cells" if self.measure == "cells" else "m2"
        if self.lower.sum() > avail + 1e-9:
            raise InfeasibleError(
                f"size targets: the zones need at least {self.lower.sum():g} {unit} together but only "
                f"{avail:g} {unit} are usable; lower the targets or include more cells"
            )
        if self.cover and self.upper.sum() < avail - 1e-9:
            raise InfeasibleError(
                f"cover: the zones may hold at most {self.upper.sum():g} {unit} but all {avail:g} must be "
                "used; widen the tolerance"
            )
        k, lab = self.cells.components()
        big = max(float(np.bincount(lab[lab >= 0], weights=w[lab >= 0]).max()), 0.0) if k else 0.0
        for d, z in enumerate(self.zones):
            if self.lower[d] > big + 1e-9:
                raise InfeasibleError(
                    f"contiguity: zone {z!r} needs {self.lower[d]:g} {unit} but the largest connected "
                    f"usable area has {big:g}"
                )
            if self.measure == "cells" and np.floor(self.upper[d] + 1e-9) < np.ceil(self.lower[d] - 1e-9):
                raise InfeasibleError(f"size targets: zone {z!r} has no whole cell count in "
                                      f"[{self.lower[d]:g}, {self.upper[d]:g}]; widen the tolerance")
        for a, b in self.touches:
            if self.lower[a] + self.lower[b] > big + 1e-9:
                raise InfeasibleError(
                    f"touching: zones {self.zones[a]!r} and {self.zones[b]!r} must touch but together "
                    f"need more than the largest connected usable area ({big:g} {unit})"
                )

    # ------------------------------------------------------------------- solve
    def solve(
        self,
        *,
        method: str = "auto",
        time_limit: float | None = 60.0,
        seed: int = 0,
        mip_gap: float = 1e-6,
        warm_start: bool = True,
        iterations: int | None = None,
        restarts: int | None = None,
        progress: ProgressCallback | Progress | None = None,
    ) -> ZoningModel:
        """Solve the model; results go to ``labels_``, ``objective_``, ``bound_``, ``gap_``...

        Parameters
        ----------
        method
            ``"exact"`` (MIP with flow contiguity, HiGHS), ``"heuristic"`` (seeded growth and
            simulated annealing) or ``"auto"`` (exact up to ``AUTO_EXACT_MAX_CELLS`` usable
            cells times zones / 3, heuristic beyond).
        time_limit
            Seconds; the exact solver stops with its incumbent (``status_ = "time_limit"``),
            the heuristic stops annealing early.
        seed
            Random seed of the heuristic (same seed, same layout when the time limit does not
            bite) and of HiGHS.
        mip_gap
            Relative gap at which the MIP stops (``status_ = "optimal"`` below it).
        warm_start
            Give the exact solver the heuristic's layout as a starting incumbent (8 restarts
            by default on up to 3,000 usable cells).
        iterations, restarts
            Heuristic effort (default: from the instance size).
        progress
            A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
            cancellation); ``None``: silent.

        Returns
        -------
        ZoningModel
            ``self``.

        Raises
        ------
        InfeasibleError
            No layout satisfies the constraints; the message names the constraint.
        SolverError
            The solver stopped without a layout (e.g. time limit before any was found).
        """
        prog = as_progress(progress)
        if method not in ("auto", "exact", "heuristic"):
            raise ParameterError(f"method must be 'auto', 'exact' or 'heuristic', got {method!r}")
        if time_limit is not None and not time_limit > 0:
            raise ParameterError(f"time_limit must be positive seconds, got {time_limit!r}")
        self.precheck()
        n_use = int(self.usable().sum())
        if method == "auto":
            method = "exact" if n_use * self.k <= AUTO_EXACT_MAX_CELLS * 3 else "heuristic"
        t0 = time.perf_counter()
        self.seed_ = int(seed)
        if method == "heuristic":
            res = solve_heuristic(self, seed=seed, time_limit=time_limit, iterations=iterations,
                                  restarts=restarts, progress=prog)
        else:
            start = None
            p_ex = prog
            if warm_start:
                try:
                    hres = solve_heuristic(self, seed=seed, time_limit=None if time_limit is None
                                           else max(time_limit * 0.3, 0.5),
                                           iterations=iterations,
                                           # a better incumbent prunes more of the tree: more
                                           # restarts than the heuristic's default (3) on the
                                           # small instances the MIP is for (~0.5 s each)
                                           restarts=restarts if restarts is not None else
                                           (8 if n_use <= 3000 else None),
                                           progress=prog.sub(0.0, 0.2), compute_bound=False)
                    start = hres.labels
                except InfeasibleError:
                    start = None
                p_ex = prog.sub(0.2, 1.0)
            remaining = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1.0)
            res = solve_exact(self, time_limit=remaining, mip_gap=mip_gap, seed=seed, start=start,
                              progress=p_ex)
        self.time_ = time.perf_counter() - t0
        self.method_ = method
        self.labels_ = res.labels
        self.evaluation_ = self.evaluate(res.labels)
        self.objective_ = self.evaluation_.objective
        self.bound_ = res.bound
        self.status_ = res.status
        self.gap_ = relative_gap(self.objective_, self.bound_)
        self.checks_ = check_layout(self, res.labels)
        failed = [c for c in self.checks_ if not c.passed]
        if failed:  # never hand back a layout that breaks a hard constraint
            raise InfeasibleError("the solver returned a layout breaking: " +
                                  "; ".join(f"{c.name}: {c.detail}" for c in failed))
        log.info("zoning %s: objective %.4f, bound %.4f, gap %.2e, status %s, %.2f s", method,
                 self.objective_, self.bound_, self.gap_, self.status_, self.time_)
        prog.update(1.0, f"zoning: {self.status_}")
        return self

    def summary(self) -> dict[str, Any]:
        """Results as a JSON-ready dict (objective, bound, gap, method, seed, time, checks)."""
        ev = self.evaluation_
        return {
            "zones": list(self.zones),
            "objective": self.objective_,
            "bound": None if not np.isfinite(self.bound_) else self.bound_,
            "gap": None if not np.isfinite(self.gap_) else self.gap_,
            "status": self.status_,
            "method": self.method_,
            "seed": self.seed_,
            "time_s": round(self.time_, 3),
            "terms": None if ev is None else {
                "suitability": ev.suitability, "perimeter_cell_sides": ev.compactness,
                "affinity_contact_cell_sides": ev.affinity,
                "compactness_weight": self.compactness_weight, "affinity_weight": self.affinity_weight},
            "measure": self.measure,
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "axis_bearing": self.axis_bearing,
            "checks": [c.as_dict() for c in self.checks_],
        }


def relative_gap(objective: float, bound: float) -> float:
    """``(bound - objective) / max(|objective|, 1e-9)`` for a maximisation (NaN without bound)."""
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return float("nan")
    return max(bound - objective, 0.0) / max(abs(objective), 1e-9)


def size_bounds(targets: Sequence[float], tolerance: float, *, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """``[lower, upper]`` per target for a relative ``tolerance`` (cell counts rounded inwards)."""
    t = np.asarray(targets, dtype="float64")
    if not np.isfinite(t).all() or (t <= 0).any():
        raise ParameterError(f"size targets must be positive numbers, got {t.tolist()}")
    if not (0 <= tolerance < 1):
        raise ParameterError(f"tolerance must be in [0, 1), got {tolerance!r}")
    lo, hi = t * (1 - tolerance), t * (1 + tolerance)
    if measure == "cells":
        lo, hi = np.ceil(lo - 1e-9), np.floor(hi + 1e-9)
        if (hi < lo).any():
            raise ParameterError(f"tolerance {tolerance} leaves no whole cell count for targets {t.tolist()}")
    return lo, hi
