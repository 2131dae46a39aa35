"""Site algorithms: rank candidate sites, select k towns (:mod:`iptown_gis.sites`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from iptown_gis.engine.params import Params
from iptown_gis.engine.tools import tool
from iptown_gis.engine.tools.network import NETWORK_DEFAULTS, build_from_params
from iptown_gis.sites.candidates import SITE_ID
from iptown_gis.sites.config import RobustnessConfig, SitesConfig, SolverConfig

log = logging.getLogger(__name__)

NORMALISATIONS = ("minmax", "zscore", "rank")
MISSING = ("worst", "error")
MODELS = ("rank", "pmedian", "mclp")
COSTS = ("time", "length")

_SITES = SitesConfig.model_fields
_ROBUST = RobustnessConfig.model_fields

RANK_DEFAULTS: dict[str, Any] = {
    "NORMALISATION": _SITES["normalisation"].default,
    "MISSING": _SITES["missing"].default,
    "TOP_K": _SITES["k"].default,
    "DRAWS": _ROBUST["draws"].default,
    "CONCENTRATION": _ROBUST["concentration"].default,
    "SEED": 0,
}
SELECT_DEFAULTS: dict[str, Any] = {
    **NETWORK_DEFAULTS,
    "ID_FIELD": SITE_ID,
    "K": _SITES["k"].default,
    "MODEL": "rank",
    "COST": _SITES["cost"].default,
    "MIP_GAP": SolverConfig.model_fields["mip_gap"].default,
    "LARGEST_COMPONENT": _SITES["largest_component"].default,
}


def _gpkg_fids(p: Params, key: str, n: int) -> Any:
    """The GeoPackage feature ids of vector input ``key`` in reading order (``None`` if not a GeoPackage)."""
    import pyogrio

    from iptown_gis.io.vector import parse_layer_spec

    v = p.raw(key)
    if isinstance(v, Mapping):
        spec = parse_layer_spec(str(v.get("path")), str(v["layer"]) if v.get("layer") else None)
    else:
        spec = parse_layer_spec(str(v))
    if spec.path.suffix.lower() != ".gpkg":
        return None
    frame = pyogrio.read_dataframe(spec.path, layer=spec.layer, read_geometry=False, columns=[],
                                   fid_as_index=True)
    return frame.index.to_numpy() if len(frame) == n else None


@tool("ranksites", defaults=RANK_DEFAULTS)
def ranksites(p: Params) -> dict[str, Any]:
    """Score and rank candidate sites by weighted criteria, with the ranks' robustness to the weights.

    Criteria: numeric fields where more is better (``BENEFIT_FIELDS``) or less is better
    (``COST_FIELDS``) and rasters sampled at the sites (``RASTERS``, benefit criteria named
    after the raster). ``WEIGHTS`` is ``"name=value, ..."`` (empty: equal). Output: the
    candidates in rank order (first feature = best site) with the criteria,
    ``norm_<criterion>``, ``score``, ``rank`` and the Monte Carlo columns; a GeoPackage
    input's feature id is kept as ``source_fid``.
    """
    import pandas as pd

    from iptown_gis.errors import ParameterError
    from iptown_gis.sites.candidates import candidates_from_layer
    from iptown_gis.sites.criteria import sample_raster
    from iptown_gis.sites.select import rank_sites

    steps = p.progress.steps(2)
    layer = p.vector("CANDIDATES", geom_types=("Point", "Polygon")).reset_index(drop=True)
    if "fid" not in layer.columns:  # QGIS shows a GeoPackage's fid as a field: keep it the same way
        fids = _gpkg_fids(p, "CANDIDATES", len(layer))
        if fids is not None:
            layer.insert(0, "fid", fids)
    cands = candidates_from_layer(layer, id_field=p.text("ID_FIELD"))
    criteria: dict[str, Any] = {}
    directions: dict[str, str] = {}
    for key, direction in (("BENEFIT_FIELDS", "benefit"), ("COST_FIELDS", "cost")):
        for f in p.names(key):
            criteria[f] = cands[f].astype(float).to_numpy()
            directions[f] = direction
    for path, name in p.rasters("RASTERS"):
        name = name or "raster"
        criteria[name] = sample_raster(str(path), cands, name=name)
        directions[name] = "benefit"
    if not criteria:
        raise ParameterError("give at least one criterion: benefit fields, cost fields or surface rasters")
    weights = p.mapping("WEIGHTS", what="weights") if p.has("WEIGHTS") else dict.fromkeys(criteria, 1.0)
    steps[0].update(1.0, "criteria read")
    ranked = rank_sites(
        cands, pd.DataFrame(criteria, index=cands.index), weights=weights, directions=directions,  # type: ignore[arg-type]
        normalisation=p.choice("NORMALISATION", NORMALISATIONS),  # type: ignore[arg-type]
        missing=p.choice("MISSING", MISSING), k=p.need_integer("TOP_K", minimum=1),
        draws=p.need_integer("DRAWS", minimum=0), concentration=p.need_number("CONCENTRATION", minimum=0.001),
        seed=p.need_integer("SEED"), progress=steps[1])
    # rank order on disk (first feature = best site), ties kept in the library's order; the
    # candidates' own GeoPackage "fid" would become the output's feature ids (and reorder it
    # by input order), so it is kept as "source_fid"
    ranked = ranked.sort_values("rank", kind="stable")
    if "fid" in ranked.columns:
        ranked = ranked.rename(columns={"fid": "source_fid"})
    return {"OUTPUT": p.write_vector("OUTPUT", ranked, layer="ranked_sites")}


@tool("selectsites", defaults=SELECT_DEFAULTS)
def selectsites(p: Params) -> dict[str, Any]:
    """Choose k towns among ranked candidate sites: in rank order, p-median or maximal covering.

    ``rank`` takes the sites in rank order under the constraints (minimum network spacing, at
    most n per prefecture); ``pmedian`` minimises the weighted network cost from the demand
    points to their nearest town; ``mclp`` maximises the demand within the coverage standard.
    Costs are minutes (``time``) or metres (``length``) over the road network (``ROADS``,
    built with the network parameters). Output: the chosen sites in choice order with
    ``choice``, ``demand_served`` and ``demand_covered``; ``OBJECTIVE``: the objective value.
    """
    import numpy as np

    from iptown_gis.errors import NetworkError
    from iptown_gis.sites.candidates import candidates_from_layer
    from iptown_gis.sites.workflow import demand_points, select_on_network

    steps = p.progress.steps(3)
    layer = p.vector("RANKED", geom_types=("Point",))
    ranked = candidates_from_layer(layer.reset_index(drop=True), id_field=p.text("ID_FIELD"))
    if "rank" in ranked.columns:
        ranked = ranked.sort_values("rank", kind="stable").reset_index(drop=True)
    model = p.choice("MODEL", MODELS)
    cost = p.choice("COST", COSTS)
    min_spacing = p.number("MIN_SPACING", minimum=0.0)
    roads = p.vector("ROADS", crs=ranked.crs, geom_types=("LineString",), required=False)
    demand = p.vector("DEMAND", crs=ranked.crs, geom_types=("Point", "Polygon"), required=False)
    net = None
    if model != "rank" or min_spacing is not None or demand is not None:
        if roads is None:
            raise NetworkError(f"model {model!r}{' with a minimum spacing' if min_spacing else ''} needs "
                               "network costs: set 'Road lines'")
        net = build_from_params(p, roads=roads, progress=steps[0])
    steps[0].update(1.0, "layers read")
    largest = p.flag("LARGEST_COMPONENT", True)
    demand_w = None
    if demand is not None:
        demand = demand_points(demand.reset_index(drop=True))
        wf = p.text("DEMAND_WEIGHT")
        demand_w = demand[wf].to_numpy(dtype=float) if wf else np.ones(len(demand))
    # the same path as the sites stage and 'iptown sites select' (sites.workflow)
    sel = select_on_network(
        ranked, k=p.need_integer("K", minimum=1), model=model,  # type: ignore[arg-type]
        network=net, demand=demand, demand_weights=demand_w, cost=cost,
        standard=p.number("STANDARD", minimum=0.0), min_spacing=min_spacing,
        prefecture_field=p.text("PREFECTURE_FIELD"),
        max_per_prefecture=p.integer("MAX_PER_PREFECTURE", minimum=1),
        mip_gap=p.need_number("MIP_GAP", minimum=0.0, maximum=0.99),
        time_limit=p.number("TIME_LIMIT", minimum=0.1), network_options={"largest_component": largest},
        check_reach=False, progress=p.progress.sub(1 / 3, 1.0))
    for k, v in sel.summary.items():
        if isinstance(v, (int, float, str)):
            log.info("%s: %s", k, v)
    objective = sel.summary.get("objective")
    return {"OUTPUT": p.write_vector("OUTPUT", sel.selected, layer="selected_sites"),
            "OBJECTIVE": float(objective) if isinstance(objective, (int, float)) else None}
