"""Input checks shared by the surface functions (private)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from iptown_gis.errors import ColumnError, GeometryError, ParameterError
from iptown_gis.io.vector import columns_are

__all__ = ["point_xy", "weights_from"]


def point_xy(gdf: gpd.GeoDataFrame, *, name: str, min_points: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """x, y of a point layer (multi-points and polygons give their centroid / representative point).

    Raises
    ------
    GeometryError
        Missing or empty geometries, lines, or fewer than ``min_points`` features.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise GeometryError(f"{name} should be a GeoDataFrame, got {type(gdf).__name__}")
    if len(gdf) < min_points:
        raise GeometryError(
            f"{name} has {len(gdf)} feature(s); at least {min_points} are needed"
        )
    geom = gdf.geometry
    bad = geom.isna() | geom.is_empty
    if bad.any():
        raise GeometryError(f"{name}: {int(bad.sum())} feature(s) have no geometry; remove or fix them")
    types = set(geom.geom_type)
    lines = types & {"LineString", "MultiLineString", "LinearRing"}
    if lines:
        raise GeometryError(
            f"{name}: expected points (or polygons), found {', '.join(sorted(lines))}: give a point layer "
            "(a line has no single location; use its centroid or end points deliberately)"
        )
    if types <= {"Point"}:
        return geom.x.to_numpy(dtype="float64"), geom.y.to_numpy(dtype="float64")
    if types & {"Polygon", "MultiPolygon"}:
        pts = geom.representative_point()
    else:
        pts = geom.centroid
    return pts.x.to_numpy(dtype="float64"), pts.y.to_numpy(dtype="float64")


def weights_from(
    gdf: gpd.GeoDataFrame | pd.DataFrame, field: str | None, *, name: str, allow_zero_sum: bool = False
) -> np.ndarray:
    """Non-negative finite weights from column ``field`` (all ones when ``field`` is None).

    Raises
    ------
    ColumnError
        Missing column, non-numeric, NaN/infinite or negative values, or an all-zero column.
    """
    if field is None:
        return np.ones(len(gdf), dtype="float64")
    if field not in gdf.columns:
        raise ColumnError(f"{name}: no column {field!r}; {columns_are(gdf)}")
    try:
        vals = pd.to_numeric(gdf[field], errors="raise").to_numpy(dtype="float64")
    except (ValueError, TypeError):
        raise ColumnError(f"{name}: column {field!r} is not numeric") from None
    nonfinite = ~np.isfinite(vals)
    if nonfinite.any():
        rows = list(gdf.index[nonfinite][:5])
        raise ColumnError(
            f"{name}: column {field!r} has {int(nonfinite.sum())} NaN/missing or infinite value(s) "
            f"(e.g. rows {rows}); fill or drop them"
        )
    neg = vals < 0
    if neg.any():
        rows = list(gdf.index[neg][:5])
        raise ColumnError(
            f"{name}: column {field!r} has {int(neg.sum())} negative value(s) (e.g. rows {rows}); "
            "masses and weights must be >= 0"
        )
    if not allow_zero_sum and vals.sum() <= 0:
        raise ColumnError(f"{name}: column {field!r} is zero everywhere; nothing to compute")
    return vals


def positive(value: float | None, what: str, *, allow_none: bool = False, allow_zero: bool = False) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a positive finite number."""
    if value is None:
        if allow_none:
            return
        raise ParameterError(f"{what} is required")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ParameterError(f"{what} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
