"""The Processing provider "IP Town Planner" (id ``iptown``)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .deps import Missing, install_hint

ICON = Path(__file__).resolve().parent / "icon.png"


def plugin_version() -> str:
    """The plugin's version from metadata.txt."""
    import configparser

    cp = configparser.ConfigParser()
    cp.read(Path(__file__).resolve().parent / "metadata.txt", encoding="utf-8")
    return cp.get("general", "version", fallback="?")


class IptownProvider(QgsProcessingProvider):
    """Registers one algorithm per library entry point; none when dependencies are missing."""

    def __init__(self, missing: list[Missing] | None = None) -> None:
        super().__init__()
        self.missing = list(missing or [])

    def id(self) -> str:
        return "iptown"

    def name(self) -> str:
        return QCoreApplication.translate("IptownPlanner", "IP Town Planner")

    def longName(self) -> str:
        return f"{self.name()} {plugin_version()}"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def svgIconPath(self) -> str:
        return str(ICON)

    def versionInfo(self) -> str:
        return plugin_version()

    def warningMessage(self) -> str:
        return install_hint(self.missing)

    def loadAlgorithms(self) -> None:
        if self.missing:
            return  # tools disabled: warningMessage() says what to install
        from .algorithms import algorithm_classes

        for cls in algorithm_classes():
            self.addAlgorithm(cls())
