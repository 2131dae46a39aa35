"""Ranking and selecting sites for IP characteristic towns.

Function-first API (the stage, the CLI and the QGIS plugin call these):

- :func:`candidates_from_layer`, :func:`candidates_from_raster`: candidate sites with ``site_id``;
- :func:`compute_criteria`: criteria from the network, surfaces and NEG stages (and columns);
- :func:`rank_sites`: normalise, weight, rank, and Monte Carlo robustness of the ranks;
- :func:`choose_sites`: k towns greedily by rank under constraints, or jointly with the exact
  p-median (:class:`PMedian`) / maximal covering (:class:`MCLP`) integer programs (HiGHS);
- :func:`write_site_outputs`, :func:`plot_sites`: GeoPackage / GeoJSON / CSV / PNG outputs.
"""

from iptown_gis.sites.candidates import SITE_ID, candidates_from_layer, candidates_from_raster
from iptown_gis.sites.config import AnchorSpec, CriterionSpec, SitesConfig
from iptown_gis.sites.criteria import (
    CriteriaResult,
    access_costs,
    anchors_from_layer,
    anchors_from_specs,
    compute_criteria,
    hotspot_values,
    neg_values,
    network_costs,
    sample_raster,
    select_anchors,
    station_access,
)
from iptown_gis.sites.location import MCLP, LocationModel, PMedian, max_cover, p_median
from iptown_gis.sites.scoring import (
    RobustnessResult,
    check_weights,
    greedy_select,
    normalise,
    rank_candidates,
    rank_scores,
    robustness,
    score,
)
from iptown_gis.sites.select import (
    Selection,
    choose_sites,
    collinear_criteria,
    plot_sites,
    rank_sites,
    write_site_outputs,
)

__all__ = [
    "MCLP",
    "SITE_ID",
    "AnchorSpec",
    "CriteriaResult",
    "CriterionSpec",
    "LocationModel",
    "PMedian",
    "RobustnessResult",
    "Selection",
    "SitesConfig",
    "access_costs",
    "anchors_from_layer",
    "anchors_from_specs",
    "candidates_from_layer",
    "candidates_from_raster",
    "check_weights",
    "choose_sites",
    "collinear_criteria",
    "compute_criteria",
    "greedy_select",
    "hotspot_values",
    "max_cover",
    "neg_values",
    "network_costs",
    "normalise",
    "p_median",
    "plot_sites",
    "rank_candidates",
    "rank_scores",
    "rank_sites",
    "robustness",
    "sample_raster",
    "score",
    "select_anchors",
    "station_access",
    "write_site_outputs",
]
