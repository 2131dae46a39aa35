"""The ``sites`` pipeline stage: rank the scenario's candidates and choose k towns.

Reads ``ctx.network`` (its :class:`~iptown_gis.network.Network`), ``ctx.neg`` and
``ctx.surfaces`` when present, writes ``sites/`` in the output folder (ranked candidates and
chosen towns as GeoPackage, GeoJSON and CSV, ``summary.json``, ``map.png``) and sets
``ctx.sites``, a :class:`~iptown_gis.stage_results.SitesResult` (which also reads as the
dictionary ``ctx.results["sites"]`` was):

- ``ranked``: GeoDataFrame sorted by rank (first row = best site);
- ``selected``: GeoDataFrame of the chosen towns in choice order;
- ``summary``: dict with the model, objective, solver status and gap, coverage statistics;
- ``criteria``: names of the criteria used; ``skipped``: criterion -> why it was skipped;
- ``anchors``: GeoDataFrame of the anchors (or ``None``); ``model``: the solved location
  model (or ``None``); ``assignment``: demand -> nearest chosen town (or ``None``);
  ``paths``: output name -> file (after :func:`write_stage_outputs`).

The choice itself is :func:`iptown_gis.sites.workflow.select_on_network`, the path the direct
``iptown sites select --candidates ...`` and the engine's ``selectsites`` take too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np

from iptown_gis.errors import DataNotFoundError, NetworkError, ParameterError
from iptown_gis.pipeline import StudyContext
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.sites.candidates import SITE_ID, candidates_from_layer, candidates_from_raster
from iptown_gis.sites.config import SitesConfig
from iptown_gis.sites.criteria import (
    _surface,
    anchors_from_layer,
    anchors_from_specs,
    compute_criteria,
)
from iptown_gis.sites.select import Selection, plot_sites, rank_sites, write_site_outputs
from iptown_gis.sites.workflow import select_on_network
from iptown_gis.stage_results import NetworkResult, SitesResult

__all__ = ["get_network", "rank_stage", "run", "select_stage", "sites_config", "write_stage_outputs"]

log = logging.getLogger(__name__)


def sites_config(ctx: StudyContext) -> SitesConfig:
    """The scenario's ``[sites]`` section.

    Parameters
    ----------
    ctx
        The running study.

    Returns
    -------
    SitesConfig
        The section.

    Raises
    ------
    ScenarioError
        The scenario has no ``[sites]`` section.
    """
    cfg = ctx.scenario.section("sites")
    if cfg is None:
        from iptown_gis.errors import ScenarioError

        raise ScenarioError(f"{ctx.scenario.source.name}: no [sites] section; add one (see docs/sites.md)")
    return cfg  # type: ignore[no-any-return]


_config = sites_config  # the old private name


def get_network(ctx: StudyContext, *, build: bool = False) -> Any:
    """The network of the network stage, or (``build=True``) one built from the ``roads`` input.

    A network built here is stored in ``ctx.network`` for the later stages.
    """
    if ctx.network is not None and ctx.network.network is not None:
        return ctx.network.network
    if build and "roads" in ctx.scenario.inputs:
        from iptown_gis.network import build_network

        log.warning("sites: no network from the network stage; building one from input 'roads'")
        net = build_network(ctx.layer("roads"))
        if ctx.network is None:
            ctx.network = NetworkResult(network=net)
        else:
            ctx.network.network = net
        return net
    return None


def _anchors(ctx: StudyContext, cfg: SitesConfig, crs: Any) -> gpd.GeoDataFrame | None:
    if cfg.anchors_layer is not None:
        try:
            layer = ctx.layer(cfg.anchors_layer)
        except DataNotFoundError as exc:
            raise DataNotFoundError(f"[sites] anchors_layer = {cfg.anchors_layer!r}: {exc}") from None
        return anchors_from_layer(layer, name_field=cfg.anchors_name_field, kind_field=cfg.anchors_kind_field)
    if cfg.anchors:
        return anchors_from_specs(cfg.anchors, crs=crs)
    return None


def _net_opts(cfg: SitesConfig, ctx: StudyContext | None = None) -> dict[str, Any]:
    opts: dict[str, Any] = {"max_snap_distance": cfg.max_snap_distance, "largest_component": cfg.largest_component}
    ex = None if ctx is None else ctx.executor
    if ex is not None:  # network costs on Dask (iptown run --workers N): identical costs
        opts["executor"] = ex
    return opts


def _earlier_results(ctx: StudyContext) -> dict[str, Any]:
    """The surfaces and NEG results as the mapping :func:`compute_criteria` reads."""
    return {k: v for k, v in (("neg", ctx.neg), ("surfaces", ctx.surfaces)) if v is not None}


def rank_stage(
    ctx: StudyContext,
    progress: ProgressCallback | Progress | None = None,
    *,
    weights: Mapping[str, float] | None = None,
) -> SitesResult:
    """Rank the scenario's candidates; store and return ``ctx.sites`` (without selection).

    Parameters
    ----------
    ctx
        The running study (reads ``ctx.network``, ``ctx.neg``, ``ctx.surfaces``).
    progress
        Progress/cancellation callback.
    weights
        Override some criteria weights (name -> weight); unknown names are an error.

    Returns
    -------
    SitesResult
        ``ranked``, ``criteria``, ``skipped``, ``anchors`` (``selected`` is ``None``).

    Raises
    ------
    ScenarioError
        No ``[sites]`` section.
    ParameterError
        ``k`` larger than the candidates, or weights for unknown criteria.
    DataNotFoundError
        ``candidates_raster`` names a raster the surfaces stage did not produce.
    """
    cfg = sites_config(ctx)
    prog = as_progress(progress)
    results = _earlier_results(ctx)
    if cfg.candidates_raster is not None:
        r = _surface(results, cfg.candidates_raster)
        if r is None:
            raise DataNotFoundError(
                f"[sites] candidates_raster = {cfg.candidates_raster!r}: the surfaces stage produced no such raster"
            )
        cands = candidates_from_raster(r, threshold=cfg.candidates_threshold, quantile=cfg.candidates_quantile,
                                       name=cfg.candidates_raster)
        cands = cands.to_crs(ctx.crs) if ctx.crs is not None else cands
    else:
        id_field = cfg.id_field or ctx.scenario.input(cfg.candidates).id_field
        cands = candidates_from_layer(ctx.layer(cfg.candidates), id_field=id_field,
                                      name=f"input {cfg.candidates!r}")
    if cfg.k > len(cands):
        raise ParameterError(f"[sites] k = {cfg.k} is larger than the number of candidates ({len(cands)}); lower k")
    anchors = _anchors(ctx, cfg, cands.crs)
    needs_net = any(c.source in ("access", "station_access") for c in cfg.criteria)
    net = get_network(ctx, build=needs_net)
    prog.update(0.05, f"criteria for {len(cands)} candidates")
    crit = compute_criteria(cands, cfg.criteria, results=results, network=net, anchors=anchors,
                            prefecture_field=cfg.prefecture_field, cost=cfg.cost, network_options=_net_opts(cfg, ctx))
    w = {c.name: c.weight for c in crit.specs}
    if weights:
        unknown = [n for n in weights if n not in {c.name for c in cfg.criteria}]
        if unknown:
            raise ParameterError(
                f"weights for unknown criteria {unknown}; criteria are: {[c.name for c in cfg.criteria]}"
            )
        w.update({n: float(v) for n, v in weights.items() if n in w})
    directions = {c.name: c.direction for c in crit.specs}
    rob = cfg.robustness
    ranked = rank_sites(cands, crit.values, weights=w, directions=directions, normalisation=cfg.normalisation,
                        missing=cfg.missing, k=min(rob.top_k or cfg.k, len(cands)), draws=rob.draws,
                        concentration=rob.concentration, seed=ctx.scenario.study.seed,
                        executor=ctx.executor, progress=prog.sub(0.3, 0.6))
    ranked.attrs["sites"]["skipped"] = crit.skipped
    out = SitesResult(ranked=ranked, criteria=list(crit.values.columns), skipped=crit.skipped, anchors=anchors)
    ctx.sites = out
    log.info("sites: ranked %d candidates on %d criteria (%s); best: %s", len(ranked), len(out.criteria),
             ", ".join(out.criteria), ranked[SITE_ID].iloc[0])
    return out


def select_stage(
    ctx: StudyContext,
    progress: ProgressCallback | Progress | None = None,
    *,
    k: int | None = None,
    model: str | None = None,
    standard: float | None = None,
) -> Selection:
    """Choose k towns among the ranked candidates (ranks them first when :func:`rank_stage` did not run).

    Parameters
    ----------
    ctx
        The running study; the selection is stored in ``ctx.sites``.
    progress
        Progress/cancellation callback.
    k, model, standard
        Override the section's ``k``, ``model`` and ``standard``.

    Returns
    -------
    Selection
        The chosen towns (:func:`iptown_gis.sites.workflow.select_on_network`).

    Raises
    ------
    ParameterError
        Unknown model, or ``k`` larger than the candidates.
    NetworkError
        A network is needed but there is none, or candidates are out of its reach.
    """
    cfg = sites_config(ctx)
    prog = as_progress(progress)
    sites = ctx.sites
    if sites is None or sites.ranked is None:
        sites = rank_stage(ctx, prog.sub(0.0, 0.5))
        prog = prog.sub(0.5, 1.0)
    ranked: gpd.GeoDataFrame = sites.ranked
    k = cfg.k if k is None else int(k)
    model = cfg.model if model is None else model
    standard = cfg.standard if standard is None else standard
    if model not in ("rank", "mclp", "pmedian"):
        raise ParameterError(f"unknown model {model!r}: use 'rank', 'mclp' or 'pmedian'")
    if k > len(ranked):
        raise ParameterError(f"k = {k} is larger than the number of candidates ({len(ranked)}); lower k")
    pool = ranked
    if model != "rank" and cfg.shortlist is not None:
        pool = ranked.head(max(cfg.shortlist, k))
    cons = cfg.constraints
    needs_net = cons.min_spacing is not None or model != "rank" or cfg.demand is not None
    net = get_network(ctx, build=needs_net)
    if needs_net and net is None:
        raise NetworkError("choosing sites needs a network: run the network stage or add a 'roads' input")
    demand = demand_w = demand_ids = None
    if cfg.demand is not None:
        demand = ctx.layer(cfg.demand)
        demand_w = (demand[cfg.demand_weight].to_numpy(dtype=float) if cfg.demand_weight else np.ones(len(demand)))
        id_col = ctx.scenario.input(cfg.demand).id_field
        demand_ids = demand[id_col].tolist() if id_col else demand.index.tolist()
    sel = select_on_network(
        pool, k=k, model=model,  # type: ignore[arg-type]
        network=net, demand=demand, demand_weights=demand_w, demand_ids=demand_ids, cost=cfg.cost,
        standard=standard, min_spacing=cons.min_spacing, prefecture_field=cfg.prefecture_field,
        max_per_prefecture=cons.max_per_prefecture, mip_gap=cfg.solver.mip_gap, time_limit=cfg.solver.time_limit,
        network_options=_net_opts(cfg, ctx),
        reach_hint="remove them, extend the roads, or set largest_component = true", progress=prog.sub(0.0, 0.9),
    )
    sel.summary["cost_unit"] = "min" if cfg.cost == "time" else "m"
    sel.summary["pool"] = len(pool)
    sites.record_selection(sel)
    ctx.sites = sites
    log.info("sites: chose %s (%s)", sel.summary["selected_ids"], model)
    return sel


def _label_field(gdf: gpd.GeoDataFrame, cfg: SitesConfig) -> str | None:
    """A name column that the map's fonts can draw (any, with a CJK font; else ASCII), else the ids are used."""
    from iptown_gis.io.fonts import cjk_font_available

    cjk = cjk_font_available()
    for col in (cfg.name_field, "name"):
        if col and col in gdf.columns and (cjk or all(str(v).isascii() for v in gdf[col])):
            return col
    return None


def write_stage_outputs(ctx: StudyContext, selection: Selection | None) -> None:
    """Write ``sites/`` outputs and register them in the manifest (after :func:`rank_stage`).

    Parameters
    ----------
    ctx
        The running study; ``ctx.sites.paths`` is set to the written files.
    selection
        The chosen towns (:func:`select_stage`), or ``None`` for the ranking only.

    Raises
    ------
    DataNotFoundError
        The candidates were not ranked yet.
    """
    cfg = sites_config(ctx)
    sites = ctx.sites
    if sites is None or sites.ranked is None:
        raise DataNotFoundError("sites: no ranking to write; rank the candidates first (rank_stage)")
    out_dir = ctx.path("sites", "ranked.gpkg").parent
    paths = write_site_outputs(out_dir, sites.ranked, selection,
                               extra={"skipped_criteria": sites.skipped, "criteria": sites.criteria})
    anchors = sites.anchors
    if anchors is not None:
        from iptown_gis.io.vector import write_vector

        paths["anchors_geojson"] = write_vector(anchors, out_dir / "anchors.geojson")
    if cfg.map:
        boundary = ctx.layer("boundary") if "boundary" in ctx.scenario.inputs else None
        roads = ctx.layer("roads") if "roads" in ctx.scenario.inputs else None
        from iptown_gis.io.fonts import mpl_font_context

        with mpl_font_context():
            paths["map"] = plot_sites(out_dir / "map.png", sites.ranked,
                                      None if selection is None else selection.selected, boundary=boundary,
                                      roads=roads, anchors=anchors, label_field=_label_field(sites.ranked, cfg))
    descriptions = {
        "ranked": "candidates with every criterion, score, rank, top-k probability, rank interval",
        "selected": "chosen towns with coverage statistics",
        "summary": "ranking parameters, chosen set, solver status and gap, coverage",
        "anchors": "anchors used for accessibility",
        "map": "map of candidates and chosen towns",
    }
    for kind, p in paths.items():
        ctx.add_output(p, stage="sites", kind=kind, description=descriptions.get(kind.split("_")[0], ""))
    sites.paths = paths


def run(ctx: StudyContext, progress: Progress) -> None:
    """Pipeline entry: rank the candidates, choose ``k`` towns, write ``sites/``."""
    prog = as_progress(progress)
    rank_stage(ctx, prog.sub(0.0, 0.5))
    sel = select_stage(ctx, prog.sub(0.5, 0.9))
    write_stage_outputs(ctx, sel)
    prog.update(1.0, "sites: done")
