"""Writing a layout: GeoJSON (RFC 7946), GeoPackage, summary JSON, PNG map, QGIS styles.

QML styles (fixed categorical colours and labels) live in ``iptown_gis/zoning/styles/`` so
the QGIS plugin can load them too: ``districts.qml`` (field ``district``), ``modules.qml``
(field ``module``), ``cells.qml`` (field ``zone``). :func:`style_path` gives their paths.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from iptown_gis.errors import OutputError
from iptown_gis.io.atomic import atomic_path, ensure_writable_dir
from iptown_gis.io.vector import write_vector
from iptown_gis.zoning.cells import CellSet
from iptown_gis.zoning.model import DISTRICTS, MODULES, ZoningModel

__all__ = ["DISTRICT_COLOURS", "MODULE_COLOURS", "layout_frames", "style_path", "write_layout", "write_qml"]

log = logging.getLogger(__name__)

#: Fixed colours and labels of the districts.
DISTRICT_COLOURS: dict[str, tuple[str, str]] = {
    "body": ("#d7301f", "Body: integrated IP functional centre"),
    "wing_east": ("#2c7fb8", "East wing: cultural copyright"),
    "wing_west": ("#31a354", "West wing: industrial property"),
}
#: Fixed colours and labels of the modules.
MODULE_COLOURS: dict[str, tuple[str, str]] = {
    "ip_management": ("#e41a1c", "IP management"),
    "ip_trading": ("#ff7f00", "IP trading"),
    "ip_services": ("#984ea3", "IP services"),
    "ip_education": ("#377eb8", "IP education"),
    "think_tank": ("#4daf4a", "Think tank"),
    "ip_culture": ("#f781bf", "IP culture"),
    "ip_finance": ("#a65628", "IP finance"),
}
_STYLES = Path(__file__).resolve().parent / "styles"


def style_path(name: str) -> Path:
    """Path of a bundled QML style: ``"districts"``, ``"modules"`` or ``"cells"``."""
    p = _STYLES / f"{name}.qml"
    if not p.exists():
        raise OutputError(f"no bundled style {name!r}; styles: districts, modules, cells")
    return p


def write_qml(path: str | os.PathLike[str], field: str, categories: Mapping[str, tuple[str, str]],
              *, opacity: float = 0.85, labels: bool = True, font_size: float = 9.0,
              show_all: bool = True, outside: bool = False, wrap: int = 8,
              obstacle: bool = False) -> Path:
    """Write a QGIS categorised-polygon style (``.qml``) for ``field``.

    Labels (``labels=True``) show each category's legend text (an expression on ``field``),
    wrapped at ``wrap`` characters, inside the polygon (``outside=True``: beside it, QGIS "outside polygons"
    placement), dark on a white halo; ``obstacle`` makes the polygons' interiors keep other
    labels away, and ``show_all`` draws colliding labels too (QGIS "show all labels").

    Parameters
    ----------
    path
        The ``.qml`` file to write.
    field
        The categorised field.
    categories
        Category value -> ``(colour, legend text)``.
    opacity
        Fill opacity (0..1).
    labels, font_size, wrap, outside, obstacle, show_all
        The labelling described above.
    """
    from xml.sax.saxutils import quoteattr

    from iptown_gis.io.fonts import FONT_FAMILIES

    cats, syms = [], []
    for i, (value, (colour, label)) in enumerate(categories.items()):
        r, g, b = (int(colour[k:k + 2], 16) for k in (1, 3, 5))
        cats.append(f'      <category render="true" value="{value}" symbol="{i}" label="{label}"/>')
        syms.append(
            f'      <symbol type="fill" name="{i}" alpha="{opacity}" clip_to_extent="1" force_rhr="0">\n'
            f'        <layer class="SimpleFill" enabled="1" locked="0" pass="0">\n'
            f'          <Option type="Map">\n'
            f'            <Option type="QString" name="color" value="{r},{g},{b},255"/>\n'
            f'            <Option type="QString" name="outline_color" value="40,40,40,255"/>\n'
            f'            <Option type="QString" name="outline_width" value="0.3"/>\n'
            f'            <Option type="QString" name="style" value="solid"/>\n'
            f'          </Option>\n'
            f'        </layer>\n'
            f'      </symbol>')
    when = " ".join(f"WHEN \"{field}\" = '{v}' THEN '{lbl.replace(chr(39), chr(39) * 2)}'"
                    for v, (_c, lbl) in categories.items())
    expr = quoteattr(f'CASE {when} ELSE "{field}" END')
    label_xml = (
        '  <labeling type="simple">\n'
        '    <settings calloutType="simple">\n'
        f'      <text-style fieldName={expr} isExpression="1" fontFamily="{FONT_FAMILIES[0]}" '
        f'fontSize="{font_size}" fontSizeUnit="Point" '
        'fontWeight="63" textColor="20,20,20,255" multilineHeight="0.95">\n'
        '        <text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" bufferOpacity="0.85" '
        'bufferColor="255,255,255,255" bufferJoinStyle="128" bufferNoFill="1"/>\n'
        "      </text-style>\n"
        f'      <text-format autoWrapLength="{wrap}" useMaxLineLengthForAutoWrap="1" multilineAlign="1" wrapChar=""/>\n'
        f'      <placement placement="{8 if outside else 4}" centroidInside="1" centroidWhole="0" '
        'fitInPolygonOnly="0" priority="8" polygonPlacementFlags="2"/>\n'
        f'      <rendering drawLabels="1" displayAll="{int(show_all)}" obstacle="{int(obstacle)}" obstacleType="0" '
        'obstacleFactor="2" upsidedownLabels="0" scaleVisibility="0" limitNumLabels="0"/>\n'
        "    </settings>\n"
        "  </labeling>\n"
    )
    text = (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.22.0" styleCategories="Symbology|Labeling">\n'
        f'  <renderer-v2 type="categorizedSymbol" attr="{field}" enableorderby="0" forceraster="0" '
        'symbollevels="0">\n'
        "    <categories>\n" + "\n".join(cats) + "\n    </categories>\n"
        "    <symbols>\n" + "\n".join(syms) + "\n    </symbols>\n"
        "  </renderer-v2>\n"
        + (label_xml if labels else "")
        + "</qgis>\n"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _mean_suit(model: ZoningModel, labels: np.ndarray) -> np.ndarray:
    on = labels >= 0
    out = np.full(len(labels), np.nan)
    out[on] = model.suitability[np.flatnonzero(on), labels[on]]
    return out


def layout_frames(
    cells: CellSet,
    districts: ZoningModel,
    *,
    module_model: ZoningModel | None = None,
    module_labels: np.ndarray | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """GeoDataFrames (metric CRS) of the ``cells``, dissolved ``districts`` and ``modules``.

    Parameters
    ----------
    cells
        The cell set of the layout.
    districts
        The solved district model (one body, two wings).
    module_model
        The solved module model of the body, if any.
    module_labels
        Module index per cell (``-1`` outside the body); ``None``: no modules.
    """
    if districts.labels_ is None:
        raise OutputError("the district model is not solved: call solve() first")
    lab = districts.labels_
    g = cells.to_geodataframe()
    g["district"] = pd.Series([districts.zones[i] if i >= 0 else None for i in lab], dtype="object")
    g["suitability"] = _mean_suit(districts, lab)
    for d, z in enumerate(districts.zones):
        g[f"score_{z}"] = districts.suitability[:, d]
    if module_labels is not None:
        g["module"] = pd.Series([MODULES[i] if i >= 0 else None for i in module_labels], dtype="object")
    else:
        g["module"] = pd.Series([None] * len(g), dtype="object")
    g["zone"] = g["module"].where(g["module"].notna(), g["district"])
    g["area_km2"] = cells.areas / 1e6

    def dissolve(col: str, order: tuple[str, ...], suit: np.ndarray) -> gpd.GeoDataFrame:
        sub = g[g[col].notna()].copy()
        sub["_s"] = suit[g[col].notna().to_numpy()]
        agg = sub.groupby(col).agg(area_km2=("area_km2", "sum"), n_cells=("area_km2", "size"),
                                   mean_suitability=("_s", "mean"))
        geo = sub[[col, "geometry"]].dissolve(by=col)
        out = geo.join(agg).reset_index()
        out["_o"] = out[col].map({z: i for i, z in enumerate(order)})
        out = out.sort_values("_o").drop(columns="_o").reset_index(drop=True)
        out["n_cells"] = out["n_cells"].astype("int64")
        return gpd.GeoDataFrame(out, geometry="geometry", crs=cells.crs)

    frames = {"cells": g, "districts": dissolve("district", DISTRICTS if districts.zones == DISTRICTS
                                                  else districts.zones, g["suitability"].to_numpy())}
    if module_model is not None and module_labels is not None:
        ms = np.full(cells.n, np.nan)
        on = module_labels >= 0
        ids = np.flatnonzero(on)
        # module model rows are the body cells in increasing id order
        ms[ids] = module_model.suitability[np.arange(len(ids)), module_labels[on]]
        g["module_suitability"] = ms
        mod = dissolve("module", MODULES, ms)
        mod.insert(1, "district", "body")
        frames["modules"] = mod
    return frames


def _plot(frames: Mapping[str, gpd.GeoDataFrame], path: Path, title: str, site: tuple[float, float] | None) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    cells = frames["cells"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 6), constrained_layout=True)
    pale = {"wing_east": ("#c6dbef", ""), "wing_west": ("#c7e9c0", "")}
    for ax, field, colours in ((axes[0], "district", DISTRICT_COLOURS),
                               (axes[1], "zone", {**DISTRICT_COLOURS, **pale, **MODULE_COLOURS})):
        col = cells[field].map(lambda v, c=colours: c[v][0] if v in c else "#f0f0f0")
        col = col.where(~cells["excluded"], "#9ecae1")
        cells.plot(ax=ax, color=col.tolist(), edgecolor="none")
        frames["districts"].boundary.plot(ax=ax, color="black", linewidth=1.0)
        if site is not None:
            ax.plot([site[0]], [site[1]], marker="*", color="yellow", markeredgecolor="black", markersize=14)
        ax.set_axis_off()
        ax.set_aspect("equal")
    handles = [Patch(color=c, label=lbl) for c, lbl in DISTRICT_COLOURS.values()]
    handles.append(Patch(color="#9ecae1", label="excluded (water, mask)"))
    axes[0].legend(handles=handles, loc="lower left", fontsize=7)
    axes[0].set_title("districts: one body, two wings")
    if "modules" in frames:
        axes[1].legend(handles=[Patch(color=c, label=lbl) for c, lbl in MODULE_COLOURS.values()],
                       loc="lower left", fontsize=7)
    axes[1].set_title("modules of the body")
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def write_layout(
    out_dir: str | os.PathLike[str],
    cells: CellSet,
    districts: ZoningModel,
    *,
    module_model: ZoningModel | None = None,
    module_labels: np.ndarray | None = None,
    extra: Mapping[str, Any] | None = None,
    site: tuple[float, float] | None = None,
    title: str = "IP characteristic town layout",
    town: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``layout.geojson``, ``layout.gpkg``, ``summary.json``, ``layout.png`` and QML styles.

    ``town`` (e.g. ``{"town_no": 1, "town_id": "340102", "town_name": "瑶海区"}``) is added as
    columns to every layer, so the towns of a study can be told apart (and merged).

    Parameters
    ----------
    out_dir
        The folder written to.
    cells, districts, module_model, module_labels
        As in :func:`layout_frames`.
    extra
        Further entries for ``summary.json``.
    site
        The site's coordinates (metric CRS), marked on ``layout.png``.
    title
        The figure's title.
    town
        Columns added to every layer (see above).

    Returns
    -------
    dict
        Output name -> path.
    """
    out = ensure_writable_dir(out_dir)
    frames = layout_frames(cells, districts, module_model=module_model, module_labels=module_labels)
    paths: dict[str, Path] = {}
    feats = [frames["districts"].assign(module=None)]
    if "modules" in frames:
        feats.append(frames["modules"])
    gj = gpd.GeoDataFrame(pd.concat(feats, ignore_index=True), geometry="geometry", crs=cells.crs)
    gj = gj[["district", "module", "area_km2", "n_cells", "mean_suitability", "geometry"]]
    tcols = dict(town or {})
    if tcols:
        gj = gj.assign(**tcols)[[*tcols, *gj.columns]]
        frames = {k: f.assign(**tcols)[[*tcols, *f.columns]] for k, f in frames.items()}
    paths["geojson"] = write_vector(gj, out / "layout.geojson")
    gpkg = out / "layout.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    for layer in ("districts", "modules", "cells"):
        if layer in frames:
            write_vector(frames[layer], gpkg, layer=layer)
    paths["gpkg"] = gpkg
    summary: dict[str, Any] = {"districts": districts.summary()}
    if module_model is not None:
        summary["modules"] = module_model.summary()
    for name in ("objective", "bound", "gap", "method", "seed", "time_s", "status", "checks"):
        summary[name] = summary["districts"][name]
    summary["all_checks_passed"] = all(c["passed"] for c in summary["districts"]["checks"]) and (
        module_model is None or all(c["passed"] for c in summary["modules"]["checks"]))
    summary["crs"] = str(cells.crs) if cells.crs is not None else None
    summary["n_cells"] = cells.n
    summary["n_excluded"] = int(cells.excluded.sum())
    if extra:
        summary.update(extra)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default), encoding="utf-8")
    paths["summary"] = out / "summary.json"
    from iptown_gis.io.fonts import mpl_font_context

    with mpl_font_context():
        _plot(frames, out / "layout.png", title, site)
    paths["map"] = out / "layout.png"
    for name in ("districts", "modules", "cells"):
        target = out / f"layout_{name}.qml"
        try:
            with atomic_path(target) as tmp:
                tmp.write_text(_with_font(style_path(name).read_text(encoding="utf-8")), encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc}") from exc
        paths[f"qml_{name}"] = target
    log.info("wrote layout to %s", out)
    return paths


def _with_font(qml: str) -> str:
    """A style's label font set to the installed family of the CJK-capable chain (iptown_gis.io.fonts)."""
    from iptown_gis.io.fonts import FONT_FAMILIES, qgis_font_family

    return qml.replace(f'fontFamily="{FONT_FAMILIES[0]}"', f'fontFamily="{qgis_font_family()}"')


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
