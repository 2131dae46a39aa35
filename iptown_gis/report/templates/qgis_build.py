"""Build a QGIS project from a JSON spec. Run ONLY in a subprocess (never imported by iptown_gis).

Usage: QT_QPA_PLATFORM=offscreen python qgis_build.py SPEC.json
Prints one JSON line: {"ok": true, "layers": N, "invalid": [...], "style_errors": [...]}.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(spec_path: str) -> dict[str, Any]:
    from qgis.core import (
        QgsApplication,
        QgsBookmark,
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsFillSymbol,
        QgsLayerTreeModel,
        QgsMapThemeCollection,
        QgsProject,
        QgsRasterLayer,
        QgsRectangle,
        QgsReferencedRectangle,
        QgsSingleSymbolRenderer,
        QgsVectorLayer,
    )

    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    app = QgsApplication([], False)
    app.initQgis()
    try:
        project = QgsProject.instance()
        project.clear()
        project.setTitle(spec.get("title") or "iptown_gis")
        if spec.get("crs"):
            crs = QgsCoordinateReferenceSystem(spec["crs"])
            if crs.isValid():
                project.setCrs(crs)
        root = project.layerTreeRoot()
        groups: dict[str, Any] = {}
        layers: list[Any] = []
        extent_layer = None
        invalid: list[str] = []
        style_errors: list[str] = []
        n = 0
        for lay in spec["layers"]:
            if lay["provider"] == "gdal":
                layer = QgsRasterLayer(lay["uri"], lay["name"], "gdal")
            else:
                layer = QgsVectorLayer(lay["uri"], lay["name"], "ogr")
            if not layer.isValid():
                invalid.append(lay["uri"])
                continue
            if lay.get("qml"):
                msg, ok = layer.loadNamedStyle(lay["qml"])
                if not ok:
                    style_errors.append(f"{lay['qml']}: {msg}")
            elif lay.get("outline") and isinstance(layer, QgsVectorLayer):
                sym = QgsFillSymbol.createSimple({"color": "0,0,0,0",
                                                  "outline_color": lay.get("outline_color", "35,35,35,255"),
                                                  "outline_width": str(lay.get("outline_width", 0.5))})
                layer.setRenderer(QgsSingleSymbolRenderer(sym))
            if lay.get("opacity") is not None and lay["opacity"] < 1:
                if isinstance(layer, QgsVectorLayer):
                    layer.setOpacity(float(lay["opacity"]))
                elif layer.renderer() is not None:
                    layer.renderer().setOpacity(float(lay["opacity"]))
            project.addMapLayer(layer, False)
            gname = lay.get("group") or "Layers"
            if gname not in groups:
                groups[gname] = root.addGroup(gname)
            node = groups[gname].addLayer(layer)
            node.setItemVisibilityChecked(bool(lay.get("visible", True)))
            node.setExpanded(bool(lay.get("expanded", True)))
            if lay.get("group") == "Context" and extent_layer is None:
                extent_layer = layer
            layers.append(layer)
            n += 1
        for gname, g in groups.items():
            g.setExpanded(gname in ("Town layout", "Town 1 layout", "Sites", "Surfaces", "Hot spots"))
        # a map theme per town: its layout on, the other towns' off (View > Map Themes)
        towns = [g for gname, g in groups.items() if gname.startswith("Town ") and gname.endswith(" layout")]
        if len(towns) > 1:
            model = QgsLayerTreeModel(root)
            for g in towns:
                for other in towns:
                    other.setItemVisibilityChecked(other is g)
                rec = QgsMapThemeCollection.createThemeFromCurrentState(root, model)
                project.mapThemeCollection().insert(g.name().replace(" layout", ""), rec)
            for other in towns:
                other.setItemVisibilityChecked(other is towns[0])
        # open on the province (the first context layer), else on every layer
        pcrs = project.crs()
        rect = None
        if spec.get("extent"):
            x0, y0, x1, y1 = spec["extent"]
            rect = QgsRectangle(x0, y0, x1, y1)
        else:
            for lyr in ([extent_layer] if extent_layer is not None else layers):
                r = lyr.extent()
                if lyr.crs().isValid() and pcrs.isValid() and lyr.crs() != pcrs:
                    r = QgsCoordinateTransform(lyr.crs(), pcrs, project).transformBoundingBox(r)
                if rect is None:
                    rect = QgsRectangle(r)
                else:
                    rect.combineExtentWith(r)
        if rect is not None and not rect.isEmpty():
            rect.scale(1.05)
            project.viewSettings().setDefaultViewExtent(QgsReferencedRectangle(rect, pcrs))
        bm = project.bookmarkManager()
        for b in spec.get("bookmarks") or []:
            x0, y0, x1, y1 = b["extent"]
            mark = QgsBookmark()
            mark.setName(b["name"])
            mark.setGroup("Chosen towns")
            mark.setExtent(QgsReferencedRectangle(QgsRectangle(x0, y0, x1, y1), pcrs))
            bm.addBookmark(mark)
        ok = project.write(spec["target"])
        err = "" if ok else project.error()
        return {"ok": bool(ok), "layers": n, "invalid": invalid, "style_errors": style_errors, "error": err,
                "bookmarks": len(bm.bookmarks()), "themes": project.mapThemeCollection().mapThemes()}
    finally:
        QgsProject.instance().clear()
        app.exitQgis()


if __name__ == "__main__":
    try:
        result = main(sys.argv[1])
    except Exception as exc:  # report any failure as JSON for the caller
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.exit(0 if result.get("ok") else 1)
