"""QGIS test harness: a headless QgsApplication for the session, a stand-in QgisInterface,
and the plugin loaded through QGIS's plugin machinery (``qgis.utils``).

When QGIS's Python bindings cannot be imported, every test here FAILS when ``CI=true`` (a
skipped plugin suite in CI is a failure) and is skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SRC = ROOT / "qgis_plugin" / "iptown_planner"
SAMPLE = ROOT / "sample_data" / "anhui"
GPKG = SAMPLE / "anhui.gpkg"
PROCESSING_PLUGINS = Path("/usr/share/qgis/python/plugins")
IN_CI = os.environ.get("CI", "").strip().lower() == "true"

QGIS_ERROR: str | None = None
try:
    from qgis.core import Qgis  # noqa: F401
except Exception as exc:  # ImportError, or a broken install raising anything else
    QGIS_ERROR = (
        f"QGIS Python bindings cannot be imported ({type(exc).__name__}: {exc}); install QGIS 3.22+ "
        "with its Python bindings (Debian/Ubuntu: sudo apt install python3-qgis qgis-providers) and "
        "use a Python that sees them (python3 -m venv --system-site-packages)"
    )


if QGIS_ERROR is not None:

    class _NoQgisItem(pytest.Item):
        def runtest(self) -> None:
            if IN_CI:
                pytest.fail(f"CI=true and the QGIS tests cannot run: {QGIS_ERROR}", pytrace=False)
            pytest.skip(QGIS_ERROR)

    class _NoQgisModule(pytest.File):
        def collect(self):  # type: ignore[override]
            yield _NoQgisItem.from_parent(self, name=f"{self.path.stem}[qgis-unavailable]")

    def pytest_pycollect_makemodule(module_path, parent):  # type: ignore[no-untyped-def]
        return _NoQgisModule.from_parent(parent, path=module_path)

else:
    if PROCESSING_PLUGINS.is_dir() and str(PROCESSING_PLUGINS) not in sys.path:
        sys.path.append(str(PROCESSING_PLUGINS))  # QGIS's Processing framework (plugin "processing")

    from qgis.core import QgsApplication, QgsProject
    from qgis.gui import QgsMapCanvas, QgsMessageBar
    from qgis.PyQt.QtWidgets import QMainWindow, QMenu, QToolBar

    class FakeIface:
        """The part of QgisInterface the plugin uses, with real widgets."""

        def __init__(self) -> None:
            self._main = QMainWindow()
            self._canvas = QgsMapCanvas(self._main)
            self._canvas.resize(800, 600)
            self._bar = QgsMessageBar(self._main)
            self._toolbar = QToolBar("Plugins", self._main)
            self._menus: dict[str, QMenu] = {}
            self.docks: list = []

        def mainWindow(self):
            return self._main

        def mapCanvas(self):
            return self._canvas

        def messageBar(self):
            return self._bar

        def addDockWidget(self, area, dock):
            self._main.addDockWidget(area, dock)
            self.docks.append(dock)

        def removeDockWidget(self, dock):
            self._main.removeDockWidget(dock)
            self.docks.remove(dock)

        def addPluginToMenu(self, name, action):
            self._menus.setdefault(name, QMenu(name, self._main)).addAction(action)

        def removePluginMenu(self, name, action):
            self._menus[name].removeAction(action)

        def addToolBarIcon(self, action):
            self._toolbar.addAction(action)

        def removeToolBarIcon(self, action):
            self._toolbar.removeAction(action)

        def menu_actions(self, name):
            return list(self._menus[name].actions()) if name in self._menus else []

        def toolbar_actions(self):
            return list(self._toolbar.actions())

    @pytest.fixture(scope="session")
    def qgis_app(tmp_path_factory):
        """One GUI-capable headless QgsApplication with Processing initialised."""
        profile = tmp_path_factory.mktemp("qgis_profile")
        app = QgsApplication.instance()
        created = app is None
        if created:
            app = QgsApplication([], True, str(profile))
            app.initQgis()
        if str(PROCESSING_PLUGINS) not in sys.path:
            sys.path.append(str(PROCESSING_PLUGINS))
        from processing.core.Processing import Processing

        Processing.initialize()
        yield app
        QgsProject.instance().clear()

    @pytest.fixture(scope="session")
    def iface(qgis_app):
        import qgis.utils

        fake = FakeIface()
        qgis.utils.iface = fake
        return fake

    @pytest.fixture(scope="session")
    def plugin_path(tmp_path_factory):
        """A plugins folder holding a copy of the plugin (as a user's profile would)."""
        folder = tmp_path_factory.mktemp("plugins")
        shutil.copytree(PLUGIN_SRC, folder / "iptown_planner",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return folder

    @pytest.fixture(scope="session")
    def plugin(qgis_app, iface, plugin_path):
        """The plugin loaded and started through qgis.utils, unloaded at the end."""
        import qgis.utils

        qgis.utils.plugin_paths[:] = [str(plugin_path)]
        if str(plugin_path) not in sys.path:
            sys.path.insert(0, str(plugin_path))
        qgis.utils.updateAvailablePlugins()
        assert "iptown_planner" in qgis.utils.available_plugins
        assert qgis.utils.loadPlugin("iptown_planner")
        assert qgis.utils.startPlugin("iptown_planner"), "startPlugin failed (see the QGIS log)"
        yield qgis.utils.plugins["iptown_planner"]
        if "iptown_planner" in qgis.utils.active_plugins:
            qgis.utils.unloadPlugin("iptown_planner")

    @pytest.fixture(scope="session")
    def registry(plugin):
        return QgsApplication.processingRegistry()

    @pytest.fixture
    def project():
        QgsProject.instance().clear()
        yield QgsProject.instance()
        QgsProject.instance().clear()

    def sample_layer(name: str):
        from qgis.core import QgsVectorLayer

        layer = QgsVectorLayer(f"{GPKG}|layername={name}", name, "ogr")
        assert layer.isValid(), name
        return layer


@pytest.fixture(scope="session")
def sample_uri():
    def uri(name: str) -> str:
        return f"{GPKG}|layername={name}"

    return uri
