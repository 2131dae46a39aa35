"""Ranking candidates and choosing k towns: the functions behind the stage, the CLI and the plugin.

>>> ranked = rank_sites(candidates, criteria, weights=..., directions=...)     # doctest: +SKIP
>>> chosen = choose_sites(ranked, k=3, model="pmedian", demand_cost=cost, demand_weights=w)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from iptown_gis.errors import ColumnError, ParameterError
from iptown_gis.io.atomic import atomic_path, ensure_writable_dir
from iptown_gis.io.vector import write_vector
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.sites.candidates import SITE_ID
from iptown_gis.sites.location import MCLP, LocationModel, PMedian
from iptown_gis.sites.scoring import (
    Direction,
    Normalisation,
    check_weights,
    greedy_select,
    normalise,
    rank_scores,
    robustness,
    score,
)

__all__ = [
    "COLLINEAR_RHO",
    "Selection",
    "choose_sites",
    "collinear_criteria",
    "fill_missing",
    "json_default",
    "plot_sites",
    "rank_sites",
    "write_site_outputs",
]

log = logging.getLogger(__name__)

Model = Literal["rank", "mclp", "pmedian"]


def fill_missing(values: pd.DataFrame, directions: Mapping[str, Direction], *, missing: str = "worst") -> pd.DataFrame:
    """Replace NaN criterion values by the criterion's worst value (``missing="worst"``) or raise.

    Parameters
    ----------
    values
        Raw criterion values, one column per criterion.
    directions
        Criterion -> ``"benefit"`` or ``"cost"`` (which end is worst).
    missing
        ``"worst"`` or ``"error"``.

    Raises
    ------
    ColumnError
        NaN values with ``missing="error"``, or a criterion without any value.
    """
    out = values.copy()
    for c in out.columns:
        col = out[c].to_numpy(dtype=float, copy=True)  # a copy: pandas may hand out a read-only view
        bad = ~np.isfinite(col)
        if not bad.any():
            continue
        if bad.all():
            raise ColumnError(
                f"criterion {c!r} has no value at any candidate (are the candidates outside its raster, "
                "or its layer empty?); drop the criterion or fix its source"
            )
        if missing == "error":
            raise ColumnError(
                f"criterion {c!r} has no value at {int(bad.sum())} candidate(s); fix its source or set "
                "missing = 'worst'"
            )
        worst = np.nanmin(col) if directions[c] == "benefit" else np.nanmax(col)
        log.warning("criterion %r: %d candidate(s) without a value get the worst value %.6g",
                    c, int(bad.sum()), worst)
        col[bad] = worst
        out[c] = col
    return out


def rank_sites(
    candidates: gpd.GeoDataFrame,
    criteria: pd.DataFrame,
    *,
    weights: Mapping[str, float],
    directions: Mapping[str, Direction],
    normalisation: Normalisation = "minmax",
    missing: str = "worst",
    k: int = 3,
    draws: int = 1000,
    concentration: float = 50.0,
    seed: int | None = 0,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
) -> gpd.GeoDataFrame:
    """Score and rank candidates, with Monte Carlo robustness of the ranks to the weights.

    Parameters
    ----------
    candidates
        Candidate points with a unique ``site_id`` column
        (:func:`~iptown_gis.sites.candidates.candidates_from_layer`).
    criteria
        Raw criterion values, one column per criterion, indexed like ``candidates``.
    weights
        Criterion name -> non-negative weight (names must match ``criteria`` columns).
    directions
        Criterion name -> ``"benefit"`` (more is better) or ``"cost"`` (less is better).
    normalisation
        ``minmax``, ``zscore`` or ``rank`` (see :mod:`iptown_gis.sites.scoring`).
    missing
        ``"worst"``: a missing value gets the criterion's worst value; ``"error"``: raise.
    k
        The ``k`` of the reported probability of being in the top k.
    draws, concentration, seed
        Dirichlet weight perturbation (``draws = 0`` skips it).
    executor
        An :class:`iptown_gis.parallel.Executor` (e.g. Dask): the draws are re-ranked in batches
        as tasks (:func:`iptown_gis.sites.scoring.robustness`; identical results).
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Returns
    -------
    geopandas.GeoDataFrame
        Sorted by rank (first row = best site): the candidates' columns, each criterion, its
        normalised value ``norm_<name>``, ``score``, ``rank``, ``p_top_k``, ``rank_p05``,
        ``rank_median`` (also as ``rank_p50``), ``rank_p95``. ``attrs["sites"]["collinear"]``
        lists criteria that rank the candidates alike (:func:`collinear_criteria`).

    Raises
    ------
    ParameterError
        Weights negative or not matching the criteria; ``k`` larger than the candidates.
    ColumnError
        Missing criterion values (``missing="error"``), duplicate ids.
    """
    prog = as_progress(progress)
    if SITE_ID not in candidates.columns:
        raise ColumnError(f"candidates need a {SITE_ID!r} column: build them with candidates_from_layer")
    names = [str(c) for c in criteria.columns]
    if not names:
        raise ParameterError("no criteria to rank on: every criterion was skipped or none was given")
    w = check_weights(weights, names)
    if k < 1 or k > len(candidates):
        raise ParameterError(f"k = {k} must be between 1 and the number of candidates ({len(candidates)})")
    if len(criteria) != len(candidates) or not criteria.index.equals(candidates.index):
        raise ParameterError("criteria must be indexed like the candidates (one row per candidate)")
    ids = candidates[SITE_ID].to_numpy()
    dup = pd.Series(ids)[pd.Series(ids).duplicated()]
    if len(dup):
        raise ColumnError(f"candidate ids are not unique, e.g. {dup.tolist()[:5]}")
    filled = fill_missing(criteria, directions, missing=missing)
    dirs = [directions[c] for c in names]
    norm = normalise(filled.to_numpy(dtype=float), directions=dirs, method=normalisation)
    wv = np.array([w[c] for c in names])
    s = score(norm, wv)
    out = candidates.copy()
    for j, c in enumerate(names):
        out[c] = criteria[c].to_numpy(dtype=float)
        out[f"norm_{c}"] = norm[:, j]
    out["score"] = s
    out["rank"] = rank_scores(s, ids)
    prog.update(0.2, "ranked candidates")
    if draws > 0:
        rob = robustness(norm, wv, ids=ids, k=k, draws=draws, concentration=concentration, seed=seed,
                         executor=executor, progress=prog.sub(0.2, 1.0))
        out["p_top_k"] = rob.p_top_k
        out["rank_p05"] = rob.rank_p05
        out["rank_median"] = rob.rank_median
        out["rank_p95"] = rob.rank_p95
        out["rank_p50"] = rob.rank_median  # the same as rank_median, named like its p05 / p95 band
    out = out.sort_values("rank", kind="stable")
    collinear = collinear_criteria(filled)
    out.attrs["sites"] = {"weights": w, "directions": dict(zip(names, dirs)), "normalisation": normalisation,
                          "k": k, "draws": draws, "concentration": concentration, "seed": seed,
                          "collinear": collinear}
    return out


#: Criteria whose Spearman rank correlation over the candidates reaches this are reported as
#: one criterion counted twice (see :func:`collinear_criteria`).
COLLINEAR_RHO = 0.8


def collinear_criteria(values: pd.DataFrame, *, threshold: float = COLLINEAR_RHO) -> list[list[Any]]:
    """Pairs of criteria that rank the candidates nearly alike: ``[[a, b, rho], ...]``.

    Two criteria with a Spearman correlation ``|rho| >= threshold`` over the candidates
    measure much the same thing: their weights add up and that one dimension counts twice.
    Each pair is logged as a warning so the recipe can drop or replace one of them.

    Parameters
    ----------
    values
        Raw criterion values (one column per criterion, no NaN).
    threshold
        The ``|rho|`` from which a pair is reported.

    Returns
    -------
    list
        ``[name_a, name_b, rho]`` per pair, strongest first.
    """
    cols = [c for c in values.columns if values[c].nunique() > 1]
    if len(cols) < 2:
        return []
    rho = values[cols].rank().corr().to_numpy()
    pairs: list[list[Any]] = [[str(cols[i]), str(cols[j]), round(float(rho[i, j]), 3)]
                              for i in range(len(cols)) for j in range(i + 1, len(cols))
                              if abs(rho[i, j]) >= threshold]
    pairs.sort(key=lambda p: -abs(p[2]))
    for a, b, r in pairs:
        log.warning("sites: criteria %r and %r rank the candidates alike (Spearman rho = %.2f): the same "
                    "dimension counts twice; drop or replace one of them (docs/sites.md)", a, b, r)
    return pairs


@dataclass
class Selection:
    """The chosen towns and how well they serve the demand."""

    selected: gpd.GeoDataFrame
    summary: dict[str, Any]
    model: LocationModel | None = None
    assignment: pd.DataFrame | None = field(default=None)


def choose_sites(
    ranked: gpd.GeoDataFrame,
    *,
    k: int,
    model: Model = "rank",
    demand_cost: np.ndarray | None = None,
    demand_weights: np.ndarray | Sequence[float] | None = None,
    demand_ids: Sequence[Any] | None = None,
    standard: float | None = None,
    candidate_cost: np.ndarray | None = None,
    min_spacing: float | None = None,
    prefecture_field: str | None = None,
    max_per_prefecture: int | None = None,
    mip_gap: float = 0.0,
    time_limit: float | None = None,
    drop_unreachable: bool = True,
    progress: ProgressCallback | Progress | None = None,
) -> Selection:
    """Choose ``k`` towns among ``ranked`` candidates.

    Parameters
    ----------
    ranked
        Candidates with ``site_id`` (and ``rank`` for ``model="rank"``), in the column order of
        ``demand_cost`` / ``candidate_cost``.
    k
        Number of towns.
    model
        ``"rank"``: greedy in rank order under the constraints; ``"pmedian"``: minimise the
        weighted network cost from demand to its nearest town; ``"mclp"``: maximise the demand
        within ``standard`` of a town. Both location models are solved exactly with HiGHS.
    demand_cost
        ``(n_demand, n_candidates)`` network cost (NaN = unreachable); needed by the location
        models, optional for ``"rank"`` (then coverage statistics are reported).
    demand_weights
        Population / knowledge workers / firms per demand point (default 1).
    standard
        Coverage standard (unit of the cost: minutes or metres); required by ``"mclp"``.
    candidate_cost
        ``(n_candidates, n_candidates)`` cost between candidates (for ``min_spacing``).
    min_spacing, max_per_prefecture, prefecture_field
        Constraints on the chosen set.
    drop_unreachable
        p-median: leave out demand that reaches no candidate (warned) instead of failing.
    demand_ids
        Ids of the demand points (rows of ``demand_cost``) for the allocation table (default
        0..n-1).
    mip_gap, time_limit
        HiGHS relative MIP gap and time limit (seconds; ``None``: none) of the location models.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Returns
    -------
    Selection
        ``selected`` (the chosen candidates in choice order with ``choice``, ``demand_served``,
        ``demand_covered``), ``summary`` (objective, solver status, gap, coverage statistics).

    Raises
    ------
    ParameterError
        ``k`` larger than the candidates, a model without the data it needs.
    InfeasibleError
        No set of ``k`` towns satisfies the constraints.
    """
    prog = as_progress(progress)
    n_cand = len(ranked)
    if k < 1 or k > n_cand:
        raise ParameterError(f"k = {k} is larger than the number of candidates ({n_cand}); lower k" if k > n_cand
                             else f"k must be at least 1, got {k}")
    if model not in ("rank", "mclp", "pmedian"):
        raise ParameterError(f"unknown model {model!r}: use 'rank', 'mclp' or 'pmedian'")
    if max_per_prefecture is not None and (prefecture_field is None or prefecture_field not in ranked.columns):
        raise ColumnError(
            f"max_per_prefecture needs prefecture_field naming a candidate column (got {prefecture_field!r})"
        )
    groups = ranked[prefecture_field].to_numpy() if max_per_prefecture is not None and prefecture_field else None
    ids = ranked[SITE_ID].tolist()
    weights = None if demand_weights is None else np.asarray(demand_weights, dtype=float)
    loc: LocationModel | None = None
    summary: dict[str, Any] = {"model": model, "k": k}
    if model == "rank":
        if "rank" not in ranked.columns:
            raise ColumnError("model = 'rank' needs ranked candidates (a 'rank' column): call rank_sites first")
        order = np.argsort(ranked["rank"].to_numpy(), kind="stable")
        chosen = greedy_select(order, k, cost=candidate_cost, min_spacing=min_spacing, groups=groups,
                               max_per_group=max_per_prefecture)
        summary.update({"status": "greedy", "objective": float(ranked["score"].to_numpy()[chosen].sum())
                        if "score" in ranked.columns else None, "objective_name": "sum of scores"})
    else:
        if demand_cost is None:
            raise ParameterError(f"model = {model!r} needs demand (a demand layer and its network costs)")
        kwargs: dict[str, Any] = {
            "weights": weights, "candidate_ids": ids, "demand_ids": demand_ids, "groups": groups,
            "max_per_group": max_per_prefecture, "candidate_cost": candidate_cost, "min_spacing": min_spacing,
            "mip_gap": mip_gap, "time_limit": time_limit,
        }
        if model == "mclp":
            if standard is None:
                raise ParameterError("model = 'mclp' needs a coverage standard (minutes or metres)")
            loc = MCLP(demand_cost, service_radius=standard, p_facilities=k, **kwargs).solve(progress=prog)
            summary["objective_name"] = "covered demand weight"
        else:
            loc = PMedian(demand_cost, p_facilities=k, drop_unreachable=drop_unreachable, **kwargs).solve(
                progress=prog)
            summary["objective_name"] = "total weighted cost"
        chosen = loc.selected_
        summary.update({kk: v for kk, v in loc.summary().items() if kk not in ("model", "k")})
    chosen = np.asarray(chosen, dtype=int)
    sel = ranked.iloc[chosen].copy()
    sel.insert(0, "choice", np.arange(1, chosen.size + 1))
    assignment = None
    if demand_cost is not None:
        c = np.asarray(demand_cost, dtype=float)
        c = np.where(np.isnan(c), np.inf, c)
        w = np.ones(c.shape[0]) if weights is None else weights
        sub = c[:, chosen]
        reach = np.isfinite(sub).any(axis=1)
        nearest = np.where(reach, np.argmin(np.where(np.isfinite(sub), sub, np.inf), axis=1), -1)
        near_cost = np.where(reach, sub.min(axis=1), np.inf)
        served = np.array([w[nearest == j].sum() for j in range(chosen.size)])
        sel["demand_served"] = served
        total = float(w.sum())
        summary.update({
            "demand_total": total,
            "demand_reachable_share": float(w[reach].sum() / total) if total > 0 else float("nan"),
            "mean_cost": float(np.average(near_cost[reach], weights=w[reach])) if w[reach].sum() > 0
            else float("nan"),
            "max_cost": float(near_cost[reach].max()) if reach.any() else float("nan"),
        })
        if standard is not None:
            within = near_cost <= standard
            sel["demand_covered"] = [float(w[(nearest == j) & within].sum()) for j in range(chosen.size)]
            summary.update({"standard": float(standard), "covered_weight": float(w[within].sum()),
                            "covered_share": float(w[within].sum() / total) if total > 0 else float("nan")})
        assignment = pd.DataFrame({
            "demand_id": list(demand_ids) if demand_ids is not None else np.arange(c.shape[0]),
            SITE_ID: [ids[chosen[j]] if j >= 0 else None for j in nearest],
            "cost": near_cost, "weight": w,
        })
    summary["selected_ids"] = [_plain(v) for v in sel[SITE_ID]]
    prog.update(1.0, f"chose {k} sites ({model})")
    return Selection(selected=sel, summary=summary, model=loc, assignment=assignment)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _csv_ready(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    ll = out.to_crs(4326) if out.crs is not None else out
    out["lon"] = np.round(ll.geometry.x.to_numpy(), 6)
    out["lat"] = np.round(ll.geometry.y.to_numpy(), 6)
    return out


def write_site_outputs(
    out_dir: str | os.PathLike[str],
    ranked: gpd.GeoDataFrame,
    selection: Selection | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``ranked`` and the selection as GeoPackage, GeoJSON and CSV, plus ``summary.json``.

    Every file is written atomically; ``lon`` / ``lat`` (WGS84, 6 decimals) columns are added.

    Parameters
    ----------
    out_dir
        The folder written to (created when missing; it must be writable).
    ranked
        The ranked candidates (:func:`rank_sites`); ``ranked.attrs["sites"]`` and the first ten
        site ids go into the summary.
    selection
        The chosen towns (:func:`choose_sites`): ``selected.*`` files and the selection
        summary (``None``: ranking only).
    extra
        Further entries merged into ``summary.json`` (JSON-writable, NumPy values allowed).

    Returns
    -------
    dict
        kind -> path (``ranked_gpkg``, ``ranked_geojson``, ``ranked_csv``, ``selected_*``,
        ``summary``).
    """
    out = ensure_writable_dir(out_dir)
    paths: dict[str, Path] = {}
    r = _csv_ready(ranked)
    paths["ranked_gpkg"] = write_vector(r, out / "ranked.gpkg", layer="ranked")
    paths["ranked_geojson"] = write_vector(r, out / "ranked.geojson")
    paths["ranked_csv"] = write_vector(r, out / "ranked.csv")
    summary: dict[str, Any] = {"ranking": ranked.attrs.get("sites", {}), "n_candidates": len(ranked),
                               "top": [_plain(v) for v in ranked[SITE_ID].head(10)]}
    if selection is not None:
        s = _csv_ready(selection.selected)
        paths["selected_gpkg"] = write_vector(s, out / "selected.gpkg", layer="selected")
        paths["selected_geojson"] = write_vector(s, out / "selected.geojson")
        paths["selected_csv"] = write_vector(s, out / "selected.csv")
        summary["selection"] = selection.summary
    if extra:
        summary.update(extra)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default), encoding="utf-8")
    paths["summary"] = out / "summary.json"
    return paths


def json_default(v: Any) -> Any:
    """``json.dumps(default=...)`` for the sites summaries: NumPy scalars and arrays, else ``str``.

    Parameters
    ----------
    v
        A value ``json`` cannot write.

    Returns
    -------
    Any
        A JSON-writable value.
    """
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


_json_default = json_default  # the old private name


def _line_segments(gdf: gpd.GeoDataFrame) -> list[np.ndarray]:
    """Coordinates of every line part of ``gdf`` (boundaries of polygons included), for a LineCollection."""
    import shapely

    geoms = np.asarray(gdf.geometry.to_numpy())
    polys = np.isin(shapely.get_type_id(geoms), (3, 6))  # polygons, multi-polygons -> their boundary
    geoms = np.where(polys, shapely.boundary(geoms), geoms)
    parts = shapely.get_parts(geoms)
    coords, index = shapely.get_coordinates(parts, return_index=True)
    if coords.size == 0:
        return []
    cuts = np.nonzero(np.diff(index))[0] + 1
    return np.split(coords, cuts)


def plot_sites(
    path: str | os.PathLike[str],
    ranked: gpd.GeoDataFrame,
    selected: gpd.GeoDataFrame | None = None,
    *,
    boundary: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    anchors: gpd.GeoDataFrame | None = None,
    label_field: str | None = None,
    title: str = "Candidate sites for IP characteristic towns",
) -> Path:
    """Draw a map (PNG): candidates coloured by score, chosen towns, anchors, boundary, roads.

    Parameters
    ----------
    path
        The PNG file written (atomically).
    ranked
        The ranked candidate points with a ``score`` column; the map is in their CRS.
    selected
        The chosen towns, drawn as red stars labelled ``"<choice>. <label>"`` (``None``: none).
    boundary
        Boundary polygons or lines drawn as outlines (``None``: none).
    roads
        Road lines drawn in light grey (``None``: none).
    anchors
        Anchor points drawn as black triangles (``None``: none).
    label_field
        The column of ``selected`` labelling each town (``None`` or missing: the site id).
    title
        The map title.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 9), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    crs = ranked.crs
    if roads is not None and len(roads):
        ax.add_collection(LineCollection(_line_segments(roads.to_crs(crs)), colors="0.8", linewidths=0.3,
                                         label="roads"))
    if boundary is not None and len(boundary):
        ax.add_collection(LineCollection(_line_segments(boundary.to_crs(crs)), colors="0.3", linewidths=0.8))
    x, y = ranked.geometry.x.to_numpy(), ranked.geometry.y.to_numpy()
    sc = ax.scatter(x, y, c=ranked["score"].to_numpy(), cmap="viridis", s=16, zorder=3, label="candidates")
    fig.colorbar(sc, ax=ax, shrink=0.6, label="score (higher is better)")
    if anchors is not None and len(anchors):
        a = anchors.to_crs(crs)
        ax.scatter(a.geometry.x, a.geometry.y, marker="^", color="black", s=30, zorder=4, label="anchors")
    if selected is not None and len(selected):
        sx, sy = selected.geometry.x.to_numpy(), selected.geometry.y.to_numpy()
        ax.scatter(sx, sy, marker="*", color="red", edgecolors="black", s=260, zorder=5, label="chosen towns")
        labels = (selected[label_field] if label_field and label_field in selected.columns
                  else selected[SITE_ID]).astype(str).to_numpy()
        for i, (px, py) in enumerate(zip(sx, sy)):
            choice = int(selected["choice"].iloc[i]) if "choice" in selected.columns else i + 1
            ax.annotate(f"{choice}. {labels[i]}", (px, py), xytext=(6, 6), textcoords="offset points", fontsize=8)
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.set_axis_off()
    ax.legend(loc="lower left", fontsize=8)
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return target
