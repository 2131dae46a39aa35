"""Reading and writing vector layers (Shapefile, GeoPackage, GeoJSON, GeoParquet).

Layer specifications follow the GDAL/QGIS habit ``FILE[:LAYER]``: ``roads.gpkg:edges`` reads
layer ``edges``; a plain path reads the file's only (or first) layer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio

from iptown_gis.crs.metric import require_crs, to_metric
from iptown_gis.errors import ColumnError, DataNotFoundError, GeometryError, OutputError
from iptown_gis.io.atomic import atomic_path, check_output_path, ensure_writable_dir

__all__ = [
    "NO_COLUMNS",
    "ROLES",
    "LayerSpec",
    "check_columns",
    "check_geometries",
    "check_overwrite",
    "check_role",
    "columns_are",
    "detect_encoding",
    "list_layers",
    "parse_layer_spec",
    "read_frame",
    "read_vector",
    "same_layer",
    "write_table",
    "write_vector",
]

log = logging.getLogger(__name__)

_VECTOR_SUFFIXES = {".shp", ".gpkg", ".geojson", ".json", ".fgb", ".parquet", ".sqlite", ".kml", ".gml", ".zip"}


@dataclass(frozen=True)
class LayerSpec:
    """A file and optional layer name."""

    path: Path
    layer: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.layer}" if self.layer else str(self.path)


def parse_layer_spec(spec: str | os.PathLike[str] | LayerSpec, layer: str | None = None) -> LayerSpec:
    """Split ``FILE[:LAYER]`` into a :class:`LayerSpec`.

    The split is made on the last ``:`` only when what precedes it is an existing file or has
    a vector suffix, so Windows drive letters and plain paths are left alone.
    """
    if isinstance(spec, LayerSpec):
        return spec if layer is None else LayerSpec(spec.path, layer)
    text = os.fspath(spec)
    if layer is None and ":" in text:
        head, _, tail = text.rpartition(":")
        if head and tail and ("/" not in tail and "\\" not in tail) and (
            Path(head).suffix.lower() in _VECTOR_SUFFIXES or Path(head).is_file()
        ):
            return LayerSpec(Path(head), tail)
    return LayerSpec(Path(text), layer)


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Names of the layers in a vector file."""
    p = Path(path)
    if not p.exists():
        raise DataNotFoundError(f"file {str(p)!r} does not exist: check the path")
    try:
        return [str(row[0]) for row in pyogrio.list_layers(p)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise DataNotFoundError(
            f"cannot open {str(p)!r} as a vector file ({_short(exc)}): check that it is a complete GeoPackage, "
            "Shapefile or GeoJSON (re-export or re-download it)"
        ) from exc


def _short(exc: BaseException, limit: int = 160) -> str:
    """The first line of a driver's message, cut to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


_CPG_ALIASES = {"936": "GBK", "CP936": "GBK", "GB2312": "GBK", "65001": "UTF-8", "UTF8": "UTF-8",
                "1252": "CP1252", "LATIN1": "ISO-8859-1", "88591": "ISO-8859-1", "8859_1": "ISO-8859-1"}

#: Encodings tried, in order, after the declared one: UTF-8, the Chinese GB18030 (a superset
#: of GBK), then CP1252 and Latin-1 (which decodes any byte) as the last resort.
FALLBACK_ENCODINGS = ("UTF-8", "GB18030", "CP1252", "ISO-8859-1")

#: Bytes of a file's text sampled to choose its encoding.
_SAMPLE_BYTES = 32 * 1024 * 1024


def _declared_encoding(path: Path) -> str | None:
    """The encoding a Shapefile's .cpg declares (``None`` without one)."""
    if path.suffix.lower() != ".shp":
        return None
    for cpg in (path.with_suffix(".cpg"), path.with_suffix(".CPG")):
        if cpg.exists():
            text = cpg.read_text(errors="ignore").strip().upper()
            enc = _CPG_ALIASES.get(text.replace("-", "").replace(" ", ""), _CPG_ALIASES.get(text, text))
            return enc or None
    return None


def _text_bytes(path: Path) -> bytes | None:
    """The bytes of a file's attribute text (DBF records and field names, a GeoJSON's text)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".shp":
            dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
            if dbf is None:
                return None
            with open(dbf, "rb") as f:
                head = f.read(32)
                if len(head) < 32:
                    return None
                header_len = int.from_bytes(head[8:10], "little")
                fields = f.read(max(header_len - 32, 0))
                names = b" ".join(fields[i:i + 11].split(b"\0", 1)[0] for i in range(0, len(fields) - 31, 32))
                return names + b" " + f.read(_SAMPLE_BYTES)
        if suffix in (".geojson", ".json", ".csv", ".kml", ".gml"):
            with open(path, "rb") as f:
                return f.read(_SAMPLE_BYTES)
    except OSError:
        return None
    return None


def _decodes(data: bytes, encoding: str) -> bool:
    import codecs

    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def detect_encoding(path: str | os.PathLike[str], *, name: str | None = None) -> str | None:
    """The text encoding of a vector file's attributes, or ``None`` to let GDAL decide.

    Tries the declared encoding (a Shapefile's .cpg), UTF-8, GB18030 (GBK), then CP1252 and
    Latin-1 as the last resort on the file's text (a DBF's records and field names, a
    GeoJSON's bytes), and logs the one chosen when it is not the declared one or UTF-8.
    Formats that are always UTF-8 (GeoPackage, FlatGeobuf, GeoParquet) give ``None``.
    """
    p = Path(path)
    label = name or str(p)
    declared = _declared_encoding(p)
    data = _text_bytes(p)
    if data is None:
        return declared
    if data.isascii():
        return declared or ("UTF-8" if p.suffix.lower() == ".shp" else None)
    candidates = [declared] if declared else []
    candidates += [e for e in FALLBACK_ENCODINGS if e != declared]
    for enc in candidates:
        if _decodes(data, enc):
            if declared and enc != declared:
                log.warning("%s: the .cpg declares %s but the attributes are not %s; reading them as %s",
                            label, declared, declared, enc)
            elif enc not in ("UTF-8", declared):
                log.info("%s: attributes are not UTF-8; reading them as %s (declare the encoding in a .cpg "
                         "file, or save as UTF-8, to choose another)", label, enc)
            else:
                log.debug("%s: attributes read as %s", label, enc)
            return None if enc == "UTF-8" and p.suffix.lower() != ".shp" else enc
    return declared  # pragma: no cover - Latin-1 decodes any byte


def _undecodable(label: str, path: Path, tried: Sequence[str]) -> DataNotFoundError:
    return DataNotFoundError(
        f"{label}: cannot decode the text of {str(path)!r} (tried {', '.join(tried)}): declare its encoding "
        f"(a .cpg file next to a Shapefile holding e.g. 'GBK' or 'UTF-8') or save it as UTF-8"
    )


def read_frame(ls: LayerSpec, *, label: str, **kwargs: Any) -> Any:
    """Read a layer with pyogrio, choosing its text encoding (:func:`detect_encoding`).

    When GDAL's text still does not decode, the fallback encodings are tried in turn; a
    layer none of them decodes is a :class:`DataNotFoundError` saying to declare its encoding.

    Parameters
    ----------
    ls
        The layer (file and layer name).
    label
        What to call the layer in messages.
    **kwargs
        Passed to :func:`geopandas.read_file` (pyogrio engine), e.g. ``columns``, ``bbox``.
    """
    enc = detect_encoding(ls.path, name=label)
    tried: list[str] = []
    order: list[str | None] = [enc] if enc else [None]  # None: GDAL's own choice (UTF-8)
    order += [e for e in FALLBACK_ENCODINGS if e != (enc or "UTF-8")]
    for e in order:
        try:
            opts = {**kwargs, "encoding": e} if e else kwargs
            gdf = gpd.read_file(ls.path, layer=ls.layer, engine="pyogrio", **opts)
        except UnicodeDecodeError:
            tried.append(e or "UTF-8")
            continue
        if tried:
            log.info("%s: attributes read as %s", label, e)
        return gdf
    raise _undecodable(label, ls.path, tried)


def read_vector(
    spec: str | os.PathLike[str] | LayerSpec,
    *,
    layer: str | None = None,
    name: str | None = None,
    metric: bool = True,
    crs: Any | None = None,
    columns: Sequence[str] | None = None,
    geom_types: Iterable[str] | None = None,
    allow_empty: bool = False,
    declared_crs: Any | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer, check it, and (by default) project it to a metric CRS.

    Parameters
    ----------
    spec
        ``FILE[:LAYER]`` or a path; Shapefile, GeoPackage, GeoJSON, FlatGeobuf, GeoParquet.
    layer
        Layer name (overrides the one in ``spec``).
    name
        What to call the layer in error messages (default: the spec).
    metric
        Project geographic data to a metric CRS (``crs``, else the extent's UTM zone).
    crs
        Target metric CRS, e.g. ``"EPSG:4548"``.
    columns
        Columns that must exist; a missing one is a :class:`ColumnError`.
    geom_types
        Allowed geometry families (``"Point"``, ``"LineString"``, ``"Polygon"``; multi-parts
        are accepted with their family).
    allow_empty
        Accept a layer without features.
    declared_crs
        The CRS the user declared for the layer (a QGIS layer's CRS): used when the file
        carries none, and preferred when it differs from the file's.

    Raises
    ------
    DataNotFoundError, CRSError, GeometryError, ColumnError
    """
    ls = parse_layer_spec(spec, layer)
    label = name or str(ls)
    if not ls.path.exists():
        raise DataNotFoundError(f"{label}: file {str(ls.path)!r} does not exist: check the path")
    if ls.path.suffix.lower() in _MULTI_LAYER:
        names = list_layers(ls.path)
        if ls.layer is not None and ls.layer not in names:
            raise DataNotFoundError(
                f"{label}: no layer {ls.layer!r} in {str(ls.path)!r}; layers are: {', '.join(names)}"
            )
        if ls.layer is None and len(names) > 1:
            raise DataNotFoundError(
                f"{label}: {str(ls.path)!r} has {len(names)} layers; name one as FILE:LAYER "
                f"(e.g. {ls.path.name}:{names[0]}); layers are: {', '.join(names)}"
            )
    try:
        if ls.path.suffix.lower() == ".parquet":
            gdf = gpd.read_parquet(ls.path)
        else:
            gdf = read_frame(ls, label=label)
    except DataNotFoundError:
        raise
    except Exception as exc:
        raise DataNotFoundError(
            f"{label}: cannot read {str(ls)!r} ({_short(exc)}): check that it is a complete vector file "
            "(GeoPackage, Shapefile, GeoJSON, ...); re-export or re-download it"
        ) from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise GeometryError(f"{label}: {str(ls)!r} has no geometry column; give a spatial layer")
    check_geometries(gdf, name=label, geom_types=geom_types, allow_empty=allow_empty)
    if declared_crs is not None:
        if gdf.crs is not None and gdf.crs != declared_crs:
            log.info("%s: using the declared CRS %s instead of the file's %s", label, declared_crs, gdf.crs.name)
        gdf = gdf.set_crs(declared_crs, allow_override=True)
    require_crs(gdf, name=label)
    if columns:
        check_columns(gdf, columns, name=label)
    if metric:
        gdf = to_metric(gdf, crs=crs, name=label)
    return gdf


def check_columns(gdf: Any, columns: Iterable[str], *, name: str = "layer") -> None:
    """Raise :class:`ColumnError` naming any of ``columns`` missing from ``gdf``.

    Parameters
    ----------
    gdf
        The table or layer.
    columns
        The columns it must have.
    name
        What to call it in messages.
    """
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise ColumnError(f"{name}: no column {', '.join(map(repr, missing))}; {columns_are(gdf)}")


#: Said instead of an empty column list.
NO_COLUMNS = "it has no attribute columns (for a Shapefile: is its .dbf file missing?)"


def columns_are(gdf: Any) -> str:
    """``"columns are: a, b"`` for a message, or :data:`NO_COLUMNS` when the layer has none."""
    geom = getattr(gdf, "_geometry_column_name", None)
    have = [str(c) for c in gdf.columns if c != geom]
    return f"columns are: {', '.join(have)}" if have else NO_COLUMNS


#: Geometry roles of the inputs (what a command or stage reads a layer as).
ROLES: dict[str, tuple[str, ...]] = {"points": ("Point",), "lines": ("LineString",), "polygons": ("Polygon",)}


def _role_fix(geom_types: Iterable[str], got: Sequence[str]) -> str:
    want = set(geom_types)
    if want == {"Point"}:
        if any("Polygon" in g or "Line" in g for g in got):
            return ("give a point layer (for areas, their centroids: QGIS Vector > Geometry Tools > Centroids, "
                    "or GeoSeries.representative_point())")
        return "give a point layer"
    if want == {"LineString"}:
        return "give a line layer (roads or rails as LineStrings)"
    if "Polygon" in want and "Point" not in want:
        return "give a polygon layer (e.g. the study area or zones as polygons)"
    return f"give a {'/'.join(sorted(want))} layer"


def check_role(gdf: gpd.GeoDataFrame, role: str, *, name: str = "layer") -> gpd.GeoDataFrame:
    """Check that a layer has the geometry of its role: ``"points"``, ``"lines"`` or ``"polygons"``.

    The one validator per geometry role that the CLI and the stages use (through
    ``read_vector(geom_types=ROLES[role])`` and :func:`check_geometries`).

    Parameters
    ----------
    gdf
        The layer.
    role
        ``"points"``, ``"lines"`` or ``"polygons"`` (the keys of :data:`ROLES`).
    name
        What to call the layer in messages.

    Raises
    ------
    GeometryError
        Wrong geometry type (the message names the rows and what to give instead), empty layer,
        missing geometries.
    ParameterError
        Unknown role.
    """
    if role not in ROLES:
        from iptown_gis.errors import ParameterError

        raise ParameterError(f"geometry role must be one of {', '.join(ROLES)}, got {role!r}")
    return check_geometries(gdf, name=name, geom_types=ROLES[role])


_FAMILIES = {
    "Point": {"Point", "MultiPoint"},
    "LineString": {"LineString", "MultiLineString", "LinearRing"},
    "Polygon": {"Polygon", "MultiPolygon"},
}


def check_geometries(
    gdf: gpd.GeoDataFrame,
    *,
    name: str = "layer",
    geom_types: Iterable[str] | None = None,
    allow_empty: bool = False,
    repair: bool = True,
) -> gpd.GeoDataFrame:
    """Check a layer's geometries: not empty, no missing/empty geometry, valid, right type.

    Invalid polygons are repaired in place with ``make_valid`` when ``repair`` (logged);
    anything else raises :class:`GeometryError`.

    Parameters
    ----------
    gdf
        The layer.
    name
        What to call it in messages.
    geom_types
        Allowed geometry types (``"Point"`` also allows ``MultiPoint``, and so on); ``None``: any.
    allow_empty
        Accept a layer without features.
    repair
        Repair invalid polygons with ``make_valid`` instead of raising.
    """
    if len(gdf) == 0:
        if allow_empty:
            return gdf
        raise GeometryError(f"{name} is empty (no features): give a layer with features")
    geom = gdf.geometry
    missing = geom.isna() | geom.is_empty
    if missing.any():
        idx = list(gdf.index[missing.to_numpy()][:5])
        raise GeometryError(
            f"{name}: {int(missing.sum())} feature(s) have no geometry (e.g. rows {idx}); "
            "remove them or fix their geometry"
        )
    if geom_types is not None:
        allowed: set[str] = set()
        for t in geom_types:
            allowed |= _FAMILIES.get(t, {t})
        bad = ~geom.geom_type.isin(sorted(allowed))
        if bad.any():
            got = sorted(set(geom.geom_type[bad]))
            rows = list(gdf.index[bad.to_numpy()][:5])
            raise GeometryError(
                f"{name}: expected {'/'.join(geom_types)} geometries, found {', '.join(got)} in "
                f"{int(bad.sum())} of {len(gdf)} feature(s) (e.g. rows {rows}); {_role_fix(geom_types, got)}"
            )
    invalid = ~geom.is_valid
    if invalid.any():
        if repair:
            log.warning("%s: repairing %d invalid geometries with make_valid", name, int(invalid.sum()))
            gdf.loc[invalid, gdf.geometry.name] = geom[invalid].make_valid()
        else:
            raise GeometryError(f"{name}: {int(invalid.sum())} invalid geometries; repair them first")
    return gdf


_MULTI_LAYER = (".gpkg", ".sqlite")


def output_layer_name(spec: LayerSpec) -> str | None:
    """The layer :func:`write_vector` writes for ``spec`` (``None`` for single-layer formats)."""
    if spec.path.suffix.lower() in _MULTI_LAYER:
        return spec.layer or spec.path.stem
    return None


def same_layer(src: LayerSpec, dst: LayerSpec) -> bool:
    """True when writing ``dst`` would replace the layer ``src`` is read from."""
    a, b = src.path, dst.path
    try:
        same = a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        same = False
    if not same:
        return False
    out_layer = output_layer_name(dst)
    if out_layer is None:
        return True
    in_layer = src.layer
    if in_layer is None and a.exists():
        names = list_layers(a)
        in_layer = names[0] if names else None
    return in_layer == out_layer


def check_overwrite(path: str | os.PathLike[str], *, layer: str | None = None, overwrite: bool = False) -> None:
    """Refuse (:class:`OutputError`) to replace an existing output unless ``overwrite``.

    A GeoPackage is refused only when the layer exists (other layers are kept); a
    single-layer format (GeoJSON, Shapefile, ...) when the file exists.

    Parameters
    ----------
    path
        The output file.
    layer
        The GeoPackage layer to write (``None``: the file's name).
    overwrite
        Allow replacing it: the check passes.
    """
    if overwrite:
        return
    target = Path(path)
    if not target.exists():
        return
    name = output_layer_name(LayerSpec(target, layer))
    if name is None:
        raise OutputError(
            f"{str(target)!r} exists: remove it, write to another file, or pass overwrite=True"
        )
    if name in list_layers(target):
        raise OutputError(
            f"{str(target)!r} already has a layer {name!r}: choose another layer (FILE:LAYER), remove it, "
            "or pass overwrite=True"
        )


def write_vector(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``gdf`` atomically (GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet, CSV).

    GeoPackage layers are added to an existing file: the file is copied, the layer written
    into the copy, and the copy renamed over the original, so a failure leaves the old file.
    GeoJSON is written in WGS84 (RFC 7946). Without ``overwrite``, an existing GeoPackage
    layer or single-layer file is an :class:`OutputError` (:func:`check_overwrite`).

    Parameters
    ----------
    gdf
        The layer to write.
    path
        The output file; its suffix chooses the format.
    layer
        Layer name in a GeoPackage (default: the file's stem).
    overwrite
        Replace an existing layer or file.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    check_output_path(target, kind="vector", what="vector output")
    ensure_writable_dir(target.parent if str(target.parent) else Path("."))
    check_overwrite(target, layer=layer, overwrite=overwrite)
    if suffix == ".shp":
        return _write_shapefile(gdf, target, overwrite=overwrite)
    with atomic_path(target, overwrite=overwrite or suffix == ".gpkg") as tmp:
        if suffix == ".gpkg" and target.exists():
            shutil.copyfile(target, tmp)
        try:
            if suffix == ".parquet":
                gdf.to_parquet(tmp)
            elif suffix == ".csv":
                gdf.drop(columns=gdf.geometry.name).to_csv(tmp, index=False)
            elif suffix in (".geojson", ".json"):
                out = gdf.to_crs(4326) if gdf.crs is not None else gdf
                out.to_file(tmp, driver="GeoJSON", engine="pyogrio", RFC7946="YES")
            elif suffix == ".gpkg":
                gdf.to_file(tmp, layer=layer or target.stem, driver="GPKG", engine="pyogrio")
            elif suffix == ".fgb":
                gdf.to_file(tmp, driver="FlatGeobuf", engine="pyogrio")
            else:
                raise OutputError(
                    f"unsupported vector format {suffix!r} for {str(target)!r}: use .gpkg, .geojson, "
                    ".shp, .fgb, .parquet or .csv"
                )
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write {str(target)!r}: {exc}") from exc
    log.info("wrote %s", target)
    return target


def write_table(df: Any, path: str | os.PathLike[str], *, layer: str | None = None) -> Path:
    """Write a table without geometry (a pandas DataFrame) atomically as a GeoPackage attribute table.

    An existing GeoPackage keeps its other layers (the file is copied, written, renamed).

    Parameters
    ----------
    df
        The table (a :class:`pandas.DataFrame`; a geometry column is left out).
    path
        The ``.gpkg`` file (other suffixes are an :class:`OutputError`).
    layer
        Table name in a GeoPackage (default: the file's stem).
    """
    import pandas as pd

    target = Path(path)
    if target.suffix.lower() != ".gpkg":
        raise OutputError(f"{str(target)!r}: a table is written to a .gpkg file")
    frame = pd.DataFrame(df).reset_index(drop=True)
    geom = getattr(df, "geometry", None)
    if geom is not None and getattr(geom, "name", None) in frame.columns:
        frame = frame.drop(columns=geom.name)
    with atomic_path(target) as tmp:
        if target.exists():
            shutil.copyfile(target, tmp)
        try:
            pyogrio.write_dataframe(frame, tmp, layer=layer or target.stem, driver="GPKG")
        except OSError as exc:
            raise OutputError(f"cannot write {str(target)!r}: {exc}") from exc
    log.info("wrote %s", target)
    return target


def _write_shapefile(gdf: gpd.GeoDataFrame, target: Path, *, overwrite: bool) -> Path:
    if target.exists() and not overwrite:
        raise OutputError(f"{str(target)!r} exists: remove it or allow overwriting")
    tmpdir = Path(tempfile.mkdtemp(dir=target.parent, prefix=".iptown-shp-"))
    long_names = [str(c) for c in gdf.columns if len(str(c)) > 10]
    if long_names:
        log.warning("%s: Shapefile truncates column names to 10 characters: %s; prefer GeoPackage",
                    target, ", ".join(long_names))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Column names longer than 10", category=UserWarning)
            warnings.filterwarnings("ignore", message="Normalized/laundered field name", category=RuntimeWarning)
            gdf.to_file(tmpdir / target.name, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        for f in tmpdir.iterdir():
            os.replace(f, target.parent / f.name)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmpdir)
    return target
