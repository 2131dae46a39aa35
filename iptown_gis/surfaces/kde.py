"""Kernel density of points on a grid (QGIS Heatmap quartic kernel, Gaussian kernel).

Quartic kernel, exactly as QGIS's Heatmap (``QgsKernelDensityEstimation``, after Wand and
Jones 1995, p. 175), for a point of weight ``w`` at distance ``d <= r`` from a cell centre
(``r`` = radius; cells with ``d > r`` get nothing)::

    raw     w * (1 - (d/r)^2)^2                                      QGIS "Raw"
    scaled  w * 116 / (5 pi r^2) * (15/16) * (1 - (d/r)^2)^2          QGIS "Scaled"
    density w * 3 / (pi r^2) * (1 - (d/r)^2)^2                        integrates to w

QGIS's "scaled" constant does not make the kernel integrate to one over the plane (it
integrates to ``116 * 15 / (5 * 16 * 3) = 7.25``); it is reproduced for compatibility, and
``density`` gives a true density (weight per square metre). Gaussian kernel with bandwidth
``h``: ``raw = w exp(-d^2 / (2 h^2))``, ``density = raw / (2 pi h^2)`` (``scaled`` is the same as
``density``), truncated at ``d > 5 h`` (weights below 4e-6 of the peak).

Bandwidth rules (when no radius/bandwidth is given), with ``n`` the number of points (or
the sum of weights when weighted):

- ``silverman`` (the spatial rule of ArcGIS's Kernel Density, made robust):
  ``0.9 * min(SD, sqrt(1 / ln 2) * Dm, SD_IQR) * n^-0.2``, SD the standard distance from the
  (weighted) mean centre, Dm the (weighted) median distance to the (weighted) median centre,
  and ``SD_IQR = sqrt((IQR_x / 1.349)^2 + (IQR_y / 1.349)^2)`` the standard distance a normal
  pattern with the same interquartile ranges would have (Silverman 1986, eq. 3.31, the
  ``min(sd, IQR / 1.34)`` of R's ``bw.nrd0`` and QGIS/SciPy practice);
- ``scott``: ``sqrt((s_x^2 + s_y^2) / 2) * n^(-1/6)`` with ``s = min(sd, IQR / 1.349)`` per axis.

The robust spreads keep one stray point (a coordinate typed in the wrong unit, a point
2,000 km away) from inflating the bandwidth: with the plain SD, a single point at 1e20 m
makes the bandwidth 1e17 m and the surface flat.

Points farther from the grid than the kernel reaches (the radius, or 5 bandwidths for the
Gaussian kernel) add nothing to any cell: they are counted and logged as a warning (with
example rows); when no point reaches the grid, or a coordinate is not finite, the input is
refused (:class:`~iptown_gis.errors.GeometryError`), since the surface would be all zeros.

For the quartic kernel the rule gives the radius, for the Gaussian kernel the bandwidth.

Cells are evaluated at their true centres. (QGIS's own Heatmap places its raster from the
layer's extent grown by the radius and mirrors each point's block of rows about the point;
for points at cell centres, as in the tests, the values agree exactly.)
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
from scipy.spatial import cKDTree

from iptown_gis.errors import GeometryError, ParameterError
from iptown_gis.parallel.executor import Executor
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.surfaces._validate import point_xy, positive, weights_from
from iptown_gis.surfaces.grid import Grid, Surface, check_same_crs
from iptown_gis.surfaces.tiles import TileSpec, tile_centres, tile_fill, tile_values, write_tiles

__all__ = ["bandwidth", "check_reach", "kde", "kde_cells", "kde_tiled", "kde_to_tiff", "kernel_sums", "kernel_values"]

log = logging.getLogger(__name__)

Kernel = Literal["quartic", "gaussian"]
Output = Literal["raw", "scaled", "density"]

#: Gaussian kernels are truncated at this many bandwidths.
GAUSSIAN_CUTOFF = 5.0


def kernel_values(d: np.ndarray, radius: float, *, kernel: Kernel = "quartic", output: Output = "raw") -> np.ndarray:
    """Kernel value at distances ``d`` for unit weight (see the module docstring).

    Parameters
    ----------
    d
        Distances (metres).
    radius
        The quartic kernel's radius or the Gaussian kernel's bandwidth (metres).
    kernel
        ``"quartic"`` or ``"gaussian"``.
    output
        ``"raw"``, ``"scaled"`` or ``"density"``.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ParameterError
        Unknown kernel or output.
    """
    d = np.asarray(d, dtype="float64")
    r = float(radius)
    if kernel == "quartic":
        u = 1.0 - (d / r) ** 2
        v = np.where(d <= r, u * u, 0.0)
        if output == "raw":
            return v
        if output == "scaled":
            return v * (116.0 / (5.0 * math.pi * r * r)) * (15.0 / 16.0)
        if output == "density":
            return v * 3.0 / (math.pi * r * r)
    elif kernel == "gaussian":
        v = np.where(d <= GAUSSIAN_CUTOFF * r, np.exp(-0.5 * (d / r) ** 2), 0.0)
        if output == "raw":
            return v
        if output in ("scaled", "density"):
            return v / (2.0 * math.pi * r * r)
    else:
        raise ParameterError(f"kernel must be 'quartic' or 'gaussian', got {kernel!r}")
    raise ParameterError(f"output must be 'raw', 'scaled' or 'density', got {output!r}")


def _weighted_quantile(v: np.ndarray, w: np.ndarray, q: float) -> float:
    if np.all(w == w[0]):
        return float(np.quantile(v, q))
    order = np.argsort(v)
    cw = np.cumsum(w[order])
    k = int(np.searchsorted(cw, q * cw[-1]))
    return float(v[order][min(k, v.size - 1)])


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    return _weighted_quantile(v, w, 0.5)


def _iqr_sd(v: np.ndarray, w: np.ndarray) -> float:
    """The standard deviation a normal sample with ``v``'s interquartile range would have."""
    return (_weighted_quantile(v, w, 0.75) - _weighted_quantile(v, w, 0.25)) / 1.349


def bandwidth(
    x: np.ndarray, y: np.ndarray, *, weights: np.ndarray | None = None,
    rule: Literal["silverman", "scott"] = "silverman",
) -> float:
    """Bandwidth (metres) of a point pattern by Silverman's spatial rule or Scott's rule.

    Both rules use robust spreads (see the module docstring), so a few outlying points do
    not inflate the bandwidth.

    Parameters
    ----------
    x, y
        Point coordinates (metres).
    weights
        Point weights (default 1 each).
    rule
        ``"silverman"`` or ``"scott"``.

    Raises
    ------
    GeometryError
        Fewer than 2 points, all points at one place, or a coordinate that is not finite.
    ParameterError
        Unknown rule.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype="float64")
    if x.size < 2 or np.count_nonzero(w) < 2:
        raise GeometryError(
            f"a bandwidth rule needs at least 2 points with weight > 0, got {np.count_nonzero(w)}; "
            "give the radius/bandwidth explicitly"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise GeometryError("a point has a coordinate that is not finite (NaN or infinite): fix or drop it")
    n = float(w.sum()) if weights is not None else float(x.size)
    # centre first: squares of 1e20 m coordinates overflow nothing once the median is removed
    x0, y0 = _weighted_median(x, w), _weighted_median(y, w)
    x, y = x - x0, y - y0
    with np.errstate(over="ignore", invalid="ignore"):
        mx = np.average(x, weights=w)
        my = np.average(y, weights=w)
        vx = np.average((x - mx) ** 2, weights=w)
        vy = np.average((y - my) ** 2, weights=w)
    sx, sy = _iqr_sd(x, w), _iqr_sd(y, w)
    if rule == "silverman":
        sd = math.sqrt(vx + vy) if math.isfinite(vx + vy) else math.inf
        dm = _weighted_median(np.hypot(x, y), w)
        spread = min(sd, math.sqrt(1.0 / math.log(2.0)) * dm, math.hypot(sx, sy))
        if spread <= 0:
            spread = min(sd, math.sqrt(1.0 / math.log(2.0)) * dm) or sd
        h = 0.9 * spread * n ** -0.2
    elif rule == "scott":
        rx = min(math.sqrt(vx), sx) if sx > 0 else math.sqrt(vx)
        ry = min(math.sqrt(vy), sy) if sy > 0 else math.sqrt(vy)
        h = math.sqrt((rx * rx + ry * ry) / 2.0) * n ** (-1.0 / 6.0)
    else:
        raise ParameterError(f"bandwidth rule must be 'silverman' or 'scott', got {rule!r}")
    if not (h > 0 and math.isfinite(h)):
        raise GeometryError("all points are at one place: the bandwidth rule gives 0; give a radius")
    return float(h)


def check_reach(
    x: np.ndarray, y: np.ndarray, grid: Grid, reach: float, *, name: str = "points", index: Any = None,
) -> np.ndarray:
    """Which points come within ``reach`` metres of ``grid``'s extent (a boolean mask).

    Points beyond it add nothing to any cell: their number is logged as a warning with
    example rows (``index``), so a point in the wrong CRS or unit is not used without a word.

    Parameters
    ----------
    x, y
        Point coordinates (metres, the grid's CRS).
    grid
        The grid.
    reach
        How far a point's kernel reaches (metres).
    name
        What to call the points in messages.
    index
        Row labels of the points for the warning (default positions).

    Raises
    ------
    GeometryError
        A coordinate is not finite, or no point comes within ``reach`` of the grid.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    rows = np.asarray(index) if index is not None else np.arange(x.size)
    if bad.any():
        raise GeometryError(f"{name}: {int(bad.sum())} point(s) have a coordinate that is not finite "
                            f"(e.g. rows {rows[bad][:5].tolist()}); fix or drop them")
    xmin, ymin, xmax, ymax = grid.bounds
    with np.errstate(invalid="ignore"):
        dx = np.maximum(np.maximum(xmin - x, x - xmax), 0.0)
        dy = np.maximum(np.maximum(ymin - y, y - ymax), 0.0)
        near = np.hypot(dx, dy) <= reach
    if not near.any():
        raise GeometryError(
            f"{name}: none of the {x.size} point(s) lies within {reach:,.0f} m of the grid "
            f"(extent {xmin:,.0f}..{xmax:,.0f} x {ymin:,.0f}..{ymax:,.0f}): check their CRS and coordinates"
        )
    far = int((~near).sum())
    if far:
        log.warning("%s: %d of %d point(s) lie more than %.0f m (the kernel's reach) outside the grid and add "
                    "nothing to the surface (e.g. rows %s): check their coordinates or clip the layer",
                    name, far, x.size, reach, rows[~near][:5].tolist())
    return near


def _kde_inputs(
    points: gpd.GeoDataFrame, grid: Grid, *, kernel: str, radius: float | None, rule: str,
    weight_field: str | None, output: str, reproject: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, str]:
    """The checked points of :func:`kde` and :func:`kde_to_tiff`: ``(x, y, weight, radius, how)``
    with the points of zero weight or out of reach of the grid left out."""
    if kernel not in ("quartic", "gaussian"):
        raise ParameterError(f"kernel must be 'quartic' or 'gaussian', got {kernel!r}")
    if output not in ("raw", "scaled", "density"):
        raise ParameterError(f"output must be 'raw', 'scaled' or 'density', got {output!r}")
    points = check_same_crs(grid.crs, points, name="points", reproject=reproject)
    px, py = point_xy(points, name="points")
    w = weights_from(points, weight_field, name="points")
    if radius is None:
        r = bandwidth(px, py, weights=None if weight_field is None else w, rule=rule)  # type: ignore[arg-type]
        how: str = rule
    else:
        positive(radius, "radius")
        r = float(radius)
        how = "given"
    cutoff = r if kernel == "quartic" else GAUSSIAN_CUTOFF * r
    keep = (w > 0) & check_reach(px, py, grid, cutoff, name="points", index=points.index)
    return px[keep], py[keep], w[keep], r, how


def kde(
    points: gpd.GeoDataFrame,
    grid: Grid,
    *,
    kernel: Kernel = "quartic",
    radius: float | None = None,
    rule: Literal["silverman", "scott"] = "silverman",
    weight_field: str | None = None,
    output: Output = "raw",
    reproject: bool = False,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
) -> Surface:
    """Kernel density of ``points`` on ``grid``.

    Parameters
    ----------
    points
        Point layer (polygons use a representative point) in the grid's CRS.
    grid
        The :class:`~iptown_gis.surfaces.grid.Grid`.
    kernel
        ``"quartic"`` (QGIS Heatmap) or ``"gaussian"``.
    radius
        Quartic radius or Gaussian bandwidth in metres; ``None`` applies ``rule``.
    rule
        ``"silverman"`` or ``"scott"`` (used when ``radius`` is None).
    weight_field
        Column of point weights (QGIS "Weight from field"); ``None``: every point weighs 1.
    output
        ``"raw"``, ``"scaled"`` (QGIS) or ``"density"`` (integrates to the total weight).
    reproject
        Reproject points to the grid's CRS instead of raising :class:`CRSError`.
    executor
        An :mod:`iptown_gis.parallel` Dask executor: the grid is computed tile by tile as tasks
        (equal to 1e-12 relative). ``None``: in-process.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Returns
    -------
    Surface
        Name ``"kde"``; tags give kernel, radius, rule, output and weight field.

    Raises
    ------
    CRSError, ColumnError, GeometryError, ParameterError
    """
    prog = as_progress(progress)
    px, py, w, r, how = _kde_inputs(points, grid, kernel=kernel, radius=radius, rule=rule, weight_field=weight_field,
                                    output=output, reproject=reproject)
    if executor is not None:
        vals = kde_cells(grid, px, py, w, radius=r, kernel=kernel, output=output, executor=executor,
                         progress=prog)
    else:
        cx, cy = grid.centres()
        vals = kernel_sums(cx, cy, px, py, w, radius=r, kernel=kernel, output=output, progress=prog)
    return _kde_surface(grid, vals, kernel=kernel, r=r, how=how, output=output, weight_field=weight_field,
                        n=px.size)


def kernel_sums(
    x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray, weight: np.ndarray, *, radius: float,
    kernel: Kernel = "quartic", output: Output = "raw", progress: ProgressCallback | Progress | None = None,
) -> np.ndarray:
    """``sum_j w_j K(d_ij)`` at the targets ``(x, y)`` from the points ``(px, py)`` (the KDE's core).

    Only point-target pairs within the kernel's reach are visited (k-d trees), in blocks of
    256 points. :func:`kde` calls it on all cells, the tiled surfaces on the cells of a tile.

    Parameters
    ----------
    x, y
        Target coordinates (metres).
    px, py, weight
        Point coordinates and weights.
    radius
        Quartic radius or Gaussian bandwidth (metres).
    kernel, output
        As in :func:`kernel_values`.
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.

    Returns
    -------
    numpy.ndarray
        One sum per target.
    """
    prog = as_progress(progress)
    r = float(radius)
    cutoff = r if kernel == "quartic" else GAUSSIAN_CUTOFF * r
    vals = np.zeros(x.size, dtype="float64")
    if x.size == 0:
        return vals
    ctree = cKDTree(np.column_stack([x, y]))
    step = 256
    n = px.size
    for s in range(0, n, step):
        ptree = cKDTree(np.column_stack([px[s:s + step], py[s:s + step]]))
        sdm = ptree.sparse_distance_matrix(ctree, cutoff, output_type="ndarray")
        if sdm.size:
            kv = kernel_values(sdm["v"], r, kernel=kernel, output=output)
            vals += np.bincount(sdm["j"], weights=weight[s:s + step][sdm["i"]] * kv, minlength=x.size)
        prog.update(min(s + step, n) / max(n, 1), "kernel density")
    return vals


def _kde_surface(grid: Grid, vals: np.ndarray, *, kernel: str, r: float, how: str, output: str,
                 weight_field: str | None, n: int) -> Surface:
    tags = {"iptown_kernel": kernel, "iptown_radius_m": f"{r:.6g}", "iptown_radius_rule": how,
            "iptown_output": output, "iptown_weight_field": str(weight_field), "iptown_n_points": str(n)}
    log.info("KDE %s r=%.0f m (%s), %d points", kernel, r, how, n)
    return Surface(grid=grid, values=grid.to_array(vals), name="kde", tags=tags)


# --------------------------------------------------------------------------- tile by tile


def _kde_tile(spec: TileSpec, mask: np.ndarray, points: tuple[np.ndarray, ...], radius: float,
              kernel: Kernel, output: Output, nodata: float, dtype: str) -> np.ndarray:
    """Kernel density of one tile (the task): :func:`kernel_sums` over the points within reach."""
    px, py, pw = points
    x, y = tile_centres(spec, mask)
    vals = np.zeros(len(x))
    if len(x):
        reach = radius if kernel == "quartic" else GAUSSIAN_CUTOFF * radius
        near = ((px >= x.min() - reach) & (px <= x.max() + reach)
                & (py >= y.min() - reach) & (py <= y.max() + reach))
        vals = kernel_sums(x, y, px[near], py[near], pw[near], radius=radius, kernel=kernel, output=output)
    return tile_fill(spec, mask, vals, nodata, dtype)


def _check_kernel(kernel: str, output: str) -> None:
    if kernel not in ("quartic", "gaussian"):
        raise ParameterError(f"kernel must be 'quartic' or 'gaussian', got {kernel!r}")
    if output not in ("raw", "scaled", "density"):
        raise ParameterError(f"output must be 'raw', 'scaled' or 'density', got {output!r}")


def kde_cells(
    grid: Grid, x: Any, y: Any, weight: Any, *, radius: float, kernel: Kernel = "quartic", output: Output = "raw",
    executor: Executor | None = None, tile_size: int | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> np.ndarray:
    """Kernel density of the cells inside ``grid`` (order of ``grid.centres()``), tile by tile.

    As :func:`kde` computes it (equal to summation order), one task per tile on ``executor``;
    inputs are not validated again.

    Parameters
    ----------
    grid
        The grid.
    x, y, weight
        Point coordinates (grid CRS, metres) and weights.
    radius
        Quartic radius or Gaussian bandwidth (metres).
    kernel, output
        As in :func:`kde`.
    executor, tile_size, progress
        As in :func:`iptown_gis.surfaces.potential.potential_cells`.

    Returns
    -------
    numpy.ndarray
        One value per cell inside the mask.
    """
    px = np.asarray(x, dtype="float64").ravel()
    args = ((px, np.asarray(y, dtype="float64").ravel(), np.asarray(weight, dtype="float64").ravel()),
            float(radius), kernel, output, np.nan, "float64")
    return tile_values(grid, _kde_tile, args, n_points=min(px.size, 4096), executor=executor,
                       tile_size=tile_size, prog=as_progress(progress), what="kernel density")


def kde_tiled(
    grid: Grid,
    x: Any,
    y: Any,
    path: str | os.PathLike[str],
    *,
    radius: float,
    weight: Any = None,
    kernel: Kernel = "quartic",
    output: Output = "raw",
    executor: Executor | None = None,
    tile_size: int | None = None,
    dtype: str = "float32",
    nodata: float = -9999.0,
    progress: ProgressCallback | Progress | None = None,
) -> Path:
    """Kernel density (agglomeration surface) of points on ``grid``, tile by tile, into a tiled GeoTIFF.

    Same kernel definitions as :func:`kde` (``radius`` is the quartic radius or the Gaussian
    bandwidth); each tile only looks at the points within reach, and no process holds the
    whole raster (:func:`iptown_gis.surfaces.tiles.write_tiles`).

    Parameters
    ----------
    grid
        A :class:`~iptown_gis.surfaces.grid.Grid` (cells outside its mask are nodata).
    x, y
        Point coordinates (grid CRS, metres).
    path
        Output GeoTIFF (written atomically).
    radius
        Quartic radius or Gaussian bandwidth (metres, > 0).
    weight
        Point weights (default 1).
    kernel, output
        As in :func:`kde`.
    executor, tile_size, dtype, nodata, progress
        As in :func:`iptown_gis.surfaces.potential.market_potential_tiled`.

    Returns
    -------
    pathlib.Path

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
    _check_kernel(kernel, output)
    if np.isnan(pw).any():
        raise ParameterError("weights must not be NaN")
    tags = {"iptown_kernel": kernel, "iptown_radius": f"{radius:g}", "iptown_output": output,
            "iptown_n_points": str(px.size), "iptown_tiled": "yes"}
    return write_tiles(path, grid, _kde_tile, ((px, py, pw), float(radius), kernel, output, nodata, dtype),
                       n_points=min(px.size, 4096), executor=executor, tile_size=tile_size, nodata=nodata,
                       dtype=dtype, tags=tags, prog=prog, what="kernel density")


def kde_to_tiff(
    points: gpd.GeoDataFrame,
    grid: Grid,
    path: str | os.PathLike[str],
    *,
    kernel: Kernel = "quartic",
    radius: float | None = None,
    rule: Literal["silverman", "scott"] = "silverman",
    weight_field: str | None = None,
    output: Output = "raw",
    reproject: bool = False,
    executor: Executor | None = None,
    tile_size: int | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> Path:
    """:func:`kde` of a point layer written tile by tile (:func:`kde_tiled`) into a tiled GeoTIFF.

    The points are checked and chosen as in :func:`kde` (CRS, weights, bandwidth rule, points
    out of reach left out), so the two give the same values; no process holds the whole raster.

    Parameters
    ----------
    points
        Point layer (polygons use a representative point) in the grid's CRS.
    grid
        The :class:`~iptown_gis.surfaces.grid.Grid`.
    path
        Output GeoTIFF (written atomically).
    kernel
        ``"quartic"`` (QGIS Heatmap) or ``"gaussian"``.
    radius
        Quartic radius or Gaussian bandwidth in metres; ``None`` applies ``rule``.
    rule
        ``"silverman"`` or ``"scott"`` (used when ``radius`` is None).
    weight_field
        Column of point weights; ``None``: every point weighs 1.
    output
        ``"raw"``, ``"scaled"`` or ``"density"``.
    reproject
        Reproject points to the grid's CRS instead of raising :class:`CRSError`.
    executor
        An :mod:`iptown_gis.parallel` executor for the tiles; ``None``: in-process.
    tile_size
        Tile side in cells (default: from the memory budget).
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    CRSError, ColumnError, GeometryError, ParameterError
        As :func:`kde`.
    """
    px, py, w, r, _ = _kde_inputs(points, grid, kernel=kernel, radius=radius, rule=rule, weight_field=weight_field,
                                  output=output, reproject=reproject)
    return kde_tiled(grid, px, py, path, radius=r, weight=w, kernel=kernel, output=output, executor=executor,
                     tile_size=tile_size, progress=progress)
