"""The plugin loads through QGIS's plugin machinery, registers its provider and panel,
unloads cleanly, installs from the `make plugin` zip into a clean profile, and degrades
gracefully when iptown_gis or a dependency is missing."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile

from _qgis_script import run_qgis_script
from conftest import PLUGIN_SRC, ROOT
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt

import iptown_gis

EXPECTED_ALGORITHMS = {
    "buildnetwork", "odmatrix", "isochrones",
    "marketpotential", "kerneldensity", "hotspots", "zonalstatistics",
    "negsimulation", "breakpoints", "ranksites", "selectsites",
    "zoningoptimise", "studyarealayout",
    "runscenario",
}


def test_provider_and_every_algorithm_registered(registry):
    provider = registry.providerById("iptown")
    assert provider is not None
    assert provider.name() == "IP Town Planner"
    names = {a.name() for a in provider.algorithms()}
    assert names == EXPECTED_ALGORITHMS
    for alg in provider.algorithms():
        assert alg.id() == f"iptown:{alg.name()}"
        assert alg.name() == alg.name().lower()
        assert " " not in alg.name()
        assert alg.displayName()
        assert alg.group()
        assert alg.groupId()
        assert len(alg.shortHelpString()) > 80, alg.name()
        assert registry.algorithmById(alg.id()) is not None
        # every algorithm can be instantiated twice (modeler and batch need createInstance)
        clone = alg.create()
        assert clone is not None
        assert clone.name() == alg.name()
        assert len(clone.parameterDefinitions()) >= 1
    assert provider.warningMessage() == ""


def test_panel_menu_and_toolbar(plugin, iface):
    dock = plugin.dock
    assert dock is not None
    assert dock in iface.docks
    assert iface.mainWindow().dockWidgetArea(dock) == Qt.RightDockWidgetArea
    assert plugin.action in iface.menu_actions("&IP Town Planner")
    assert plugin.action in iface.toolbar_actions()
    assert dock.run_button.isEnabled()
    assert not dock.notice.isVisible()


def test_unload_removes_everything_and_reload_works(plugin, iface):
    import qgis.utils

    registry = QgsApplication.processingRegistry()
    action = plugin.action
    assert qgis.utils.unloadPlugin("iptown_planner")
    assert registry.providerById("iptown") is None
    assert not iface.docks
    assert action not in iface.toolbar_actions()
    assert qgis.utils.loadPlugin("iptown_planner")
    assert qgis.utils.startPlugin("iptown_planner")
    assert registry.providerById("iptown") is not None
    assert len(iface.docks) == 1


def test_metadata_declares_what_qgis_needs():
    cp = configparser.ConfigParser()
    cp.read(PLUGIN_SRC / "metadata.txt", encoding="utf-8")
    g = cp["general"]
    assert g["name"] == "IP Town Planner"
    assert g["qgisMinimumVersion"] == "3.22"
    assert g["qgisMaximumVersion"].startswith("3.")
    assert g["hasProcessingProvider"] == "yes"
    assert g["supportsQt6"] == "yes"
    for key in ("description", "about", "tracker", "repository", "icon", "version", "author", "email"):
        assert g[key].strip(), key
    assert (PLUGIN_SRC / g["icon"]).is_file()
    assert g["version"] == iptown_gis.__version__
    init = (PLUGIN_SRC / "__init__.py").read_text()
    assert "def classFactory(iface)" in init


def test_make_plugin_zip_installs_into_clean_profile(tmp_path, qgis_app):
    out = tmp_path / "dist"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_plugin.py"), "--out", str(out)],
                   check=True, capture_output=True)
    version = iptown_gis.__version__
    zpath = out / f"iptown_planner-{version}.zip"
    with zipfile.ZipFile(zpath) as zf:
        names = zf.namelist()
    assert "iptown_planner/metadata.txt" in names
    assert "iptown_planner/__init__.py" in names
    assert all(n.startswith("iptown_planner/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    profile = tmp_path / "profile"
    profile.mkdir()
    result = run_qgis_script(f"""
        from pyplugin_installer.unzip import unzip
        from pyplugin_installer.installer_data import plugins as installer_plugins
        import qgis.utils
        plugins_dir = os.path.join(QgsApplication.qgisSettingsDirPath(), "python", "plugins")
        RESULT["settings_dir"] = QgsApplication.qgisSettingsDirPath()
        RESULT["preexisting"] = sorted(os.listdir(plugins_dir)) if os.path.isdir(plugins_dir) else []
        os.makedirs(plugins_dir, exist_ok=True)
        unzip({str(zpath)!r}, plugins_dir)   # what "Install from ZIP" does
        meta = installer_plugins.getInstalledPlugin(
            "iptown_planner", os.path.join(plugins_dir, "iptown_planner"), False)
        RESULT["installer_error"] = meta["error"]
        RESULT["installer_name"] = meta["name"]
        qgis.utils.plugin_paths[:] = [plugins_dir]
        sys.path.insert(0, plugins_dir)
        qgis.utils.updateAvailablePlugins()
        RESULT["available"] = "iptown_planner" in qgis.utils.available_plugins
        RESULT["loaded"] = qgis.utils.loadPlugin("iptown_planner")
        RESULT["started"] = qgis.utils.startProcessingPlugin("iptown_planner")
        import iptown_planner
        RESULT["plugin_file"] = iptown_planner.__file__
        prov = QgsApplication.processingRegistry().providerById("iptown")
        RESULT["algorithms"] = sorted(a.name() for a in prov.algorithms()) if prov else None
        RESULT["unloaded"] = qgis.utils.unloadPlugin("iptown_planner")
        RESULT["after_unload"] = QgsApplication.processingRegistry().providerById("iptown") is None
    """, profile=profile)
    assert result["settings_dir"].startswith(str(profile))
    assert result["preexisting"] == []
    assert result["installer_error"] == ""
    assert result["installer_name"] == "IP Town Planner"
    assert result["available"]
    assert result["loaded"]
    assert result["started"]
    assert result["plugin_file"].startswith(str(profile))
    assert set(result["algorithms"]) == EXPECTED_ALGORITHMS
    assert result["unloaded"]
    assert result["after_unload"]


def test_missing_dependency_loads_disabled_with_instructions(tmp_path, plugin_path):
    profile = tmp_path / "profile"
    profile.mkdir()
    result = run_qgis_script(f"""
        import importlib.abc
        BLOCK = set()
        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCK:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None
        sys.meta_path.insert(0, Blocker())
        from qgis.PyQt.QtWidgets import QMainWindow
        from qgis.gui import QgsMessageBar
        import qgis.utils
        class Iface:
            def __init__(self):
                self.w = QMainWindow(); self.bar = QgsMessageBar(self.w); self.docks = []
            def mainWindow(self): return self.w
            def messageBar(self): return self.bar
            def addDockWidget(self, area, dock): self.docks.append(dock)
            def removeDockWidget(self, dock): self.docks.remove(dock)
            def addPluginToMenu(self, *a): pass
            def removePluginMenu(self, *a): pass
            def addToolBarIcon(self, *a): pass
            def removeToolBarIcon(self, *a): pass
        qgis.utils.iface = Iface()
        qgis.utils.plugin_paths[:] = [{str(plugin_path)!r}]
        sys.path.insert(0, {str(plugin_path)!r})
        qgis.utils.updateAvailablePlugins()
        for blocked in ("iptown_gis", "highspy"):
            BLOCK.clear(); BLOCK.add(blocked)
            for m in [m for m in sys.modules if m.split(".")[0] in (blocked,)]:
                del sys.modules[m]
            ok = qgis.utils.loadPlugin("iptown_planner") and qgis.utils.startPlugin("iptown_planner")
            plugin = qgis.utils.plugins["iptown_planner"]
            prov = QgsApplication.processingRegistry().providerById("iptown")
            dock = plugin.dock
            items = qgis.utils.iface.bar.items()
            RESULT[blocked] = dict(
                started=ok,
                provider=prov is not None,
                algorithms=len(prov.algorithms()) if prov else None,
                warning=prov.warningMessage() if prov else "",
                bar=[(i.text(), int(i.level())) for i in items],
                run_enabled=dock.run_button.isEnabled(),
                notice=dock.notice.text(),
                started_task=dock.start_run() is not None,
            )
            qgis.utils.iface.bar.clearWidgets()
            qgis.utils.unloadPlugin("iptown_planner")
    """, profile=profile)
    for blocked in ("iptown_gis", "highspy"):
        r = result[blocked]
        assert r["started"], r
        assert r["provider"], r
        assert r["algorithms"] == 0
        assert f"cannot import {blocked}" in r["warning"]
        assert "pip install" in r["warning"]
        assert blocked in r["warning"].split("pip install")[1]
        assert r["notice"] == r["warning"]
        assert r["bar"]
        assert r["bar"][0][0] == r["warning"]
        assert r["bar"][0][1] == 2
        assert not r["run_enabled"]
        assert not r["started_task"]
