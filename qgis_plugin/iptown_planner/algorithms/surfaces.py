"""Surface algorithms: market potential, kernel density, hot spots, zonal statistics
(iptown_gis.surfaces)."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from .. import bridge
from .base import IptownAlgorithm, tr
from .params import advanced, enum, number

MODES = ["euclidean", "network"]
COSTS = ["length", "time"]
KERNELS = ["quartic", "gaussian"]
RULES = ["silverman", "scott"]
KDE_OUTPUTS = ["raw", "scaled", "density"]
STATISTICS = ["gi*", "moran"]
WEIGHTS = ["queen", "rook", "knn", "distance"]


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

    def grid(self, parameters: dict[str, Any], context: QgsProcessingContext,
             feedback: QgsProcessingFeedback) -> Any:
        from iptown_gis.surfaces import make_grid

        boundary = self.gdf(parameters, self.BOUNDARY, context, feedback,
                            crs=self.metric_crs(parameters, context))
        return make_grid(boundary, cell=self.parameterAsDouble(parameters, self.CELL, context),
                         crs=boundary.crs,
                         memory_budget=self.parameterAsString(parameters, self.MEMORY_BUDGET, context))

    def write(self, surface: Any, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        return bridge.write_surface(surface, self.raster_path(parameters, self.OUTPUT, context))


class MarketPotentialAlgorithm(SurfaceAlgorithm):
    MASSES = "MASSES"
    MASS_FIELD = "MASS_FIELD"
    DECAY = "DECAY"
    MODE = "MODE"
    ROADS = "ROADS"
    COST = "COST"
    ACCESS_SPEED = "ACCESS_SPEED"
    MIN_DISTANCE = "MIN_DISTANCE"

    NAME = "marketpotential"
    DISPLAY = "Market potential"
    HELP = (
        "Harris market potential of every cell: MP_i = Σ_j M_j f(d_ij), the demand a place can "
        "reach discounted by distance. Decay 'power:BETA' is M / d^BETA, 'exp:D0' is M exp(-d/D0). "
        "Distances are straight lines (euclidean) or over the road network (network; give the "
        "roads), in metres, or minutes with cost 'time'. Distances below the minimum (default half "
        "a cell) are raised to it. Mass field empty: every point weighs 1."
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
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, tr("Market potential")))

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
            feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from iptown_gis.errors import ParameterError
        from iptown_gis.surfaces import market_potential

        steps = QgsProcessingMultiStepFeedback(2, feedback)
        grid = self.grid(parameters, context, steps)
        masses = self.gdf(parameters, self.MASSES, context, steps, crs=grid.crs)
        mode = MODES[self.parameterAsEnum(parameters, self.MODE, context)]
        roads = self.optional_gdf(parameters, self.ROADS, context, steps, crs=grid.crs)
        if mode == "network" and roads is None:
            raise ParameterError("network distances need the road lines: set 'Road lines'")
        mind = parameters.get(self.MIN_DISTANCE)
        steps.setCurrentStep(1)
        surface = market_potential(
            grid, masses, mass_field=self.field(parameters, self.MASS_FIELD, context),
            decay=self.parameterAsString(parameters, self.DECAY, context), mode=mode,
            roads=roads if mode == "network" else None,
            cost=COSTS[self.parameterAsEnum(parameters, self.COST, context)],
            access_speed_kmh=self.parameterAsDouble(parameters, self.ACCESS_SPEED, context),
            min_distance=None if mind in (None, "") else self.parameterAsDouble(parameters, self.MIN_DISTANCE, context),
            progress=self.progress(steps))
        return {self.OUTPUT: self.write(surface, parameters, context)}


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
        self.addParameter(number(self.RADIUS, "Radius / bandwidth (m; empty: rule)", 30000.0, minimum=0.0,
                                 optional=True))
        self.addParameter(enum(self.RULE, "Bandwidth rule (when the radius is empty)", RULES, 0, is_advanced=True))
        self.addParameter(enum(self.OUTPUT_VALUES, "Output values", KDE_OUTPUTS, 0))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, tr("Kernel density")))

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
            feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from iptown_gis.surfaces.kde import kde

        steps = QgsProcessingMultiStepFeedback(2, feedback)
        grid = self.grid(parameters, context, steps)
        points = self.gdf(parameters, self.POINTS, context, steps, crs=grid.crs)
        radius = parameters.get(self.RADIUS)
        steps.setCurrentStep(1)
        surface = kde(
            points, grid, kernel=KERNELS[self.parameterAsEnum(parameters, self.KERNEL, context)],
            radius=None if radius in (None, "") else self.parameterAsDouble(parameters, self.RADIUS, context),
            rule=RULES[self.parameterAsEnum(parameters, self.RULE, context)],
            weight_field=self.field(parameters, self.WEIGHT_FIELD, context),
            output=KDE_OUTPUTS[self.parameterAsEnum(parameters, self.OUTPUT_VALUES, context)],
            progress=self.progress(steps))
        return {self.OUTPUT: self.write(surface, parameters, context)}


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

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
            feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from iptown_gis.errors import ParameterError
        from iptown_gis.surfaces.hotspots import hotspots

        has_layer = parameters.get(self.INPUT) not in (None, "")
        raster = self.parameterAsRasterLayer(parameters, self.SURFACE, context)
        if has_layer == (raster is not None):
            raise ParameterError("give either a layer and its field, or a surface raster (exactly one)")
        if has_layer:
            fld = self.field(parameters, self.FIELD, context)
            if fld is None:
                raise ParameterError("a layer needs the field to test: set 'Field to test'")
            target = self.gdf(parameters, self.INPUT, context, feedback,
                              crs=self.metric_crs(parameters, context))
        else:
            fld = None
            target = bridge.raster_to_surface(raster)
        dist = parameters.get(self.DISTANCE)
        feedback.setProgressText("computing local statistics with permutations")
        out = hotspots(
            target, field=fld, statistic=STATISTICS[self.parameterAsEnum(parameters, self.STATISTIC, context)],
            weights=WEIGHTS[self.parameterAsEnum(parameters, self.WEIGHTS, context)],
            k=self.parameterAsInt(parameters, self.K, context),
            distance=None if dist in (None, "") else self.parameterAsDouble(parameters, self.DISTANCE, context),
            permutations=self.parameterAsInt(parameters, self.PERMUTATIONS, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            alpha=self.parameterAsDouble(parameters, self.ALPHA, context),
            correction="fdr" if self.parameterAsBoolean(parameters, self.FDR, context) else "none")
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled by the user.")
        return {self.OUTPUT: bridge.gdf_to_sink(self, parameters, self.OUTPUT, context, out)}


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
        from iptown_gis.surfaces.zonal import STATS

        self.stats_options = list(STATS)
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

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
            feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from iptown_gis.surfaces.zonal import STATS, zonal_stats

        raster = self.parameterAsRasterLayer(parameters, self.SURFACE, context)
        if raster is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.SURFACE))
        surface = bridge.raster_to_surface(raster)
        zones = self.gdf(parameters, self.ZONES, context, feedback, crs=surface.grid.crs)
        stats = [STATS[i] for i in self.parameterAsEnums(parameters, self.STATS, context)] or ["mean"]
        table = zonal_stats(surface, zones, stats=stats, id_field=self.field(parameters, self.ID_FIELD, context),
                            prefix=self.parameterAsString(parameters, self.PREFIX, context) or None)
        return {self.OUTPUT: bridge.gdf_to_sink(self, parameters, self.OUTPUT, context, table)}
