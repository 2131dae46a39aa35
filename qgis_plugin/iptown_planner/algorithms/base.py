"""The base class of every IP Town Planner Processing algorithm.

Subclasses only declare: parameter keys as class constants, ``NAME`` (stable, lowercase; also
the engine's algorithm id), ``DISPLAY``, ``GROUP_ID``, ``HELP`` and ``initAlgorithm``. Running
is the same for all of them (:meth:`IptownAlgorithm.processAlgorithm`), in the way QGIS's
providers of external tools work:

1. each parameter becomes a plain JSON value: vector sources are passed as their file (or
   exported to a GeoPackage when they are not a plain OGR file: memory layers, selections,
   filters, other providers) with their CRS; rasters as their GDAL file (or exported);
   enums as their option text; sinks and raster destinations as files in a job folder;
2. the engine (``iptown engine run``) computes in its own process, streaming progress to
   ``feedback``; Cancel terminates it;
3. the outputs are copied into the sinks / moved to the raster destinations, and loaded
   styled. The job folder is removed; a cancelled or failed job leaves nothing behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterPoint,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsRasterFileWriter,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .. import engine as eng

ICON = Path(__file__).resolve().parent.parent / "icon.png"

GROUPS = {
    "network": "Network",
    "surfaces": "Surfaces",
    "neg": "NEG model",
    "sites": "Sites",
    "zoning": "Zoning",
    "study": "Study",
}

#: Formats the engine reads directly (else a layer is exported to a GeoPackage).
ENGINE_VECTOR_FORMATS = ["gpkg", "shp", "geojson", "json", "fgb", "sqlite"]


def tr(text: str) -> str:
    return QCoreApplication.translate("IptownPlanner", text)


def crs_text(crs: QgsCoordinateReferenceSystem) -> str | None:
    """A CRS as the engine reads it (``EPSG:4548``, else WKT); ``None`` when invalid."""
    if crs is None or not crs.isValid():
        return None
    auth = crs.authid()
    if auth and auth.upper().startswith("EPSG:"):
        return auth
    return crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED)


def defaults(algorithm: str) -> dict[str, Any]:
    """The engine's parameter defaults for ``algorithm`` (empty when no engine)."""
    try:
        return eng.find_engine().defaults(algorithm)
    except eng.EngineUnavailable:
        return {}


def export_raster(layer: QgsRasterLayer, folder: Path) -> Path:
    """A GDAL file holding ``layer``'s data: the layer's own file, else a GeoTIFF export."""
    if layer.providerType() == "gdal":
        src = layer.source().split("|")[0]
        if Path(src).is_file():
            return Path(src)
    target = folder / f"{''.join(c if c.isalnum() else '_' for c in (layer.name() or 'raster'))}.tif"
    pipe = QgsRasterPipe()
    if not pipe.set(layer.dataProvider().clone()):
        raise QgsProcessingException(f"cannot read raster layer {layer.name()!r}")
    writer = QgsRasterFileWriter(str(target))
    err = writer.writeRaster(pipe, layer.width(), layer.height(), layer.extent(), layer.crs())
    if err != QgsRasterFileWriter.NoError:
        raise QgsProcessingException(f"cannot export raster layer {layer.name()!r} (error {err})")
    return target


class IptownAlgorithm(QgsProcessingAlgorithm):
    """Common behaviour: naming, help, the job round trip through the engine."""

    NAME = ""
    DISPLAY = ""
    GROUP_ID = "study"
    HELP = ""
    METRIC_CRS = "METRIC_CRS"
    #: Outputs loaded with a fixed library QML style: output key -> style name.
    STYLES: ClassVar[dict[str, str]] = {}

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

    def addParameter(self, definition: Any, createOutput: bool = True) -> bool:
        """Add a parameter with the engine's default for it (the library is the one source of defaults)."""
        value = defaults(self.NAME).get(definition.name())
        if value is not None:
            if isinstance(definition, QgsProcessingParameterEnum):
                opts = list(definition.options())
                items = value if isinstance(value, list) else [value]
                idx = [opts.index(str(v)) for v in items if str(v) in opts]
                if idx:
                    definition.setDefaultValue(idx if definition.allowMultiple() else idx[0])
            elif isinstance(definition, (QgsProcessingParameterNumber, QgsProcessingParameterBoolean,
                                         QgsProcessingParameterString, QgsProcessingParameterField)):
                definition.setDefaultValue(value)
        return super().addParameter(definition, createOutput)

    def add_metric_crs_parameter(self) -> None:
        self.addParameter(QgsProcessingParameterCrs(
            self.METRIC_CRS, tr("Metric CRS for measurements (empty: the layer's own, or its UTM zone)"),
            optional=True))

    # -- parameters -> job -----------------------------------------------------------------
    def job_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext,
                       feedback: QgsProcessingFeedback, folder: Path,
                       folders: dict[str, Path] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """The job's parameters, and ``{sink key: engine output file}`` for the outputs to copy back.

        ``folders`` are the folder destinations (:meth:`folder_outputs`), resolved once.
        """
        folders = folders if folders is not None else self.folder_outputs(parameters, context)
        job: dict[str, Any] = {}
        outputs: dict[str, str] = {}
        for d in self.parameterDefinitions():
            key = d.name()
            value = parameters.get(key, d.defaultValue())
            given = value is not None and value != "" and value != []
            if isinstance(d, QgsProcessingParameterFeatureSink):
                if given:
                    outputs[key] = str(folder / f"{key.lower()}.gpkg")
                    job[key] = outputs[key]
                continue
            if isinstance(d, QgsProcessingParameterRasterDestination):
                if given:
                    outputs[key] = str(folder / f"{key.lower()}.tif")
                    job[key] = outputs[key]
                continue
            if isinstance(d, QgsProcessingParameterFolderDestination):
                job[key] = str(folders[key])
                continue
            if not given:
                continue
            job[key] = self._value(d, parameters, context, feedback, folder)
        return job, outputs

    def _value(self, d: Any, parameters: dict[str, Any], context: QgsProcessingContext,
               feedback: QgsProcessingFeedback, folder: Path) -> Any:
        key = d.name()
        if isinstance(d, QgsProcessingParameterFeatureSource):
            return self._vector(d, parameters, context, feedback)
        if isinstance(d, QgsProcessingParameterRasterLayer):
            layer = self.parameterAsRasterLayer(parameters, key, context)
            if layer is None:
                raise QgsProcessingException(self.invalidRasterError(parameters, key))
            return {"path": str(export_raster(layer, folder)), "name": layer.name()}
        if isinstance(d, QgsProcessingParameterMultipleLayers):
            return [{"path": str(export_raster(layer, folder)), "name": layer.name()}
                    for layer in self.parameterAsLayerList(parameters, key, context)
                    if isinstance(layer, QgsRasterLayer)]
        if isinstance(d, QgsProcessingParameterEnum):
            opts = d.options()
            if d.allowMultiple():
                return [opts[i] for i in self.parameterAsEnums(parameters, key, context)]
            return opts[self.parameterAsEnum(parameters, key, context)]
        if isinstance(d, QgsProcessingParameterField):
            if d.allowMultiple():
                return list(self.parameterAsFields(parameters, key, context))
            return self.parameterAsString(parameters, key, context)
        if isinstance(d, QgsProcessingParameterNumber):
            if d.dataType() == QgsProcessingParameterNumber.Integer:
                return self.parameterAsInt(parameters, key, context)
            return self.parameterAsDouble(parameters, key, context)
        if isinstance(d, QgsProcessingParameterBoolean):
            return self.parameterAsBoolean(parameters, key, context)
        if isinstance(d, QgsProcessingParameterCrs):
            return crs_text(self.parameterAsCrs(parameters, key, context))
        if isinstance(d, QgsProcessingParameterPoint):
            pt = self.parameterAsPoint(parameters, key, context)
            return {"x": pt.x(), "y": pt.y(), "crs": crs_text(self.parameterAsPointCrs(parameters, key, context))}
        if isinstance(d, QgsProcessingParameterFile):
            return self.parameterAsFile(parameters, key, context)
        if isinstance(d, QgsProcessingParameterString):
            return self.parameterAsString(parameters, key, context)
        return self.parameterAsString(parameters, key, context)

    def _vector(self, d: Any, parameters: dict[str, Any], context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict[str, Any]:
        key = d.name()
        source = self.parameterAsSource(parameters, key, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, key))
        layer = self.parameterAsVectorLayer(parameters, key, context)
        name = layer.name() if layer is not None else key.lower()
        # the layer's own file when the engine can read it as QGIS shows it; else an export
        path, layer_name = self.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, key, context, ENGINE_VECTOR_FORMATS, "gpkg", feedback)
        if not path:
            raise QgsProcessingException(self.invalidSourceError(parameters, key))
        spec: dict[str, Any] = {"path": path, "label": f"{d.description()} {name!r}"}
        if layer_name:
            spec["layer"] = layer_name
        crs = crs_text(source.sourceCrs())
        if crs:
            spec["crs"] = crs
        return spec

    # -- running -------------------------------------------------------------------------
    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        try:
            engine = eng.find_engine()
        except eng.EngineUnavailable as exc:
            raise QgsProcessingException(str(exc)) from None
        folder = Path(tempfile.mkdtemp(prefix=f"iptown_{self.NAME}_", dir=QgsProcessingUtils.tempFolder()))
        folders = self.folder_outputs(parameters, context)
        created = [p for p in folders.values() if not p.exists() or (p.is_dir() and not any(p.iterdir()))]
        try:
            job, files = self.job_parameters(parameters, context, feedback, folder, folders)
            result = self.run_engine(engine, job, feedback, folder)
            return self.collect(result, files, parameters, context, feedback)
        except eng.EngineCancelled:
            self._remove(created)
            raise QgsProcessingException(tr("Cancelled by the user.")) from None
        except eng.EngineError as exc:
            self._remove(created)
            if exc.details:
                feedback.pushDebugInfo(exc.details)
            raise QgsProcessingException(str(exc)) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def run_engine(self, engine: eng.Engine, job: dict[str, Any], feedback: QgsProcessingFeedback,
                   folder: Path) -> dict[str, Any]:
        """Run the job, feeding progress and log lines to ``feedback``."""
        state = {"pct": 0.0, "msg": ""}

        def on_progress(fraction: float, message: str) -> None:
            pct = max(state["pct"], min(max(fraction, 0.0), 1.0) * 100.0)
            if pct != state["pct"]:
                state["pct"] = pct
                feedback.setProgress(pct)
            if message and message != state["msg"]:
                state["msg"] = message
                feedback.setProgressText(message)

        def on_log(level: str, message: str) -> None:
            if level in ("WARNING", "ERROR", "CRITICAL"):
                feedback.pushWarning(message)
            elif level == "DEBUG":
                feedback.pushDebugInfo(message)
            else:
                feedback.pushInfo(message)

        return eng.run_job(engine, self.NAME, job, work_dir=folder, on_progress=on_progress, on_log=on_log,
                           is_cancelled=feedback.isCanceled)

    def collect(self, result: dict[str, Any], files: dict[str, str], parameters: dict[str, Any],
                context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> dict[str, Any]:
        """Copy the engine's files into the sinks / raster destinations; pass the other outputs on."""
        out: dict[str, Any] = {}
        for key, path in files.items():
            d = self.parameterDefinition(key)
            if key not in result:
                continue
            if isinstance(d, QgsProcessingParameterRasterDestination):
                out[key] = self._move_raster(path, parameters, key, context)
            else:
                out[key] = self._copy_to_sink(path, parameters, key, context, feedback)
        for od in self.outputDefinitions():
            key = od.name()
            if key in out or key not in result:
                continue
            value = result[key]
            if isinstance(od, QgsProcessingOutputNumber):
                out[key] = None if value is None else float(value)
            elif isinstance(od, (QgsProcessingOutputString, QgsProcessingOutputFile,
                                 QgsProcessingOutputVectorLayer)):
                out[key] = None if value is None else str(value)
            elif isinstance(od, QgsProcessingOutputMultipleLayers):
                out[key] = list(value or [])
            else:
                out[key] = value
        self.after_run(result, out, parameters, context, feedback)
        return out

    def after_run(self, result: dict[str, Any], out: dict[str, Any], parameters: dict[str, Any],
                  context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> None:
        """Hook for subclasses (e.g. loading a study's layers); styles rasters and styled outputs."""
        from ..styling import style_on_load

        for key, value in out.items():
            d = self.parameterDefinition(key)
            if isinstance(d, QgsProcessingParameterRasterDestination) and value:
                style_on_load(context, str(value), d.description(), None)
            elif key in self.STYLES and value:
                od = self.outputDefinition(key)
                label = d.description() if d is not None else (od.description() if od is not None else key)
                style_on_load(context, str(value), label, self.STYLES[key])

    def _copy_to_sink(self, path: str, parameters: dict[str, Any], key: str, context: QgsProcessingContext,
                      feedback: QgsProcessingFeedback) -> str:
        src = QgsVectorLayer(f"{path}|layername={Path(path).stem}", key, "ogr")
        if not src.isValid():
            src = QgsVectorLayer(path, key, "ogr")
        if not src.isValid():
            raise QgsProcessingException(f"the engine's output {key} ({path}) cannot be read")
        fields = src.fields()
        keep = [i for i, f in enumerate(fields) if f.name() != "fid"]
        out_fields = type(fields)()
        for i in keep:
            out_fields.append(fields[i])
        sink, dest = self.parameterAsSink(parameters, key, context, out_fields, src.wkbType(), src.crs())
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, key))
        for feat in src.getFeatures(QgsFeatureRequest()):
            if feedback.isCanceled():
                break
            f = QgsFeature(out_fields)
            attrs = feat.attributes()
            f.setAttributes([attrs[i] for i in keep])
            if feat.hasGeometry():
                f.setGeometry(feat.geometry())
            if not sink.addFeature(f, QgsFeatureSink.FastInsert):
                raise QgsProcessingException(f"could not write a feature to output {key}: {sink.lastError()}")
        del sink
        return dest

    def _move_raster(self, path: str, parameters: dict[str, Any], key: str, context: QgsProcessingContext) -> str:
        dest = self.parameterAsOutputLayer(parameters, key, context)
        if not dest.lower().endswith((".tif", ".tiff")):
            dest = str(Path(dest).with_suffix(".tif"))
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(dest).with_name(f".{Path(dest).name}.iptown-partial")
        shutil.copyfile(path, tmp)
        tmp.replace(dest)
        return dest

    # -- folder outputs ----------------------------------------------------------------
    def folder_outputs(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, Path]:
        """Folder destinations (a TEMPORARY_OUTPUT becomes a new temporary folder, once)."""
        return {d.name(): Path(self.parameterAsFileOutput(parameters, d.name(), context))
                for d in self.parameterDefinitions() if isinstance(d, QgsProcessingParameterFolderDestination)}

    @staticmethod
    def _remove(folders: list[Path]) -> None:
        for p in folders:
            shutil.rmtree(p, ignore_errors=True)


__all__ = ["GROUPS", "IptownAlgorithm", "crs_text", "defaults", "tr"]
