"""Short-run and long-run equilibria of the core-periphery model.

Short run (FKV eqs. 5.1-5.4), for a given distribution ``lam`` of mobile workers::

    Y_r = mu * lam_r * w_r + (1 - mu) * phi_r
    G_r = [ sum_s lam_s (w_s T_sr)^(1-sigma) ]^(1/(1-sigma))
    w_r = [ sum_s Y_s T_rs^(1-sigma) G_s^(sigma-1) ]^(1/sigma)
    omega_r = w_r * G_r^(-mu)

solved by a damped fixed point on ``log w`` with Anderson acceleration (vectorised: two
matrix-vector products per iteration), stopped when ``max |log w_new - log w| < tol``.

Long run: the replicator dynamics ``d lam_r / dt = (omega_r - omega_bar) * lam_r`` with
``omega_bar = sum_s lam_s omega_s`` (or their heterogeneous-mobility variant, see
:mod:`iptown_gis.neg.barriers`), integrated in ``x = log lam`` (so ``lam`` stays on the
simplex) until every flow is below ``tol``; an equilibrium found unstable is perturbed along
its unstable direction and the integration continues, so the result is a stable equilibrium.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from iptown_gis.errors import ConvergenceError, ParameterError
from iptown_gis.neg.barriers import Mobility, flows, utility
from iptown_gis.neg.model import FloatArray, NEGModel, blas_limit, check_shares
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = ["LongRun", "ShortRun", "long_run", "short_run"]

log = logging.getLogger(__name__)


@dataclass
class ShortRun:
    """A short-run equilibrium.

    Attributes
    ----------
    lam
        Distribution of mobile workers it was solved for.
    wage, price_index, income, real_wage
        ``w``, ``G``, ``Y`` and ``omega = w G^-mu`` per region.
    iterations
        Fixed-point iterations used.
    residual
        Final ``max |log w_new - log w|``.
    """

    lam: FloatArray
    wage: FloatArray
    price_index: FloatArray
    income: FloatArray
    real_wage: FloatArray
    iterations: int
    residual: float

    @property
    def mean_real_wage(self) -> float:
        """``omega_bar = sum_s lam_s omega_s``."""
        return float(self.lam @ self.real_wage)

    def as_dict(self) -> dict[str, Any]:
        return {"lam": self.lam.tolist(), "wage": self.wage.tolist(),
                "price_index": self.price_index.tolist(), "income": self.income.tolist(),
                "real_wage": self.real_wage.tolist(), "iterations": self.iterations,
                "residual": self.residual}


def _parts(model: NEGModel, lam: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``P = G^(1-sigma)``, ``Y`` and the new wage for wages ``w``."""
    s = model.sigma
    F = model.freeness
    P = F.T @ (lam * w ** (1.0 - s))
    Y = model.mu * lam * w + (1.0 - model.mu) * model.phi
    with np.errstate(divide="ignore", invalid="ignore"):
        w_new = (F @ (Y / P)) ** (1.0 / s)
    return P, Y, w_new


def _newton(model: NEGModel, lam: FloatArray, x: FloatArray, tol: float, max_iter: int
            ) -> tuple[FloatArray, int, float] | None:
    """Newton's method on ``f(x) = log w_new(x) - x`` (``x = log w``) with backtracking;
    ``None`` when it fails (the caller falls back to the fixed point)."""
    s, mu = model.sigma, model.mu
    F = model.freeness
    n = model.n

    def resid(xv: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        w = np.exp(xv)
        a = lam * w ** (1.0 - s)
        P = F.T @ a
        Y = mu * lam * w + (1.0 - mu) * model.phi
        S = F @ (Y / P)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.log(S) / s - xv
        return f, P, Y, S

    f, P, Y, S = resid(x)
    res = float(np.abs(f).max()) if np.isfinite(f).all() else np.inf
    for it in range(1, max_iter + 1):
        if not np.isfinite(res):
            return None
        if res < tol:
            return x, it, res
        w = np.exp(x)
        dP = F.T * ((1.0 - s) * lam * w ** (1.0 - s))[None, :]
        dS = F @ (np.diag(mu * lam * w / P) - (Y / P**2)[:, None] * dP)
        J = dS / (s * S)[:, None]
        J[np.diag_indices(n)] -= 1.0
        try:
            step = np.linalg.solve(J, -f)
        except np.linalg.LinAlgError:
            return None
        t = 1.0
        while t > 1e-4:
            xn = x + t * step
            fn, Pn, Yn, Sn = resid(xn)
            rn = float(np.abs(fn).max()) if np.isfinite(fn).all() else np.inf
            if rn < (1.0 - 1e-4 * t) * res or rn < tol:
                break
            t *= 0.5
        else:
            return None
        x, f, P, Y, S, res = xn, fn, Pn, Yn, Sn, rn
    return None


#: Largest R for which ``method="auto"`` uses Newton's method.
NEWTON_MAX_R = 300


def short_run(
    model: NEGModel,
    lam: ArrayLike,
    *,
    tol: float = 1e-12,
    max_iter: int = 10_000,
    damping: float = 1.0,
    memory: int = 5,
    method: str = "auto",
    w0: ArrayLike | None = None,
    check: bool = True,
) -> ShortRun:
    """Solve the short-run equilibrium for the mobile-worker distribution ``lam``.

    Parameters
    ----------
    model
        The economy.
    lam
        Shares of mobile workers (``R`` values summing to one).
    tol
        Convergence tolerance on ``max |log w_new - log w|``.
    max_iter
        Iteration cap.
    damping
        Step ``d`` in ``log w <- (1 - d) log w + d log w_new`` (``0 < d <= 1``); halved
        automatically when the iteration goes astray.
    memory
        Anderson acceleration memory (past iterates mixed into each step); 0 gives the plain
        damped fixed point.
    method
        ``"newton"`` (exact Jacobian, backtracking; falls back to the fixed point if it
        fails), ``"fixed-point"`` (damped, Anderson-accelerated) or ``"auto"``: Newton up to
        300 regions, the fixed point (cheaper per iteration) above.
    w0
        Starting wages (a previous solution: warm start); default all ones.
    check
        Validate ``lam`` (skip in inner loops that already did).

    Returns
    -------
    ShortRun

    Raises
    ------
    ParameterError
        Bad ``lam`` (length, negative, NaN, sum != 1), bad ``tol``/``max_iter``/``damping``,
        or a region that cannot buy any manufactured variety (all freeness to producers zero).
    ConvergenceError
        The iteration did not reach ``tol`` within ``max_iter`` iterations.
    """
    n = model.n
    lam_a = check_shares(lam, n, name="mobile shares lam") if check else np.asarray(lam, dtype=np.float64)
    if not (tol > 0 and np.isfinite(tol)):
        raise ParameterError(f"tol = {tol!r}: must be > 0")
    if int(max_iter) < 1:
        raise ParameterError(f"max_iter = {max_iter!r}: must be >= 1")
    if not 0.0 < damping <= 1.0:
        raise ParameterError(f"damping = {damping!r}: must be in (0, 1]")
    if int(memory) < 0:
        raise ParameterError(f"memory = {memory!r}: must be >= 0 (0 = plain damped iteration)")
    x = np.zeros(n) if w0 is None else np.log(np.asarray(w0, dtype=np.float64))
    if not np.isfinite(x).all():
        x = np.zeros(n)
    if method not in ("auto", "newton", "fixed-point"):
        raise ParameterError(f"method = {method!r}: use 'auto', 'newton' or 'fixed-point'")
    it_newton = 0
    if method == "newton" or (method == "auto" and n <= NEWTON_MAX_R):
        with blas_limit(n):
            nt = _newton(model, lam_a, x, tol, min(int(max_iter), 100))
        if nt is not None:
            return _finish(model, lam_a, nt[0], nt[1], nt[2])
        log.debug("Newton failed; falling back to the fixed point")
    d = float(damping)
    m_acc = int(memory)
    dF: list[FloatArray] = []
    dG: list[FloatArray] = []
    f_old: FloatArray | None = None
    g_old: FloatArray | None = None
    best = np.inf
    x_good: FloatArray | None = None
    f_good: FloatArray | None = None
    max_step = 5.0
    restarts = 0
    it_best = 0
    res = np.inf
    it = 0
    for it in range(1, int(max_iter) + 1):
        w = np.exp(x)
        P, _, w_new = _parts(model, lam_a, w)
        if it == 1 and not (P > 0).all():
            r = int(np.flatnonzero(~(P > 0))[0])
            raise ParameterError(
                f"region {model.region_ids[r]!r} cannot buy any manufactured variety (zero freeness to "
                "every producing region): lower tau or connect it to the network")
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log(w_new)
        f = g - x
        if not np.isfinite(f).all():
            if x_good is None or f_good is None:
                raise ConvergenceError(f"short-run equilibrium diverged at iteration {it} (non-finite "
                                       "wages); check the trade costs")
            # overflow after an extrapolated step: back to the best iterate, smaller steps
            dF.clear()
            dG.clear()
            f_old = g_old = None
            restarts += 1
            d = max(d * 0.5, 1e-3)
            x = x_good + d * f_good
            continue
        res = float(np.abs(f).max())
        if res < tol:
            x = g
            break
        if res > 10.0 * best or (m_acc and it - it_best > 50):
            # acceleration went astray or stalls: restart it; after 3 restarts use plain steps
            dF.clear()
            dG.clear()
            f_old = g_old = None
            restarts += 1
            it_best = it
            if restarts >= 3:
                m_acc = 0
                d = float(damping)
        if res < best:
            best, x_good, f_good, it_best = res, x, f, it
        if m_acc > 0 and f_old is not None and g_old is not None:
            dF.append(f - f_old)
            dG.append(g - g_old)
            if len(dF) > m_acc:
                dF.pop(0)
                dG.pop(0)
        f_old, g_old = f, g
        if dF:
            Fm = np.column_stack(dF)
            gamma = np.linalg.lstsq(Fm, f, rcond=None)[0]
            x_new = g - np.column_stack(dG) @ gamma - (1.0 - d) * (f - Fm @ gamma)
        else:
            x_new = x + d * f
        step = x_new - x
        big = float(np.abs(step).max())
        x = x + step * (max_step / big) if big > max_step else x_new
    else:
        raise ConvergenceError(
            f"short-run equilibrium did not converge in {max_iter} iterations (residual {res:.3g} > tol "
            f"{tol:g}); raise max_iter or lower damping")
    return _finish(model, lam_a, x, it + it_newton, res)


def _finish(model: NEGModel, lam: FloatArray, x: FloatArray, it: int, res: float) -> ShortRun:
    w = np.exp(x)
    P, Y, _ = _parts(model, lam, w)
    G = P ** (1.0 / (1.0 - model.sigma))
    omega = w * G ** (-model.mu)
    return ShortRun(lam=lam, wage=w, price_index=G, income=Y, real_wage=omega, iterations=it,
                    residual=res)


@dataclass
class LongRun:
    """A long-run (migration) equilibrium.

    Attributes
    ----------
    lam
        Equilibrium shares of mobile workers.
    short
        The short-run equilibrium at ``lam``.
    utility
        The migration utility (real wage times amenity / congestion terms).
    eigenvalues
        Eigenvalues of the dynamics' Jacobian on the simplex at ``lam``.
    stable
        The eigenvalue verdict: no eigenvalue with a positive real part (above ``1e-9``), so no
        small perturbation grows. Under moving costs it is also ``True`` at a rest point inside
        the band (zero Jacobian): read ``stability``.
    time
        Model time integrated.
    steps
        Right-hand-side evaluations (each a short-run equilibrium).
    restarts
        Times an unstable rest point was perturbed and integration resumed.
    path
        ``(time, lam)`` samples along the trajectory.
    stability
        ``"stable"``, ``"unstable"``, ``"inside moving-cost band"`` or ``"partly inside
        moving-cost band"`` (see :data:`iptown_gis.neg.stability.STATUSES`).
    frozen_pairs
        Region pairs whose utility gap lies inside their moving-cost band.
    """

    lam: FloatArray
    short: ShortRun
    utility: FloatArray
    eigenvalues: FloatArray
    stable: bool
    time: float
    steps: int
    restarts: int
    path: list[tuple[float, FloatArray]] = field(default_factory=list, repr=False)
    stability: str = "stable"
    frozen_pairs: int = 0

    @property
    def max_eigenvalue(self) -> float:
        return float(np.max(self.eigenvalues.real)) if self.eigenvalues.size else float("-inf")


def long_run(
    model: NEGModel,
    lam0: ArrayLike | None = None,
    *,
    mobility: Mobility | None = None,
    tol: float = 1e-9,
    t_max: float = 1e7,
    max_restarts: int = 5,
    zero_share: float = 1e-9,
    require_stable: bool = True,
    short_tol: float = 1e-12,
    rtol: float = 1e-6,
    seed: int = 0,
    progress: ProgressCallback | Progress | None = None,
) -> LongRun:
    """Integrate the migration dynamics from ``lam0`` to a stable long-run equilibrium.

    Parameters
    ----------
    model
        The economy.
    lam0
        Starting distribution (default uniform). Regions with zero share stay empty under the
        replicator dynamics; give them a small share to let them be settled.
    mobility
        Heterogeneous mobility (barriers, moving costs, amenities); ``None`` is the plain
        FKV replicator ``d lam/dt = (omega - omega_bar) lam``.
    tol
        Stop when ``max_r |d lam_r / dt| < tol``.
    t_max
        Cap on model time.
    max_restarts
        How many times an unstable rest point is perturbed and integration resumed.
    zero_share
        Shares below this are set to zero at the end (core-periphery outcomes), unless the
        mobility has congestion (then every region keeps workers).
    require_stable
        Raise :class:`ConvergenceError` if the final rest point is still unstable.
    short_tol
        Tolerance of the inner short-run solves.
    rtol
        Relative tolerance of the ODE integrator on ``log lam`` (LSODA, stiff-aware, up to 300
        regions; RK45 above).
    seed
        Seed of the random direction used when an unstable eigenvector is degenerate.
    progress
        Progress / cancellation callback.

    Raises
    ------
    ParameterError
        Bad ``lam0`` or options.
    ConvergenceError
        No rest point within ``t_max`` or still unstable after ``max_restarts``.
    CancelledError
        Cancelled through ``progress``.
    """
    from scipy.integrate import solve_ivp

    from iptown_gis.neg.stability import stability

    prog = as_progress(progress)
    n = model.n
    mob = mobility if mobility is not None else Mobility()
    mob.check(n)
    lam = np.full(n, 1.0 / n) if lam0 is None else check_shares(lam0, n, name="starting shares lam0")
    if not (tol > 0 and t_max > 0):
        raise ParameterError(f"tol = {tol!r} and t_max = {t_max!r} must be > 0")
    if mob.congestion > 0 and (lam <= 0).any():
        raise ParameterError("with congestion > 0 every region needs a positive starting share (lam0 > 0)")
    rng = np.random.default_rng(seed)
    support = lam > 0
    cache: dict[str, Any] = {"w": None, "evals": 0}

    def lam_of(x: FloatArray) -> FloatArray:
        z = np.full(n, -np.inf)
        z[support] = x
        z = np.exp(z - z[support].max())
        return z / z.sum()

    def eval_flows(lam_v: FloatArray) -> tuple[FloatArray, ShortRun]:
        sr = short_run(model, lam_v, tol=short_tol, w0=cache["w"], check=False)
        cache["w"] = sr.wage
        cache["evals"] += 1
        return flows(lam_v, utility(lam_v, sr.real_wage, mob), mob), sr

    def rhs(_t: float, x: FloatArray) -> FloatArray:
        lv = lam_of(x)
        f, _ = eval_flows(lv)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(lv[support] > 0, f[support] / lv[support], 0.0)

    ode = "LSODA" if n <= NEWTON_MAX_R else "RK45"  # LSODA switches to BDF when stiff
    t = 0.0
    restarts = 0
    path: list[tuple[float, FloatArray]] = [(0.0, lam.copy())]
    chunk = 10.0
    f, sr = eval_flows(lam)
    ref = max(float(np.abs(utility(lam, sr.real_wage, mob)).max()), 1e-12)
    chunk = 1.0 / ref * 10.0
    while True:
        prog.check()
        x = np.log(lam[support])
        while float(np.abs(f).max()) >= tol:
            if t >= t_max:
                raise ConvergenceError(
                    f"long-run dynamics did not settle by t = {t_max:g} (max flow {np.abs(f).max():.3g} > "
                    f"tol {tol:g}); raise t_max or tol")
            span = min(chunk, t_max - t)
            sol = solve_ivp(rhs, (t, t + span), x, method=ode, rtol=rtol, atol=rtol * 1e-3)
            if not sol.success:
                raise ConvergenceError(f"long-run integration failed at t = {t:.4g}: {sol.message}")
            x = sol.y[:, -1]
            t += span
            lam = lam_of(x)
            f, sr = eval_flows(lam)
            path.append((t, lam.copy()))
            chunk *= 2.0
            prog.update(min(0.95, np.log1p(t) / np.log1p(t_max)), f"t = {t:.3g}, max flow {np.abs(f).max():.2e}")
        if mob.congestion == 0.0:
            small = lam < zero_share
            if small.any() and not small.all():
                lam = np.where(small, 0.0, lam)
                lam = lam / lam.sum()
                support = lam > 0
        sr = short_run(model, lam, tol=short_tol, w0=cache["w"], check=False)
        u = utility(lam, sr.real_wage, mob)
        st = stability(model, lam, mobility=mob, short=sr)
        if st.stable or not require_stable:
            break
        if restarts >= max_restarts:
            raise ConvergenceError(
                f"long-run dynamics stopped at an unstable rest point (max eigenvalue "
                f"{st.max_eigenvalue:.3g}) after {restarts} restarts; raise max_restarts")
        restarts += 1
        v = st.unstable_direction(rng)
        eps = 1e-3
        # shares of empty regions that gain by entry get a seed share
        lam = np.clip(lam + eps * v, 0.0, None)
        lam = np.where((lam == 0) & (v > 0), eps * 1e-2, lam)
        lam = lam / lam.sum()
        support = lam > 0
        f, sr = eval_flows(lam)
        log.info("unstable rest point (max eigenvalue %.3g): perturbed, restart %d", st.max_eigenvalue, restarts)
    prog.update(1.0, "long-run equilibrium")
    return LongRun(lam=lam, short=sr, utility=u, eigenvalues=st.eigenvalues, stable=st.stable, time=t,
                   steps=int(cache["evals"]), restarts=restarts, path=path, stability=st.stability,
                   frozen_pairs=st.frozen_pairs)
