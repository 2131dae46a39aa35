"""Zoning algorithms: optimise a "one body, two wings" layout on cells, and lay out a whole
study area around a site (iptown_gis.zoning)."""

from __future__ import annotations

from typing import Any, ClassVar

from qgis.core import (
    QgsProcessing,
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

from .base import IptownAlgorithm, tr
from .params import advanced, enum, number

METHODS = ["auto", "exact", "heuristic"]
MEASURES = ["cells", "km²"]


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

    STYLES: ClassVar[dict[str, str]] = {"OUTPUT_DISTRICTS": "districts", "OUTPUT_MODULES": "modules",
                                        "OUTPUT_CELLS": "cells"}

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

    STYLES: ClassVar[dict[str, str]] = {"DISTRICTS": "districts", "MODULES_LAYER": "modules", "CELLS": "cells"}

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
        self.addParameter(QgsProcessingParameterFile(
            self.SCENARIO, tr("Scenario file (empty: the bundled Anhui study)"),
            behavior=QgsProcessingParameterFile.File, extension="toml", optional=True))
        self.addParameter(QgsProcessingParameterPoint(self.SITE, tr("Site (empty: the scenario's)"), optional=True))
        self.addParameter(number(self.RADIUS, "Radius (m)", None, minimum=1.0))
        self.addParameter(number(self.CELL_SIZE, "Cell size (m)", None, minimum=1.0))
        self.addParameter(number(self.BODY_KM2, "Body (km²)", None, minimum=0.0001))
        self.addParameter(number(self.WING_EAST_KM2, "East wing (km²)", None, minimum=0.0001))
        self.addParameter(number(self.WING_WEST_KM2, "West wing (km²)", None, minimum=0.0001))
        self.addParameter(enum(self.METHOD, "Method", METHODS, 0))
        self.addParameter(number(self.TIME_LIMIT, "Time limit (s)", None, minimum=0.1))
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
