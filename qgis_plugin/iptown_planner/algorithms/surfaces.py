"""Surface algorithms: market potential, kernel density, hot spots, zonal statistics
(iptown_gis.surfaces)."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from .base import IptownAlgorithm, tr
from .params import advanced, enum, number

MODES = ["euclidean", "network"]
COSTS = ["length", "time"]
KERNELS = ["quartic", "gaussian"]
RULES = ["silverman", "scott"]
KDE_OUTPUTS = ["raw", "scaled", "density"]
STATISTICS = ["gi*", "moran"]
WEIGHTS = ["queen", "rook", "knn", "distance"]
ZONAL_STATS = ["mean", "max", "min", "sum", "count", "std"]


class SurfaceAlgorithm(IptownAlgorithm):
    GROUP_ID = "surfaces"
    BOUNDARY = "BOUNDARY"
    CELL = "CELL"
    MEMORY_BUDGET = "MEMORY_BUDGET"
    OUTPUT = "OUTPUT"

    GRID_HELP = (
        "\n\nThe grid: square cells of the given size (metres) covering the boundary polygons; "
        "cells whose centre is outside are nodata. A boundary in degrees is projected to the "
        "metric CRS (or its UTM zone); other layers are put in the grid's CRS."
    )

    def add_grid_parameters(self) -> None:
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.BOUNDARY, tr("Study area (polygons)"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(number(self.CELL, "Cell size (m)", 1000.0, minimum=1.0))
        self.addParameter(advanced(QgsProcessingParameterString(
            self.MEMORY_BUDGET, tr("Memory budget for the grid"), defaultValue="4GB")))
        self.add_metric_crs_parameter()

class MarketPotentialAlgorithm(SurfaceAlgorithm):
    MASSES = "MASSES"
    MASS_FIELD = "MASS_FIELD"
    DECAY = "DECAY"
    MODE = "MODE"
    ROADS = "ROADS"
    COST = "COST"
    ACCESS_SPEED = "ACCESS_SPEED"
    MIN_DISTANCE = "MIN_DISTANCE"
    MAX_SNAP_DISTANCE = "MAX_SNAP_DISTANCE"

    NAME = "marketpotential"
    DISPLAY = "Market potential"
    HELP = (
        "Harris market potential of every cell: MP_i = Σ_j M_j f(d_ij), the demand a place can "
        "reach discounted by distance. Decay 'power:BETA' is M / d^BETA, 'exp:D0' is M exp(-d/D0). "
        "Distances are straight lines (euclidean) or over the road network (network; give the "
        "roads), in metres, or minutes with cost 'time'. Distances below the minimum (default half "
        "a cell) are raised to it. Mass field empty: every point weighs 1. Network distances join "
        "cells and masses at road nodes (rail only at stations); a cell or mass farther than the "
        "largest access leg (default 10 km) from a road node is an error."
        + SurfaceAlgorithm.GRID_HELP
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_grid_parameters()
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.MASSES, tr("Masses (points)"), [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            self.MASS_FIELD, tr("Mass field (empty: count points)"), parentLayerParameterName=self.MASSES,
            type=QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(QgsProcessingParameterString(self.DECAY, tr("Distance decay"), defaultValue="power:1"))
        self.addParameter(enum(self.MODE, "Distances", MODES, 0))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ROADS, tr("Road lines (network distances)"), [QgsProcessing.TypeVectorLine], optional=True))
        self.addParameter(enum(self.COST, "Network cost", COSTS, 0, is_advanced=True))
        self.addParameter(number(self.ACCESS_SPEED, "Access-leg speed (km/h, cost 'time')", 30.0, minimum=0.1,
                                 is_advanced=True))
        self.addParameter(number(self.MIN_DISTANCE, "Minimum distance (empty: half a cell)", None, minimum=0.0,
                                 optional=True, is_advanced=True))
        self.addParameter(number(self.MAX_SNAP_DISTANCE, "Largest access leg (m, network distances)", None,
                                 minimum=0.0, is_advanced=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, tr("Market potential")))

class KernelDensityAlgorithm(SurfaceAlgorithm):
    POINTS = "POINTS"
    WEIGHT_FIELD = "WEIGHT_FIELD"
    KERNEL = "KERNEL"
    RADIUS = "RADIUS"
    RULE = "RULE"
    OUTPUT_VALUES = "OUTPUT_VALUES"

    NAME = "kerneldensity"
    DISPLAY = "Kernel density"
    HELP = (
        "Kernel density of points on the grid, with QGIS Heatmap conventions: quartic kernel of "
        "the given radius, or Gaussian of the given bandwidth (metres). Empty radius: Silverman's "
        "or Scott's rule. Values 'raw' (as the QGIS Heatmap), 'scaled' (QGIS scaled output) or "
        "'density' (integrates to the total weight). Weight field empty: every point weighs 1."
        + SurfaceAlgorithm.GRID_HELP
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_grid_parameters()
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.POINTS, tr("Points"), [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.WEIGHT_FIELD, tr("Weight field (empty: 1 per point)"), parentLayerParameterName=self.POINTS,
            type=QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(enum(self.KERNEL, "Kernel", KERNELS, 0))
        self.addParameter(number(self.RADIUS, "Radius / bandwidth (m; 0: the bandwidth rule)", 30000.0, minimum=0.0,
                                 optional=True))
        self.addParameter(enum(self.RULE, "Bandwidth rule (when the radius is 0)", RULES, 0, is_advanced=True))
        self.addParameter(enum(self.OUTPUT_VALUES, "Output values", KDE_OUTPUTS, 0))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, tr("Kernel density")))

class HotSpotsAlgorithm(IptownAlgorithm):
    GROUP_ID = "surfaces"
    INPUT = "INPUT"
    FIELD = "FIELD"
    SURFACE = "SURFACE"
    STATISTIC = "STATISTIC"
    WEIGHTS = "WEIGHTS"
    K = "K"
    DISTANCE = "DISTANCE"
    PERMUTATIONS = "PERMUTATIONS"
    SEED = "SEED"
    ALPHA = "ALPHA"
    FDR = "FDR"
    OUTPUT = "OUTPUT"

    NAME = "hotspots"
    DISPLAY = "Hot spots (Gi*, local Moran)"
    HELP = (
        "Where high (hot) or low (cold) values cluster, with permutation inference (PySAL esda): "
        "Getis-Ord Gi* or local Moran's I. Give either a layer (counties, prefectures, points) "
        "and its field, or a surface raster (its cells are tested; cell polygons are returned). "
        "Neighbours: queen / rook contiguity, k nearest, or distance band (metres; grids: queen "
        "or rook). P-values are corrected for multiple testing with Benjamini-Hochberg FDR unless "
        "unticked. Output columns: the statistic, z, p, q, hot_spot, cold_spot, significance."
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.INPUT, tr("Layer (or give a surface below)"),
            [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorPoint], optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.FIELD, tr("Field to test"), parentLayerParameterName=self.INPUT,
            type=QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(self.SURFACE, tr("Surface raster"), optional=True))
        self.addParameter(enum(self.STATISTIC, "Statistic", STATISTICS, 0))
        self.addParameter(enum(self.WEIGHTS, "Neighbours", WEIGHTS, 0))
        self.addParameter(number(self.K, "k (k nearest neighbours)", 6, minimum=1, integer=True, is_advanced=True))
        self.addParameter(number(self.DISTANCE, "Distance band (m)", None, minimum=0.0, optional=True,
                                 is_advanced=True))
        self.addParameter(number(self.PERMUTATIONS, "Permutations", 999, minimum=99, integer=True))
        self.addParameter(number(self.SEED, "Random seed", 20171, integer=True, is_advanced=True))
        self.addParameter(number(self.ALPHA, "Significance level", 0.05, minimum=0.0001, maximum=0.5))
        self.addParameter(QgsProcessingParameterBoolean(self.FDR, tr("FDR correction"), defaultValue=True))
        self.add_metric_crs_parameter()
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, tr("Hot spots")))

class ZonalStatisticsAlgorithm(IptownAlgorithm):
    GROUP_ID = "surfaces"
    SURFACE = "SURFACE"
    ZONES = "ZONES"
    ID_FIELD = "ID_FIELD"
    STATS = "STATS"
    PREFIX = "PREFIX"
    OUTPUT = "OUTPUT"

    NAME = "zonalstatistics"
    DISPLAY = "Zonal statistics"
    HELP = (
        "Statistics of a surface (market potential, kernel density, ...) over each zone polygon "
        "(counties, prefectures): a cell counts for a zone when its centre is inside. Adds columns "
        "<prefix>_<statistic> and <prefix>_count (cells) to the zones; the prefix defaults to the "
        "surface's name. Zones in another CRS are put in the surface's (metric) CRS."
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.stats_options = list(ZONAL_STATS)
        self.addParameter(QgsProcessingParameterRasterLayer(self.SURFACE, tr("Surface raster")))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ZONES, tr("Zones (polygons)"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.ID_FIELD, tr("Zone id field"), parentLayerParameterName=self.ZONES, optional=True))
        defaults = [self.stats_options.index(s) for s in ("mean", "max", "sum")]
        self.addParameter(QgsProcessingParameterEnum(
            self.STATS, tr("Statistics"), options=self.stats_options, allowMultiple=True, defaultValue=defaults))
        self.addParameter(QgsProcessingParameterString(
            self.PREFIX, tr("Column prefix (empty: the surface's name)"), optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, tr("Zonal statistics"), QgsProcessing.TypeVectorPolygon))
