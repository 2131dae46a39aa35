"""Zoning algorithms: optimise a "one body, two wings" layout on cells, and lay out a whole
study area around a site (:mod:`iptown_gis.zoning`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iptown_gis.engine.params import Params
from iptown_gis.engine.tools import tool
from iptown_gis.errors import ParameterError
from iptown_gis.zoning.config import ZoningConfig

log = logging.getLogger(__name__)

METHODS = ("auto", "exact", "heuristic")
MEASURES = ("cells", "km²")

OPTIMISE_DEFAULTS: dict[str, Any] = {
    "LARGEST_COMPONENT": False,
    "MEASURE": "cells",
    "BODY": 40.0,
    "WING_EAST": 25.0,
    "WING_WEST": 25.0,
    "TOLERANCE": 0.05,
    "AXIS_BEARING": 90.0,
    "AXIS_MARGIN": 0.0,
    "COMPACTNESS": 0.0,
    "METHOD": "auto",
    "TIME_LIMIT": 60.0,
    "SEED": 0,
    "MODULES": True,
}

_Z = ZoningConfig.model_fields
LAYOUT_DEFAULTS: dict[str, Any] = {
    "RADIUS": _Z["radius_m"].default,
    "CELL_SIZE": _Z["cell_size_m"].default,
    "BODY_KM2": _Z["body_km2"].default,
    "WING_EAST_KM2": _Z["wing_east_km2"].default,
    "WING_WEST_KM2": _Z["wing_west_km2"].default,
    "METHOD": _Z["method"].default,
    "TIME_LIMIT": _Z["time_limit"].default,
    "MODULES": _Z["modules"].default,
    "WITH_UPSTREAM": False,
}

#: Stages ``studyarealayout`` runs with ``WITH_UPSTREAM``.
UPSTREAM_STAGES = ("network", "surfaces", "sites", "zoning")


def _field(p: Params, key: str, what: str) -> str:
    name = p.text(key)
    if not name:
        raise ParameterError(f"{p.algorithm}: parameter {key} is required: give the {what} field of the cells")
    return name


@tool("zoningoptimise", defaults=OPTIMISE_DEFAULTS)
def zoningoptimise(p: Params) -> dict[str, Any]:
    """Assign cells to the body and the two wings of an IP characteristic town (one body, two wings).

    Each district is contiguous and within its size target ± tolerance (cell counts or km²),
    each wing touches the body, and along the axis bearing (90 = west → east) the east wing
    lies beyond the body and the body beyond the west wing. The objective is the summed
    suitability (one field per district) minus the compactness weight × perimeter; solved
    exactly (MIP, HiGHS), heuristically or ``auto``. Optionally the body is split into its
    seven modules. Outputs: districts (``OUTPUT_DISTRICTS``), modules and cells (optional),
    ``OBJECTIVE``, ``GAP`` and ``STATUS``.
    """
    from iptown_gis.zoning import ZoningModel, cells_from_polygons, layout_frames, layout_modules

    steps = p.progress.steps(3)
    gdf = p.vector("CELLS", geom_types=("Polygon",)).reset_index(drop=True)
    cells = cells_from_polygons(gdf, exclude=p.text("EXCLUDE"))
    if p.flag("LARGEST_COMPONENT"):
        cells.keep_largest_component()
    area = p.choice("MEASURE", MEASURES) != "cells"
    scale = 1e6 if area else 1.0
    model = ZoningModel.districts(
        cells, suit_body=_field(p, "SUIT_BODY", "body suitability"),
        suit_east=_field(p, "SUIT_EAST", "east wing suitability"),
        suit_west=_field(p, "SUIT_WEST", "west wing suitability"),
        body=p.need_number("BODY", minimum=0.0) * scale,
        wing_east=p.need_number("WING_EAST", minimum=0.0) * scale,
        wing_west=p.need_number("WING_WEST", minimum=0.0) * scale,
        tolerance=p.need_number("TOLERANCE", minimum=0.0, maximum=0.99),
        measure="area" if area else "cells",
        axis_bearing=p.need_number("AXIS_BEARING", minimum=-360.0, maximum=360.0),
        axis_margin=p.need_number("AXIS_MARGIN", minimum=0.0),
        compactness_weight=p.need_number("COMPACTNESS", minimum=0.0))
    steps[0].update(1.0, "cells read")
    seed = p.need_integer("SEED")
    time_limit = p.need_number("TIME_LIMIT", minimum=0.1)
    model.solve(method=p.choice("METHOD", METHODS), time_limit=time_limit, seed=seed, progress=steps[1])
    log.info("status %s, method %s, objective %.6g, bound %.6g, gap %s", model.status_, model.method_,
             model.objective_, model.bound_, f"{model.gap_:.4%}")
    mm = mlab = None
    if p.flag("MODULES", True):
        assert model.labels_ is not None
        mm, mlab = layout_modules(cells, model.labels_, time_limit=time_limit, seed=seed, progress=steps[2])
    frames = layout_frames(cells, model, module_model=mm, module_labels=mlab)
    out: dict[str, Any] = {"OBJECTIVE": float(model.objective_), "GAP": float(model.gap_),
                           "STATUS": str(model.status_)}
    out["OUTPUT_DISTRICTS"] = p.write_vector("OUTPUT_DISTRICTS", frames["districts"], layer="districts")
    if "modules" in frames and p.output("OUTPUT_MODULES", required=False) is not None:
        out["OUTPUT_MODULES"] = p.write_vector("OUTPUT_MODULES", frames["modules"], layer="modules")
    if p.output("OUTPUT_CELLS", required=False) is not None:
        out["OUTPUT_CELLS"] = p.write_vector("OUTPUT_CELLS", frames["cells"], layer="cells")
    return out


_POINT_TEXT = re.compile(r"^\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*(?:\[(.+)\])?\s*$")


def site_lonlat(p: Params, key: str = "SITE") -> list[float] | None:
    """Point parameter ``key`` as ``[lon, lat]`` in WGS84 (rounded to 1e-7 degree), ``None`` if not given.

    The point arrives as ``{"x": X, "y": Y, "crs": "EPSG:4548" or WKT}`` (its own CRS;
    without ``crs``: WGS84), or as QGIS's text ``"X,Y [EPSG:4326]"``.
    """
    import pyproj

    if not p.has(key):
        return None
    v = p.raw(key)
    if isinstance(v, Mapping):
        x, y, crs = v.get("x"), v.get("y"), v.get("crs")
    else:
        m = _POINT_TEXT.match(str(v))
        if m is None:
            raise ParameterError(f"{p.algorithm}: parameter {key}: {v!r} is not a point; give "
                                 "{\"x\": X, \"y\": Y, \"crs\": \"EPSG:4326\"}")
        x, y, crs = m.group(1), m.group(2), m.group(3)
    try:
        fx, fy = float(x), float(y)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParameterError(f"{p.algorithm}: parameter {key}: the point needs numbers x and y, got "
                             f"{x!r}, {y!r}") from None
    src = pyproj.CRS.from_epsg(4326)
    if crs:
        try:
            src = pyproj.CRS.from_user_input(str(crs).strip())
        except pyproj.exceptions.CRSError as exc:
            from iptown_gis.errors import CRSError

            raise CRSError(f"{p.algorithm}: parameter {key}: unknown CRS {crs!r} ({exc})") from None
    wgs84 = pyproj.CRS.from_epsg(4326)
    if src != wgs84:
        fx, fy = pyproj.Transformer.from_crs(src, wgs84, always_xy=True).transform(fx, fy)
    return [round(float(fx), 7), round(float(fy), 7)]


@tool("studyarealayout", defaults=LAYOUT_DEFAULTS)
def studyarealayout(p: Params) -> dict[str, Any]:
    """Lay out a whole IP characteristic town around a site with the scenario's [zoning] recipe.

    A grid of cells within the radius, each scored from travel time to the site and to rail,
    market potential, agglomeration, distance to water and slope (cells near water are
    excluded), then the one-body-two-wings districts of the given sizes and the seven modules
    of the body. ``SITE``: a point (empty: the scenario's site). ``WITH_UPSTREAM`` runs the
    network, surfaces and sites stages first. Writes ``OUTPUT_FOLDER/study/scenario.toml``
    and the ``zoning`` stage's outputs (``layout.gpkg``, ``summary.json``, styles).
    """
    from iptown_gis.io.vector import list_layers
    from iptown_gis.pipeline import run_scenario
    from iptown_gis.study.edit import build_study

    out_path = p.output("OUTPUT_FOLDER")
    assert out_path is not None
    out_dir = Path(out_path)
    overrides: dict[str, Any] = {
        "zoning.radius_m": p.need_number("RADIUS", minimum=1.0),
        "zoning.cell_size_m": p.need_number("CELL_SIZE", minimum=1.0),
        "zoning.body_km2": p.need_number("BODY_KM2", minimum=0.0001),
        "zoning.wing_east_km2": p.need_number("WING_EAST_KM2", minimum=0.0001),
        "zoning.wing_west_km2": p.need_number("WING_WEST_KM2", minimum=0.0001),
        "zoning.method": p.choice("METHOD", METHODS),
        "zoning.time_limit": p.need_number("TIME_LIMIT", minimum=0.1),
        "zoning.modules": p.flag("MODULES", True),
    }
    site = site_lonlat(p, "SITE")
    if site is not None:
        overrides["zoning.site"] = site
    scenario = build_study(p.text("SCENARIO"), out_dir / "study", overrides=overrides)
    stages = list(UPSTREAM_STAGES) if p.flag("WITH_UPSTREAM") else ["zoning"]
    manifest = run_scenario(scenario, out_dir, stages=stages, progress=p.progress)
    gpkg = out_dir / "zoning" / "layout.gpkg"
    result: dict[str, Any] = {"OUTPUT_FOLDER": str(out_dir), "SUMMARY": str(out_dir / "zoning" / "summary.json"),
                              "DISTRICTS": f"{gpkg}|layername=districts", "CELLS": f"{gpkg}|layername=cells"}
    if "modules" in list_layers(gpkg):
        result["MODULES_LAYER"] = f"{gpkg}|layername=modules"
    log.info("stages %s; layout in %s", ", ".join(manifest["stages"]), gpkg)
    return result
