"""The planning panel end to end: a study assembled from the panel's choices runs in a
QgsTask, loads styled results, compares runs, cancels within two seconds; the styled layout
renders to a PNG (the picture kept in docs/qgis_layout.png)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import processing
import pytest
import tomllib
from conftest import GPKG, ROOT, SAMPLE
from qgis.core import (
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsLayerTreeLayer,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QSize
from qgis.PyQt.QtGui import QColor


def wait_for(task, timeout: float = 240.0) -> None:
    end = time.time() + timeout
    while not task.done and time.time() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)
    assert task.done, f"task did not finish in {timeout} s"


@pytest.fixture(scope="module")
def base_scenario(tmp_path_factory, plugin):
    """The bundled study, reduced to network + NEG (baseline) + a small zoning layout."""
    from iptown_planner.study import toml_dumps

    data = tomllib.loads((SAMPLE / "scenario.toml").read_text(encoding="utf-8"))
    for k in ("surfaces", "sites", "report"):
        data.pop(k, None)
    data["neg"]["scenarios"] = [{"name": "baseline"}]
    data["neg"]["bifurcation_taus"] = []
    data["zoning"].update(radius_m=3000, cell_size_m=300, time_limit=20, method="heuristic", body_km2=2.5,
                          wing_east_km2=1.5, wing_west_km2=1.5)
    for name, spec in list(data["inputs"].items()):
        if isinstance(spec, str):
            path, _, layer = spec.partition(":")
            spec = {"path": path, **({"layer": layer} if layer else {})}
        spec["path"] = str(SAMPLE / spec["path"])
        data["inputs"][name] = spec
    path = tmp_path_factory.mktemp("base") / "small.toml"
    path.write_text(toml_dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def panel(plugin, base_scenario, tmp_path_factory):
    import qgis.utils

    dock = qgis.utils.plugins["iptown_planner"].dock  # the live instance (tests may reload the plugin)
    dock.scenario_file.setFilePath(str(base_scenario))
    dock.out_dir.setFilePath(str(tmp_path_factory.mktemp("runs")))
    return dock


def test_panel_reads_the_scenario(panel):
    assert panel.scalars["sigma"].isEnabled()
    assert panel.scalars["sigma"].value() == 5.0
    assert panel.scalars["tau"].value() == pytest.approx(0.006)
    assert panel.tables["district_sizes"].rowCount() == 3
    assert not panel.tables["weights"].isEnabled()  # the reduced study has no [sites]
    params = panel.parameters()
    assert params["zoning.body_km2"] == 2.5
    assert "sites.criteria" not in params
    assert not any(k.startswith("surfaces.") for k in params)


def test_toml_writer_round_trips_the_bundled_study():
    from iptown_planner.study import toml_dumps

    data = tomllib.loads((SAMPLE / "scenario.toml").read_text(encoding="utf-8"))
    assert tomllib.loads(toml_dumps(data)) == data


@pytest.fixture(scope="module")
def first_run(panel):
    project = QgsProject.instance()
    project.clear()
    roads = QgsVectorLayer(f"{GPKG}|layername=roads", "my roads", "ogr")
    project.addMapLayer(roads)
    panel.layer_boxes["roads"].setLayer(roads)
    panel.run_name.setText("baseline")
    task = panel.start_run()
    assert task is not None
    assert not panel.run_button.isEnabled()
    assert panel.cancel_button.isEnabled()
    wait_for(task)
    panel.layer_boxes["roads"].setLayer(None)
    return task, panel.runs[-1]


def test_run_loads_styled_results(first_run, panel):
    task, record = first_run
    assert record.status == "done", panel.status.text()
    assert task.error is None
    # the picked roads layer went through the bridge into the run's inputs
    scen = tomllib.loads((record.run_dir / "scenario.toml").read_text(encoding="utf-8"))
    assert scen["inputs"]["roads"]["path"].endswith("inputs.gpkg")
    assert record.manifest["stages"] == ["network", "neg", "zoning"]
    group = QgsProject.instance().layerTreeRoot().findGroup("IP Town Planner: baseline")
    assert group is not None
    names = {layer.name(): layer for layer in record.layers}
    assert {"districts", "modules", "cells", "edges", "nodes"} <= set(names)
    districts, modules = names["districts"], names["modules"]
    for layer, field, n in ((districts, "district", 3), (modules, "module", 7)):
        r = layer.renderer()
        assert isinstance(r, QgsCategorizedSymbolRenderer)
        assert r.classAttribute() == field
        assert len(r.categories()) == n
        assert layer.labelsEnabled()
    assert panel.progress.value() == 100
    assert panel.run_button.isEnabled()


def test_compare_scenarios(first_run, panel):
    panel.scalars["sigma"].setValue(4.0)
    panel.run_name.setText("sigma 4")
    task = panel.start_run(stages=["network", "neg"])
    wait_for(task)
    panel.scalars["sigma"].setValue(5.0)
    assert panel.runs[-1].status == "done", panel.status.text()
    keys, rows = panel.comparison()
    assert panel.compare.rowCount() == len(rows) >= 2
    col = keys.index("neg.sigma")
    assert rows[-2][col] == "5"
    assert rows[-1][col] == "4"
    share = keys.index("NEG core share")
    assert rows[-2][share] != rows[-1][share]  # sigma changes the long-run equilibrium
    assert "layout objective" in keys


def test_cancel_stops_within_two_seconds(panel, first_run):
    panel.run_name.setText("to cancel")
    task = panel.start_run()
    end = time.time() + 120
    while task.progress() < 45 and not task.done and time.time() < end:
        QCoreApplication.processEvents()
        time.sleep(0.02)
    assert not task.done, "the run finished before it could be cancelled"
    panel.cancel_run()
    wait_for(task, 30)
    assert task.cancelled
    assert task.error is None
    delay = task.stopped_at - task.cancel_requested_at
    assert delay < 2.0, f"cancel took {delay:.2f} s"
    assert panel.runs[-1].status == "cancelled"
    assert QgsProject.instance().layerTreeRoot().findGroup("IP Town Planner: to cancel") is None
    assert panel.run_button.isEnabled()


def test_library_error_goes_to_the_panel_not_a_crash(panel, base_scenario, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nname = "x"\n[inputs]\nroads = "missing.gpkg:roads"\n[network]\nroads = "roads"\n')
    panel.scenario_file.setFilePath(str(bad))
    try:
        assert panel.start_run() is None
        assert "does not exist" in panel.status.text()
    finally:
        panel.scenario_file.setFilePath(str(base_scenario))


def _render(layers, extent: QgsRectangle, path: Path, size=(1000, 760)) -> object:
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[0].crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(*size))
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setFlag(QgsMapSettings.Antialiasing, True)
    settings.setFlag(QgsMapSettings.DrawLabeling, True)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    assert image.save(str(path), "PNG")
    settings.labels = job.takeLabelingResults()  # what the labelling engine placed
    return image, settings


def test_render_styled_layout_to_png(first_run, tmp_path):
    _task, record = first_run
    names = {layer.name(): layer for layer in record.layers}
    districts, modules, edges = names["districts"], names["modules"], names["edges"]
    extent = QgsRectangle(districts.extent())
    extent.scale(1.4)
    out = tmp_path / "qgis_layout.png"
    image, settings = _render([modules, districts, edges], extent, out)
    assert out.stat().st_size > 10_000
    # every module and district is labelled with its legend text (the QML's label expression)
    placed = {(lbl.layerID, lbl.labelText) for lbl in settings.labels.allLabels()}
    for layer, field in ((modules, "module"), (districts, "district")):
        legend = {c.value(): c.label() for c in layer.renderer().categories()}
        want = {(layer.id(), legend[f[field]]) for f in layer.getFeatures()}
        assert len(want) == layer.featureCount() >= 3
        assert want <= placed, want - placed
    assert (modules.id(), "IP management") in placed
    # roads under the plan: thin grey context lines
    assert edges.renderer().symbol().color().name() == "#969696"
    # each wing is drawn in its fixed QML colour (alpha 0.85 over white)
    m2p = settings.mapToPixel()
    for feat in districts.getFeatures():
        if feat["district"] == "body":
            continue  # covered by the modules
        cat = next(c for c in districts.renderer().categories() if c.value() == feat["district"])
        c = cat.symbol().color()
        alpha = cat.symbol().opacity()
        want = [round(alpha * v + (1 - alpha) * 255) for v in (c.red(), c.green(), c.blue())]
        geom = feat.geometry()
        bbox = geom.boundingBox()
        hits = total = 0
        for i in range(40):
            for j in range(40):
                x = bbox.xMinimum() + (i + 0.5) / 40 * bbox.width()
                y = bbox.yMinimum() + (j + 0.5) / 40 * bbox.height()
                if not geom.contains(QgsPointXY(x, y)):
                    continue
                px = m2p.transform(x, y)
                col = QColor(image.pixel(int(px.x()), int(px.y())))
                total += 1
                hits += all(abs(a - b) <= 12 for a, b in zip((col.red(), col.green(), col.blue()), want))
        assert total > 50
        assert hits / total > 0.5, (feat["district"], hits, total, want)
    if os.environ.get("IPTOWN_WRITE_DOCS") == "1":
        shutil.copyfile(out, ROOT / "docs" / "qgis_layout.png")


def test_surface_loads_with_colour_ramp_and_legend(registry, tmp_path):
    from iptown_planner.results import load_into_project

    out = tmp_path / "run"
    (out / "surfaces").mkdir(parents=True)
    processing.run("iptown:marketpotential", {
        "BOUNDARY": f"{GPKG}|layername=province", "CELL": 10000, "METRIC_CRS": "EPSG:4548",
        "MASSES": f"{GPKG}|layername=seats", "MASS_FIELD": "pop_2020", "MODE": 0,
        "OUTPUT": str(out / "surfaces" / "market_potential.tif")})
    manifest = {"outputs": [{"path": "surfaces/market_potential.tif", "stage": "surfaces", "kind": "raster"}]}
    project = QgsProject.instance()
    layers = load_into_project(manifest, out, group_name="surfaces test", project=project)
    assert len(layers) == 1
    layer = layers[0]
    assert isinstance(layer, QgsRasterLayer)
    assert layer.crs().authid() == "EPSG:4548"
    assert layer.renderer().type() == "singlebandpseudocolor"
    items = layer.renderer().shader().rasterShaderFunction().colorRampItemList()
    assert len(items) >= 5
    assert items[0].value < items[-1].value
    nodes = layer.legend().createLayerTreeModelLegendNodes(QgsLayerTreeLayer(layer))
    assert len(nodes) >= 1
    image, _ = _render([layer], layer.extent(), tmp_path / "mp.png", size=(300, 300))
    colours = {image.pixel(x, y) for x in range(0, 300, 10) for y in range(0, 300, 10)}
    assert len(colours) > 8  # a ramp, not a flat fill
    project.removeMapLayer(layer.id())
    assert QgsApplication.instance() is not None
