"""Site algorithms: rank candidate sites, select k towns (iptown_gis.sites)."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)

from .base import IptownAlgorithm, tr
from .params import advanced, enum, number

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
