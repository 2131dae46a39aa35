"""Zoning algorithms: optimise a "one body, two wings" layout on cells, and lay out a whole
study area around a site (iptown_gis.zoning)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterPoint,
)

from .. import bridge
from ..styling import StylePostProcessor
from .base import IptownAlgorithm, tr
from .params import advanced, enum, number

METHODS = ["auto", "exact", "heuristic"]
MEASURES = ["cells", "km²"]


def _style_on_load(context: QgsProcessingContext, dest: str, name: str, style: str) -> None:
    """Load ``dest`` on completion with the library's fixed QML style (``districts`` / ``modules``)."""
    if context.willLoadLayerOnCompletion(dest):
        details = context.layerToLoadOnCompletionDetails(dest)
        details.setPostProcessor(StylePostProcessor.create(style))
    else:
        details = QgsProcessingContext.LayerDetails(name, context.project(), name)
        details.setPostProcessor(StylePostProcessor.create(style))
        context.addLayerToLoadOnCompletion(dest, details)


class ZoningOptimiseAlgorithm(IptownAlgorithm):
    GROUP_ID = "zoning"
    CELLS = "CELLS"
    SUIT_BODY = "SUIT_BODY"
    SUIT_EAST = "SUIT_EAST"
    SUIT_WEST = "SUIT_WEST"
    EXCLUDE = "EXCLUDE"
    LARGEST_COMPONENT = "LARGEST_COMPONENT"
    MEASURE = "MEASURE"
    BODY = "BODY"
    WING_EAST = "WING_EAST"
    WING_WEST = "WING_WEST"
    TOLERANCE = "TOLERANCE"
    AXIS_BEARING = "AXIS_BEARING"
    AXIS_MARGIN = "AXIS_MARGIN"
    COMPACTNESS = "COMPACTNESS"
    METHOD = "METHOD"
    TIME_LIMIT = "TIME_LIMIT"
    SEED = "SEED"
    MODULES = "MODULES"
    OUTPUT_DISTRICTS = "OUTPUT_DISTRICTS"
    OUTPUT_MODULES = "OUTPUT_MODULES"
    OUTPUT_CELLS = "OUTPUT_CELLS"
    OBJECTIVE = "OBJECTIVE"
    GAP = "GAP"
    STATUS = "STATUS"

    NAME = "zoningoptimise"
    DISPLAY = "Optimise zoning (one body, two wings)"
    HELP = (
        "Assigns cells (parcels or grid cells, polygons in a metric CRS) to the three districts "
        "of an IP characteristic town as in the Shenzhen plan: the body (integrated functional "
        "centre), the east wing (cultural copyright) and the west wing (industrial property). "
        "Each district is contiguous and within its size target ± tolerance (cell counts or km²), "
        "each wing touches the body, and along the axis bearing (90 = west→east) the east wing "
        "lies beyond the body and the body beyond the west wing. The objective is the summed "
        "suitability (one field per district) minus the compactness weight × perimeter. Exact "
        "(MIP with HiGHS), heuristic (growth + simulated annealing) or auto. Optionally the body "
        "is split into its seven modules (IP management, trading, services, education, think "
        "tanks, culture, finance). Outputs load with the fixed district / module styles."
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.CELLS, tr("Cells (polygons)"), [QgsProcessing.TypeVectorPolygon]))
        for key, label in ((self.SUIT_BODY, "Suitability for the body"),
                           (self.SUIT_EAST, "Suitability for the east wing"),
                           (self.SUIT_WEST, "Suitability for the west wing")):
            self.addParameter(QgsProcessingParameterField(
                key, tr(label), parentLayerParameterName=self.CELLS, type=QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterField(
            self.EXCLUDE, tr("Exclude field (true: cell not usable)"), parentLayerParameterName=self.CELLS,
            optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.LARGEST_COMPONENT, tr("Keep only the largest connected area of usable cells (largest_component)"),
            defaultValue=False))
        self.addParameter(enum(self.MEASURE, "Size unit", MEASURES, 0))
        self.addParameter(number(self.BODY, "Body size", 40, minimum=0.0))
        self.addParameter(number(self.WING_EAST, "East wing size", 25, minimum=0.0))
        self.addParameter(number(self.WING_WEST, "West wing size", 25, minimum=0.0))
        self.addParameter(number(self.TOLERANCE, "Size tolerance (0.05 = ±5 %)", 0.05, minimum=0.0, maximum=0.99))
        self.addParameter(number(self.AXIS_BEARING, "Axis bearing, west wing → east wing (degrees)", 90.0,
                                 minimum=-360.0, maximum=360.0))
        self.addParameter(number(self.AXIS_MARGIN, "Axis margin (m)", 0.0, minimum=0.0, is_advanced=True))
        self.addParameter(number(self.COMPACTNESS, "Compactness weight", 0.0, minimum=0.0, is_advanced=True))
        self.addParameter(enum(self.METHOD, "Method", METHODS, 0))
        self.addParameter(number(self.TIME_LIMIT, "Time limit (s)", 60.0, minimum=0.1))
        self.addParameter(number(self.SEED, "Random seed", 0, integer=True, is_advanced=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.MODULES, tr("Also lay out the seven modules of the body"), defaultValue=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_DISTRICTS, tr("Districts"), QgsProcessing.TypeVectorPolygon))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_MODULES, tr("Modules"), QgsProcessing.TypeVectorPolygon, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_CELLS, tr("Cells with their zone"), QgsProcessing.TypeVectorPolygon, optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.OBJECTIVE, tr("Objective")))
        self.addOutput(QgsProcessingOutputNumber(self.GAP, tr("Relative gap to the bound")))
        self.addOutput(QgsProcessingOutputString(self.STATUS, tr("Solver status")))

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from iptown_gis.zoning import ZoningModel, cells_from_polygons, layout_frames, layout_modules

        steps = QgsProcessingMultiStepFeedback(3, feedback)
        gdf = self.gdf(parameters, self.CELLS, context, steps).reset_index(drop=True)
        cells = cells_from_polygons(gdf, exclude=self.field(parameters, self.EXCLUDE, context))
        if self.parameterAsBoolean(parameters, self.LARGEST_COMPONENT, context):
            cells.keep_largest_component()
        area = MEASURES[self.parameterAsEnum(parameters, self.MEASURE, context)] != "cells"
        scale = 1e6 if area else 1.0
        model = ZoningModel.districts(
            cells, suit_body=self.field(parameters, self.SUIT_BODY, context),
            suit_east=self.field(parameters, self.SUIT_EAST, context),
            suit_west=self.field(parameters, self.SUIT_WEST, context),
            body=self.parameterAsDouble(parameters, self.BODY, context) * scale,
            wing_east=self.parameterAsDouble(parameters, self.WING_EAST, context) * scale,
            wing_west=self.parameterAsDouble(parameters, self.WING_WEST, context) * scale,
            tolerance=self.parameterAsDouble(parameters, self.TOLERANCE, context),
            measure="area" if area else "cells",
            axis_bearing=self.parameterAsDouble(parameters, self.AXIS_BEARING, context),
            axis_margin=self.parameterAsDouble(parameters, self.AXIS_MARGIN, context),
            compactness_weight=self.parameterAsDouble(parameters, self.COMPACTNESS, context))
        steps.setCurrentStep(1)
        seed = self.parameterAsInt(parameters, self.SEED, context)
        time_limit = self.parameterAsDouble(parameters, self.TIME_LIMIT, context)
        model.solve(method=METHODS[self.parameterAsEnum(parameters, self.METHOD, context)], time_limit=time_limit,
                    seed=seed, progress=self.progress(steps))
        feedback.pushInfo(f"status {model.status_}, method {model.method_}, objective {model.objective_:.6g}, "
                          f"bound {model.bound_:.6g}, gap {model.gap_:.4%}")
        steps.setCurrentStep(2)
        mm = mlab = None
        if self.parameterAsBoolean(parameters, self.MODULES, context):
            mm, mlab = layout_modules(cells, model.labels_, time_limit=time_limit, seed=seed,
                                      progress=self.progress(steps))
        frames = layout_frames(cells, model, module_model=mm, module_labels=mlab)
        out: dict[str, Any] = {self.OBJECTIVE: float(model.objective_), self.GAP: float(model.gap_),
                               self.STATUS: str(model.status_)}
        out[self.OUTPUT_DISTRICTS] = bridge.gdf_to_sink(self, parameters, self.OUTPUT_DISTRICTS, context,
                                                        frames["districts"])
        _style_on_load(context, out[self.OUTPUT_DISTRICTS], "districts", "districts")
        if "modules" in frames and parameters.get(self.OUTPUT_MODULES) not in (None, ""):
            out[self.OUTPUT_MODULES] = bridge.gdf_to_sink(self, parameters, self.OUTPUT_MODULES, context,
                                                          frames["modules"])
            _style_on_load(context, out[self.OUTPUT_MODULES], "modules", "modules")
        if parameters.get(self.OUTPUT_CELLS) not in (None, ""):
            out[self.OUTPUT_CELLS] = bridge.gdf_to_sink(self, parameters, self.OUTPUT_CELLS, context,
                                                        frames["cells"])
        return out


class StudyAreaLayoutAlgorithm(IptownAlgorithm):
    GROUP_ID = "zoning"
    SCENARIO = "SCENARIO"
    SITE = "SITE"
    RADIUS = "RADIUS"
    CELL_SIZE = "CELL_SIZE"
    BODY_KM2 = "BODY_KM2"
    WING_EAST_KM2 = "WING_EAST_KM2"
    WING_WEST_KM2 = "WING_WEST_KM2"
    METHOD = "METHOD"
    TIME_LIMIT = "TIME_LIMIT"
    MODULES = "MODULES"
    WITH_UPSTREAM = "WITH_UPSTREAM"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    DISTRICTS = "DISTRICTS"
    MODULES_LAYER = "MODULES_LAYER"
    CELLS = "CELLS"
    SUMMARY = "SUMMARY"

    NAME = "studyarealayout"
    DISPLAY = "Study-area layout"
    HELP = (
        "Lays out a whole IP characteristic town around a site: a grid of cells within the radius, "
        "each scored from travel time to the site and to rail, market potential, agglomeration, "
        "distance to water and slope (the scenario's [zoning] recipe; cells near rivers and lakes "
        "are excluded), then the one-body-two-wings districts of the given sizes and the seven "
        "modules of the body. Site: a point picked on the map (empty: the scenario's site, i.e. "
        "the top-ranked site or Hefei's seat). With upstream stages, the network, surfaces and "
        "sites stages run first so the factors use network times and computed surfaces (slower); "
        "otherwise straight-line fallbacks are used and recorded in summary.json. Writes "
        "layout.gpkg (districts, modules, cells), layout.geojson, summary.json and QML styles."
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        from iptown_gis.zoning.config import ZoningConfig

        d = ZoningConfig.model_fields
        self.addParameter(QgsProcessingParameterFile(
            self.SCENARIO, tr("Scenario file (empty: the bundled Anhui study)"),
            behavior=QgsProcessingParameterFile.File, extension="toml", optional=True))
        self.addParameter(QgsProcessingParameterPoint(self.SITE, tr("Site (empty: the scenario's)"), optional=True))
        self.addParameter(number(self.RADIUS, "Radius (m)", d["radius_m"].default, minimum=1.0))
        self.addParameter(number(self.CELL_SIZE, "Cell size (m)", d["cell_size_m"].default, minimum=1.0))
        self.addParameter(number(self.BODY_KM2, "Body (km²)", d["body_km2"].default, minimum=0.0001))
        self.addParameter(number(self.WING_EAST_KM2, "East wing (km²)", d["wing_east_km2"].default, minimum=0.0001))
        self.addParameter(number(self.WING_WEST_KM2, "West wing (km²)", d["wing_west_km2"].default, minimum=0.0001))
        self.addParameter(enum(self.METHOD, "Method", METHODS, 0))
        self.addParameter(number(self.TIME_LIMIT, "Time limit (s)", d["time_limit"].default, minimum=0.1))
        self.addParameter(QgsProcessingParameterBoolean(
            self.MODULES, tr("Also lay out the seven modules of the body"), defaultValue=True))
        self.addParameter(advanced(QgsProcessingParameterBoolean(
            self.WITH_UPSTREAM, tr("Run the network, surfaces and sites stages first"), defaultValue=False)))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, tr("Output folder")))
        self.addOutput(QgsProcessingOutputVectorLayer(self.DISTRICTS, tr("Districts"), QgsProcessing.TypeVectorPolygon))
        self.addOutput(QgsProcessingOutputVectorLayer(self.MODULES_LAYER, tr("Modules"),
                                                      QgsProcessing.TypeVectorPolygon))
        self.addOutput(QgsProcessingOutputVectorLayer(self.CELLS, tr("Cells"), QgsProcessing.TypeVectorPolygon))
        self.addOutput(QgsProcessingOutputFile(self.SUMMARY, tr("Summary (summary.json)")))

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform

        from iptown_gis.pipeline import run_scenario

        from ..study import build_study

        out_dir = Path(self.parameterAsString(parameters, self.OUTPUT_FOLDER, context))
        overrides: dict[str, Any] = {
            "zoning.radius_m": self.parameterAsDouble(parameters, self.RADIUS, context),
            "zoning.cell_size_m": self.parameterAsDouble(parameters, self.CELL_SIZE, context),
            "zoning.body_km2": self.parameterAsDouble(parameters, self.BODY_KM2, context),
            "zoning.wing_east_km2": self.parameterAsDouble(parameters, self.WING_EAST_KM2, context),
            "zoning.wing_west_km2": self.parameterAsDouble(parameters, self.WING_WEST_KM2, context),
            "zoning.method": METHODS[self.parameterAsEnum(parameters, self.METHOD, context)],
            "zoning.time_limit": self.parameterAsDouble(parameters, self.TIME_LIMIT, context),
            "zoning.modules": self.parameterAsBoolean(parameters, self.MODULES, context),
        }
        if parameters.get(self.SITE) not in (None, ""):
            wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
            pt = self.parameterAsPoint(parameters, self.SITE, context, wgs84)
            src_crs = self.parameterAsPointCrs(parameters, self.SITE, context)
            if src_crs.isValid() and src_crs != wgs84:
                pt = QgsCoordinateTransform(src_crs, wgs84, context.transformContext()).transform(
                    self.parameterAsPoint(parameters, self.SITE, context))
            overrides["zoning.site"] = [round(pt.x(), 7), round(pt.y(), 7)]
        scenario = build_study(self.parameterAsFile(parameters, self.SCENARIO, context) or None,
                               out_dir / "study", overrides=overrides)
        stages = ["zoning"]
        if self.parameterAsBoolean(parameters, self.WITH_UPSTREAM, context):
            stages = ["network", "surfaces", "sites", "zoning"]
        manifest = run_scenario(scenario, out_dir, stages=stages, progress=self.progress(feedback))
        gpkg = out_dir / "zoning" / "layout.gpkg"
        result = {self.OUTPUT_FOLDER: str(out_dir), self.SUMMARY: str(out_dir / "zoning" / "summary.json"),
                  self.DISTRICTS: f"{gpkg}|layername=districts", self.CELLS: f"{gpkg}|layername=cells"}
        from iptown_gis.io.vector import list_layers

        layers = list_layers(gpkg)
        if "modules" in layers:
            result[self.MODULES_LAYER] = f"{gpkg}|layername=modules"
        for key, style in ((self.DISTRICTS, "districts"), (self.MODULES_LAYER, "modules")):
            if key in result:
                details = QgsProcessingContext.LayerDetails(style, context.project(), key)
                details.setPostProcessor(StylePostProcessor.create(style))
                context.addLayerToLoadOnCompletion(result[key], details)
        feedback.pushInfo(f"stages {', '.join(manifest['stages'])}; layout in {gpkg}")
        return result
