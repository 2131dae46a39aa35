"""Candidate sites: any point or polygon layer, or the cells of a raster above a threshold.

Every candidate table has a unique ``site_id`` column and point geometries: polygons are
represented by a point guaranteed to lie inside them (``representative_point``), multi-points by
their centroid.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from iptown_gis.crs.metric import require_crs
from iptown_gis.errors import ColumnError, GeometryError, ParameterError
from iptown_gis.sites._raster import as_raster

__all__ = ["SITE_ID", "candidates_from_layer", "candidates_from_raster"]

log = logging.getLogger(__name__)

#: Name of the candidate id column in every candidate table and output.
SITE_ID = "site_id"


def candidates_from_layer(
    layer: gpd.GeoDataFrame,
    *,
    id_field: str | None = None,
    name: str = "candidates",
) -> gpd.GeoDataFrame:
    """Candidate sites from a point or polygon layer.

    Parameters
    ----------
    layer
        Points, multi-points (their centroid) or polygons (a representative point inside each).
    id_field
        Column with unique ids (copied to ``site_id``); default: the row index.
    name
        What to call the layer in error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer's columns plus ``site_id``, with point geometries, same CRS, same row order.

    Raises
    ------
    GeometryError
        Empty layer, missing geometries or line geometries.
    ColumnError
        ``id_field`` missing, or ids missing / not unique.
    CRSError
        The layer has no CRS.
    """
    if not isinstance(layer, gpd.GeoDataFrame):
        raise GeometryError(f"{name} should be a GeoDataFrame, got {type(layer).__name__}")
    if len(layer) == 0:
        raise GeometryError(f"{name} is empty: give a layer with at least one candidate")
    require_crs(layer, name=name)
    geom = layer.geometry
    if (geom.isna() | geom.is_empty).any():
        raise GeometryError(f"{name}: {int((geom.isna() | geom.is_empty).sum())} candidate(s) have no geometry")
    kinds = set(geom.geom_type)
    lines = kinds & {"LineString", "MultiLineString", "LinearRing"}
    if lines:
        raise GeometryError(f"{name}: candidates must be points or polygons, found {', '.join(sorted(lines))}")
    out = layer.copy()
    if id_field is not None:
        if id_field not in out.columns:
            cols = ", ".join(str(c) for c in out.columns if c != out.geometry.name)
            raise ColumnError(f"{name}: no id column {id_field!r}; columns are: {cols}")
        ids = out[id_field]
    else:
        ids = pd.Series(out.index, index=out.index)
    if ids.isna().any():
        raise ColumnError(f"{name}: {int(ids.isna().sum())} candidate(s) have no id in {id_field!r}")
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].unique()[:5].tolist()
        raise ColumnError(f"{name}: candidate ids in {id_field or 'the index'!r} are not unique, e.g. {dup}")
    out[SITE_ID] = ids.to_numpy()
    is_poly = geom.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    is_multi = (geom.geom_type == "MultiPoint").to_numpy()
    if is_poly.any() or is_multi.any():
        pts = geom.copy()
        if is_poly.any():
            pts[is_poly] = geom[is_poly].representative_point()
            log.info("%s: %d polygon(s) represented by an interior point", name, int(is_poly.sum()))
        if is_multi.any():
            pts[is_multi] = geom[is_multi].centroid
        out = out.set_geometry(pts)
    return out


def candidates_from_raster(
    raster: Any,
    *,
    threshold: float | None = None,
    quantile: float | None = None,
    name: str = "raster",
    max_cells: int = 20_000,
) -> gpd.GeoDataFrame:
    """Candidate sites at the centres of raster cells whose value is at least a threshold.

    Parameters
    ----------
    raster
        A surface of the surfaces stage, an :class:`iptown_gis.io.raster.Raster`, or a GeoTIFF path.
    threshold
        Keep cells with value >= ``threshold``.
    quantile
        Alternatively keep cells at or above this quantile (0..1) of the valid values.
    max_cells
        Refuse more candidates than this (raise the threshold instead).
    name
        What to call the raster in messages.

    Returns
    -------
    geopandas.GeoDataFrame
        Points with ``site_id`` (``"r{row}c{col}"``), ``row``, ``col`` and ``value``.

    Raises
    ------
    ParameterError
        Neither or both of ``threshold`` / ``quantile``; no or too many cells selected.
    """
    if (threshold is None) == (quantile is None):
        raise ParameterError("give exactly one of threshold or quantile for raster candidates")
    data, transform, crs = as_raster(raster, name=name)
    valid = ~np.ma.getmaskarray(data) & np.isfinite(np.ma.getdata(data))
    vals = np.ma.getdata(data).astype(float)
    if not valid.any():
        raise ParameterError(f"{name} has no valid cells")
    if quantile is not None:
        if not 0.0 <= quantile <= 1.0:
            raise ParameterError(f"quantile must be in [0, 1], got {quantile}")
        threshold = float(np.quantile(vals[valid], quantile))
    keep = valid & (vals >= float(threshold))  # type: ignore[arg-type]
    r, c = np.nonzero(keep)
    if r.size == 0:
        raise ParameterError(f"no cell of {name} reaches {threshold:g}; lower the threshold")
    if r.size > max_cells:
        raise ParameterError(
            f"{r.size} cells of {name} reach {threshold:g} (more than max_cells = {max_cells}); raise it"
        )
    xs, ys = transform * (c + 0.5, r + 0.5)
    ids = [f"r{i}c{j}" for i, j in zip(r, c)]
    return gpd.GeoDataFrame(
        {SITE_ID: ids, "row": r, "col": c, "value": vals[r, c]},
        geometry=gpd.points_from_xy(xs, ys),
        crs=crs,
    )
