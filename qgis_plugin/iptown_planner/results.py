"""From a study's outputs to QGIS layers, styled.

The engine lists a run's loadable layers (``OUTPUT_LAYERS``: one object per layer with
``source``, ``name``, ``provider`` "ogr"/"gdal", ``stage``, ``kind``, ``style_key``); this
module only turns them into layers. Used by "Run whole scenario" (layers load when the
algorithm completes) and by the planning panel (a layer group per run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from qgis.core import (
    QgsLayerTreeGroup,
    QgsMapLayer,
    QgsProcessingContext,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
    QgsWkbTypes,
)

from .styling import StylePostProcessor, style_layer


def make_layer(item: Mapping[str, Any]) -> QgsMapLayer:
    """A QGIS layer for one output (not yet added to a project)."""
    if item.get("provider") == "gdal":
        return QgsRasterLayer(str(item["source"]), str(item["name"]), "gdal")
    return QgsVectorLayer(str(item["source"]), str(item["name"]), "ogr")


def _draw_order(layer: QgsMapLayer) -> int:
    """Rasters at the bottom, then polygons, lines, points on top."""
    if isinstance(layer, QgsRasterLayer):
        return 0
    if isinstance(layer, QgsVectorLayer):
        return {QgsWkbTypes.PolygonGeometry: 1, QgsWkbTypes.LineGeometry: 2,
                QgsWkbTypes.PointGeometry: 3}.get(layer.geometryType(), 4)
    return 5


def load_into_project(items: Iterable[Mapping[str, Any]], *, group_name: str,
                      project: QgsProject | None = None) -> list[QgsMapLayer]:
    """Load a run's layers into ``project`` in a new group at the top, styled; return them."""
    project = project or QgsProject.instance()
    layers = []
    for item in items:
        layer = make_layer(item)
        if not layer.isValid():
            continue
        style_layer(layer, str(item.get("style_key") or "") or None)
        layers.append(layer)
    layers.sort(key=_draw_order, reverse=True)  # first = top of the legend
    root = project.layerTreeRoot()
    group: QgsLayerTreeGroup = root.insertGroup(0, group_name)
    for layer in layers:
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    return layers


def load_on_completion(items: Iterable[Mapping[str, Any]], context: QgsProcessingContext) -> list[str]:
    """Ask Processing to load a run's layers (styled) when the algorithm completes."""
    sources = []
    for item in items:
        name = str(item["name"])
        details = QgsProcessingContext.LayerDetails(name, context.project(), name)
        details.setPostProcessor(StylePostProcessor.create(str(item.get("style_key") or "") or None))
        context.addLayerToLoadOnCompletion(str(item["source"]), details)
        sources.append(str(item["source"]))
    return sources
