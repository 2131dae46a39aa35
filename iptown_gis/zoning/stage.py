"""The ``zoning`` pipeline stage: lay out a "one body, two wings" town around each chosen site.

One layout per town the sites stage chose (``towns = "chosen"``, numbered as its ``choice``
column: the same numbers as the report's maps and tables), or around the one site the scenario
names (``site_adcode``, ``site = [lon, lat]``). Town no. 1 is written to ``<out>/zoning/`` (the file
names below), towns 2.. to ``<out>/zoning/town_<no>/`` with the same names; every layer carries
``town_no``, ``town_id``, ``town_name`` columns.

Reads ``ctx.sites`` (``selected``; ``ranked``: first row = the site, when ``site = "auto"`` or
``"top"``), ``ctx.network`` (travel times) and ``ctx.surfaces`` (market potential and KDE
rasters) when present, with the fallbacks of :mod:`iptown_gis.zoning.studyarea` otherwise.
Writes ``<out>/zoning/`` (``layout.geojson``, ``layout.gpkg``, ``summary.json``,
``layout.png``, ``layout_*.qml``) and sets ``ctx.zoning``, a
:class:`~iptown_gis.stage_results.ZoningResult` with one
:class:`~iptown_gis.stage_results.TownLayout` per town: ``cells`` (:class:`CellSet`), ``model``
(solved districts), ``module_model``, ``labels`` / ``module_labels`` (per cell), ``summary``
(dict), ``paths``, ``site`` (metric x, y) and ``site_source``, ``sources`` (factor -> where it
came from), ``left_out`` (factor -> why it was left out of the suitability, e.g. slope from a
too coarse DEM). It reads as the dictionary ``ctx.results["zoning"]`` was (town no. 1's keys,
``districts``, ``modules``, ``towns``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pyproj

from iptown_gis.errors import DataNotFoundError, ScenarioError
from iptown_gis.parallel.executor import run_tasks
from iptown_gis.pipeline import StudyContext
from iptown_gis.progress import Progress
from iptown_gis.stage_results import TownLayout, ZoningResult
from iptown_gis.zoning.config import ZoningConfig
from iptown_gis.zoning.export import write_layout
from iptown_gis.zoning.model import DISTRICTS, MODULES, ZoningModel
from iptown_gis.zoning.modules import layout_modules, module_suitability
from iptown_gis.zoning.studyarea import build_study_area

__all__ = ["Town", "resolve_site", "resolve_towns", "run"]

log = logging.getLogger(__name__)


def _layer(ctx: StudyContext, name: str | None) -> gpd.GeoDataFrame | None:
    if name is None or name not in ctx.scenario.inputs:
        return None
    return ctx.layer(name)


def resolve_site(ctx: StudyContext, cfg: ZoningConfig, crs: Any) -> tuple[tuple[float, float], str]:
    """The site in metric ``crs`` and a description of where it came from.

    In order: the seat of ``site_adcode``; ``site = [lon, lat]`` (WGS84); the top-ranked
    site of the sites stage when it ran; else the seat of ``fallback_adcode`` (an error for
    ``site = "top"``). A polygon seat or site gives its representative point.

    Parameters
    ----------
    ctx
        The study context: the ``cfg.seats`` input and the sites stage's result
        (``ctx.sites``) are read.
    cfg
        The ``[zoning]`` settings: ``site_adcode``, ``site``, ``seats``, ``fallback_adcode``.
    crs
        The metric CRS the site is returned in (e.g. the study CRS).

    Returns
    -------
    ((float, float), str)
        The site's ``(x, y)`` in ``crs`` and where it came from, e.g. ``"seat 340100 (...)"``.

    Raises
    ------
    ScenarioError
        ``site_adcode`` (or ``fallback_adcode``) names no seat, or ``seats`` is not an input.
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
    ranked = ctx.sites.ranked if ctx.sites is not None else None
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


@dataclass(frozen=True)
class Town:
    """A town to lay out: its number (the sites stage's choice order), code, name, site and origin."""

    no: int
    town_id: str
    name: str
    site: tuple[float, float]
    source: str


def _point(g: Any) -> tuple[float, float]:
    p = g if g.geom_type == "Point" else g.representative_point()
    return float(p.x), float(p.y)


def resolve_towns(ctx: StudyContext, cfg: ZoningConfig, crs: Any) -> list[Town]:
    """The towns to lay out, numbered as the sites stage chose them.

    ``site_adcode`` or ``site = [lon, lat]``: that one town. Otherwise every town the sites stage
    selected (``towns = "chosen"``, the default; ``"first"``: only town no. 1), in the order of
    its ``choice`` column; without a selection, the top-ranked site (see :func:`resolve_site`).

    Parameters
    ----------
    ctx
        The study context: the ``cfg.seats`` input and the sites stage's result
        (``ctx.sites``) are read.
    cfg
        The ``[zoning]`` settings: ``site_adcode``, ``site``, ``seats``, ``fallback_adcode`` and ``towns``.
    crs
        The metric CRS the site is returned in (e.g. the study CRS).

    Returns
    -------
    list of Town
        At least one town, numbered from 1 (or by the sites stage's ``choice``), its site in ``crs``.

    Raises
    ------
    ScenarioError, DataNotFoundError
        As :func:`resolve_site`.
    """
    from iptown_gis.study.labels import format_id

    sites = ctx.sites
    sel = sites.selected if sites is not None else None
    if cfg.site_adcode is None and not isinstance(cfg.site, list) and sel is not None and len(sel):
        chosen = sel.to_crs(crs)
        if "choice" in chosen.columns:
            chosen = chosen.sort_values("choice")
        towns = []
        for i, (_, r) in enumerate(chosen.iterrows()):
            no = int(r["choice"]) if "choice" in chosen.columns else i + 1
            code = format_id(r["site_id"]) if "site_id" in chosen.columns else str(no)
            name = next((str(r[c]) for c in ("unit_name", "name") if c in chosen.columns and r[c] == r[c]), code)
            towns.append(Town(no, code, name, _point(r.geometry),
                              f"town {no} chosen by the sites stage: {name} ({code})"))
        return towns[:1] if cfg.towns == "first" else towns
    site, src = resolve_site(ctx, cfg, crs)
    code = str(cfg.site_adcode) if cfg.site_adcode is not None else ""
    name = ""
    ranked = sites.ranked if sites is not None else None
    if ranked is not None and len(ranked) and cfg.site_adcode is None and not isinstance(cfg.site, list):
        top = ranked.iloc[0]
        code = format_id(top["site_id"]) if "site_id" in ranked.columns else code
        name = str(top["unit_name"]) if "unit_name" in ranked.columns else ""
    return [Town(1, code or "1", name or code or "site", site, src)]


def _town_inputs(ctx: StudyContext, cfg: ZoningConfig, crs: Any, seats: Any, seed: int) -> dict[str, Any]:
    """What every town's layout reads (sent once to each worker when an executor runs the towns)."""
    dem = ctx.scenario.input_path(cfg.dem) if cfg.dem and cfg.dem in ctx.scenario.inputs else None
    return {"cfg": cfg, "crs": crs, "seats": seats, "seed": seed, "dem": dem,
            "network": ctx.network.network if ctx.network is not None else None, "surfaces": ctx.surfaces,
            "layers": {k: _layer(ctx, getattr(cfg, k)) for k in ("places", "rivers", "lakes", "railways", "roads",
                                                                 "mask")}}


def _solve_town(town: Town, shared: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """Study area, districts and modules of one town (a task: no file written, no context read)."""
    prog = progress if progress is not None else Progress(None)
    cfg: ZoningConfig = shared["cfg"]
    layers = shared["layers"]
    t0 = time.perf_counter()
    prog.update(0.02, f"zoning town {town.no}: study area")
    area = build_study_area(
        town.site, radius=cfg.radius_m, cell_size=cfg.cell_size_m, crs=shared["crs"], recipe=cfg.recipe,
        transforms=cfg.transforms, module_recipe=cfg.module_recipe, network=shared["network"],
        surfaces=shared["surfaces"], seats=shared["seats"], places=layers["places"], rivers=layers["rivers"],
        lakes=layers["lakes"], railways=layers["railways"], roads=layers["roads"], dem=shared["dem"],
        mask=layers["mask"], water_buffer=cfg.water_buffer_m, centre_speed_kmh=cfg.town_centre_speed_kmh,
    )
    cells = area.cells
    model = ZoningModel.districts(
        cells, suit_body="suit_body", suit_east="suit_wing_east", suit_west="suit_wing_west",
        body=cfg.body_km2 * 1e6, wing_east=cfg.wing_east_km2 * 1e6, wing_west=cfg.wing_west_km2 * 1e6,
        tolerance=cfg.tolerance, measure="area", axis_bearing=cfg.axis_bearing, axis_margin=cfg.axis_margin_m,
        compactness_weight=cfg.compactness_weight,
    )
    seed = shared["seed"]
    model.solve(method=cfg.method, time_limit=cfg.time_limit, seed=seed, progress=prog.sub(0.1, 0.7))
    assert model.labels_ is not None
    mm, mlab = None, None
    if cfg.modules:
        mm, mlab = layout_modules(
            cells, model.labels_, suitability=module_suitability(cells), shares=cfg.module_shares,
            tolerance=cfg.module_tolerance, affinity_weight=cfg.module_affinity_weight,
            compactness_weight=cfg.module_compactness_weight, method=cfg.module_method,
            time_limit=cfg.time_limit, seed=seed, progress=prog.sub(0.7, 0.9))
    return {"area": area, "model": model, "module_model": mm, "module_labels": mlab,
            "solve_s": time.perf_counter() - t0}


def _write_town(cfg: ZoningConfig, town: Town, crs: Any, out_dir: Any, solved: dict[str, Any]) -> TownLayout:
    """The files of one solved town (here, in the process that owns the output folder)."""
    t0 = time.perf_counter()
    area, model, mm, mlab = solved["area"], solved["model"], solved["module_model"], solved["module_labels"]
    cells = area.cells
    site, site_src = town.site, town.source
    tr = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = tr.transform(*site)
    tinfo = {"town_no": town.no, "town_id": town.town_id, "town_name": town.name}
    extra = {"town": tinfo, "site": {"x": site[0], "y": site[1], "lon": lon, "lat": lat, "source": site_src},
             "radius_m": cfg.radius_m, "cell_size_m": cfg.cell_size_m, "factor_sources": area.sources,
             "factors_left_out": area.left_out, "recipe": cfg.recipe, "transforms": cfg.transforms}
    paths = write_layout(out_dir, cells, model, module_model=mm, module_labels=mlab, extra=extra, site=site,
                         title=f"Town {town.no}: {town.name} ({town.town_id}), one body, two wings", town=tinfo)
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    elapsed = round(solved["solve_s"] + time.perf_counter() - t0, 3)
    log.info("zoning: town %d %s (%s): objective %.3f (%s), %d cells, %.1f s", town.no, town.name, town.town_id,
             model.objective_, model.status_, cells.n, elapsed)
    return TownLayout(cells=cells, model=model, module_model=mm, labels=model.labels_, module_labels=mlab,
                      summary=summary, paths=paths, site=site, site_source=site_src, sources=area.sources,
                      left_out=area.left_out, town=tinfo, time_s=elapsed)


def run(ctx: StudyContext, progress: Progress) -> None:
    """Lay out every town (see the module docstring)."""
    cfg: ZoningConfig = ctx.scenario.section("zoning")
    seed = cfg.seed if cfg.seed is not None else int(ctx.scenario.study.seed)
    seats = _layer(ctx, cfg.seats)
    crs = seats.crs if seats is not None else pyproj.CRS.from_user_input(ctx.crs or "EPSG:4548")
    towns = resolve_towns(ctx, cfg, crs)
    base = ctx.path("zoning", "layout.geojson").parent
    kinds = {"geojson": "vector", "gpkg": "vector", "summary": "json", "map": "figure"}
    done = []
    shared = _town_inputs(ctx, cfg, crs, seats, seed)
    solved: list[dict[str, Any] | None] = [None] * len(towns)
    steps = progress.steps(len(towns))
    if ctx.executor is not None and len(towns) > 1:
        # towns are independent: solve them as tasks (the same function as below); files are
        # written here, where the output folder is
        solved = list(run_tasks(_solve_town, towns, shared=shared, executor=ctx.executor,
                                progress=progress.sub(0.0, 0.8), message="zoning towns"))
        steps = progress.sub(0.8, 1.0).steps(len(towns))
    for i, (town, sub) in enumerate(zip(towns, steps, strict=True)):
        # town no. 1 keeps today's files in zoning/; towns 2.. get zoning/town_<no>/ with the same names
        out_dir = base if town is towns[0] else ctx.path("zoning", f"town_{town.no}", "layout.geojson").parent
        res = _write_town(cfg, town, crs, out_dir, solved[i] or _solve_town(town, shared, sub))
        for key, p in (res.paths or {}).items():
            ctx.add_output(p, stage="zoning", kind=kinds.get(key, "style"),
                           description=f"town {town.no} ({town.name}, {town.town_id}) layout: {key}")
        done.append(res)
    ctx.zoning = ZoningResult(layouts=done, districts=DISTRICTS, modules=MODULES)
