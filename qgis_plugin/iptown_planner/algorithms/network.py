"""Network algorithms: build network, OD cost matrix, isochrones (iptown_gis.network)."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterString,
)

from .base import IptownAlgorithm, tr
from .params import advanced, enum, number

LENGTH_UNITS = ["km", "m", "mi", "ft"]
WEIGHTS = ["time", "length"]
SNAPS = ["node", "edge"]


class NetworkInputs(IptownAlgorithm):
    """Shared road-network parameters: every network algorithm builds its graph the same way
    (:func:`iptown_gis.network.build_network`), so results agree across algorithms."""

    GROUP_ID = "network"
    ROADS = "ROADS"
    DEFAULT_SPEED = "DEFAULT_SPEED"
    CLASS_FIELD = "CLASS_FIELD"
    SPEED_FIELD = "SPEED_FIELD"
    LENGTH_FIELD = "LENGTH_FIELD"
    LENGTH_UNIT = "LENGTH_UNIT"
    ONEWAY_FIELD = "ONEWAY_FIELD"
    SNAP_TOLERANCE = "SNAP_TOLERANCE"
    SPLIT_CROSSINGS = "SPLIT_CROSSINGS"

    NETWORK_HELP = (
        "\n\nRoad network: lines from any vector layer. Speeds come from the speed field, else "
        "the road class field (OSM highway classes or Chinese classes such as 高速, 国道, 省道), "
        "else the default speed. Lengths come from the geometry unless a length field is given. "
        "A layer in degrees is projected to the metric CRS (or its UTM zone)."
    )

    def add_network_parameters(self) -> None:
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ROADS, tr("Road lines"), [QgsProcessing.TypeVectorLine]))
        self.addParameter(number(self.DEFAULT_SPEED, "Default speed (km/h) of roads without class or speed",
                                 None, minimum=0.1))
        for key, label in ((self.CLASS_FIELD, "Road class field"), (self.SPEED_FIELD, "Speed field (km/h)"),
                           (self.LENGTH_FIELD, "Length field"), (self.ONEWAY_FIELD, "One-way field")):
            self.addParameter(advanced(QgsProcessingParameterField(
                key, tr(label), parentLayerParameterName=self.ROADS, optional=True)))
        self.addParameter(enum(self.LENGTH_UNIT, "Unit of the length field", LENGTH_UNITS, 0, is_advanced=True))
        self.addParameter(number(self.SNAP_TOLERANCE, "Join line ends closer than (m)", 1.0, minimum=0.0,
                                 is_advanced=True))
        self.addParameter(advanced(QgsProcessingParameterBoolean(
            self.SPLIT_CROSSINGS, tr("Split lines at shared interior vertices"), defaultValue=False)))
        self.add_metric_crs_parameter()

class BuildNetworkAlgorithm(NetworkInputs):
    RAILWAYS = "RAILWAYS"
    STATIONS = "STATIONS"
    RAIL_SPEED = "RAIL_SPEED"
    TRANSFER_PENALTY = "TRANSFER_PENALTY"
    OUTPUT_EDGES = "OUTPUT_EDGES"
    OUTPUT_NODES = "OUTPUT_NODES"

    NAME = "buildnetwork"
    DISPLAY = "Build network"
    HELP = (
        "Builds a routable transport network from road lines, optionally with railways joined "
        "to the roads at stations, and writes its edges (length_m, time_min, mode) and nodes "
        "(component: 0 = the largest connected part) so gaps and islands can be inspected."
        + NetworkInputs.NETWORK_HELP
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_network_parameters()
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.RAILWAYS, tr("Railway lines (optional)"), [QgsProcessing.TypeVectorLine], optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.STATIONS, tr("Stations joining road and rail (needed with railways)"),
            [QgsProcessing.TypeVectorPoint], optional=True))
        self.addParameter(number(self.RAIL_SPEED, "Rail speed (km/h)", None, minimum=0.1,
                                 is_advanced=True))
        self.addParameter(number(self.TRANSFER_PENALTY, "Road-rail transfer penalty (min)", 15.0, minimum=0.0,
                                 is_advanced=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_EDGES, tr("Network edges"), QgsProcessing.TypeVectorLine))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT_NODES, tr("Network nodes"), QgsProcessing.TypeVectorPoint))

class ODMatrixAlgorithm(NetworkInputs):
    ORIGINS = "ORIGINS"
    DESTINATIONS = "DESTINATIONS"
    ID_FIELD = "ID_FIELD"
    WEIGHT = "WEIGHT"
    SNAP = "SNAP"
    ACCESS_SPEED = "ACCESS_SPEED"
    MAX_SNAP_DISTANCE = "MAX_SNAP_DISTANCE"
    CUTOFF = "CUTOFF"
    LARGEST_COMPONENT = "LARGEST_COMPONENT"
    OUTPUT = "OUTPUT"

    NAME = "odmatrix"
    DISPLAY = "OD cost matrix"
    HELP = (
        "Travel cost between every origin and every destination over the road network, access "
        "legs included: straight leg to the network at the access speed, shortest path, straight "
        "leg to the destination. Weight 'time' gives minutes, 'length' metres. Pairs that cannot "
        "be reached (or cost more than the cutoff) are NULL. Output: a table with origin_id, "
        "destination_id and cost (one row per pair)."
        + NetworkInputs.NETWORK_HELP
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_network_parameters()
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ORIGINS, tr("Origins"), [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.DESTINATIONS, tr("Destinations (empty: the origins)"), [QgsProcessing.TypeVectorPoint],
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.ID_FIELD, tr("Id field (in origins and destinations; empty: feature id)"),
            parentLayerParameterName=self.ORIGINS, optional=True))
        self.addParameter(enum(self.WEIGHT, "Cost", WEIGHTS, 0))
        self.addParameter(enum(self.SNAP, "Snap points to", SNAPS, 0, is_advanced=True))
        self.addParameter(number(self.ACCESS_SPEED, "Access-leg speed (km/h)", None,
                                 minimum=0.1, is_advanced=True))
        self.addParameter(number(self.MAX_SNAP_DISTANCE, "Largest access leg (m)", None,
                                 minimum=0.0, is_advanced=True))
        self.addParameter(number(self.CUTOFF, "Cutoff (largest cost computed; empty: none)", None,
                                 minimum=0.0, optional=True, is_advanced=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.LARGEST_COMPONENT, tr("Use only the largest connected part of the network"), defaultValue=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, tr("OD cost matrix"), QgsProcessing.TypeVector))

class IsochronesAlgorithm(NetworkInputs):
    CENTRES = "CENTRES"
    ID_FIELD = "ID_FIELD"
    BANDS = "BANDS"
    WEIGHT = "WEIGHT"
    BUFFER = "BUFFER"
    ACCESS_SPEED = "ACCESS_SPEED"
    MAX_SNAP_DISTANCE = "MAX_SNAP_DISTANCE"
    OUTPUT = "OUTPUT"

    NAME = "isochrones"
    DISPLAY = "Isochrones"
    HELP = (
        "Service areas: for each centre and each cost band, the area within reach over the road "
        "network (a corridor of the given half-width around the reachable roads). Bands are "
        "minutes for 'time' and metres for 'length', increasing, e.g. 15, 30, 60. Output: one "
        "polygon per centre and band with centre_id, band, unit and area_km2."
        + NetworkInputs.NETWORK_HELP
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_network_parameters()
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.CENTRES, tr("Centres"), [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            self.ID_FIELD, tr("Centre id field (empty: feature id)"), parentLayerParameterName=self.CENTRES,
            optional=True))
        self.addParameter(QgsProcessingParameterString(self.BANDS, tr("Cost bands"), defaultValue="15, 30, 60"))
        self.addParameter(enum(self.WEIGHT, "Cost", WEIGHTS, 0))
        self.addParameter(number(self.BUFFER, "Corridor half-width (m)", 1000.0, minimum=0.0))
        self.addParameter(number(self.ACCESS_SPEED, "Access-leg speed (km/h)", None,
                                 minimum=0.1, is_advanced=True))
        self.addParameter(number(self.MAX_SNAP_DISTANCE, "Largest access leg (m)", None,
                                 minimum=0.0, is_advanced=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, tr("Isochrones"), QgsProcessing.TypeVectorPolygon))
