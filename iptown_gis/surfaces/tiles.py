"""Grid surfaces cut into square tiles, one task per tile, on any executor.

A national 1 km grid has about ten million cells; its market potential over thousands of
masses does not fit one task. Here the grid frame is cut into square tiles (edge from the
executor's memory budget, a multiple of the 256-cell GeoTIFF block); each tile is one task
that evaluates the cells of that tile only, with the same per-cell function the whole-grid
surfaces use (:func:`~iptown_gis.surfaces.potential.potential_at`, the kernel sums of
:mod:`~iptown_gis.surfaces.kde`). :func:`tile_values` gathers the tiles into the values of
the grid's cells; :func:`write_tiles` writes each tile into a tiled, DEFLATE-compressed GeoTIFF
(rasterio windowed writes) as soon as its task finishes, then drops it, so no process holds
the whole raster. The file is written to a temporary name and renamed when complete (no
half-written output).

The tasks run on an :class:`iptown_gis.parallel.Executor` (``None``: in this process, one
tile after the other); each cell's value is computed by the same code whatever the tiling and
the executor, so results agree to floating-point summation order (1e-12 relative).

This module knows nothing of the formulas: :mod:`~iptown_gis.surfaces.potential` and
:mod:`~iptown_gis.surfaces.kde` give it their tile task, a function
``task(spec, mask, *args) -> block``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from iptown_gis.errors import ParameterError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.parallel.executor import Executor, as_executor
from iptown_gis.progress import Progress
from iptown_gis.surfaces.grid import Grid

__all__ = ["BLOCK", "TileSpec", "TileTask", "tile_centres", "tile_edge", "tile_fill", "tile_values", "tile_windows",
           "write_tiles"]

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


#: A tile task: ``task(spec, mask, *args)`` returns the tile's ``(height, width)`` block.
TileTask = Callable[..., NDArray[Any]]


def tile_windows(grid: Grid, tile_size: int) -> list[TileSpec]:
    """Tiles of ``tile_size`` cells covering ``grid``, skipping tiles with no cell inside the mask.

    Raises
    ------
    ParameterError
        ``tile_size`` < 1.
    """
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


def tile_centres(spec: TileSpec, mask: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centres of the tile's cells inside ``mask`` (row-major, as ``grid.centres()`` orders them)."""
    rr, cc = np.nonzero(mask)
    x = np.asarray(spec.x0 + (spec.col + cc + 0.5) * spec.cell, dtype=np.float64)
    y = np.asarray(spec.y0 - (spec.row + rr + 0.5) * spec.cell, dtype=np.float64)
    return x, y


def tile_fill(spec: TileSpec, mask: NDArray[np.bool_], vals: NDArray[np.float64], nodata: float,
              dtype: str) -> NDArray[Any]:
    """The tile's block: ``vals`` at the cells inside ``mask``, ``nodata`` elsewhere and for non-finite values.

    Parameters
    ----------
    spec
        The tile.
    mask
        Its cells inside the grid's mask.
    vals
        One value per cell inside ``mask`` (row-major).
    nodata
        Value of the other cells.
    dtype
        Data type of the block.

    Returns
    -------
    numpy.ndarray
        ``(spec.height, spec.width)``.
    """
    out = np.full((spec.height, spec.width), nodata, dtype="float64")
    out[mask] = np.where(np.isfinite(vals), vals, nodata)
    return out.astype(dtype)


def tile_edge(n_points: int, executor: Executor | None, tile_size: int | None) -> int:
    """Tile edge (cells, a multiple of :data:`BLOCK`): ``tile_size``, the executor's, or from its budget.

    Parameters
    ----------
    n_points
        Points each cell sums over (sizes the tile to the budget).
    executor
        The executor (its ``tile_size`` and ``budget``); ``None``: the default budget.
    tile_size
        Explicit edge (rounded down to a multiple of :data:`BLOCK`, at least one block).

    Returns
    -------
    int
    """
    ex = as_executor(executor)
    edge = tile_size or ex.tile_size or ex.budget.tile_size(n_points)
    return max(BLOCK, (int(edge) // BLOCK) * BLOCK)


def _tile_call(item: tuple[TileSpec, NDArray[np.bool_]], task: TileTask, *args: Any) -> NDArray[Any]:
    return task(item[0], item[1], *args)


def _run_tiles(grid: Grid, tiles: list[TileSpec], task: TileTask, args: tuple[Any, ...],
               put: Callable[[int, NDArray[Any]], None], *, executor: Executor | None, prog: Progress,
               what: str) -> None:
    """Run ``task`` for every tile on the executor and hand each result to ``put(i, block)``.

    The tuple arguments (the point arrays) are scattered once, the others passed as they are.
    """
    ex = as_executor(executor)
    masks = [grid.mask[t.row:t.row + t.height, t.col:t.col + t.width] for t in tiles]
    fut_args = [ex.scatter(a) if isinstance(a, tuple) else a for a in args]
    ex.map_tasks(_tile_call, list(zip(tiles, masks, strict=True)), task, *fut_args,
                 progress=prog, message=f"{what}: tiles", on_result=put)


def _where(executor: Executor | None) -> str:
    return "this process" if executor is None else type(executor).__name__


def tile_values(grid: Grid, task: TileTask, args: tuple[Any, ...], *, n_points: int, executor: Executor | None,
                tile_size: int | None, prog: Progress, what: str) -> NDArray[np.float64]:
    """Values of the cells inside the mask (order of ``grid.centres()``), computed tile by tile.

    Parameters
    ----------
    grid
        The grid.
    task
        The tile task (``task(spec, mask, *args)``, returning float64 with NaN as nodata).
    args
        Its extra arguments; tuples are scattered to the workers once.
    n_points
        Number of points one cell sums over (sizes the tiles).
    executor
        An :class:`iptown_gis.parallel.Executor`; ``None`` runs here.
    tile_size
        Tile edge override (cells).
    prog
        Progress reporter.
    what
        Name of the surface for log and progress messages.

    Returns
    -------
    numpy.ndarray
        One value per cell inside the mask.
    """
    edge = tile_edge(n_points, executor, tile_size)
    tiles = tile_windows(grid, edge)
    frame = np.full(grid.shape, np.nan)

    def put(i: int, block: NDArray[Any]) -> None:
        t = tiles[i]
        frame[t.row:t.row + t.height, t.col:t.col + t.width] = block

    log.info("%s: %d tiles of %d cells on %s", what, len(tiles), edge, _where(executor))
    _run_tiles(grid, tiles, task, args, put, executor=executor, prog=prog, what=what)
    prog.update(1.0, f"{what}: done")
    return np.asarray(frame[grid.mask], dtype=np.float64)


def write_tiles(
    path: str | os.PathLike[str], grid: Grid, task: TileTask, args: tuple[Any, ...], *, n_points: int,
    executor: Executor | None, tile_size: int | None, nodata: float, dtype: str,
    tags: dict[str, str], prog: Progress, what: str,
) -> Path:
    """Compute a surface tile by tile into a tiled GeoTIFF at ``path`` (atomically).

    Parameters
    ----------
    path
        Output GeoTIFF.
    grid, task, args, n_points, executor, tile_size, prog, what
        As in :func:`tile_values` (the task fills nodata itself).
    nodata
        Value of cells outside the mask (and of tiles with no cell inside it).
    dtype
        Raster data type (``"float32"`` or ``"float64"``).
    tags
        GeoTIFF tags written with the raster.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ParameterError
        ``dtype`` is not ``"float32"`` or ``"float64"``.
    """
    import rasterio

    if dtype not in ("float32", "float64"):
        raise ParameterError(f"dtype must be 'float32' or 'float64', got {dtype!r}")

    edge = tile_edge(n_points, executor, tile_size)
    tiles = tile_windows(grid, edge)
    rows, cols = grid.shape
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": dtype,
               "crs": grid.crs.to_wkt() if hasattr(grid.crs, "to_wkt") else grid.crs,
               "transform": grid.transform, "nodata": nodata, "compress": "deflate",
               "predictor": 3 if dtype.startswith("float") else 1, "BIGTIFF": "IF_SAFER"}
    if min(rows, cols) >= BLOCK:
        profile.update(tiled=True, blockxsize=BLOCK, blockysize=BLOCK)
    target = Path(path)
    log.info("%s: %d tiles of %d cells on %s", what, len(tiles), edge, _where(executor))
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
