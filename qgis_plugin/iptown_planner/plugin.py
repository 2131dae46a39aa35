"""The plugin object QGIS creates: registers the Processing provider and the planning panel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .provider import IptownProvider

ICON = Path(__file__).resolve().parent / "icon.png"
MENU = "&IP Town Planner"


class IptownPlannerPlugin:
    """``initProcessing`` registers the provider; ``initGui`` adds the panel; ``unload`` removes both."""

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.provider: IptownProvider | None = None
        self.dock: Any = None
        self.action: QAction | None = None

    def initProcessing(self) -> None:
        if self.provider is not None:
            return
        self.provider = IptownProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        self.initProcessing()
        if self.iface is None:
            return
        from .dock import PlannerDock

        self.dock = PlannerDock(self.iface, parent=self.iface.mainWindow())
        self.iface.addDockWidget(Qt.RightDockWidgetArea, self.dock)
        self.action = QAction(QIcon(str(ICON)), "IP Town Planner panel", self.iface.mainWindow())
        self.action.setObjectName("IptownPlannerAction")
        self.action.setCheckable(True)
        self.action.setChecked(self.dock.isVisible())
        self.action.toggled.connect(self.dock.setUserVisible)
        self.dock.visibilityChanged.connect(self.action.setChecked)
        self.iface.addPluginToMenu(MENU, self.action)
        self.iface.addToolBarIcon(self.action)
        problem = self.provider.warningMessage() if self.provider is not None else ""
        if problem:
            self.iface.messageBar().pushMessage("IP Town Planner", problem, level=Qgis.Critical, duration=0)

    def unload(self) -> None:
        if self.dock is not None:
            self.dock.cancel_run()
            if self.iface is not None:
                self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        if self.action is not None and self.iface is not None:
            self.iface.removePluginMenu(MENU, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
