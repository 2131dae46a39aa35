"""Isochrones / service areas: the area reachable from each centre within time bands.

Each band's polygon is the union of the network parts reachable within the band (whole
edges, and the reachable share of edges left part-way) buffered by ``buffer_m``, plus the
disc the remaining time reaches at the access speed around the centre itself. Bands nest:
the 60-minute polygon contains the 30-minute one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops
from numpy.typing import NDArray

from iptown_gis.errors import ParameterError
from iptown_gis.network.costs import node_costs
from iptown_gis.network.model import Network
from iptown_gis.network.snap import DEFAULT_ACCESS_SPEED_KMH, DEFAULT_MAX_SNAP_DISTANCE, _edge_geoms, snap_points
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = ["isochrones"]

log = logging.getLogger(__name__)


def isochrones(
    net: Network,
    centres: gpd.GeoDataFrame,
    *,
    bands: Sequence[float] = (15, 30, 60),
    weight: str = "time",
    id_field: str | None = None,
    buffer_m: float = 1000.0,
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH,
    max_snap_distance: float = DEFAULT_MAX_SNAP_DISTANCE,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
) -> gpd.GeoDataFrame:
    """Service-area polygons for each centre and cost band.

    Parameters
    ----------
    net
        The network.
    centres
        Centre points.
    bands
        Cost thresholds (minutes for ``time``, metres for ``length``), increasing.
    weight
        ``"time"`` or ``"length"``.
    id_field
        Column naming the centres (default: the index).
    buffer_m
        Half-width of the corridor drawn around reachable roads (metres).
    access_speed_kmh, max_snap_distance
        Access leg from the centre to the network (see :func:`snap_points`).
    executor
        An :mod:`iptown_gis.parallel` Dask executor for the shortest paths from the centres
        (identical costs); ``None``: in-process.
    progress
        Progress / cancellation callback.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per centre and band: ``centre_id``, ``band``, ``unit``, ``area_km2``,
        geometry (in the network CRS).

    Raises
    ------
    ParameterError
        Empty, non-positive or unsorted bands, or a negative buffer.
    """
    prog = as_progress(progress)
    b = np.asarray(list(bands), dtype=np.float64)
    if len(b) == 0 or (b <= 0).any() or not np.isfinite(b).all():
        raise ParameterError(f"bands must be positive numbers, got {list(bands)}")
    if (np.diff(b) <= 0).any():
        raise ParameterError(f"bands must increase, got {list(bands)}")
    if buffer_m < 0:
        raise ParameterError(f"buffer_m must be >= 0, got {buffer_m}")
    ids = centres.index.to_numpy() if id_field is None else centres[id_field].to_numpy()
    snap = snap_points(net, centres, ids=ids, max_distance=max_snap_distance,
                       access_speed_kmh=access_speed_kmh, name="centres")
    access = snap.access(weight)
    w = net.weight_array(weight)
    d = node_costs(net, snap.node, weight=weight, cutoff=float(b.max()), executor=executor,
                   progress=prog.sub(0.0, 0.5))
    geoms = _edge_geoms(net)
    t, h = net.tails, net.indices
    out_rows: list[dict[str, Any]] = []
    speed = access_speed_kmh * 1000.0 / 60.0
    for i in range(len(snap)):
        prog.update(0.5 + 0.5 * i / len(snap), f"isochrones {i + 1}/{len(snap)}")
        di = d[i] + access[i]
        for band in b:
            parts = _reachable(geoms, t, h, w, di, band)
            rest = band - access[i]
            if rest < 0:
                continue
            disc_r = (band if weight == "length" else band * speed) - snap.distance_m[i]
            pieces = [*parts, shapely.Point(snap.xy[i]).buffer(max(disc_r, 0.0))] if snap.xy is not None else parts
            poly = shapely.union_all(shapely.buffer(np.asarray(pieces, dtype=object), buffer_m))
            out_rows.append({"centre_id": snap.ids[i], "band": float(band),
                             "unit": "min" if weight == "time" else "m",
                             "area_km2": float(shapely.area(poly)) / 1e6, "geometry": poly})
    prog.update(1.0, "isochrones done")
    return gpd.GeoDataFrame(out_rows, geometry="geometry", crs=net.crs)


def _reachable(geoms: NDArray[Any], t: NDArray[np.int64], h: NDArray[np.int64], w: NDArray[np.float64],
               d: NDArray[np.float64], band: float) -> list[Any]:
    du = d[t]
    ok_u = np.isfinite(du) & (du <= band)
    full = ok_u & np.isfinite(d[h]) & (d[h] <= band)
    out = list(geoms[full])
    part = np.flatnonzero(ok_u & ~full & (w > 0))
    if len(part):
        frac = np.clip((band - du[part]) / w[part], 0.0, 1.0)
        for e, f in zip(part, frac):
            if f > 0:
                out.append(shapely.ops.substring(geoms[e], 0.0, float(f), normalized=True))
    return out
