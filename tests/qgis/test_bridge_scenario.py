"""The bridge (QGIS layers <-> GeoDataFrames, CRS from the layer) and the "Run whole scenario"
algorithm."""

from __future__ import annotations

import json

import numpy as np
import processing
import pytest
import tomllib
from conftest import GPKG, SAMPLE
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)


def test_layer_to_gdf_matches_the_library_reader(plugin):
    from iptown_planner import bridge

    from iptown_gis.io.vector import read_vector

    layer = QgsVectorLayer(f"{GPKG}|layername=seats", "seats", "ogr")
    gdf = bridge.source_to_gdf(layer, crs="EPSG:4548")
    want = read_vector(f"{GPKG}:seats", crs="EPSG:4548")
    assert len(gdf) == len(want) == 120
    assert gdf.crs.to_epsg() == 4548
    assert list(gdf["adcode"]) == list(want["adcode"])
    np.testing.assert_allclose(gdf.geometry.x, want.geometry.x, atol=1e-6)
    # degrees without a chosen CRS: projected to the UTM zone of the extent, as the library does
    auto = bridge.source_to_gdf(layer)
    assert auto.crs.to_epsg() == read_vector(f"{GPKG}:seats").crs.to_epsg() == 32650
    # metric=False keeps the layer's own CRS
    assert bridge.source_to_gdf(layer, metric=False).crs.to_epsg() == 4326


def test_gdf_round_trip_through_a_memory_layer(plugin):
    from iptown_planner import bridge

    layer = QgsVectorLayer(f"{GPKG}|layername=counties", "counties", "ogr")
    gdf = bridge.source_to_gdf(layer, metric=False)
    mem = bridge.gdf_to_memory_layer(gdf, "copy")
    assert mem.featureCount() == 104
    assert mem.crs().authid() == "EPSG:4326"
    back = bridge.source_to_gdf(mem, metric=False)
    assert list(back["adcode"]) == list(gdf["adcode"])
    import shapely

    assert shapely.equals_exact(back.geometry.values, gdf.geometry.values, tolerance=1e-9).all()
    assert back["pop_2020"].dtype.kind in "if"


def test_layer_without_crs_and_missing_field_are_typed_errors(plugin):
    from iptown_planner import bridge

    from iptown_gis.errors import ColumnError, CRSError

    mem = QgsVectorLayer("Point", "no crs", "memory")
    mem.setCrs(QgsCoordinateReferenceSystem())  # e.g. a shapefile without .prj
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(117.2, 31.8)))
    mem.dataProvider().addFeatures([f])
    assert not mem.crs().isValid()
    with pytest.raises(CRSError, match="has no CRS"):
        bridge.source_to_gdf(mem, name="no crs")
    seats = QgsVectorLayer(f"{GPKG}|layername=seats", "seats", "ogr")
    with pytest.raises(ColumnError, match="no field 'nope'"):
        bridge.source_to_gdf(seats, fields=["nope"])
    assert bridge.crs_to_qgis("EPSG:4548") == QgsCoordinateReferenceSystem("EPSG:4548")


def test_library_error_becomes_processing_exception(registry):
    with pytest.raises(QgsProcessingException, match="cost bands"):
        processing.run("iptown:isochrones", {"ROADS": f"{GPKG}|layername=roads", "BANDS": "15, soon",
                                             "CENTRES": f"{GPKG}|layername=seats", "OUTPUT": "TEMPORARY_OUTPUT"})


def test_run_whole_scenario_loads_outputs(registry, tmp_path, plugin):
    from iptown_planner.study import toml_dumps

    data = tomllib.loads((SAMPLE / "scenario.toml").read_text(encoding="utf-8"))
    keep = {"study", "inputs", "network"}
    data = {k: v for k, v in data.items() if k in keep}
    for name, spec in list(data["inputs"].items()):
        if isinstance(spec, str):
            path, _, layer = spec.partition(":")
            spec = {"path": path, **({"layer": layer} if layer else {})}
        spec["path"] = str(SAMPLE / spec["path"])
        data["inputs"][name] = spec
    scen = tmp_path / "network_only.toml"
    scen.write_text(toml_dumps(data), encoding="utf-8")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    res = processing.run("iptown:runscenario", {"SCENARIO": str(scen), "OUTPUT_FOLDER": str(tmp_path / "out")},
                         context=context, feedback=QgsProcessingFeedback())
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert res["MANIFEST"] == str(tmp_path / "out" / "manifest.json")
    assert manifest["stages"] == ["network"]
    edges = [s for s in res["OUTPUT_LAYERS"] if s.endswith("layername=edges")]
    assert len(edges) == 1
    assert context.willLoadLayerOnCompletion(edges[0])
    assert QgsVectorLayer(edges[0], "e", "ogr").featureCount() > 10_000
    with pytest.raises(QgsProcessingException, match=r"does not exist"):
        processing.run("iptown:runscenario", {"SCENARIO": str(tmp_path / "nope.toml"),
                                              "OUTPUT_FOLDER": str(tmp_path / "out2")})
