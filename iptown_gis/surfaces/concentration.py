"""Concentration of a categorical activity: location quotient, Ellison-Glaeser, Duranton-Overman.

- :func:`activity_table`: employment (or counts) of each activity category per region, from
  establishment points and region polygons (or a region column).
- :func:`location_quotient`: ``LQ_rc = (E_rc / E_r) / (E_c / E)``.
- :func:`ellison_glaeser`: the Ellison-Glaeser (1997) index of each category across regions,
  ``gamma = (G - (1 - sum_r x_r^2) H) / ((1 - sum_r x_r^2)(1 - H))`` with
  ``G = sum_r (s_r - x_r)^2`` (``s_r`` the category's share in region r, ``x_r`` the region's
  share of all activity) and ``H`` the Herfindahl index of the category's establishment
  sizes; with ``group=`` it is computed within each larger region (e.g. per prefecture
  across its counties).
- :func:`k_density`: Duranton and Overman (2005) K-density of bilateral distances with Monte
  Carlo local and global confidence bands from counterfactuals drawn from all sites.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist

from iptown_gis.errors import ColumnError, GeometryError, ParameterError
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.surfaces._validate import point_xy, weights_from
from iptown_gis.surfaces.grid import check_same_crs

__all__ = ["KDensity", "activity_table", "ellison_glaeser", "k_density", "location_quotient"]

log = logging.getLogger(__name__)


def _need(df: pd.DataFrame, cols: list[str], name: str) -> None:
    miss = [c for c in cols if c not in df.columns]
    if miss:
        have = ", ".join(str(c) for c in df.columns if c != getattr(df, "_geometry_column_name", None))
        raise ColumnError(f"{name}: no column {', '.join(map(repr, miss))}; columns are: {have}")


def _assign_regions(
    points: gpd.GeoDataFrame, regions: gpd.GeoDataFrame | None, region: str, reproject: bool
) -> pd.DataFrame:
    if regions is None:
        _need(points, [region], "points")
        return pd.DataFrame(points.drop(columns=points.geometry.name, errors="ignore"))
    _need(regions, [region], "regions")
    pts = check_same_crs(regions.crs, points, name="points", reproject=reproject)
    pts = pts.drop(columns=[region], errors="ignore")
    joined = gpd.sjoin(pts, regions[[region, regions.geometry.name]], how="left", predicate="within")
    lost = joined[region].isna()
    if lost.any():
        log.warning("%d point(s) fall in no region and are left out", int(lost.sum()))
    joined = joined[~lost]
    return pd.DataFrame(joined.drop(columns=[joined.geometry.name, "index_right"], errors="ignore"))


def activity_table(
    points: gpd.GeoDataFrame | pd.DataFrame,
    *,
    category: str,
    region: str,
    regions: gpd.GeoDataFrame | None = None,
    weight: str | None = None,
    reproject: bool = False,
) -> pd.DataFrame:
    """Activity per region and category (regions as rows, categories as columns).

    Parameters
    ----------
    points
        Establishments (points) with a ``category`` column and, unless ``regions`` is given,
        a ``region`` column.
    category
        Column naming the activity (industry, IP type, ...).
    region
        Region id column (of ``points``, or of ``regions`` when given).
    regions
        Region polygons; points are assigned by a spatial join.
    weight
        Employment (or any size) column; ``None`` counts establishments.
    reproject
        Reproject ``points`` to the CRS of ``regions`` instead of raising :class:`CRSError`.
    """
    if regions is not None and isinstance(points, gpd.GeoDataFrame):
        df = _assign_regions(points, regions, region, reproject)
    else:
        _need(points, [region], "points")
        df = pd.DataFrame(points)
    _need(df, [category], "points")
    if df[category].isna().any() or df[region].isna().any():
        raise ColumnError(f"points: {category!r} or {region!r} has missing values; fill or drop them")
    w = weights_from(df, weight, name="points")
    tab = pd.DataFrame({"region": df[region].to_numpy(), "category": df[category].to_numpy(), "w": w})
    out = tab.pivot_table(index="region", columns="category", values="w", aggfunc="sum", fill_value=0.0)
    if regions is not None:
        out = out.reindex(regions[region].to_numpy(), fill_value=0.0)
    out.index.name = region
    out.columns.name = category
    return out.astype("float64")


def location_quotient(table: pd.DataFrame) -> pd.DataFrame:
    """Location quotients ``(E_rc / E_r) / (E_c / E)`` of a regions x categories table.

    Regions with no activity get NaN.

    Raises
    ------
    ColumnError
        Negative or NaN entries, or an empty table.
    """
    e = table.to_numpy(dtype="float64")
    if e.size == 0 or not np.all(np.isfinite(e)) or (e < 0).any():
        raise ColumnError("the activity table must be non-empty, finite and >= 0")
    total = e.sum()
    if total <= 0:
        raise ColumnError("the activity table is all zero")
    er = e.sum(axis=1, keepdims=True)
    ec = e.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        lq = (e / er) / (ec / total)
    return pd.DataFrame(lq, index=table.index, columns=table.columns)


def _eg_one(
    df: pd.DataFrame, category: str, region: str, w: np.ndarray
) -> pd.DataFrame:
    tab = pd.DataFrame({"r": df[region].to_numpy(), "c": df[category].to_numpy(), "w": w})
    reg_tot = tab.groupby("r")["w"].sum()
    x = reg_tot / reg_tot.sum()
    sum_x2 = float((x**2).sum())
    rows = []
    for cat, grp in tab.groupby("c", sort=True):
        e = grp["w"].to_numpy()
        tot = e.sum()
        n_plants = int((e > 0).sum())
        if tot <= 0 or n_plants < 2:
            rows.append({"category": cat, "n_establishments": n_plants, "G": np.nan, "H": np.nan,
                         "gamma": np.nan})
            continue
        s = grp.groupby("r")["w"].sum().reindex(x.index, fill_value=0.0) / tot
        g = float(((s - x) ** 2).sum())
        z = e / tot
        h = float((z**2).sum())
        den = (1.0 - sum_x2) * (1.0 - h)
        gamma = (g - (1.0 - sum_x2) * h) / den if den > 0 else np.nan
        rows.append({"category": cat, "n_establishments": n_plants, "G": g, "H": h, "gamma": gamma})
    return pd.DataFrame(rows)


def ellison_glaeser(
    points: gpd.GeoDataFrame | pd.DataFrame,
    *,
    category: str,
    region: str,
    regions: gpd.GeoDataFrame | None = None,
    weight: str | None = None,
    group: str | None = None,
    reproject: bool = False,
) -> pd.DataFrame:
    """Ellison-Glaeser index of each category across regions (optionally within groups).

    Parameters
    ----------
    points
        Establishments with ``category`` (and ``region`` unless ``regions`` is given).
    category, region, regions, weight
        As in :func:`activity_table`; ``weight`` is the establishment size (employment);
        without it every establishment has size 1 and ``H = 1 / N``.
    group
        A column of ``points`` (or of ``regions``) naming larger regions; the index is then
        computed per group across the regions inside it ("per region" indices).
    reproject
        As in :func:`activity_table`.

    Returns
    -------
    pandas.DataFrame
        ``[group,] category, n_establishments, G, H, gamma`` (NaN with fewer than 2
        establishments or a single region).

    Raises
    ------
    ColumnError, GeometryError
    """
    if regions is not None and isinstance(points, gpd.GeoDataFrame):
        if group is not None and group in regions.columns and group not in points.columns:
            df = _assign_regions(points, regions, region, reproject)
            df = df.merge(pd.DataFrame(regions[[region, group]]), on=region, how="left")
        else:
            df = _assign_regions(points, regions, region, reproject)
    else:
        df = pd.DataFrame(points)
    _need(df, [category, region] + ([group] if group else []), "points")
    if len(df) < 2:
        raise GeometryError(f"the Ellison-Glaeser index needs at least 2 establishments, got {len(df)}")
    w = weights_from(df, weight, name="points")
    if group is None:
        if df[region].nunique() < 2:
            raise GeometryError("the Ellison-Glaeser index needs at least 2 regions")
        return _eg_one(df, category, region, w)
    parts = []
    for gval, idx in df.groupby(group, sort=True).indices.items():
        sub = df.iloc[idx]
        if sub[region].nunique() < 2:
            continue
        res = _eg_one(sub, category, region, w[idx])
        res.insert(0, group, [gval] * len(res))
        parts.append(res)
    if not parts:
        raise GeometryError(f"no {group!r} group holds establishments in 2 or more regions")
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- K-density


@dataclass
class KDensity:
    """Result of :func:`k_density` (distances in metres, densities per metre)."""

    distance: np.ndarray
    k: np.ndarray
    local_lower: np.ndarray
    local_upper: np.ndarray
    global_lower: np.ndarray
    global_upper: np.ndarray
    bandwidth: float
    simulations: int
    n: int

    @property
    def localized(self) -> np.ndarray:
        """Distances where K exceeds the global upper band (significant localisation)."""
        return self.k > self.global_upper

    @property
    def dispersed(self) -> np.ndarray:
        """Distances where K is below the global lower band (and never above the upper one)."""
        return (self.k < self.global_lower) & ~self.localized.any()

    @property
    def localization_index(self) -> float:
        """DO's Gamma: area between K and the global upper band where K is above it (per metre)."""
        gap = np.maximum(self.k - self.global_upper, 0.0)
        return float(np.trapezoid(gap, self.distance))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"distance_m": self.distance, "k": self.k, "local_lower": self.local_lower,
                             "local_upper": self.local_upper, "global_lower": self.global_lower,
                             "global_upper": self.global_upper, "localized": self.localized})


def _silverman_1d(d: np.ndarray) -> float:
    sd = float(np.std(d, ddof=1))
    iqr = float(np.subtract(*np.percentile(d, [75, 25])))
    spread = min(sd, iqr / 1.34) if iqr > 0 else sd
    return 0.9 * spread * d.size ** -0.2


class _Binned:
    """Binned Gaussian KDE of pair distances, reflected at 0 (fixed bins, fixed bandwidth)."""

    def __init__(self, dist: np.ndarray, h: float, dmax_data: float) -> None:
        self.delta = h / 50.0
        self.nb = math.ceil(dmax_data / self.delta) + 1
        centres = (np.arange(self.nb) + 0.5) * self.delta
        z1 = (dist[:, None] - centres[None, :]) / h
        z2 = (dist[:, None] + centres[None, :]) / h
        self.kmat = (np.exp(-0.5 * z1 * z1) + np.exp(-0.5 * z2 * z2)) / (h * math.sqrt(2 * math.pi))

    def __call__(self, pairs: np.ndarray, wts: np.ndarray | None = None) -> np.ndarray:
        b = np.minimum((pairs / self.delta).astype(np.int64), self.nb - 1)
        counts = np.bincount(b, weights=wts, minlength=self.nb)
        total = counts.sum()
        return np.asarray(self.kmat @ counts / total)


def k_density(
    points: gpd.GeoDataFrame,
    reference: gpd.GeoDataFrame,
    *,
    max_distance: float | None = None,
    n_distances: int = 101,
    bandwidth: float | None = None,
    simulations: int = 1000,
    alpha: float = 0.05,
    seed: int | None = 20171,
    reproject: bool = False,
    progress: ProgressCallback | Progress | None = None,
) -> KDensity:
    """Duranton-Overman K-density of a point pattern with Monte Carlo confidence bands.

    ``K(d) = 1 / (n(n-1)/2 h) sum_{i<j} f((d - d_ij) / h)``, ``f`` Gaussian, reflected at 0,
    ``h`` by Silverman's rule on the pair distances. Counterfactuals draw ``n`` sites without
    replacement from ``reference`` (all sites of all activities) ``simulations`` times.
    Local bands are the ``alpha/2`` and ``1 - alpha/2`` quantiles at each distance; global
    bands are widened (DO 2005, sec. 4.2) until only ``alpha`` of the simulations cross the
    upper band anywhere on ``[0, max_distance]`` (and likewise for the lower band).

    Pair distances are binned on ``h / 50`` wide bins before smoothing (relative error
    below about 1e-4).

    Parameters
    ----------
    points
        The activity's sites (>= 3).
    reference
        Every candidate site (>= number of ``points``), e.g. all establishments.
    max_distance
        Largest distance evaluated; default the median pair distance of ``reference``
        (DO's choice).
    n_distances
        Number of distances from 0 to ``max_distance``.
    bandwidth
        Kernel bandwidth (metres); default Silverman's rule.
    simulations, alpha, seed
        Monte Carlo draws, band level, random seed.
    reproject
        Reproject ``reference`` to the CRS of ``points`` instead of raising :class:`CRSError`.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Raises
    ------
    GeometryError
        Fewer than 3 points, or fewer reference sites than points.
    ParameterError
        Bad ``simulations``/``alpha``/``max_distance``.
    """
    prog = as_progress(progress)
    if simulations < 19:
        raise ParameterError(f"simulations must be >= 19, got {simulations}")
    if not 0 < alpha < 0.5:
        raise ParameterError(f"alpha must be in (0, 0.5), got {alpha}")
    reference = check_same_crs(points.crs, reference, name="reference", reproject=reproject)
    px, py = point_xy(points, name="points", min_points=3)
    rx, ry = point_xy(reference, name="reference", min_points=3)
    n = px.size
    if rx.size < n:
        raise GeometryError(f"reference has {rx.size} sites, fewer than the {n} points: give all sites")
    obs = pdist(np.column_stack([px, py]))
    rng = np.random.default_rng(seed)
    if max_distance is None:
        ref_xy = np.column_stack([rx, ry])
        sample = ref_xy if rx.size <= 3000 else ref_xy[rng.choice(rx.size, 3000, replace=False)]
        max_distance = float(np.median(pdist(sample)))
    if not (max_distance > 0 and math.isfinite(max_distance)):
        raise ParameterError(f"max_distance must be > 0, got {max_distance}")
    h = float(bandwidth) if bandwidth is not None else _silverman_1d(obs)
    if not h > 0:
        raise GeometryError("all points coincide: the K-density is undefined")
    dgrid = np.linspace(0.0, max_distance, int(n_distances))
    span = float(np.hypot(np.ptp(rx), np.ptp(ry))) + 1.0
    kern = _Binned(dgrid, h, span)
    k_obs = kern(obs)
    sims = np.empty((simulations, dgrid.size))
    ref_xy = np.column_stack([rx, ry])
    for s in range(simulations):
        pick = rng.choice(rx.size, n, replace=False)
        sims[s] = kern(pdist(ref_xy[pick]))
        if s % 50 == 0:
            prog.update((s + 1) / simulations, "K-density simulations")
    lo_loc = np.quantile(sims, alpha / 2, axis=0)
    hi_loc = np.quantile(sims, 1 - alpha / 2, axis=0)
    hi_glob = _global_band(sims, alpha, upper=True)
    lo_glob = _global_band(sims, alpha, upper=False)
    return KDensity(distance=dgrid, k=k_obs, local_lower=lo_loc, local_upper=hi_loc,
                    global_lower=lo_glob, global_upper=hi_glob, bandwidth=h, simulations=simulations, n=n)


def _global_band(sims: np.ndarray, alpha: float, *, upper: bool) -> np.ndarray:
    """Band (a common local quantile level) crossed by at most ``alpha`` of simulations overall."""
    s = sims.shape[0]
    levels = np.linspace(1 - alpha, 1.0, 201) if upper else np.linspace(alpha, 0.0, 201)
    band = np.quantile(sims, levels[-1], axis=0)
    for lv in levels:
        b = np.quantile(sims, lv, axis=0)
        crossed = (sims > b).any(axis=1) if upper else (sims < b).any(axis=1)
        if crossed.sum() <= alpha * s:
            band = b
            break
    return np.asarray(band)


