"""A QGIS project (``DIR/iptown.qgz``) opening every output of a run with its style.

Styles are QML files written beside each layer (``surfaces/market_potential.qml``,
``zoning/layout_districts.qml``, ...), so the outputs look right even when dragged into QGIS
one by one, and a project is possible without QGIS. The project itself is made with PyQGIS
when it is available, in a *subprocess* (``QT_QPA_PLATFORM=offscreen``), so this library never
imports QGIS in-process: the helper script ``templates/qgis_build.py`` is run with the first Python that
can ``import qgis.core`` (``$IPTOWN_QGIS_PYTHON``, this interpreter, ``/usr/bin/python3``). A
style a stage wrote itself (``<layer>.qml`` beside the layer) is used instead of ours.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from iptown_gis.errors import DependencyError, OutputError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.report.catalogue import Item
from iptown_gis.report.maps import CLASS_COLUMNS, DISTRICT_COLOURS, HOTSPOT_CLASSES, MODULE_COLOURS, MORAN_CLUSTERS

__all__ = ["find_qgis_python", "qml_for", "write_qgis_project", "write_qml_styles"]

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("templates") / "qgis_build.py"
_VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
_MARK = "<!-- written by iptown_gis.report: regenerated on every report build -->"
_HEADER = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + _MARK + "\n"


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _symbol(kind: str, name: str, colour: str, *, size: float = 2.4, outline: str = "#232323",
            width: float = 0.26, alpha: int = 255) -> str:
    if kind == "marker":
        props = {"color": _rgba(colour, alpha), "name": "circle", "outline_color": _rgba(outline),
                 "outline_width": "0.3", "size": str(size), "size_unit": "MM", "outline_style": "solid"}
        cls = "SimpleMarker"
    elif kind == "line":
        props = {"line_color": _rgba(colour, alpha), "line_width": str(width), "line_style": "solid",
                 "capstyle": "round", "joinstyle": "round"}
        cls = "SimpleLine"
    else:
        props = {"color": _rgba(colour, alpha), "style": "solid", "outline_color": _rgba(outline),
                 "outline_width": str(width), "outline_style": "solid"}
        cls = "SimpleFill"
    body = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    return (f'<symbol type="{kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{cls}" enabled="1" locked="0" pass="0">{body}</layer></symbol>')


def _geom_kind(geom_type: str | None) -> str:
    g = (geom_type or "").lower()
    if "point" in g:
        return "marker"
    if "line" in g:
        return "line"
    return "fill"


def _categorized(attr: str, cats: Sequence[tuple[Any, str, str]], kind: str) -> str:  # (value, colour, label)
    c_xml = "".join(f'<category render="true" symbol="{i}" value={quoteattr(str(v))} label={quoteattr(lab)}/>'
                    for i, (v, _, lab) in enumerate(cats))
    s_xml = "".join(_symbol(kind, str(i), col, size=3.0) for i, (_, col, _) in enumerate(cats))
    return (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} symbollevels="0" enableorderby="0" '
            f'forceraster="0"><categories>{c_xml}</categories><symbols>{s_xml}</symbols></renderer-v2>')


def _graduated(attr: str, breaks: Sequence[float], kind: str) -> str:
    n = len(breaks) - 1
    ranges, syms = [], []
    for i in range(n):
        lo, hi = breaks[i], breaks[i + 1]
        ranges.append(f'<range render="true" symbol="{i}" lower="{lo:.10g}" upper="{hi:.10g}" '
                      f'label="{lo:.4g} - {hi:.4g}"/>')
        colour = _VIRIDIS[min(round(i * (len(_VIRIDIS) - 1) / max(n - 1, 1)), len(_VIRIDIS) - 1)]
        syms.append(_symbol(kind, str(i), colour, size=2.0 + 1.2 * i))
    return (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attr)} graduatedMethod="GraduatedColor" '
            f'symbollevels="0" enableorderby="0" forceraster="0"><ranges>{"".join(ranges)}</ranges>'
            f'<symbols>{"".join(syms)}</symbols><mode name="quantile"/></renderer-v2>')


def _single(kind: str, colour: str) -> str:
    return (f'<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f'<symbols>{_symbol(kind, "0", colour, width=0.4 if kind == "line" else 0.26)}</symbols></renderer-v2>')


def _labeling(field: str) -> str:
    return (f'<labeling type="simple"><settings calloutType="simple"><text-style fieldName={quoteattr(field)} '
            'fontSize="9" fontFamily="DejaVu Sans" fontWeight="75" textColor="20,20,20,255" isExpression="0" '
            'namedStyle="Bold"><text-buffer bufferDraw="1" bufferSize="0.8" bufferColor="255,255,255,255"/>'
            '</text-style><placement placement="1"/><rendering/></settings></labeling>')


def _vector_qml(item: Item) -> str:
    import geopandas as gpd

    cols = {c.lower(): c for c in item.columns}
    kind = _geom_kind(item.geom_type)
    labels = ""
    if item.role == "layout":
        lname = (item.layer or "").lower()
        if "module" in cols and ("module" in lname or "district" not in cols):
            cats = [(k, v[0], v[1]) for k, v in MODULE_COLOURS.items()]
            renderer, labels = _categorized(cols["module"], cats, kind), _labeling(cols["module"])
        else:
            cats = [(k, v[0], v[1]) for k, v in DISTRICT_COLOURS.items()]
            renderer = _categorized(cols["district"], cats, kind)
            if "cells" not in lname:
                labels = _labeling(cols["district"])
        return _wrap_vector(renderer, labels)
    num_col = None
    if item.role == "sites":
        num_col = cols.get("score") or cols.get("total_score") or cols.get("rank")
    elif item.role == "hotspots":
        cls = next((cols[c] for c in CLASS_COLUMNS if c in cols), None)
        if cls is not None:
            hcats: list[tuple[Any, str, str]] = [(k, v[0], v[1]) for k, v in HOTSPOT_CLASSES.items()]
            if cls.lower() == "cluster":
                hcats = [(k, v[0], v[1]) for k, v in MORAN_CLUSTERS.items()]
            return _wrap_vector(_categorized(cls, hcats, kind), "")
    if num_col is not None:
        gdf = gpd.read_file(item.path, layer=item.layer, engine="pyogrio", columns=[num_col], ignore_geometry=True)
        vals = gdf[num_col].astype(float).dropna().to_numpy()
        if vals.size >= 2 and vals.min() < vals.max():
            breaks = np.unique(np.quantile(vals, np.linspace(0, 1, 6)))
            if num_col.lower() == "rank":
                breaks = breaks[::-1]
            return _wrap_vector(_graduated(num_col, sorted(breaks.tolist()), kind), "")
    return _wrap_vector(_single(kind, "#b2182b" if kind == "line" else "#4393c3"), "")


def _wrap_vector(renderer: str, labeling: str) -> str:
    return (f'{_HEADER}<qgis version="3.22.0" styleCategories="Symbology|Labeling" '
            f'labelsEnabled="{1 if labeling else 0}">{renderer}{labeling}<blendMode>0</blendMode>'
            '<featureBlendMode>0</featureBlendMode><layerOpacity>1</layerOpacity></qgis>\n')


def _raster_qml(item: Item) -> str:
    import rasterio

    with rasterio.open(item.path) as src:
        scale = max(src.width / 1500, src.height / 1500, 1.0)
        data = src.read(1, masked=True, out_shape=(max(int(src.height / scale), 1), max(int(src.width / scale), 1)))
    vals = np.ma.masked_invalid(data).compressed().astype(float)
    if vals.size == 0:
        vals = np.array([0.0, 1.0])
    uniq = np.unique(vals)
    if item.role == "hotspots" and uniq.size <= 7 and np.all(np.isin(uniq, list(HOTSPOT_CLASSES))):
        items = "".join(f'<item alpha="255" value="{k}" label={quoteattr(lab)} color="{col}"/>'
                        for k, (col, lab) in sorted(HOTSPOT_CLASSES.items()))
        lo, hi, ramp = -3.0, 3.0, "EXACT"
    else:
        if item.role == "hotspots" and vals.min() < 0 < vals.max():
            lim = float(max(np.percentile(np.abs(vals), 99), 2.58))
            lo, hi = -lim, lim
            cols = ["#2166ac", "#67a9cf", "#f7f7f7", "#ef8a62", "#b2182b"]
        else:
            lo, hi = (float(v) for v in np.percentile(vals, [2, 98]))
            hi = max(hi, lo + 1e-9)
            cols = _VIRIDIS
        stops = np.linspace(lo, hi, len(cols))
        items = "".join(f'<item alpha="255" value="{v:.10g}" label="{v:.4g}" color="{c}"/>'
                        for v, c in zip(stops, cols, strict=True))
        ramp = "INTERPOLATED"
    return (f'{_HEADER}<qgis version="3.22.0" styleCategories="Symbology"><pipe>'
            f'<rasterrenderer type="singlebandpseudocolor" band="1" opacity="0.85" alphaBand="-1" '
            f'classificationMin="{lo:.10g}" classificationMax="{hi:.10g}" nodataColor="">'
            '<rasterTransparency/><minMaxOrigin><limits>None</limits><extent>WholeRaster</extent>'
            '<statAccuracy>Estimated</statAccuracy><cumulativeCutLower>0.02</cumulativeCutLower>'
            '<cumulativeCutUpper>0.98</cumulativeCutUpper><stdDevFactor>2</stdDevFactor></minMaxOrigin>'
            f'<rastershader><colorrampshader colorRampType="{ramp}" classificationMode="1" clip="0" '
            f'minimumValue="{lo:.10g}" maximumValue="{hi:.10g}">{items}</colorrampshader></rastershader>'
            '</rasterrenderer><brightnesscontrast brightness="0" contrast="0" gamma="1"/>'
            '<huesaturation saturation="0" grayscaleMode="0" colorizeOn="0"/>'
            '<rasterresampler maxOversampling="2"/></pipe><blendMode>0</blendMode></qgis>\n')


def qml_for(item: Item) -> str:
    """The QML style (QGIS 3.22 XML) of a map layer."""
    return _raster_qml(item) if item.is_raster else _vector_qml(item)


def style_path(item: Item) -> Path:
    """Where a layer's QML lives: ``<stem>.qml`` (single layer) or ``<stem>_<layer>.qml``."""
    return item.path.with_name(f"{item.key}.qml")


def _own_style(item: Item) -> Path | None:
    """A QML the producing stage wrote itself beside the layer, if any."""
    cands = [item.path.with_suffix(".qml")]
    if item.layer:
        cands += [item.path.with_name(f"{item.layer}.qml"), item.path.with_name(f"{item.path.stem}_{item.layer}.qml"),
                  item.path.with_name(f"{item.path.stem}.{item.layer}.qml")]
        if item.path.suffix.lower() == ".gpkg":
            cands = cands[1:]  # a <file>.qml beside a multi-layer GeoPackage is ambiguous
    for c in cands:
        if c.is_file():
            try:
                ours = _MARK in c.read_text(encoding="utf-8", errors="ignore")[:400]
            except OSError:
                ours = False
            if not ours:
                return c
    return None


def write_qml_styles(items: Sequence[Item]) -> dict[str, Path]:
    """Write a QML beside every map layer (unless its stage wrote one) and return key -> QML.

    Returns
    -------
    dict
        ``item.key -> path of the QML to use``.
    """
    styles: dict[str, Path] = {}
    for it in items:
        if not it.is_map_layer:
            continue
        own = _own_style(it)
        if own is not None:
            styles[it.key] = own
            continue
        target = style_path(it)
        try:
            text = qml_for(it)
        except Exception as exc:  # keep going: QGIS applies its default style
            log.warning("report: no style for %s: %s", it.path, exc)
            continue
        with atomic_path(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
        styles[it.key] = target
    return styles


@functools.lru_cache(maxsize=4)
def _can_import_qgis(python: str) -> bool:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        r = subprocess.run([python, "-c", "import qgis.core"], capture_output=True, timeout=60, env=env,
                           check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def find_qgis_python() -> str | None:
    """The first Python that can import PyQGIS (``$IPTOWN_QGIS_PYTHON``, this one, /usr/bin/python3)."""
    cands = [os.environ.get("IPTOWN_QGIS_PYTHON"), sys.executable, "/usr/bin/python3"]
    for c in cands:
        if c and Path(c).exists() and _can_import_qgis(c):
            return c
    return None


_ROLE_GROUP = {"layout": "Town layout", "sites": "Sites", "hotspots": "Hot spots", "vector": "Other layers",
               "surface": "Surfaces"}
_ROLE_ORDER = ["layout", "sites", "hotspots", "vector", "surface"]


def write_qgis_project(
    items: Sequence[Item],
    target: str | os.PathLike[str],
    *,
    styles: dict[str, Path] | None = None,
    crs: Any = None,
    title: str = "iptown_gis study",
    context: Sequence[tuple[str, str]] = (),
    python: str | None = None,
    require: bool = False,
    timeout: float = 300.0,
) -> Path | None:
    """Write a QGIS project with every map layer, styled, grouped by what it shows.

    Parameters
    ----------
    items
        The run's items; every map layer (raster or vector) is added.
    target
        The ``.qgz`` (or ``.qgs``) file to write, atomically.
    styles
        ``item.key -> QML`` (default: :func:`write_qml_styles`).
    crs
        The project CRS (e.g. ``"EPSG:4548"``).
    title
        The project title.
    context
        ``(name, "FILE|layername=LAYER")`` context layers drawn as outlines at the top.
    python
        A Python with PyQGIS (default: :func:`find_qgis_python`).
    require
        Raise :class:`DependencyError` instead of returning ``None`` when PyQGIS is missing.

    Returns
    -------
    Path or None
        The project, or ``None`` when PyQGIS is not available (the QML styles still are).

    Raises
    ------
    DependencyError
        PyQGIS is missing and ``require`` is true.
    OutputError
        QGIS could not load a layer or write the project (the message has QGIS's reason).
    """
    target = Path(target)
    if styles is None:
        styles = write_qml_styles(items)
    py = python or find_qgis_python()
    if py is None:
        msg = ("no Python with PyQGIS found: install QGIS (Debian: python3-qgis) or set IPTOWN_QGIS_PYTHON; "
               "QML styles were written beside each layer")
        if require:
            raise DependencyError(msg)
        log.warning("report: %s", msg)
        return None
    layers = []
    order = {r: i for i, r in enumerate(_ROLE_ORDER)}
    for it in sorted((i for i in items if i.is_map_layer), key=lambda i: order.get(i.role, 9)):
        uri = str(it.path.resolve()) + (f"|layername={it.layer}" if it.layer else "")
        qml = styles.get(it.key)
        layers.append({"uri": uri, "provider": "gdal" if it.is_raster else "ogr", "name": it.title,
                       "group": _ROLE_GROUP.get(it.role, "Other layers"),
                       # absolute: QGIS runs in a temporary folder, so a relative QML path is not found
                       "qml": str(Path(qml).resolve()) if qml else None,
                       "visible": not (it.role == "layout" and "cells" in (it.layer or ""))})
    ctx_layers = [{"uri": uri, "provider": "ogr", "name": name, "group": "Context", "qml": None, "visible": True,
                   "outline": True} for name, uri in context]
    all_layers = ctx_layers + layers
    spec: dict[str, Any] = {"layers": all_layers, "crs": str(crs) if crs is not None else None, "title": title}
    with tempfile.TemporaryDirectory(prefix="iptown-qgz-") as td, atomic_path(target) as tmp:
        spec["target"] = str(tmp)
        spec_path = Path(td) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QGIS_NO_OVERRIDE_IMPORT": "1"}
        env.pop("PYTHONHOME", None)
        try:
            r = subprocess.run([py, str(SCRIPT), str(spec_path)], capture_output=True, text=True, env=env,
                               timeout=timeout, check=False, cwd=td)
        except subprocess.TimeoutExpired as exc:
            raise OutputError(f"QGIS did not finish writing {str(target)!r} within {timeout:g} s") from exc
        last = (r.stdout.strip().splitlines() or [""])[-1]
        try:
            res = json.loads(last)
        except ValueError:
            res = {"ok": False, "error": (r.stderr or r.stdout).strip()[-2000:]}
        if r.returncode != 0 or not res.get("ok"):
            raise OutputError(f"QGIS could not write the project {str(target)!r}: {res.get('error')}")
        if res.get("invalid"):
            raise OutputError(f"QGIS could not open these layers for {str(target)!r}: {res['invalid']}")
        if res.get("style_errors"):
            log.warning("report: QGIS style problems: %s", res["style_errors"])
    log.info("report: wrote %s (%d layers)", target, len(all_layers))
    return target
