"""Styles for results, as in the study's QGIS project (``iptown_gis.report.qgis_project``):

- surfaces: a Viridis pseudo-colour ramp from the 2nd to the 98th percentile, 85 % opaque,
  with its legend in the layers panel;
- districts / modules: the library's fixed categorical QML styles (the engine names the folder,
  ``iptown_gis/zoning/styles``);
- network edges and nodes: quiet grey context.

Only presentation lives here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from qgis.core import (
    QgsColorRampShader,
    QgsGradientColorRamp,
    QgsLineSymbol,
    QgsMapLayer,
    QgsMarkerSymbol,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor

from . import engine as eng

#: The study project's surface colours (viridis, 5 stops) and opacity.
VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
SURFACE_OPACITY = 0.85


def styles_dir() -> Path | None:
    """The library's folder of QML styles, as the engine reports it."""
    try:
        return eng.find_engine().styles_dir
    except eng.EngineUnavailable:
        return None


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


def surface_limits(layer: QgsRasterLayer) -> tuple[float, float]:
    """The 2nd and 98th percentiles of band 1 (the study project's limits)."""
    provider = layer.dataProvider()
    lo, hi = provider.cumulativeCut(1, 0.02, 0.98, layer.extent(), 250000)
    if not hi > lo:
        hi = lo + 1e-9
    return float(lo), float(hi)


def style_surface(layer: QgsRasterLayer) -> None:
    """A continuous viridis ramp between the 2 % and 98 % values, with its legend."""
    lo, hi = surface_limits(layer)
    ramp = QgsGradientColorRamp(QColor(VIRIDIS[0]), QColor(VIRIDIS[-1]))
    fcn = QgsColorRampShader(lo, hi)
    fcn.setColorRampType(QgsColorRampShader.Interpolated)
    fcn.setSourceColorRamp(ramp)
    step = (hi - lo) / (len(VIRIDIS) - 1)
    fcn.setColorRampItemList([QgsColorRampShader.ColorRampItem(lo + i * step, QColor(c), f"{lo + i * step:.4g}")
                              for i, c in enumerate(VIRIDIS)])
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(fcn)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(lo)
    renderer.setClassificationMax(hi)
    renderer.setOpacity(SURFACE_OPACITY)
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
    """Style a result layer; returns what was applied (``"qml:<file>"``, ``"ramp"``, ``"network"``, ``""``).

    ``kind`` names the library's QML style (``districts``, ``modules``, ...); when it is
    ``None`` the layer name is tried. A QML file beside a layer (written by the study's report
    stage) wins.
    """
    source = layer.source().split("|")[0]
    own = Path(source).with_suffix(".qml") if source else None
    if own is not None and own.is_file() and apply_qml(layer, own):
        return f"qml:{own.name}"
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


def style_on_load(context: QgsProcessingContext, dest: str, name: str, style: str | None) -> None:
    """Style output ``dest`` when Processing loads it (adding it to the layers to load if needed)."""
    if context.willLoadLayerOnCompletion(dest):
        details = context.layerToLoadOnCompletionDetails(dest)
        details.setPostProcessor(StylePostProcessor.create(style))
    elif style is not None:
        details = QgsProcessingContext.LayerDetails(name, context.project(), name)
        details.setPostProcessor(StylePostProcessor.create(style))
        context.addLayerToLoadOnCompletion(dest, details)
