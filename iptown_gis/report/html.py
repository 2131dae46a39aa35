"""A self-contained HTML report per run (``DIR/report.html``).

The page holds the scenario and its parameters, key figures, the printed maps (PNG embedded
as base64), the scenario comparison tables, every other table, and an interactive Leaflet
web map (built with folium) with the surfaces, hot spots, sites and layout as toggleable
layers. It opens offline without errors: Leaflet's JavaScript and CSS are inlined from the
copy shipped in ``iptown_gis/report/templates/`` (BSD-2-Clause, see ``LEAFLET_LICENSE.txt``),
every external ``<script src>`` / ``<link href>`` folium would add is removed, and no tile
layer is fetched unless ``basemap="osm"`` is asked for.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import os
import re
import string
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from iptown_gis import __version__
from iptown_gis.errors import DependencyError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.io.fonts import CSS_FONT_STACK
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.report.catalogue import Item, RunInfo, flatten_scalars
from iptown_gis.report.maps import CLASS_COLUMNS, DISTRICT_COLOURS, HOTSPOT_CLASSES, MODULE_COLOURS, MORAN_CLUSTERS
from iptown_gis.study.labels import (
    PERCENT_COLUMNS,
    POINTS_COLUMNS,
    STAGES,
    column_label,
    fact_label,
    format_id,
    humanise,
    is_id_column,
    place_name,
    surface_unit,
)

__all__ = ["executive_summary", "key_figures", "web_map", "write_html_report"]

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
_WEB_RASTER_MAX = 900
_WEB_MAX_FEATURES = 25_000
_COMPARE_WORDS = ("scenario", "compar", "policy", "baseline")


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            return str(f)
        if f != 0 and (abs(f) >= 1e6 or abs(f) < 1e-3):
            return f"{f:.4g}"
        return f"{f:,.4f}".rstrip("0").rstrip(".") if abs(f) < 1000 else f"{f:,.1f}"
    return str(v)


# ----------------------------------------------------------------------------- key figures

def _raster_stats(path: Path) -> dict[str, Any]:
    import rasterio

    with rasterio.open(path) as src:
        scale = max(src.width / 2000, src.height / 2000, 1.0)
        data = src.read(1, masked=True, out_shape=(max(int(src.height / scale), 1), max(int(src.width / scale), 1)))
        cell = abs(src.transform.a)
        n = int(src.width * src.height)
        tags = src.tags()
    vals = np.ma.masked_invalid(data).compressed()
    if vals.size == 0:
        return {"cells": n, "data cells": 0}
    grid = f"{n:,} cells of {cell:g} m" if cell > 1 else f"{n:,} cells"
    name = tags.get("iptown_surface") or path.stem
    unit = surface_unit(name, tags)
    u = f" ({unit})" if unit else ""
    out: dict[str, Any] = {"Grid": grid, f"Lowest{u}": float(vals.min()),
                           f"Mean{u}": float(vals.mean()), f"Highest{u}": float(vals.max())}
    return out


def key_figures(info: RunInfo, items: Sequence[Item]) -> dict[str, dict[str, Any]]:
    """Key figures of a run, grouped: run, each raster, sites, layout, summaries, results.

    Returns
    -------
    dict
        ``{group: {figure: value}}`` with scalar values.
    """
    import pyogrio

    figs: dict[str, dict[str, Any]] = {}
    figs["Run"] = {"Stages": ", ".join(STAGES.get(s, s) for s in info.stages) or "(none)",
                   "Output files": len(info.outputs), "Coordinate reference system": info.crs or "(from the data)"}
    if "total" in info.timings:
        figs["Run"]["Run time (s)"] = info.timings["total"]
    for it in items:
        try:
            if it.is_raster:
                figs[it.title] = _raster_stats(it.path)
            elif it.role == "sites":
                import geopandas as gpd

                gdf = gpd.read_file(it.path, layer=it.layer, engine="pyogrio", ignore_geometry=True)
                chosen = "choice" in gdf.columns
                g: dict[str, Any] = {"Chosen towns" if chosen else "Candidate towns": len(gdf)}
                rank = "choice" if chosen else next((c for c in gdf.columns if c.lower() == "rank"), None)
                if rank is not None and len(gdf):
                    top = gdf.sort_values(rank).iloc[0]
                    g["Town no. 1" if chosen else "Top-ranked site"] = place_name(top)
                    score = next((c for c in gdf.columns if c.lower() in ("score", "total_score")), None)
                    if score:
                        g[column_label(score) + (", town no. 1" if chosen else ", top site")] = float(top[score])
                figs[it.title] = g
            elif it.role == "layout" and "district" in [c.lower() for c in it.columns]:
                gdf = pyogrio.read_dataframe(it.path, layer=it.layer)
                if 0 < len(gdf) <= 20:
                    dcol = next(c for c in gdf.columns if c.lower() == "district")
                    area = gdf.geometry.area / 1e6 if gdf.crs is not None and not gdf.crs.is_geographic else None
                    figs[it.title] = {f"{humanise(row[dcol])}: area (km²)": float(a) for (_, row), a in
                                      zip(gdf.iterrows(), area, strict=True)} if area is not None else {}
            elif it.role == "summary":
                data = json.loads(it.path.read_text(encoding="utf-8"))
                flat = {fact_label(k): v for k, v in flatten_scalars(data, limit=20).items()}
                if flat:
                    figs[it.title if it.description else f"{it.stage} {it.path.name}".strip()] = flat
        except Exception as exc:  # one unreadable output must not sink the report
            log.warning("report: no key figures for %s: %s", it.path, exc)
    for name, facts in info.facts.items():
        figs.setdefault(f"Results: {STAGES.get(name, humanise(name)).lower()}", {}).update(
            {fact_label(k): v for k, v in facts.items()})
    return {k: v for k, v in figs.items() if v}


# ----------------------------------------------------------------------------- executive summary

def _chosen_towns(items: Sequence[Item]) -> tuple[Any, bool]:
    """The chosen towns (layer with a ``choice`` column), else the ranked candidates; ``(frame, chosen)``."""
    import pyogrio

    sites = [it for it in items if it.role == "sites" and not it.is_raster]
    for want_choice in (True, False):
        for it in sites:
            cols = [c.lower() for c in it.columns]
            if want_choice == ("choice" in cols):
                try:
                    df = pyogrio.read_dataframe(it.path, layer=it.layer, read_geometry=False)
                except Exception as exc:  # unreadable: try the next one
                    log.warning("report: cannot read %s: %s", it.path, exc)
                    continue
                if want_choice:
                    return df.sort_values("choice"), True
                rank = next((c for c in df.columns if c.lower() == "rank"), None)
                return (df.sort_values(rank).head(3) if rank else df.head(3)), False
    return None, False


def _sites_summary(items: Sequence[Item]) -> dict[str, Any]:
    for it in items:
        if it.role == "summary" and it.stage == "sites":
            try:
                data = json.loads(it.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym (NEG, IP, GDP)."""
    first = text.split(" ", 1)[0]
    return text if first.isupper() or len(first) < 2 else text[:1].lower() + text[1:]


def executive_summary(info: RunInfo, items: Sequence[Item]) -> str:
    """The report's first section: the chosen towns, why they were chosen, and how sure the choice is.

    Returns
    -------
    str
        An HTML ``<section>`` (a note when the run has no sites stage).
    """
    df, chosen = _chosen_towns(items)
    parts = ["<section class='summary' id='summary'><h2>Summary</h2>"]
    if df is None or len(df) == 0:
        parts.append("<p>This run has no site selection: see the key figures and maps below.</p></section>")
        return "".join(parts)
    summ = _sites_summary(items)
    sel = summ.get("selection", {}) if isinstance(summ.get("selection"), dict) else {}
    n_cand = summ.get("n_candidates")
    model = {"mclp": "maximal covering (MCLP)", "pmedian": "p-median", "rank": "best scores"}.get(
        str(sel.get("model", "")), str(sel.get("model", "")))
    if chosen:
        how = " by their scores (the best-ranked)" if sel.get("model") == "rank" else (
            f" by the {model} model" if model else "")
        among = f" among {int(n_cand)} candidate county seats" if n_cand else ""
        parts.append(f"<p><b>{len(df)} towns were chosen{how}{among}.</b> Numbers are the town numbers used on "
                     "every map, table and file of this run.</p>")
    else:
        parts.append("<p><b>No towns were chosen in this run; the three best-ranked candidates are:</b></p>")
    crits = [c[5:] for c in df.columns if str(c).startswith("norm_")]
    rows = []
    why: list[str] = []
    for i, (_, r) in enumerate(df.iterrows()):
        no = int(r["choice"]) if chosen else i + 1
        row: dict[str, Any] = {"Town no." if chosen else "No.": no, "Town": place_name(r)}
        if "score" in df.columns:
            row[column_label("score")] = float(r["score"])
        if "rank" in df.columns:
            row["Rank among candidates (1 = best)"] = int(r["rank"])
        if "rank_p05" in df.columns and "rank_p95" in df.columns:
            row["Rank if the weights vary (5th-95th percentile)"] = f"{int(r['rank_p05'])}-{int(r['rank_p95'])}"
        if "p_top_k" in df.columns:
            row[f"Among the top {len(df)} when the weights vary (% of draws)"] = round(float(r["p_top_k"]) * 100, 1)
        if "demand_covered" in df.columns:
            row[column_label("demand_covered")] = round(float(r["demand_covered"]))
        rows.append(row)
        best = sorted(((float(r[f"norm_{c}"]), c) for c in crits if r[f"norm_{c}"] == r[f"norm_{c}"]),
                      reverse=True)[:3]
        if best:
            words = ", ".join(f"{_lower_first(column_label(c).split(' (')[0])} ({v:.2f})" for v, c in best)
            why.append(f"<li><b>{no}. {_esc(place_name(r))}</b>: strongest on {_esc(words)} "
                       "(1.00 = best of all candidates)</li>")
    parts.append(_table_html(rows, labels=False, max_rows=50))
    if why:
        parts.append("<h3>Why</h3><ul>" + "".join(why) + "</ul>")
    sure: list[str] = []
    if "p_top_k" in df.columns:
        p = df["p_top_k"].astype(float).to_numpy()
        draws = summ.get("ranking", {}).get("draws") if isinstance(summ.get("ranking"), dict) else None
        per = ", ".join(f"town {i + 1} in {v * 100:.0f}%" for i, v in enumerate(p))
        sure.append(f"Ranking robustness: with the criterion weights varied at random"
                    f"{f' ({int(draws)} draws)' if draws else ''}, the towns rank among the top {len(df)}: "
                    f"{per} of the draws" + (f" (the {_esc(model)} model chooses for coverage of the population, "
                                             "not by rank)." if chosen and sel.get("model") != "rank" else "."))
    if sel.get("status") and sel.get("model") != "rank":
        gap = sel.get("gap")
        gap_txt = "proven optimal" if gap == 0 else (f"within {float(gap) * 100:.2g}% of the optimum"
                                                        if isinstance(gap, (int, float)) else "")
        sure.append(f"The solver finished with status {_esc(sel['status'])}" + (f" ({gap_txt})." if gap_txt else "."))
    if isinstance(sel.get("covered_share"), (int, float)) and sel.get("standard") is not None:
        unit = {"min": "minutes", "m": "m"}.get(str(sel.get("cost_unit", "")), str(sel.get("cost_unit", "")))
        sure.append(f"{float(sel['covered_share']) * 100:.0f}% of the population lives within the coverage "
                    f"standard ({_fmt(sel['standard'])} {_esc(unit)} of travel) of a chosen town.".replace(" )", ")"))
    if sure:
        parts.append("<h3>How sure</h3><ul>" + "".join(f"<li>{t}</li>" for t in sure) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


# ----------------------------------------------------------------------------- web map

def _leaflet_assets() -> tuple[str, str]:
    js = (TEMPLATES / "leaflet.js").read_text(encoding="utf-8")
    css = (TEMPLATES / "leaflet.css").read_text(encoding="utf-8")
    for name in ("layers.png", "layers-2x.png", "marker-icon.png"):
        data = base64.b64encode((TEMPLATES / name).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{name})", f"url(data:image/png;base64,{data})")
    return js, css


def _raster_overlay(item: Item) -> tuple[np.ndarray, list[list[float]]] | None:
    import rasterio
    from affine import Affine
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap, Normalize, TwoSlopeNorm
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    with rasterio.open(item.path) as src, warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # affine '*' inside rasterio
        if src.crs is None:
            return None
        dst_crs = "EPSG:3857"
        tr, w, h = calculate_default_transform(src.crs, dst_crs, src.width, src.height, *src.bounds)
        scale = max(w / _WEB_RASTER_MAX, h / _WEB_RASTER_MAX, 1.0)
        w2, h2 = max(int(w / scale), 1), max(int(h / scale), 1)
        tr2 = tr @ Affine.scale(w / w2, h / h2)
        out = np.full((h2, w2), np.nan, dtype="float64")
        nodata = src.nodata
        reproject(source=src.read(1).astype("float64"), destination=out, src_transform=src.transform,
                  src_crs=src.crs, src_nodata=nodata, dst_transform=tr2, dst_crs=dst_crs, dst_nodata=np.nan,
                  resampling=Resampling.nearest)
        left, top = tr2 * (0, 0)
        right, bottom = tr2 * (w2, h2)
        west, south, east, north = transform_bounds(dst_crs, "EPSG:4326", left, bottom, right, top)
    vals = out[np.isfinite(out)]
    if vals.size == 0:
        return None
    uniq = np.unique(vals)
    if item.role == "hotspots" and uniq.size <= 7 and np.all(np.isin(uniq, list(HOTSPOT_CLASSES))):
        keys = sorted(HOTSPOT_CLASSES)
        cmap: Colormap = ListedColormap([HOTSPOT_CLASSES[k][0] for k in keys])
        norm: Normalize = BoundaryNorm([k - 0.5 for k in keys] + [keys[-1] + 0.5], cmap.N)
    elif item.role == "hotspots" and vals.min() < 0 < vals.max():
        lim = float(max(np.percentile(np.abs(vals), 99), 2.58))
        cmap, norm = colormaps["RdBu_r"], TwoSlopeNorm(0.0, -lim, lim)
    else:
        lo, hi = np.percentile(vals, [2, 98])
        cmap, norm = colormaps["viridis"], Normalize(float(lo), float(max(hi, lo + 1e-12)))
    rgba = cmap(norm(np.nan_to_num(out, nan=0.0)))
    rgba[..., 3] = np.where(np.isfinite(out), 1.0, 0.0)
    return rgba, [[south, west], [north, east]]


def _style_for(item: Item, gdf: Any) -> tuple[Any, list[str]]:
    cols = [c for c in gdf.columns if c != gdf.geometry.name][:8]
    low = {c.lower(): c for c in gdf.columns}
    if item.role == "layout":
        col = low.get("module") if "module" in low and "modules" in (item.layer or "module") else low.get("district")
        if col is None:
            col = low.get("module")
        palette = {**{k: v[0] for k, v in DISTRICT_COLOURS.items()}, **{k: v[0] for k, v in MODULE_COLOURS.items()}}

        def layout_style(f: dict[str, Any]) -> dict[str, Any]:
            v = str(f["properties"].get(col, ""))
            return {"fillColor": palette.get(v, "#cccccc"), "color": "#222222", "weight": 1, "fillOpacity": 0.75}

        return layout_style, cols
    if item.role == "hotspots":
        cls = next((low[c] for c in CLASS_COLUMNS if c in low), None)

        def hot_style(f: dict[str, Any]) -> dict[str, Any]:
            v = f["properties"].get(cls) if cls else None
            if isinstance(v, str):
                colour = MORAN_CLUSTERS.get(v, ("#999999", ""))[0]
            elif isinstance(v, (int, float)) and v == v and int(v) in HOTSPOT_CLASSES:
                colour = HOTSPOT_CLASSES[int(v)][0]
            else:
                colour = "#999999"
            insignificant = v in ("ns", 0) or colour == "#999999"
            return {"fillColor": colour, "color": "#555555", "weight": 0.5,
                    "fillOpacity": 0.0 if insignificant else 0.7}

        return hot_style, cols

    def plain(f: dict[str, Any]) -> dict[str, Any]:
        fill = f["properties"].get("_fill") or "#4393c3"
        return {"color": "#b2182b" if "_fill" not in f["properties"] else "#555555", "weight": 1.0,
                "fillColor": fill, "fillOpacity": 0.7 if "_fill" in f["properties"] else 0.4}

    return plain, cols


def _add_fill(gdf: Any, item: Item) -> None:
    """Add a ``_fill`` colour column (choropleth of the layer's result column), in place."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, TwoSlopeNorm, to_hex

    from iptown_gis.report.maps import RESULT_COLUMNS, _numeric_column

    zcols = ("gi_z", "z", "z_score", "moran_z_sim", "moran_i")
    col = _numeric_column(gdf, prefer=zcols if item.role == "hotspots" else RESULT_COLUMNS)
    if col is None:
        return
    vals = gdf[col].astype(float)
    if vals.min() < 0 < vals.max() and (item.role == "hotspots" or col.startswith("d_") or "change" in col):
        lim = float(vals.abs().max())
        cmap = colormaps["RdBu_r"]
        norm: Normalize = TwoSlopeNorm(0.0, -lim, lim)
    else:
        cmap, norm = colormaps["viridis"], Normalize(float(vals.min()), float(vals.max()))
    gdf["_fill"] = [to_hex(cmap(norm(v))) if v == v else "#cccccc" for v in vals]


def _web_layer_name(item: Item) -> str:
    return item.title


def web_map(
    items: Sequence[Item],
    *,
    context: Sequence[tuple[str, Any]] = (),
    basemap: str = "none",
    attribution: str = "",
) -> tuple[Any, list[str]]:
    """A folium map with one toggleable overlay per map layer of the run.

    Parameters
    ----------
    items
        The run's items; surfaces and hot-spot rasters become image overlays, vectors GeoJSON.
    context
        ``(name, GeoDataFrame)`` pairs drawn as outlines (e.g. the province).
    basemap
        ``"none"`` (default, offline) or ``"osm"`` (OpenStreetMap tiles; needs the internet).
    attribution
        Data credits shown in the map's attribution control.

    Returns
    -------
    (folium.Map, list of str)
        The map and the names of its overlays, in order.

    Raises
    ------
    DependencyError
        folium is not installed.
    """
    try:
        import folium
    except ImportError as exc:  # pragma: no cover - folium is in the report extra
        raise DependencyError("the web map needs folium: pip install 'iptown_gis[report]'") from exc

    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False, attribution_control=True)
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)").add_to(m)
    names: list[str] = []
    bounds: list[list[float]] = []
    for name, gdf in context:
        if gdf is None or len(gdf) == 0:
            continue
        g = gdf.to_crs(4326)
        g = g[[g.geometry.name]].copy()
        g["geometry"] = g.geometry.simplify(0.002)
        folium.GeoJson(g.to_json(), name=name, style_function=lambda f: {"color": "#222222", "weight": 1.5,
                                                                         "fill": False}).add_to(m)
        names.append(name)
        b = g.total_bounds
        bounds.append([float(b[1]), float(b[0])])
        bounds.append([float(b[3]), float(b[2])])
    first_raster = True
    for it in items:
        if not it.is_map_layer:
            continue
        label = _web_layer_name(it)
        if label in names:
            label = f"{label} ({it.key})"
        try:
            if it.is_raster:
                ov = _raster_overlay(it)
                if ov is None:
                    continue
                rgba, bb = ov
                folium.raster_layers.ImageOverlay(rgba, bounds=bb, opacity=0.75, name=label, origin="upper",
                                                  show=first_raster, mercator_project=False,
                                                  attr=attribution).add_to(m)
                first_raster = False
                bounds.extend(bb)
            else:
                import geopandas as gpd

                if (it.n_features or 0) > _WEB_MAX_FEATURES:
                    log.info("report: %s has %d features; left out of the web map (open it in QGIS)",
                             it.key, it.n_features)
                    continue
                if (it.role == "layout" and "cells" in (it.layer or "")) or it.layer == "nodes":
                    continue
                gdf = gpd.read_file(it.path, layer=it.layer, engine="pyogrio")
                if gdf.crs is None or len(gdf) == 0:
                    continue
                style, cols = _style_for(it, gdf)
                if it.role in ("vector", "hotspots") and set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}:
                    _add_fill(gdf, it)
                if not set(gdf.geom_type) <= {"Point", "MultiPoint"}:
                    # about 1/2000 of the layer's extent: invisible at the zoom that shows the layer
                    b = gdf.total_bounds
                    gdf = gdf.copy()
                    gdf["geometry"] = gdf.geometry.simplify(max(b[2] - b[0], b[3] - b[1]) / 2000.0)
                g = gdf.to_crs(4326)
                g["geometry"] = shapely.set_precision(g.geometry.values, 1e-5)
                import pandas as pd

                for c in cols:
                    if not pd.api.types.is_numeric_dtype(g[c]):
                        g[c] = g[c].astype(object).where(g[c].notna(), None)
                tooltip = folium.GeoJsonTooltip(fields=cols) if cols else None
                if it.role == "sites" or set(g.geom_type) <= {"Point", "MultiPoint"}:
                    rank = next((c for c in g.columns if c.lower() == "rank"), None)
                    fg = folium.FeatureGroup(name=label, show=it.role in ("sites", "layout", "hotspots"))
                    if rank is not None:
                        g = g.sort_values(rank, ascending=False)

                    def site_style(f: dict[str, Any], _rank: str | None = rank) -> dict[str, Any]:
                        r = f["properties"].get(_rank) if _rank else None
                        top = isinstance(r, (int, float)) and r <= 10
                        return {"color": "#000000", "weight": 1, "fillColor": "#d7301f" if top else "#8c8c8c",
                                "fillOpacity": 0.9, "radius": 8 if top else 4}

                    folium.GeoJson(g.to_json(), style_function=site_style, tooltip=tooltip,
                                   marker=folium.CircleMarker(radius=6, fill=True, fill_opacity=0.9,
                                                              weight=1)).add_to(fg)
                    fg.add_to(m)
                else:
                    # planners' layers on by default; the rest (NEG regions, zonal tables...) one click away
                    folium.GeoJson(g.to_json(), name=label, style_function=style, tooltip=tooltip,
                                   show=it.role in ("sites", "layout", "hotspots")).add_to(m)
                b = g.total_bounds
                bounds.append([float(b[1]), float(b[0])])
                bounds.append([float(b[3]), float(b[2])])
            names.append(label)
        except Exception as exc:  # one bad layer must not sink the report
            log.warning("report: %s left out of the web map: %s", it.path, exc)
    if bounds:
        arr = np.asarray(bounds)
        m.fit_bounds([[float(arr[:, 0].min()), float(arr[:, 1].min())],
                      [float(arr[:, 0].max()), float(arr[:, 1].max())]])
    # collapsed: a layer button that opens the list (on a phone and at 1366 px the list would cover the map)
    folium.LayerControl(collapsed=True).add_to(m)
    return m, names


def _split_folium(m: Any) -> tuple[str, str, str]:
    """Head (minus external links and page-wide styles), body and script of a rendered map."""
    doc = m.get_root().render()
    head = doc[doc.index("<head>") + 6: doc.index("</head>")]
    body = doc[doc.index("<body>") + 6: doc.index("</body>")]
    tail = doc[doc.index("</body>") + 7:]
    script = tail[: tail.rindex("</html>")] if "</html>" in tail else tail
    head = re.sub(r"<script[^>]*\bsrc=\"[^\"]*\"[^>]*>\s*</script>", "", head)
    head = re.sub(r"<link[^>]*\bhref=\"[^\"]*\"[^>]*/?>", "", head)
    head = re.sub(r"<style>\s*html, body \{.*?</style>", "", head, flags=re.S)
    head = re.sub(r"<style>\s*#map \{.*?</style>", "", head, flags=re.S)
    head = re.sub(r"<meta[^>]*>", "", head)
    return head, body, script


# ----------------------------------------------------------------------------- page



def _table_html(rows: Sequence[dict[str, Any]] | Any, *, max_rows: int = 25, caption: str = "",
                labels: bool = True) -> str:
    """An HTML table (in a horizontally scrolling box); ``labels``: headings in words with units."""
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    n = len(df)
    df = df.head(max_rows)
    ids = {c for c in df.columns if is_id_column(str(c))}
    scaled = {c for c in df.columns if c in PERCENT_COLUMNS | POINTS_COLUMNS and pd.api.types.is_numeric_dtype(df[c])}
    parts = ["<div class='tablewrap'><table>"]
    if caption:
        parts.append(f"<caption style='text-align:left;font-weight:bold'>{_esc(caption)}</caption>")
    heads = [column_label(str(c)) if labels else str(c) for c in df.columns]
    parts.append("<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in heads) + "</tr></thead><tbody>")
    for _, r in df.iterrows():
        cells = []
        for c, v in zip(df.columns, r.tolist(), strict=True):
            if c in ids:
                cells.append(f"<td class='id'>{_esc(format_id(v))}</td>")
                continue
            if c in scaled and v is not None and v == v:
                v = float(v) * 100.0  # fractions as % / percentage points (the heading says which)
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            cells.append(f"<td class='num'>{_esc(_fmt(v))}</td>" if num else f"<td>{_esc(_fmt(v))}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    if n > max_rows:
        parts.append(f"<p class='note'>First {max_rows} of {n:,} rows.</p>")
    return "".join(parts)


def _kv_table(d: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{_esc(k)}</th><td{' class=num' if isinstance(v, (int, float)) and not isinstance(v, bool) else ''}>"
        f"{_esc(_fmt(v))}</td></tr>" for k, v in d.items())
    return f"<div class='tablewrap'><table>{rows}</table></div>"


def _params_html(params: dict[str, Any]) -> str:
    out = []
    for sec, vals in params.items():
        flat = flatten_scalars(vals, depth=3, limit=200) if isinstance(vals, dict) else {}
        lists = {k: v for k, v in (vals.items() if isinstance(vals, dict) else []) if isinstance(v, list)}
        for k, v in lists.items():
            flat[k] = json.dumps(v, ensure_ascii=False, default=str)[:300]
        out.append(f"<details{' open' if sec == 'study' else ''}><summary>[{_esc(sec)}]</summary>"
                   f"{_kv_table(flat) if flat else '<p class=note>(defaults)</p>'}</details>")
    return "".join(out)


def _img_b64(path: Path, *, max_width: int = 1100) -> str:
    """A PNG as a data URI, scaled to ``max_width`` and palette-quantised to keep the page small."""
    try:
        from PIL import Image

        with Image.open(path) as src:
            rgb: Image.Image = src.convert("RGB")
            if rgb.width > max_width:
                rgb = rgb.resize((max_width, round(rgb.height * max_width / rgb.width)), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            # octree palette without dithering: 8x faster than median cut + optimize, 40 % smaller,
            # mean error 2/255 (measured on the sample run's maps)
            rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
                buf, format="PNG")
            data = buf.getvalue()
    except Exception:  # Pillow missing or odd file: embed as is
        data = path.read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _is_comparison(item: Item) -> bool:
    text = f"{item.path.stem} {item.description}".lower()
    return item.stage == "neg" or any(w in text for w in _COMPARE_WORDS)


def comparison_table(runs: Sequence[tuple[str, dict[str, dict[str, Any]]]]) -> Any:
    """Key figures of several runs side by side (one column per run)."""
    import pandas as pd

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for name, figs in runs:
        for group, vals in figs.items():
            if group == "run":
                continue
            for k, v in vals.items():
                rows.setdefault((group, k), {})[name] = v
    data = [{"group": g, "figure": k, **vals} for (g, k), vals in rows.items()]
    return pd.DataFrame(data)


def write_html_report(
    info: RunInfo,
    items: Sequence[Item],
    maps: Sequence[dict[str, Any]],
    target: str | os.PathLike[str],
    *,
    title: str | None = None,
    context: Sequence[tuple[str, Any]] = (),
    web: bool = True,
    basemap: str = "none",
    attribution: str = "",
    max_table_rows: int = 25,
    compare: Sequence[tuple[str, RunInfo, Sequence[Item]]] = (),
    extra_links: Sequence[tuple[str, str]] = (),
    progress: ProgressCallback | Progress | None = None,
) -> Path:
    """Write the self-contained HTML report of a run.

    Parameters
    ----------
    info, items
        The run (:func:`~iptown_gis.report.catalogue.collect_run`) and its items.
    maps
        Maps from :func:`~iptown_gis.report.maps.make_maps` (their PNGs are embedded).
    target
        The HTML file to write (atomically).
    title, context, web, basemap, attribution, max_table_rows
        Page title; web-map context layers; include the web map; its background; data
        credits; rows per table.
    compare
        Other runs ``(name, RunInfo, items)`` whose key figures are shown beside this run's.
    extra_links
        ``(label, relative path)`` links to list (e.g. the QGIS project).
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Returns
    -------
    Path
        ``target``.
    """
    prog = as_progress(progress)
    target = Path(target)
    title = title or info.title
    prog.update(0.05, "key figures")
    figs = key_figures(info, items)
    sections: list[str] = [executive_summary(info, items)]
    sections.append("<h2 id='key-figures'>Key figures</h2>")
    for group, vals in figs.items():
        sections.append(f"<h3>{_esc(group)}</h3>{_kv_table(vals)}")
    layer_names: list[str] = []
    head_extra = body_map = script = ""
    if web:
        prog.update(0.2, "web map")
        m, layer_names = web_map(items, context=context, basemap=basemap, attribution=attribution)
        head_extra, body_map, script = _split_folium(m)
        sections.append("<h2 id='web-map'>Interactive map</h2>")
        sections.append("<p class='note'>Toggle the layers in the panel at the top right; hover a feature "
                        "for its attributes. " + ("No background map: the page works offline." if basemap == "none"
                                                  else "The OpenStreetMap background needs the internet.")
                        + "</p>")
        sections.append(f"<div id='webmap' data-layers='{_esc(json.dumps(layer_names))}'>{body_map}</div>")
    prog.update(0.6, "maps")
    if maps:
        sections.append("<h2 id='maps'>Maps</h2><div class='figs'>")
        for mp in maps:
            png = next((f for f in mp["files"] if Path(f).suffix == ".png"), None)
            pdf = next((f for f in mp["files"] if Path(f).suffix == ".pdf"), None)
            if png is None:
                continue
            link = f" <a href='{_esc(os.path.relpath(pdf, target.parent))}'>PDF</a>" if pdf else ""
            sections.append(f"<div class='fig'><img alt='{_esc(mp['title'])}' src='{_img_b64(Path(png))}'>"
                            f"<p>{_esc(mp['title'])}{link}</p></div>")
        sections.append("</div>")
    import pandas as pd

    tables = [it for it in items if it.role == "table"]
    comp = [it for it in tables if _is_comparison(it)]
    other = [it for it in tables if it not in comp]
    sections.append("<h2 id='scenarios'>Scenario comparison</h2>")
    if compare:
        runs = [(info.out_dir.name or "this run", figs)] + [(n, key_figures(ri, its)) for n, ri, its in compare]
        sections.append(_table_html(comparison_table(runs), max_rows=200, caption="Key figures by run",
                                    labels=False))
    sections.extend(_table_file_html(it, max_table_rows, pd) for it in comp)
    if not compare and not comp:
        sections.append("<p class='note'>No scenario tables in this run (the NEG stage writes them; "
                        "<code>[report] compare = [\"other_run\"]</code> compares runs).</p>")
    if other:
        sections.append("<h2 id='tables'>Tables</h2>")
        sections.extend(_table_file_html(it, max_table_rows, pd) for it in other)
    # a stage's own map of what the report maps itself (zoning/layout.png, sites/map.png) would show the
    # same layout or sites a second time in other colours: left out (the files stay in the run folder)
    mapped_roles = {mp.get("role") for mp in maps}
    figures = [it for it in items if it.role == "figure" and it.path.suffix.lower() == ".png"
               and not (it.stage == "zoning" and "layout" in mapped_roles)
               and not (it.stage == "sites" and "sites" in mapped_roles)]
    if figures:
        sections.append("<h2 id='figures'>Charts from the stages</h2><div class='figs'>")
        sections.extend(f"<div class='fig'><img alt='{_esc(it.title)}' src='{_img_b64(it.path)}'>"
                        f"<p>{_esc(it.title)} ({_esc(it.path.name)})</p></div>" for it in figures)
        sections.append("</div>")
    sections.append("<h2 id='parameters'>Scenario and parameters</h2>")
    if info.scenario_path:
        sections.append(f"<p>Scenario file: <code>{_esc(info.scenario_path)}</code></p>")
    sections.append(_params_html(info.parameters) if info.parameters else "<p class='note'>No parameters recorded.</p>")
    sections.append("<h2 id='outputs'>Outputs</h2>")
    out_rows = [{"file": o["path"], "stage": o.get("stage", ""), "kind": o.get("kind", ""),
                 "description": o.get("description", ""), "bytes": o.get("bytes") or ""} for o in info.outputs]
    out_rows += [{"file": rel, "stage": "report", "kind": "", "description": label, "bytes": ""}
                 for label, rel in extra_links]
    sections.append(_table_html(out_rows, max_rows=500))
    js, css = _leaflet_assets() if web else ("", "")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = [("summary", "Summary"), ("key-figures", "Key figures"), ("web-map", "Interactive map"),
           ("maps", "Maps"), ("scenarios", "Scenario comparison"), ("parameters", "Parameters"),
           ("outputs", "Outputs")]
    page = string.Template((TEMPLATES / "report.html").read_text(encoding="utf-8")).substitute(
        version=_esc(__version__), title=_esc(title), leaflet_css=css, leaflet_js=js, font_stack=CSS_FONT_STACK,
        head_extra=head_extra, out_dir=_esc(info.out_dir),
        started=", started " + _esc(info.started) if info.started else "", built=when,
        crs=_esc(info.crs or "from the data"),
        stages=_esc(", ".join(STAGES.get(s_, s_) for s_ in info.stages) or "(none)"),
        nav=" &middot; ".join(f'<a href="#{a}">{_esc(t)}</a>' for a, t in nav if web or a != "web-map"),
        sections="".join(sections), attribution=_esc(attribution), script=script,
    )
    prog.update(0.95, "writing report.html")
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("report: wrote %s (%d KB, %d web-map layers)", target, len(page) // 1024, len(layer_names))
    prog.update(1.0, "report.html")
    return target


def _table_file_html(it: Item, max_rows: int, pd: Any) -> str:
    import pyogrio

    try:
        if it.path.suffix.lower() == ".csv":
            df = pd.read_csv(it.path)
        else:
            df = pyogrio.read_dataframe(it.path, layer=it.layer, read_geometry=False)
    except Exception as exc:
        log.warning("report: cannot read table %s: %s", it.path, exc)
        return f"<p class='note'>{_esc(it.path.name)}: unreadable ({_esc(exc)})</p>"
    rel = it.path.name if it.layer is None else f"{it.path.name}:{it.layer}"
    return f"<h3>{_esc(it.title)}</h3><p class='note'>{_esc(rel)}</p>" + _table_html(df, max_rows=max_rows)
