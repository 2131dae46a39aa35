"""One Processing algorithm per iptown_gis entry point.

The library is imported inside each algorithm's ``run`` only, so listing the algorithms never
needs iptown_gis or its dependencies.
"""

from __future__ import annotations

from .base import IptownAlgorithm
from .neg import BreakPointsAlgorithm, NEGSimulationAlgorithm
from .network import BuildNetworkAlgorithm, IsochronesAlgorithm, ODMatrixAlgorithm
from .scenario import RunScenarioAlgorithm
from .sites import RankSitesAlgorithm, SelectSitesAlgorithm
from .surfaces import (
    HotSpotsAlgorithm,
    KernelDensityAlgorithm,
    MarketPotentialAlgorithm,
    ZonalStatisticsAlgorithm,
)
from .zoning import StudyAreaLayoutAlgorithm, ZoningOptimiseAlgorithm


def algorithm_classes() -> list[type[IptownAlgorithm]]:
    """Every algorithm class the provider registers, in menu order."""
    return [
        BuildNetworkAlgorithm,
        ODMatrixAlgorithm,
        IsochronesAlgorithm,
        MarketPotentialAlgorithm,
        KernelDensityAlgorithm,
        HotSpotsAlgorithm,
        ZonalStatisticsAlgorithm,
        NEGSimulationAlgorithm,
        BreakPointsAlgorithm,
        RankSitesAlgorithm,
        SelectSitesAlgorithm,
        ZoningOptimiseAlgorithm,
        StudyAreaLayoutAlgorithm,
        RunScenarioAlgorithm,
    ]


__all__ = ["IptownAlgorithm", "algorithm_classes"]
