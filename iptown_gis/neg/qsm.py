"""A quantitative spatial model: calibrated to today's regions, counterfactuals by exact hat algebra.

The Helpman-type multi-region model of Redding (2016, *Journal of International Economics*
101, "Goods trade, factor mobility and welfare") as surveyed by Redding & Rossi-Hansberg
(2017, *Annual Review of Economics* 9, "Quantitative Spatial Economics"), with imperfect
labour mobility from Fréchet idiosyncratic preferences and origin-based migration costs
(hukou) in the spirit of Tombe & Zhu (2019, *American Economic Review* 109(5)).

Regions ``n = 1..N``; population ``L_n``, wage ``w_n`` (GDP per person), productivity
``A_n``, amenity ``B_n``, housing stock ``H_n``; travel minutes ``t_in`` from ``i`` to ``n``
(diagonal: internal trip time, > 0). Iceberg trade cost ``d_in = t_in^phi``.

* Trade (CES, varieties proportional to population, elasticity ``sigma - 1``)::

      pi_ni = L_i (d_in w_i / A_i)^(1-sigma) / P_n^(1-sigma)   (share of n's spending on i's goods)
      P_n^(1-sigma) = sum_i L_i (d_in w_i / A_i)^(1-sigma)

* Market clearing (housing rents are spent where earned, so spending on goods = wage bill)::

      w_i L_i = sum_n pi_ni w_n L_n

* Housing: income per person ``v_n = w_n / alpha``, rent ``r_n = (1 - alpha) v_n L_n / H_n``.
* Utility of a resident (systematic part)::

      V_n = B_n v_n / (P_n^alpha r_n^(1-alpha))

* Location choice (Fréchet shape ``epsilon``; ``mu_on = exp(m_on) >= 1`` the migration cost of
  a worker registered in ``o`` living in ``n``, ``m_oo = 0``)::

      lambda_on = (V_n / mu_on)^epsilon / sum_k (V_k / mu_ok)^epsilon,   L_n = sum_o L0_o lambda_on

  with ``L0`` the registered (hukou) population. Expected utility of origin ``o``:
  ``W_o ∝ (sum_k (V_k / mu_ok)^epsilon)^(1/epsilon)``.

**Inversion** (:func:`calibrate`): with observed ``L`` and ``Y = w L`` and ``L0 = L`` (today is
a steady state: no data on registered population by region), market clearing gives the
productivities ``A`` (unique up to scale), the migration block gives ``V`` (unique up to
scale) and hence the amenities ``B``. The calibrated model reproduces today exactly.

**Counterfactuals** (:func:`counterfactual`): exact hat algebra (Dekle, Eaton & Kortum 2007):
``x_hat = x' / x``; from the baseline trade shares ``pi`` and migration shares ``lambda``::

      pi'_ni = pi_ni L_hat_i (d_hat_in w_hat_i / A_hat_i)^(1-sigma) / P_hat_n^(1-sigma)
      P_hat_n^(1-sigma) = sum_i pi_ni L_hat_i (d_hat_in w_hat_i / A_hat_i)^(1-sigma)
      w_hat_i L_hat_i Y_i = sum_n pi'_ni w_hat_n L_hat_n Y_n
      V_hat_n = B_hat_n w_hat_n / (P_hat_n^alpha (w_hat_n L_hat_n / H_hat_n)^(1-alpha))
      lambda'_on ∝ lambda_on (V_hat_n / mu_hat_on)^epsilon,   L_hat_n = sum_o L0_o lambda'_on / L_n
      W_hat_o = (sum_k lambda_ok (V_hat_k / mu_hat_ok)^epsilon)^(1/epsilon)

solved by a damped fixed point in ``(log w_hat, log L_hat)``; the numeraire keeps total GDP
fixed (``sum_i w_hat_i L_hat_i Y_i = sum_i Y_i``). :func:`solve_levels` solves the same model
in levels from the fundamentals (the tests check that both agree).

This module is a kernel: arrays in, arrays out (no scenario or configuration imports).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike

from iptown_gis.errors import ConvergenceError, ParameterError
from iptown_gis.neg.model import FloatArray

__all__ = [
    "QSMBaseline",
    "QSMParams",
    "QSMResult",
    "calibrate",
    "counterfactual",
    "internal_minutes",
    "market_access",
    "migration_cost_for_stay_share",
    "solve_levels",
    "stay_share",
    "time_elasticity",
    "wage_equation",
]

log = logging.getLogger(__name__)


def time_elasticity(distance_elasticity: float, trade_elasticity: float) -> float:
    """Elasticity ``phi`` of the iceberg cost to travel time, ``d = t^phi``.

    Gravity gives ``X_in ∝ d_in^(1-sigma) = t_in^(-phi (sigma-1))``; with travel time
    proportional to distance the time elasticity of trade flows equals the distance
    elasticity ``delta``, so ``phi = delta / (sigma - 1)``.

    Raises
    ------
    ParameterError
        A non-positive elasticity.
    """
    if not distance_elasticity > 0 or not trade_elasticity > 0:
        raise ParameterError(f"distance_elasticity = {distance_elasticity!r} and trade_elasticity = "
                             f"{trade_elasticity!r} must both be > 0 (give magnitudes, e.g. 1.0 and 4.0)")
    return float(distance_elasticity) / float(trade_elasticity)


@dataclass(frozen=True)
class QSMParams:
    """Structural parameters (see docs/neg.md for the published sources and ranges).

    Attributes
    ----------
    trade_elasticity
        ``sigma - 1``: elasticity of trade flows to trade costs.
    alpha
        Expenditure share of traded goods (``1 - alpha`` on housing / land).
    epsilon
        Migration elasticity (Fréchet shape of idiosyncratic location preferences).
    distance_elasticity
        Magnitude of the distance (travel-time) elasticity of trade flows.
    migration_cost
        ``m`` in ``mu = exp(m)`` for living outside one's registration region (log utility).
    """

    trade_elasticity: float = 4.0
    alpha: float = 0.75
    epsilon: float = 1.5
    distance_elasticity: float = 1.0
    migration_cost: float = 0.0

    def __post_init__(self) -> None:
        if not self.trade_elasticity > 0:
            raise ParameterError(f"trade_elasticity = {self.trade_elasticity!r}: must be > 0 (sigma - 1)")
        if not 0.0 < self.alpha <= 1.0:
            raise ParameterError(f"alpha = {self.alpha!r}: the tradables share must be in (0, 1]")
        if not self.epsilon > 0:
            raise ParameterError(f"epsilon = {self.epsilon!r}: the migration elasticity must be > 0")
        if not self.distance_elasticity > 0:
            raise ParameterError(f"distance_elasticity = {self.distance_elasticity!r}: must be > 0")
        if not self.migration_cost >= 0:
            raise ParameterError(f"migration_cost = {self.migration_cost!r}: must be >= 0")

    @property
    def sigma(self) -> float:
        """Elasticity of substitution ``1 + trade_elasticity``."""
        return 1.0 + self.trade_elasticity

    @property
    def phi(self) -> float:
        """Time elasticity of the iceberg cost, ``distance_elasticity / trade_elasticity``."""
        return time_elasticity(self.distance_elasticity, self.trade_elasticity)

    @property
    def unique(self) -> bool:
        """Redding (2016)'s sufficient condition for a unique equilibrium, ``sigma (1 - alpha) > 1``,
        relaxed by imperfect mobility; reported, not enforced."""
        return bool(self.sigma * (1.0 - self.alpha) > 1.0)


@dataclass
class QSMBaseline:
    """The calibrated baseline: today's data and the fundamentals that make it an equilibrium."""

    params: QSMParams
    minutes: FloatArray
    population: FloatArray
    gdp: FloatArray
    wage: FloatArray
    productivity: FloatArray
    amenity: FloatArray
    housing: FloatArray
    trade_shares: FloatArray
    price_index: FloatArray
    rent: FloatArray
    utility: FloatArray
    migration_shares: FloatArray
    migration_cost: FloatArray
    registered: FloatArray
    iterations: dict[str, int] = field(default_factory=dict)

    @property
    def shares(self) -> FloatArray:
        """Population shares."""
        return self.population / self.population.sum()

    @property
    def real_income(self) -> FloatArray:
        """``v / (P^alpha r^(1-alpha))``: income per person over the cost of living."""
        a = self.params.alpha
        return self.wage / a / (self.price_index ** a * self.rent ** (1.0 - a))


@dataclass
class QSMResult:
    """A counterfactual as changes from today (hats ``x'/x``) and the new levels."""

    wage_hat: FloatArray
    population_hat: FloatArray
    price_index_hat: FloatArray
    rent_hat: FloatArray
    utility_hat: FloatArray
    welfare_hat: FloatArray
    trade_shares: FloatArray
    migration_shares: FloatArray
    iterations: int
    baseline: QSMBaseline

    @property
    def shares(self) -> FloatArray:
        p = self.baseline.population * self.population_hat
        return p / p.sum()

    @property
    def real_wage_hat(self) -> FloatArray:
        """Change of the wage over the goods price index."""
        return self.wage_hat / self.price_index_hat

    @property
    def real_income_hat(self) -> FloatArray:
        """Change of income over the cost of living (goods and housing)."""
        a = self.baseline.params.alpha
        return self.wage_hat / (self.price_index_hat ** a * self.rent_hat ** (1.0 - a))

    @property
    def aggregate_welfare_hat(self) -> float:
        """Registered-population-weighted mean of the origins' expected-utility changes."""
        r = self.baseline.registered
        return float((r * self.welfare_hat).sum() / r.sum())


def _vec(x: ArrayLike, n: int | None, name: str, *, positive: bool = True) -> FloatArray:
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    if n is not None and v.size != n:
        raise ParameterError(f"{name} has {v.size} values, expected {n} (one per region)")
    if not np.isfinite(v).all() or (positive and (v <= 0).any()):
        bad = int(np.argmax(~np.isfinite(v) | (v <= 0)))
        raise ParameterError(f"{name}[{bad}] = {float(v[bad])!r}: every value must be finite and > 0")
    return v


def _minutes(t: ArrayLike, n: int | None = None) -> FloatArray:
    m = np.asarray(t, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ParameterError(f"travel-time matrix must be square, got shape {m.shape}")
    if n is not None and m.shape[0] != n:
        raise ParameterError(f"travel-time matrix is {m.shape[0]} x {m.shape[0]}, expected {n} regions")
    if not np.isfinite(m).all() or (m <= 0).any():
        raise ParameterError("travel-time matrix needs finite minutes > 0 everywhere, the diagonal included "
                             "(internal trip times: see internal_minutes)")
    return m


def internal_minutes(minutes: ArrayLike, *, area_km2: ArrayLike | None = None,
                     speed_kmh: float = 60.0) -> FloatArray:
    """The travel-time matrix with internal trip times on the diagonal.

    With ``area_km2`` the diagonal is the Keeble internal distance ``(2/3) sqrt(area / pi)`` at
    ``speed_kmh``; without, half the time to the nearest other region (Head & Mayer's
    convention for internal distance). Off-diagonal zeros (co-located seats) become the
    smaller of the two internal times.

    Parameters
    ----------
    minutes
        ``(R, R)`` travel times between the regions in minutes (the diagonal is replaced).
    area_km2
        ``(R,)`` region areas in km² (``None``: use half the time to the nearest other region).
    speed_kmh
        Speed of internal trips in km/h, used with ``area_km2`` (default 60).

    Returns
    -------
    numpy.ndarray
        A new ``(R, R)`` matrix in minutes, positive everywhere.

    Raises
    ------
    ParameterError
        A non-square matrix, negative or NaN times, non-positive areas or speed.
    """
    m = np.array(minutes, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ParameterError(f"travel-time matrix must be square, got shape {m.shape}")
    n = m.shape[0]
    off = ~np.eye(n, dtype=bool)
    if np.isnan(m).any() or (m[off] < 0).any():
        raise ParameterError("travel-time matrix has NaN or negative minutes")
    if not speed_kmh > 0:
        raise ParameterError(f"speed_kmh = {speed_kmh!r}: must be > 0")
    if area_km2 is not None:
        a = _vec(area_km2, n, "area_km2")
        diag = (2.0 / 3.0) * np.sqrt(a / np.pi) / speed_kmh * 60.0
    else:
        if n < 2:
            raise ParameterError("one region: give area_km2 for its internal trip time")
        pos = np.where(off & (m > 0), m, np.inf)
        diag = 0.5 * pos.min(axis=1)
        if not np.isfinite(diag).all():
            raise ParameterError("a region has no positive travel time to any other: give area_km2")
    np.fill_diagonal(m, diag)
    m = np.where(off & (m <= 0), np.minimum(diag[:, None], diag[None, :]), m)
    return m


def _trade_kernel(minutes: FloatArray, p: QSMParams) -> FloatArray:
    """``K[i, n] = d_in^(1-sigma) = t_in^(-phi (sigma-1)) = t_in^(-distance_elasticity)``."""
    return np.asarray(minutes ** (-p.distance_elasticity), dtype=np.float64)


def _migration_cost_matrix(m: float | ArrayLike, n: int) -> FloatArray:
    if np.ndim(m) == 0:
        mm = float(m)  # type: ignore[arg-type]
        if not mm >= 0:
            raise ParameterError(f"migration_cost = {mm!r}: must be >= 0")
        out = np.full((n, n), mm)
    else:
        out = np.array(m, dtype=np.float64)
        if out.shape != (n, n) or not np.isfinite(out).all() or (out < 0).any():
            raise ParameterError(f"migration cost matrix must be {n} x {n}, finite and >= 0")
    np.fill_diagonal(out, 0.0)
    return out


def _gravity_inversion(target: FloatArray, kernel: FloatArray, weight: FloatArray, *, tol: float,
                       max_iter: int, what: str) -> tuple[FloatArray, int]:
    """Solve ``target_i = x_i sum_n kernel[i, n] weight_n / (sum_k x_k kernel[k, n])`` for ``x > 0``.

    The classic fixed point ``x_i <- target_i / sum_n kernel[i, n] weight_n / Phi_n`` (unique
    up to scale for a positive kernel); normalised to a geometric mean of 1.
    """
    def step(x: FloatArray) -> FloatArray:
        new = target / (kernel @ (weight / (x @ kernel)))
        return np.asarray(new / np.exp(np.log(new).mean()), dtype=np.float64)

    x = target / target.mean()
    err = np.inf
    fp_iter = min(max_iter, 500) if target.size <= 300 else max_iter
    for it in range(1, fp_iter + 1):
        new = step(x)
        err = float(np.max(np.abs(np.log(new / x))))
        x = np.sqrt(new * x) if it < 5 else new
        if err < tol:
            return x, it
    if target.size > 300:
        raise ConvergenceError(f"{what} inversion did not converge in {max_iter} iterations (last change "
                               f"{err:.2e})")
    # slow contraction (a nearly diagonal kernel): Newton-type root of log T(x) - log x
    from scipy.optimize import root

    sol = root(lambda y: np.log(step(np.exp(y))) - y, np.log(x), method="hybr", options={"xtol": 1e-15})
    x = step(np.exp(sol.x))
    err = float(np.max(np.abs(np.log(step(x) / x))))
    if not err < max(tol, 1e-11):
        raise ConvergenceError(f"{what} inversion did not converge (last change {err:.2e}): check that every "
                               "region trades with / can be reached from the others")
    return x, it + int(sol.nfev)


def _uniform_migration_inversion(pop: FloatArray, c: float) -> FloatArray | None:
    """``V^eps`` for a uniform migration cost (``mu^-eps = c`` off the diagonal), in closed form.

    With ``sum z = 1`` and ``S_o = c + (1 - c) z_o`` the location condition reduces to
    ``L_n = Q z_n S_n`` with ``Q = sum_o L_o / S_o``: for a given ``Q`` each ``z_n`` is the
    positive root of a quadratic, and ``Q`` is the root of ``sum_n z_n(Q) = 1`` (decreasing).
    Returns ``None`` when ``c`` is outside ``(0, 1]`` (the caller iterates instead).
    """
    if not 0.0 < c <= 1.0:
        return None
    if c == 1.0:
        return np.asarray(pop / pop.sum(), dtype=np.float64)
    from scipy.optimize import brentq

    def z_of(q: float) -> FloatArray:
        return np.asarray(2.0 * pop / (c * q + np.sqrt((c * q) ** 2 + 4.0 * (1.0 - c) * q * pop)), dtype=np.float64)

    lo, hi = 1e-300, pop.sum() / c + 1.0  # sum z(hi) <= 1 <= sum z(lo)
    while z_of(lo).sum() < 1.0:
        lo /= 10.0
    q = float(brentq(lambda v: float(z_of(v).sum()) - 1.0, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                     maxiter=500))
    z = z_of(q)
    return np.asarray(z / z.sum(), dtype=np.float64)


def _migration_inversion(pop: FloatArray, mk: FloatArray, *, tol: float, max_iter: int) -> tuple[FloatArray, int]:
    """``z = V^eps`` with ``L_n = sum_o L_o z_n mk[o, n] / sum_k z_k mk[o, k]`` (``mk = mu^-eps``)."""
    n = pop.size
    off = ~np.eye(n, dtype=bool)
    if n > 1 and np.ptp(mk[off]) == 0.0:
        z = _uniform_migration_inversion(pop, float(mk[off][0]))
        if z is not None:
            g = z[None, :] * mk
            model = pop @ (g / g.sum(axis=1, keepdims=True))
            if float(np.max(np.abs(np.log(model / pop)))) < max(tol, 1e-11):
                return z / np.exp(np.log(z).mean()), 1
    return _gravity_inversion(pop, mk.T, pop, tol=tol, max_iter=max_iter, what="amenity")


def _price_rent_utility(p: QSMParams, wage: FloatArray, pop: FloatArray, x: FloatArray, kernel: FloatArray,
                        housing: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    price = (x @ kernel) ** (1.0 / (1.0 - p.sigma))
    rent = (1.0 - p.alpha) * (wage / p.alpha) * pop / housing
    a = p.alpha
    cost_of_living = price ** a * (rent ** (1.0 - a) if a < 1.0 else 1.0)
    return price, rent, (wage / a) / cost_of_living


def calibrate(
    population: ArrayLike,
    gdp: ArrayLike,
    minutes: ArrayLike,
    *,
    params: QSMParams | None = None,
    housing: ArrayLike | None = None,
    migration_cost: float | ArrayLike | None = None,
    tol: float = 1e-13,
    max_iter: int = 20000,
) -> QSMBaseline:
    """Invert the model: the productivities and amenities that make today an equilibrium.

    Parameters
    ----------
    population
        Residents by region (any unit), ``(N,)``, all > 0.
    gdp
        GDP by region (any currency unit), ``(N,)``, all > 0; wages are ``gdp / population``.
    minutes
        ``(N, N)`` travel minutes ``t[i, n]`` from ``i`` to ``n`` with internal trip times on the
        diagonal (see :func:`internal_minutes`).
    params
        Structural parameters (default :class:`QSMParams`).
    housing
        Housing stock / land by region (default 1: then amenities absorb housing supply; hats
        do not depend on it).
    migration_cost
        Log migration cost ``m_on`` (scalar for every off-diagonal pair, or ``(N, N)``);
        default ``params.migration_cost``.
    tol, max_iter
        Fixed-point tolerance on ``max |log change|`` and cap.

    Returns
    -------
    QSMBaseline

    Raises
    ------
    ParameterError
        Bad shapes, non-positive data or parameters.
    ConvergenceError
        The inversion did not converge.
    """
    p = params or QSMParams()
    pop = _vec(population, None, "population")
    n = pop.size
    y = _vec(gdp, n, "gdp")
    t = _minutes(minutes, n)
    h = np.ones(n) if housing is None else _vec(housing, n, "housing")
    mcost = _migration_cost_matrix(p.migration_cost if migration_cost is None else migration_cost, n)
    w = y / pop
    kernel = _trade_kernel(t, p)
    # market clearing Y_i = x_i sum_n K[i,n] Y_n / Phi_n with x_i = L_i (w_i / A_i)^(1-sigma)
    x, it_a = _gravity_inversion(y, kernel, y, tol=tol, max_iter=max_iter, what="productivity")
    a_pow = x * w ** (p.sigma - 1.0) / pop  # A^(sigma-1)
    prod = a_pow ** (1.0 / (p.sigma - 1.0))
    prod /= np.exp(np.log(prod).mean())
    price, rent, income_over_col = _price_rent_utility(p, w, pop, x, kernel, h)
    # migration: L_n = sum_o L_o z_n mu_on^-eps / sum_k z_k mu_ok^-eps, z = V^eps
    mk = np.exp(-p.epsilon * mcost)  # mk[o, n]
    z, it_u = _migration_inversion(pop, mk, tol=tol, max_iter=max_iter)
    util = z ** (1.0 / p.epsilon)
    amen = util / income_over_col
    scale = np.exp(np.log(amen).mean())
    amen /= scale
    util /= scale
    trade = (x[None, :] * kernel.T) / (x @ kernel)[:, None]  # trade[n, i]
    mig = (util[None, :] ** p.epsilon * mk)
    mig /= mig.sum(axis=1, keepdims=True)
    log.info("QSM calibrated on %d regions (productivity %d it., amenity %d it.)", n, it_a, it_u)
    return QSMBaseline(params=p, minutes=t, population=pop, gdp=y, wage=w, productivity=prod, amenity=amen,
                       housing=h, trade_shares=trade, price_index=price, rent=rent, utility=util,
                       migration_shares=mig, migration_cost=mcost, registered=pop.copy(),
                       iterations={"productivity": it_a, "amenity": it_u})


def counterfactual(
    base: QSMBaseline,
    *,
    minutes: ArrayLike | None = None,
    amenity_hat: ArrayLike | None = None,
    productivity_hat: ArrayLike | None = None,
    housing_hat: ArrayLike | None = None,
    migration_cost: float | ArrayLike | None = None,
    damping: float = 0.5,
    tol: float = 1e-12,
    max_iter: int = 20000,
) -> QSMResult:
    """A counterfactual as changes from the calibrated baseline, by exact hat algebra.

    Parameters
    ----------
    base
        From :func:`calibrate`.
    minutes
        New travel minutes (same convention as the baseline's, internal times on the diagonal);
        ``d_hat = (t' / t)^phi``. Default: unchanged.
    amenity_hat, productivity_hat, housing_hat
        ``B' / B``, ``A' / A``, ``H' / H`` by region (default all ones).
    migration_cost
        New log migration cost (scalar or ``(N, N)``); default unchanged.
    damping
        Weight of the new iterate in the damped fixed point, in ``(0, 1]``.
    tol, max_iter
        Tolerance on ``max |log change|`` of wages and populations, and the cap.

    Returns
    -------
    QSMResult

    Raises
    ------
    ParameterError
        Bad shapes or values.
    ConvergenceError
        The fixed point did not converge.
    """
    p = base.params
    n = base.population.size
    if not 0.0 < damping <= 1.0:
        raise ParameterError(f"damping = {damping!r}: must be in (0, 1]")
    khat = np.ones((n, n)) if minutes is None else (_minutes(minutes, n) / base.minutes) ** (-p.distance_elasticity)
    bhat = np.ones(n) if amenity_hat is None else _vec(amenity_hat, n, "amenity_hat")
    ahat = np.ones(n) if productivity_hat is None else _vec(productivity_hat, n, "productivity_hat")
    hhat = np.ones(n) if housing_hat is None else _vec(housing_hat, n, "housing_hat")
    mu_hat_eps = np.ones((n, n)) if migration_cost is None else np.exp(
        -p.epsilon * (_migration_cost_matrix(migration_cost, n) - base.migration_cost))
    pi, lam, y, pop, reg = base.trade_shares, base.migration_shares, base.gdp, base.population, base.registered
    s1 = 1.0 - p.sigma
    a = p.alpha
    lw = np.zeros(n)
    ll = np.zeros(n)
    it = 0
    while it < max_iter:
        it += 1
        what, lhat = np.exp(lw), np.exp(ll)
        xhat = lhat * ahat ** (p.sigma - 1.0) * what ** s1  # exporter term change
        m = pi * (xhat[None, :] * khat.T)  # pi_ni * xhat_i * Khat[i, n]
        phat = m.sum(axis=1)  # P_hat^(1-sigma)
        pi_new = m / phat[:, None]
        spend = what * lhat * y
        demand = pi_new.T @ spend
        lw_new = lw + np.log(demand / spend) / p.sigma
        pindex = phat ** (1.0 / s1)
        rhat = what * lhat / hhat
        vhat = bhat * what / (pindex ** a * rhat ** (1.0 - a))
        g = lam * (vhat[None, :] ** p.epsilon) * mu_hat_eps
        lam_new = g / g.sum(axis=1, keepdims=True)
        ll_new = np.log((reg @ lam_new) / pop)
        # numeraire: total GDP unchanged
        lw_new -= np.log((np.exp(lw_new + ll_new) * y).sum() / y.sum())
        err = float(max(np.max(np.abs(lw_new - lw)), np.max(np.abs(ll_new - ll))))
        lw = (1.0 - damping) * lw + damping * lw_new
        ll = (1.0 - damping) * ll + damping * ll_new
        if err < tol:
            break
    else:
        raise ConvergenceError(f"hat-algebra fixed point did not converge in {max_iter} iterations "
                               f"(last change {err:.2e}); lower damping")
    what, lhat = np.exp(lw), np.exp(ll)
    xhat = lhat * ahat ** (p.sigma - 1.0) * what ** s1
    m = pi * (xhat[None, :] * khat.T)
    phat = m.sum(axis=1)
    pindex = phat ** (1.0 / s1)
    rhat = what * lhat / hhat
    vhat = bhat * what / (pindex ** a * rhat ** (1.0 - a))
    g = lam * (vhat[None, :] ** p.epsilon) * mu_hat_eps
    welfare = g.sum(axis=1) ** (1.0 / p.epsilon)
    return QSMResult(wage_hat=what, population_hat=lhat, price_index_hat=pindex, rent_hat=rhat,
                     utility_hat=vhat, welfare_hat=welfare, trade_shares=m / phat[:, None],
                     migration_shares=g / g.sum(axis=1, keepdims=True), iterations=it, baseline=base)


def solve_levels(
    productivity: ArrayLike,
    amenity: ArrayLike,
    minutes: ArrayLike,
    registered: ArrayLike,
    total_gdp: float,
    *,
    params: QSMParams | None = None,
    housing: ArrayLike | None = None,
    migration_cost: float | ArrayLike | None = None,
    damping: float = 0.5,
    tol: float = 1e-12,
    max_iter: int = 20000,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The equilibrium in levels from the fundamentals (the check on :func:`counterfactual`).

    Parameters
    ----------
    productivity, amenity, minutes, registered, housing, migration_cost
        ``A``, ``B``, ``t``, ``L0``, ``H``, ``m`` as in the module docstring.
    total_gdp
        Numeraire: ``sum_i w_i L_i``.
    params
        Model parameters (default :class:`QSMParams()`).
    damping, tol, max_iter
        Fixed-point iteration: weight of the new iterate (geometric averaging, 0..1), the
        largest log change of wages and population at which it stops, and the iteration cap
        (then a :class:`~iptown_gis.errors.ConvergenceError`).

    Returns
    -------
    (wage, population, utility)
        ``utility`` is the expected utility of each origin's registered workers.

    Raises
    ------
    ParameterError, ConvergenceError
    """
    p = params or QSMParams()
    reg = _vec(registered, None, "registered")
    n = reg.size
    prod = _vec(productivity, n, "productivity")
    amen = _vec(amenity, n, "amenity")
    t = _minutes(minutes, n)
    h = np.ones(n) if housing is None else _vec(housing, n, "housing")
    mk = np.exp(-p.epsilon * _migration_cost_matrix(p.migration_cost if migration_cost is None
                                                     else migration_cost, n))
    kernel = _trade_kernel(t, p)
    w = np.full(n, total_gdp / reg.sum())
    pop = reg.copy()
    for _ in range(max_iter):
        x = pop * (w / prod) ** (1.0 - p.sigma)
        y = w * pop
        demand = x * (kernel @ (y / (x @ kernel)))
        w_new = w * (demand / y) ** (1.0 / p.sigma)
        _, _, ioc = _price_rent_utility(p, w, pop, x, kernel, h)
        v = amen * ioc
        g = mk * (v[None, :] / v.max()) ** p.epsilon
        pop_new = reg @ (g / g.sum(axis=1, keepdims=True))
        w_new *= total_gdp / (w_new * pop_new).sum()
        err = float(max(np.max(np.abs(np.log(w_new / w))), np.max(np.abs(np.log(pop_new / pop)))))
        w = w ** (1.0 - damping) * w_new ** damping
        pop = pop ** (1.0 - damping) * pop_new ** damping
        if err < tol:
            break
    else:
        raise ConvergenceError(f"levels equilibrium did not converge in {max_iter} iterations ({err:.2e})")
    x = pop * (w / prod) ** (1.0 - p.sigma)
    _, _, ioc = _price_rent_utility(p, w, pop, x, kernel, h)
    v = amen * ioc
    expected = ((mk * v[None, :] ** p.epsilon).sum(axis=1)) ** (1.0 / p.epsilon)
    return w, pop, expected


def stay_share(population: ArrayLike, *, epsilon: float, migration_cost: float) -> float:
    """Share of registered residents who live in their registration region in the calibrated baseline.

    Depends only on the migration block (populations, ``epsilon`` and a uniform log migration
    cost ``m``): the utilities ``V`` are inverted from ``L`` as in :func:`calibrate`.

    Parameters
    ----------
    population
        ``(R,)`` resident populations (finite, > 0), also taken as the registered ones.
    epsilon
        Migration elasticity (:attr:`QSMParams.epsilon`).
    migration_cost
        Uniform log migration cost ``m`` (>= 0) of living outside one's registration region.

    Returns
    -------
    float
        The population-weighted share of residents who stay, in ``(0, 1]``.

    Raises
    ------
    ParameterError
        A population is not finite and > 0, or ``migration_cost`` is negative.
    """
    pop = _vec(population, None, "population")
    mk = np.exp(-epsilon * _migration_cost_matrix(migration_cost, pop.size))
    z, _ = _migration_inversion(pop, mk, tol=1e-11, max_iter=20000)
    g = z[None, :] * mk
    lam = g / g.sum(axis=1, keepdims=True)
    return float((pop * np.diag(lam)).sum() / pop.sum())


def migration_cost_for_stay_share(population: ArrayLike, share: float, *, epsilon: float) -> float:
    """The uniform log migration cost ``m`` at which :func:`stay_share` equals ``share``.

    Parameters
    ----------
    population
        ``(R,)`` resident populations (finite, > 0).
    share
        The target stay share (e.g. from census registration data), strictly between the
        no-cost stay share and 1.
    epsilon
        Migration elasticity (:attr:`QSMParams.epsilon`).

    Returns
    -------
    float
        The migration cost ``m >= 0`` (found by Brent's method).

    Raises
    ------
    ParameterError
        ``share`` not above the no-cost stay share (``sum L_n^2 / L^2``) or not below 1, or so
        close to 1 that no cost up to 1000 reaches it; a population not finite and > 0.
    """
    from scipy.optimize import brentq

    pop = _vec(population, None, "population")
    lo = stay_share(pop, epsilon=epsilon, migration_cost=0.0)
    if not lo < share < 1.0:
        raise ParameterError(f"stay_share = {share!r}: must lie in ({lo:.4f}, 1) for these populations "
                             "(the lower end is the stay share without migration costs)")
    hi = 1.0
    while stay_share(pop, epsilon=epsilon, migration_cost=hi) < share:
        hi *= 2.0
        if hi > 1e3:
            raise ParameterError(f"stay_share = {share!r} is too close to 1: no finite migration cost")
    return float(brentq(lambda m: stay_share(pop, epsilon=epsilon, migration_cost=m) - share, 0.0, hi,
                        xtol=1e-12))


def market_access(base: QSMBaseline, *, own: bool = True) -> FloatArray:
    """Firm market access ``FMA_i = sum_n d_in^(1-sigma) Y_n P_n^(sigma-1)`` (Redding & Venables 2004).

    ``own=False`` leaves out the region's own market (``n != i``), the usual robustness check
    against the mechanical link between own GDP and own market access.
    """
    p = base.params
    k = _trade_kernel(base.minutes, p)
    if not own:
        k = k.copy()
        np.fill_diagonal(k, 0.0)
    return np.asarray(k @ (base.gdp * base.price_index ** (p.sigma - 1.0)), dtype=np.float64)


def wage_equation(wage: ArrayLike, access: ArrayLike) -> dict[str, float]:
    """OLS of ``log wage`` on ``log market access`` (the NEG wage equation, Redding & Venables 2004).

    Returns
    -------
    dict
        ``elasticity`` (slope), ``se`` (classical standard error), ``intercept``, ``r2``, ``n``,
        ``t`` (slope / se).

    Raises
    ------
    ParameterError
        Fewer than 3 regions or non-positive values.
    """
    yv = np.log(_vec(wage, None, "wage"))
    xv = np.log(_vec(access, yv.size, "market access"))
    n = yv.size
    if n < 3:
        raise ParameterError(f"the wage equation needs at least 3 regions, got {n}")
    xm, ym = xv.mean(), yv.mean()
    sxx = float(((xv - xm) ** 2).sum())
    if sxx == 0:
        raise ParameterError("market access is the same in every region: nothing to regress on")
    b = float(((xv - xm) * (yv - ym)).sum() / sxx)
    c = ym - b * xm
    resid = yv - c - b * xv
    sst = float(((yv - ym) ** 2).sum())
    se = float(np.sqrt((resid ** 2).sum() / (n - 2) / sxx))
    r2 = 1.0 - float((resid ** 2).sum()) / sst if sst > 0 else float("nan")
    return {"elasticity": b, "se": se, "intercept": float(c), "r2": r2, "n": float(n),
            "t": b / se if se > 0 else float("inf")}


def with_params(params: QSMParams, **changes: float) -> QSMParams:
    """A copy of ``params`` with some fields changed (validated)."""
    return replace(params, **changes)
