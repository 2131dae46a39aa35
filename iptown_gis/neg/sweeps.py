"""NEG runs over many parameter values, one task each, on any executor.

- :func:`neg_sweep`: long-run equilibria over a grid of ``tau x sigma x mu``;
- :func:`neg_bifurcation`: :func:`~iptown_gis.neg.diagrams.bifurcation` with one task per ``tau``.

(:func:`~iptown_gis.neg.scenarios.run_scenarios` takes ``executor=`` itself: one task per
scenario.) Every point depends only on its own parameters and the shared inputs, which are
sent to each worker once, so an :class:`iptown_gis.parallel.Executor` (Dask) gives the same
results as ``executor=None`` (in-process).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from iptown_gis.errors import ParameterError
from iptown_gis.neg.diagrams import bifurcation
from iptown_gis.neg.equilibrium import LongRun, long_run
from iptown_gis.neg.model import NEGModel
from iptown_gis.parallel.executor import Executor, run_tasks
from iptown_gis.progress import Progress, ProgressCallback

__all__ = ["neg_bifurcation", "neg_sweep"]


def _neg_task(params: dict[str, Any], shared: dict[str, Any]) -> LongRun:
    model = NEGModel.from_costs(shared["cost"], tau=params["tau"], sigma=params["sigma"], mu=params["mu"],
                                phi=shared["phi"], region_ids=shared["region_ids"])
    return long_run(model, shared["lam0"], seed=params.get("seed", 0), **shared["long_run"])


def neg_sweep(
    cost: ArrayLike,
    *,
    taus: Sequence[float],
    sigmas: Sequence[float] = (5.0,),
    mus: Sequence[float] = (0.4,),
    phi: ArrayLike | None = None,
    lam0: ArrayLike | None = None,
    region_ids: Sequence[Any] | None = None,
    seed: int = 0,
    executor: Executor | None = None,
    progress: ProgressCallback | Progress | None = None,
    **long_run_options: Any,
) -> list[tuple[dict[str, float], LongRun]]:
    """Long-run NEG equilibria over a grid of ``tau x sigma x mu``, one task per point.

    Parameters
    ----------
    cost
        Transport-cost matrix (``T = exp(tau * cost)``).
    taus, sigmas, mus
        Parameter values; every combination is solved.
    phi, lam0, region_ids
        As in :meth:`iptown_gis.neg.NEGModel.from_costs` and :func:`iptown_gis.neg.long_run`.
    seed
        Seed of each run's start perturbation (:func:`iptown_gis.neg.long_run`).
    executor
        An :class:`iptown_gis.parallel.Executor` (e.g. Dask); ``None`` runs here. Same results.
    progress
        Callback or :class:`~iptown_gis.progress.Progress` (fraction of points done).
    long_run_options
        Passed to :func:`iptown_gis.neg.long_run` (``tol``, ``require_stable``, ...).

    Returns
    -------
    list of (params, LongRun)
        In the order tau-major, then sigma, then mu.

    Raises
    ------
    ParameterError
        An empty list of ``taus``, ``sigmas`` or ``mus``.
    """
    if not len(taus) or not len(sigmas) or not len(mus):
        raise ParameterError("neg_sweep needs at least one value each of taus, sigmas and mus")
    grid = [{"tau": float(t), "sigma": float(s), "mu": float(m), "seed": int(seed)}
            for t in taus for s in sigmas for m in mus]
    shared = {"cost": np.asarray(cost, dtype=float), "phi": None if phi is None else np.asarray(phi, dtype=float),
              "lam0": None if lam0 is None else np.asarray(lam0, dtype=float),
              "region_ids": None if region_ids is None else list(region_ids), "long_run": dict(long_run_options)}
    res = run_tasks(_neg_task, grid, shared=shared, executor=executor, progress=progress, message="NEG sweep")
    return list(zip(grid, res, strict=True))


def _bifurcation_task(tau: float, shared: dict[str, Any]) -> pd.DataFrame:
    return bifurcation(shared["cost"], [tau], **shared["kw"])


def neg_bifurcation(cost: ArrayLike, taus: ArrayLike, *, executor: Executor | None = None,
                    progress: ProgressCallback | Progress | None = None, **options: Any) -> pd.DataFrame:
    """:func:`iptown_gis.neg.diagrams.bifurcation` with one task per ``tau`` (the same table).

    Parameters
    ----------
    cost
        Transport-cost matrix.
    taus
        The ``tau`` grid (positive, finite).
    executor
        An :class:`iptown_gis.parallel.Executor`; ``None`` calls ``bifurcation`` here directly.
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.
    options
        Those of ``bifurcation`` (``sigma``, ``mu``, ``phi``, ``lam0``, ``region_ids``, ...).

    Returns
    -------
    pandas.DataFrame
        As :func:`~iptown_gis.neg.diagrams.bifurcation`.

    Raises
    ------
    ParameterError
        No ``taus``, or a non-positive or non-finite one.
    """
    if executor is None:
        return bifurcation(cost, taus, progress=progress, **options)
    t = np.asarray(taus, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.isfinite(t).all() or (t <= 0).any():
        raise ParameterError(f"taus = {t.tolist()!r}: give positive, finite values")
    parts = run_tasks(_bifurcation_task, [float(v) for v in t], shared={"cost": cost, "kw": options},
                      executor=executor, progress=progress, message="bifurcation")
    return pd.concat(parts, ignore_index=True)
