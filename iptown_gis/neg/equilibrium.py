"""Short-run and long-run equilibria of the core-periphery model.

Short run (FKV eqs. 5.1-5.4), for a given distribution ``lam`` of mobile workers::

    Y_r = mu * lam_r * w_r + (1 - mu) * phi_r
    G_r = [ sum_s lam_s (w_s T_sr)^(1-sigma) ]^(1/(1-sigma))
    w_r = [ sum_s Y_s T_rs^(1-sigma) G_s^(sigma-1) ]^(1/sigma)
    omega_r = w_r * G_r^(-mu)

solved by a damped fixed point on ``log w`` with Anderson acceleration (vectorised: two
matrix-vector products per iteration), stopped when ``max |log w_new - log w| < tol``
(:func:`short_run` lives in :mod:`iptown_gis.neg.shortrun`, below
:mod:`~iptown_gis.neg.stability`; it is re-exported here).

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
from iptown_gis.neg.model import FloatArray, NEGModel, check_shares
from iptown_gis.neg.shortrun import NEWTON_MAX_R, ShortRun, short_run
from iptown_gis.neg.stability import stability
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = ["LongRun", "ShortRun", "long_run", "short_run"]

log = logging.getLogger(__name__)


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
