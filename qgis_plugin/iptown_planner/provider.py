"""The Processing provider "IP Town Planner" (id ``iptown``).

Like QGIS's GRASS and SAGA providers it runs an external tool (the iptown_gis engine): the
path of ``iptown`` is a provider setting (Settings > Options > Processing > Providers); when no
working engine is found the provider still loads, its warning says what to install, and it
offers no algorithms.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from . import engine as eng

ICON = Path(__file__).resolve().parent / "icon.png"
LOG_TAG = "IP Town Planner"


class IptownProvider(QgsProcessingProvider):
    """Registers one algorithm per engine tool; none when no engine is available."""

    def __init__(self) -> None:
        super().__init__()
        self.problem = ""

    def id(self) -> str:
        return "iptown"

    def name(self) -> str:
        return QCoreApplication.translate("IptownPlanner", "IP Town Planner")

    def longName(self) -> str:
        return f"{self.name()} {eng.plugin_version()}"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def svgIconPath(self) -> str:
        return str(ICON)

    def versionInfo(self) -> str:
        return eng.plugin_version()

    def load(self) -> bool:
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting

            ProcessingConfig.settingIcons[self.name()] = self.icon()
            ProcessingConfig.addSetting(Setting(
                self.name(), eng.SETTING, self.tr("iptown engine (path of the 'iptown' command; empty: find it)"),
                "", valuetype=Setting.FILE))
            ProcessingConfig.readSettings()
        except ImportError:  # Processing's Python part is not loaded (e.g. a bare QgsApplication)
            pass
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        try:
            from processing.core.ProcessingConfig import ProcessingConfig

            ProcessingConfig.removeSetting(eng.SETTING)
        except (ImportError, KeyError):
            pass

    def warningMessage(self) -> str:
        return self.problem

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("IptownPlanner", text)

    def loadAlgorithms(self) -> None:
        eng.forget()  # the setting may have changed since the last look
        try:
            engine = eng.find_engine()
        except eng.EngineUnavailable as exc:
            self.problem = str(exc)
            QgsMessageLog.logMessage(self.problem, LOG_TAG, Qgis.Critical)
            return
        self.problem = ""
        QgsMessageLog.logMessage(f"engine: {engine.command} (iptown_gis {engine.version}, from {engine.source})",
                                 LOG_TAG, Qgis.Info)
        from .algorithms import algorithm_classes

        for cls in algorithm_classes():
            if cls.NAME in engine.info.get("algorithms", {}):
                self.addAlgorithm(cls())
