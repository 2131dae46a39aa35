"""The base class of every IP Town Planner Processing algorithm.

Subclasses declare parameter keys as class constants, ``NAME`` (stable, lowercase),
``DISPLAY`` (translated), ``GROUP`` / ``GROUP_ID``, ``HELP``, and implement
:meth:`compute`, which calls the library. :meth:`processAlgorithm` turns library errors into
:class:`QgsProcessingException` (see :func:`iptown_planner.feedback.library_errors`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterCrs,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .. import bridge
from ..feedback import library_errors, progress_callback
from ..threads import pin_thread_state

ICON = Path(__file__).resolve().parent.parent / "icon.png"

GROUPS = {
    "network": "Network",
    "surfaces": "Surfaces",
    "neg": "NEG model",
    "sites": "Sites",
    "zoning": "Zoning",
    "study": "Study",
}


def tr(text: str) -> str:
    return QCoreApplication.translate("IptownPlanner", text)


class IptownAlgorithm(QgsProcessingAlgorithm):
    """Common behaviour: naming, help, error translation, layer conversion helpers."""

    NAME = ""
    DISPLAY = ""
    GROUP_ID = "study"
    HELP = ""
    METRIC_CRS = "METRIC_CRS"

    # -- identity ------------------------------------------------------------------------
    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:
        return tr(self.DISPLAY)

    def group(self) -> str:
        return tr(GROUPS[self.GROUP_ID])

    def groupId(self) -> str:
        return self.GROUP_ID

    def shortHelpString(self) -> str:
        return tr(self.HELP)

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def createInstance(self) -> QgsProcessingAlgorithm:
        return type(self)()

    def tr(self, text: str) -> str:
        return tr(text)

    # -- running -------------------------------------------------------------------------
    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        pin_thread_state()
        with library_errors(feedback):
            return self.compute(parameters, context, feedback)

    def compute(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------
    def add_metric_crs_parameter(self) -> None:
        p = QgsProcessingParameterCrs(
            self.METRIC_CRS, tr("Metric CRS for measurements (empty: the layer's own, or its UTM zone)"),
            optional=True,
        )
        self.addParameter(p)

    def metric_crs(self, parameters: dict[str, Any], context: QgsProcessingContext) -> Any:
        """The metric CRS the user chose (pyproj CRS) or ``None`` (library's choice)."""
        if self.METRIC_CRS not in parameters or parameters[self.METRIC_CRS] in (None, ""):
            return None
        q = self.parameterAsCrs(parameters, self.METRIC_CRS, context)
        return bridge.crs_from_qgis(q) if q.isValid() else None

    def gdf(
        self,
        parameters: dict[str, Any],
        key: str,
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback | None = None,
        *,
        crs: Any = None,
        fields: list[str] | None = None,
        metric: bool = True,
    ) -> Any:
        """Parameter ``key`` (a vector source) as a GeoDataFrame in a metric CRS."""
        source = self.parameterAsSource(parameters, key, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, key))
        label = self.parameterDefinition(key).description()
        return bridge.source_to_gdf(source, name=label, fields=fields, metric=metric, crs=crs,
                                    feedback=feedback)

    def optional_gdf(self, parameters: dict[str, Any], key: str, context: QgsProcessingContext,
                     feedback: QgsProcessingFeedback | None = None, **kw: Any) -> Any:
        if parameters.get(key) in (None, ""):
            return None
        source = self.parameterAsSource(parameters, key, context)
        if source is None:
            return None
        return self.gdf(parameters, key, context, feedback, **kw)

    def field(self, parameters: dict[str, Any], key: str, context: QgsProcessingContext) -> str | None:
        value = self.parameterAsString(parameters, key, context)
        return value or None

    def progress(self, feedback: QgsProcessingFeedback | None) -> Any:
        return progress_callback(feedback)

    def raster_path(self, parameters: dict[str, Any], key: str, context: QgsProcessingContext) -> str:
        """Output raster path for destination ``key`` (always a GeoTIFF)."""
        path = self.parameterAsOutputLayer(parameters, key, context)
        if not path.lower().endswith((".tif", ".tiff")):
            path = str(Path(path).with_suffix(".tif"))
        return path
