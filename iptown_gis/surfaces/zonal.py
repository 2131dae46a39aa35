"""Zonal statistics of a surface per zone (county, prefecture): a table and a GeoPackage layer.

A cell belongs to the zone containing its centre (rasterio's rasterisation rule); cells
outside the grid's boundary mask or with no value are left out. A zone holding no cell
centre (smaller than a cell) gets ``count = 0`` and NaN statistics, and a warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np

from iptown_gis.errors import ColumnError, GeometryError, ParameterError
from iptown_gis.surfaces.grid import Surface, check_same_crs

__all__ = ["STATS", "write_zonal", "zonal_stats"]

log = logging.getLogger(__name__)

#: Statistics :func:`zonal_stats` can compute.
STATS = ("mean", "max", "min", "sum", "count", "std")


def zonal_stats(
    surface: Surface,
    zones: gpd.GeoDataFrame,
    *,
    stats: Sequence[str] = ("mean", "max", "sum"),
    id_field: str | None = None,
    prefix: str | None = None,
    reproject: bool = False,
) -> gpd.GeoDataFrame:
    """Statistics of ``surface`` over each zone polygon.

    Parameters
    ----------
    surface
        A :class:`~iptown_gis.surfaces.grid.Surface`.
    zones
        Polygon layer (counties, prefectures) in the surface's CRS.
    stats
        Any of :data:`STATS`; ``count`` (cells) is always added.
    id_field
        A zone id column to keep first (checked to exist).
    prefix
        Column prefix (default: the surface's name), e.g. ``market_potential_mean``.
    reproject
        Reproject zones to the grid's CRS instead of raising :class:`CRSError`.

    Returns
    -------
    geopandas.GeoDataFrame
        The zones' attributes plus ``<prefix>_<stat>`` columns and ``<prefix>_count``.

    Raises
    ------
    ParameterError
        Unknown statistic.
    ColumnError
        Missing ``id_field``.
    GeometryError, CRSError
    """
    from rasterio import features

    bad = [s for s in stats if s not in STATS]
    if bad:
        raise ParameterError(f"unknown zonal statistic(s) {bad}; choose from {', '.join(STATS)}")
    if not isinstance(zones, gpd.GeoDataFrame) or len(zones) == 0:
        raise GeometryError("zones must be a non-empty polygon GeoDataFrame")
    if id_field is not None and id_field not in zones.columns:
        raise ColumnError(f"zones: no column {id_field!r}; columns are: "
                          f"{', '.join(c for c in zones.columns if c != zones.geometry.name)}")
    if not zones.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise GeometryError("zones must be Polygon/MultiPolygon geometries")
    grid = surface.grid
    zones = check_same_crs(grid.crs, zones, name="zones", reproject=reproject)
    n = len(zones)
    labels = features.rasterize(
        ((geom, i + 1) for i, geom in enumerate(zones.geometry)), out_shape=grid.shape,
        transform=grid.transform, fill=0, dtype="int32",
    )
    data: np.ndarray = np.ma.filled(np.ma.asarray(surface.values, dtype="float64"), np.nan)
    ok = grid.mask & (labels > 0) & np.isfinite(data)
    lab = labels[ok] - 1
    v = data[ok]
    count = np.bincount(lab, minlength=n).astype("float64")
    total = np.bincount(lab, weights=v, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    pre = prefix or surface.name
    out = zones.copy()
    if id_field is not None:
        cols = [id_field] + [c for c in out.columns if c != id_field]
        out = out[cols]
    for s in stats:
        if s == "mean":
            col = mean
        elif s == "sum":
            col = np.where(count > 0, total, np.nan)
        elif s in ("max", "min"):
            fill = -np.inf if s == "max" else np.inf
            col = np.full(n, fill)
            (np.maximum if s == "max" else np.minimum).at(col, lab, v)
            col = np.where(count > 0, col, np.nan)
        elif s == "std":
            sq = np.bincount(lab, weights=v * v, minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                var = np.where(count > 0, sq / count - mean**2, np.nan)
            col = np.sqrt(np.maximum(var, 0.0))
        else:  # count
            continue
        out[f"{pre}_{s}"] = col
    out[f"{pre}_count"] = count.astype("int64")
    empty = int((count == 0).sum())
    if empty:
        log.warning("%d zone(s) hold no %g m cell centre: their statistics are NaN (use smaller cells)",
                    empty, grid.cell)
    return out


def write_zonal(
    table: gpd.GeoDataFrame, gpkg: str | os.PathLike[str], *, layer: str = "zonal",
    csv: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write zonal statistics as a GeoPackage layer (and a CSV table without geometry).

    Parameters
    ----------
    table
        The zones with their statistics (:func:`zonal_stats`).
    gpkg
        Output GeoPackage.
    layer
        Layer name in it.
    csv
        Also write this CSV (no geometry).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from iptown_gis.io.vector import write_vector

    paths = [write_vector(table, gpkg, layer=layer)]
    if csv is not None:
        paths.append(write_vector(table, csv))
    return paths
