"""Study-area builder: a grid around a site with per-district suitability from the other stages.

Factors per cell (raw values kept in the cell table, prefixed ``f_``):

* ``centre_time`` (minutes): network travel time to the town centre (the site) with
  access legs when a network is given; otherwise the straight-line distance at
  ``centre_speed_kmh`` (the documented fallback);
* ``access_time`` (minutes): travel time to the nearest rail access point (vertices of the
  railway lines near the site) on the network; fallback: straight-line distance to the
  nearest railway (or road) line at ``centre_speed_kmh``;
* ``market_potential``: the surfaces stage's ``market_potential`` raster sampled at the cell
  centres; fallback: Harris potential ``sum_j pop_j / max(d_ij, 1 km)`` of the seats;
* ``agglomeration``: the surfaces stage's ``kde`` raster; fallback: a quartic kernel density
  (bandwidth 5 km) of the places weighted by population;
* ``water_distance`` (metres): distance to rivers and lake shores;
* ``slope`` (degrees): from the DEM (finite differences in metres, bilinear sampling), **only
  when the DEM is fine enough for the cells**: its pixel (the longer side, in metres at the
  site) must not exceed the cell size (:data:`SLOPE_MAX_PIXEL_RATIO` x ``cell_size``). A
  coarser DEM (e.g. the sample's 0.2 degree, ~20 km, grid under 250 m cells) has no slope at
  the cells' scale: bilinear sampling would stretch one or two pixel differences over the whole
  study area and weigh noise. The factor is then left out of every recipe (the other weights
  are renormalised), ``f_slope`` is NaN, a warning is logged, and
  :attr:`StudyArea.sources` / :attr:`StudyArea.left_out` say why.

Each factor is transformed (``minmax``, ``cost`` = 1 - minmax, ``decay:S`` = exp(-v/S)) and
combined with the recipe's weights (normalised to sum to one) into ``suit_<zone>``.
Excluded: cells within ``water_buffer_m`` of a river or lake shore, inside a closed lake
shore, or inside the user mask; only the largest connected usable area is kept.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from iptown_gis.errors import GeometryError, IptownError, ParameterError
from iptown_gis.network.snap import SnapPolicy, snap_access
from iptown_gis.zoning.cells import CellSet, grid_cells

__all__ = ["SLOPE_MAX_PIXEL_RATIO", "StudyArea", "build_study_area", "combine_factors", "dem_pixel_m",
           "transform_factor"]

log = logging.getLogger(__name__)

#: Slope is used only from a DEM whose pixel is at most this many cell sizes.
SLOPE_MAX_PIXEL_RATIO = 1.0


@dataclass
class StudyArea:
    """The cells of a study area and where each factor came from."""

    cells: CellSet
    site: tuple[float, float]
    sources: dict[str, str] = field(default_factory=dict)
    #: Factors left out of the suitability (factor -> why), e.g. slope from a too coarse DEM.
    left_out: dict[str, str] = field(default_factory=dict)


def transform_factor(values: np.ndarray, how: str) -> np.ndarray:
    """Scale a factor to [0, 1]: ``minmax``, ``cost`` (1 - minmax) or ``decay:S``."""
    v = np.asarray(values, dtype="float64")
    if how.startswith("decay:"):
        scale = float(how.split(":", 1)[1])
        return np.exp(-np.maximum(v, 0.0) / scale)
    lo, hi = np.nanmin(v), np.nanmax(v)
    mm = np.zeros_like(v) if not hi > lo else (v - lo) / (hi - lo)
    if how == "minmax":
        return mm
    if how == "cost":
        return 1.0 - mm
    raise ParameterError(f"unknown transform {how!r}: use 'minmax', 'cost' or 'decay:SCALE'")


def combine_factors(factors: Mapping[str, np.ndarray], recipe: Mapping[str, float],
                    transforms: Mapping[str, str]) -> np.ndarray:
    """Weighted sum of transformed factors (weights normalised to sum to 1).

    Parameters
    ----------
    factors
        Factor name -> one value per cell.
    recipe
        Factor name -> weight (>= 0; at least one positive).
    transforms
        Factor name -> its transform (see :func:`transform_factor`).
    """
    tot = sum(recipe.values())
    if tot <= 0:
        raise ParameterError(f"recipe {dict(recipe)} has no positive weight")
    out = np.zeros(len(next(iter(factors.values()))))
    for f, w in recipe.items():
        if w:
            out += (w / tot) * transform_factor(factors[f], transforms[f])
    return out


def _sample_raster(path: Any, xy: np.ndarray, crs: Any) -> np.ndarray:
    import rasterio
    from pyproj import Transformer

    with rasterio.open(path) as src:
        tr = Transformer.from_crs(crs, src.crs, always_xy=True)
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        vals = np.array([v[0] for v in src.sample(zip(x, y), masked=True)], dtype="float64")
        nod = src.nodata
    if nod is not None:
        vals[vals == nod] = np.nan
    return vals


def _line_distance(lines: gpd.GeoDataFrame | None, pts: np.ndarray) -> np.ndarray | None:
    if lines is None or len(lines) == 0:
        return None
    geoms = lines.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    p = shapely.points(pts)
    _, dist = tree.query_nearest(p, return_distance=True, all_matches=False)
    return np.asarray(dist, dtype="float64")


def dem_pixel_m(dem_path: Any, site: tuple[float, float], crs: Any) -> tuple[float, float]:
    """The DEM's pixel size ``(x, y)`` in metres at ``site`` (metric x, y in ``crs``).

    A geographic DEM's degrees are converted at the site's latitude (111,320 m x cos(lat) per
    degree of longitude, 110,540 m per degree of latitude); a projected DEM's units by the
    CRS's linear unit factor.

    Parameters
    ----------
    dem_path
        The DEM raster (a path rasterio opens).
    site
        The site's metric coordinates in ``crs``.
    crs
        The metric CRS of ``site``.
    """
    import rasterio
    from pyproj import Transformer

    with rasterio.open(dem_path) as src:
        dx, dy = abs(src.transform.a), abs(src.transform.e)
        dcrs = src.crs
    if dcrs is None:
        raise GeometryError(f"DEM {dem_path}: no CRS; assign one (e.g. gdal_edit.py -a_srs)")
    if dcrs.is_geographic:
        _, lat = Transformer.from_crs(crs, dcrs, always_xy=True).transform(float(site[0]), float(site[1]))
        return dx * 111_320.0 * float(np.cos(np.deg2rad(lat))), dy * 110_540.0
    f = float(dcrs.linear_units_factor[1]) if dcrs.linear_units_factor else 1.0
    return dx * f, dy * f


def _slope(dem_path: Any, xy: np.ndarray, crs: Any) -> np.ndarray:
    """Slope in degrees from a DEM (any CRS), bilinear at the points."""
    import rasterio
    from pyproj import Transformer
    from scipy.ndimage import map_coordinates

    with rasterio.open(dem_path) as src:
        z = src.read(1, masked=True).astype("float64").filled(np.nan)
        t = src.transform
        dcrs = src.crs
    rows, cols = z.shape
    dx, dy = abs(t.a), abs(t.e)
    if dcrs.is_geographic:
        lat = t.f + (np.arange(rows) + 0.5) * t.e
        mx = dx * 111_320.0 * np.cos(np.deg2rad(lat))[:, None] * np.ones((1, cols))
        my = np.full((rows, cols), dy * 110_540.0)
    else:
        mx, my = np.full((rows, cols), dx), np.full((rows, cols), dy)
    zf = np.where(np.isfinite(z), z, np.nanmean(z))
    gy, gx = np.gradient(zf)
    slope = np.degrees(np.arctan(np.hypot(gx / mx, gy / my)))
    tr = Transformer.from_crs(crs, dcrs, always_xy=True)
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    inv = ~t
    c, r = inv * (np.asarray(x), np.asarray(y))
    return map_coordinates(slope, [np.asarray(r) - 0.5, np.asarray(c) - 0.5], order=1, mode="nearest")


def _network_times(net: Any, xy: np.ndarray, sources_xy: np.ndarray, crs: Any) -> np.ndarray:
    """Minutes from the nearest of ``sources_xy`` to each cell centre on the network."""
    from iptown_gis.network import node_costs

    # the network's snapping policy: road nodes (rail boarded at stations), 10 km access legs;
    # a NetworkError makes the caller fall back to straight-line times with a warning
    policy = SnapPolicy(key="[network] max_snap_distance (zoning falls back to straight lines)")
    cells = gpd.GeoDataFrame(geometry=shapely.points(xy), crs=crs)
    src = gpd.GeoDataFrame(geometry=shapely.points(sources_xy), crs=crs)
    sc = snap_access(net, cells, policy=policy, name="study-area cells")
    ss = snap_access(net, src, policy=dataclasses.replace(policy, far="drop"), name="access points")
    nodes = np.unique(np.asarray(ss.node))
    cost = node_costs(net, nodes, weight="time", targets=np.unique(np.asarray(sc.node)), method="plain")
    tg = np.unique(np.asarray(sc.node))
    # access time of each source node (minimum over its points)
    acc = pd.Series(np.asarray(ss.time_min)).groupby(np.asarray(ss.node)).min().reindex(nodes).to_numpy()
    best = np.nanmin(cost + acc[:, None], axis=0)
    lookup = dict(zip(tg.tolist(), best.tolist()))
    t = np.array([lookup[int(n)] for n in np.asarray(sc.node)]) + np.asarray(sc.time_min)
    if not np.isfinite(t).all():
        raise IptownError("some cells cannot reach the access points on the network")
    return t


def build_study_area(
    site: tuple[float, float],
    *,
    radius: float,
    cell_size: float,
    crs: Any,
    recipe: Mapping[str, Mapping[str, float]],
    transforms: Mapping[str, str],
    module_recipe: Mapping[str, Mapping[str, float]] | None = None,
    network: Any = None,
    surfaces: Mapping[str, Any] | None = None,
    seats: gpd.GeoDataFrame | None = None,
    places: gpd.GeoDataFrame | None = None,
    rivers: gpd.GeoDataFrame | None = None,
    lakes: gpd.GeoDataFrame | None = None,
    railways: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    dem: Any = None,
    mask: gpd.GeoDataFrame | None = None,
    water_buffer: float = 100.0,
    centre_speed_kmh: float = 30.0,
) -> StudyArea:
    """Grid cells within ``radius`` of ``site`` (metric x, y) with factors and suitability.

    All layers must be in the metric CRS ``crs``; any may be ``None`` (its factor falls back
    or is constant, recorded in :attr:`StudyArea.sources`).

    Parameters
    ----------
    site
        The town centre ``(x, y)`` in ``crs`` (metres).
    radius
        Radius of the study area in metres: cells whose centre lies within it are kept.
    cell_size
        Side of the square grid cells in metres.
    crs
        The metric CRS of the site, the layers and the cells.
    recipe
        District (``body``, ``wing_east``, ``wing_west``) -> factor -> weight; gives
        ``suit_<district>`` (weights normalised to sum to one).
    transforms
        Factor -> transform (``minmax``, ``cost``, ``decay:S``) applied before weighting.
    module_recipe
        Module -> factor -> weight, for ``suit_<module>`` (``None``: no module suitability).
    network
        Routable network for ``centre_time`` and ``access_time`` (``None``: straight-line
        distance at ``centre_speed_kmh``; also the fallback when routing fails).
    surfaces
        The surfaces stage's results; ``market_potential`` and ``kde`` entries with a raster
        ``path`` are sampled at the cell centres (``None``: the fallbacks).
    seats
        Region seats with ``pop_2020`` for the Harris market-potential fallback.
    places
        Places (optionally with ``population``) for the kernel-density agglomeration fallback.
    rivers, lakes
        Water lines / lake shores for ``water_distance`` and the exclusions; closed lake shores
        exclude the cells inside.
    railways
        Railway lines for ``access_time`` (rail access points near the site).
    roads
        Road lines, used for ``access_time`` when there is no railway layer.
    dem
        Elevation raster for ``slope`` (left out when coarser than the cells; ``None``: slope
        is constant).
    mask
        Polygons whose cells are excluded (``None``: none).
    water_buffer
        Cells within this many metres of a river or lake shore are excluded (default 100;
        0: none).
    centre_speed_kmh
        Speed in km/h of the straight-line fallbacks for the travel-time factors (default 30).

    Returns
    -------
    StudyArea
        The cells within the radius (exclusions and the cells outside the largest connected
        usable area in ``excluded``; factors ``f_*``, ``suit_*`` and ``dist_site_m`` in
        :attr:`CellSet.data`), the site, each factor's source and the factors left out.

    Raises
    ------
    ParameterError
        Radius smaller than a cell, or a grid of more than 250,000 cells.
    GeometryError
        No usable cell remains after the exclusions, or the DEM has no CRS.
    """
    if radius < cell_size:
        raise ParameterError(f"radius ({radius} m) must be at least one cell ({cell_size} m)")
    if (2 * radius / cell_size) ** 2 > 250_000 * 4 / np.pi:
        raise ParameterError("the study area would exceed 250,000 cells: enlarge cell_size or shrink radius")
    sx, sy = float(site[0]), float(site[1])
    r = radius
    bounds = (sx - r, sy - r, sx + r, sy + r)
    full = grid_cells(bounds, cell_size, crs=crs)
    inside = np.hypot(full.centroids[:, 0] - sx, full.centroids[:, 1] - sy) <= r
    cells, _ = full.subset(inside)
    xy = cells.centroids
    n = cells.n
    src: dict[str, str] = {}
    fac: dict[str, np.ndarray] = {}
    euclid_min = np.hypot(xy[:, 0] - sx, xy[:, 1] - sy) / (centre_speed_kmh * 1000.0 / 60.0)
    # centre travel time
    fac["centre_time"] = euclid_min
    src["centre_time"] = f"straight-line distance at {centre_speed_kmh:g} km/h (no network)"
    if network is not None:
        try:
            fac["centre_time"] = _network_times(network, xy, np.array([[sx, sy]]), crs)
            src["centre_time"] = "network travel time to the site"
        except IptownError as exc:
            log.warning("centre_time: network failed (%s); using straight-line distance", exc)
    # rail / expressway access
    access_lines = railways if railways is not None and len(railways) else roads
    d_access = _line_distance(access_lines, xy)
    if d_access is not None:
        fac["access_time"] = d_access / (centre_speed_kmh * 1000.0 / 60.0)
        src["access_time"] = "straight-line distance to the nearest railway line"
        if network is not None and railways is not None and len(railways):
            try:
                near = railways[railways.distance(shapely.Point(sx, sy)) <= r + 30_000]
                if len(near):
                    pts = shapely.get_coordinates(near.geometry.to_numpy())
                    pts = pts[np.argsort(np.hypot(pts[:, 0] - sx, pts[:, 1] - sy))[:40]]
                    fac["access_time"] = _network_times(network, xy, pts, crs)
                    src["access_time"] = "network travel time to the nearest rail access point"
            except IptownError as exc:
                log.warning("access_time: network failed (%s); using straight-line distance", exc)
    else:
        fac["access_time"] = np.zeros(n)
        src["access_time"] = "constant (no railway/road layer)"
    # market potential and agglomeration
    for name, sname in (("market_potential", "market_potential"), ("agglomeration", "kde")):
        val = None
        if surfaces is not None and isinstance(surfaces.get(sname), Mapping) and surfaces[sname].get("path"):
            try:
                val = _sample_raster(surfaces[sname]["path"], xy, crs)
                if np.isfinite(val).any():
                    val = np.where(np.isfinite(val), val, np.nanmin(val))
                    src[name] = f"surfaces stage raster {sname!r}"
                else:
                    val = None
            except Exception as exc:  # a raster that cannot be sampled: fall back
                log.warning("%s: cannot sample surfaces raster (%s); computing a fallback", name, exc)
                val = None
        if val is None:
            if name == "market_potential" and seats is not None and "pop_2020" in seats.columns:
                sxy = shapely.get_coordinates(seats.geometry.centroid.to_numpy())
                d = np.hypot(xy[:, None, 0] - sxy[None, :, 0], xy[:, None, 1] - sxy[None, :, 1])
                val = (seats["pop_2020"].to_numpy(dtype="float64")[None, :] / np.maximum(d, 1000.0)).sum(axis=1)
                src[name] = "Harris potential of the seats' population, 1/d (fallback)"
            elif name == "agglomeration" and places is not None and len(places):
                pxy = shapely.get_coordinates(places.geometry.centroid.to_numpy())
                wts = places["population"].to_numpy(dtype="float64") if "population" in places.columns \
                    else np.ones(len(places))
                h = 5000.0
                d2 = ((xy[:, None, :] - pxy[None, :, :]) ** 2).sum(axis=2) / h**2
                val = (np.where(d2 < 1, (1 - d2) ** 2, 0.0) * np.nan_to_num(wts)[None, :]).sum(axis=1)
                src[name] = "quartic KDE of places by population, bandwidth 5 km (fallback)"
            else:
                val = np.zeros(n)
                src[name] = "constant (no data)"
        fac[name] = val
    # water
    water = [g for g in (rivers, lakes) if g is not None and len(g)]
    wl = pd.concat(water, ignore_index=True) if water else None
    dw = _line_distance(wl, xy) if wl is not None else None
    if dw is None:
        fac["water_distance"] = np.full(n, 1e6)
        src["water_distance"] = "constant (no river/lake layer)"
    else:
        fac["water_distance"] = dw
        src["water_distance"] = "distance to rivers and lake shores"
    # slope: only from a DEM fine enough for the cells
    left_out: dict[str, str] = {}
    if dem is not None:
        px, py = dem_pixel_m(dem, (sx, sy), crs)
        if max(px, py) <= SLOPE_MAX_PIXEL_RATIO * cell_size + 1e-9:
            fac["slope"] = _slope(dem, xy, crs)
            src["slope"] = f"DEM slope, bilinear (pixel {px:.0f} x {py:.0f} m, cells {cell_size:g} m)"
        else:
            why = (f"DEM pixel {px:,.0f} x {py:,.0f} m is coarser than the {cell_size:g} m cells (slope needs "
                   f"a DEM pixel <= {SLOPE_MAX_PIXEL_RATIO * cell_size:g} m)")
            log.warning("slope left out of the suitability: %s; give a finer DEM (e.g. SRTM 30 m) as [zoning] "
                        "dem to use it", why)
            fac["slope"] = np.full(n, np.nan)
            src["slope"] = f"left out: {why}"
            left_out["slope"] = why
    else:
        fac["slope"] = np.zeros(n)
        src["slope"] = "constant (no DEM)"
    # exclusions
    excl = np.zeros(n, dtype=bool)
    pts = shapely.points(xy)
    if dw is not None and water_buffer > 0:
        excl |= dw <= water_buffer
    if lakes is not None and len(lakes):
        polys = shapely.polygonize(lakes.geometry.to_numpy())
        parts = shapely.get_parts(polys)
        if len(parts):
            inside_lake = shapely.STRtree(parts).query(pts, predicate="within")[0]
            excl[np.unique(inside_lake)] = True
    if mask is not None and len(mask):
        hit = shapely.STRtree(mask.geometry.to_numpy()).query(pts, predicate="intersects")[0]
        excl[np.unique(hit)] = True
    cells.excluded = excl
    if excl.all():
        raise GeometryError("every study-area cell is excluded (water or mask): move the site or shrink the mask")
    cells.keep_largest_component()
    data = {f"f_{k}": v for k, v in fac.items()}
    for zone, rec in [*recipe.items(), *(module_recipe or {}).items()]:
        kept = {f: w for f, w in rec.items() if f not in left_out}
        if rec and sum(rec.values()) > 0 and not sum(kept.values()) > 0:
            log.warning("suitability of %r: every weighted factor was left out (%s); it is 0 everywhere",
                        zone, ", ".join(sorted(left_out)))
            data[f"suit_{zone}"] = np.zeros(n)
            continue
        data[f"suit_{zone}"] = combine_factors(fac, kept, transforms)
    data["dist_site_m"] = np.hypot(xy[:, 0] - sx, xy[:, 1] - sy)
    cells.data = pd.DataFrame(data)
    log.info("study area: %d cells (%d excluded) of %g m around (%.0f, %.0f)", n, int(cells.excluded.sum()),
             cell_size, sx, sy)
    return StudyArea(cells=cells, site=(sx, sy), sources=src, left_out=left_out)
