"""Zoning algorithms with processing.run: a study-area layout around Hefei's seat, then the
district optimiser on its cells, checked against the library; outputs load styled."""

from __future__ import annotations

import json

import numpy as np
import processing
import pytest
from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject, QgsVectorLayer

SMALL = {"RADIUS": 3000, "CELL_SIZE": 300, "BODY_KM2": 2.5, "WING_EAST_KM2": 1.5, "WING_WEST_KM2": 1.5,
         "METHOD": 2, "TIME_LIMIT": 8, "MODULES": True}


@pytest.fixture(scope="module")
def layout(registry, tmp_path_factory):
    out = tmp_path_factory.mktemp("layout")
    # Hefei's seat (117.227, 31.821) given in WGS84 as a map point
    res = processing.run("iptown:studyarealayout", {**SMALL, "SITE": "117.2272,31.8206 [EPSG:4326]",
                                                    "OUTPUT_FOLDER": str(out)})
    return res, out


def test_study_area_layout_writes_a_checked_layout(layout):
    res, out = layout
    summary = json.loads((out / "zoning" / "summary.json").read_text())
    assert summary["site"]["lon"] == pytest.approx(117.2272, abs=1e-6)
    districts = QgsVectorLayer(res["DISTRICTS"], "d", "ogr")
    modules = QgsVectorLayer(res["MODULES_LAYER"], "m", "ogr")
    assert districts.isValid()
    assert modules.isValid()
    assert {f["district"] for f in districts.getFeatures()} == {"body", "wing_east", "wing_west"}
    assert modules.featureCount() == 7
    assert districts.crs().authid() == "EPSG:4548"
    areas = {f["district"]: f["area_km2"] for f in districts.getFeatures()}
    for name, target in (("body", 2.5), ("wing_east", 1.5), ("wing_west", 1.5)):
        assert areas[name] == pytest.approx(target, rel=0.05 + 0.09 * 0.09 / target)  # ±5 % (+ one cell)
    east = districts.getFeatures("\"district\" = 'wing_east'").__next__().geometry().centroid().asPoint().x()
    west = districts.getFeatures("\"district\" = 'wing_west'").__next__().geometry().centroid().asPoint().x()
    assert east > west
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"] == ["zoning"]


def test_zoning_optimise_matches_library(layout, tmp_path):
    from iptown_gis.io.vector import read_vector
    from iptown_gis.zoning import ZoningModel, cells_from_polygons

    res, out = layout
    cells_uri = res["CELLS"]
    params = {"CELLS": cells_uri, "SUIT_BODY": "score_body", "SUIT_EAST": "score_wing_east",
              "SUIT_WEST": "score_wing_west", "EXCLUDE": "excluded",
              "LARGEST_COMPONENT": True, "MEASURE": 0, "BODY": 20, "WING_EAST": 12,
              "WING_WEST": 12, "TOLERANCE": 0.1, "METHOD": 2, "TIME_LIMIT": 30, "SEED": 5, "MODULES": True,
              "OUTPUT_DISTRICTS": str(tmp_path / "d.gpkg"), "OUTPUT_MODULES": str(tmp_path / "m.gpkg")}
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    got = processing.run("iptown:zoningoptimise", params, context=context, feedback=QgsProcessingFeedback())
    d = QgsVectorLayer(got["OUTPUT_DISTRICTS"], "d", "ogr")
    counts = {f["district"]: f["n_cells"] for f in d.getFeatures()}
    assert set(counts) == {"body", "wing_east", "wing_west"}
    assert 18 <= counts["body"] <= 22
    assert QgsVectorLayer(got["OUTPUT_MODULES"], "m", "ogr").featureCount() == 7
    gdf = read_vector(str(out / "zoning" / "layout.gpkg"), layer="cells")
    cells = cells_from_polygons(gdf, exclude="excluded")
    cells.keep_largest_component()
    m = ZoningModel.districts(cells, suit_body="score_body",
                              suit_east="score_wing_east", suit_west="score_wing_west", body=20, wing_east=12,
                              wing_west=12, tolerance=0.1).solve(method="heuristic", time_limit=30, seed=5)
    assert got["OBJECTIVE"] == pytest.approx(m.objective_, rel=1e-9)
    assert got["STATUS"] == m.status_
    assert np.isfinite(got["GAP"])
    # the outputs are set to load with the library's fixed styles
    assert context.willLoadLayerOnCompletion(got["OUTPUT_DISTRICTS"])
    details = context.layerToLoadOnCompletionDetails(got["OUTPUT_DISTRICTS"])
    assert details.postProcessor() is not None
