"""One Processing algorithm per engine tool (``iptown engine info`` lists them).

The algorithms only declare parameters; they run in the engine process
(:mod:`iptown_planner.algorithms.base`), so nothing here imports iptown_gis or its dependencies.
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
