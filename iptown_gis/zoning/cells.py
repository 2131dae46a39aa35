"""Cell sets: the units a zoning layout assigns (a regular grid, or parcel polygons).

A :class:`CellSet` holds, for ``n`` cells, their centroids and areas in a metric CRS, each
cell's perimeter, the undirected adjacency as an edge list with shared-boundary lengths
(rook adjacency for grids, a shared boundary of positive length for parcels), an exclusion
mask, and optionally the cell polygons and attribute table. Everything is stored as NumPy
arrays indexed ``0..n-1``; the optimisers never see GeoDataFrame indexes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from iptown_gis.errors import ColumnError, GeometryError, ParameterError

__all__ = ["CellSet", "cells_from_polygons", "grid_cells"]

log = logging.getLogger(__name__)


@dataclass
class CellSet:
    """Cells with adjacency, centroids, areas and an exclusion mask (see module docstring).

    Attributes
    ----------
    centroids
        ``(n, 2)`` x, y in the metric CRS (metres).
    areas
        ``(n,)`` cell areas in square metres.
    perimeters
        ``(n,)`` cell perimeters in metres.
    edges
        ``(m, 2)`` undirected adjacent pairs ``i < j``.
    edge_length
        ``(m,)`` shared boundary length of each pair, metres.
    excluded
        ``(n,)`` True for cells no district may use.
    kind
        ``"grid"`` or ``"parcels"``.
    crs
        The metric CRS (anything pyproj accepts) or ``None``.
    data
        Attribute table (one row per cell, positional index), e.g. suitability columns.
    geometry
        Cell polygons (``None`` if not built).
    grid_shape, grid_rc
        For grids: ``(nrows, ncols)`` and each cell's ``(row, col)``.
    """

    centroids: np.ndarray
    areas: np.ndarray
    perimeters: np.ndarray
    edges: np.ndarray
    edge_length: np.ndarray
    excluded: np.ndarray
    kind: str = "parcels"
    crs: Any = None
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    geometry: gpd.GeoSeries | None = None
    grid_shape: tuple[int, int] | None = None
    grid_rc: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.centroids)
        self.centroids = np.asarray(self.centroids, dtype="float64").reshape(n, 2)
        self.areas = np.asarray(self.areas, dtype="float64").reshape(n)
        self.perimeters = np.asarray(self.perimeters, dtype="float64").reshape(n)
        self.edges = np.asarray(self.edges, dtype="int64").reshape(-1, 2)
        self.edge_length = np.asarray(self.edge_length, dtype="float64").reshape(-1)
        self.excluded = np.asarray(self.excluded, dtype=bool).reshape(n)
        if len(self.edge_length) != len(self.edges):
            raise ParameterError("edge_length must have one entry per edge")
        if len(self.data) == 0:
            self.data = pd.DataFrame(index=pd.RangeIndex(n))
        elif len(self.data) != n:
            raise ParameterError(f"data has {len(self.data)} rows for {n} cells")
        else:
            self.data = self.data.reset_index(drop=True)

    # ------------------------------------------------------------------ basics
    @property
    def n(self) -> int:
        """Number of cells."""
        return len(self.centroids)

    @property
    def side(self) -> float:
        """Typical cell side (square root of the mean area), the length unit of the model."""
        return float(np.sqrt(self.areas.mean())) if self.n else 1.0

    def adjacency(self, *, weighted: bool = False) -> sp.csr_matrix:
        """Symmetric sparse adjacency (ones, or shared lengths when ``weighted``)."""
        n = self.n
        vals = self.edge_length if weighted else np.ones(len(self.edges))
        a = sp.coo_matrix(
            (np.concatenate([vals, vals]),
             (np.concatenate([self.edges[:, 0], self.edges[:, 1]]),
              np.concatenate([self.edges[:, 1], self.edges[:, 0]]))),
            shape=(n, n),
        )
        return a.tocsr()

    def neighbour_lists(self) -> tuple[list[list[int]], list[list[float]]]:
        """Python adjacency lists (neighbour ids, shared lengths), for scalar hot loops."""
        a = self.adjacency(weighted=True)
        ip, ix, dv = a.indptr, a.indices, a.data
        ixl = ix.tolist()
        dvl = dv.tolist()
        return ([ixl[ip[i]:ip[i + 1]] for i in range(self.n)],
                [dvl[ip[i]:ip[i + 1]] for i in range(self.n)])

    def components(self, mask: np.ndarray | None = None) -> tuple[int, np.ndarray]:
        """Connected components of the cells selected by ``mask`` (default: not excluded).

        Returns the number of components and a label per cell (``-1`` outside ``mask``).
        """
        m = ~self.excluded if mask is None else np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(m)
        labels = np.full(self.n, -1, dtype="int64")
        if len(idx) == 0:
            return 0, labels
        sub = self.adjacency()[idx][:, idx]
        k, lab = connected_components(sub, directed=False)
        labels[idx] = lab
        return int(k), labels

    def check_connected(self, *, name: str = "cells") -> None:
        """Raise :class:`GeometryError` unless the usable (not excluded) cells form one area."""
        k, lab = self.components()
        if k == 0:
            raise GeometryError(f"{name}: every cell is excluded; nothing can be laid out")
        if k > 1:
            sizes = np.sort(np.bincount(lab[lab >= 0]))[::-1]
            raise GeometryError(
                f"{name}: the usable cells form {k} separate areas (sizes {sizes[:5].tolist()}"
                f"{'...' if k > 5 else ''}); connect them, exclude the small pieces, or use "
                "--largest-component (cells.keep_largest_component()) to keep only the largest area"
            )

    def keep_largest_component(self) -> CellSet:
        """Exclude every usable cell outside the largest connected area (in place; returns self)."""
        k, lab = self.components()
        if k > 1:
            big = int(np.argmax(np.bincount(lab[lab >= 0])))
            drop = (lab >= 0) & (lab != big)
            log.info("excluding %d cells outside the largest connected area", int(drop.sum()))
            self.excluded = self.excluded | drop
        return self

    def subset(self, mask: np.ndarray) -> tuple[CellSet, np.ndarray]:
        """The cells selected by ``mask`` as a new :class:`CellSet`, and their original ids.

        Perimeters are kept (the boundary with dropped cells becomes outer boundary).
        """
        keep = np.flatnonzero(np.asarray(mask, dtype=bool))
        remap = np.full(self.n, -1, dtype="int64")
        remap[keep] = np.arange(len(keep))
        e = remap[self.edges]
        ok = (e >= 0).all(axis=1)
        geom = None if self.geometry is None else self.geometry.iloc[keep].reset_index(drop=True)
        cs = CellSet(
            centroids=self.centroids[keep], areas=self.areas[keep], perimeters=self.perimeters[keep],
            edges=e[ok], edge_length=self.edge_length[ok], excluded=self.excluded[keep],
            kind=self.kind, crs=self.crs, data=self.data.iloc[keep].reset_index(drop=True),
            geometry=geom, grid_shape=self.grid_shape,
            grid_rc=None if self.grid_rc is None else self.grid_rc[keep],
        )
        return cs, keep

    def column(self, name: str, *, what: str = "suitability") -> np.ndarray:
        """A numeric column of :attr:`data` as float array; missing or NaN is a :class:`ColumnError`.

        NaN is only tolerated on excluded cells.
        """
        if name not in self.data.columns:
            have = ", ".join(map(str, self.data.columns)) or "none"
            raise ColumnError(f"{what} column {name!r} not found; columns are: {have}")
        try:
            v = pd.to_numeric(self.data[name], errors="raise").to_numpy(dtype="float64")
        except (ValueError, TypeError):
            raise ColumnError(f"{what} column {name!r} is not numeric") from None
        bad = ~np.isfinite(v) & ~self.excluded
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ColumnError(
                f"{what} column {name!r} has {int(bad.sum())} NaN/infinite value(s) on usable cells "
                f"(e.g. rows {rows}); fill them or exclude those cells"
            )
        return np.where(np.isfinite(v), v, 0.0)

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Cells as polygons with their attributes (builds squares for grids if needed)."""
        geom = self.geometry
        if geom is None:
            if self.kind != "grid":
                raise GeometryError("these cells have no polygons; build them from a grid or polygons")
            h = np.sqrt(self.areas) / 2.0
            c = self.centroids
            geom = gpd.GeoSeries(shapely.box(c[:, 0] - h, c[:, 1] - h, c[:, 0] + h, c[:, 1] + h),
                                 crs=self.crs)
            self.geometry = geom
        out = gpd.GeoDataFrame(self.data.copy(), geometry=np.asarray(geom), crs=self.crs)
        out["excluded"] = self.excluded
        return out


def grid_cells(
    bounds: Sequence[float],
    cell_size: float,
    *,
    crs: Any = None,
    mask: np.ndarray | None = None,
    data: pd.DataFrame | None = None,
) -> CellSet:
    """A regular square grid over ``bounds = (xmin, ymin, xmax, ymax)`` with rook adjacency.

    Parameters
    ----------
    bounds
        Extent in metres; the grid covers it with ``ceil`` rows and columns from ``(xmin, ymax)``.
    cell_size
        Side of each square cell, metres.
    crs
        Metric CRS of the coordinates.
    mask
        Optional boolean array ``(nrows, ncols)`` (or ``(n,)``): cells to keep; others are
        dropped from the set (not merely excluded).
    data
        Optional attributes, one row per kept cell.

    Raises
    ------
    ParameterError
        Non-positive cell size or empty extent.
    """
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    if not (cell_size > 0) or not np.isfinite(cell_size):
        raise ParameterError(f"cell_size must be a positive number of metres, got {cell_size!r}")
    if not (xmax > xmin and ymax > ymin):
        raise ParameterError(f"empty extent {tuple(bounds)}: need xmin < xmax and ymin < ymax")
    ncols = max(int(np.ceil((xmax - xmin) / cell_size - 1e-9)), 1)
    nrows = max(int(np.ceil((ymax - ymin) / cell_size - 1e-9)), 1)
    rr2, cc2 = np.meshgrid(np.arange(nrows), np.arange(ncols), indexing="ij")
    rr, cc = rr2.ravel(), cc2.ravel()
    keep = np.ones(nrows * ncols, dtype=bool) if mask is None else np.asarray(mask, dtype=bool).ravel()
    if keep.size != nrows * ncols:
        raise ParameterError(f"mask has {keep.size} cells, the grid {nrows} x {ncols}")
    pos = np.full(nrows * ncols, -1, dtype="int64")
    pos[keep] = np.arange(int(keep.sum()))
    grid = pos.reshape(nrows, ncols)
    e_parts = []
    for a, b in ((grid[:, :-1], grid[:, 1:]), (grid[:-1, :], grid[1:, :])):
        a, b = a.ravel(), b.ravel()
        ok = (a >= 0) & (b >= 0)
        e_parts.append(np.stack([np.minimum(a[ok], b[ok]), np.maximum(a[ok], b[ok])], axis=1))
    edges = np.concatenate(e_parts) if e_parts else np.empty((0, 2), dtype="int64")
    edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    rr, cc = rr[keep], cc[keep]
    x = xmin + (cc + 0.5) * cell_size
    y = ymax - (rr + 0.5) * cell_size
    n = len(x)
    return CellSet(
        centroids=np.column_stack([x, y]), areas=np.full(n, cell_size**2),
        perimeters=np.full(n, 4.0 * cell_size), edges=edges, edge_length=np.full(len(edges), cell_size),
        excluded=np.zeros(n, dtype=bool), kind="grid", crs=crs,
        data=data if data is not None else pd.DataFrame(index=pd.RangeIndex(n)),
        grid_shape=(nrows, ncols), grid_rc=np.column_stack([rr, cc]),
    )


def cells_from_polygons(
    gdf: gpd.GeoDataFrame,
    *,
    exclude: str | None = None,
    min_shared: float | None = None,
) -> CellSet:
    """Cells from parcel polygons in a metric CRS; adjacency = a shared boundary of positive length.

    Parameters
    ----------
    gdf
        Polygons (projected, metres). Attributes are kept in :attr:`CellSet.data`.
    exclude
        Optional column: truthy values mark excluded cells.
    min_shared
        Shared boundary length (metres) below which two parcels are not adjacent
        (default: 1e-6 of the mean cell side, so corner contacts do not count).

    Raises
    ------
    GeometryError
        Empty layer, non-polygon or empty geometries, geographic CRS.
    ColumnError
        ``exclude`` column missing.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise GeometryError(f"'gdf' should be a GeoDataFrame, got {type(gdf).__name__}")
    if len(gdf) == 0:
        raise GeometryError("the cell layer is empty: give polygons")
    if gdf.crs is not None and gdf.crs.is_geographic:
        raise GeometryError("cells are in degrees: project them to a metric CRS first (to_metric)")
    geom = gdf.geometry.to_numpy()
    kinds = shapely.get_type_id(geom)
    if not np.isin(kinds, (3, 6)).all():
        raise GeometryError("cells must be Polygon/MultiPolygon geometries (one polygon per cell)")
    areas = shapely.area(geom)
    if (areas <= 0).any():
        raise GeometryError(f"{int((areas <= 0).sum())} cell polygon(s) have zero area")
    perim = shapely.length(geom)
    cent = shapely.get_coordinates(shapely.centroid(geom))
    side = float(np.sqrt(areas.mean()))
    tol = side * 1e-6 if min_shared is None else float(min_shared)
    tree = shapely.STRtree(geom)
    i, j = tree.query(geom, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    bnd = shapely.boundary(geom)
    shared = shapely.length(shapely.intersection(bnd[i], bnd[j]))
    ok = shared > tol
    # overlapping parcels share area, not boundary: still adjacent, counted by overlap boundary
    edges = np.column_stack([i[ok], j[ok]])
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    data = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    excluded = np.zeros(len(gdf), dtype=bool)
    if exclude is not None:
        if exclude not in data.columns:
            raise ColumnError(f"exclude column {exclude!r} not found; columns are: {', '.join(data.columns)}")
        excluded = data[exclude].fillna(False).astype(bool).to_numpy()
    sq = np.isclose(perim, 4 * np.sqrt(areas), rtol=1e-6).all() and np.allclose(areas, areas[0])
    return CellSet(
        centroids=cent, areas=areas, perimeters=perim, edges=edges[order], edge_length=shared[ok][order],
        excluded=excluded, kind="grid" if sq else "parcels", crs=gdf.crs, data=data,
        geometry=gpd.GeoSeries(geom, crs=gdf.crs),
    )
