"""The ``zoning`` pipeline stage: lay out a "one body, two wings" town around a site.

Reads ``ctx.results["sites"]["ranked"]`` (first row = the site, when ``site = "auto"`` or
``"top"``), ``ctx.results["network"]`` (travel times) and ``ctx.results["surfaces"]`` (market
potential and KDE rasters) when present, with the fallbacks of
:mod:`iptown_gis.zoning.studyarea` otherwise. Writes ``<out>/zoning/`` (``layout.geojson``,
``layout.gpkg``, ``summary.json``, ``layout.png``, ``layout_*.qml``) and sets
``ctx.results["zoning"]``: ``cells`` (:class:`CellSet`), ``model`` (solved districts),
``module_model``, ``labels`` / ``module_labels`` (per cell), ``summary`` (dict), ``paths``,
``site`` (metric x, y) and ``site_source``, ``sources`` (factor -> where it came from),
``left_out`` (factor -> why it was left out of the suitability, e.g. slope from a too coarse DEM).
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import pyproj

from iptown_gis.errors import DataNotFoundError, ScenarioError
from iptown_gis.progress import Progress
from iptown_gis.zoning.config import ZoningConfig
from iptown_gis.zoning.export import write_layout
from iptown_gis.zoning.model import DISTRICTS, MODULES, ZoningModel
from iptown_gis.zoning.modules import layout_modules, module_suitability
from iptown_gis.zoning.studyarea import build_study_area

__all__ = ["resolve_site", "run"]

log = logging.getLogger(__name__)


def _layer(ctx: Any, name: str | None) -> gpd.GeoDataFrame | None:
    if name is None or name not in ctx.scenario.inputs:
        return None
    return ctx.layer(name)


def resolve_site(ctx: Any, cfg: ZoningConfig, crs: Any) -> tuple[tuple[float, float], str]:
    """The site in metric ``crs`` and a description of where it came from.

    Raises
    ------
    ScenarioError
        ``site_adcode`` names no seat.
    DataNotFoundError
        ``site = "top"`` but the sites stage produced no ranking.
    """
    def seat(adcode: int, why: str) -> tuple[tuple[float, float], str]:
        seats = _layer(ctx, cfg.seats)
        if seats is None:
            raise ScenarioError(f"[zoning] seats = {cfg.seats!r}: no such input")
        row = seats[seats["adcode"].astype("int64") == int(adcode)]
        if len(row) == 0:
            raise ScenarioError(f"[zoning] {why} = {adcode}: no seat with that adcode in input {cfg.seats!r}")
        g = row.geometry.iloc[0]
        p = g if g.geom_type == "Point" else g.representative_point()
        name = str(row["unit_name"].iloc[0]) if "unit_name" in row.columns else str(adcode)
        return (float(p.x), float(p.y)), f"seat {adcode} ({name})"

    if cfg.site_adcode is not None:
        return seat(cfg.site_adcode, "site_adcode")
    if isinstance(cfg.site, list):
        tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        x, y = tr.transform(cfg.site[0], cfg.site[1])
        return (float(x), float(y)), f"coordinates {cfg.site[0]:.5f}, {cfg.site[1]:.5f} (WGS84)"
    sites = ctx.results.get("sites")
    ranked = sites.get("ranked") if isinstance(sites, dict) else None
    if ranked is not None and len(ranked):
        top = ranked.iloc[:1].to_crs(crs)
        g = top.geometry.iloc[0]
        p = g if g.geom_type == "Point" else g.representative_point()
        ident = next((str(top[c].iloc[0]) for c in ("site_id", "name", "unit_name") if c in top.columns), "1")
        return (float(p.x), float(p.y)), f"top-ranked site of the sites stage ({ident})"
    if cfg.site == "top":
        raise DataNotFoundError("[zoning] site = 'top' needs the sites stage's ranking: add a [sites] section, "
                                "or give site = [lon, lat] or site_adcode")
    return seat(cfg.fallback_adcode, "fallback_adcode")


def run(ctx: Any, progress: Progress) -> None:
    """Lay out the town (see the module docstring)."""
    cfg: ZoningConfig = ctx.scenario.section("zoning")
    seed = cfg.seed if cfg.seed is not None else int(ctx.scenario.study.seed)
    seats = _layer(ctx, cfg.seats)
    crs = seats.crs if seats is not None else pyproj.CRS.from_user_input(ctx.crs or "EPSG:4548")
    site, site_src = resolve_site(ctx, cfg, crs)
    progress.update(0.02, "zoning: study area")
    dem = ctx.scenario.input_path(cfg.dem) if cfg.dem and cfg.dem in ctx.scenario.inputs else None
    area = build_study_area(
        site, radius=cfg.radius_m, cell_size=cfg.cell_size_m, crs=crs, recipe=cfg.recipe,
        transforms=cfg.transforms, module_recipe=cfg.module_recipe, network=ctx.results.get("network"),
        surfaces=ctx.results.get("surfaces"), seats=seats, places=_layer(ctx, cfg.places),
        rivers=_layer(ctx, cfg.rivers), lakes=_layer(ctx, cfg.lakes), railways=_layer(ctx, cfg.railways),
        roads=_layer(ctx, cfg.roads), dem=dem, mask=_layer(ctx, cfg.mask), water_buffer=cfg.water_buffer_m,
        centre_speed_kmh=cfg.town_centre_speed_kmh,
    )
    cells = area.cells
    model = ZoningModel.districts(
        cells, suit_body="suit_body", suit_east="suit_wing_east", suit_west="suit_wing_west",
        body=cfg.body_km2 * 1e6, wing_east=cfg.wing_east_km2 * 1e6, wing_west=cfg.wing_west_km2 * 1e6,
        tolerance=cfg.tolerance, measure="area", axis_bearing=cfg.axis_bearing, axis_margin=cfg.axis_margin_m,
        compactness_weight=cfg.compactness_weight,
    )
    model.solve(method=cfg.method, time_limit=cfg.time_limit, seed=seed, progress=progress.sub(0.1, 0.7))
    assert model.labels_ is not None
    mm, mlab = None, None
    if cfg.modules:
        mm, mlab = layout_modules(
            cells, model.labels_, suitability=module_suitability(cells), shares=cfg.module_shares,
            tolerance=cfg.module_tolerance, affinity_weight=cfg.module_affinity_weight,
            compactness_weight=cfg.module_compactness_weight, method=cfg.module_method,
            time_limit=cfg.time_limit, seed=seed, progress=progress.sub(0.7, 0.9))
    tr = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = tr.transform(*site)
    extra = {"site": {"x": site[0], "y": site[1], "lon": lon, "lat": lat, "source": site_src},
             "radius_m": cfg.radius_m, "cell_size_m": cfg.cell_size_m, "factor_sources": area.sources,
             "factors_left_out": area.left_out, "recipe": cfg.recipe, "transforms": cfg.transforms}
    out_dir = ctx.path("zoning", "layout.geojson").parent
    paths = write_layout(out_dir, cells, model, module_model=mm, module_labels=mlab, extra=extra, site=site,
                         title=f"One body, two wings: {site_src}")
    kinds = {"geojson": "vector", "gpkg": "vector", "summary": "json", "map": "figure"}
    for key, p in paths.items():
        ctx.add_output(p, stage="zoning", kind=kinds.get(key, "style"), description=f"zoning {key}")
    import json

    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    ctx.results["zoning"] = {"cells": cells, "model": model, "module_model": mm, "labels": model.labels_,
                             "module_labels": mlab, "summary": summary, "paths": paths, "site": site,
                             "site_source": site_src, "sources": area.sources, "left_out": area.left_out,
                             "districts": DISTRICTS, "modules": MODULES}
    log.info("zoning: %s, objective %.3f (%s), %d cells", site_src, model.objective_, model.status_, cells.n)

