"""Styles for results: fixed categorical QML styles for districts / modules (shipped by the
library in ``iptown_gis/zoning/styles/``) and a colour ramp with legend for surfaces.

Only presentation lives here; the values come from the library's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from qgis.core import (
    QgsColorRampShader,
    QgsLineSymbol,
    QgsMapLayer,
    QgsMarkerSymbol,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterBandStats,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsStyle,
    QgsVectorLayer,
    QgsWkbTypes,
)

#: The colour ramp for surfaces (QGIS default style library names).
SURFACE_RAMP = "Viridis"


def styles_dir() -> Path | None:
    """The library's folder of QML styles (``iptown_gis/zoning/styles``), if installed."""
    try:
        import iptown_gis
    except ImportError:
        return None
    d = Path(iptown_gis.__file__).resolve().parent / "zoning" / "styles"
    return d if d.is_dir() else None


def qml_for(name: str) -> Path | None:
    """The library's QML style whose file stem matches ``name`` (e.g. ``districts``)."""
    d = styles_dir()
    if d is None:
        return None
    for cand in (d / f"{name}.qml", *sorted(d.glob(f"*{name}*.qml"))):
        if cand.is_file():
            return cand
    return None


def apply_qml(layer: QgsMapLayer, qml: Path) -> bool:
    """Load a QML style onto ``layer``; True on success."""
    _msg, ok = layer.loadNamedStyle(str(qml))
    if ok:
        layer.triggerRepaint()
    return bool(ok)


def style_surface(layer: QgsRasterLayer, *, ramp: str = SURFACE_RAMP, classes: int = 7) -> None:
    """A continuous colour ramp from the band's minimum to maximum (the legend shows the ramp)."""
    provider = layer.dataProvider()
    stats = provider.bandStatistics(1, QgsRasterBandStats.Min | QgsRasterBandStats.Max)
    lo, hi = float(stats.minimumValue), float(stats.maximumValue)
    if not hi > lo:
        hi = lo + 1.0
    color_ramp = QgsStyle.defaultStyle().colorRamp(ramp)
    fcn = QgsColorRampShader(lo, hi)
    fcn.setColorRampType(QgsColorRampShader.Interpolated)
    fcn.setSourceColorRamp(color_ramp.clone())
    fcn.classifyColorRamp(classes, 1, layer.extent(), provider)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(fcn)
    renderer = QgsSingleBandPseudoColorRenderer(provider, 1, shader)
    renderer.setClassificationMin(lo)
    renderer.setClassificationMax(hi)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


#: Network layers (by name) drawn as quiet context under the planning results.
NETWORK_STYLES = {"edges", "roads", "network_edges", "nodes", "network_nodes"}


def style_network(layer: QgsVectorLayer) -> None:
    """Roads as thin grey lines, nodes as small grey dots: context, not the subject."""
    if layer.geometryType() == QgsWkbTypes.LineGeometry:
        symbol = QgsLineSymbol.createSimple({"line_color": "150,150,150,255", "line_width": "0.3"})
    else:
        symbol = QgsMarkerSymbol.createSimple({"name": "circle", "color": "120,120,120,255", "size": "0.8",
                                               "outline_style": "no"})
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    layer.triggerRepaint()


def style_layer(layer: QgsMapLayer, kind: str | None = None) -> str:
    """Style a result layer by kind; returns what was applied (``"qml:<file>"``, ``"ramp"``, ``""``).

    ``kind`` names the library's QML style (``districts``, ``modules``, ...); when it is
    ``None`` the layer name is tried. Rasters get the colour ramp; network edges and nodes a
    quiet grey (``"network"``).
    """
    if isinstance(layer, QgsRasterLayer):
        style_surface(layer)
        return "ramp"
    if isinstance(layer, QgsVectorLayer):
        for key in filter(None, (kind, layer.name())):
            qml = qml_for(str(key))
            if qml is not None and apply_qml(layer, qml):
                return f"qml:{qml.name}"
        if {str(kind or "").lower(), layer.name().lower()} & NETWORK_STYLES:
            style_network(layer)
            return "network"
    return ""


class StylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Styles a Processing output layer when it is loaded into the project."""

    _keep: ClassVar[list[Any]] = []  # QGIS does not own post-processors: keep them alive

    def __init__(self, kind: str | None = None) -> None:
        super().__init__()
        self.kind = kind

    def postProcessLayer(self, layer: QgsMapLayer, context: Any, feedback: Any) -> None:
        style_layer(layer, self.kind)

    @classmethod
    def create(cls, kind: str | None = None) -> StylePostProcessor:
        inst = cls(kind)
        cls._keep.append(inst)
        del cls._keep[:-64]
        return inst
