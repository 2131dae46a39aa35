"""THE conversion module between QGIS and the iptown_gis library.

- vector: a QGIS feature source (any provider, a Processing source honouring "selected
  features only", or a :class:`QgsVectorLayer`) <-> a GeoDataFrame, CRS taken from the layer;
  a layer in degrees is projected to a metric CRS exactly as the library does
  (:func:`iptown_gis.crs.metric.to_metric`: the CRS the user names, else the UTM zone of the
  extent);
- a GeoDataFrame / DataFrame -> a Processing feature sink or a memory layer;
- raster: a QGIS raster layer -> a GeoTIFF path / masked array; an array -> a GeoTIFF written
  by the library (atomic, tagged).

Nothing here computes geometry or model results: it only moves data across the boundary.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qgis.core import (
    NULL,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessingException,
    QgsRasterFileWriter,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QTime, QVariant

__all__ = [
    "crs_from_qgis",
    "crs_to_qgis",
    "fields_for",
    "gdf_to_features",
    "gdf_to_memory_layer",
    "gdf_to_sink",
    "raster_layer_path",
    "raster_to_surface",
    "read_raster_layer",
    "source_to_gdf",
    "wkb_type_for",
    "write_raster",
    "write_surface",
]


# --------------------------------------------------------------------------------------- CRS
def crs_from_qgis(crs: QgsCoordinateReferenceSystem | None) -> Any:
    """A pyproj CRS for a QGIS CRS (``None`` when the layer has no valid CRS)."""
    import pyproj

    if crs is None or not crs.isValid():
        return None
    auth = crs.authid()
    if auth and auth.upper().startswith("EPSG:"):
        return pyproj.CRS.from_user_input(auth)
    return pyproj.CRS.from_wkt(crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED))


def crs_to_qgis(crs: Any) -> QgsCoordinateReferenceSystem:
    """A QGIS CRS for a pyproj CRS / EPSG string / WKT (invalid CRS for ``None``)."""
    if crs is None:
        return QgsCoordinateReferenceSystem()
    import pyproj

    p = pyproj.CRS.from_user_input(crs)
    epsg = p.to_epsg()
    if epsg is not None:
        q = QgsCoordinateReferenceSystem(f"EPSG:{epsg}")
        if q.isValid():
            return q
    return QgsCoordinateReferenceSystem.fromWkt(p.to_wkt())


# ------------------------------------------------------------------------- QGIS -> GeoDataFrame
def _py_value(v: Any) -> Any:
    """A QGIS attribute value as a plain Python value (NULL -> None)."""
    if v is None or v == NULL:
        return None
    if isinstance(v, QDateTime):
        return v.toPyDateTime() if v.isValid() else None
    if isinstance(v, QDate):
        return v.toPyDate() if v.isValid() else None
    if isinstance(v, QTime):
        return v.toPyTime() if v.isValid() else None
    if isinstance(v, QVariant):
        return None if v.isNull() else v.value()
    return v


def _source_crs(source: Any) -> QgsCoordinateReferenceSystem:
    if hasattr(source, "sourceCrs"):
        return source.sourceCrs()
    return source.crs()


def source_to_gdf(
    source: Any,
    *,
    name: str = "layer",
    fields: Iterable[str] | None = None,
    metric: bool = True,
    crs: Any = None,
    feedback: Any = None,
) -> Any:
    """Read a QGIS feature source into a GeoDataFrame.

    Parameters
    ----------
    source
        A :class:`QgsFeatureSource` (e.g. ``parameterAsSource``) or :class:`QgsVectorLayer`.
    name
        What to call the layer in error messages.
    fields
        Attribute fields to keep (default: all). A missing one is a ``ColumnError``.
    metric
        Project to a metric CRS as the library does (``crs`` if given, else the layer's own
        projected CRS, else the UTM zone of its extent).
    crs
        The metric CRS to use (anything pyproj accepts, or a QgsCoordinateReferenceSystem).
    feedback
        Processing feedback: reading stops when the user cancels.

    Returns
    -------
    geopandas.GeoDataFrame
        Index = QGIS feature ids; the layer's CRS (or the metric CRS).

    Raises
    ------
    iptown_gis.errors.CRSError
        The layer has no CRS.
    iptown_gis.errors.ColumnError
        A field in ``fields`` does not exist.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    from iptown_gis.crs.metric import require_crs, to_metric
    from iptown_gis.errors import CancelledError, ColumnError

    qfields = source.fields()
    names = [f.name() for f in qfields]
    if fields is not None:
        wanted = list(fields)
        bad = [f for f in wanted if f not in names]
        if bad:
            raise ColumnError(f"{name}: no field {bad[0]!r}; fields are: {', '.join(names)}")
        idx = [names.index(f) for f in wanted]
    else:
        wanted, idx = names, list(range(len(names)))
    request = QgsFeatureRequest()
    if fields is not None:
        request.setSubsetOfAttributes(idx)
    fids: list[int] = []
    wkbs: list[bytes | None] = []
    rows: list[list[Any]] = []
    for i, feat in enumerate(source.getFeatures(request)):
        if feedback is not None and i % 1000 == 0 and feedback.isCanceled():
            raise CancelledError("cancelled by the user")
        fids.append(int(feat.id()))
        geom = feat.geometry()
        if geom is None or geom.isNull():
            wkbs.append(None)
        else:
            if QgsWkbTypes.isCurvedType(geom.wkbType()):
                geom = QgsGeometry(geom.constGet().segmentize())
            wkbs.append(bytes(geom.asWkb()))
        attrs = feat.attributes()
        rows.append([_py_value(attrs[j]) for j in idx])
    geom_col = "geometry" if "geometry" not in wanted else "_geometry"
    df = pd.DataFrame(rows, columns=wanted, index=pd.Index(fids, name="fid"))
    df = df.infer_objects()
    geoms = shapely.from_wkb(wkbs) if wkbs else shapely.from_wkb([])
    df[geom_col] = gpd.GeoSeries(geoms, index=df.index)
    gdf = gpd.GeoDataFrame(df, geometry=geom_col, crs=crs_from_qgis(_source_crs(source)))
    require_crs(gdf, name=name)
    if metric:
        target = crs_from_qgis(crs) if isinstance(crs, QgsCoordinateReferenceSystem) else crs
        gdf = to_metric(gdf, crs=target, name=name)
    return gdf


# ------------------------------------------------------------------------- GeoDataFrame -> QGIS
def _qvariant_type(dtype: Any) -> QVariant.Type:
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return QVariant.Bool
    if pd.api.types.is_integer_dtype(dtype):
        return QVariant.LongLong
    if pd.api.types.is_float_dtype(dtype):
        return QVariant.Double
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return QVariant.DateTime
    return QVariant.String


def _attribute_columns(df: Any) -> list[str]:
    geom = df.geometry.name if hasattr(df, "geometry") and hasattr(df.geometry, "name") else None
    return [c for c in df.columns if c != geom]


def fields_for(df: Any) -> QgsFields:
    """QGIS fields for the attribute columns of a (Geo)DataFrame."""
    out = QgsFields()
    for col in _attribute_columns(df):
        out.append(QgsField(str(col), _qvariant_type(df[col].dtype)))
    return out


def wkb_type_for(gdf: Any) -> int:
    """The QGIS WKB type for a GeoDataFrame (multi when single and multi parts are mixed)."""
    import shapely

    if not hasattr(gdf, "geometry") or not hasattr(gdf.geometry, "geom_type"):
        return QgsWkbTypes.NoGeometry
    geoms = gdf.geometry.values
    kinds = set(gdf.geometry.geom_type.dropna().unique())
    if not kinds:
        return QgsWkbTypes.Unknown
    families = {k.replace("Multi", "") for k in kinds}
    if len(families) > 1:
        raise QgsProcessingException(f"cannot write mixed geometry types {sorted(kinds)} to one layer")
    family = families.pop()
    name = f"Multi{family}" if any(k.startswith("Multi") for k in kinds) else family
    wkb = QgsWkbTypes.parseType(name)
    if bool(shapely.has_z(geoms[~shapely.is_missing(geoms)]).any()):
        wkb = QgsWkbTypes.addZ(wkb)
    return wkb


def _plain(v: Any) -> Any:
    if v is None:
        return NULL
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict)):
        with contextlib.suppress(ValueError, AttributeError):
            v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return NULL
    if isinstance(v, (list, tuple, dict, set)):
        import json

        return json.dumps(list(v) if isinstance(v, set) else v, default=str, ensure_ascii=False)
    if hasattr(v, "to_pydatetime"):
        return QDateTime(v.to_pydatetime())
    return v


def gdf_to_features(df: Any, fields: QgsFields | None = None, *, wkb_type: int | None = None) -> list[QgsFeature]:
    """QGIS features for a (Geo)DataFrame's rows (geometry from WKB; NaN -> NULL)."""
    import pandas as pd
    import shapely

    fields = fields if fields is not None else fields_for(df)
    cols = _attribute_columns(df)
    has_geom = hasattr(df, "geometry") and hasattr(df.geometry, "geom_type")
    wkbs = shapely.to_wkb(df.geometry.values) if has_geom else None
    multi = wkb_type is not None and QgsWkbTypes.isMultiType(wkb_type)
    values = df[cols].astype(object).where(pd.notna(df[cols]), None).values.tolist() if cols else [[]] * len(df)
    feats = []
    for i, row in enumerate(values):
        f = QgsFeature(fields)
        f.setAttributes([_plain(v) for v in row])
        if wkbs is not None and wkbs[i] is not None:
            g = QgsGeometry()
            g.fromWkb(bytes(wkbs[i]))
            if multi and not g.isMultipart():
                g.convertToMultiType()
            f.setGeometry(g)
        feats.append(f)
    return feats


def gdf_to_sink(alg: Any, parameters: dict, key: str, context: Any, df: Any, *, crs: Any = None) -> str:
    """Write a (Geo)DataFrame to the algorithm's feature sink ``key``; return its destination id."""
    fields = fields_for(df)
    wkb = wkb_type_for(df)
    qcrs = crs_to_qgis(crs if crs is not None else getattr(df, "crs", None))
    sink, dest = alg.parameterAsSink(parameters, key, context, fields, wkb, qcrs)
    if sink is None:
        raise QgsProcessingException(alg.invalidSinkError(parameters, key))
    feats = gdf_to_features(df, fields, wkb_type=wkb)
    if not sink.addFeatures(feats, QgsFeatureSink.FastInsert):
        raise QgsProcessingException(f"could not write {len(feats)} features to output {key}")
    return dest


def gdf_to_memory_layer(df: Any, name: str) -> QgsVectorLayer:
    """A memory layer holding a (Geo)DataFrame (CRS from the frame)."""
    wkb = wkb_type_for(df)
    qcrs = crs_to_qgis(getattr(df, "crs", None))
    uri = QgsWkbTypes.displayString(wkb) if wkb != QgsWkbTypes.NoGeometry else "None"
    if qcrs.isValid():
        uri += f"?crs={qcrs.authid() or 'wkt:' + qcrs.toWkt()}"
    layer = QgsVectorLayer(uri, name, "memory")
    fields = fields_for(df)
    layer.dataProvider().addAttributes(list(fields))
    layer.updateFields()
    layer.dataProvider().addFeatures(gdf_to_features(df, layer.fields(), wkb_type=wkb))
    layer.updateExtents()
    return layer


# --------------------------------------------------------------------------------------- raster
def raster_layer_path(layer: QgsRasterLayer, *, tmp_dir: str | os.PathLike[str] | None = None) -> Path:
    """A GeoTIFF (or other GDAL file) path holding ``layer``'s data.

    File-backed GDAL layers are used in place; any other provider (WMS, WCS, memory, ...) is
    exported to a GeoTIFF in ``tmp_dir`` with QGIS's raster writer.
    """
    if layer.providerType() == "gdal":
        src = layer.source().split("|")[0]
        if Path(src).is_file():
            return Path(src)
    folder = Path(tmp_dir) if tmp_dir else Path(tempfile.mkdtemp(prefix="iptown_"))
    target = folder / f"{layer.name() or 'raster'}.tif"
    pipe = QgsRasterPipe()
    if not pipe.set(layer.dataProvider().clone()):
        raise QgsProcessingException(f"cannot read raster layer {layer.name()!r}")
    writer = QgsRasterFileWriter(str(target))
    err = writer.writeRaster(pipe, layer.width(), layer.height(), layer.extent(), layer.crs())
    if err != QgsRasterFileWriter.NoError:
        raise QgsProcessingException(f"cannot export raster layer {layer.name()!r} (error {err})")
    return target


def read_raster_layer(layer: QgsRasterLayer, *, band: int = 1) -> Any:
    """``layer``'s band as an :class:`iptown_gis.io.raster.Raster` (masked array, transform, CRS)."""
    from iptown_gis.io.raster import read_raster

    return read_raster(raster_layer_path(layer), band=band)


def write_raster(path: str | os.PathLike[str], data: Any, *, transform: Any, crs: Any,
                 tags: dict[str, Any] | None = None, description: str | None = None) -> Path:
    """Write an array as a GeoTIFF with the library's writer (atomic, tagged, COG when possible)."""
    from iptown_gis.io.raster import write_geotiff

    target = Path(path)
    if target.suffix.lower() not in (".tif", ".tiff"):
        target = target.with_suffix(".tif")
    return write_geotiff(target, data, transform=transform, crs=crs, tags=tags, description=description)


def raster_to_surface(layer: QgsRasterLayer, *, name: str | None = None, band: int = 1) -> Any:
    """A QGIS raster layer as an :class:`iptown_gis.surfaces.Surface` (cells with data = inside).

    Raises
    ------
    iptown_gis.errors.CRSError
        The raster has no CRS, or is not in a metric CRS (surfaces are measured in metres).
    """
    import numpy as np
    import pyproj

    from iptown_gis.errors import CRSError
    from iptown_gis.surfaces.grid import Grid, Surface

    r = read_raster_layer(layer, band=band)
    crs = pyproj.CRS.from_user_input(r.crs)
    if crs.is_geographic:
        raise CRSError(f"raster {layer.name()!r} is in degrees ({crs.name}); warp it to a metric CRS "
                       "(e.g. EPSG:4548 for Anhui) with Raster > Projections > Warp")
    data = np.ma.masked_invalid(np.ma.asarray(r.data, dtype="float64"))
    mask = ~np.ma.getmaskarray(data)
    grid = Grid(transform=r.transform, shape=(int(data.shape[0]), int(data.shape[1])), crs=crs, mask=mask)
    label = name or r.tags.get("iptown_surface") or layer.name() or "surface"
    tags = {k: v for k, v in r.tags.items() if k.startswith("iptown_")}
    return Surface(grid=grid, values=data, name=label, tags=tags)


def write_surface(surface: Any, path: str | os.PathLike[str]) -> str:
    """Write a library Surface with its own writer (GeoTIFF, atomic, tagged); return the path."""
    target = Path(path)
    if target.suffix.lower() not in (".tif", ".tiff"):
        target = target.with_suffix(".tif")
    return str(surface.write(target))
