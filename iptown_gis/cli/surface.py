"""``iptown surface``: market potential, kernel density, hot spots and zonal statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from iptown_gis.cli._common import (
    echo_json,
    executor_options,
    make_executor,
    memory_budget_option,
    output_path,
    progress_bar,
)

__all__ = ["group"]

_REPROJECT = click.option("--reproject", is_flag=True,
                          help="Reproject inputs to the boundary's CRS instead of failing on a mismatch.")
_MEMORY = memory_budget_option(default="4GB", help="Largest working memory for the grid (e.g. 2GB).")


def _read(spec: str, name: str, geom: tuple[str, ...] | None = None, *, metric: bool = True) -> Any:
    from iptown_gis.io.vector import read_vector

    return read_vector(spec, name=name, geom_types=geom, metric=metric)


def _boundary_and_grid(boundary: str, cell: float, crs: str | None, memory_budget: str) -> tuple[Any, Any]:
    """The boundary as read (its own CRS) and a grid in its metric CRS (``crs`` / UTM for degrees)."""
    from iptown_gis.surfaces.grid import make_grid

    b = _read(boundary, "--boundary", ("Polygon",), metric=False)
    return b, make_grid(b, cell=cell, crs=crs, memory_budget=memory_budget)


def _read_like(
    spec: str, name: str, boundary: Any, grid: Any, *, reproject: bool, geom: tuple[str, ...] | None = None
) -> Any:
    """Read a layer that must share the boundary's CRS (else CRSError unless ``reproject``), in the grid CRS."""
    from iptown_gis.surfaces.grid import check_same_crs

    gdf = _read(spec, name, geom, metric=False)
    gdf = check_same_crs(boundary.crs, gdf, name=name, reproject=reproject)
    return gdf.to_crs(grid.crs) if gdf.crs != grid.crs else gdf


def _tiled_summary(path: Path) -> dict[str, Any]:
    """Min, max, mean and tags of a (tiled) GeoTIFF, read block by block (never whole)."""
    import numpy as np
    import rasterio

    lo, hi, total, n = np.inf, -np.inf, 0.0, 0
    with rasterio.open(path) as src:
        for _, win in src.block_windows(1):
            v = src.read(1, window=win, masked=True).compressed().astype("float64")
            if v.size:
                lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
                total += float(v.sum())
                n += v.size
        tags = src.tags()
        info = {"crs": src.crs.to_string(), "rows": src.height, "cols": src.width}
    return {**info, "cells_inside": n, "min": lo, "max": hi, "mean": total / max(n, 1), **tags}


@click.group(name="surface")
def group() -> None:
    """Market-potential and agglomeration surfaces on a grid."""


@group.command("market-potential")
@click.option("--masses", required=True, metavar="FILE[:LAYER]", help="Mass points (seats, firms, ...).")
@click.option("--mass-field", default=None, help="Mass column (default: count points).")
@click.option("--boundary", required=True, metavar="FILE[:LAYER]", help="Study-area polygon(s); sets the CRS.")
@click.option("--cell", required=True, type=float, metavar="METRES", help="Cell size in metres.")
@click.option("--mode", type=click.Choice(["euclidean", "network"]), default="euclidean", show_default=True)
@click.option("--roads", default=None, metavar="FILE[:LAYER]", help="Road lines (network mode).")
@click.option("--decay", default="power:1", show_default=True, metavar="power:BETA|exp:D0_METRES",
              help="M / d^BETA or M * exp(-d / D0).")
@click.option("--min-distance", type=float, default=None, metavar="METRES",
              help="Distances below it are raised to it (default: half a cell).")
@click.option("--cost", type=click.Choice(["length", "time"]), default="length", show_default=True,
              help="Network cost: metres, or minutes (then D0 and --min-distance are minutes).")
@click.option("--max-snap", type=float, default=10_000.0, show_default=True, metavar="METRES",
              help="Network mode: cells or masses farther than this from a road node are an error.")
@click.option("--drop-far", is_flag=True,
              help="Network mode: leave cells beyond --max-snap without a value (and far masses out) instead.")
@click.option("--crs", default=None, help="Metric CRS when the boundary is in degrees (default: UTM zone).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), callback=output_path("raster"),
              help="Output GeoTIFF.")
@_REPROJECT
@_MEMORY
@executor_options
def market_potential_cmd(masses, mass_field, boundary, cell, mode, roads, decay, min_distance, cost, max_snap,
                         drop_far, crs, out, reproject, memory_budget, scheduler, workers):
    """Harris market potential of mass points over a grid, as a GeoTIFF.

    With --workers/--scheduler the Euclidean surface is computed tile by tile on Dask and
    written as a tiled GeoTIFF directly (network mode: shortest paths on Dask).
    """
    import numpy as np

    from iptown_gis.surfaces.potential import market_potential, parse_decay

    dec = parse_decay(decay)
    b, grid = _boundary_and_grid(boundary, cell, crs, memory_budget)
    m = _read_like(masses, "--masses", b, grid, reproject=reproject, geom=("Point",))
    net = None
    if mode == "network":
        if roads is None:
            raise click.UsageError("--mode network needs --roads FILE[:LAYER]")
        from iptown_gis.network import build_network

        r = _read_like(roads, "--roads", b, grid, reproject=reproject, geom=("LineString",))
        net = build_network(r, crs=grid.crs)
    with make_executor(scheduler, workers, memory_budget) as ex, progress_bar("market potential") as cb:
        if ex is not None and mode == "euclidean" and cost == "length":
            from iptown_gis.surfaces.potential import market_potential_to_tiff

            market_potential_to_tiff(grid, m, out, mass_field=mass_field, decay=dec, min_distance=min_distance,
                                     executor=ex, progress=cb)
            echo_json({"out": str(out), **_tiled_summary(out)})
            return
        policy = None
        if mode == "network":
            from iptown_gis.network import SnapPolicy

            policy = SnapPolicy.from_options(max_distance=max_snap, drop_far=drop_far, source="--max-snap",
                                             drop_source="--drop-far")
        s = market_potential(grid, m, mass_field=mass_field, decay=dec, mode=mode, network=net, cost=cost,
                             min_distance=min_distance, executor=ex, progress=cb, snap_policy=policy)
    s.write(out)
    v = s.inside_values()
    ok = v[np.isfinite(v)]  # --drop-far leaves far cells without a value
    if ok.size == 0:
        raise click.UsageError("no cell got a value: every cell lies beyond --max-snap from the roads")
    echo_json({"out": str(out), "crs": grid.crs.to_string(), "rows": grid.rows, "cols": grid.cols,
               "cells_inside": grid.n_inside, "cells_without_value": int(v.size - ok.size),
               "min": float(ok.min()), "max": float(ok.max()), "mean": float(ok.mean()), **s.tags})


@group.command("kde")
@click.option("--points", required=True, metavar="FILE[:LAYER]")
@click.option("--boundary", required=True, metavar="FILE[:LAYER]")
@click.option("--cell", required=True, type=float, metavar="METRES")
@click.option("--kernel", type=click.Choice(["quartic", "gaussian"]), default="quartic", show_default=True)
@click.option("--radius", type=float, default=None, metavar="METRES",
              help="Quartic radius / Gaussian bandwidth (default: --rule).")
@click.option("--rule", type=click.Choice(["silverman", "scott"]), default="silverman", show_default=True)
@click.option("--weight-field", default=None, help="Weight column (QGIS 'weight from field').")
@click.option("--output", "output", type=click.Choice(["raw", "scaled", "density"]), default="raw",
              show_default=True, help="QGIS raw / scaled values, or a true density per m^2.")
@click.option("--crs", default=None)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), callback=output_path("raster"),
              help="Output GeoTIFF.")
@_REPROJECT
@_MEMORY
@executor_options
def kde_cmd(points, boundary, cell, kernel, radius, rule, weight_field, output, crs, out, reproject, memory_budget,
            scheduler, workers):
    """Kernel density of points (QGIS Heatmap quartic kernel, or Gaussian) as a GeoTIFF.

    With --workers/--scheduler the grid is computed tile by tile on Dask and written as a tiled
    GeoTIFF directly.
    """
    from iptown_gis.surfaces.kde import kde

    b, grid = _boundary_and_grid(boundary, cell, crs, memory_budget)
    p = _read_like(points, "--points", b, grid, reproject=reproject, geom=("Point",))
    if scheduler is not None or workers is not None:
        from iptown_gis.surfaces.kde import kde_to_tiff

        with make_executor(scheduler, workers, memory_budget) as ex, progress_bar("kernel density") as cb:
            kde_to_tiff(p, grid, out, kernel=kernel, radius=radius, rule=rule, weight_field=weight_field,
                        output=output, executor=ex, progress=cb)
        echo_json({"out": str(out), **_tiled_summary(out)})
        return
    with progress_bar("kernel density") as cb:
        s = kde(p, grid, kernel=kernel, radius=radius, rule=rule, weight_field=weight_field, output=output,
                progress=cb)
    s.write(out)
    v = s.inside_values()
    echo_json({"out": str(out), "crs": grid.crs.to_string(), "max": float(v.max()), **s.tags})


@group.command("hotspots")
@click.option("--zones", default=None, metavar="FILE[:LAYER]", help="Polygons/points with --field.")
@click.option("--field", default=None, help="Column to test (with --zones).")
@click.option("--raster", default=None, type=click.Path(path_type=Path),
              help="Or: a GeoTIFF surface; its cells are tested.")
@click.option("--statistic", type=click.Choice(["gi*", "moran"]), default="gi*", show_default=True)
@click.option("--weights", type=click.Choice(["queen", "rook", "knn", "distance"]), default="queen",
              show_default=True)
@click.option("--k", type=int, default=6, show_default=True, help="Neighbours for --weights knn.")
@click.option("--distance", type=float, default=None, help="Band in metres for --weights distance.")
@click.option("--permutations", type=int, default=999, show_default=True)
@click.option("--seed", type=int, default=20171, show_default=True)
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--no-fdr", is_flag=True, help="Decide on raw p-values instead of Benjamini-Hochberg q-values.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), callback=output_path("layer"),
              help="GeoPackage/GeoJSON output.")
def hotspots_cmd(zones, field, raster, statistic, weights, k, distance, permutations, seed, alpha, no_fdr, out):
    """Local Getis-Ord Gi* or local Moran's I hot spots with permutation p-values and FDR."""
    from iptown_gis.io.vector import write_vector
    from iptown_gis.surfaces.hotspots import hotspots

    if (zones is None) == (raster is None):
        raise click.UsageError("give either --zones FILE[:LAYER] --field COL, or --raster FILE.tif")
    if raster is not None:
        target = _surface_from_tif(raster)
    else:
        target = _read(zones, "--zones", ("Point", "Polygon"))
    res = hotspots(target, field=field, statistic=statistic, weights=weights, k=k, distance=distance,
                   permutations=permutations, seed=seed, alpha=alpha, correction="none" if no_fdr else "fdr")
    write_vector(res, out, layer="hotspots")
    col = "significance" if statistic == "gi*" else "cluster"
    echo_json({"out": str(out), "features": len(res), "counts": res[col].value_counts().to_dict()})


def _surface_from_tif(path: Path) -> Any:
    from iptown_gis.surfaces.grid import surface_from_geotiff

    return surface_from_geotiff(path, name=path.stem)


@group.command("zonal")
@click.option("--raster", required=True, type=click.Path(path_type=Path), help="GeoTIFF surface.")
@click.option("--zones", required=True, metavar="FILE[:LAYER]", help="Counties, prefectures, ...")
@click.option("--id-field", default=None)
@click.option("--stat", "stats", multiple=True, default=("mean", "max", "sum"), show_default=True,
              type=click.Choice(["mean", "max", "min", "sum", "count", "std"]))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), callback=output_path("layer"),
              help="GeoPackage (layer 'zonal').")
@click.option("--csv", "csv", default=None, type=click.Path(path_type=Path), callback=output_path("table"),
              help="Also write a CSV table.")
@_REPROJECT
def zonal_cmd(raster, zones, id_field, stats, out, csv, reproject):
    """Zonal statistics (mean, max, sum, ...) of a surface per zone, as a table and a layer."""
    from iptown_gis.io.vector import read_vector
    from iptown_gis.surfaces.zonal import write_zonal, zonal_stats

    s = _surface_from_tif(raster)
    z = read_vector(zones, name="--zones", geom_types=("Polygon",), metric=False)
    table = zonal_stats(s, z, stats=stats, id_field=id_field, reproject=reproject)
    write_zonal(table, out, layer="zonal", csv=csv)
    echo_json({"out": str(out), "zones": len(table), "csv": None if csv is None else str(csv)})
