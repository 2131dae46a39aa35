"""From a study's manifest to the layers a GIS front loads: which files, under which names,
with which style.

The QGIS plugin loads each item as ``QgsVectorLayer(source, name, "ogr")`` or
``QgsRasterLayer(source, name, "gdal")`` and styles it by ``style_key`` (the fixed QML
styles of the districts and modules, a colour ramp for surfaces).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from iptown_gis.study.labels import layer_title

__all__ = ["RASTER_SUFFIXES", "VECTOR_SUFFIXES", "OutputLayer", "output_layers"]

#: Output files loaded as vector layers (GeoPackages expand to one item per layer).
VECTOR_SUFFIXES = frozenset({".gpkg", ".geojson", ".shp", ".fgb"})
#: Output files loaded as raster layers.
RASTER_SUFFIXES = frozenset({".tif", ".tiff"})


class OutputLayer(TypedDict):
    """One loadable layer among a study's outputs."""

    source: str      #: data source: ``path`` or ``path|layername=x`` (the QGIS OGR syntax)
    name: str        #: layer name in the project (the planner's title, :mod:`iptown_gis.study.labels`)
    provider: str    #: ``"ogr"`` or ``"gdal"``
    stage: str       #: the stage that wrote it
    kind: str        #: the manifest's kind (``vector``, ``raster``...)
    style_key: str   #: the file stem or GeoPackage layer name (for the style lookup)


def _item(source: str, name: str, provider: str, stage: str, kind: str, style_key: str) -> OutputLayer:
    return {"source": source, "name": name, "provider": provider, "stage": stage, "kind": kind,
            "style_key": style_key}


def output_layers(manifest: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> list[OutputLayer]:
    """The vector and raster layers a run's manifest lists, in manifest order.

    Rules: files that do not exist are skipped; a layer the label catalogue knows
    (:func:`iptown_gis.study.labels.layer_title`, e.g. ``Road network: roads``) is named by it;
    others: GeoTIFFs are named after the
    file; a GeoPackage gives one item per layer (named after the layer when it has several,
    after the file when it has one); a GeoJSON written beside a GeoPackage of the same name
    (the web copy in WGS84) is skipped; Shapefiles, FlatGeobuf and other GeoJSON files are
    one vector layer named after the file. Tables, charts and JSON files are not layers.

    Parameters
    ----------
    manifest
        The manifest :func:`iptown_gis.pipeline.run_scenario` returns (or ``manifest.json``).
    out_dir
        The run's output folder (manifest paths are relative to it).

    Returns
    -------
    list of OutputLayer
        Dictionaries with ``source``, ``name``, ``provider`` (``"ogr"`` / ``"gdal"``),
        ``stage``, ``kind`` and ``style_key``.
    """
    from iptown_gis.io.vector import list_layers

    out: list[OutputLayer] = []
    base = Path(out_dir)
    items = list(manifest.get("outputs", []))
    written = {str(i["path"]) for i in items}
    for item in items:
        path = base / item["path"]
        suffix = path.suffix.lower()
        stage = str(item.get("stage", ""))
        kind = str(item.get("kind", ""))
        if not path.is_file():
            continue
        if suffix in RASTER_SUFFIXES:
            out.append(_item(str(path), layer_title(stage, path, None) or path.stem, "gdal", stage, kind, path.stem))
        elif suffix in (".json", ".geojson") and str(Path(item["path"]).with_suffix(".gpkg")) in written:
            continue  # the same layers in WGS84 (GeoJSON for the web): the GeoPackage is loaded
        elif suffix in VECTOR_SUFFIXES:
            if suffix != ".gpkg":
                out.append(_item(str(path), layer_title(stage, path, None) or path.stem, "ogr", stage, kind,
                                 path.stem))
                continue
            names = list_layers(path)
            town = re.fullmatch(r"town_(\d+)", path.parent.name)
            for lname in names:
                label = layer_title(stage, path, lname) or (lname if len(names) > 1 else path.stem)
                if town:
                    label = f"Town {town.group(1)}: {label.split(': ', 1)[-1]}"
                out.append(_item(f"{path}|layername={lname}", label, "ogr", stage, kind, lname))
    return out
