"""Stability of long-run equilibria: eigenvalues of the dynamics' Jacobian on the simplex.

The Jacobian ``J = d(d lam/dt)/d lam`` needs ``d omega / d lam`` along the short-run
equilibrium; it is computed exactly by implicit differentiation of the wage equation
(no finite differences). Eigenvalues are those of ``V' J V`` where the columns of ``V`` are an
orthonormal basis of the sum-zero directions (the tangent space of the simplex), so the
trivial direction that would change ``sum(lam)`` is excluded. Without a speed factor: the
dynamics are exactly ``d lam_r/dt = (omega_r - omega_bar) lam_r``.

Moving costs make the dynamics piecewise: a pair of regions whose utility gap lies strictly
inside its moving-cost band (``-C[r, s] < u_r - u_s < C[s, r]``) exchanges no workers, and
neither does any nearby distribution, so its Jacobian entries are exactly zero. A rest point
with *every* pair inside the band has a zero Jacobian: its eigenvalues (all 0) say nothing
about returning to it. :attr:`Stability.stability` therefore reports, beside the eigenvalue
verdict ``stable``, where the point lies with respect to the band (:data:`STATUSES`), and
:attr:`Stability.band_slack` how far (in utility units) the closest frozen gap is from its
band edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from iptown_gis.neg.barriers import Mobility, flows_jacobian, utility, utility_jacobian
from iptown_gis.neg.model import FloatArray, NEGModel, blas_limit, check_shares
from iptown_gis.neg.shortrun import ShortRun, short_run

__all__ = ["STATUSES", "Stability", "band_pairs", "dynamics_jacobian", "real_wage_jacobian", "simplex_basis",
           "stability"]

#: Eigenvalues with real part below this count as negative (stable).
STABLE_TOL = 1e-9
#: A utility gap this close to its band edge counts as on the edge (not inside).
BAND_TOL = 1e-9

#: The values of :attr:`Stability.stability`, from the eigenvalues and the moving-cost band:
#:
#: * ``"stable"``: no region pair inside a moving-cost band and no eigenvalue with a positive
#:   real part: a small perturbation dies out (to first order);
#: * ``"unstable"``: an eigenvalue has a positive real part: a perturbation along it grows;
#: * ``"inside moving-cost band"``: every pair of regions (one of them populated) has a utility
#:   gap strictly inside its band: no worker moves here nor at any distribution whose gaps move
#:   by less than ``band_slack``; a small perturbation is neither undone nor amplified, the
#:   perturbed distribution is itself a rest point (neutral, "frozen" stability);
#: * ``"partly inside moving-cost band"``: some pairs are frozen as above, the others are
#:   active and no eigenvalue grows: perturbations across active pairs die out, those across
#:   frozen pairs stay.
STATUSES: tuple[str, ...] = ("stable", "unstable", "inside moving-cost band", "partly inside moving-cost band")


def simplex_basis(n: int) -> FloatArray:
    """An orthonormal ``(n, n-1)`` basis of ``{v : sum(v) = 0}`` (Helmert-like, via QR)."""
    if n < 2:
        return np.zeros((n, 0))
    A = np.eye(n)[:, : n - 1] - np.eye(n)[:, 1:n]  # e_k - e_{k+1}: spans sum-zero vectors
    Q, _ = np.linalg.qr(A)
    return Q


def real_wage_jacobian(model: NEGModel, sr: ShortRun) -> FloatArray:
    """``d omega_r / d lam_q`` at the short-run equilibrium ``sr`` (implicit differentiation).

    With ``P = G^(1-sigma) = Phi' (lam w^(1-sigma))`` and ``w^sigma = Phi (Y / P)``::

        [diag(sigma w^(sigma-1)) - Phi diag(mu lam / P) + Phi diag(Y/P^2) Phi' D2] dw
            = [Phi diag(mu w / P) - Phi diag(Y/P^2) Phi' D1] dlam

    with ``D1 = diag(w^(1-sigma))``, ``D2 = diag((1-sigma) lam w^-sigma)``, and
    ``d log omega = d log w + mu/(sigma-1) d log P``.
    """
    s, mu = model.sigma, model.mu
    F = model.freeness
    lam, w, Y = sr.lam, sr.wage, sr.income
    P = sr.price_index ** (1.0 - s)
    d1 = w ** (1.0 - s)
    d2 = (1.0 - s) * lam * w ** (-s)
    Q = (F * (Y / P**2)[None, :]) @ F.T  # Phi diag(Y/P^2) Phi'
    A = -(F * (mu * lam / P)[None, :]) + Q * d2[None, :]
    A[np.diag_indices_from(A)] += s * w ** (s - 1.0)
    B = F * (mu * w / P)[None, :] - Q * d1[None, :]
    dw = np.linalg.solve(A, B)
    dP = F.T @ (d1[:, None] * np.eye(model.n) + d2[:, None] * dw)
    return sr.real_wage[:, None] * (dw / w[:, None] + (mu / (s - 1.0)) * dP / P[:, None])


def band_pairs(lam: ArrayLike, u: ArrayLike, mobility: Mobility | None) -> tuple[NDArray[np.bool_], FloatArray]:
    """Region pairs whose utility gap lies strictly inside the moving-cost band.

    Parameters
    ----------
    lam
        Mobile shares (pairs of two empty regions are ignored).
    u
        Migration utilities at ``lam``.
    mobility
        The mobility settings; without moving costs no pair is inside a band.

    Returns
    -------
    (inside, slack)
        ``(R, R)`` symmetric boolean mask of the frozen pairs (``-C[r, s] < u_r - u_s < C[s, r]``
        by more than ``BAND_TOL``), and the slack ``min(C[s, r] - (u_r - u_s), C[r, s] + (u_r -
        u_s))`` of every pair (utility units; negative outside the band).
    """
    lam_a = np.asarray(lam, dtype=np.float64)
    u_a = np.asarray(u, dtype=np.float64)
    n = lam_a.shape[0]
    if mobility is None or mobility.moving_cost is None:
        return np.zeros((n, n), dtype=bool), np.full((n, n), -np.inf)
    C = np.asarray(mobility.moving_cost, dtype=np.float64)
    D = u_a[:, None] - u_a[None, :]  # u_r - u_s
    slack = np.minimum(C.T - D, C + D)  # C.T[r, s] = C[s, r]: the cost of moving s -> r
    relevant = (lam_a[:, None] > 0) | (lam_a[None, :] > 0)
    inside = (slack > BAND_TOL) & relevant & ~np.eye(n, dtype=bool)
    return inside, slack


def _status(stable: bool, inside: NDArray[np.bool_], lam: FloatArray) -> str:
    n = lam.shape[0]
    relevant = ((lam[:, None] > 0) | (lam[None, :] > 0)) & ~np.eye(n, dtype=bool)
    if not stable:
        return "unstable"
    if not inside.any():
        return "stable"
    if inside[relevant].all():
        return "inside moving-cost band"
    return "partly inside moving-cost band"


def dynamics_jacobian(
    model: NEGModel, lam: ArrayLike, *, mobility: Mobility | None = None, short: ShortRun | None = None
) -> FloatArray:
    """The full ``R x R`` Jacobian of ``d lam / dt`` at ``lam``.

    Parameters
    ----------
    model
        The NEG model.
    lam
        ``(R,)`` shares of the mobile workers.
    mobility
        Barriers, moving costs and amenities of the migration (:class:`~iptown_gis.neg.barriers.Mobility`;
        default: the plain FKV dynamics).
    short
        The short-run equilibrium at ``lam`` when already computed (saves one solve).
    """
    mob = mobility if mobility is not None else Mobility()
    lam_a = check_shares(lam, model.n, name="mobile shares lam")
    sr = short if short is not None else short_run(model, lam_a, check=False)
    u = utility(lam_a, sr.real_wage, mob)
    du = utility_jacobian(lam_a, u, real_wage_jacobian(model, sr), mob)
    return flows_jacobian(lam_a, u, du, mob)


@dataclass
class Stability:
    """Eigen-analysis of the dynamics on the simplex at ``lam``.

    Attributes
    ----------
    lam
        The point analysed.
    eigenvalues
        Eigenvalues of ``V' J V`` (``R - 1`` of them), sorted by decreasing real part.
    eigenvectors
        Matching eigenvectors in region space (``V @ y``), columns.
    stable
        The eigenvalue verdict: ``max real part < STABLE_TOL`` (no small perturbation grows to
        first order). Inside a moving-cost band the Jacobian is zero and this is ``True``
        without saying that perturbations die out: read :attr:`stability`.
    stability
        One of :data:`STATUSES`: ``"stable"``, ``"unstable"``, ``"inside moving-cost band"``
        or ``"partly inside moving-cost band"``.
    frozen_pairs
        Number of region pairs inside their moving-cost band.
    band_slack
        Smallest slack (utility units) of a frozen pair: utility gaps may move by less than
        this and the point stays at rest (``inf`` when no pair is frozen).
    """

    lam: FloatArray
    eigenvalues: FloatArray
    eigenvectors: FloatArray
    stable: bool
    stability: str = "stable"
    frozen_pairs: int = 0
    band_slack: float = float("inf")

    @property
    def max_eigenvalue(self) -> float:
        """Largest real part (``-inf`` for a one-region economy)."""
        return float(self.eigenvalues.real.max()) if self.eigenvalues.size else float("-inf")

    def unstable_direction(self, rng: np.random.Generator | None = None) -> FloatArray:
        """A unit sum-zero direction along the leading eigenvector (random if degenerate)."""
        v: FloatArray = (np.real(self.eigenvectors[:, 0]) if self.eigenvectors.size
                         else np.zeros_like(self.lam))
        if not np.isfinite(v).all() or np.linalg.norm(v) < 1e-12:
            rng = rng or np.random.default_rng(0)
            v = np.asarray(rng.standard_normal(size=(self.lam.shape[0],)), dtype=np.float64)
            v = v - v.mean()
        # move towards regions where the flow would grow: sign choice is arbitrary; pick the
        # one that increases the currently largest region (breaks symmetry deterministically)
        if v[int(np.argmax(self.lam + 1e-12 * np.arange(self.lam.shape[0])))] < 0:
            v = -v
        return v / np.linalg.norm(v)


def stability(
    model: NEGModel, lam: ArrayLike, *, mobility: Mobility | None = None, short: ShortRun | None = None
) -> Stability:
    """Eigenvalues of the migration dynamics' Jacobian on the simplex at ``lam``.

    Parameters
    ----------
    model
        The economy.
    lam
        A distribution of mobile workers (normally a rest point of the dynamics).
    mobility
        Heterogeneous mobility (default: plain FKV replicator, no speed factor).
    short
        The short-run equilibrium at ``lam`` if already solved.

    Returns
    -------
    Stability
        The eigenvalues, the eigenvalue verdict ``stable`` and the band status ``stability``.

    Raises
    ------
    ParameterError
        Bad ``lam``.
    ConvergenceError
        The short-run equilibrium does not converge.
    """
    lam_a = check_shares(lam, model.n, name="mobile shares lam")
    sr = short if short is not None else short_run(model, lam_a, check=False)
    with blas_limit(model.n):
        J = dynamics_jacobian(model, lam_a, mobility=mobility, short=sr)
        V = simplex_basis(model.n)
        Jr = V.T @ J @ V
        if np.allclose(Jr, Jr.T, rtol=1e-10, atol=1e-13):
            vals, vecs = np.linalg.eigh(0.5 * (Jr + Jr.T))
            vals = vals.astype(np.complex128)
        else:
            vals, vecs = np.linalg.eig(Jr)
    order = np.argsort(-vals.real, kind="stable")
    vals, vecs = vals[order], vecs[:, order]
    mx = float(vals.real.max()) if vals.size else float("-inf")
    mob = mobility if mobility is not None else Mobility()
    inside, slack = band_pairs(lam_a, utility(lam_a, sr.real_wage, mob), mob)
    stable = mx < STABLE_TOL
    return Stability(lam=lam_a, eigenvalues=vals, eigenvectors=V @ vecs, stable=stable,
                     stability=_status(stable, inside, lam_a), frozen_pairs=int(np.triu(inside).sum()),
                     band_slack=float(slack[inside].min()) if inside.any() else float("inf"))
