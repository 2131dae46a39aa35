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
import re
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
from iptown_gis.io.fonts import qgis_font_family
from iptown_gis.report.catalogue import Item
from iptown_gis.report.maps import (
    CLASS_COLUMNS,
    DISTRICT_COLOURS,
    HOTSPOT_CLASSES,
    INDEX_SURFACES,
    MODULE_COLOURS,
    MORAN_CLUSTERS,
    RESULT_COLUMNS,
)
from iptown_gis.study.labels import PERCENT_COLUMNS, POINTS_COLUMNS, column_unit, place_name, surface_unit

__all__ = ["find_qgis_python", "qml_for", "write_qgis_project", "write_qml_styles"]

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("templates") / "qgis_build.py"
_VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
_DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#fddbc7", "#ef8a62", "#b2182b"]
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


def _categorized(attr: str, cats: Sequence[tuple[Any, str, str]], kind: str, *,
                 alpha: dict[Any, int] | None = None) -> str:  # (value, colour, label)
    c_xml = "".join(f'<category render="true" symbol="{i}" value={quoteattr(str(v))} label={quoteattr(lab)}/>'
                    for i, (v, _, lab) in enumerate(cats))
    a = alpha or {}
    s_xml = "".join(_symbol(kind, str(i), col, size=3.0, alpha=a.get(v, 255)) for i, (v, col, _) in enumerate(cats))
    return (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} symbollevels="0" enableorderby="0" '
            f'forceraster="0"><categories>{c_xml}</categories><symbols>{s_xml}</symbols></renderer-v2>')


def _num(v: float) -> str:
    a = abs(v)
    if a != 0 and (a >= 1e6 or a < 1e-3):
        return f"{v:.3g}"
    return f"{v:,.0f}" if a >= 100 else f"{v:.3g}"


def _graduated(attr: str, breaks: Sequence[float], kind: str, *, unit: str = "", diverging: bool = False,
               alpha: int = 255) -> str:
    """A graduated renderer; ``attr`` may be an expression; class labels carry ``unit``."""
    n = len(breaks) - 1
    ramp = _DIVERGING if diverging else _VIRIDIS
    ranges, syms = [], []
    u = f" {unit}" if unit else ""
    for i in range(n):
        lo, hi = breaks[i], breaks[i + 1]
        ranges.append(f'<range render="true" symbol="{i}" lower="{lo:.10g}" upper="{hi:.10g}" '
                      f'label={quoteattr(f"{_num(lo)} to {_num(hi)}{u}")}/>')
        colour = ramp[min(round(i * (len(ramp) - 1) / max(n - 1, 1)), len(ramp) - 1)]
        size = 1.6 + 0.6 * i if kind == "marker" and not diverging else 3.0
        syms.append(_symbol(kind, str(i), colour, size=size, alpha=alpha, outline="#555555", width=0.2))
    return (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attr)} graduatedMethod="GraduatedColor" '
            f'symbollevels="0" enableorderby="0" forceraster="0"><ranges>{"".join(ranges)}</ranges>'
            f'<symbols>{"".join(syms)}</symbols><mode name="quantile"/></renderer-v2>')


def _single(kind: str, colour: str) -> str:
    return (f'<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f'<symbols>{_symbol(kind, "0", colour, width=0.4 if kind == "line" else 0.26)}</symbols></renderer-v2>')


def _labeling(field: str, *, expression: bool = False, kind: str = "fill", priority: int = 5,
              show_all: bool = False, max_scale: float | None = None) -> str:
    """Labels in the CJK-capable family; polygons: inside (horizontal, at a point inside the shape).

    ``priority`` 0-10 decides which labels QGIS places first; ``show_all`` draws a label even when it
    collides (the body's, which its modules cover); ``max_scale``: shown only when zoomed in
    beyond 1:``max_scale`` (a town's labels would pile up at province scale).
    """
    place = (f'<placement placement="4" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0" '
             f'priority="{priority}" polygonPlacementFlags="2"/>' if kind == "fill"
             else f'<placement placement="6" dist="1" priority="{priority}"/>')
    return (f'<labeling type="simple"><settings calloutType="simple"><text-style fieldName={quoteattr(field)} '
            f'fontSize="9" fontFamily={quoteattr(qgis_font_family())} fontWeight="75" textColor="20,20,20,255" '
            f'isExpression="{int(expression)}"><text-buffer bufferDraw="1" bufferSize="0.8" '
            f'bufferColor="255,255,255,255"/></text-style>{place}<rendering displayAll="{int(show_all)}"'
            + (f' scaleVisibility="1" scaleMin="1" scaleMax="{max_scale:g}"' if max_scale else "")
            + '/></settings></labeling>')


def _case(field: str, legend: dict[str, tuple[str, str]]) -> str:
    """A QGIS expression giving each value's legend text (``body`` -> ``Body (integrated IP centre)``)."""
    whens = " ".join(f"WHEN \"{field}\" = '{k}' THEN '{lab.replace(chr(39), chr(39) * 2)}'"
                     for k, (_, lab) in legend.items())
    return f'CASE {whens} ELSE "{field}" END'


def _vector_qml(item: Item) -> str:
    import geopandas as gpd

    cols = {c.lower(): c for c in item.columns}
    kind = _geom_kind(item.geom_type)
    labels = ""
    if item.role == "layout":
        lname = (item.layer or "").lower()
        if "module" in cols and ("module" in lname or "district" not in cols):
            cats = [(k, v[0], v[1]) for k, v in MODULE_COLOURS.items()]
            renderer = _categorized(cols["module"], cats, kind)
            labels = _labeling(_case(cols["module"], MODULE_COLOURS), expression=True, max_scale=150_000)
        else:
            cats = [(k, v[0], v[1]) for k, v in DISTRICT_COLOURS.items()]
            renderer = _categorized(cols["district"], cats, kind)
            if "cells" not in lname:
                labels = _labeling(_case(cols["district"], DISTRICT_COLOURS), expression=True, priority=9,
                                   show_all=True, max_scale=150_000)
        return _wrap_vector(renderer, labels)
    if item.role == "hotspots":
        cls = next((cols[c] for c in CLASS_COLUMNS if c in cols), None)
        if cls is not None:
            # semi-transparent, "not significant" unfilled: the surfaces stay visible under the hot spots
            hcats: list[tuple[Any, str, str]] = [(k, v[0], v[1]) for k, v in HOTSPOT_CLASSES.items()]
            alpha: dict[Any, int] = {k: 150 for k, _, _ in hcats} | {0: 0}
            if cls.lower() == "cluster":
                hcats = [(k, v[0], v[1]) for k, v in MORAN_CLUSTERS.items()]
                alpha = {k: 150 for k, _, _ in hcats} | {"ns": 0}
            return _wrap_vector(_categorized(cls, hcats, kind, alpha=alpha), "")
    if item.stage == "network":  # context for the rest: thin grey roads, small junctions (off by default)
        if kind == "marker":
            return _wrap_vector(f'<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" '
                                f'forceraster="0"><symbols>{_symbol(kind, "0", "#7f7f7f", size=0.8)}</symbols>'
                                '</renderer-v2>', "")
        return _wrap_vector(_single(kind, "#9e9e9e"), "")
    gdf = gpd.read_file(item.path, layer=item.layer, engine="pyogrio", ignore_geometry=True)
    if item.role == "sites":
        return _sites_qml(gdf, kind)
    from iptown_gis.report.maps import _numeric_column

    num_col = _numeric_column(gdf, prefer=RESULT_COLUMNS) if kind != "line" else None
    if num_col is None or len(gdf) > 20_000:
        if kind == "line":
            return _wrap_vector(_single(kind, "#8c8c8c"), "")
        return _wrap_vector(_single(kind, "#4393c3"), "")
    vals = gdf[num_col].astype(float).dropna().to_numpy()
    attr = f'"{num_col}"'
    if num_col in PERCENT_COLUMNS | POINTS_COLUMNS:
        vals, attr = vals * 100.0, f'"{num_col}" * 100'
    unit = column_unit(num_col) or surface_unit(num_col)
    diverging = (num_col.startswith("d_") or "change" in num_col) and vals.min() < 0 < vals.max()
    if diverging:
        lim = float(np.abs(vals).max())
        breaks = np.linspace(-lim, lim, 7).tolist()  # symmetric, from the data
    else:
        breaks = sorted(np.unique(np.quantile(vals, np.linspace(0, 1, 6))).tolist())
    if len(breaks) < 2:
        return _wrap_vector(_single(kind, "#4393c3"), "")
    name_col = next((cols[c] for c in ("name", "unit_name") if c in cols), None)
    labels = _labeling(name_col, kind=kind) if name_col and kind == "fill" and len(gdf) <= 30 else ""
    return _wrap_vector(_graduated(attr, breaks, kind, unit=unit, diverging=diverging), labels)


def _sites_qml(gdf: Any, kind: str) -> str:
    """Candidates graduated by score (top 10 labelled by rank); chosen towns labelled by town no. and name."""
    cols = {c.lower(): c for c in gdf.columns}
    name = next((cols[c] for c in ("name", "unit_name", "site_name") if c in cols), None)
    code = next((cols[c] for c in ("site_id", "adcode") if c in cols), None)
    who = " || ".join(x for x in (f'"{name}"' if name else "", f"' (' || to_string(\"{code}\") || ')'" if code else "")
                      if x) or "''"
    if "choice" in cols:
        expr = f'\'Town \' || to_string("choice") || \': \' || {who}'
        cats = [(int(v), "#d7301f", f"Town {int(v)}") for v in sorted(gdf[cols["choice"]].dropna().unique())]
        lab = _labeling(expr, expression=True, kind=kind, priority=10, show_all=True)
        return _wrap_vector(_categorized(cols["choice"], cats, kind), lab)
    score = cols.get("score") or cols.get("total_score")
    labels = ""
    if "rank" in cols:
        # "rank 2: ..." (not "2. ..."): the chosen towns' numbers are town numbers, never ranks
        rank = cols["rank"]
        labels = _labeling(f'CASE WHEN "{rank}" <= 10 THEN \'rank \' || to_string("{rank}") || \': \' || {who} END',
                           expression=True, kind=kind, priority=3)
    if score is None:
        return _wrap_vector(_single(kind, "#4393c3"), labels)
    vals = gdf[score].astype(float).dropna().to_numpy()
    if vals.size < 2 or vals.min() == vals.max():
        return _wrap_vector(_single(kind, "#4393c3"), labels)
    breaks = sorted(np.unique(np.quantile(vals, np.linspace(0, 1, 6))).tolist())
    return _wrap_vector(_graduated(f'"{score}"', breaks, kind, unit="(score, 1 = best)"), labels)


def _wrap_vector(renderer: str, labeling: str) -> str:
    return (f'{_HEADER}<qgis version="3.22.0" styleCategories="Symbology|Labeling" '
            f'labelsEnabled="{1 if labeling else 0}">{renderer}{labeling}<blendMode>0</blendMode>'
            '<featureBlendMode>0</featureBlendMode><layerOpacity>1</layerOpacity></qgis>\n')


def _raster_qml(item: Item) -> str:
    import rasterio

    with rasterio.open(item.path) as src:
        scale = max(src.width / 1500, src.height / 1500, 1.0)
        data = src.read(1, masked=True, out_shape=(max(int(src.height / scale), 1), max(int(src.width / scale), 1)))
        tags = src.tags()
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
        name = tags.get("iptown_surface") or item.path.stem
        mean = float(vals.mean()) if vals.size else 0.0
        if name in INDEX_SURFACES and mean:
            labs = [f"{v / mean * 100:.0f} (index, province mean = 100)" for v in stops]
        else:
            unit = tags.get("units") or surface_unit(name, tags)
            labs = [f"{_num(float(v))} {unit}".strip() for v in stops]
        items = "".join(f'<item alpha="255" value="{v:.10g}" label={quoteattr(lab)} color="{c}"/>'
                        for v, c, lab in zip(stops, cols, labs, strict=True))
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
#: Layer tree groups, top first (what is drawn on top comes first).
_GROUP_ORDER = ["Town layout", "Sites", "Hot spots", "NEG scenarios", "Zonal statistics", "Other layers",
                "Road network", "Surfaces", "Context"]
#: Surfaces on when the project opens (the others one click away: stacked rasters hide each other).
_VISIBLE_SURFACES = ("market_potential",)


def _group(it: Item) -> str:
    town = re.match(r"town (\d+) ", it.description or "")
    if it.role == "layout" and town:
        return f"Town {town.group(1)} layout"  # one group per town (a map theme and a bookmark each)
    if it.role == "vector" and it.stage == "neg":
        return "NEG scenarios"
    if it.role == "vector" and it.stage == "network":
        return "Road network"
    if it.role == "vector" and it.stage == "surfaces" and it.path.stem.startswith("zonal"):
        return "Zonal statistics"
    return _ROLE_GROUP.get(it.role, "Other layers")


def _within_group(it: Item) -> int:
    """Order inside a group: modules above districts above cells; chosen towns above candidates."""
    lname = (it.layer or it.path.stem).lower()
    for i, word in enumerate(("modules", "districts", "cells", "selected", "anchors", "ranked", "edges", "nodes")):
        if word in lname:
            return i
    return 9


def _visible(it: Item, group: str) -> bool:
    if it.role == "layout":
        return "cells" not in (it.layer or "")
    if group in ("Road network", "NEG scenarios", "Zonal statistics", "Other layers"):
        return group == "Road network" and (it.layer or "") == "edges"
    if it.role == "surface":
        return it.path.stem in _VISIBLE_SURFACES
    return True


def _first_crs(items: Sequence[Item]) -> str | None:
    """The CRS (WKT or authority code) of the run's first map layer with one."""
    import pyogrio
    import pyproj
    import rasterio

    for it in items:
        if not it.is_map_layer:
            continue
        try:
            if it.is_raster:
                with rasterio.open(it.path) as src:
                    c = src.crs.to_wkt() if src.crs else None
            else:
                c = pyogrio.read_info(it.path, layer=it.layer).get("crs")
        except Exception:  # unreadable: try the next
            continue
        if c:
            pc = pyproj.CRS.from_user_input(c)
            epsg = pc.to_epsg()
            return f"EPSG:{epsg}" if epsg else pc.to_wkt()
    return None


def _bookmarks(items: Sequence[Item], crs: Any, *, half_width: float = 15_000.0) -> list[dict[str, Any]]:
    """A bookmark per chosen town (``Town 1: 瑶海区 (340102)``), ``half_width`` metres around it."""
    import geopandas as gpd

    out: list[dict[str, Any]] = []
    for it in items:
        if it.role != "sites" or "choice" not in [c.lower() for c in it.columns]:
            continue
        try:
            gdf = gpd.read_file(it.path, layer=it.layer, engine="pyogrio")
            if crs is not None and gdf.crs is not None:
                gdf = gdf.to_crs(crs)
        except Exception as exc:  # no bookmarks rather than no project
            log.warning("report: no town bookmarks from %s: %s", it.path, exc)
            continue
        if gdf.crs is None or gdf.crs.is_geographic:
            continue
        for _, r in gdf.sort_values("choice").iterrows():
            pt = r.geometry.representative_point()
            out.append({"name": f"Town {int(r['choice'])}: {place_name(r)}",
                        "extent": [pt.x - half_width, pt.y - half_width, pt.x + half_width, pt.y + half_width]})
        break
    return out


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
    extent: Sequence[float] | None = None,
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
    timeout
        Seconds QGIS may take.
    extent
        ``(minx, miny, maxx, maxy)`` in ``crs`` the project opens on (the province); default:
        the first context layer's extent, else every layer's.

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
    if crs is None:  # a study whose CRS came from the data: the project takes its layers' (metric) CRS
        crs = _first_crs(items)
    py = python or find_qgis_python()
    if py is None:
        msg = ("no Python with PyQGIS found: install QGIS (Debian: python3-qgis) or set IPTOWN_QGIS_PYTHON; "
               "QML styles were written beside each layer")
        if require:
            raise DependencyError(msg)
        log.warning("report: %s", msg)
        return None
    layers = []
    order = {g: i for i, g in enumerate(_GROUP_ORDER)}
    seen: dict[str, int] = {}
    def rank(i: Item) -> tuple[float, int]:
        g = _group(i)
        town = re.fullmatch(r"Town (\d+) layout", g)
        return (float(int(town.group(1))) / 1000.0 if town else float(order.get(g, 5)), _within_group(i))

    for it in sorted((i for i in items if i.is_map_layer), key=rank):
        uri = str(it.path.resolve()) + (f"|layername={it.layer}" if it.layer else "")
        qml = styles.get(it.key)
        group = _group(it)
        name = it.title
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # two layers must not share a name in the layer list
            name = f"{name} ({it.key})"
        layers.append({"uri": uri, "provider": "gdal" if it.is_raster else "ogr", "name": name,
                       "group": group,
                       # absolute: QGIS runs in a temporary folder, so a relative QML path is not found
                       "qml": str(Path(qml).resolve()) if qml else None,
                       "visible": _visible(it, group),
                       "opacity": 0.7 if it.role == "hotspots" else (0.85 if it.role == "surface" else 1.0),
                       "expanded": group in ("Town layout", "Town 1 layout", "Sites", "Surfaces")})
    # context layers drawn light (thin grey outlines), on top so they frame every map
    ctx_layers = [{"uri": uri, "provider": "ogr", "name": name, "group": "Context", "qml": None, "visible": True,
                   "outline": True, "outline_width": 0.5 if i == 0 else 0.2,
                   "outline_color": "90,90,90,255" if i == 0 else "150,150,150,255"}
                  for i, (name, uri) in enumerate(context)]
    all_layers = ctx_layers + layers
    spec: dict[str, Any] = {"layers": all_layers, "crs": str(crs) if crs is not None else None, "title": title,
                            "extent": list(extent) if extent is not None else None,
                            "bookmarks": _bookmarks(items, crs)}
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
