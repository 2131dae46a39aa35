"""Break and sustain points (two regions) and the racetrack economy, found numerically.

Everything here uses the general R-region code (:func:`~iptown_gis.neg.equilibrium.short_run`
and :func:`~iptown_gis.neg.stability.stability`); the closed forms of FKV (1999) eqs. 5.21
and 5.28 (:func:`break_point_closed_form`, :func:`sustain_point_closed_form`) are provided to
check them.

* **break point** ``T_B``: the trade cost where the symmetric distribution ``(1/2, 1/2)``
  changes stability: unstable for ``1 < T < T_B``, stable above;
* **sustain point** ``T_S``: the largest trade cost at which the core-periphery pattern
  ``(1, 0)`` is an equilibrium nobody leaves (``omega_periphery <= omega_core``);
* **racetrack**: ``R`` regions on a ring, neighbour distance 1, ``d_ij`` = steps on the
  shorter arc, ``T = exp(tau * d)``; :func:`racetrack_break_tau` finds the ``tau`` above which
  the uniform distribution is stable (the largest ``tau`` where the largest eigenvalue of the
  dynamics' Jacobian on the simplex changes sign). For ``R = 2`` it equals ``log(T_B)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from scipy.optimize import brentq

from iptown_gis.errors import ParameterError
from iptown_gis.neg.equilibrium import short_run
from iptown_gis.neg.model import NEGModel, NEGParams, ring_distance  # ring_distance: its old home
from iptown_gis.neg.stability import stability
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = [
    "break_point",
    "break_point_closed_form",
    "racetrack_break_tau",
    "racetrack_max_eigenvalue",
    "ring_distance",
    "sustain_point",
    "sustain_point_closed_form",
    "two_region_model",
]

log = logging.getLogger(__name__)

#: Search range of log T for the two-region points.
_LOG_T_RANGE = (1e-5, 30.0)


def two_region_model(T: float, *, sigma: float, mu: float) -> NEGModel:
    """The symmetric two-region economy with trade cost ``T`` (agriculture split evenly).

    Parameters
    ----------
    T
        The iceberg trade cost between the two regions (>= 1).
    sigma, mu
        As in :class:`~iptown_gis.neg.model.NEGParams`.
    """
    return NEGModel.from_trade_costs([[1.0, T], [T, 1.0]], sigma=sigma, mu=mu)


def break_point_closed_form(sigma: float, mu: float) -> float:
    """FKV eq. 5.28: ``T_B^(1-sigma) = (rho - mu)/(rho + mu) * (1 - mu)/(1 + mu)``."""
    p = NEGParams(sigma=sigma, mu=mu, strict=True)
    rho = p.rho
    return float((((rho - mu) / (rho + mu)) * ((1 - mu) / (1 + mu))) ** (1.0 / (1.0 - sigma)))


def sustain_point_closed_form(sigma: float, mu: float) -> float:
    """FKV eq. 5.21: ``T^-mu [ (1+mu)/2 T^(1-sigma) + (1-mu)/2 T^(sigma-1) ]^(1/sigma) = 1``."""
    NEGParams(sigma=sigma, mu=mu, strict=True)

    def f(x: float) -> float:
        T = np.exp(x)
        return float(-mu * x + np.log((1 + mu) / 2 * T ** (1 - sigma) + (1 - mu) / 2 * T ** (sigma - 1)) / sigma)

    return float(np.exp(_last_crossing(f, *_LOG_T_RANGE, sign=-1)))


def _last_crossing(f: Callable[[float], float], lo: float, hi: float, *, sign: int, n: int = 200,
                   prog: Progress | None = None) -> float:
    """The largest ``x`` in ``[lo, hi]`` where ``f`` crosses zero going from ``sign`` to ``-sign``."""
    xs = np.geomspace(lo, hi, n)
    vals = np.empty(n)
    for k, x in enumerate(xs):
        vals[k] = f(float(x))
        if prog is not None:
            prog.update((k + 1) / (n + 10), f"scan {k + 1}/{n}")
    found = None
    for k in range(n - 1, 0, -1):
        a, b = vals[k - 1], vals[k]
        if sign * a > 0 and sign * b <= 0:
            found = k
            break
    if found is None:
        raise ParameterError(
            f"no stability change found for log T / tau in [{lo:g}, {hi:g}] (the function keeps the sign "
            f"{'+' if vals[-1] > 0 else '-'}); check the no-black-hole condition sigma * (1 - mu) > 1")
    a, b = float(xs[found - 1]), float(xs[found])
    if vals[found] == 0:
        return b
    return float(brentq(f, a, b, xtol=1e-14, rtol=1e-13, maxiter=200))


def break_point(sigma: float, mu: float, *, progress: ProgressCallback | Progress | None = None) -> float:
    """The two-region break point ``T_B``, found numerically with the general R-region code.

    The largest eigenvalue of the replicator Jacobian on the simplex at ``(1/2, 1/2)`` is
    positive for ``1 < T < T_B`` and negative above; the root is bracketed on a grid of
    ``log T`` and refined with Brent's method.

    Parameters
    ----------
    sigma, mu
        As in :class:`~iptown_gis.neg.model.NEGParams`.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Raises
    ------
    ParameterError
        Bad parameters, or no break point (a violated no-black-hole condition).
    """
    return _two_region_root(lambda m: stability(m, [0.5, 0.5]).max_eigenvalue, sigma=sigma, mu=mu, sign=+1,
                            what="break point", progress=progress)


def sustain_point(sigma: float, mu: float, *, progress: ProgressCallback | Progress | None = None) -> float:
    """The two-region sustain point ``T_S``, found numerically with the general R-region code.

    At the core-periphery pattern ``lam = (1, 0)``, ``omega_periphery / omega_core - 1`` is
    negative for ``1 < T < T_S`` (the core is sustainable) and positive above.

    Parameters
    ----------
    sigma, mu
        As in :class:`~iptown_gis.neg.model.NEGParams`.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Raises
    ------
    ParameterError
        Bad parameters, or no sustain point (a violated no-black-hole condition).
    """
    def gap(m: NEGModel) -> float:
        sr = short_run(m, [1.0, 0.0])
        return float(np.log(sr.real_wage[1] / sr.real_wage[0]))

    return _two_region_root(gap, sigma=sigma, mu=mu, sign=-1, what="sustain point", progress=progress)


def _two_region_root(g: Callable[[NEGModel], float], *, sigma: float, mu: float, sign: int, what: str,
                     progress: ProgressCallback | Progress | None) -> float:
    """The trade cost ``T`` of the last sign change (``sign``) of ``g`` on the two-region economy."""
    prog = as_progress(progress)
    NEGParams(sigma=sigma, mu=mu)

    def f(x: float) -> float:
        return g(two_region_model(float(np.exp(x)), sigma=sigma, mu=mu))

    x = _last_crossing(f, *_LOG_T_RANGE, sign=sign, n=60, prog=prog)
    prog.update(1.0, what)
    return float(np.exp(x))


def racetrack_max_eigenvalue(n: int, *, tau: float, sigma: float, mu: float) -> float:
    """Largest eigenvalue (real part) of the replicator Jacobian on the simplex at the uniform
    distribution of the ``n``-region racetrack with ``T = exp(tau * ring_steps)``.

    Parameters
    ----------
    n
        Number of regions on the ring.
    tau
        Trade-cost rate per ring step.
    sigma, mu
        As in :class:`~iptown_gis.neg.model.NEGParams`.
    """
    if int(n) < 2:
        raise ParameterError(f"ring = {n}: a racetrack needs at least 2 regions")
    m = NEGModel.racetrack(int(n), tau=tau, sigma=sigma, mu=mu)
    return stability(m, np.full(int(n), 1.0 / int(n))).max_eigenvalue


def racetrack_break_tau(
    n: int, *, sigma: float, mu: float, tau_range: tuple[float, float] = (1e-4, 30.0), grid: int = 80,
    progress: ProgressCallback | Progress | None = None,
) -> float:
    """The ``tau`` above which the uniform distribution on the ``n``-region ring is stable.

    Scans ``tau`` on a geometric grid for the largest sign change (+ to -) of
    :func:`racetrack_max_eigenvalue` and refines it with Brent's method.

    Parameters
    ----------
    n
        Number of regions on the ring (>= 2).
    sigma, mu
        As in :class:`~iptown_gis.neg.model.NEGParams`.
    tau_range, grid
        The ``tau`` range scanned and the number of grid points in it.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Raises
    ------
    ParameterError
        ``n < 2``, bad parameters, or no change of stability in ``tau_range``.
    """
    prog = as_progress(progress)
    if int(n) < 2:
        raise ParameterError(f"ring = {n}: a racetrack needs at least 2 regions")
    NEGParams(sigma=sigma, mu=mu)
    lo, hi = float(tau_range[0]), float(tau_range[1])
    if not 0 < lo < hi:
        raise ParameterError(f"tau_range = {tau_range!r}: need 0 < low < high")

    def f(tau: float) -> float:
        return racetrack_max_eigenvalue(n, tau=tau, sigma=sigma, mu=mu)

    tau = _last_crossing(f, lo, hi, sign=+1, n=grid, prog=prog)
    prog.update(1.0, "break tau")
    return tau
