"""iptown.qgz opened in real QGIS (PyQGIS in a subprocess): every layer valid and styled."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest
from conftest import need  # tests/report/conftest.py

from iptown_gis.errors import DependencyError
from iptown_gis.report import catalogue, collect_run
from iptown_gis.report.qgis_project import find_qgis_python, qml_for, write_qgis_project, write_qml_styles

CHECK = textwrap.dedent("""
    import json, sys
    from qgis.core import QgsApplication, QgsProject
    app = QgsApplication([], False); app.initQgis()
    p = QgsProject.instance()
    ok = p.read(sys.argv[1])
    ext = p.viewSettings().defaultViewExtent()
    out = {"ok": ok, "crs": p.crs().authid(), "layers": [],
           "extent": [ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum()],
           "bookmarks": [b.name() for b in p.bookmarkManager().bookmarks()],
           "tree": [[g.name(), [c.name() for c in g.children()]] for g in p.layerTreeRoot().children()]}
    for lay in p.mapLayers().values():
        r = lay.renderer()
        node = p.layerTreeRoot().findLayer(lay.id())
        fonts = []
        if hasattr(lay, "labeling") and lay.labeling() is not None and lay.labelsEnabled():
            fonts.append(lay.labeling().settings().format().font().family())
        out["layers"].append({"name": lay.name(), "valid": lay.isValid(), "source": lay.source(),
                              "renderer": r.type() if r is not None else None,
                              "n": len(r.categories()) if hasattr(r, "categories") else
                                   (len(r.ranges()) if hasattr(r, "ranges") else None),
                              "labels": [c.label() for c in r.categories()] if hasattr(r, "categories") else
                                        ([x.label() for x in r.ranges()] if hasattr(r, "ranges") else []),
                              "alpha": [c.symbol().color().alpha() for c in r.categories()]
                                       if hasattr(r, "categories") else [],
                              "opacity": lay.opacity() if hasattr(lay, "opacity") else None,
                              "visible": node.itemVisibilityChecked() if node is not None else None,
                              "fonts": fonts})
    print(json.dumps(out)); app.exitQgis()
""")


def test_qgis_project_opens_with_styles(run_dir):
    py = find_qgis_python()
    need(py is not None, "PyQGIS is not installed (apt-get install python3-qgis qgis-providers)")
    items = catalogue(collect_run(run_dir))
    styles = write_qml_styles(items)
    for key in ("market_potential", "hotspots_gistar", "ranked_sites", "layout_districts", "layout_modules"):
        assert styles[key].exists(), key
    qgz = write_qgis_project(items, run_dir / "iptown.qgz", styles=styles, crs="EPSG:4548", title="t",
                             extent=(400_000.0, 3_300_000.0, 700_000.0, 3_800_000.0))
    assert qgz == run_dir / "iptown.qgz"
    assert qgz.read_bytes()[:2] == b"PK"
    # open it in QGIS, from another folder: paths must resolve relative to the project
    moved = run_dir.parent / "moved"
    run_dir.rename(moved)
    r = subprocess.run([py, "-c", CHECK, str(moved / "iptown.qgz")], capture_output=True, text=True, timeout=180,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["ok"]
    assert res["crs"] == "EPSG:4548"
    by_name = {lay["name"]: lay for lay in res["layers"]}
    assert len(by_name) == 6, by_name.keys()
    assert all(lay["valid"] for lay in res["layers"])
    assert all(str(moved) in lay["source"] for lay in res["layers"])
    mp = "Market potential: population reachable over the road network"
    districts, modules = "Town layout: districts (one body, two wings)", "Town layout: the seven modules of the body"
    assert by_name[mp]["renderer"] == "singlebandpseudocolor"
    assert by_name[mp]["visible"] is True
    assert by_name["Gi* hot spots"]["renderer"] == "singlebandpseudocolor"
    assert by_name["Ranked candidate sites"]["renderer"] == "graduatedSymbol"
    assert by_name["Ranked candidate sites"]["n"] == 5
    assert all("score, 1 = best" in lab for lab in by_name["Ranked candidate sites"]["labels"])
    assert by_name[districts]["renderer"] == "categorizedSymbol"
    assert by_name[modules]["renderer"] == "categorizedSymbol"
    assert by_name[modules]["n"] == 7
    # the project opens on the extent it was given (the province), not at 1:1 on nothing
    x0, y0, x1, y1 = res["extent"]
    assert x0 <= 400_000
    assert x1 >= 700_000
    assert y0 <= 3_300_000
    assert y1 >= 3_800_000
    assert (x1 - x0) < 400_000
    # modules drawn above the districts (first in the group = on top)
    tree = dict(res["tree"])
    assert tree["Town layout"].index(modules) < tree["Town layout"].index(districts)
    # labels in the CJK-capable family the setup installs (no "DejaVu LGC Sans")
    from iptown_gis.io.fonts import qgis_font_family

    fonts = {f for lay in res["layers"] for f in lay["fonts"]}
    assert fonts, res["layers"]
    assert fonts <= {qgis_font_family()}, fonts


def test_qgis_project_hot_spots_see_through_and_town_bookmarks(run_dir, sample_gpkg):
    """Hot-spot polygons do not hide the surfaces; each chosen town has a bookmark with its name."""
    py = find_qgis_python()
    need(py is not None, "PyQGIS is not installed (apt-get install python3-qgis qgis-providers)")
    import geopandas as gpd

    from iptown_gis.report.catalogue import Item

    counties = gpd.read_file(sample_gpkg, layer="counties").to_crs("EPSG:4548")
    hot = counties[["adcode", "name", "geometry"]].copy()
    hot["gi_bin"] = [(-3, -1, 0, 0, 1, 2, 3)[i % 7] for i in range(len(hot))]
    hot.to_file(run_dir / "hotspots.gpkg", layer="hotspots", engine="pyogrio")
    ranked = gpd.read_file(run_dir / "sites" / "ranked_sites.gpkg")
    sel = ranked.sort_values("rank").head(3).copy()
    sel.insert(0, "choice", [1, 2, 3])
    sel.to_file(run_dir / "sites" / "selected.gpkg", layer="selected", engine="pyogrio")
    items = [Item(run_dir / "hotspots.gpkg", "hotspots", "surfaces", "vector", "", "hotspots",
                  ["adcode", "name", "gi_bin"], "MultiPolygon", len(hot)),
             Item(run_dir / "sites" / "selected.gpkg", "sites", "sites", "vector", "", "selected",
                  list(sel.columns.drop("geometry")), "Point", 3)]
    qgz = write_qgis_project(items, run_dir / "p.qgz", crs="EPSG:4548", title="t")
    r = subprocess.run([py, "-c", CHECK, str(qgz)], capture_output=True, text=True, timeout=180,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    by_name = {lay["name"]: lay for lay in res["layers"]}
    hs = next(v for k, v in by_name.items() if "hot" in k.lower())
    assert hs["renderer"] == "categorizedSymbol"
    assert hs["opacity"] < 1
    labels = hs["labels"]
    assert hs["alpha"][labels.index("Not significant")] == 0  # unfilled
    assert max(hs["alpha"]) < 255  # semi-transparent
    chosen = by_name["Chosen towns"]
    assert chosen["labels"] == ["Town 1", "Town 2", "Town 3"]
    marks = res["bookmarks"]
    assert len(marks) == 3
    assert marks[0].startswith("Town 1: ")
    top = sel.iloc[0]
    assert top["unit_name"] in marks[0]
    assert str(top["site_id"]) in marks[0]
    # no context layer given: the project opens on the layers' extent
    x0, y0, x1, y1 = res["extent"]
    assert x1 > x0
    assert y1 > y0


def test_qgis_project_from_a_relative_run_folder_keeps_styles(run_dir, monkeypatch, caplog):
    """`iptown run ... --out out` gives relative paths; QGIS runs in a temporary folder and must
    still find every QML style (it used to report "Style not found in database" for each)."""
    py = find_qgis_python()
    need(py is not None, "PyQGIS is not installed (apt-get install python3-qgis qgis-providers)")
    from pathlib import Path

    monkeypatch.chdir(run_dir.parent)
    rel = Path(run_dir.name)
    items = catalogue(collect_run(rel))
    styles = write_qml_styles(items)
    assert not styles["layout_districts"].is_absolute()
    with caplog.at_level("WARNING", logger="iptown_gis.report.qgis_project"):
        qgz = write_qgis_project(items, rel / "iptown.qgz", styles=styles, crs="EPSG:4548", title="t")
    assert qgz is not None
    assert qgz.exists()
    assert not [r for r in caplog.records if "style problems" in r.getMessage()]


def test_stage_style_is_kept(run_dir):
    items = catalogue(collect_run(run_dir))
    own = run_dir / "zoning" / "districts.qml"
    own.write_text("<qgis/>", encoding="utf-8")
    styles = write_qml_styles(items)
    assert styles["layout_districts"] == own
    assert "iptown_gis.report" in styles["layout_modules"].read_text()


def test_qml_without_qgis_and_require(run_dir, monkeypatch):
    items = catalogue(collect_run(run_dir))
    monkeypatch.setenv("IPTOWN_QGIS_PYTHON", "/nonexistent")
    monkeypatch.setattr("iptown_gis.report.qgis_project.find_qgis_python", lambda: None)
    assert write_qgis_project(items, run_dir / "x.qgz") is None
    assert (run_dir / "surfaces" / "market_potential.qml").exists()
    with pytest.raises(DependencyError, match="PyQGIS"):
        write_qgis_project(items, run_dir / "x.qgz", require=True)
    xml = qml_for(next(i for i in items if i.key == "hotspots_gistar"))
    assert 'colorRampType="EXACT"' in xml
    assert "Hot spot, 99% confidence" in xml


RENDER = textwrap.dedent("""
    import json, sys
    from qgis.core import (QgsApplication, QgsGeometry, QgsMapRendererSequentialJob, QgsMapSettings, QgsPointXY,
                           QgsProject, QgsRectangle)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor
    app = QgsApplication([], False); app.initQgis()
    p = QgsProject.instance(); p.read(sys.argv[1])
    root = p.layerTreeRoot()
    group = next(g for g in root.children() if g.name().startswith("Town") and g.name().endswith("layout"))
    town = [n.layer() for n in group.findLayers() if n.itemVisibilityChecked()]
    net = root.findGroup("Road network")
    under = [n.layer() for n in net.findLayers() if n.itemVisibilityChecked()] if net is not None else []
    districts = next(l for l in town if "districts" in l.source())
    ext = QgsRectangle(districts.extent()); ext.scale(1.5)
    ms = QgsMapSettings(); ms.setLayers(town + under); ms.setDestinationCrs(p.crs())
    ms.setOutputSize(QSize(1000, 760)); ms.setExtent(ext); ms.setBackgroundColor(QColor(255, 255, 255))
    ms.setTransformContext(p.transformContext())
    job = QgsMapRendererSequentialJob(ms); job.start(); job.waitForFinished()
    job.renderedImage().save(sys.argv[2], "PNG")
    labels = []
    for lab in job.takeLabelingResults().allLabels():
        if lab.layerID != districts.id():
            continue
        f = districts.getFeature(lab.featureId)
        r = lab.labelRect
        c = QgsPointXY((r.xMinimum() + r.xMaximum()) / 2, (r.yMinimum() + r.yMaximum()) / 2)
        labels.append({"district": f["district"], "text": lab.labelText,
                       "inside": f.geometry().contains(QgsGeometry.fromPointXY(c))})
    print(json.dumps({"labels": labels})); app.exitQgis()
""")


def test_layout_labels_sit_inside_their_districts(run_dir, tmp_path):
    """Rendered by QGIS, each district's label (the body's too) lies inside its own polygon.

    ``IPTOWN_WRITE_DOCS=1`` writes the render to docs/qgis_layout.png; ``IPTOWN_DOCS_RUN=DIR`` renders
    the iptown.qgz of a real run folder (``iptown run --out DIR``) instead of this test's small layout.
    """
    py = find_qgis_python()
    need(py is not None, "PyQGIS is not installed (apt-get install python3-qgis qgis-providers)")
    from pathlib import Path

    docs_run = os.environ.get("IPTOWN_DOCS_RUN")
    if docs_run:
        qgz = Path(docs_run) / "iptown.qgz"
    else:
        items = catalogue(collect_run(run_dir))
        qgz = write_qgis_project(items, run_dir / "iptown.qgz", crs="EPSG:4548", title="t")
    png = tmp_path / "layout.png"
    r = subprocess.run([py, "-c", RENDER, str(qgz), str(png)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    placed = {lab["district"]: lab for lab in res["labels"]}
    assert {"body", "wing_east", "wing_west"} <= set(placed), res
    assert all(lab["inside"] for lab in placed.values()), placed
    assert placed["body"]["text"].startswith("Body")
    assert png.stat().st_size > 10_000
    if os.environ.get("IPTOWN_WRITE_DOCS") == "1":
        import shutil

        shutil.copy(png, Path(__file__).resolve().parents[2] / "docs" / "qgis_layout.png")


def test_neg_and_zonal_styles_are_graduated_with_units(tmp_path, sample_gpkg):
    """NEG change layers: a diverging scale symmetric about 0 from the data, in percentage points;
    zonal layers: graduated with the surface's unit in every class label."""
    import re

    import geopandas as gpd
    import numpy as np

    from iptown_gis.report.catalogue import Item

    pref = gpd.read_file(sample_gpkg, layer="prefectures")[["adcode", "name", "geometry"]].copy()
    rng = np.random.default_rng(1)
    pref["share"] = rng.dirichlet(np.ones(len(pref)))
    pref["d_share"] = rng.normal(0, 0.004, len(pref))  # +-0.4 percentage points: far below the old fixed +-2
    pref["market_potential_mean"] = rng.uniform(100, 4000, len(pref))
    p = tmp_path / "neg_scenarios.gpkg"
    pref.to_file(p, layer="neg_hsr_links", engine="pyogrio")
    neg = Item(p, "vector", "neg", "vector", "", "neg_hsr_links", list(pref.columns.drop("geometry")),
               "MultiPolygon", len(pref))
    qml = qml_for(neg)
    assert 'type="graduatedSymbol"' in qml
    assert "attr='\"d_share\" * 100'" in qml  # shares as percentage points
    bounds = [float(v) for v in re.findall(r'lower="([-0-9.e]+)"', qml)] + \
             [float(v) for v in re.findall(r'upper="([-0-9.e]+)"', qml)]
    lim = float(np.abs(pref["d_share"]).max() * 100)
    assert min(bounds) == pytest.approx(-lim)
    assert max(bounds) == pytest.approx(lim)
    assert "percentage points" in qml
    z = Item(p, "vector", "surfaces", "vector", "", "neg_hsr_links", ["adcode", "name", "market_potential_mean"],
             "MultiPolygon", len(pref))
    p2 = tmp_path / "zonal.gpkg"
    pref[["adcode", "name", "market_potential_mean", "geometry"]].to_file(p2, layer="prefectures", engine="pyogrio")
    z.path, z.layer = p2, "prefectures"
    qz = qml_for(z)
    assert "attr='\"market_potential_mean\"'" in qz
    assert qz.count("persons per m of travel") == 5
