"""Printable maps (PNG and PDF, matplotlib) of a run's surfaces, hot spots, sites and layout.

Every map carries a title, a legend (colour bar or class legend), a scale bar, a north arrow,
a note of the coordinate reference system and the data attribution. Province-scale maps draw
the context layers (province outline, prefecture boundaries) under the data; the layout map
is drawn at town scale with its districts and the body's seven modules labelled.

The north arrow points to grid north: in the Gauss-Kruger / UTM projections used for Anhui,
grid and true north differ by under 2 degrees, which the CRS note states.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from iptown_gis.errors import DataNotFoundError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.io.fonts import cjk_font_available, mpl_font_context
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.report.catalogue import Item
from iptown_gis.study.labels import PERCENT_COLUMNS, POINTS_COLUMNS, column_label, format_id, place_name

__all__ = ["CLASS_COLUMNS", "DISTRICT_COLOURS", "HOTSPOT_CLASSES", "MODULE_COLOURS", "MORAN_CLUSTERS", "crs_note",
           "make_maps", "map_item", "map_layout"]

log = logging.getLogger(__name__)

#: District colours and labels of a "one body, two wings" layout.
DISTRICT_COLOURS: dict[str, tuple[str, str]] = {
    "body": ("#e66101", "Body (integrated IP centre)"),
    "wing_east": ("#5e3c99", "East wing (cultural copyright)"),
    "wing_west": ("#1b7837", "West wing (industrial property)"),
    "unassigned": ("#f0f0f0", "Unassigned"),
}
#: Module colours of the body (seven functions of the demonstration complex).
MODULE_COLOURS: dict[str, tuple[str, str]] = {
    "ip_management": ("#fdb863", "IP management"),
    "ip_trading": ("#e08214", "IP trading"),
    "ip_services": ("#fee0b6", "IP services"),
    "ip_education": ("#b2abd2", "IP education"),
    "think_tank": ("#8073ac", "Think tank"),
    "ip_culture": ("#d8daeb", "IP culture"),
    "ip_finance": ("#b35806", "IP finance"),
}
#: Hot-spot classes (Gi* / local Moran confidence bins) -> (colour, label).
HOTSPOT_CLASSES: dict[int, tuple[str, str]] = {
    -3: ("#2166ac", "Cold spot, 99% confidence"),
    -2: ("#67a9cf", "Cold spot, 95% confidence"),
    -1: ("#d1e5f0", "Cold spot, 90% confidence"),
    0: ("#f0f0f0", "Not significant"),
    1: ("#fddbc7", "Hot spot, 90% confidence"),
    2: ("#ef8a62", "Hot spot, 95% confidence"),
    3: ("#b2182b", "Hot spot, 99% confidence"),
}
#: Local Moran cluster labels (significant quadrants) -> (colour, label).
MORAN_CLUSTERS: dict[str, tuple[str, str]] = {
    "HH": ("#d7191c", "High-high cluster"),
    "HL": ("#fdae61", "High-low outlier"),
    "LH": ("#abd9e9", "Low-high outlier"),
    "LL": ("#2c7bb6", "Low-low cluster"),
    "ns": ("#eeeeee", "Not significant"),
}
CLASS_COLUMNS = ("gi_bin", "hotspot_class", "hotspot", "class", "gi_class", "lisa_class", "cluster")
_LABEL_COLUMNS = ("name", "unit_name", "site_name", "name_en", "label", "site_id", "id")
_SKIP_NUMERIC = {"adcode", "parent_adcode", "fid", "id", "geonameid", "county_adcode",
                 "prefecture_adcode", "lon", "lat", "x", "y", "row", "col", "cell_id", "index", "area_km2",
                 "pop_2020", "gdp_2022", "gdp_growth_2022", "tau", "region_id", "u", "v", "u_id", "v_id",
                 "source_row", "n_cells"}
#: Result columns preferred for a choropleth, in order.
RESULT_COLUMNS = ("d_share", "share", "score", "value", "mean", "potential", "density", "real_wage", "gi_z",
                  "time_min")
_MAX_RASTER_PIXELS = 1200
#: Surfaces in model units, mapped as an index (province mean = 100).
INDEX_SURFACES = frozenset({"neg_market_access"})


_F = TypeVar("_F", bound=Callable[..., Any])


def _with_fonts(func: _F) -> _F:
    """Run ``func`` inside :func:`~iptown_gis.io.fonts.mpl_font_context` (CJK-capable chain)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with mpl_font_context():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def crs_note(crs: Any) -> str:
    """A one-line note naming a CRS (EPSG code and name)."""
    if crs is None:
        return "CRS: unknown"
    import pyproj

    c = pyproj.CRS.from_user_input(crs)
    epsg = c.to_epsg()
    code = f"EPSG:{epsg}" if epsg else "custom"
    north = "north arrow: grid north" if not c.is_geographic else "north arrow: true north"
    return f"CRS: {code}, {c.name} ({north})"


def _font_can_render(text: str) -> bool:
    """True if the map fonts have glyphs for every character (no CJK font = no Chinese labels)."""
    if all(ord(ch) < 0x250 for ch in text):
        return True
    return cjk_font_available()


def _nice_length(span: float) -> float:
    target = span / 5.0
    if target <= 0 or not math.isfinite(target):
        return 1.0
    exp = math.floor(math.log10(target))
    for m in (5.0, 2.0, 1.0):
        if m * 10**exp <= target:
            return m * 10**exp
    return 10**exp


def _furniture(fig: Any, ax: Any, *, title: str, subtitle: str, crs: Any, attribution: str) -> None:
    """Title, scale bar (under the map), north arrow (beside it), CRS note and attribution."""
    import pyproj
    from matplotlib.patches import FancyArrow, Rectangle
    from matplotlib.transforms import blended_transform_factory

    ax.set_title(_wrap(title, 62), fontsize=13, fontweight="bold", loc="left", pad=18)
    if subtitle:
        ax.text(0.0, 1.01, subtitle, transform=ax.transAxes, fontsize=8.5, color="#444444", va="bottom")
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    geographic = crs is not None and pyproj.CRS.from_user_input(crs).is_geographic
    m_per_unit = 111_320.0 * math.cos(math.radians((y0 + y1) / 2.0)) if geographic else 1.0
    span_m = (x1 - x0) * m_per_unit
    length_m = _nice_length(span_m * 1.25)
    length = length_m / m_per_unit
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    bx = x0
    by, h = -0.045, 0.014
    for i in range(4):
        ax.add_patch(Rectangle((bx + i * length / 4, by), length / 4, h, transform=trans, clip_on=False,
                               facecolor="black" if i % 2 == 0 else "white", edgecolor="black",
                               linewidth=0.6))
    unit, div = ("km", 1000.0) if length_m >= 1000 else ("m", 1.0)
    for frac in (0.0, 0.5, 1.0):
        lab = f"{length_m * frac / div:g}" + (f" {unit}" if frac == 1.0 else "")
        ax.text(bx + frac * length, by - 0.006, lab, transform=trans, ha="center", va="top", fontsize=7.5,
                clip_on=False)
    fig.text(0.755, 0.905, "N", ha="center", va="bottom", fontsize=12, fontweight="bold")
    fig.patches.append(
        FancyArrow(
            0.755, 0.835, 0, 0.065, width=0.009, head_width=0.024, head_length=0.025, color="black",
            transform=fig.transFigure, figure=fig, length_includes_head=True)
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_aspect("equal")
    fig.text(0.015, 0.035, crs_note(crs), fontsize=7.5, color="#333333", ha="left", va="bottom")
    fig.text(0.015, 0.008, _wrap(attribution, 140), fontsize=6.5, color="#555555", ha="left", va="bottom")


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if len(text) > width else text


def _new_figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 8.0), layout=None)
    ax = fig.add_axes((0.03, 0.13, 0.68, 0.76))
    return fig, ax


_PAD_INCHES = 0.2


def _tight_box(fig: Any, dpi: int) -> tuple[Any, Any, Any]:
    """Draw ``fig`` once with Agg at ``dpi``; return (the canvas, its tight box, that box padded),
    in inches.

    The padded box is what ``savefig(bbox_inches="tight", pad_inches=0.2)`` computes, so every
    format gets the same frame without a layout draw of its own."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    fig.patch.set_facecolor("white")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    tight = fig.get_tightbbox(canvas.get_renderer())
    return canvas, tight, tight.padded(_PAD_INCHES)


def _png_from_canvas(canvas: Any, tight: Any, box: Any, dpi: int, target: Path) -> bool:
    """Write the part ``box`` (inches) of the drawn Agg buffer as a PNG, the padding outside the
    figure white; ``False`` when a drawn artist reaches outside the figure (then only a fresh
    render can show it)."""
    from PIL import Image

    buf = np.asarray(canvas.buffer_rgba())
    h, w = buf.shape[:2]
    fw, fh = w / dpi, h / dpi
    if tight.x0 < -1e-9 or tight.y0 < -1e-9 or tight.x1 > fw + 1e-9 or tight.y1 > fh + 1e-9:
        return False
    # pixel frame of the box as savefig sizes it (Agg truncates the size); the origin is rounded
    # to a whole pixel (savefig's own render is shifted by the fraction instead)
    x0 = round(box.x0 * dpi)
    y0 = round((fh - box.y1) * dpi)
    bw, bh = int(box.width * dpi), int(box.height * dpi)
    out = np.full((bh, bw, 3), 255, dtype=np.uint8)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + bw, w), min(y0 + bh, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return False
    out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = buf[sy0:sy1, sx0:sx1, :3]
    with atomic_path(target) as tmp:
        # zlib level 3: as small as the default 6 on these maps, a quarter faster
        Image.fromarray(out).save(tmp, format="png", dpi=(dpi, dpi), compress_level=3)
    return True


def _save(fig: Any, base: Path, formats: Sequence[str], dpi: int) -> list[Path]:
    """Write ``fig`` as ``base.<fmt>`` for each format, cropped to its tight box.

    One Agg draw gives the tight box and the PNG pixels; the PDF is drawn once more with that
    box (``savefig`` with ``bbox_inches="tight"`` would draw each format twice)."""
    import matplotlib

    out = []
    with mpl_font_context():
        canvas, tight, box = _tight_box(fig, dpi)
        for fmt in formats:
            target = base.with_suffix(f".{fmt}")
            if fmt != "png" or not _png_from_canvas(canvas, tight, box, dpi, target):
                # PDF streams deflated at level 1: the sample's 22 PDFs take 3 s less, 12 % more bytes
                with atomic_path(target) as tmp, matplotlib.rc_context({"pdf.compression": 1}):
                    fig.savefig(tmp, format=fmt, dpi=dpi, facecolor="white", bbox_inches=box)
            out.append(target)
    return out


def _draw_context(ax: Any, context: Sequence[Any], *, zorder_base: float = 1.0) -> None:
    for i, gdf in enumerate(context):
        if gdf is None or len(gdf) == 0:
            continue
        lw = 1.4 if i == 0 else 0.5
        color = "#222222" if i == 0 else "#777777"
        gdf.boundary.plot(ax=ax, color=color, linewidth=lw, zorder=zorder_base + 10 - i)


def _frame(ax: Any, bounds: Sequence[float], pad: float = 0.03) -> None:
    minx, miny, maxx, maxy = bounds
    dx = (maxx - minx) or 1.0
    dy = (maxy - miny) or 1.0
    ax.set_xlim(minx - pad * dx, maxx + pad * dx)
    ax.set_ylim(miny - pad * dy, maxy + pad * dy)


def _read_raster(path: Path) -> tuple[np.ma.MaskedArray, tuple[float, float, float, float], Any, str]:
    import rasterio

    try:
        with rasterio.open(path) as src:
            scale = max(src.width / _MAX_RASTER_PIXELS, src.height / _MAX_RASTER_PIXELS, 1.0)
            shape = (max(int(src.height / scale), 1), max(int(src.width / scale), 1))
            data = src.read(1, masked=True, out_shape=shape,
                            resampling=rasterio.enums.Resampling.average if scale > 1 else
                            rasterio.enums.Resampling.nearest)
            b = src.bounds
            desc = (src.descriptions[0] or "") if src.descriptions else ""
            tags = src.tags()
            name = tags.get("iptown_surface") or desc or path.stem
            units = tags.get("units", "") or (src.units[0] if src.units else "") or ""
            label = column_label(name, tags=tags) if not units else f"{column_label(name).split(' (')[0]} ({units})"
            data = np.ma.masked_invalid(data)
            if name in INDEX_SURFACES and data.count():
                data = data / float(data.mean()) * 100.0
                label = f"{column_label(name).split(' (')[0]} (index, province mean = 100)"
            return data, (b.left, b.right, b.bottom, b.top), src.crs, label
    except rasterio.errors.RasterioIOError as exc:
        raise DataNotFoundError(f"cannot read raster {str(path)!r}: {exc}") from exc


def _is_class_raster(data: np.ma.MaskedArray) -> bool:
    vals = data.compressed()
    if vals.size == 0:
        return False
    uniq = np.unique(vals)
    return bool(uniq.size <= 7 and np.all(np.isin(uniq, list(HOTSPOT_CLASSES))))


def _legend(ax: Any, handles: list[Any], title: str) -> None:
    ax.figure.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(0.73, 0.81),
                     fontsize=8, title_fontsize=9, frameon=False, alignment="left")


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, edgecolor="#333333", linewidth=0.5, label=label)


def _colorbar(fig: Any, mappable: Any, label: str, *, extend: str = "neither",
              rect: tuple[float, float, float, float] = (0.745, 0.31, 0.022, 0.47)) -> None:
    cax = fig.add_axes(rect)
    cb = fig.colorbar(mappable, cax=cax, extend=extend)
    cb.set_label(label, fontsize=9)
    cb.ax.tick_params(labelsize=8)


def _map_raster(item: Item, context: Sequence[Any], crs: Any) -> tuple[Any, Any]:
    from matplotlib.colors import BoundaryNorm, ListedColormap, TwoSlopeNorm

    data, extent, rcrs, label = _read_raster(item.path)
    fig, ax = _new_figure()
    if data.count() == 0:
        raise DataNotFoundError(f"raster {str(item.path)!r} has no data cells: nothing to map")
    if item.role == "hotspots" and _is_class_raster(data):
        keys = sorted(HOTSPOT_CLASSES)
        cmap = ListedColormap([HOTSPOT_CLASSES[k][0] for k in keys])
        norm = BoundaryNorm([k - 0.5 for k in keys] + [keys[-1] + 0.5], cmap.N)
        ax.imshow(data, extent=extent, cmap=cmap, norm=norm, interpolation="nearest", zorder=2)
        present = set(np.unique(data.compressed()).astype(int).tolist())
        _legend(ax, [_patch(HOTSPOT_CLASSES[k][0], HOTSPOT_CLASSES[k][1]) for k in keys[::-1] if k in present],
                "Local statistic")
    elif item.role == "hotspots":
        vals = data.compressed()
        lim = float(max(np.nanpercentile(np.abs(vals), 99), 2.58))
        im = ax.imshow(data, extent=extent, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -lim, lim),
                       interpolation="nearest", zorder=2)
        _colorbar(fig, im, label or "z-score (|z| > 1.96: significant at 5%)", extend="both")
    else:
        vals = data.compressed()
        lo, hi = (float(v) for v in np.nanpercentile(vals, [2, 98]))
        if hi <= lo:
            lo, hi = float(vals.min()), float(vals.max()) + 1e-12
        im = ax.imshow(data, extent=extent, cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest", zorder=2)
        _colorbar(fig, im, _wrap(label or column_label(item.key), 48) + "\n(colours: 2nd-98th percentile)",
                  extend="both")
    ctx_layers = [c.to_crs(rcrs) for c in context if c is not None and len(c)]
    _draw_context(ax, ctx_layers, zorder_base=3)
    _frame(ax, (extent[0], extent[2], extent[1], extent[3]), pad=0.02)
    return fig, ax


def _label_column(gdf: Any) -> str | None:
    for col in _LABEL_COLUMNS:
        if col in gdf.columns:
            vals = gdf[col].dropna().astype(str)
            if len(vals) and all(_font_can_render(v) for v in vals.head(50)):
                return col
    return None


def _numeric_column(gdf: Any, prefer: Sequence[str] = ()) -> str | None:
    import geopandas as gpd
    import pandas as pd

    for col in prefer:
        for c in gdf.columns:
            if c.lower() == col and pd.api.types.is_numeric_dtype(gdf[c]) and not pd.api.types.is_bool_dtype(gdf[c]) \
                    and gdf[c].nunique() > 1:
                return str(c)
    gname = gdf.geometry.name if isinstance(gdf, gpd.GeoDataFrame) else None
    for c in gdf.columns:
        if c == gname or c.lower() in _SKIP_NUMERIC or c.lower().endswith("_id") or c.lower() in (
                "town_no", "choice", "rank", "rank_p05", "rank_median", "rank_p95"):
            continue
        if pd.api.types.is_numeric_dtype(gdf[c]) and not pd.api.types.is_bool_dtype(gdf[c]) \
                and gdf[c].notna().any() and gdf[c].nunique() > 1:
            return str(c)
    return None


def _read_layer(item: Item, crs: Any) -> Any:
    import geopandas as gpd

    gdf = gpd.read_file(item.path, layer=item.layer, engine="pyogrio")
    if crs is not None and gdf.crs is not None:
        gdf = gdf.to_crs(crs)
    return gdf


def _map_sites(item: Item, gdf: Any, context: Sequence[Any], crs: Any, top: int = 10) -> tuple[Any, Any]:
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    fig, ax = _new_figure()
    _draw_context(ax, context)
    rank_col = next((c for c in gdf.columns if c.lower() == "rank"), None)
    chosen = "choice" in gdf.columns  # the chosen towns: numbered by town no., as in the report and files
    if chosen:
        rank_col = "choice"
    score_col = _numeric_column(gdf, prefer=("score", "total_score", "suitability"))
    pts = gdf.copy()
    if pts.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        pts["geometry"] = pts.representative_point()
    if rank_col is not None:
        pts = pts.sort_values(rank_col)
    values = pts[score_col] if score_col else None
    others = pts.iloc[top:]
    best = pts.iloc[:top]
    if len(others):
        others.plot(ax=ax, color="#9e9e9e", markersize=9, zorder=5, alpha=0.7)
    if values is not None:
        sc = ax.scatter(best.geometry.x, best.geometry.y, c=best[score_col], cmap="plasma", s=110,
                        edgecolors="black", linewidths=0.8, zorder=7,
                        vmin=float(values.min()), vmax=float(values.max()))
        what = "chosen towns" if chosen else f"top {len(best)} coloured"
        _colorbar(fig, sc, _wrap(f"{column_label(str(score_col))}, {what}", 40), rect=(0.745, 0.52, 0.022, 0.27))
    else:
        best.plot(ax=ax, color="#d7301f", markersize=110, edgecolor="black", zorder=7)
    labels = _label_column(best)
    id_col = next((c for c in ("site_id", "adcode", "id") if c in best.columns), None)
    listing = []
    # draw the best last so rank 1 is on top where markers overlap
    for i, (_, row) in reversed(list(enumerate(best.iterrows()))):
        rank = int(row[rank_col]) if rank_col is not None and np.isfinite(row[rank_col]) else i + 1
        ax.annotate(str(rank), (row.geometry.x, row.geometry.y), ha="center", va="center", fontsize=7,
                    fontweight="bold", color="white", zorder=8,  # readable on dark and light markers
                    path_effects=[patheffects.withStroke(linewidth=1.8, foreground="black")])
        if labels or id_col:
            name = place_name(row, id_col=id_col) if labels else format_id(row[id_col])
            listing.append(f"{rank:>2}  {name}")
    head = "Chosen towns (no., name, code)" if chosen else "Top sites (rank, name, code)"
    if listing:
        fig.text(0.735, 0.47, f"{head}\n" + "\n".join(reversed(listing)),
                 fontsize=7.5, va="top", ha="left", family="monospace")
    mark = f"Chosen towns ({len(best)}, number = town no.)" if chosen else f"Top {len(best)} (number = rank)"
    handles = [Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor="#f89540",
                      markeredgecolor="black", label=mark)]
    if len(others):
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=4, color="#9e9e9e",
                              label=f"Other candidates ({len(others)})"))
    handles.append(Line2D([], [], color="#222222", linewidth=1.4, label="Province"))
    if len(context) > 1:
        handles.append(Line2D([], [], color="#777777", linewidth=0.5, label="Prefectures"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.73, 0.25 if listing else 0.47), fontsize=8,
               frameon=False, title="Candidates", title_fontsize=9, alignment="left")
    bounds = context[0].total_bounds if context else pts.total_bounds
    _frame(ax, bounds)
    return fig, ax


def _map_vector(item: Item, gdf: Any, context: Sequence[Any], crs: Any) -> tuple[Any, Any]:
    import pandas as pd
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D

    fig, ax = _new_figure()
    _draw_context(ax, context, zorder_base=6)
    gtypes = set(gdf.geom_type)
    col = None
    low = {c.lower(): c for c in gdf.columns}
    cls_col = next((low[c] for c in CLASS_COLUMNS if c in low), None)
    if item.role == "hotspots" and cls_col is not None and not pd.api.types.is_numeric_dtype(gdf[cls_col]) \
            and set(gdf[cls_col].dropna().astype(str).unique()).issubset(MORAN_CLUSTERS):
        colours = gdf[cls_col].astype(str).map(lambda v: MORAN_CLUSTERS[v][0])
        gdf.plot(ax=ax, color=colours, edgecolor="#555555", linewidth=0.3, zorder=2)
        seen = set(gdf[cls_col].astype(str))
        _legend(ax, [_patch(*MORAN_CLUSTERS[k]) for k in MORAN_CLUSTERS if k in seen], "Local Moran's I")
    elif item.role == "hotspots" and cls_col is not None and pd.api.types.is_integer_dtype(gdf[cls_col]) \
            and set(gdf[cls_col].dropna().unique()).issubset(HOTSPOT_CLASSES):
        colours = gdf[cls_col].map(lambda v: HOTSPOT_CLASSES[int(v)][0])
        gdf.plot(ax=ax, color=colours, edgecolor="#555555", linewidth=0.3, zorder=2)
        present = sorted(set(gdf[cls_col].astype(int)), reverse=True)
        _legend(ax, [_patch(*HOTSPOT_CLASSES[k]) for k in present], "Local statistic")
    else:
        zcols = ("gi_z", "z", "gistar_z", "z_score", "zscore", "moran_z_sim", "moran_i")
        prefer = zcols if item.role == "hotspots" else RESULT_COLUMNS
        col = _numeric_column(gdf, prefer=prefer)
        if col is not None and gtypes & {"Polygon", "MultiPolygon", "Point", "MultiPoint"}:
            vals = gdf[col].astype(float)
            if col in PERCENT_COLUMNS | POINTS_COLUMNS:
                vals = vals * 100.0  # fractions shown as % / percentage points
            gdf = gdf.assign(**{col: vals})
            if (item.role == "hotspots" or col.lower().startswith("d_") or "change" in col.lower()) \
                    and vals.min() < 0 < vals.max():
                # symmetric about 0, scaled to the data (z-scores: at least the 1% critical value)
                lim = float(np.nanmax(np.abs(vals)))
                if item.role == "hotspots":
                    lim = max(float(np.nanpercentile(np.abs(vals), 99)), 2.58)
                lim = lim if lim > 0 else 1.0
                kw: dict[str, Any] = {"cmap": "RdBu_r", "norm": TwoSlopeNorm(0.0, -lim, lim)}
            else:
                kw = {"cmap": "viridis", "vmin": float(vals.quantile(0.02)), "vmax": float(vals.quantile(0.98))}
            gdf.plot(ax=ax, column=col, edgecolor="#555555", linewidth=0.3, zorder=2,
                     markersize=18, **kw)
            import matplotlib.cm as cm

            sm = cm.ScalarMappable(cmap=kw["cmap"], norm=kw.get("norm"))
            if "norm" not in kw:
                sm.set_clim(kw["vmin"], kw["vmax"])
            _colorbar(fig, sm, _wrap(column_label(col), 40), extend="both")
        else:
            is_line = bool(gtypes & {"LineString", "MultiLineString"})
            gdf.plot(ax=ax, color="#b2182b" if is_line else "#4393c3", linewidth=0.6, markersize=10,
                     edgecolor="#333333" if not is_line else None, zorder=2)
            _legend(ax, [Line2D([], [], color="#b2182b", linewidth=1.5, label=_wrap(item.title, 36))]
                    if is_line else [_patch("#4393c3", _wrap(item.title, 36))], "Layer")
    bounds = context[0].total_bounds if context else gdf.total_bounds
    _frame(ax, bounds)
    return fig, ax


@_with_fonts
def map_layout(districts: Any, modules: Any | None, *, crs: Any) -> tuple[Any, Any]:
    """A figure of a layout: districts filled by type, the body's modules labelled.

    Parameters
    ----------
    districts
        The layout's district polygons (GeoDataFrame) with a ``district`` column (any case):
        ``body``, the wings, ...; each is filled with its :data:`DISTRICT_COLOURS` colour.
    modules
        The body's module polygons with a ``module`` column (any case), drawn over a faded
        body and labelled; ``None`` or empty: no modules (every district is labelled).
    crs
        The layout's CRS; not used by the drawing (the layers are drawn as given).

    Returns
    -------
    (matplotlib.figure.Figure, matplotlib.axes.Axes)
        The figure and its map axes, without title or furniture.
    """
    fig, ax = _new_figure()
    dcol = next(c for c in districts.columns if c.lower() == "district")
    handles = []
    for name, sub in districts.groupby(dcol):
        colour, label = DISTRICT_COLOURS.get(str(name), ("#cccccc", str(name)))
        alpha = 0.35 if modules is not None and len(modules) and str(name) == "body" else 0.9
        sub.plot(ax=ax, color=colour, edgecolor="black", linewidth=1.2, alpha=alpha, zorder=2)
        handles.append(_patch(colour, label))
        if str(name) != "body" or modules is None or not len(modules):
            pt = sub.union_all().representative_point()
            ax.annotate(str(name).replace("_", " "), (pt.x, pt.y), ha="center", fontsize=10,
                        fontweight="bold", color="white", zorder=9,
                        bbox={"facecolor": "#00000066", "edgecolor": "none", "pad": 1.5})
    if modules is not None and len(modules):
        mcol = next(c for c in modules.columns if c.lower() == "module")
        for name, sub in modules.groupby(mcol):
            colour, label = MODULE_COLOURS.get(str(name), ("#dddddd", str(name)))
            sub.plot(ax=ax, color=colour, edgecolor="#333333", linewidth=0.6, zorder=3)
            handles.append(_patch(colour, f"Module: {label}"))
            pt = sub.union_all().representative_point()
            ax.annotate(label, (pt.x, pt.y), ha="center", va="center", fontsize=7.5, zorder=9,
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.8})
    _legend(ax, handles, "One body, two wings")
    _frame(ax, districts.total_bounds, pad=0.08)
    return fig, ax


def _subtitle(item: Item) -> str:
    stage = f"stage {item.stage}, " if item.stage else ""
    lay = f":{item.layer}" if item.layer else ""
    return f"{stage}{item.path.name}{lay}"


@_with_fonts
def map_item(
    item: Item,
    out_base: Path,
    *,
    context: Sequence[Any] = (),
    crs: Any = None,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 150,
    attribution: str = "",
    title: str | None = None,
) -> list[Path]:
    """Draw one map layer (a surface, hot spots, sites or any vector) to PNG/PDF.

    Parameters
    ----------
    item
        The layer (see :func:`~iptown_gis.report.catalogue.catalogue`).
    out_base
        Target path without suffix; ``.png`` / ``.pdf`` are added.
    context
        Context GeoDataFrames drawn as outlines (first = province, thicker).
    crs
        Map CRS (metric); defaults to the layer's own.
    formats, dpi, attribution, title
        Output formats, PNG resolution, data credits, title (default: the item's title).

    Returns
    -------
    list of Path
        The files written.
    """
    if item.is_raster:
        fig, ax = _map_raster(item, context, crs)
        import rasterio

        with rasterio.open(item.path) as src:
            map_crs = src.crs.to_wkt() if src.crs else crs
    else:
        gdf = _read_layer(item, crs)
        map_crs = gdf.crs if crs is None else crs
        ctx = [c.to_crs(map_crs) for c in context if c is not None and len(c)] if map_crs is not None else []
        if len(gdf) == 0:
            raise DataNotFoundError(f"layer {str(item.path)!r}:{item.layer} has no features: nothing to map")
        if item.role == "sites":
            fig, ax = _map_sites(item, gdf, ctx, map_crs)
        else:
            fig, ax = _map_vector(item, gdf, ctx, map_crs)
    _furniture(fig, ax, title=title or item.title, subtitle=_subtitle(item), crs=map_crs, attribution=attribution)
    return _save(fig, out_base, formats, dpi)


def _layout_groups(items: Sequence[Item]) -> dict[Path, dict[str, Item]]:
    groups: dict[Path, dict[str, Item]] = {}
    for it in items:
        if it.role != "layout":
            continue
        low = [c.lower() for c in it.columns]
        lname = (it.layer or "").lower()
        if "cells" in lname or ("district" in low and (it.n_features or 0) > 500):
            continue  # per-cell assignment: too fine for a printed map
        part = "modules" if ("module" in low and "modules" in lname) or ("module" in low and "district" not in low) \
            else "districts"
        groups.setdefault(it.path, {}).setdefault(part, it)
    return groups


@_with_fonts
def make_maps(
    items: Sequence[Item],
    out_dir: str | os.PathLike[str],
    *,
    context: Sequence[Any] = (),
    crs: Any = None,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 150,
    attribution: str = "",
    progress: ProgressCallback | Progress | None = None,
) -> list[dict[str, Any]]:
    """Draw every map layer of a run: surfaces, hot spots, sites, layouts and other vectors.

    Network ``nodes`` layers are skipped; a layout's districts and modules make one map.

    Parameters
    ----------
    items
        The run's layers (:func:`~iptown_gis.report.catalogue.catalogue`); only map layers are
        drawn.
    out_dir
        The folder the maps are written to, one ``<key>.<format>`` per map and format.
    context
        Context GeoDataFrames drawn as outlines (first = province, thicker).
    crs
        Map CRS (metric); ``None``: each layer's own.
    formats
        Output formats (default PNG and PDF).
    dpi
        PNG resolution in dots per inch (default 150).
    attribution
        Data credits printed on every map (default none).
    progress
        Progress reporter or callback, one step per map (``None``: silent).

    Returns
    -------
    list of dict
        One per map: ``{"key", "title", "role", "files": [Path, ...], "source": Item}``.

    Raises
    ------
    DataNotFoundError
        A vector map layer has no features.
    """
    prog = as_progress(progress)
    out = Path(out_dir)
    maps: list[dict[str, Any]] = []
    # network nodes are not worth a map of their own (the edges are drawn)
    singles = [it for it in items if it.is_map_layer and it.role != "layout" and (it.layer or "") != "nodes"]
    layouts = _layout_groups(items)
    total = max(len(singles) + len(layouts), 1)
    done = 0
    for it in singles:
        prog.update(done / total, f"map {it.key}")
        files = map_item(it, out / it.key, context=context, crs=crs, formats=formats, dpi=dpi,
                         attribution=attribution)
        maps.append({"key": it.key, "title": it.title, "role": it.role, "files": files, "source": it})
        done += 1
    for path, parts in layouts.items():
        prog.update(done / total, f"layout map {path.name}")
        dist = parts.get("districts")
        if dist is None:
            continue
        dgdf = _read_layer(dist, crs)
        mgdf = _read_layer(parts["modules"], crs) if "modules" in parts else None
        if mgdf is None and "module" in [c.lower() for c in dgdf.columns]:
            mcol = next(c for c in dgdf.columns if c.lower() == "module")
            mgdf = dgdf[dgdf[mcol].notna()]
            dgdf = dgdf[dgdf[mcol].isna()]
        fig, ax = map_layout(dgdf, mgdf, crs=dgdf.crs)
        n_mod = 0 if mgdf is None else len(mgdf)
        town = ""
        if {"town_no", "town_name"} <= set(dgdf.columns) and len(dgdf):
            r0 = dgdf.iloc[0]
            town = f"Town {int(r0['town_no'])}, {r0['town_name']}" + (
                f" ({format_id(r0['town_id'])})" if "town_id" in dgdf.columns else "") + ": "
        title = f"{town or 'Town layout: '}one body, two wings" + (f", {n_mod} modules" if n_mod else "")
        _furniture(fig, ax, title=title, subtitle=_subtitle(dist), crs=dgdf.crs, attribution=attribution)
        key = f"{dist.key.rsplit('_', 1)[0]}_layout"
        files = _save(fig, out / key, formats, dpi)
        maps.append({"key": key, "title": title, "role": "layout", "files": files, "source": dist})
        done += 1
    prog.update(1.0, f"{len(maps)} maps")
    log.info("report: wrote %d maps to %s", len(maps), out)
    return maps
