"""Site algorithms: rank candidate sites, select k towns (iptown_gis.sites)."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)

from .. import bridge
from .base import IptownAlgorithm, tr
from .params import advanced, enum, number, parse_mapping

NORMALISATIONS = ["minmax", "zscore", "rank"]
MISSING = ["worst", "error"]
MODELS = ["rank", "pmedian", "mclp"]
COSTS = ["time", "length"]


class RankSitesAlgorithm(IptownAlgorithm):
    GROUP_ID = "sites"
    CANDIDATES = "CANDIDATES"
    ID_FIELD = "ID_FIELD"
    BENEFIT_FIELDS = "BENEFIT_FIELDS"
    COST_FIELDS = "COST_FIELDS"
    RASTERS = "RASTERS"
    WEIGHTS = "WEIGHTS"
    NORMALISATION = "NORMALISATION"
    MISSING = "MISSING"
    TOP_K = "TOP_K"
    DRAWS = "DRAWS"
    CONCENTRATION = "CONCENTRATION"
    SEED = "SEED"
    OUTPUT = "OUTPUT"

    NAME = "ranksites"
    DISPLAY = "Rank candidate sites"
    HELP = (
        "Scores and ranks candidate sites for IP characteristic towns by weighted criteria: "
        "fields where more is better (benefit), fields where less is better (cost, e.g. travel "
        "time to the IP court), and surface rasters sampled at the sites (benefit criteria named "
        "after the layer, e.g. market potential). Each criterion is normalised (min-max, z-score "
        "or rank), weighted (weights 'name=value, ...'; empty: equal; rescaled to sum to 1) and "
        "summed. The ranks' robustness to the weights is measured by Monte Carlo (Dirichlet "
        "draws around the weights): p_top_k, rank_p05, rank_median, rank_p95. Output: the "
        "candidates written in rank order (first feature = best site) with the criteria, "
        "norm_<criterion>, score and rank; a GeoPackage input's fid is kept as source_fid."
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.CANDIDATES, tr("Candidate sites"), [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.ID_FIELD, tr("Site id field (empty: feature order)"), parentLayerParameterName=self.CANDIDATES,
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.BENEFIT_FIELDS, tr("Benefit criteria (more is better)"), parentLayerParameterName=self.CANDIDATES,
            type=QgsProcessingParameterField.Numeric, allowMultiple=True, optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.COST_FIELDS, tr("Cost criteria (less is better)"), parentLayerParameterName=self.CANDIDATES,
            type=QgsProcessingParameterField.Numeric, allowMultiple=True, optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.RASTERS, tr("Surface rasters (benefit criteria)"), QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.WEIGHTS, tr("Weights (name=value, ...; empty: equal)"), optional=True))
        self.addParameter(enum(self.NORMALISATION, "Normalisation", NORMALISATIONS, 0))
        self.addParameter(enum(self.MISSING, "Missing values", MISSING, 0, is_advanced=True))
        self.addParameter(number(self.TOP_K, "k of 'probability in the top k'", 3, minimum=1, integer=True))
        self.addParameter(number(self.DRAWS, "Robustness draws (0: skip)", 1000, minimum=0, integer=True,
                                 is_advanced=True))
        self.addParameter(number(self.CONCENTRATION, "Dirichlet concentration", 50.0, minimum=0.001,
                                 is_advanced=True))
        self.addParameter(number(self.SEED, "Random seed", 0, integer=True, is_advanced=True))
        self.add_metric_crs_parameter()
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, tr("Ranked sites"), QgsProcessing.TypeVectorPoint))

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        import pandas as pd

        from iptown_gis.errors import ParameterError
        from iptown_gis.sites.candidates import candidates_from_layer
        from iptown_gis.sites.criteria import sample_raster
        from iptown_gis.sites.select import rank_sites

        steps = QgsProcessingMultiStepFeedback(2, feedback)
        layer = self.gdf(parameters, self.CANDIDATES, context, steps, crs=self.metric_crs(parameters, context))
        cands = candidates_from_layer(layer.reset_index(drop=True),
                                      id_field=self.field(parameters, self.ID_FIELD, context))
        criteria: dict[str, Any] = {}
        directions: dict[str, str] = {}
        for key, direction in ((self.BENEFIT_FIELDS, "benefit"), (self.COST_FIELDS, "cost")):
            for f in self.parameterAsFields(parameters, key, context):
                criteria[f] = cands[f].astype(float).to_numpy()
                directions[f] = direction
        for raster in self.parameterAsLayerList(parameters, self.RASTERS, context):
            name = raster.name() or "raster"
            criteria[name] = sample_raster(str(bridge.raster_layer_path(raster)), cands, name=name)
            directions[name] = "benefit"
        if not criteria:
            raise ParameterError("give at least one criterion: benefit fields, cost fields or surface rasters")
        text = self.parameterAsString(parameters, self.WEIGHTS, context).strip()
        weights = parse_mapping(text, what="weights") if text else dict.fromkeys(criteria, 1.0)
        steps.setCurrentStep(1)
        ranked = rank_sites(
            cands, pd.DataFrame(criteria, index=cands.index), weights=weights, directions=directions,
            normalisation=NORMALISATIONS[self.parameterAsEnum(parameters, self.NORMALISATION, context)],
            missing=MISSING[self.parameterAsEnum(parameters, self.MISSING, context)],
            k=self.parameterAsInt(parameters, self.TOP_K, context),
            draws=self.parameterAsInt(parameters, self.DRAWS, context),
            concentration=self.parameterAsDouble(parameters, self.CONCENTRATION, context),
            seed=self.parameterAsInt(parameters, self.SEED, context), progress=self.progress(steps))
        # rank order on disk (first feature = best site), ties kept in the library's order; the
        # candidates' own GeoPackage "fid" would become the output's feature ids (and reorder it
        # by input order), so it is kept as "source_fid"
        ranked = ranked.sort_values("rank", kind="stable")
        if "fid" in ranked.columns:
            ranked = ranked.rename(columns={"fid": "source_fid"})
        return {self.OUTPUT: bridge.gdf_to_sink(self, parameters, self.OUTPUT, context, ranked)}


class SelectSitesAlgorithm(IptownAlgorithm):
    GROUP_ID = "sites"
    RANKED = "RANKED"
    ID_FIELD = "ID_FIELD"
    K = "K"
    MODEL = "MODEL"
    ROADS = "ROADS"
    DEMAND = "DEMAND"
    DEMAND_WEIGHT = "DEMAND_WEIGHT"
    COST = "COST"
    STANDARD = "STANDARD"
    MIN_SPACING = "MIN_SPACING"
    PREFECTURE_FIELD = "PREFECTURE_FIELD"
    MAX_PER_PREFECTURE = "MAX_PER_PREFECTURE"
    MIP_GAP = "MIP_GAP"
    TIME_LIMIT = "TIME_LIMIT"
    LARGEST_COMPONENT = "LARGEST_COMPONENT"
    OUTPUT = "OUTPUT"
    OBJECTIVE = "OBJECTIVE"

    NAME = "selectsites"
    DISPLAY = "Select sites"
    HELP = (
        "Chooses k towns among ranked candidate sites (the output of 'Rank candidate sites'): "
        "'rank' takes them in rank order under the constraints (minimum network spacing, at most "
        "n per prefecture); 'pmedian' minimises the weighted network cost from the demand points "
        "to their nearest town; 'mclp' maximises the demand within the coverage standard of a "
        "town. Both location models are solved exactly with HiGHS. Costs are minutes ('time') or "
        "metres ('length') over the road network. Output: the chosen sites in choice order with "
        "choice, demand_served and demand_covered."
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.RANKED, tr("Ranked sites"), [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            self.ID_FIELD, tr("Site id field"), defaultValue="site_id", parentLayerParameterName=self.RANKED))
        self.addParameter(number(self.K, "Number of towns k", 3, minimum=1, integer=True))
        self.addParameter(enum(self.MODEL, "Model", MODELS, 0))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ROADS, tr("Road lines (location models, spacing)"), [QgsProcessing.TypeVectorLine], optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.DEMAND, tr("Demand points (location models)"),
            [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.DEMAND_WEIGHT, tr("Demand weight field (empty: 1 each)"), parentLayerParameterName=self.DEMAND,
            type=QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(enum(self.COST, "Network cost", COSTS, 0))
        self.addParameter(number(self.STANDARD, "Coverage standard (mclp; minutes or metres)", None,
                                 minimum=0.0, optional=True))
        self.addParameter(number(self.MIN_SPACING, "Minimum spacing between towns (cost unit)", None,
                                 minimum=0.0, optional=True, is_advanced=True))
        self.addParameter(advanced(QgsProcessingParameterField(
            self.PREFECTURE_FIELD, tr("Prefecture field"), parentLayerParameterName=self.RANKED, optional=True)))
        self.addParameter(number(self.MAX_PER_PREFECTURE, "At most n towns per prefecture", None, minimum=1,
                                 integer=True, optional=True, is_advanced=True))
        self.addParameter(number(self.MIP_GAP, "Relative MIP gap (0: exact)", 0.0, minimum=0.0, maximum=0.99,
                                 is_advanced=True))
        self.addParameter(number(self.TIME_LIMIT, "Solver time limit (s)", None, minimum=0.1, optional=True,
                                 is_advanced=True))
        self.addParameter(advanced(QgsProcessingParameterBoolean(
            self.LARGEST_COMPONENT, tr("Snap to the largest connected part of the network"), defaultValue=True)))
        self.add_metric_crs_parameter()
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, tr("Selected sites"), QgsProcessing.TypeVectorPoint))
        self.addOutput(QgsProcessingOutputNumber(self.OBJECTIVE, tr("Objective value")))

    @staticmethod
    def _opt(parameters: dict[str, Any], key: str) -> bool:
        return parameters.get(key) not in (None, "")

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        import numpy as np

        from iptown_gis.errors import NetworkError
        from iptown_gis.sites.candidates import candidates_from_layer
        from iptown_gis.sites.criteria import network_costs
        from iptown_gis.sites.select import choose_sites

        steps = QgsProcessingMultiStepFeedback(3, feedback)
        layer = self.gdf(parameters, self.RANKED, context, steps, crs=self.metric_crs(parameters, context))
        ranked = candidates_from_layer(layer.reset_index(drop=True),
                                       id_field=self.field(parameters, self.ID_FIELD, context))
        if "rank" in ranked.columns:
            ranked = ranked.sort_values("rank", kind="stable").reset_index(drop=True)
        model = MODELS[self.parameterAsEnum(parameters, self.MODEL, context)]
        cost = COSTS[self.parameterAsEnum(parameters, self.COST, context)]
        min_spacing = self.parameterAsDouble(parameters, self.MIN_SPACING, context) \
            if self._opt(parameters, self.MIN_SPACING) else None
        roads = self.optional_gdf(parameters, self.ROADS, context, steps, crs=ranked.crs)
        demand = self.optional_gdf(parameters, self.DEMAND, context, steps, crs=ranked.crs)
        net = None
        if model != "rank" or min_spacing is not None or demand is not None:
            if roads is None:
                raise NetworkError(f"model {model!r}{' with a minimum spacing' if min_spacing else ''} needs "
                                   "network costs: set 'Road lines'")
            from iptown_gis.network import build_network

            net = build_network(roads)
        steps.setCurrentStep(1)
        opts = {"largest_component": self.parameterAsBoolean(parameters, self.LARGEST_COMPONENT, context)}
        cand_cost = demand_cost = demand_w = demand_ids = None
        if min_spacing is not None:
            cand_cost = network_costs(net, ranked, None, weight=cost, check_reach=False, **opts)
        if demand is not None:
            demand = demand.reset_index(drop=True)
            if demand.geom_type.isin(["Polygon", "MultiPolygon"]).any():
                demand = demand.set_geometry(demand.geometry.representative_point())
            wf = self.field(parameters, self.DEMAND_WEIGHT, context)
            demand_w = demand[wf].to_numpy(dtype=float) if wf else np.ones(len(demand))
            demand_ids = demand.index.tolist()
            demand_cost = network_costs(net, demand, ranked, weight=cost, check_reach=False,
                                        origin_name="demand points", destination_name="candidates",
                                        progress=self.progress(steps), **opts)
        steps.setCurrentStep(2)
        sel = choose_sites(
            ranked, k=self.parameterAsInt(parameters, self.K, context), model=model,  # type: ignore[arg-type]
            demand_cost=demand_cost, demand_weights=demand_w, demand_ids=demand_ids,
            standard=self.parameterAsDouble(parameters, self.STANDARD, context)
            if self._opt(parameters, self.STANDARD) else None,
            candidate_cost=cand_cost, min_spacing=min_spacing,
            prefecture_field=self.field(parameters, self.PREFECTURE_FIELD, context),
            max_per_prefecture=self.parameterAsInt(parameters, self.MAX_PER_PREFECTURE, context)
            if self._opt(parameters, self.MAX_PER_PREFECTURE) else None,
            mip_gap=self.parameterAsDouble(parameters, self.MIP_GAP, context),
            time_limit=self.parameterAsDouble(parameters, self.TIME_LIMIT, context)
            if self._opt(parameters, self.TIME_LIMIT) else None,
            progress=self.progress(steps))
        for k, v in sel.summary.items():
            if isinstance(v, (int, float, str)):
                feedback.pushInfo(f"{k}: {v}")
        objective = sel.summary.get("objective")
        out = {self.OUTPUT: bridge.gdf_to_sink(self, parameters, self.OUTPUT, context, sel.selected)}
        out[self.OBJECTIVE] = float(objective) if isinstance(objective, (int, float)) else None
        return out
