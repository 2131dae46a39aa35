"""Runs INSIDE the QGIS desktop: the plugin with no usable engine (``$IPTOWN_ENGINE`` names a
missing or mismatched one). Records what a planner sees, then quits."""

import json
import os
import sys
from pathlib import Path

from qgis.core import QgsApplication, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface

CONFIG = json.loads(Path(os.environ["IPTOWN_SESSION"]).read_text(encoding="utf-8"))


def main():
    import qgis.utils

    out = {"active": "iptown_planner" in qgis.utils.active_plugins}
    prov = QgsApplication.processingRegistry().providerById("iptown")
    out["provider"] = prov is not None
    out["algorithms"] = [] if prov is None else [a.id() for a in prov.algorithms()]
    out["warning"] = "" if prov is None else prov.warningMessage()
    dock = qgis.utils.plugins["iptown_planner"].dock if out["active"] else None
    out["notice"] = dock.notice.text() if dock is not None else None
    out["notice_visible"] = bool(dock is not None and dock.notice.isVisibleTo(dock))
    out["run_enabled"] = bool(dock is not None and dock.run_button.isEnabled())
    bar = iface.messageBar()
    out["message_bar"] = [w.text() for w in bar.findChildren(type(bar.currentItem()))] if bar.currentItem() else []
    out["scientific"] = sorted(m for m in ("shapely", "pyproj", "geopandas", "iptown_gis") if m in sys.modules)
    Path(CONFIG["results"]).write_text(json.dumps(out), encoding="utf-8")
    QgsProject.instance().setDirty(False)
    iface.actionExit().trigger()


QTimer.singleShot(0, main)
