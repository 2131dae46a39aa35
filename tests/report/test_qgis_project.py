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
    out = {"ok": ok, "crs": p.crs().authid(), "layers": []}
    for lay in p.mapLayers().values():
        r = lay.renderer()
        out["layers"].append({"name": lay.name(), "valid": lay.isValid(), "source": lay.source(),
                              "renderer": r.type() if r is not None else None,
                              "n": len(r.categories()) if hasattr(r, "categories") else
                                   (len(r.ranges()) if hasattr(r, "ranges") else None)})
    print(json.dumps(out)); app.exitQgis()
""")


def test_qgis_project_opens_with_styles(run_dir):
    py = find_qgis_python()
    need(py is not None, "PyQGIS is not installed (apt-get install python3-qgis qgis-providers)")
    items = catalogue(collect_run(run_dir))
    styles = write_qml_styles(items)
    for key in ("market_potential", "hotspots_gistar", "ranked_sites", "layout_districts", "layout_modules"):
        assert styles[key].exists(), key
    qgz = write_qgis_project(items, run_dir / "iptown.qgz", styles=styles, crs="EPSG:4548", title="t")
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
    assert by_name["Harris market potential (network)"]["renderer"] == "singlebandpseudocolor"
    assert by_name["Gi* hot spots"]["renderer"] == "singlebandpseudocolor"
    assert by_name["Ranked candidate sites"]["renderer"] == "graduatedSymbol"
    assert by_name["Ranked candidate sites"]["n"] == 5
    assert by_name["Layout districts"]["renderer"] == "categorizedSymbol"
    assert by_name["Layout modules"]["renderer"] == "categorizedSymbol"
    assert by_name["Layout modules"]["n"] == 7


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
