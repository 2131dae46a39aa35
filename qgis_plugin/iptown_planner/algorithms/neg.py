"""NEG algorithms: core-periphery simulation on real regions, break points / bifurcation
(iptown_gis.neg)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterString,
)

from .. import bridge
from .base import IptownAlgorithm, tr
from .params import enum, number, parse_numbers

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

    def regions(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback, **cfg_values: Any) -> tuple[Any, Any, Any]:
        """``(regions gdf, NEGConfig, cost minutes)`` computed by the library's own helpers."""
        from iptown_gis.errors import ParameterError
        from iptown_gis.neg.config import NEGConfig
        from iptown_gis.neg.stage import region_costs

        regions = self.gdf(parameters, self.REGIONS, context, feedback, crs=self.metric_crs(parameters, context))
        id_field = self.field(parameters, self.ID_FIELD, context)
        if id_field is None:
            raise ParameterError("set the region id field")
        cost = COSTS[self.parameterAsEnum(parameters, self.COST, context)]
        cfg = NEGConfig(
            id_field=id_field, name_field=self.field(parameters, self.NAME_FIELD, context),
            mobile_field=self.field(parameters, self.MOBILE_FIELD, context),
            immobile_field=self.field(parameters, self.IMMOBILE_FIELD, context), polygons=None, cost=cost,
            euclidean_speed_kmh=self.parameterAsDouble(parameters, self.SPEED, context), **cfg_values)
        results: dict[str, Any] = {}
        if cost == "network":
            roads = self.optional_gdf(parameters, self.ROADS, context, feedback, crs=regions.crs)
            if roads is None:
                raise ParameterError("network travel costs need the road lines: set 'Road lines' "
                                     "(or choose euclidean costs)")
            from iptown_gis.network import build_network, od_matrix

            results["seat_od"] = od_matrix(build_network(roads), regions, id_field=id_field, weight="time",
                                           largest_component=True, progress=self.progress(feedback))
        minutes = region_costs(SimpleNamespace(results=results), cfg, regions)
        return regions, cfg, minutes

    def shares(self, regions: Any, field: str | None, key: str) -> Any:
        """Shares from column ``field`` (parameter ``key``); ``None`` (equal shares) without a field."""
        from iptown_gis.neg import observed_shares

        if not field:
            return None
        label = self.parameterDefinition(key).description()
        return observed_shares(regions[field], name=f"{label} '{field}'")


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
        from iptown_gis.neg.config import NEGConfig

        d = NEGConfig.model_fields
        self.add_region_parameters()
        self.addParameter(number(self.SIGMA, "σ elasticity of substitution", d["sigma"].default, minimum=1.0001))
        self.addParameter(number(self.MU, "μ expenditure share on manufactures", d["mu"].default,
                                 minimum=0.0001, maximum=0.9999))
        self.addParameter(number(self.TAU, "τ trade cost per minute of travel", d["tau"].default, minimum=0.0))
        self.addParameter(number(self.MOVING_COST, "Moving cost (utility gap needed to move)",
                                 d["moving_cost"].default, minimum=0.0, is_advanced=True))
        self.addParameter(number(self.BARRIER, "Migration barrier (flow damping)", d["barrier"].default,
                                 minimum=0.0, is_advanced=True))
        self.addParameter(number(self.CONGESTION, "Congestion of immobile factors (θ)", d["congestion"].default,
                                 minimum=0.0, is_advanced=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, tr("Long-run equilibrium"), QgsProcessing.TypeVectorPoint))

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from iptown_gis.neg.config import NEGScenario
        from iptown_gis.neg.scenarios import run_scenarios, scenario_table

        steps = QgsProcessingMultiStepFeedback(3, feedback)
        regions, cfg, minutes = self.regions(
            parameters, context, steps,
            sigma=self.parameterAsDouble(parameters, self.SIGMA, context),
            mu=self.parameterAsDouble(parameters, self.MU, context),
            tau=self.parameterAsDouble(parameters, self.TAU, context),
            moving_cost=self.parameterAsDouble(parameters, self.MOVING_COST, context),
            barrier=self.parameterAsDouble(parameters, self.BARRIER, context),
            congestion=self.parameterAsDouble(parameters, self.CONGESTION, context),
            scenarios=[NEGScenario(name="baseline")])
        steps.setCurrentStep(1)
        ids = [str(v) for v in regions[cfg.id_field]]
        names = [str(v) for v in regions[cfg.name_field]] if cfg.name_field else ids
        lam0 = self.shares(regions, cfg.mobile_field, self.MOBILE_FIELD)
        phi = self.shares(regions, cfg.immobile_field, self.IMMOBILE_FIELD)
        results = run_scenarios(minutes, region_ids=ids, config=cfg, lam0=lam0, phi=phi, seats=regions,
                                progress=self.progress(steps))
        steps.setCurrentStep(2)
        table = scenario_table(results, region_ids=ids, names=names, lam0=lam0)
        table = table.drop(columns=["scenario", "d_real_wage_pct"])
        if lam0 is not None:
            table["d_share"] = table["share"] - table["observed_share"]
        out = regions[[regions.geometry.name]].copy()
        for col in table.columns:
            out[col] = table[col].to_numpy()
        return {self.OUTPUT: bridge.gdf_to_sink(self, parameters, self.OUTPUT, context, out)}


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

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from iptown_gis.errors import ParameterError
        from iptown_gis.neg.breakpoints import break_point, sustain_point
        from iptown_gis.neg.diagrams import bifurcation, tomahawk

        sigma = self.parameterAsDouble(parameters, self.SIGMA, context)
        mu = self.parameterAsDouble(parameters, self.MU, context)
        has_regions = parameters.get(self.REGIONS) not in (None, "")
        taus_text = self.parameterAsString(parameters, self.TAUS, context).strip()
        steps = QgsProcessingMultiStepFeedback(4 if has_regions and taus_text else 3, feedback)
        tb = break_point(sigma, mu, progress=self.progress(steps))
        steps.setCurrentStep(1)
        ts = sustain_point(sigma, mu, progress=self.progress(steps))
        feedback.pushInfo(f"break point T_B = {tb:.4f}, sustain point T_S = {ts:.4f}")
        steps.setCurrentStep(2)
        df = tomahawk(sigma, mu, T_range=(self.parameterAsDouble(parameters, self.T_MIN, context),
                                          self.parameterAsDouble(parameters, self.T_MAX, context)),
                      n_T=self.parameterAsInt(parameters, self.N_T, context), progress=self.progress(steps))
        result: dict[str, Any] = {self.BREAK_POINT: tb, self.SUSTAIN_POINT: ts,
                                  self.OUTPUT: bridge.gdf_to_sink(self, parameters, self.OUTPUT, context, df)}
        if taus_text:
            if not has_regions:
                raise ParameterError("a bifurcation diagram needs the regions (and their id field)")
            steps.setCurrentStep(3)
            regions, cfg, minutes = self.regions(parameters, context, steps, sigma=sigma, mu=mu)
            ids = [str(v) for v in regions[cfg.id_field]]
            bif = bifurcation(minutes, parse_numbers(taus_text, what="τ values"), sigma=sigma, mu=mu,
                              phi=self.shares(regions, cfg.immobile_field, self.IMMOBILE_FIELD),
                              lam0=self.shares(regions, cfg.mobile_field, self.MOBILE_FIELD), region_ids=ids,
                              progress=self.progress(steps))
            if parameters.get(self.OUTPUT_BIFURCATION) not in (None, ""):
                result[self.OUTPUT_BIFURCATION] = bridge.gdf_to_sink(
                    self, parameters, self.OUTPUT_BIFURCATION, context, bif)
        return result
