"""NEG algorithms: core-periphery simulation on real regions, break points / bifurcation
(computed by the engine's neg tools)."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterString,
)

from .base import IptownAlgorithm, tr
from .params import enum, number

COSTS = ["network", "euclidean"]


class RegionsInputs(IptownAlgorithm):
    """Regions (one point per region), their shares and the travel costs between them."""

    GROUP_ID = "neg"
    REGIONS = "REGIONS"
    ID_FIELD = "ID_FIELD"
    NAME_FIELD = "NAME_FIELD"
    MOBILE_FIELD = "MOBILE_FIELD"
    IMMOBILE_FIELD = "IMMOBILE_FIELD"
    COST = "COST"
    ROADS = "ROADS"
    SPEED = "SPEED"
    SIGMA = "SIGMA"
    MU = "MU"

    REGIONS_HELP = (
        "\n\nRegions: one point per region (e.g. the prefecture seats) with a unique id. Mobile "
        "shares (the start of the dynamics) come from the mobile field, immobile (agricultural) "
        "shares from the immobile field; empty fields mean equal shares. Travel costs are minutes "
        "over the road network (network; give the roads) or crow-fly at the given speed "
        "(euclidean); the trade cost is T = exp(tau × minutes)."
    )

    def add_region_parameters(self, *, optional: bool = False) -> None:
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.REGIONS, tr("Regions (one point each)"), [QgsProcessing.TypeVectorPoint], optional=optional))
        self.addParameter(QgsProcessingParameterField(
            self.ID_FIELD, tr("Region id field"), parentLayerParameterName=self.REGIONS, optional=optional))
        self.addParameter(QgsProcessingParameterField(
            self.NAME_FIELD, tr("Region name field"), parentLayerParameterName=self.REGIONS, optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.MOBILE_FIELD, tr("Mobile shares field (e.g. GDP; empty: equal)"),
            parentLayerParameterName=self.REGIONS, type=QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.IMMOBILE_FIELD, tr("Immobile shares field (e.g. population; empty: equal)"),
            parentLayerParameterName=self.REGIONS, type=QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(enum(self.COST, "Travel costs", COSTS, 0))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ROADS, tr("Road lines (network costs)"), [QgsProcessing.TypeVectorLine], optional=True))
        self.addParameter(number(self.SPEED, "Crow-fly speed (km/h, euclidean costs)", 60.0, minimum=0.1,
                                 is_advanced=True))
        self.add_metric_crs_parameter()

class NEGSimulationAlgorithm(RegionsInputs):
    TAU = "TAU"
    MOVING_COST = "MOVING_COST"
    BARRIER = "BARRIER"
    CONGESTION = "CONGESTION"
    OUTPUT = "OUTPUT"

    NAME = "negsimulation"
    DISPLAY = "NEG core-periphery simulation"
    HELP = (
        "Simulates where footloose (knowledge) activity settles among real regions with the "
        "Fujita-Krugman-Venables core-periphery model: σ elasticity of substitution, μ expenditure "
        "share on manufactures, τ trade cost per minute, plus migration frictions (moving cost, "
        "barrier: hukou) and congestion. Starting from the observed shares, the replicator "
        "dynamics run to a stable long-run equilibrium. Output: the regions with observed_share, "
        "share (long run), d_share (share − observed), wage, price_index, income, real_wage, "
        "utility and stable. Check σ(1−μ) > 1 (no black hole)."
        + RegionsInputs.REGIONS_HELP
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_region_parameters()
        self.addParameter(number(self.SIGMA, "σ elasticity of substitution", None, minimum=1.0001))
        self.addParameter(number(self.MU, "μ expenditure share on manufactures", None,
                                 minimum=0.0001, maximum=0.9999))
        self.addParameter(number(self.TAU, "τ trade cost per minute of travel", None, minimum=0.0))
        self.addParameter(number(self.MOVING_COST, "Moving cost (utility gap needed to move)",
                                 None, minimum=0.0, is_advanced=True))
        self.addParameter(number(self.BARRIER, "Migration barrier (flow damping)", None,
                                 minimum=0.0, is_advanced=True))
        self.addParameter(number(self.CONGESTION, "Congestion of immobile factors (θ)", None,
                                 minimum=0.0, is_advanced=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, tr("Long-run equilibrium"), QgsProcessing.TypeVectorPoint))

class BreakPointsAlgorithm(RegionsInputs):
    T_MIN = "T_MIN"
    T_MAX = "T_MAX"
    N_T = "N_T"
    TAUS = "TAUS"
    OUTPUT = "OUTPUT"
    OUTPUT_BIFURCATION = "OUTPUT_BIFURCATION"
    BREAK_POINT = "BREAK_POINT"
    SUSTAIN_POINT = "SUSTAIN_POINT"

    NAME = "breakpoints"
    DISPLAY = "Break points and bifurcation"
    HELP = (
        "The break point T_B (below it the symmetric two-region equilibrium is stable; above it "
        "agglomeration starts) and the sustain point T_S (above it a core-periphery pattern "
        "survives), solved numerically from the general R-region model (σ = 5, μ = 0.4 gives "
        "T_B = 1.627, T_S = 1.807), and the tomahawk diagram: every two-region equilibrium over "
        "trade costs T with its stability. Optionally, with regions and a list of τ values, the "
        "bifurcation diagram of the real regions: the long-run share of each region at each τ."
        + RegionsInputs.REGIONS_HELP
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(number(self.SIGMA, "σ elasticity of substitution", 5.0, minimum=1.0001))
        self.addParameter(number(self.MU, "μ expenditure share on manufactures", 0.4, minimum=0.0001,
                                 maximum=0.9999))
        self.addParameter(number(self.T_MIN, "Tomahawk: smallest trade cost T", 1.05, minimum=1.0))
        self.addParameter(number(self.T_MAX, "Tomahawk: largest trade cost T", 2.5, minimum=1.0))
        self.addParameter(number(self.N_T, "Tomahawk: number of T values", 120, minimum=2, integer=True))
        self.add_region_parameters(optional=True)
        self.addParameter(QgsProcessingParameterString(
            self.TAUS, tr("Bifurcation: τ values (e.g. 0.002, 0.004, 0.006; needs regions)"), optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, tr("Tomahawk diagram"), QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_BIFURCATION, tr("Bifurcation diagram"), QgsProcessing.TypeVector, optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.BREAK_POINT, tr("Break point T_B")))
        self.addOutput(QgsProcessingOutputNumber(self.SUSTAIN_POINT, tr("Sustain point T_S")))
