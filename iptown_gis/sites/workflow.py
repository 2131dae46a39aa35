"""Choosing k towns over a road network: the one site-selection path of every front.

:func:`select_on_network` computes the network costs a location model needs (demand points
to candidates, candidates to candidates for a minimum spacing) and calls
:func:`~iptown_gis.sites.select.choose_sites`. The ``sites`` stage (``iptown run``,
``iptown sites select SCENARIO``), the direct form ``iptown sites select --candidates ...``
and the engine's ``selectsites`` tool (the QGIS plugin) all choose through it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np

from iptown_gis.errors import NetworkError
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.sites.candidates import SITE_ID
from iptown_gis.sites.criteria import network_costs
from iptown_gis.sites.select import Model, Selection, choose_sites

__all__ = ["demand_points", "select_on_network"]

log = logging.getLogger(__name__)


def demand_points(demand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``demand`` with polygons replaced by a point inside each (``representative_point``).

    Parameters
    ----------
    demand
        Demand points or polygons.

    Returns
    -------
    GeoDataFrame
        ``demand`` itself when it has no polygon, else a copy with point geometries.
    """
    if demand.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        return demand.set_geometry(demand.geometry.representative_point())
    return demand


def select_on_network(
    candidates: gpd.GeoDataFrame,
    *,
    k: int,
    model: Model,
    network: Any = None,
    demand: gpd.GeoDataFrame | None = None,
    demand_weights: np.ndarray | Sequence[float] | None = None,
    demand_ids: Sequence[Any] | None = None,
    cost: str = "time",
    standard: float | None = None,
    min_spacing: float | None = None,
    prefecture_field: str | None = None,
    max_per_prefecture: int | None = None,
    mip_gap: float = 0.0,
    time_limit: float | None = None,
    network_options: Mapping[str, Any] | None = None,
    spacing_options: Mapping[str, Any] | None = None,
    check_reach: bool = True,
    reach_hint: str = "remove them or extend the roads",
    progress: ProgressCallback | Progress | None = None,
) -> Selection:
    """Choose ``k`` of ``candidates`` with network costs: in rank order, p-median or MCLP.

    Parameters
    ----------
    candidates
        Candidate sites (points, with ``site_id``; in rank order for ``model = "rank"``).
    k
        Number of towns.
    model
        ``"rank"``, ``"pmedian"`` or ``"mclp"`` (:func:`~iptown_gis.sites.select.choose_sites`).
    network
        The road network (:class:`~iptown_gis.network.Network`); needed with ``demand`` or
        ``min_spacing``.
    demand
        Demand points or polygons (polygons are reduced to an inner point); ``None``: no demand.
    demand_weights
        One weight per demand feature (default: 1 each).
    demand_ids
        One id per demand feature (default: its index).
    cost
        ``"time"`` (minutes) or ``"length"`` (metres).
    standard
        Coverage standard in the unit of ``cost`` (MCLP; the coverage statistics).
    min_spacing
        Minimum network cost between two chosen towns.
    prefecture_field, max_per_prefecture
        At most ``max_per_prefecture`` towns per value of this candidate column.
    mip_gap, time_limit
        HiGHS relative gap and time limit (seconds).
    network_options
        Keyword options of :func:`~iptown_gis.sites.criteria.network_costs` for the demand costs
        (``max_snap_distance``, ``largest_component``, ``executor``).
    spacing_options
        The same for the candidate-to-candidate costs (default: ``network_options``).
    check_reach
        Raise :class:`~iptown_gis.errors.NetworkError` when a candidate has no route to any
        demand point (``False``: such candidates are left to ``choose_sites``).
    reach_hint
        What the unreachable-candidate message tells the user to do.
    progress
        Progress/cancellation callback (costs up to 0.3, the model after).

    Returns
    -------
    Selection
        The chosen towns, summary, solved model and assignment.

    Raises
    ------
    NetworkError
        No network while one is needed, or (``check_reach``) candidates out of the network's reach.
    ParameterError
        As :func:`~iptown_gis.sites.select.choose_sites` (``k``, ``model``, ``standard``).
    """
    prog = as_progress(progress)
    opts = dict(network_options or {})
    sopts = dict(opts if spacing_options is None else spacing_options)
    if network is None and (demand is not None or min_spacing is not None):
        raise NetworkError("choosing sites with demand or a minimum spacing needs a network: give roads")
    cand_cost = None
    if min_spacing is not None:
        cand_cost = network_costs(network, candidates, None, weight=cost, check_reach=False, **sopts)
    demand_cost = None
    w = None
    ids = None
    if demand is not None:
        demand = demand_points(demand)
        w = np.ones(len(demand)) if demand_weights is None else demand_weights
        ids = demand.index.tolist() if demand_ids is None else demand_ids
        prog.update(0.1, f"network costs {len(demand)} demand x {len(candidates)} candidates")
        demand_cost = network_costs(network, demand, candidates, weight=cost, check_reach=False,
                                    origin_name="demand points", destination_name="candidates", **opts)
        if check_reach:
            unreachable = ~np.isfinite(demand_cost).any(axis=0)
            if unreachable.any():
                bad = candidates[SITE_ID].to_numpy()[unreachable][:10].tolist()
                raise NetworkError(
                    f"{int(unreachable.sum())} candidate(s) are outside the network's reach (no route to any "
                    f"demand point), e.g. {bad}; {reach_hint}"
                )
    prog.update(0.3, "network costs done")
    return choose_sites(
        candidates, k=k, model=model, demand_cost=demand_cost, demand_weights=w, demand_ids=ids,
        standard=standard, candidate_cost=cand_cost, min_spacing=min_spacing, prefecture_field=prefecture_field,
        max_per_prefecture=max_per_prefecture, mip_gap=mip_gap, time_limit=time_limit, progress=prog.sub(0.3, 1.0),
    )
