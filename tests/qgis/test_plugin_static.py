"""The plugin's own files, read without QGIS: it imports nothing but PyQGIS and the standard
library, its metadata is what QGIS needs, and the zip ``make plugin`` builds is installable."""

from __future__ import annotations

import ast
import configparser
import sys
import zipfile

from conftest import ROOT

PLUGIN = ROOT / "qgis_plugin" / "iptown_planner"
#: What the plugin may import: PyQGIS, QGIS's own Processing plugin, the standard library.
ALLOWED_ROOTS = {"qgis", "processing", "__future__"}


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_plugin_imports_only_pyqgis_and_the_standard_library():
    bad = []
    files = sorted(PLUGIN.rglob("*.py"))
    assert len(files) > 10
    for f in files:
        for line, name in _imports(f):
            root = name.split(".")[0]
            if root not in ALLOWED_ROOTS and root not in sys.stdlib_module_names:
                bad.append(f"{f.relative_to(ROOT)}:{line}: import {name}")
    assert not bad, "\n".join(bad)


def test_metadata_declares_what_qgis_needs():
    cp = configparser.ConfigParser()
    cp.read(PLUGIN / "metadata.txt", encoding="utf-8")
    g = cp["general"]
    assert g["name"] == "IP Town Planner"
    assert g["qgisMinimumVersion"] == "3.22"
    assert g["hasProcessingProvider"] == "yes"
    assert "engine" in g["about"]
    import iptown_gis

    assert g["version"] == iptown_gis.__version__  # the plugin and the engine are released together


def test_zip_is_one_folder_with_the_engine_hint(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as zf:
        names = zf.namelist()
        hint = zf.read("iptown_planner/engine_hint.txt").decode().strip()
    assert all(n.startswith("iptown_planner/") for n in names)
    assert "iptown_planner/metadata.txt" in names
    assert "iptown_planner/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert hint == str(ROOT)
