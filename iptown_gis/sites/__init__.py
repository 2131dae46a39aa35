"""Ranking and selecting sites for IP characteristic towns.

Function-first API (the stage, the CLI and the QGIS plugin call these):

- :func:`candidates_from_layer`, :func:`candidates_from_raster`: candidate sites with ``site_id``;
- :func:`compute_criteria`: criteria from the network, surfaces and NEG stages (and columns);
- :func:`rank_sites`: normalise, weight, rank, and Monte Carlo robustness of the ranks;
- :func:`choose_sites`: k towns greedily by rank under constraints, or jointly with the exact
  p-median (:class:`PMedian`) / maximal covering (:class:`MCLP`) integer programs (HiGHS);
- :func:`write_site_outputs`, :func:`plot_sites`: GeoPackage / GeoJSON / CSV / PNG outputs.

The ``[sites]`` scenario section (``SitesConfig``, ``CriterionSpec``, ``AnchorSpec``) is in
:mod:`iptown_gis.sites.config` (the study layer); the kernel functions take any objects with
the same attributes (:class:`~iptown_gis.sites.criteria.CriterionLike`,
:class:`~iptown_gis.sites.criteria.AnchorLike`).
"""

import importlib
import warnings
from typing import Any

from iptown_gis.sites.candidates import SITE_ID, candidates_from_layer, candidates_from_raster
from iptown_gis.sites.criteria import (
    AnchorLike,
    CriteriaResult,
    CriterionLike,
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
    "AnchorLike",
    "CriteriaResult",
    "CriterionLike",
    "LocationModel",
    "PMedian",
    "RobustnessResult",
    "Selection",
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

#: Section models once re-exported here, now only in :mod:`iptown_gis.sites.config`.
_MOVED = ("AnchorSpec", "CriterionSpec", "SitesConfig")


def __getattr__(name: str) -> Any:
    """``iptown_gis.sites.SitesConfig`` and co., deprecated: import them from ``iptown_gis.sites.config``."""
    if name in _MOVED:
        warnings.warn(f"iptown_gis.sites.{name} is deprecated: import it from iptown_gis.sites.config "
                      "(the scenario section; the kernel functions need no pydantic model)",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("iptown_gis.sites.config"), name)
    raise AttributeError(f"module 'iptown_gis.sites' has no attribute {name!r}")
