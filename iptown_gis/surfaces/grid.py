"""A regular grid over a study area, shared by every surface.

A :class:`Grid` is a north-up raster frame (affine transform, shape, CRS) with a boolean mask
of the cells whose centre falls inside a boundary polygon. Surfaces are computed for the
cells inside the mask and written as GeoTIFFs with ``nodata`` outside it.

>>> from iptown_gis.datasets import anhui_layer
>>> grid = make_grid(anhui_layer("province"), cell=1000)   # doctest: +SKIP
>>> grid.shape, grid.n_inside                               # doctest: +SKIP
((584, 451), 140...)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
from affine import Affine

from iptown_gis.crs.metric import require_crs, to_metric
from iptown_gis.errors import CRSError, GeometryError, ParameterError

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "Grid",
    "Surface",
    "check_memory_budget",
    "check_same_crs",
    "make_grid",
    "parse_bytes",
    "surface_from_geotiff",
]

log = logging.getLogger(__name__)

#: Default memory budget for one surface computation (bytes): 4 GiB.
DEFAULT_MEMORY_BUDGET = 4 * 1024**3

#: Bytes of working memory a surface needs per grid cell (a few float64 arrays plus the FFT
#: work arrays of an all-cells potential, which are about 4x the grid).
BYTES_PER_CELL = 96

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
          "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "t": 1024**4, "tb": 1024**4,
          "tib": 1024**4}


def parse_bytes(value: int | float | str) -> int:
    """Parse a memory size such as ``4GB``, ``"512 MiB"`` or a number of bytes.

    Raises
    ------
    ParameterError
        If the text is not a size.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise ParameterError(f"memory budget must be positive, got {value}")
        return int(value)
    text = str(value).strip().lower().replace(" ", "")
    num = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(num):]
    try:
        n = float(num)
    except ValueError:
        raise ParameterError(f"cannot read memory size {value!r}: write e.g. '4GB' or '512MiB'") from None
    if unit not in _UNITS or n <= 0:
        raise ParameterError(f"cannot read memory size {value!r}: write e.g. '4GB' or '512MiB'")
    return int(n * _UNITS[unit])


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def check_memory_budget(
    rows: int, cols: int, *, cell: float, budget: int | float | str = DEFAULT_MEMORY_BUDGET,
    bytes_per_cell: int = BYTES_PER_CELL,
) -> None:
    """Raise :class:`ParameterError` if a ``rows x cols`` grid needs more than ``budget`` bytes.

    The message states the grid size so the user can choose a larger cell.

    Parameters
    ----------
    rows, cols
        Grid shape.
    cell
        Cell size (metres), for the message.
    budget
        Memory budget (bytes or text such as ``"4GB"``).
    bytes_per_cell
        Memory one cell takes in the surfaces' working arrays.

    Raises
    ------
    ParameterError
        The grid needs more than the budget (or the budget is not a size).
    """
    limit = parse_bytes(budget)
    need = float(rows) * float(cols) * bytes_per_cell
    if need > limit:
        raise ParameterError(
            f"a {cell:g} m grid would have {rows:,} rows x {cols:,} columns = {rows * cols:,} cells "
            f"(about {_fmt_bytes(need)} of working memory), above the memory budget of "
            f"{_fmt_bytes(limit)}: use a larger cell size or raise the memory budget"
        )


def check_same_crs(
    ref: Any, gdf: gpd.GeoDataFrame, *, name: str, reproject: bool = False
) -> gpd.GeoDataFrame:
    """Return ``gdf`` in CRS ``ref``; a different CRS is a :class:`CRSError` unless ``reproject``.

    Parameters
    ----------
    ref
        The reference CRS (the grid's).
    gdf
        The layer to check.
    name
        What to call the layer in messages.
    reproject
        Reproject ``gdf`` to ``ref`` instead of raising.
    """
    crs = require_crs(gdf, name=name)
    target = pyproj.CRS.from_user_input(ref)
    if crs == target:
        return gdf
    if not reproject:
        raise CRSError(
            f"{name} is in {crs.name} ({crs.to_string()}) but the grid/boundary is in {target.name} "
            f"({target.to_string()}): reproject one of them, or pass --reproject (reproject=True)"
        )
    log.info("reprojecting %s from %s to %s", name, crs.to_string(), target.to_string())
    return gdf.to_crs(target)


@dataclass(frozen=True)
class Grid:
    """A north-up raster frame with a mask of the cells inside a boundary.

    Attributes
    ----------
    transform
        Affine transform of the upper-left corner (``Affine(cell, 0, x0, 0, -cell, y0)``).
    shape
        ``(rows, cols)``.
    crs
        The grid's projected CRS (metres).
    mask
        Boolean ``(rows, cols)`` array, ``True`` for cells whose centre lies inside the
        boundary (rasterio's default rasterisation rule).
    """

    transform: Affine
    shape: tuple[int, int]
    crs: pyproj.CRS
    mask: np.ndarray

    @property
    def cell(self) -> float:
        """Cell size in CRS units (metres)."""
        return float(abs(self.transform.a))

    @property
    def rows(self) -> int:
        return int(self.shape[0])

    @property
    def cols(self) -> int:
        return int(self.shape[1])

    @property
    def n_cells(self) -> int:
        """Cells in the bounding frame."""
        return self.rows * self.cols

    @property
    def n_inside(self) -> int:
        """Cells inside the boundary."""
        return int(self.mask.sum())

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` of the frame."""
        x0, y0 = self.transform.c, self.transform.f
        return (x0, y0 - self.rows * self.cell, x0 + self.cols * self.cell, y0)

    def centres(self, *, inside_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """x and y of cell centres (row-major; only the cells inside the mask by default)."""
        x0, y0, c = self.transform.c, self.transform.f, self.cell
        xs = x0 + (np.arange(self.cols) + 0.5) * c
        ys = y0 - (np.arange(self.rows) + 0.5) * c
        if inside_only:
            r, k = np.nonzero(self.mask)
            return xs[k], ys[r]
        xx, yy = np.meshgrid(xs, ys)
        return xx.ravel(), yy.ravel()

    def rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells holding points ``(x, y)`` (may fall outside the frame)."""
        x0, y0, c = self.transform.c, self.transform.f, self.cell
        cols = np.floor((np.asarray(x, dtype=float) - x0) / c).astype(np.int64)
        rows = np.floor((y0 - np.asarray(y, dtype=float)) / c).astype(np.int64)
        return rows, cols

    def contains_rowcol(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True where ``(rows, cols)`` are inside the frame."""
        return (rows >= 0) & (rows < self.rows) & (cols >= 0) & (cols < self.cols)

    def to_array(self, values: np.ndarray, *, fill: float = np.nan) -> np.ma.MaskedArray:
        """Spread per-inside-cell ``values`` (as from :meth:`centres`) over the frame."""
        v = np.asarray(values, dtype="float64")
        if v.shape != (self.n_inside,):
            raise ParameterError(f"expected {self.n_inside} values (cells inside), got shape {v.shape}")
        out = np.full(self.shape, fill, dtype="float64")
        out[self.mask] = v
        return np.ma.MaskedArray(out, mask=~self.mask)

    def masked(self, array: np.ndarray) -> np.ma.MaskedArray:
        """``array`` (frame-shaped) masked outside the boundary."""
        a = np.asarray(array, dtype="float64")
        if a.shape != self.shape:
            raise ParameterError(f"expected an array of shape {self.shape}, got {a.shape}")
        return np.ma.MaskedArray(a, mask=~self.mask)

    def cell_polygons(self) -> gpd.GeoDataFrame:
        """The cells inside the mask as square polygons (columns ``row``, ``col``)."""
        import shapely

        r, k = np.nonzero(self.mask)
        x0, y0, c = self.transform.c, self.transform.f, self.cell
        minx = x0 + k * c
        maxy = y0 - r * c
        geoms = shapely.box(minx, maxy - c, minx + c, maxy)
        return gpd.GeoDataFrame({"row": r, "col": k}, geometry=geoms, crs=self.crs)

    def write(
        self,
        path: str | os.PathLike[str],
        array: np.ndarray,
        *,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        nodata: float = -9999.0,
    ) -> Path:
        """Write a frame-shaped array as a GeoTIFF, ``nodata`` outside the boundary.

        Uses :func:`iptown_gis.io.write_geotiff` (atomic, tiled, overviews, COG when GDAL has
        the driver).

        Parameters
        ----------
        path
            Output GeoTIFF.
        array
            Values, shape ``self.shape`` (masked or NaN cells become ``nodata``).
        tags
            GeoTIFF tags recording the parameters of the computation.
        description
            Band description.
        nodata
            Value written outside the boundary.

        Returns
        -------
        pathlib.Path
        """
        from iptown_gis.io.raster import write_geotiff

        data = self.masked(np.ma.filled(np.ma.asarray(array, dtype="float64"), np.nan))
        all_tags = {"iptown_cell_m": f"{self.cell:g}", **(tags or {})}
        return write_geotiff(path, data, transform=self.transform, crs=self.crs, nodata=nodata,
                             tags=all_tags, description=description)


def make_grid(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    cell: float,
    crs: Any | None = None,
    memory_budget: int | float | str = DEFAULT_MEMORY_BUDGET,
    all_touched: bool = False,
) -> Grid:
    """Build a :class:`Grid` of square ``cell``-metre cells covering ``boundary``.

    The frame's origin is snapped to a multiple of ``cell`` so grids of the same cell size
    over the same CRS line up. A cell is inside when its centre is inside the boundary
    (``all_touched=True``: when the boundary touches it).

    Parameters
    ----------
    boundary
        Polygon layer (any number of features; their union is the study area). Data in a
        geographic CRS is projected to ``crs`` or the extent's UTM zone.
    cell
        Cell size in metres (> 0).
    crs
        Metric CRS to use (default: the boundary's own when projected).
    memory_budget
        Largest working memory allowed (bytes, or text such as ``"4GB"``).
    all_touched
        Count cells that the boundary merely touches as inside.

    Raises
    ------
    ParameterError
        ``cell <= 0``, or the grid would exceed ``memory_budget`` (the message gives its size).
    GeometryError
        The boundary is empty or not polygonal.
    CRSError
        The boundary has no CRS.
    """
    from rasterio import features

    try:
        cell = float(cell)
    except (TypeError, ValueError):
        raise ParameterError(f"cell size must be a number of metres, got {cell!r}") from None
    if not math.isfinite(cell) or cell <= 0:
        raise ParameterError(f"cell size must be a positive number of metres, got {cell:g}")
    if isinstance(boundary, gpd.GeoSeries):
        boundary = gpd.GeoDataFrame(geometry=boundary)
    if len(boundary) == 0:
        raise GeometryError("boundary is empty: give a polygon layer with features")
    require_crs(boundary, name="boundary")
    boundary = to_metric(boundary, crs=crs, name="boundary")
    geoms = boundary.geometry[~(boundary.geometry.isna() | boundary.geometry.is_empty)]
    if len(geoms) == 0 or not geoms.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise GeometryError("boundary must hold Polygon/MultiPolygon geometries")
    minx, miny, maxx, maxy = (float(v) for v in geoms.total_bounds)
    x0 = math.floor(minx / cell) * cell
    y1 = math.ceil(maxy / cell) * cell
    cols = max(math.ceil((maxx - x0) / cell), 1)
    rows = max(math.ceil((y1 - miny) / cell), 1)
    check_memory_budget(rows, cols, cell=cell, budget=memory_budget)
    transform = Affine(cell, 0.0, x0, 0.0, -cell, y1)
    mask = features.geometry_mask(list(geoms), out_shape=(rows, cols), transform=transform,
                                  invert=True, all_touched=all_touched)
    if not mask.any():
        raise GeometryError(
            f"no {cell:g} m cell centre falls inside the boundary: use a smaller cell size"
        )
    grid = Grid(transform=transform, shape=(rows, cols), crs=pyproj.CRS.from_user_input(boundary.crs),
                mask=mask)
    log.info("grid %d x %d cells of %g m, %d inside", rows, cols, cell, grid.n_inside)
    return grid


@dataclass
class Surface:
    """A computed surface: frame-shaped values masked outside the boundary, with its grid.

    Attributes
    ----------
    grid
        The :class:`Grid` the values live on.
    values
        Masked ``(rows, cols)`` float64 array (masked outside the boundary).
    name
        Short name (``"market_potential"``, ``"kde"``, ...), used as the band description.
    tags
        Parameters of the computation, written as GeoTIFF metadata.
    """

    grid: Grid
    values: np.ma.MaskedArray
    name: str
    tags: dict[str, str]

    def write(self, path: str | os.PathLike[str], *, nodata: float = -9999.0) -> Path:
        """Write the surface as a GeoTIFF (see :meth:`Grid.write`)."""
        return self.grid.write(path, self.values, tags={"iptown_surface": self.name, **self.tags},
                               description=self.name, nodata=nodata)

    def inside_values(self) -> np.ndarray:
        """Values of the cells inside the boundary (order of :meth:`Grid.centres`)."""
        return np.asarray(np.ma.getdata(self.values)[self.grid.mask], dtype="float64")


def surface_from_geotiff(path: str | os.PathLike[str], *, name: str | None = None) -> Surface:
    """Read a single-band GeoTIFF (a surface written by :meth:`Surface.write`, or any metric raster).

    Cells with data are inside the grid's mask; nodata cells are outside. The GeoTIFF's
    metadata tags are kept as the surface's tags.

    Parameters
    ----------
    path
        The GeoTIFF.
    name
        The surface's name (e.g. the default column prefix of zonal statistics); default the
        ``iptown_surface`` tag written by :meth:`Surface.write`, else the file's stem.

    Returns
    -------
    Surface

    Raises
    ------
    DataNotFoundError
        The file is missing or not a raster.
    CRSError
        The raster has no CRS, or is in degrees (surfaces are measured in metres).
    """
    from iptown_gis.io.raster import read_raster

    src = Path(path)
    r = read_raster(src)
    crs = pyproj.CRS.from_user_input(r.crs)
    if crs.is_geographic:
        raise CRSError(f"raster {str(src)!r} is in degrees ({crs.name}); warp it to a metric CRS "
                       "(e.g. EPSG:4548 for Anhui): gdalwarp -t_srs EPSG:4548, or in QGIS "
                       "Raster > Projections > Warp")
    tags = dict(r.tags)
    mask = ~np.ma.getmaskarray(r.data)
    grid = Grid(transform=r.transform, shape=r.shape, crs=crs, mask=mask)
    vals = np.ma.MaskedArray(np.ma.filled(r.data.astype("float64"), np.nan), mask=~mask)
    return Surface(grid=grid, values=vals, name=name or tags.get("iptown_surface") or src.stem, tags=tags)
