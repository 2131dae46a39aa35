"""Independent tasks: NEG parameter sweeps, scenario batches, the sites robustness Monte Carlo.

Each item of a sweep is one task; shared inputs (a cost matrix, a criteria table) are sent to
every worker once. With ``executor=None`` the same task function runs in a loop here, so the
in-process and Dask results are identical.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from iptown_gis.errors import ParameterError
from iptown_gis.progress import Progress, ProgressCallback, as_progress

if TYPE_CHECKING:
    import pandas as pd

    from iptown_gis.neg import LongRun
    from iptown_gis.neg.config import NEGConfig
    from iptown_gis.neg.scenarios import ScenarioResult
    from iptown_gis.sites.scoring import RobustnessResult

    from .executor import DaskExecutor

__all__ = ["monte_carlo", "neg_bifurcation", "neg_scenarios", "neg_sweep", "run_tasks", "scenario_batch",
           "sites_robustness"]

log = logging.getLogger(__name__)


def run_tasks(func: Callable[..., Any], items: Sequence[Any], *, shared: Any = None,
              executor: DaskExecutor | None = None,
              progress: ProgressCallback | Progress | None = None, message: str = "tasks") -> list[Any]:
    """``[func(item, shared) for item in items]`` (``func(item)`` when ``shared`` is None).

    On an executor, ``shared`` is scattered to every worker once and each item is a task;
    results come back in the order of ``items``.
    """
    prog = as_progress(progress)
    items = list(items)
    extra: tuple[Any, ...] = () if shared is None else (shared,)
    if executor is None:
        out = []
        for i, it in enumerate(items):
            prog.update(i / max(len(items), 1), f"{message}: {i}/{len(items)}")
            out.append(func(it, *extra))
        prog.update(1.0, f"{message}: done")
        return out
    if shared is not None:
        extra = (executor.scatter(shared),)
    return executor.map_tasks(func, items, *extra, progress=prog, message=message)


def _neg_task(params: dict[str, Any], shared: dict[str, Any]) -> Any:
    from iptown_gis.neg import NEGModel, long_run

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
    executor: DaskExecutor | None = None,
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
    long_run_options
        Passed to :func:`iptown_gis.neg.long_run` (``tol``, ``require_stable``, ...).

    Returns
    -------
    list of (params, LongRun)
        In the order tau-major, then sigma, then mu.
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


def _neg_scenario_task(config: NEGConfig, shared: dict[str, Any]) -> dict[str, ScenarioResult]:
    from iptown_gis.neg.scenarios import run_scenarios

    return run_scenarios(shared["cost"], config=config, **shared["kw"])


def neg_scenarios(
    cost: ArrayLike,
    *,
    region_ids: Sequence[Any],
    config: NEGConfig,
    lam0: ArrayLike | None = None,
    phi: ArrayLike | None = None,
    seats: Any = None,
    layers: Any = None,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> dict[str, ScenarioResult]:
    """:func:`iptown_gis.neg.scenarios.run_scenarios` with one task per ``[[neg.scenarios]]`` entry.

    Each scenario's run depends only on its own settings, so running each as its own task gives
    the same results as the in-process loop (which this calls when ``executor`` is None).
    """
    from iptown_gis.neg.scenarios import run_scenarios

    kw = {"region_ids": list(region_ids), "lam0": lam0, "phi": phi, "seats": seats, "layers": layers}
    if executor is None:
        return run_scenarios(cost, config=config, progress=progress, **kw)
    items = [config.model_copy(update={"scenarios": [sc]}) for sc in config.scenarios]
    parts = run_tasks(_neg_scenario_task, items, shared={"cost": cost, "kw": kw}, executor=executor,
                      progress=progress, message="NEG scenarios")
    out: dict[str, ScenarioResult] = {}
    for part in parts:
        out.update(part)
    return out


def _bifurcation_task(tau: float, shared: dict[str, Any]) -> pd.DataFrame:
    from iptown_gis.neg.diagrams import bifurcation

    return bifurcation(shared["cost"], [tau], **shared["kw"])


def neg_bifurcation(cost: ArrayLike, taus: ArrayLike, *, executor: DaskExecutor | None = None,
                    progress: ProgressCallback | Progress | None = None, **options: Any) -> pd.DataFrame:
    """:func:`iptown_gis.neg.diagrams.bifurcation` with one task per ``tau`` (same table).

    ``options`` are those of ``bifurcation`` (``sigma``, ``mu``, ``phi``, ``lam0``, ...).
    """
    import pandas as pd

    from iptown_gis.neg.diagrams import bifurcation

    if executor is None:
        return bifurcation(cost, taus, progress=progress, **options)
    t = np.asarray(taus, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.isfinite(t).all() or (t <= 0).any():
        raise ParameterError(f"taus = {t.tolist()!r}: give positive, finite values")
    parts = run_tasks(_bifurcation_task, [float(v) for v in t], shared={"cost": cost, "kw": options},
                      executor=executor, progress=progress, message="bifurcation")
    return pd.concat(parts, ignore_index=True)


def _scenario_task(item: tuple[str, str, list[str] | None]) -> dict[str, Any]:
    from iptown_gis.pipeline import run_scenario

    path, out, stages = item
    return run_scenario(path, out, stages=stages)


def scenario_batch(
    scenarios: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    stages: Sequence[str] | None = None,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> list[dict[str, Any]]:
    """Run several scenario files, each into ``out_dir/<scenario stem>/``, one task each.

    Returns the manifests in the order of ``scenarios``. Scenario stems must be unique. On a
    remote cluster the paths must be visible to the workers (a shared file system).
    """
    paths = [Path(p).resolve() for p in scenarios]
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ParameterError(f"scenario file names must be unique (outputs go to out_dir/<name>): {stems}")
    base = Path(out_dir).resolve()
    items = [(str(p), str(base / p.stem), None if stages is None else list(stages)) for p in paths]
    return run_tasks(_scenario_task, items, executor=executor, progress=progress, message="scenarios")


def _ranks_task(item: tuple[int, int], shared: dict[str, Any]) -> np.ndarray:
    from iptown_gis.sites.scoring import rank_scores

    a, b = item
    s = shared["sampled"][a:b] @ shared["normalised"].T
    return np.asarray(rank_scores(s, shared["ids"]))


def sites_robustness(
    normalised: ArrayLike,
    weights: ArrayLike,
    *,
    ids: Sequence[Any] | np.ndarray,
    k: int,
    draws: int = 1000,
    concentration: float = 50.0,
    seed: int | None = 0,
    batch: int = 2000,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> RobustnessResult:
    """:func:`iptown_gis.sites.scoring.robustness` with the draws' re-ranking as tasks.

    The weights are drawn here exactly as the in-process function draws them (same seed, same
    generator calls); each batch of ``batch`` draws is re-scored and re-ranked in one task.
    Without an executor this calls :func:`~iptown_gis.sites.scoring.robustness` itself; with one
    the result is identical.
    """
    from iptown_gis.sites.scoring import RobustnessResult, robustness

    if executor is None:
        return robustness(normalised, weights, ids=ids, k=k, draws=draws, concentration=concentration,  # type: ignore[arg-type]
                          seed=seed, batch=batch, progress=progress)
    n_mat = np.asarray(normalised, dtype=float)
    w = np.asarray(weights, dtype=float)
    # validate exactly as the in-process function does (draws=1 is cheap)
    robustness(n_mat, w, ids=ids, k=k, draws=1, concentration=concentration, seed=seed, batch=batch)
    if draws < 1:
        raise ParameterError(f"draws must be at least 1, got {draws}")
    rng = np.random.default_rng(seed)
    pos = w > 0
    alpha = concentration * w[pos] / w.sum()
    sampled = np.zeros((draws, w.size))
    sampled[:, pos] = rng.dirichlet(alpha, size=draws)
    spans = [(a, min(a + batch, draws)) for a in range(0, draws, batch)]
    shared = {"sampled": sampled, "normalised": n_mat, "ids": np.asarray(ids)}
    parts = run_tasks(_ranks_task, spans, shared=shared, executor=executor, progress=progress,
                      message="robustness")
    ranks = np.concatenate(parts, axis=0)
    q = np.percentile(ranks, [5.0, 50.0, 95.0], axis=0, method="linear")
    return RobustnessResult(p_top_k=(ranks <= k).mean(axis=0), rank_p05=q[0], rank_median=q[1], rank_p95=q[2],
                            draws=draws, k=k, weights=sampled)


def monte_carlo(func: Callable[[np.random.Generator, Any], Any], n: int, *, shared: Any = None,
                seed: int = 0, executor: DaskExecutor | None = None,
                progress: ProgressCallback | Progress | None = None) -> list[Any]:
    """``n`` independent replicates ``func(rng_i, shared)``; ``rng_i`` from ``SeedSequence(seed).spawn(n)``.

    Each replicate's generator depends only on ``seed`` and its index, so results do not
    depend on where (or in which order) replicates run.
    """
    if n < 1:
        raise ParameterError(f"n must be at least 1, got {n}")
    seqs = np.random.SeedSequence(seed).spawn(n)
    return run_tasks(_mc_task, [(func, s) for s in seqs], shared=shared, executor=executor,
                     progress=progress, message="Monte Carlo")


def _mc_task(item: tuple[Callable[[np.random.Generator, Any], Any], np.random.SeedSequence], shared: Any = None) -> Any:
    func, seq = item
    return func(np.random.default_rng(seq), shared)
