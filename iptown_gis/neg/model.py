"""The R-region core-periphery model (Fujita, Krugman & Venables 1999, ch. 5): parameters.

Notation (FKV ch. 5, with the manufacturing labour force normalised to ``mu`` and the
agricultural one to ``1 - mu``):

* ``R`` regions, ``T[r, s] >= 1`` the iceberg trade cost of shipping from ``r`` to ``s``
  (``T[r, r] = 1``); freeness ``Phi = T ** (1 - sigma)``.
* ``lam[r]`` the share of the mobile (manufacturing / knowledge) workers in ``r``
  (sums to one); ``phi[r]`` the share of the immobile (agricultural) workers (sums to one).
* ``sigma > 1`` the elasticity of substitution, ``mu`` in (0, 1) the expenditure share
  on manufactures.

A transport-cost matrix from a network (``cost[r, s]`` in minutes or km) becomes
``T = exp(tau * cost)`` (:func:`trade_cost_matrix`); ``cost = inf`` means no trade.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from iptown_gis.errors import ColumnError, ParameterError

__all__ = [
    "NEGModel",
    "NEGParams",
    "NoBlackHoleWarning",
    "check_cost_matrix",
    "check_shares",
    "observed_shares",
    "ring_distance",
    "trade_cost_matrix",
]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: Tolerance for "sums to one".
SHARE_TOL = 1e-6


def ring_distance(n: int) -> FloatArray:
    """``(n, n)`` ring distances: steps on the shorter arc between ``n`` equally spaced regions."""
    n = int(n)
    if n < 1:
        raise ParameterError(f"ring = {n}: give at least 1 region")
    i = np.arange(n)
    d = np.abs(i[:, None] - i[None, :])
    return np.minimum(d, n - d).astype(np.float64)


class NoBlackHoleWarning(UserWarning):
    """The no-black-hole condition ``sigma * (1 - mu) > 1`` is violated."""


@dataclass(frozen=True)
class NEGParams:
    """Parameters of the core-periphery model.

    Parameters
    ----------
    sigma
        Elasticity of substitution between varieties, ``> 1``.
    mu
        Expenditure share on manufactures (= mobile labour share), in ``(0, 1)``.
    strict
        Raise :class:`ParameterError` (instead of warning) when the no-black-hole condition
        ``sigma * (1 - mu) > 1`` (``rho = (sigma - 1) / sigma > mu``) is violated.

    Raises
    ------
    ParameterError
        ``sigma <= 1``, ``mu`` outside ``(0, 1)``, non-finite values, or (``strict``) a
        violated no-black-hole condition.

    Warns
    -----
    NoBlackHoleWarning
        The no-black-hole condition is violated and ``strict`` is false: agglomeration forces
        then dominate at every trade cost (there is no break point).
    """

    sigma: float = 5.0
    mu: float = 0.4
    strict: bool = False

    def __post_init__(self) -> None:
        sigma, mu = float(self.sigma), float(self.mu)
        if not np.isfinite(sigma) or sigma <= 1.0:
            raise ParameterError(f"sigma = {self.sigma!r}: the elasticity of substitution must be > 1")
        if not np.isfinite(mu) or not 0.0 < mu < 1.0:
            raise ParameterError(f"mu = {self.mu!r}: the manufacturing expenditure share must be in (0, 1)")
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "mu", mu)
        if sigma * (1.0 - mu) <= 1.0:
            msg = (f"no-black-hole condition violated: sigma * (1 - mu) = {sigma * (1 - mu):.4g} <= 1 "
                   f"(sigma = {sigma:g}, mu = {mu:g}); agglomeration wins at every trade cost. "
                   "Raise sigma or lower mu")
            if self.strict:
                raise ParameterError(msg)
            warnings.warn(msg, NoBlackHoleWarning, stacklevel=3)

    @property
    def rho(self) -> float:
        """``(sigma - 1) / sigma``."""
        return (self.sigma - 1.0) / self.sigma

    @property
    def no_black_hole(self) -> bool:
        """Whether ``sigma * (1 - mu) > 1``."""
        return self.sigma * (1.0 - self.mu) > 1.0


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    """One ``threadpoolctl`` controller per process (``None`` without threadpoolctl).

    Finding the loaded BLAS libraries scans the process's shared objects (~10 ms); doing it on
    every short-run solve made the FKV bifurcation diagram spend most of its time there."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional
        return None
    return ThreadpoolController()


def blas_limit(n: int) -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread for small problems (``n <= 300``): multi-threaded BLAS on tiny matrices
    is slower, pathologically so on a loaded machine. No-op without ``threadpoolctl``."""
    if n > 300:
        return contextlib.nullcontext()
    ctl = _blas_controller()
    if ctl is None:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return ctl.limit(limits=1, user_api="blas")  # type: ignore[no-any-return]


def check_cost_matrix(cost: ArrayLike, *, name: str = "cost matrix", diagonal: float = 0.0) -> FloatArray:
    """Validate a transport-cost matrix and return it as a float array.

    Parameters
    ----------
    cost
        Square matrix, non-negative, no NaN; ``inf`` marks unreachable pairs (no trade).
    name
        Name used in messages.
    diagonal
        The required diagonal value (0 for a cost, 1 for an iceberg factor ``T``).

    Raises
    ------
    ParameterError
        Not a square 2-D matrix, NaN or negative entries, or a wrong diagonal (the message
        names the first offending cell and value).
    """
    a = np.asarray(cost, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ParameterError(f"{name} must be a square 2-D matrix, got shape {a.shape}")
    if a.shape[0] < 1:
        raise ParameterError(f"{name} is empty: give at least one region")
    nan = np.isnan(a)
    if nan.any():
        i, j = (int(v) for v in np.argwhere(nan)[0])
        raise ParameterError(f"{name} has {int(nan.sum())} NaN entries (first at [{i}, {j}]); "
                             "use inf for unreachable pairs or fill the gaps")
    lo = 1.0 if diagonal == 1.0 else 0.0
    bad = a < lo
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise ParameterError(f"{name} has entries below {lo:g} (first at [{i}, {j}] = {float(a[i, j])!r}); "
                             f"costs must be {'>= 1 (iceberg factors)' if lo else 'non-negative'}")
    d = np.diag(a)
    off = ~np.isclose(d, diagonal, rtol=0.0, atol=1e-12)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ParameterError(f"{name} diagonal must be {diagonal:g}, but [{i}, {i}] = {float(d[i])!r} "
                             f"({int(off.sum())} diagonal cells differ)")
    return a


def trade_cost_matrix(cost: ArrayLike, tau: float) -> FloatArray:
    """Iceberg trade costs ``T = exp(tau * cost)`` from a cost matrix (``T[r, r] = 1``).

    The strict NEG form of :func:`iptown_gis.network.iceberg` (``form="exp"``), which computes
    the factors: the cost matrix must be square with a zero diagonal and no NaN (``inf`` marks
    no trade; :func:`~iptown_gis.network.iceberg` maps NaN to ``inf``) and ``tau > 0`` (the
    network function also takes ``tau = 0`` and ``form="power"``).

    Raises
    ------
    ParameterError
        Bad cost matrix (see :func:`check_cost_matrix`) or ``tau`` not finite and > 0.
    """
    from iptown_gis.network.od import iceberg

    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0.0:
        raise ParameterError(f"tau = {tau!r}: the trade-cost rate per unit of cost must be finite and > 0")
    return iceberg(check_cost_matrix(cost), tau=tau, form="exp")


def check_shares(shares: ArrayLike, n: int, *, name: str = "shares") -> FloatArray:
    """Validate a share vector of length ``n`` (non-negative, finite, sums to one).

    Parameters
    ----------
    shares
        The shares.
    n
        Number of regions of the model.
    name
        What to call the shares in messages.

    Raises
    ------
    ParameterError
        Wrong length, NaN / negative entries, or a sum away from one (the message gives it).
    """
    a = np.asarray(shares, dtype=np.float64).reshape(-1)
    if a.shape[0] != n:
        raise ParameterError(f"{name} has {a.shape[0]} values but the model has {n} regions")
    if not np.isfinite(a).all():
        raise ParameterError(f"{name} has NaN or infinite values (first at index "
                             f"{int(np.flatnonzero(~np.isfinite(a))[0])})")
    if (a < 0).any():
        i = int(np.flatnonzero(a < 0)[0])
        raise ParameterError(f"{name} has negative values (first: [{i}] = {float(a[i])!r}); shares must be >= 0")
    s = float(a.sum())
    if abs(s - 1.0) > SHARE_TOL:
        raise ParameterError(f"{name} must sum to 1, but they sum to {s:.6g}; normalise them (x / x.sum())")
    return a


def observed_shares(values: ArrayLike, *, name: str = "values") -> FloatArray:
    """Observed quantities (population, GDP, firms, ...) per region as shares summing to one.

    Parameters
    ----------
    values
        One non-negative value per region (a column such as ``seats["gdp_2022"]``).
    name
        What the values are, for the error message (a column or option name).

    Returns
    -------
    numpy.ndarray
        ``values / values.sum()`` as float64, usable as ``lam0`` or ``phi``.

    Raises
    ------
    ColumnError
        A value is NaN, infinite or negative, or all values are zero.

    Examples
    --------
    >>> observed_shares([1, 3]).tolist()
    [0.25, 0.75]
    """
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.isfinite(a).all() or (a < 0).any() or a.sum() <= 0:
        raise ColumnError(f"{name}: values must be finite, >= 0 and not all zero")
    return a / a.sum()


@dataclass
class NEGModel:
    """A core-periphery economy: parameters, trade costs and immobile shares.

    Build it with :meth:`from_trade_costs` (``T`` given) or :meth:`from_costs`
    (``T = exp(tau * cost)``), or :meth:`racetrack` for the ring economy.

    Attributes
    ----------
    params
        :class:`NEGParams`.
    T
        ``(R, R)`` iceberg trade costs, ``T[r, s]`` for shipping from ``r`` to ``s``.
    phi
        ``(R,)`` immobile (agricultural) shares, summing to one (default uniform).
    region_ids
        Labels of the regions (default ``0..R-1``).
    freeness
        ``T ** (1 - sigma)`` (computed once).
    """

    params: NEGParams
    T: FloatArray
    phi: FloatArray
    region_ids: list[Any] = field(default_factory=list)
    freeness: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.T = check_cost_matrix(self.T, name="trade-cost matrix T", diagonal=1.0)
        n = self.T.shape[0]
        self.phi = check_shares(self.phi, n, name="agricultural shares phi")
        if not self.region_ids:
            self.region_ids = list(range(n))
        if len(self.region_ids) != n:
            raise ParameterError(f"region_ids has {len(self.region_ids)} labels for {n} regions")
        with np.errstate(over="ignore", under="ignore"):
            self.freeness = np.power(self.T, 1.0 - self.params.sigma)

    @property
    def n(self) -> int:
        """Number of regions ``R``."""
        return int(self.T.shape[0])

    @property
    def sigma(self) -> float:
        return self.params.sigma

    @property
    def mu(self) -> float:
        return self.params.mu

    @classmethod
    def from_trade_costs(
        cls,
        T: ArrayLike,
        *,
        sigma: float = 5.0,
        mu: float = 0.4,
        phi: ArrayLike | None = None,
        region_ids: Sequence[Any] | None = None,
        strict: bool = False,
    ) -> NEGModel:
        """A model from iceberg factors ``T`` (square, ``>= 1``, unit diagonal).

        Parameters
        ----------
        T
            ``(R, R)`` iceberg factors.
        sigma, mu, strict
            As in :class:`NEGParams`.
        phi
            ``(R,)`` immobile (agricultural) shares, summing to one (default uniform).
        region_ids
            Labels of the regions (default ``0..R-1``).

        Raises
        ------
        ParameterError
            See :class:`NEGParams`, :func:`check_cost_matrix`, :func:`check_shares`.
        """
        params = NEGParams(sigma=sigma, mu=mu, strict=strict)
        return cls._assemble(params, check_cost_matrix(T, name="trade-cost matrix T", diagonal=1.0), phi, region_ids)

    @classmethod
    def from_costs(
        cls,
        cost: ArrayLike,
        *,
        tau: float,
        sigma: float = 5.0,
        mu: float = 0.4,
        phi: ArrayLike | None = None,
        region_ids: Sequence[Any] | None = None,
        strict: bool = False,
    ) -> NEGModel:
        """A model from a transport-cost matrix (minutes, km, ...) with ``T = exp(tau * cost)``.

        Parameters
        ----------
        cost
            ``(R, R)`` transport costs (zero diagonal).
        tau
            Trade-cost rate per unit of cost (> 0).
        sigma, mu, strict, phi, region_ids
            As in :meth:`from_trade_costs`.

        Raises
        ------
        ParameterError
            Bad parameters, cost matrix (not square, NaN, negative, non-zero diagonal) or shares.
        """
        params = NEGParams(sigma=sigma, mu=mu, strict=strict)
        return cls._assemble(params, trade_cost_matrix(cost, tau), phi, region_ids)

    @classmethod
    def _assemble(cls, params: NEGParams, T: FloatArray, phi: ArrayLike | None,
                  region_ids: Sequence[Any] | None) -> NEGModel:
        """The model from checked parts (``phi`` default: uniform)."""
        n = T.shape[0]
        ph = np.full(n, 1.0 / n) if phi is None else np.asarray(phi, dtype=np.float64)
        return cls(params=params, T=T, phi=ph, region_ids=list(region_ids) if region_ids is not None else [])

    @classmethod
    def racetrack(
        cls, n: int, *, tau: float, sigma: float = 5.0, mu: float = 0.4, strict: bool = False
    ) -> NEGModel:
        """The racetrack economy: ``n`` regions on a ring, ``T = exp(tau * ring_steps)``.

        Agricultural shares are uniform.

        Parameters
        ----------
        n
            Number of regions on the ring.
        tau
            Trade-cost rate per step along the ring.
        sigma, mu, strict
            As in :class:`NEGParams`.
        """
        return cls.from_costs(ring_distance(n), tau=tau, sigma=sigma, mu=mu, strict=strict)

    def with_trade_costs(self, T: ArrayLike) -> NEGModel:
        """A copy with other trade costs (same parameters, shares and ids)."""
        return NEGModel(params=self.params, T=np.asarray(T, dtype=np.float64), phi=self.phi.copy(),
                        region_ids=list(self.region_ids))
