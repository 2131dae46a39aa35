"""From a study's manifest to QGIS layers: which files to load, loading them styled.

Used by the "Run whole scenario" algorithm (layers load when the algorithm completes) and by
the planning panel (layers load into a group per run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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

VECTOR_SUFFIXES = {".gpkg", ".geojson", ".shp", ".fgb"}
RASTER_SUFFIXES = {".tif", ".tiff"}


@dataclass(frozen=True)
class OutputLayer:
    """One loadable layer among a study's outputs."""

    source: str      # QGIS data source (``path`` or ``path|layername=x``)
    name: str        # layer name in the project
    provider: str    # "ogr" or "gdal"
    stage: str
    kind: str        # the manifest's kind, used to pick a style
    style_key: str   # the file stem or GeoPackage layer name (for the QML lookup)


def output_layers(manifest: dict[str, Any], out_dir: str | Path) -> list[OutputLayer]:
    """The vector and raster layers a manifest lists (GeoPackages expand to their layers)."""
    out = []
    base = Path(out_dir)
    written = {str(i["path"]) for i in manifest.get("outputs", [])}
    for item in manifest.get("outputs", []):
        path = base / item["path"]
        suffix = path.suffix.lower()
        stage = str(item.get("stage", ""))
        kind = str(item.get("kind", ""))
        if not path.is_file():
            continue
        if suffix in RASTER_SUFFIXES:
            out.append(OutputLayer(str(path), f"{path.stem}", "gdal", stage, kind, path.stem))
        elif suffix in (".json", ".geojson") and str(Path(item["path"]).with_suffix(".gpkg")) in written:
            continue  # the same layers in WGS84 (GeoJSON for the web): the GeoPackage is loaded
        elif suffix in VECTOR_SUFFIXES:
            names: list[str | None] = [None]
            if suffix == ".gpkg":
                from iptown_gis.io.vector import list_layers

                names = list(list_layers(path))
            for lname in names:
                if lname is None:
                    out.append(OutputLayer(str(path), path.stem, "ogr", stage, kind, path.stem))
                else:
                    src = f"{path}|layername={lname}"
                    label = lname if len(names) > 1 else path.stem
                    out.append(OutputLayer(src, label, "ogr", stage, kind, lname))
    return out


def make_layer(item: OutputLayer) -> QgsMapLayer:
    """A QGIS layer for an output (not yet added to a project)."""
    if item.provider == "gdal":
        return QgsRasterLayer(item.source, item.name, "gdal")
    return QgsVectorLayer(item.source, item.name, "ogr")


def _draw_order(layer: QgsMapLayer) -> int:
    """Rasters at the bottom, then polygons, lines, points on top."""
    if isinstance(layer, QgsRasterLayer):
        return 0
    if isinstance(layer, QgsVectorLayer):
        return {QgsWkbTypes.PolygonGeometry: 1, QgsWkbTypes.LineGeometry: 2,
                QgsWkbTypes.PointGeometry: 3}.get(layer.geometryType(), 4)
    return 5


def load_into_project(manifest: dict[str, Any], out_dir: str | Path, *, group_name: str,
                      project: QgsProject | None = None) -> list[QgsMapLayer]:
    """Load a run's outputs into ``project`` in a new group, styled; return the layers."""
    project = project or QgsProject.instance()
    layers = []
    for item in output_layers(manifest, out_dir):
        layer = make_layer(item)
        if not layer.isValid():
            continue
        style_layer(layer, item.style_key)
        layers.append(layer)
    layers.sort(key=_draw_order, reverse=True)  # first = top of the legend
    root = project.layerTreeRoot()
    group: QgsLayerTreeGroup = root.insertGroup(0, group_name)
    for layer in layers:
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    return layers


def load_outputs_on_completion(manifest: dict[str, Any], out_dir: str | Path,
                               context: QgsProcessingContext) -> list[str]:
    """Ask Processing to load a run's outputs (styled) when the algorithm completes."""
    sources = []
    for item in output_layers(manifest, out_dir):
        details = QgsProcessingContext.LayerDetails(item.name, context.project(), item.name)
        details.setPostProcessor(StylePostProcessor.create(item.style_key))
        context.addLayerToLoadOnCompletion(item.source, details)
        sources.append(item.source)
    return sources
