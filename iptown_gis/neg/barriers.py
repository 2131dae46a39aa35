"""Heterogeneous mobility: migration barriers, moving costs and immobile amenities.

The plain FKV dynamics ``d lam_r/dt = (omega_r - omega_bar) lam_r`` can be written as pairwise
flows ``d lam_r/dt = lam_r * sum_s lam_s (omega_r - omega_s)`` (on the simplex). This module
generalises those flows:

* **barriers** ``B[r, s] >= 0`` (symmetric; e.g. hukou registration barriers for knowledge
  workers) damp the flow between ``r`` and ``s`` by ``kappa = exp(-B)``;
* **moving costs** ``C[s, r] >= 0`` (may be asymmetric) in real-wage units: workers move
  from ``s`` to ``r`` only for the part of the utility gain above ``C[s, r]``;
* **amenities** ``a_r >= 0``: immobile region-specific amenities (universities, a science
  centre) that raise the utility of living in ``r`` by the factor ``1 + a_r``;
* **congestion** ``theta >= 0``: immobile factors (land, housing, amenities) shared by the
  residents, so utility falls with crowding by the factor ``(R * lam_r)^-theta``; this
  favours dispersion (every region keeps some workers when ``theta > 0``).

The migration utility is ``u_r = omega_r (1 + a_r) (R lam_r)^-theta`` and the flows::

    d lam_r/dt = lam_r * sum_s lam_s kappa_rs [ (u_r - u_s - C_sr)^+ - (u_s - u_r - C_rs)^+ ]

With no barriers, moving costs, amenities or congestion this is exactly the FKV replicator.
Barriers only slow flows (the rest points stay the same, the basins of attraction change);
moving costs widen the set of rest points (a distribution is frozen when every utility gap is
below its moving cost), which is how lower barriers change where workers end up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from iptown_gis.errors import ParameterError
from iptown_gis.neg.model import FloatArray, check_cost_matrix

__all__ = ["Mobility", "flows", "utility"]


def _as_opt(a: ArrayLike | None) -> FloatArray | None:
    return None if a is None else np.asarray(a, dtype=np.float64)


@dataclass
class Mobility:
    """Heterogeneous mobility of the mobile workers (all defaults: the plain FKV dynamics).

    Parameters
    ----------
    barrier
        ``(R, R)`` symmetric, non-negative, zero diagonal; flows damped by ``exp(-barrier)``.
    moving_cost
        ``(R, R)`` non-negative, zero diagonal; ``moving_cost[s, r]`` is the utility gain a
        worker needs before moving from ``s`` to ``r`` (real-wage units).
    amenity
        ``(R,)`` non-negative immobile amenity premiums.
    congestion
        ``theta >= 0``, elasticity of utility to crowding of immobile factors.
    """

    barrier: FloatArray | None = None
    moving_cost: FloatArray | None = None
    amenity: FloatArray | None = None
    congestion: float = 0.0

    def __post_init__(self) -> None:
        self.barrier = _as_opt(self.barrier)
        self.moving_cost = _as_opt(self.moving_cost)
        self.amenity = _as_opt(self.amenity)
        self.congestion = float(self.congestion)
        if not np.isfinite(self.congestion) or self.congestion < 0:
            raise ParameterError(f"congestion = {self.congestion!r}: must be finite and >= 0")

    @property
    def pairwise(self) -> bool:
        """Whether flows need the pairwise (``R x R``) form."""
        return self.barrier is not None or self.moving_cost is not None

    @property
    def kappa(self) -> FloatArray | None:
        """Mobility factors ``exp(-barrier)`` (``None`` = all one)."""
        return None if self.barrier is None else np.exp(-self.barrier)

    def check(self, n: int) -> None:
        """Validate against ``n`` regions.

        Raises
        ------
        ParameterError
            Wrong shapes, NaN / negative entries, non-zero diagonals, an asymmetric barrier.
        """
        if self.barrier is not None:
            b = check_cost_matrix(self.barrier, name="barrier matrix")
            if b.shape[0] != n:
                raise ParameterError(f"barrier matrix is {b.shape[0]}x{b.shape[0]} but the model has {n} regions")
            if not np.allclose(b, b.T, rtol=1e-9, atol=1e-12, equal_nan=False):
                i, j = (int(v) for v in np.argwhere(~np.isclose(b, b.T))[0])
                raise ParameterError(f"barrier matrix must be symmetric: [{i}, {j}] = {b[i, j]!r} but "
                                     f"[{j}, {i}] = {b[j, i]!r}; put asymmetric frictions in moving_cost")
            if np.isinf(b).any():
                raise ParameterError("barrier matrix has inf entries: use a large finite barrier instead")
        if self.moving_cost is not None:
            c = check_cost_matrix(self.moving_cost, name="moving-cost matrix")
            if c.shape[0] != n:
                raise ParameterError(f"moving-cost matrix is {c.shape[0]}x{c.shape[0]} but the model has "
                                     f"{n} regions")
        if self.amenity is not None:
            a = self.amenity.reshape(-1)
            if a.shape[0] != n:
                raise ParameterError(f"amenity has {a.shape[0]} values but the model has {n} regions")
            if not np.isfinite(a).all() or (a < 0).any():
                i = int(np.flatnonzero(~(np.isfinite(a) & (a >= 0)))[0])
                raise ParameterError(f"amenity[{i}] = {a[i]!r}: amenities must be finite and >= 0")


def _factor(lam: FloatArray, mob: Mobility) -> FloatArray:
    n = lam.shape[0]
    f = np.ones(n) if mob.amenity is None else 1.0 + mob.amenity
    if mob.congestion > 0:
        with np.errstate(divide="ignore"):
            f = f * (n * lam) ** (-mob.congestion)
    return f


def utility(lam: FloatArray, real_wage: FloatArray, mob: Mobility) -> FloatArray:
    """Migration utility ``u = omega (1 + a) (R lam)^-theta``.

    Parameters
    ----------
    lam
        ``(R,)`` shares of the mobile workers by region (on the simplex).
    real_wage
        ``(R,)`` real wages ``omega`` at ``lam``.
    mob
        The mobility frictions; its ``amenity`` ``a`` and ``congestion`` ``theta`` enter here.

    Returns
    -------
    numpy.ndarray
        ``(R,)`` utilities; ``real_wage`` itself when there are no amenities and no congestion.
        A region with ``lam = 0`` under congestion has infinite utility.
    """
    if mob.amenity is None and mob.congestion == 0:
        return real_wage
    return real_wage * _factor(lam, mob)


def utility_jacobian(lam: FloatArray, u: FloatArray, domega: FloatArray, mob: Mobility) -> FloatArray:
    """``du/dlam`` from ``domega/dlam``."""
    if mob.amenity is None and mob.congestion == 0:
        return domega
    J = _factor(lam, mob)[:, None] * domega
    if mob.congestion > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            J[np.diag_indices_from(J)] -= mob.congestion * u / lam
    return J


def _gaps(u: FloatArray, mob: Mobility) -> tuple[FloatArray, FloatArray]:
    """Pairwise net gains ``g[r, s]`` (kappa included) and the active mask (derivative 1)."""
    D = u[:, None] - u[None, :]  # u_r - u_s
    if mob.moving_cost is None:
        g = D.copy()
        active = np.ones_like(D)
    else:
        C = mob.moving_cost
        CT = C.T  # CT[r, s] = C[s, r]: cost of moving s -> r
        g = np.maximum(D - CT, 0.0) - np.maximum(-D - C, 0.0)
        active = ((D > CT) | (-D > C) | ((C == 0) & (CT == 0))).astype(np.float64)
    k = mob.kappa
    if k is not None:
        g *= k
        active *= k
    return g, active


def flows(lam: FloatArray, u: FloatArray, mob: Mobility) -> FloatArray:
    """``d lam / dt`` at ``lam`` with utilities ``u``.

    Parameters
    ----------
    lam
        ``(R,)`` shares of the mobile workers by region (on the simplex).
    u
        ``(R,)`` migration utilities at ``lam`` (:func:`utility`).
    mob
        The mobility frictions: without barriers and moving costs the flows are the FKV
        replicator ``lam (u - lam . u)``; with them, the pairwise flows of the module docstring.

    Returns
    -------
    numpy.ndarray
        ``(R,)`` time derivatives of the shares (they sum to zero).
    """
    if not mob.pairwise:
        return lam * (u - float(lam @ u))
    g, _ = _gaps(u, mob)
    return lam * (g @ lam)


def flows_jacobian(lam: FloatArray, u: FloatArray, du: FloatArray, mob: Mobility) -> FloatArray:
    """``d(flows)/d lam`` (``R x R``) given ``du/dlam``."""
    if not mob.pairwise:
        ubar = float(lam @ u)
        J = lam[:, None] * (du - (u[None, :] + (lam @ du)[None, :]))
        J[np.diag_indices_from(J)] += u - ubar
        return J
    g, active = _gaps(u, mob)
    M = active * lam[None, :]
    J = lam[:, None] * g + lam[:, None] * (M.sum(axis=1)[:, None] * du - M @ du)
    J[np.diag_indices_from(J)] += g @ lam
    return J
