"""Multi-criteria scoring of candidate sites: normalisation, weights, ranks, constraints, robustness.

The score of candidate ``i`` is the weighted mean of its normalised criteria::

    S_i = sum_c w_c * N_ic / sum_c w_c

where ``N_ic`` is criterion ``c`` of candidate ``i`` normalised so that **higher is always
better**: a *benefit* criterion (more is better: market potential, KDE, Gi* z) keeps its
direction, a *cost* criterion (less is better: travel time to an anchor, Gi* p-value) is
reversed. Consequently, changing the weight of criterion ``c`` from ``a`` to ``b`` (the other
weights fixed, ``W`` their sum before the change) gives exactly::

    S_i' = (W * S_i + (b - a) * N_ic) / (W + b - a)

so raising ``w_c`` moves every score towards that candidate's ``N_ic``: the candidates with
``N_ic > S_i`` gain, the others lose. Ranks are 1 = best; ties in score are broken by
candidate id, so ranks do not depend on the order of the input rows.

Normalisations (per criterion, over the candidates):

- ``minmax``: ``(x - min) / (max - min)`` in [0, 1] (cost: ``(max - x) / (max - min)``);
- ``zscore``: ``(x - mean) / std`` (population std; cost: negated);
- ``rank``: average rank scaled to [0, 1] (``(r - 1) / (n - 1)``, 1 = best).

A constant criterion cannot discriminate: it becomes 0.5 (minmax, rank) or 0 (zscore).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from iptown_gis.errors import ColumnError, InfeasibleError, ParameterError
from iptown_gis.parallel.executor import Executor, as_executor
from iptown_gis.progress import Progress, ProgressCallback

__all__ = [
    "Normalisation",
    "RobustnessResult",
    "check_weights",
    "greedy_select",
    "normalise",
    "rank_candidates",
    "rank_scores",
    "robustness",
    "score",
]

log = logging.getLogger(__name__)

Normalisation = Literal["minmax", "zscore", "rank"]
Direction = Literal["benefit", "cost"]


def check_weights(weights: Mapping[str, float], criteria: Sequence[str]) -> dict[str, float]:
    """Validate weights against criterion names and rescale them to sum to 1.

    Parameters
    ----------
    weights
        Criterion name -> non-negative weight.
    criteria
        The criterion names the weights must match exactly.

    Returns
    -------
    dict
        Criterion name -> weight / sum(weights), in the order of ``criteria``.

    Raises
    ------
    ParameterError
        A weight is negative or not finite, the names do not match, or all weights are 0.
    """
    crit = list(criteria)
    unknown = [k for k in weights if k not in crit]
    missing = [c for c in crit if c not in weights]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"weights for unknown criteria {unknown}")
        if missing:
            parts.append(f"no weight for criteria {missing}")
        raise ParameterError(
            f"weights do not match the criteria: {'; '.join(parts)}; criteria are: {crit}"
        )
    w = np.array([float(weights[c]) for c in crit], dtype=float)
    bad = [c for c, v in zip(crit, w) if not np.isfinite(v) or v < 0]
    if bad:
        raise ParameterError(
            f"weights must be finite and non-negative; check {', '.join(f'{c}={weights[c]}' for c in bad)}"
        )
    total = float(w.sum())
    if total <= 0:
        raise ParameterError("all weights are 0: give at least one criterion a positive weight")
    return {c: float(v / total) for c, v in zip(crit, w)}


def _sorted_stats(x: np.ndarray) -> tuple[float, float]:
    """Mean and population std computed on sorted values (independent of row order)."""
    s = np.sort(x)
    mean = float(np.sum(s) / s.size)
    dev = np.sort((s - mean) ** 2)
    return mean, float(np.sqrt(np.sum(dev) / s.size))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based average ranks (ties share their mean rank), ascending."""
    return np.asarray(pd.Series(x).rank(method="average").to_numpy(), dtype=float)


def normalise(
    values: np.ndarray | pd.DataFrame,
    *,
    directions: Sequence[Direction],
    method: Normalisation = "minmax",
) -> np.ndarray:
    """Normalise each column of ``values`` so that higher is better.

    Parameters
    ----------
    values
        ``(n_candidates, n_criteria)`` raw criterion values (finite).
    directions
        ``"benefit"`` (more is better) or ``"cost"`` (less is better) per column.
    method
        ``"minmax"``, ``"zscore"`` or ``"rank"`` (see the module docstring).

    Returns
    -------
    numpy.ndarray
        ``(n_candidates, n_criteria)`` normalised values.

    Raises
    ------
    ParameterError
        Unknown method or direction, or ``directions`` of the wrong length.
    ColumnError
        Non-finite values.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 2:
        raise ParameterError(f"values must be a 2-D array (candidates x criteria), got shape {x.shape}")
    if len(directions) != x.shape[1]:
        raise ParameterError(f"{len(directions)} directions given for {x.shape[1]} criteria")
    if method not in ("minmax", "zscore", "rank"):
        raise ParameterError(f"unknown normalisation {method!r}: use 'minmax', 'zscore' or 'rank'")
    if not np.isfinite(x).all():
        cols = sorted({int(j) for j in np.nonzero(~np.isfinite(x))[1]})
        raise ColumnError(f"criterion column(s) {cols} hold NaN or infinite values; fill or drop them first")
    out = np.empty_like(x)
    n = x.shape[0]
    for j, d in enumerate(directions):
        if d not in ("benefit", "cost"):
            raise ParameterError(f"direction {d!r} of criterion {j}: use 'benefit' or 'cost'")
        col = x[:, j] if d == "benefit" else -x[:, j]
        lo, hi = float(col.min()), float(col.max())
        if method == "minmax":
            out[:, j] = 0.5 if hi == lo else (col - lo) / (hi - lo)
        elif method == "zscore":
            mean, std = _sorted_stats(col)
            out[:, j] = 0.0 if std == 0 or hi == lo else (col - mean) / std
        else:
            out[:, j] = 0.5 if n < 2 or hi == lo else (_average_ranks(col) - 1.0) / (n - 1.0)
    return out


def score(normalised: np.ndarray, weights: np.ndarray | Sequence[float]) -> np.ndarray:
    """Weighted mean of normalised criteria: ``N @ w / sum(w)``."""
    w = np.asarray(weights, dtype=float)
    n = np.asarray(normalised, dtype=float)
    if n.shape[1] != w.size:
        raise ParameterError(f"{w.size} weights for {n.shape[1]} criteria")
    return np.asarray((n * (w / w.sum())).sum(axis=1), dtype=float)


def rank_scores(scores: np.ndarray, ids: Sequence[Any] | np.ndarray) -> np.ndarray:
    """1-based ranks of ``scores`` (1 = highest), ties broken by ascending id.

    Works on one score vector ``(n,)`` or many ``(draws, n)`` at once.
    """
    s = np.asarray(scores, dtype=float)
    id_order = np.argsort(_sortable(ids), kind="stable")
    inv = np.empty_like(id_order)
    inv[id_order] = np.arange(id_order.size)
    two_d = s.ndim == 2
    s2 = s if two_d else s[None, :]
    s_sorted_ids = s2[:, id_order]  # columns in id order
    order = np.argsort(-s_sorted_ids, axis=1, kind="stable")  # stable: ties keep id order
    ranks_idorder = np.empty_like(order)
    rows = np.arange(s2.shape[0])[:, None]
    ranks_idorder[rows, order] = np.arange(1, s2.shape[1] + 1)[None, :]
    ranks = ranks_idorder[:, inv]
    return ranks if two_d else ranks[0]


def _sortable(ids: Sequence[Any] | np.ndarray) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype.kind in "iufb":
        return arr
    return np.asarray([str(v) for v in arr], dtype=object)


def rank_candidates(
    criteria: pd.DataFrame,
    *,
    weights: Mapping[str, float],
    directions: Mapping[str, Direction],
    method: Normalisation = "minmax",
    ids: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Normalise, weight and rank candidates.

    Parameters
    ----------
    criteria
        One row per candidate, one column per criterion (raw values).
    weights
        Criterion name -> non-negative weight; names must match ``criteria`` columns exactly.
    directions
        Criterion name -> ``"benefit"`` or ``"cost"``.
    method
        Normalisation (``minmax``, ``zscore``, ``rank``).
    ids
        Unique candidate ids used to break ties (default: the index).

    Returns
    -------
    pandas.DataFrame
        The input columns, plus ``norm_<criterion>`` columns, ``score`` and ``rank``
        (same row order as the input).

    Raises
    ------
    ParameterError, ColumnError
    """
    names = [str(c) for c in criteria.columns]
    w = check_weights(weights, names)
    missing_dir = [c for c in names if c not in directions]
    if missing_dir:
        raise ParameterError(f"no direction for criteria {missing_dir}: give 'benefit' or 'cost'")
    id_arr = np.asarray(criteria.index if ids is None else ids)
    if pd.Series(id_arr).duplicated().any():
        dup = pd.Series(id_arr)[pd.Series(id_arr).duplicated()].unique()[:5].tolist()
        raise ColumnError(f"candidate ids must be unique; repeated: {dup}")
    norm = normalise(criteria.to_numpy(dtype=float), directions=[directions[c] for c in names], method=method)
    s = score(norm, [w[c] for c in names])
    out = criteria.copy()
    for j, c in enumerate(names):
        out[f"norm_{c}"] = norm[:, j]
    out["score"] = s
    out["rank"] = rank_scores(s, id_arr)
    return out


def greedy_select(
    order: Sequence[int] | np.ndarray,
    k: int,
    *,
    cost: np.ndarray | None = None,
    min_spacing: float | None = None,
    groups: Sequence[Any] | np.ndarray | None = None,
    max_per_group: int | None = None,
) -> np.ndarray:
    """Pick ``k`` candidates in ``order`` (best first), skipping those that break a constraint.

    Parameters
    ----------
    order
        Candidate positions, best first (e.g. ``np.argsort(rank)``).
    k
        Number to choose.
    cost
        ``(n, n)`` network cost between candidates (NaN = unreachable = far enough).
    min_spacing
        A candidate is skipped when its cost to (or from) a chosen one is below this.
    groups, max_per_group
        At most ``max_per_group`` chosen per group label (e.g. prefecture).

    Returns
    -------
    numpy.ndarray
        Positions of the chosen candidates, in choice order.

    Raises
    ------
    InfeasibleError
        Fewer than ``k`` candidates satisfy the constraints; the message names them.
    ParameterError
        ``k`` < 1, or a constraint without the data it needs.
    """
    idx = np.asarray(order, dtype=int)
    n = idx.size
    if k < 1:
        raise ParameterError(f"k must be at least 1, got {k}")
    if k > n:
        raise ParameterError(f"k = {k} is larger than the number of candidates ({n}); lower k")
    if min_spacing is not None and cost is None:
        raise ParameterError("min_spacing needs the candidate-to-candidate cost matrix")
    if max_per_group is not None and groups is None:
        raise ParameterError("max_per_group needs a group (prefecture) per candidate")
    sym = None
    if min_spacing is not None and cost is not None:
        c = np.asarray(cost, dtype=float)
        c = np.where(np.isnan(c), np.inf, c)
        sym = np.minimum(c, c.T)
    grp = np.asarray(groups) if groups is not None else None
    counts: dict[Any, int] = {}
    chosen: list[int] = []
    skipped_spacing = skipped_group = 0
    for i in idx:
        if sym is not None and chosen and float(sym[i, chosen].min()) < float(min_spacing or 0.0):
            skipped_spacing += 1
            continue
        if grp is not None and max_per_group is not None and counts.get(grp[i], 0) >= max_per_group:
            skipped_group += 1
            continue
        chosen.append(int(i))
        if grp is not None:
            counts[grp[i]] = counts.get(grp[i], 0) + 1
        if len(chosen) == k:
            return np.asarray(chosen, dtype=int)
    raise InfeasibleError(
        f"only {len(chosen)} of k = {k} candidates satisfy the constraints "
        f"(min_spacing = {min_spacing} skipped {skipped_spacing}, max_per_prefecture = {max_per_group} "
        f"skipped {skipped_group}); relax min_spacing / max_per_prefecture or lower k"
    )


@dataclass
class RobustnessResult:
    """Monte Carlo weight perturbation: per-candidate rank statistics over the draws."""

    p_top_k: np.ndarray
    rank_p05: np.ndarray
    rank_median: np.ndarray
    rank_p95: np.ndarray
    draws: int
    k: int
    weights: np.ndarray  # (draws, n_criteria) sampled weights

    def to_frame(self, index: Any = None) -> pd.DataFrame:
        return pd.DataFrame(
            {"p_top_k": self.p_top_k, "rank_p05": self.rank_p05, "rank_median": self.rank_median,
             "rank_p95": self.rank_p95},
            index=index,
        )


def _rank_draws(span: tuple[int, int], shared: dict[str, Any]) -> np.ndarray:
    """Ranks of the candidates under the weight draws ``span`` (one task of :func:`robustness`)."""
    start, stop = span
    s = shared["sampled"][start:stop] @ shared["normalised"].T  # weights sum to 1 already
    return np.asarray(rank_scores(s, shared["ids"]))


def robustness(
    normalised: np.ndarray,
    weights: np.ndarray | Sequence[float],
    *,
    ids: Sequence[Any] | np.ndarray,
    k: int,
    draws: int = 1000,
    concentration: float = 50.0,
    seed: int | None = 0,
    batch: int = 2000,
    executor: Executor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> RobustnessResult:
    """Perturb the weights (Dirichlet around the given ones) and report rank statistics.

    Weights are drawn as ``Dirichlet(concentration * w / sum(w))``, whose mean is the given
    weights; a criterion with weight 0 stays 0. Each draw re-scores and re-ranks all candidates
    (vectorised in batches of ``batch`` draws, one task per batch). The draws are made here,
    before any task runs, so the result does not depend on the executor.

    Parameters
    ----------
    normalised
        ``(n, c)`` normalised criteria (higher is better).
    weights
        ``(c,)`` non-negative weights.
    ids
        Candidate ids for tie-breaking (as in :func:`rank_scores`).
    k
        Report the probability of a rank <= k.
    draws
        Number of Monte Carlo draws.
    concentration
        Dirichlet concentration (larger = less perturbation).
    seed
        Random seed (reproducible results).
    batch
        Draws re-ranked at once (one task each).
    executor
        An :class:`iptown_gis.parallel.Executor` (e.g. Dask) for the batches; ``None``: here.
        Identical results.
    progress
        Callback or :class:`~iptown_gis.progress.Progress` (cancellation between batches).

    Returns
    -------
    RobustnessResult
        ``p_top_k`` and 5 / 50 / 95 % rank quantiles per candidate.

    Raises
    ------
    ParameterError
        ``draws`` < 1, ``concentration`` <= 0, ``k`` out of range, or weights negative or all 0.
    """
    n_mat = np.asarray(normalised, dtype=float)
    w = np.asarray(weights, dtype=float)
    if draws < 1:
        raise ParameterError(f"draws must be at least 1, got {draws}")
    if concentration <= 0:
        raise ParameterError(f"concentration must be positive, got {concentration}")
    if k < 1 or k > n_mat.shape[0]:
        raise ParameterError(f"k = {k} must be between 1 and the number of candidates ({n_mat.shape[0]})")
    if (w < 0).any() or w.sum() <= 0:
        raise ParameterError("weights must be non-negative with a positive sum")
    if batch < 1:
        raise ParameterError(f"batch must be at least 1, got {batch}")
    rng = np.random.default_rng(seed)
    pos = w > 0
    alpha = concentration * w[pos] / w.sum()
    sampled = np.zeros((draws, w.size))
    sampled[:, pos] = rng.dirichlet(alpha, size=draws)
    ranks = np.empty((draws, n_mat.shape[0]), dtype=np.int32)
    spans = [(start, min(start + batch, draws)) for start in range(0, draws, batch)]

    def put(i: int, block: np.ndarray) -> None:
        ranks[spans[i][0]:spans[i][1]] = block

    ex = as_executor(executor)
    shared = ex.scatter({"sampled": sampled, "normalised": n_mat, "ids": np.asarray(ids)})
    ex.map_tasks(_rank_draws, spans, shared, progress=progress, message="robustness: batches of draws",
                 on_result=put)
    q = np.percentile(ranks, [5.0, 50.0, 95.0], axis=0, method="linear")
    return RobustnessResult(
        p_top_k=(ranks <= k).mean(axis=0),
        rank_p05=q[0],
        rank_median=q[1],
        rank_p95=q[2],
        draws=draws,
        k=k,
        weights=sampled,
    )
