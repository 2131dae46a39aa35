"""Metric CRS policy: never measure in degrees.

Inputs without a CRS are an error. Data in a geographic CRS (degrees) is projected to a
metric CRS: the one the caller names, else the UTM zone of the data's extent centre
(EPSG:326xx north, 327xx south).
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import pyproj

from iptown_gis.errors import CRSError

__all__ = ["is_geographic", "metric_crs_for", "require_crs", "to_metric"]

log = logging.getLogger(__name__)


def require_crs(gdf: gpd.GeoDataFrame, *, name: str = "layer") -> pyproj.CRS:
    """Return the layer's CRS, or raise :class:`CRSError` if it has none."""
    if gdf.crs is None:
        raise CRSError(
            f"{name} has no CRS: assign one (e.g. in QGIS 'Assign projection', or "
            "gdf.set_crs('EPSG:4326') when the coordinates are longitude/latitude)"
        )
    return pyproj.CRS.from_user_input(gdf.crs)


def is_geographic(crs: Any) -> bool:
    """True if ``crs`` measures in degrees."""
    return bool(pyproj.CRS.from_user_input(crs).is_geographic)


def metric_crs_for(gdf: gpd.GeoDataFrame, *, preferred: Any | None = None) -> pyproj.CRS:
    """Choose a metric CRS for ``gdf``.

    Parameters
    ----------
    gdf
        A layer with a CRS.
    preferred
        A CRS to use instead of the automatic choice (must be projected, in metres).

    Returns
    -------
    pyproj.CRS
        ``preferred`` when given; the layer's own CRS when already projected; otherwise the
        UTM zone of the layer's extent centre.
    """
    crs = require_crs(gdf)
    if preferred is not None:
        try:
            pref = pyproj.CRS.from_user_input(preferred)
        except pyproj.exceptions.CRSError as exc:
            raise CRSError(f"unknown CRS {preferred!r}: give an EPSG code such as 'EPSG:4548'") from exc
        if pref.is_geographic:
            raise CRSError(
                f"CRS {preferred!r} is geographic (degrees); name a projected CRS in metres, "
                "e.g. 'EPSG:4548' for Anhui or a UTM zone"
            )
        return pref
    if not crs.is_geographic:
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit not in ("metre", "meter", "m"):
            raise CRSError(f"layer CRS {crs.name!r} is in {unit}, not metres: reproject it to a metric CRS")
        return crs
    ll = gdf.to_crs(4326) if crs.to_epsg() != 4326 else gdf
    minx, miny, maxx, maxy = ll.total_bounds
    lon = (minx + maxx) / 2.0
    lat = (miny + maxy) / 2.0
    zone = int((lon + 180.0) // 6.0) + 1
    zone = min(max(zone, 1), 60)
    epsg = (32600 if lat >= 0 else 32700) + zone
    return pyproj.CRS.from_epsg(epsg)


def to_metric(
    gdf: gpd.GeoDataFrame, *, crs: Any | None = None, name: str = "layer"
) -> gpd.GeoDataFrame:
    """Project ``gdf`` to a metric CRS (see :func:`metric_crs_for`); a no-op if it is one.

    Parameters
    ----------
    gdf
        The layer (must have a CRS).
    crs
        A projected CRS in metres to use instead of the automatic choice (see
        :func:`metric_crs_for`).
    name
        What to call the layer in messages.
    """
    require_crs(gdf, name=name)
    target = metric_crs_for(gdf, preferred=crs)
    if pyproj.CRS.from_user_input(gdf.crs) == target:
        return gdf
    log.debug("projecting %s from %s to %s", name, gdf.crs, target)
    return gdf.to_crs(target)
