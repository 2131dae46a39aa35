"""Surfaces computed tile by tile and written as a tiled GeoTIFF, in-process or on Dask.

A national 1 km grid has about ten million cells; its market potential over thousands of
masses does not fit one task. Here the grid frame is cut into square tiles (edge from the
memory budget, a multiple of the 256-cell GeoTIFF block), each tile is one task that
evaluates the cells of that tile only, and the client writes each tile into a tiled,
DEFLATE-compressed GeoTIFF (rasterio windowed writes) as soon as its task finishes, then drops
it. No process ever holds the whole raster. The file is written to a temporary name and
renamed when complete (no half-written output).

The per-cell formulas are those of :mod:`iptown_gis.surfaces`:
``MP_i = sum_j M_j f(max(d_ij, min_distance))`` (:func:`~iptown_gis.surfaces.potential.potential_at`)
and the kernel density ``sum_j w_j K(d_ij)`` (:func:`~iptown_gis.surfaces.kde.kernel_values`).
Each cell's value is computed by the same code whatever the tiling, so tiled, in-process and
Dask results agree to floating-point summation order (1e-12 relative).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from iptown_gis.errors import ParameterError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.progress import Progress, ProgressCallback, as_progress

from .budget import MemoryBudget

if TYPE_CHECKING:
    from iptown_gis.surfaces.grid import Grid

    from .executor import DaskExecutor

__all__ = ["TileSpec", "kde_cells", "kde_tiled", "market_potential_tiled", "potential_cells", "tile_windows"]

log = logging.getLogger(__name__)

#: GeoTIFF block edge (cells); tile edges are multiples of it.
BLOCK = 256


@dataclass(frozen=True)
class TileSpec:
    """One tile: its window in the grid frame and the affine terms to find cell centres."""

    row: int
    col: int
    height: int
    width: int
    x0: float
    y0: float
    cell: float


def tile_windows(grid: Grid, tile_size: int) -> list[TileSpec]:
    """Tiles of ``tile_size`` cells covering ``grid``, skipping tiles with no cell inside the mask."""
    if tile_size < 1:
        raise ParameterError(f"tile_size must be positive, got {tile_size}")
    rows, cols = grid.shape
    t = grid.transform
    out = []
    for r in range(0, rows, tile_size):
        for c in range(0, cols, tile_size):
            h, w = min(tile_size, rows - r), min(tile_size, cols - c)
            if grid.mask[r:r + h, c:c + w].any():
                out.append(TileSpec(r, c, h, w, float(t.c), float(t.f), float(abs(t.a))))
    return out


def _centres(spec: TileSpec, mask: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rr, cc = np.nonzero(mask)
    x = np.asarray(spec.x0 + (spec.col + cc + 0.5) * spec.cell, dtype=np.float64)
    y = np.asarray(spec.y0 - (spec.row + rr + 0.5) * spec.cell, dtype=np.float64)
    return x, y


def _fill(spec: TileSpec, mask: NDArray[np.bool_], vals: NDArray[np.float64], nodata: float,
          dtype: str) -> NDArray[Any]:
    out = np.full((spec.height, spec.width), nodata, dtype="float64")
    out[mask] = np.where(np.isfinite(vals), vals, nodata)
    return out.astype(dtype)


def _mp_tile(spec: TileSpec, mask: NDArray[np.bool_], masses: tuple[NDArray[np.float64], ...], decay: Any,
             dmin: float, nodata: float, dtype: str) -> NDArray[Any]:
    """Market potential of one tile (the task)."""
    from iptown_gis.surfaces.potential import potential_at

    x, y = _centres(spec, mask)
    vals = potential_at(x, y, masses[0], masses[1], masses[2], decay=decay, min_distance=dmin)
    return _fill(spec, mask, vals, nodata, dtype)


def _kde_tile(spec: TileSpec, mask: NDArray[np.bool_], points: tuple[NDArray[np.float64], ...], radius: float,
              kernel: str, output: str, nodata: float, dtype: str) -> NDArray[Any]:
    """Kernel density of one tile (the task): only points within reach of the tile count."""
    from iptown_gis.surfaces.kde import GAUSSIAN_CUTOFF, kernel_values

    px, py, pw = points
    x, y = _centres(spec, mask)
    vals = np.zeros(len(x))
    if len(x):
        reach = radius if kernel == "quartic" else GAUSSIAN_CUTOFF * radius
        xmin, xmax = x.min() - reach, x.max() + reach
        ymin, ymax = y.min() - reach, y.max() + reach
        near = (px >= xmin) & (px <= xmax) & (py >= ymin) & (py <= ymax)
        qx, qy, qw = px[near], py[near], pw[near]
        step = max(1, 4_000_000 // max(len(qx), 1))
        for s in range(0, len(x), step):
            # sqrt of the sum of squares, as scipy's cKDTree in surfaces.kde computes it (bit for bit),
            # so the quartic kernel's cancellation near the radius sees the same distances
            dx = x[s:s + step, None] - qx[None, :]
            dy = y[s:s + step, None] - qy[None, :]
            d = np.sqrt(dx * dx + dy * dy)
            vals[s:s + step] = kernel_values(d, radius, kernel=kernel, output=output) @ qw  # type: ignore[arg-type]
    return _fill(spec, mask, vals, nodata, dtype)


def _tile_edge(n_points: int, executor: DaskExecutor | None, tile_size: int | None) -> int:
    budget = executor.budget if executor is not None else MemoryBudget()
    edge = tile_size or (executor.tile_size if executor is not None else None) or budget.tile_size(n_points)
    return max(BLOCK, (int(edge) // BLOCK) * BLOCK)


def _run_tiles(grid: Grid, tiles: list[TileSpec], task: Any, args: tuple[Any, ...], put: Any, *,
               executor: DaskExecutor | None, prog: Progress, what: str) -> None:
    """Run ``task`` for every tile (here or as Dask tasks) and hand each result to ``put(i, block)``."""
    masks = [grid.mask[t.row:t.row + t.height, t.col:t.col + t.width] for t in tiles]
    if executor is None:
        for i, (t, m) in enumerate(zip(tiles, masks, strict=True)):
            prog.update(i / max(len(tiles), 1), f"{what}: tile {i + 1}/{len(tiles)}")
            put(i, task(t, m, *args))
    else:
        fut_args = [executor.scatter(a) if isinstance(a, tuple) else a for a in args]
        executor.map_tasks(_tile_call, list(zip(tiles, masks, strict=True)), task, *fut_args,
                           progress=prog, message=what, on_result=put)


def _tile_values(grid: Grid, task: Any, args: tuple[Any, ...], *, n_points: int, executor: DaskExecutor | None,
                 tile_size: int | None, prog: Progress, what: str) -> NDArray[np.float64]:
    """Values of the cells inside the mask (order of ``grid.centres()``), computed tile by tile."""
    edge = _tile_edge(n_points, executor, tile_size)
    tiles = tile_windows(grid, edge)
    frame = np.full(grid.shape, np.nan)

    def put(i: int, block: NDArray[Any]) -> None:
        t = tiles[i]
        frame[t.row:t.row + t.height, t.col:t.col + t.width] = block

    log.info("%s: %d tiles of %d cells on %s", what, len(tiles), edge, "Dask" if executor else "this process")
    _run_tiles(grid, tiles, task, args, put, executor=executor, prog=prog, what=what)
    prog.update(1.0, f"{what}: done")
    return np.asarray(frame[grid.mask], dtype=np.float64)


def _write_tiles(
    path: str | os.PathLike[str], grid: Grid, task: Any, args: tuple[Any, ...], *, n_points: int,
    executor: DaskExecutor | None, tile_size: int | None, nodata: float, dtype: str,
    tags: dict[str, str], prog: Progress, what: str,
) -> Path:
    import rasterio

    edge = _tile_edge(n_points, executor, tile_size)
    tiles = tile_windows(grid, edge)
    rows, cols = grid.shape
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": dtype,
               "crs": grid.crs.to_wkt() if hasattr(grid.crs, "to_wkt") else grid.crs,
               "transform": grid.transform, "nodata": nodata, "compress": "deflate",
               "predictor": 3 if dtype.startswith("float") else 1, "BIGTIFF": "IF_SAFER"}
    if min(rows, cols) >= BLOCK:
        profile.update(tiled=True, blockxsize=BLOCK, blockysize=BLOCK)
    target = Path(path)
    log.info("%s: %d tiles of %d cells on %s", what, len(tiles), edge, "Dask" if executor else "this process")
    with atomic_path(target) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        # cells outside every tile (tiles with no cell inside the mask) are nodata
        empty = np.full((min(edge, rows), min(edge, cols)), nodata, dtype=dtype)
        done = {(t.row, t.col) for t in tiles}
        for r in range(0, rows, edge):
            for c in range(0, cols, edge):
                if (r, c) not in done:
                    h, w = min(edge, rows - r), min(edge, cols - c)
                    dst.write(empty[:h, :w], 1, window=rasterio.windows.Window(c, r, w, h))

        def put(i: int, block: NDArray[Any]) -> None:
            t = tiles[i]
            dst.write(block, 1, window=rasterio.windows.Window(t.col, t.row, t.width, t.height))

        _run_tiles(grid, tiles, task, args, put, executor=executor, prog=prog, what=what)
        dst.update_tags(**tags)
        factors = [f for f in (2, 4, 8, 16, 32) if min(rows, cols) // f >= 64]
        if factors:
            from rasterio.enums import Resampling

            dst.build_overviews(factors, Resampling.average)
    prog.update(1.0, f"{what}: written")
    return target


def _tile_call(item: tuple[TileSpec, NDArray[np.bool_]], task: Any, *args: Any) -> NDArray[Any]:
    return task(item[0], item[1], *args)  # type: ignore[no-any-return]


def market_potential_tiled(
    grid: Grid,
    mass_x: Any,
    mass_y: Any,
    mass: Any,
    path: str | os.PathLike[str],
    *,
    decay: Any = "power:1",
    min_distance: float | None = None,
    executor: DaskExecutor | None = None,
    tile_size: int | None = None,
    dtype: str = "float32",
    nodata: float = -9999.0,
    progress: ProgressCallback | Progress | None = None,
) -> Path:
    """Euclidean Harris market potential on ``grid``, tile by tile, into a tiled GeoTIFF.

    Parameters
    ----------
    grid
        A :class:`~iptown_gis.surfaces.grid.Grid` (cells outside its mask are nodata).
    mass_x, mass_y, mass
        Mass coordinates (grid CRS, metres) and values (>= 0).
    path
        Output GeoTIFF (written atomically).
    decay
        ``"power:BETA"`` or ``"exp:D0"`` (see :func:`iptown_gis.surfaces.potential.parse_decay`).
    min_distance
        Distances below it are raised to it (default: half a cell).
    executor
        A :class:`~iptown_gis.parallel.DaskExecutor`, or ``None`` for in-process.
    tile_size
        Tile edge in cells (rounded to a multiple of 256; default from the memory budget).
    dtype
        ``"float32"`` (default) or ``"float64"``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        Bad decay, negative or NaN masses, arrays of different lengths.
    """
    from iptown_gis.surfaces.potential import parse_decay

    prog = as_progress(progress)
    dec = parse_decay(decay)
    mx = np.asarray(mass_x, dtype="float64").ravel()
    my = np.asarray(mass_y, dtype="float64").ravel()
    m = np.asarray(mass, dtype="float64").ravel()
    if not (mx.shape == my.shape == m.shape):
        raise ParameterError("mass_x, mass_y and mass must have the same length")
    if np.isnan(m).any() or (m < 0).any():
        raise ParameterError("masses must be numbers >= 0 (no NaN)")
    if dtype not in ("float32", "float64"):
        raise ParameterError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    dmin = 0.5 * float(abs(grid.transform.a)) if min_distance is None else float(min_distance)
    if dmin < 0 or not math.isfinite(dmin):
        raise ParameterError(f"min_distance must be >= 0, got {min_distance}")
    tags = {"iptown_decay": str(dec), "iptown_mode": "euclidean", "iptown_min_distance": f"{dmin:g}",
            "iptown_n_masses": str(m.size), "iptown_formula": "MP_i = sum_j M_j f(max(d_ij, min_distance))",
            "iptown_tiled": "yes"}
    return _write_tiles(path, grid, _mp_tile, ((mx, my, m), dec, dmin, nodata, dtype), n_points=m.size,
                        executor=executor, tile_size=tile_size, nodata=nodata, dtype=dtype, tags=tags,
                        prog=prog, what="market potential")


def kde_tiled(
    grid: Grid,
    x: Any,
    y: Any,
    path: str | os.PathLike[str],
    *,
    radius: float,
    weight: Any = None,
    kernel: str = "quartic",
    output: str = "raw",
    executor: DaskExecutor | None = None,
    tile_size: int | None = None,
    dtype: str = "float32",
    nodata: float = -9999.0,
    progress: ProgressCallback | Progress | None = None,
) -> Path:
    """Kernel density (agglomeration surface) of points on ``grid``, tile by tile.

    Same kernel definitions as :func:`iptown_gis.surfaces.kde.kde` (``radius`` is the quartic
    radius or the Gaussian bandwidth); each tile only looks at the points within reach.

    Raises
    ------
    ParameterError
        Non-positive radius, unknown kernel or output, bad weights.
    """
    prog = as_progress(progress)
    px = np.asarray(x, dtype="float64").ravel()
    py = np.asarray(y, dtype="float64").ravel()
    pw = np.ones_like(px) if weight is None else np.asarray(weight, dtype="float64").ravel()
    if not (px.shape == py.shape == pw.shape):
        raise ParameterError("x, y and weight must have the same length")
    if not (math.isfinite(radius) and radius > 0):
        raise ParameterError(f"radius must be > 0 (metres), got {radius}")
    if kernel not in ("quartic", "gaussian"):
        raise ParameterError(f"kernel must be 'quartic' or 'gaussian', got {kernel!r}")
    if output not in ("raw", "scaled", "density"):
        raise ParameterError(f"output must be 'raw', 'scaled' or 'density', got {output!r}")
    if np.isnan(pw).any():
        raise ParameterError("weights must not be NaN")
    tags = {"iptown_kernel": kernel, "iptown_radius": f"{radius:g}", "iptown_output": output,
            "iptown_n_points": str(px.size), "iptown_tiled": "yes"}
    return _write_tiles(path, grid, _kde_tile, ((px, py, pw), float(radius), kernel, output, nodata, dtype),
                        n_points=min(px.size, 4096), executor=executor, tile_size=tile_size, nodata=nodata,
                        dtype=dtype, tags=tags, prog=prog, what="kernel density")


def potential_cells(
    grid: Grid, mass_x: Any, mass_y: Any, mass: Any, *, decay: Any, min_distance: float,
    executor: DaskExecutor | None = None, tile_size: int | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> NDArray[np.float64]:
    """Euclidean potential of the cells inside ``grid`` (order of ``grid.centres()``), tile by tile.

    The values :func:`iptown_gis.surfaces.potential.market_potential` computes in one piece,
    here as one task per tile (on ``executor`` when given); equal to summation order. Inputs
    are not validated again (the surfaces functions calling this have done so).
    """
    from iptown_gis.surfaces.potential import parse_decay

    m = np.asarray(mass, dtype="float64").ravel()
    args = ((np.asarray(mass_x, dtype="float64").ravel(), np.asarray(mass_y, dtype="float64").ravel(), m),
            parse_decay(decay), float(min_distance), np.nan, "float64")
    return _tile_values(grid, _mp_tile, args, n_points=m.size, executor=executor, tile_size=tile_size,
                        prog=as_progress(progress), what="market potential")


def kde_cells(
    grid: Grid, x: Any, y: Any, weight: Any, *, radius: float, kernel: str = "quartic", output: str = "raw",
    executor: DaskExecutor | None = None, tile_size: int | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> NDArray[np.float64]:
    """Kernel density of the cells inside ``grid`` (order of ``grid.centres()``), tile by tile.

    As :func:`iptown_gis.surfaces.kde.kde` computes it (equal to summation order); inputs are
    not validated again.
    """
    px = np.asarray(x, dtype="float64").ravel()
    args = ((px, np.asarray(y, dtype="float64").ravel(), np.asarray(weight, dtype="float64").ravel()),
            float(radius), kernel, output, np.nan, "float64")
    return _tile_values(grid, _kde_tile, args, n_points=min(px.size, 4096), executor=executor,
                        tile_size=tile_size, prog=as_progress(progress), what="kernel density")
