"""The ``surfaces`` pipeline stage.

Writes into ``<out>/surfaces/``:

- ``market_potential.tif``: Harris potential of ``[surfaces] masses`` (network or Euclidean);
- ``neg_market_access.tif``: NEG market access; when the NEG stage ran, over its regions with
  its equilibrium incomes and price indices, its sigma and tau (per minute of network time);
  otherwise over the masses with ``income_field`` and G = 1 (tag ``iptown_income_source``);
- ``potential_all_cells.tif``: all-cells Euclidean potential of the masses rasterised on the
  grid (FFT);
- ``kde.tif``: kernel density of ``kde_points``;
- ``zonal.gpkg`` (one layer per zone input) and ``zonal_<zones>.csv``: mean/max/sum of every
  surface per zone;
- ``hotspots.gpkg``: Gi* (or local Moran) hot spots on the zones or grid cells.

and sets ``ctx.surfaces``, a :class:`~iptown_gis.stage_results.SurfacesResult` with ``grid``
(:class:`Grid`); ``rasters``: for each raster name (``market_potential``,
``neg_market_access``, ``potential_all_cells``, ``kde``) a
:class:`~iptown_gis.stage_results.RasterResult` (``path``, ``surface``, ``array``); ``zonal``
(zones input -> GeoDataFrame); ``hotspots`` (GeoDataFrame with ``gi_z``, ``p``, ``q``,
``hot_spot``, ``cold_spot``, ``significance``); ``paths`` (name -> output path);
``mass_source`` (what the masses are). It reads as the dictionary ``ctx.results["surfaces"]``
was (``res["kde"]["path"]``).

Reads ``ctx.network`` (built from ``roads`` when the network stage did not run; then stored
there) and ``ctx.neg`` (regions, incomes, price indices) when present.

With ``ctx.executor`` set (``iptown run --workers N``), the network shortest paths run on Dask in
batches of masses and the Euclidean potentials and the KDE tile by tile as Dask tasks
(:mod:`iptown_gis.parallel`); the values equal the in-process ones (costs exactly, sums to
1e-12 relative).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from iptown_gis.errors import ColumnError, GeometryError, ScenarioError
from iptown_gis.network.snap import SnapPolicy
from iptown_gis.pipeline import StudyContext
from iptown_gis.progress import Progress
from iptown_gis.stage_results import NetworkResult, SurfacesResult
from iptown_gis.surfaces.config import SurfacesConfig
from iptown_gis.surfaces.grid import Surface, make_grid
from iptown_gis.surfaces.hotspots import hotspots
from iptown_gis.surfaces.kde import kde
from iptown_gis.surfaces.potential import market_access, market_potential, raster_potential, rasterize_masses
from iptown_gis.surfaces.zonal import write_zonal, zonal_stats

__all__ = ["run"]

log = logging.getLogger(__name__)

SURFACE_NAMES = ("market_potential", "neg_market_access", "potential_all_cells", "kde")


def _snap_policy(ctx: Any, cfg: SurfacesConfig) -> SnapPolicy:
    """The network's snapping policy for cells and masses: ``[network] max_snap_distance``,
    ``[surfaces] drop_far``."""
    ncfg = ctx.scenario.section("network")
    return SnapPolicy.from_options(max_distance=None if ncfg is None else ncfg.max_snap_distance,
                                   drop_far=cfg.drop_far, access_speed_kmh=cfg.access_speed_kmh,
                                   source="[network] max_snap_distance", drop_source="[surfaces] drop_far = true",
                                   speed_source="[surfaces] access_speed_kmh")


def _density(zones: Any, column: str, name: str) -> tuple[Any, str]:
    """``zones`` with ``COLUMN_per_km2`` = column / zone area (km2, in the study's metric CRS)."""
    if column not in zones.columns:
        have = ", ".join(str(c) for c in zones.columns if c != zones.geometry.name)
        raise ColumnError(f"[surfaces] hotspot_variable = 'density:{column}': {name} has no column {column!r}; "
                          f"columns are: {have}")
    area_km2 = zones.geometry.area.to_numpy(dtype="float64") / 1e6
    if not (area_km2 > 0).all():
        raise GeometryError(f"[surfaces] hotspot_variable = 'density:{column}': {name} has zones without area")
    field = f"{column}_per_km2"
    zones = zones.copy()
    zones[field] = np.asarray(zones[column], dtype="float64") / area_km2
    return zones, field


def _warn_smoothed(var: str, cfg: SurfacesConfig) -> None:
    if var in ("kde", "market_potential", "neg_market_access", "potential_all_cells"):
        log.warning("[surfaces] hotspot_variable = %r is a smoothed surface: neighbouring zones share its kernel, "
                    "so the smoothing itself creates autocorrelation and the permutation p-values overstate the "
                    "hot spots; use a raw variable, e.g. hotspot_variable = 'density:pop_2020' (docs/surfaces.md)",
                    var)


def _network(ctx: StudyContext, cfg: SurfacesConfig, progress: Progress | None = None) -> Any:
    if ctx.network is not None and ctx.network.network is not None:
        return ctx.network.network
    from iptown_gis.network import build_network

    log.info("surfaces: no network stage result; building a network from input %r", cfg.roads)
    net = build_network(ctx.layer(cfg.roads), progress=progress)
    if ctx.network is None:
        ctx.network = NetworkResult(network=net)
    else:
        ctx.network.network = net
    return net


def _neg_regions(ctx: StudyContext) -> tuple[Any, np.ndarray, np.ndarray | None, float, float] | None:
    """The NEG stage's regions (points), incomes, price indices, sigma and tau (per minute), if it ran."""
    neg = ctx.neg
    neg_cfg = ctx.scenario.section("neg")
    if neg is None or neg.region_ids is None or neg.income is None or neg_cfg is None:
        return None
    regions = ctx.layer(neg_cfg.regions)
    ids = [str(v) for v in np.asarray(neg.region_ids).ravel()]
    pos = {v: i for i, v in enumerate(ids)}
    have = [str(v) for v in regions[neg_cfg.id_field].to_numpy()]
    keep = np.array([h in pos for h in have])
    if not keep.any():
        log.warning("surfaces: NEG region ids do not match input %r; market access uses G = 1", neg_cfg.regions)
        return None
    regions = regions[keep]
    idx = np.array([pos[h] for h, k in zip(have, keep, strict=True) if k])
    income = np.asarray(neg.income, dtype="float64").ravel()[idx]
    g = neg.price_index
    gi = None if g is None else np.asarray(g, dtype="float64").ravel()[idx]
    sigma = float(neg.sigma if neg.sigma is not None else getattr(neg_cfg, "sigma", 5.0))
    tau = float(neg.tau if neg.tau is not None else getattr(neg_cfg, "tau", 0.0))
    return regions, income, gi, sigma, tau


def _register(ctx: StudyContext, out: SurfacesResult, name: str, surface: Surface, description: str) -> None:
    path = ctx.path("surfaces", f"{name}.tif")
    surface.write(path)
    ctx.add_output(path, stage="surfaces", kind="raster", description=description)
    out.add_raster(name, path, surface)


def run(ctx: StudyContext, progress: Progress) -> None:
    """Compute and write the study's surfaces (see the module docstring)."""
    cfg: SurfacesConfig | None = ctx.scenario.section("surfaces")
    if cfg is None:
        raise ScenarioError(f"{ctx.scenario.source.name}: no [surfaces] section (see docs/surfaces.md)")
    steps = progress.steps(7)
    out = SurfacesResult()
    boundary = ctx.layer(cfg.boundary, geom_types=("Polygon",))
    grid = make_grid(boundary, cell=cfg.cell, memory_budget=cfg.memory_budget)
    out.grid = grid
    steps[0].update(0.0, f"grid {grid.rows} x {grid.cols} ({grid.n_inside} cells)")
    ex = ctx.executor  # Dask (iptown run --workers N) or None: same values
    if cfg.masses is not None:  # masses = false: no potential surfaces
        masses = ctx.layer(cfg.masses, geom_types=("Point",))
        out.mass_source = f"{cfg.masses}.{cfg.mass_field}"
        net = _network(ctx, cfg, steps[0]) if cfg.mode == "network" else None
        snap = _snap_policy(ctx, cfg)
        mp = market_potential(grid, masses, mass_field=cfg.mass_field, decay=cfg.decay, mode=cfg.mode,
                              network=net, cost=cfg.cost, access_speed_kmh=cfg.access_speed_kmh,
                              min_distance=cfg.min_distance, executor=ex, progress=steps[1], snap_policy=snap)
        _register(ctx, out, "market_potential", mp,
                  f"Harris market potential of {cfg.masses}.{cfg.mass_field}, {cfg.mode}, {cfg.decay}")

        if cfg.market_access:
            neg = _neg_regions(ctx)
            if neg is not None:
                # The NEG stage's own regions, equilibrium incomes Y_j and price indices G_j, with its
                # sigma and tau (per minute of network travel time).
                regions, income, g, sigma, tau = neg
                ma = market_access(grid, regions, income=income, price_index=g, sigma=sigma, tau=tau,
                                   mode="network", network=net if net is not None else _network(ctx, cfg),
                                   cost="time", access_speed_kmh=cfg.access_speed_kmh, executor=ex,
                                   progress=steps[2], snap_policy=snap)
                source = "neg"
            else:
                sigma, tau = cfg.sigma, cfg.tau
                ma = market_access(grid, masses, income_field=cfg.income_field or cfg.mass_field, sigma=sigma,
                                   tau=tau, mode=cfg.mode, network=net, cost=cfg.cost,
                                   access_speed_kmh=cfg.access_speed_kmh, executor=ex, progress=steps[2],
                                   snap_policy=snap)
                source = f"{cfg.masses}.{cfg.income_field or cfg.mass_field}, G = 1"
            ma.tags["iptown_income_source"] = source
            _register(ctx, out, "neg_market_access", ma,
                      f"NEG market access (sigma={sigma:g}, tau={tau:g}, Y and G from {source})")

        if cfg.raster_potential:
            steps[2].update(1.0, "all-cells potential (FFT)")
            mass_r = rasterize_masses(grid, masses, field=cfg.mass_field)
            rp = raster_potential(grid, mass_r, decay=cfg.decay, min_distance=cfg.min_distance)
            rp.name = "potential_all_cells"
            _register(ctx, out, "potential_all_cells", rp,
                      "all-cells Euclidean potential of the rasterised masses (FFT)")
    steps[3].update(0.0, "kernel density")

    if cfg.kde_points is not None:
        pts = ctx.layer(cfg.kde_points, geom_types=("Point",))
        k = kde(pts, grid, kernel=cfg.kde_kernel, radius=cfg.kde_radius, rule=cfg.kde_rule,
                weight_field=cfg.kde_weight, output=cfg.kde_output, executor=ex, progress=steps[3])
        _register(ctx, out, "kde", k, f"{cfg.kde_kernel} KDE of {cfg.kde_points} weighted by {cfg.kde_weight}")

    surfaces = [out.rasters[n].surface for n in SURFACE_NAMES if n in out.rasters]
    zonal: dict[str, Any] = {}
    zpath = ctx.path("surfaces", "zonal.gpkg")
    for i, zname in enumerate(cfg.zonal_zones):
        zones = ctx.layer(zname, geom_types=("Polygon",))
        table = zones
        for s in surfaces:
            table = zonal_stats(s, table, stats=cfg.zonal_stats)
        zonal[zname] = table
        write_zonal(table, zpath, layer=zname, csv=ctx.path("surfaces", f"zonal_{zname}.csv"))
        ctx.add_output(ctx.path("surfaces", f"zonal_{zname}.csv"), stage="surfaces", kind="table",
                       description=f"zonal statistics per {zname}")
        steps[4].update((i + 1) / max(len(cfg.zonal_zones), 1), f"zonal statistics: {zname}")
    if zonal:
        ctx.add_output(zpath, stage="surfaces", kind="vector", description="zonal statistics (one layer per zones)")
        out.paths["zonal"] = zpath
    out.zonal = zonal

    if cfg.hotspot_zones is not None:
        steps[5].update(0.0, f"hot spots ({cfg.hotspot_statistic}, {cfg.permutations} permutations)")
        var = cfg.hotspot_variable
        if cfg.hotspot_zones == "cells":
            if var not in out.rasters:
                raise ScenarioError(f"[surfaces] hotspot_variable = {var!r}: hot spots on cells need a surface "
                                    f"({', '.join(n for n in SURFACE_NAMES if n in out.rasters)})")
            _warn_smoothed(var, cfg)
            hs = hotspots(out.rasters[var].surface, statistic=cfg.hotspot_statistic,
                          weights=cfg.hotspot_weights if cfg.hotspot_weights in ("queen", "rook") else "queen",
                          permutations=cfg.permutations, seed=ctx.scenario.study.seed, alpha=cfg.alpha,
                          correction="fdr" if cfg.fdr else "none")
        else:
            if var.startswith("density:"):
                # the raw variable per km2 of zone area: no smoothing that would itself create the
                # autocorrelation the permutation test then finds significant
                zones, field = _density(ctx.layer(cfg.hotspot_zones, geom_types=("Polygon",)),
                                        var.removeprefix("density:"), cfg.hotspot_zones)
            elif var in SURFACE_NAMES:
                _warn_smoothed(var, cfg)
                if var not in out.rasters:
                    raise ScenarioError(f"[surfaces] hotspot_variable = {var!r}: that surface was not computed")
                zones = zonal.get(cfg.hotspot_zones)
                if zones is None:
                    zones = zonal_stats(out.rasters[var].surface, ctx.layer(cfg.hotspot_zones), stats=("mean",))
                field = f"{var}_mean"
            else:
                zones, field = ctx.layer(cfg.hotspot_zones), var
            hs = hotspots(zones, field=field, statistic=cfg.hotspot_statistic, weights=cfg.hotspot_weights,
                          permutations=cfg.permutations, seed=ctx.scenario.study.seed, alpha=cfg.alpha,
                          correction="fdr" if cfg.fdr else "none")
        hpath = ctx.path("surfaces", "hotspots.gpkg")
        from iptown_gis.io.vector import write_vector

        write_vector(hs, hpath, layer="hotspots")
        ctx.add_output(hpath, stage="surfaces", kind="vector",
                       description=f"{cfg.hotspot_statistic} hot spots of {var} on {cfg.hotspot_zones}")
        out.hotspots = hs
        out.paths["hotspots"] = hpath
    steps[6].update(1.0, "surfaces done")
    ctx.surfaces = out
