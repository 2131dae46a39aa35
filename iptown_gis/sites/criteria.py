"""Per-candidate criteria from the earlier stages.

- rasters of the surfaces stage (market potential, NEG market access, KDE) sampled at the
  candidates (:func:`sample_raster`);
- Getis-Ord Gi* z-score, p-value and significance of the surfaces stage's ``hotspots`` layer,
  joined by location (:func:`hotspot_values`);
- network travel cost to named anchors (science centre, universities, IP court, rail
  stations), nearest or mean (:func:`access_costs`);
- NEG equilibrium share of the candidate's prefecture and its change under a policy scenario
  (:func:`neg_values`);
- any numeric column of the candidate layer.

:func:`compute_criteria` gathers them from a mapping ``{"neg": ..., "surfaces": ...}`` of the
earlier stages' results (the sites stage passes ``ctx.neg`` and ``ctx.surfaces``, which read as
such mappings); a criterion whose stage did not run is
skipped with a logged warning unless the scenario marks it ``required``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from iptown_gis.errors import (
    ColumnError,
    DataNotFoundError,
    DependencyError,
    NetworkError,
    ParameterError,
)
from iptown_gis.network.costs import node_costs
from iptown_gis.network.snap import SnapPolicy, snap_access
from iptown_gis.progress import Progress, ProgressCallback
from iptown_gis.sites._raster import as_raster
from iptown_gis.sites.candidates import SITE_ID

__all__ = [
    "AnchorLike",
    "CriteriaResult",
    "CriterionLike",
    "access_costs",
    "anchors_from_layer",
    "anchors_from_specs",
    "as_raster",
    "compute_criteria",
    "hotspot_values",
    "neg_values",
    "network_costs",
    "sample_raster",
    "select_anchors",
]

log = logging.getLogger(__name__)

_Z_COLUMNS = ("gi_z", "z", "z_score", "zscore", "gistar_z", "z_sim", "Zs")
_P_COLUMNS = ("gi_p", "p", "p_sim", "p_value", "p_norm", "p_z_sim", "p_fdr", "q")
_SIG_COLUMNS = ("hot_spot", "significant", "gi_significant", "hot", "hotspot", "sig")


class AnchorLike(Protocol):
    """A named anchor in WGS84, as :func:`anchors_from_specs` reads it.

    The ``[[sites.anchors]]`` entries of a scenario (``iptown_gis.sites.config.AnchorSpec``) are
    such objects; any object with these attributes will do.
    """

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...


class CriterionLike(Protocol):
    """One criterion, as :func:`compute_criteria` reads it (``iptown_gis.sites.config.CriterionSpec``
    is one): where its values come from (``source``) and the keys that source needs."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def direction(self) -> Literal["benefit", "cost"]: ...
    @property
    def weight(self) -> float: ...
    @property
    def column(self) -> str | None: ...
    @property
    def per(self) -> str | None: ...
    @property
    def anchors(self) -> Sequence[str]: ...
    @property
    def aggregate(self) -> str: ...
    @property
    def scenario(self) -> str | None: ...
    @property
    def transform(self) -> str: ...
    @property
    def required(self) -> bool: ...


# -- rasters ----------------------------------------------------------------------------------
def _xy_in(points: gpd.GeoDataFrame, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    pts = points.geometry
    if points.crs is not None and pyproj.CRS.from_user_input(points.crs) != pyproj.CRS.from_user_input(crs):
        pts = pts.to_crs(crs)
    return np.asarray(pts.x, dtype=float), np.asarray(pts.y, dtype=float)


def sample_raster(raster: Any, points: gpd.GeoDataFrame, *, name: str = "raster") -> np.ndarray:
    """Raster values at ``points`` (NaN outside the raster or on masked / nodata cells).

    Points are reprojected to the raster's CRS when they differ.

    Parameters
    ----------
    raster
        A :class:`~iptown_gis.surfaces.Surface`, an :class:`~iptown_gis.io.raster.Raster`, a
        GeoTIFF path, or a mapping with a ``surface`` / ``raster`` / ``path`` entry.
    points
        The points to sample (GeoDataFrame); the cell each point falls in is read.
    name
        The raster's name in error messages.

    Returns
    -------
    numpy.ndarray
        One float per point, in the order of ``points``.

    Raises
    ------
    ParameterError
        ``raster`` is none of the accepted kinds.
    """
    data, transform, crs = as_raster(raster, name=name)
    x, y = _xy_in(points, crs)
    col, row = (~transform) * (x, y)
    r = np.floor(np.asarray(row)).astype(np.int64)
    c = np.floor(np.asarray(col)).astype(np.int64)
    h, w = data.shape[-2:]
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    out = np.full(len(points), np.nan)
    vals: np.ndarray = np.ma.filled(np.ma.asarray(data, dtype=float), np.nan)
    out[inside] = vals[r[inside], c[inside]]
    return out


# -- hot spots --------------------------------------------------------------------------------
def _pick_column(gdf: pd.DataFrame, choices: Sequence[str], what: str, name: str) -> str:
    for c in choices:
        if c in gdf.columns:
            return c
    cols = ", ".join(str(c) for c in gdf.columns)
    raise ColumnError(f"{name}: no {what} column (looked for {', '.join(choices)}); columns are: {cols}")


def hotspot_values(
    hotspots: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    *,
    kind: str = "z",
    column: str | None = None,
    alpha: float = 0.05,
    name: str = "hotspots",
) -> np.ndarray:
    """Gi* statistics of the hot-spot feature each point falls in (polygons) or is nearest to.

    Parameters
    ----------
    hotspots
        The surfaces stage's hot-spot layer (grid cells or zones with a z-score and p-value).
    points
        Candidate points.
    kind
        ``"z"`` (z-score), ``"p"`` (pseudo p-value) or ``"significant"`` (1 for a hot spot with
        ``p <= alpha`` and ``z > 0``, else 0; a boolean column is used when present).
    column
        Use this column instead of guessing.
    alpha
        Significance level of ``kind="significant"``.
    name
        What to call the hot-spot layer in messages.

    Returns
    -------
    numpy.ndarray
        One value per point (NaN when a point falls in no polygon).
    """
    pts = points[[points.geometry.name]].copy()
    if hotspots.crs is not None and points.crs is not None and hotspots.crs != points.crs:
        pts = pts.to_crs(hotspots.crs)
    pts["_pos"] = np.arange(len(pts))
    polys = hotspots.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    hs = hotspots.reset_index(drop=True)
    if polys:
        j = gpd.sjoin(pts, hs[[hs.geometry.name]], how="left", predicate="within")
    else:
        j = gpd.sjoin_nearest(pts, hs[[hs.geometry.name]], how="left")
    j = j[~j["_pos"].duplicated()]
    idx = j["index_right"].to_numpy()
    has = ~pd.isna(idx)
    out = np.full(len(points), np.nan)
    pos = j["_pos"].to_numpy()[has]
    rows = idx[has].astype(np.int64)
    if kind == "z":
        col = column or _pick_column(hs, _Z_COLUMNS, "Gi* z-score", name)
        out[pos] = hs[col].to_numpy(dtype=float)[rows]
    elif kind == "p":
        col = column or _pick_column(hs, _P_COLUMNS, "Gi* p-value", name)
        out[pos] = hs[col].to_numpy(dtype=float)[rows]
    elif kind == "significant":
        sig_col = column or next((c for c in _SIG_COLUMNS if c in hs.columns), None)
        if sig_col is not None and hs[sig_col].dtype == bool:
            out[pos] = hs[sig_col].to_numpy(dtype=float)[rows]
        else:
            zc = _pick_column(hs, _Z_COLUMNS, "Gi* z-score", name)
            pc = _pick_column(hs, _P_COLUMNS, "Gi* p-value", name)
            z = hs[zc].to_numpy(dtype=float)[rows]
            p = hs[pc].to_numpy(dtype=float)[rows]
            out[pos] = ((p <= alpha) & (z > 0)).astype(float)
    else:
        raise ParameterError(f"hot-spot kind {kind!r}: use 'z', 'p' or 'significant'")
    return out


# -- anchors and network access ---------------------------------------------------------------
def anchors_from_specs(specs: Sequence[AnchorLike], *, crs: Any = None) -> gpd.GeoDataFrame:
    """Anchors given as WGS84 coordinates (``[[sites.anchors]]``) as points, in ``crs`` if given."""
    if not specs:
        raise DataNotFoundError("no anchors given: add [[sites.anchors]] entries or anchors_layer")
    gdf = gpd.GeoDataFrame(
        {"name": [a.name for a in specs], "kind": [a.kind for a in specs], "label": [a.label for a in specs]},
        geometry=gpd.points_from_xy([a.lon for a in specs], [a.lat for a in specs]),
        crs="EPSG:4326",
    )
    return gdf.to_crs(crs) if crs is not None else gdf


def anchors_from_layer(
    layer: gpd.GeoDataFrame, *, name_field: str = "name", kind_field: str | None = "kind"
) -> gpd.GeoDataFrame:
    """Anchors from a point layer with a name column (and optionally a kind column).

    Parameters
    ----------
    layer
        The anchor layer (GeoDataFrame); non-point geometries are replaced by a representative
        point. The CRS is kept.
    name_field
        The column holding each anchor's name (default ``"name"``).
    kind_field
        The column holding each anchor's kind (e.g. ``"university"``); ``None`` or a missing
        column: every anchor is of kind ``"anchor"``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``kind``, ``label`` (empty) and the points, in the layer's CRS.

    Raises
    ------
    DataNotFoundError
        The layer is empty.
    ColumnError
        ``name_field`` is not a column of the layer.
    """
    if len(layer) == 0:
        raise DataNotFoundError("the anchor layer is empty: give at least one anchor point")
    if name_field not in layer.columns:
        cols = ", ".join(str(c) for c in layer.columns if c != layer.geometry.name)
        raise ColumnError(f"anchor layer: no name column {name_field!r}; columns are: {cols}")
    kinds = layer[kind_field].astype(str) if kind_field and kind_field in layer.columns else "anchor"
    geom = layer.geometry
    if not geom.geom_type.isin(["Point"]).all():
        geom = geom.representative_point()
    return gpd.GeoDataFrame({"name": layer[name_field].astype(str).to_numpy(), "kind": kinds,
                             "label": ""}, geometry=geom.to_numpy(), crs=layer.crs)


def select_anchors(anchors: gpd.GeoDataFrame, names: Sequence[str]) -> gpd.GeoDataFrame:
    """Anchors whose name or kind is in ``names`` (``"*"`` = all).

    Raises
    ------
    DataNotFoundError
        A name matches no anchor name nor kind.
    """
    if "*" in names:
        return anchors
    keep = np.zeros(len(anchors), dtype=bool)
    for n in names:
        hit = (anchors["name"] == n).to_numpy() | (anchors["kind"] == n).to_numpy()
        if not hit.any():
            raise DataNotFoundError(
                f"no anchor named (or of kind) {n!r}; anchors: {', '.join(anchors['name'])}; "
                f"kinds: {', '.join(sorted(set(anchors['kind'])))}"
            )
        keep |= hit
    return anchors[keep]


def network_costs(
    network: Any,
    origins: gpd.GeoDataFrame,
    destinations: gpd.GeoDataFrame | None = None,
    *,
    weight: str = "time",
    origin_name: str = "candidates",
    destination_name: str = "destinations",
    max_snap_distance: float = 10_000.0,
    largest_component: bool = True,
    check_reach: bool = True,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
    snap_key: str = "[sites] max_snap_distance / sites select --max-snap",
) -> np.ndarray:
    """``(origins, destinations)`` network cost matrix (NaN = unreachable) with the network package.

    Points join the network under its one snapping policy
    (:class:`iptown_gis.network.SnapPolicy`): at road nodes (rail is boarded only at
    stations, with the transfer penalty), within ``max_snap_distance`` metres, else a
    :class:`NetworkError` naming ``snap_key``; ``largest_component`` snaps them to the largest
    connected part.
    ``executor`` (an :mod:`iptown_gis.parallel` Dask executor) runs the shortest paths on Dask
    (identical costs).

    Parameters
    ----------
    network
        The routable network (:func:`iptown_gis.network.build_network`).
    origins
        Origin points (GeoDataFrame); rows of the result, in this order.
    destinations
        Destination points (``None``: the origins themselves).
    weight
        ``"time"`` (minutes, default), ``"length"`` (metres) or a generalised-cost name of the
        network's edges.
    origin_name, destination_name
        What the points are, in error messages.
    max_snap_distance
        Largest distance in metres from a point to the network (default 10 km).
    largest_component
        Snap only to the largest connected component (default ``True``).
    check_reach
        Raise when an origin reaches no destination (default ``True``; ``False`` returns the
        matrix as computed).
    executor
        Dask executor for the shortest paths (``None``: in this process).
    progress
        Progress reporter or callback (``None``: silent).
    snap_key
        The setting named in the snapping error message.

    Returns
    -------
    numpy.ndarray
        ``(len(origins), len(destinations))`` costs in the unit of ``weight``; NaN = unreachable.

    Raises
    ------
    NetworkError
        An origin reaches none of the destinations (outside the network's reach).
    DependencyError
        The network package is not available.
    """
    try:
        from iptown_gis.network import od_matrix
    except ImportError as exc:
        raise DependencyError(f"network travel costs need iptown_gis.network.od_matrix ({exc})") from exc
    policy = SnapPolicy(max_distance=max_snap_distance, largest_component=largest_component, key=snap_key)
    for pts, label in ((origins, origin_name), (destinations, destination_name)):
        if pts is not None:  # the policy's check, with the scenario key in the message
            snap_access(network, pts, policy=policy, name=label)
    try:
        od = od_matrix(network, origins.reset_index(drop=True),
                       None if destinations is None else destinations.reset_index(drop=True),
                       weight=weight, max_snap_distance=max_snap_distance, largest_component=largest_component,
                       executor=executor, progress=progress)
    except NetworkError as exc:
        msg = str(exc)
        if msg.startswith("origins:"):
            msg = f"{origin_name}:" + msg[len("origins:"):]
        elif msg.startswith("destinations:"):
            msg = f"{destination_name}:" + msg[len("destinations:"):]
        raise NetworkError(msg) from None
    vals = np.asarray(od.values, dtype=float)
    if not check_reach:
        return vals
    if vals.shape[0] != len(origins):
        raise NetworkError(f"the cost matrix has {vals.shape[0]} rows for {len(origins)} {origin_name}")
    off_diag = vals.copy()
    if destinations is None and off_diag.shape[0] == off_diag.shape[1]:
        np.fill_diagonal(off_diag, np.nan)
    bad = ~np.isfinite(off_diag).any(axis=1) if off_diag.shape[1] > 1 or destinations is not None else None
    if bad is not None and bad.any():
        labels = origins[SITE_ID].to_numpy() if SITE_ID in origins.columns else np.arange(len(origins))
        ids = labels[bad][:10].tolist()
        raise NetworkError(
            f"{int(bad.sum())} of {len(origins)} {origin_name} are outside the network's reach (no route to "
            f"any destination), e.g. {ids}; remove them, extend the road layer, or check snapping"
        )
    return vals


def access_costs(
    network: Any,
    candidates: gpd.GeoDataFrame,
    anchors: gpd.GeoDataFrame,
    *,
    weight: str = "time",
    aggregate: str = "min",
    **kwargs: Any,
) -> np.ndarray:
    """Network cost from each candidate to the anchors: to the nearest (``min``) or ``mean``.

    ``kwargs`` go to :func:`network_costs` (``max_snap_distance``, ``largest_component``).

    Parameters
    ----------
    network
        The routable network.
    candidates
        The candidate sites (GeoDataFrame); one value per row.
    anchors
        The anchors (e.g. :func:`select_anchors`), transformed to the candidates' CRS.
    weight
        ``"time"`` (minutes, default), ``"length"`` (metres) or a generalised-cost name.
    aggregate
        ``"min"``: cost to the nearest anchor; ``"mean"``: mean cost over all anchors.
    **kwargs
        Further options of :func:`network_costs` (``max_snap_distance``,
        ``largest_component``, ``executor``, ``progress``, ``snap_key``).

    Returns
    -------
    numpy.ndarray
        One cost per candidate, in the unit of ``weight``.

    Raises
    ------
    NetworkError
        A candidate cannot reach any anchor (``min``) or some anchor (``mean``).
    DataNotFoundError
        ``anchors`` is empty.
    ParameterError
        ``aggregate`` is neither ``"min"`` nor ``"mean"``.
    """
    if len(anchors) == 0:
        raise DataNotFoundError("no anchors to measure access to")
    c = network_costs(network, candidates, anchors.to_crs(candidates.crs), weight=weight,
                      destination_name="anchors", **kwargs)
    if aggregate == "min":
        return np.asarray(np.nanmin(c, axis=1), dtype=float)
    if aggregate == "mean":
        bad = ~np.isfinite(c).all(axis=1)
        if bad.any():
            raise NetworkError(f"{int(bad.sum())} candidate(s) cannot reach every anchor; use aggregate = 'min'")
        return np.asarray(c.mean(axis=1), dtype=float)
    raise ParameterError(f"aggregate {aggregate!r}: use 'min' or 'mean'")


def has_stations(network: Any) -> bool:
    """Whether the network has road<->rail transfer edges (stations)."""
    return network.mode is not None and bool((np.asarray(network.mode) == "transfer").any())


def station_nodes(network: Any) -> np.ndarray:
    """Road nodes where the network's road<->rail transfers start (the stations' road side)."""
    tr = np.asarray(network.mode) == "transfer"
    ends = np.unique(np.r_[network.tails[tr], network.indices[tr]])
    node_mode = network.node_attrs.get("mode")
    if node_mode is not None:
        ends = ends[np.asarray(node_mode)[ends] == "road"]
    return np.asarray(ends, dtype=np.int64)


def station_access(
    network: Any,
    candidates: gpd.GeoDataFrame,
    *,
    weight: str = "time",
    max_snap_distance: float = 10_000.0,
    largest_component: bool = True,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
    snap_key: str = "[sites] max_snap_distance / sites select --max-snap",
) -> np.ndarray:
    """Network cost from each candidate to its nearest rail station (road<->rail transfer).

    The stations are the network's own transfer points (built from ``[network] stations``
    where a rail node lies within the transfer distance), so the criterion covers the whole
    province rather than a few hand-picked stations. Costs are to the station's road node
    (the transfer penalty is not added: it is the same at every station). Candidates join
    the network under :class:`iptown_gis.network.SnapPolicy` (road nodes, ``max_snap_distance``).

    Raises
    ------
    DataNotFoundError
        The network has no stations.
    NetworkError
        Candidates beyond ``max_snap_distance`` (message names ``snap_key``), or a candidate
        that reaches no station.
    """
    if not has_stations(network):
        raise DataNotFoundError("the network has no rail stations (road<->rail transfers): build it with "
                                "railways and stations ([network] railways, stations)")
    policy = SnapPolicy(max_distance=max_snap_distance, largest_component=largest_component, key=snap_key)
    snap = snap_access(network, candidates, policy=policy, name="candidates")
    stations = station_nodes(network)
    uniq, inv = np.unique(snap.node, return_inverse=True)
    c = node_costs(network, uniq, weight=weight, targets=stations, executor=executor, progress=progress)
    with np.errstate(all="ignore"):
        best = np.where(np.isfinite(c).any(axis=1), np.nanmin(np.where(np.isnan(c), np.inf, c), axis=1), np.nan)
    out = best[inv.ravel()] + snap.access(weight)
    bad = ~np.isfinite(out)
    if bad.any():
        labels = candidates[SITE_ID].to_numpy() if SITE_ID in candidates.columns else np.arange(len(candidates))
        raise NetworkError(f"{int(bad.sum())} candidate(s) reach no rail station over the network, e.g. "
                           f"{labels[bad][:10].tolist()}; extend the roads or drop the station_access criterion")
    log.info("station access: %d stations; median %.1f, max %.1f %s", len(stations), float(np.median(out)),
             float(out.max()), "min" if weight == "time" else weight)
    return np.asarray(out, dtype=float)


def _numeric_column(candidates: gpd.GeoDataFrame, col: str, *, missing: str, not_numeric: str) -> np.ndarray:
    """Column ``col`` of the candidates as floats; a :class:`ColumnError` (``missing`` + the
    columns there are, or ``not_numeric``) otherwise."""
    if col not in candidates.columns:
        cols = ", ".join(str(c) for c in candidates.columns if c != candidates.geometry.name)
        raise ColumnError(f"{missing}; columns are: {cols}")
    try:
        return pd.to_numeric(candidates[col], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ColumnError(not_numeric) from None


def _denominator(candidates: gpd.GeoDataFrame, name: str, per: str) -> np.ndarray:
    d = _numeric_column(candidates, per, missing=f"criterion {name!r}: per = {per!r}: candidates have no such column",
                        not_numeric=f"criterion {name!r}: per = {per!r} is not numeric")
    if not (d[np.isfinite(d)] > 0).all():
        raise ColumnError(f"criterion {name!r}: per = {per!r} must be > 0 (it divides the column)")
    return d


# -- NEG --------------------------------------------------------------------------------------
def _scenario_shares(scen: Any) -> np.ndarray:
    if isinstance(scen, Mapping):
        for key in ("shares", "lambda", "share"):
            if key in scen:
                return np.asarray(scen[key], dtype=float)
        raise ParameterError("a NEG scenario result needs a 'shares' entry")
    if hasattr(scen, "shares"):
        return np.asarray(scen.shares, dtype=float)
    return np.asarray(scen, dtype=float)


def neg_values(
    neg: Mapping[str, Any],
    region_of_site: Sequence[Any] | np.ndarray,
    *,
    scenario: str | None = None,
) -> np.ndarray:
    """NEG equilibrium share of each site's region, or its change under ``scenario``.

    Parameters
    ----------
    neg
        The NEG stage's results: ``region_ids``, ``shares`` and optionally ``scenarios``
        (name -> shares, or name -> mapping with ``shares``).
    region_of_site
        The region (prefecture adcode) of each candidate.
    scenario
        ``None`` for the equilibrium share; a scenario name for ``share(scenario) - share(base)``.

    Raises
    ------
    DataNotFoundError
        Unknown scenario name.
    ColumnError
        A candidate's region is not among the NEG regions.
    """
    ids = [str(v) for v in np.asarray(neg["region_ids"])]
    base = _scenario_shares(neg)
    if scenario is None:
        vals = base
    else:
        scens = neg.get("scenarios") or {}
        if scenario not in scens:
            raise DataNotFoundError(
                f"no NEG scenario {scenario!r}; scenarios: {', '.join(map(str, scens)) or 'none'}"
            )
        vals = _scenario_shares(scens[scenario]) - base
    lookup = dict(zip(ids, vals))
    keys = [str(_normalise_code(v)) for v in np.asarray(region_of_site)]
    missing = sorted({k for k in keys if k not in lookup})
    if missing:
        raise ColumnError(
            f"NEG results have no region {missing[:5]} (regions: {ids[:5]}...); check prefecture_field"
        )
    return np.array([lookup[k] for k in keys], dtype=float)


def _normalise_code(v: Any) -> Any:
    """Adcodes may arrive as 340100, 340100.0 or '340100'."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return int(v)
    return v


# -- all criteria -----------------------------------------------------------------------------
@dataclass
class CriteriaResult:
    """Raw criterion values per candidate, and what was skipped (and why)."""

    values: pd.DataFrame
    specs: list[CriterionLike]
    skipped: dict[str, str] = field(default_factory=dict)


def _surface(results: Mapping[str, Any], key: str) -> Any:
    surf = results.get("surfaces")
    if not isinstance(surf, Mapping):
        return None
    if key in surf:
        return surf[key]
    for sub in ("rasters", "paths", "surfaces"):
        inner = surf.get(sub)
        if isinstance(inner, Mapping) and key in inner:
            return inner[key]
    return None


def compute_criteria(
    candidates: gpd.GeoDataFrame,
    specs: Sequence[CriterionLike],
    *,
    results: Mapping[str, Any] | None = None,
    network: Any = None,
    anchors: gpd.GeoDataFrame | None = None,
    prefecture_field: str | None = None,
    cost: str = "time",
    alpha: float = 0.05,
    network_options: Mapping[str, Any] | None = None,
) -> CriteriaResult:
    """Compute every criterion in ``specs`` for ``candidates``.

    A criterion whose source is missing (its stage did not run, no network, no anchors) is
    skipped with a warning, unless its spec says ``required = true``, in which case the
    matching typed error is raised.

    Parameters
    ----------
    candidates
        The candidate sites (GeoDataFrame, metric CRS).
    specs
        The criteria (``[[sites.criteria]]``, or any :class:`CriterionLike`), computed in order.
    results
        The earlier stages' results by name (``"surfaces"``: rasters and ``hotspots``;
        ``"neg"``: shares by region); ``None``: none (their criteria are skipped).
    network
        The routable network for ``access`` and ``station_access`` criteria (``None``: those
        are skipped).
    anchors
        The anchors for ``access`` criteria (:func:`anchors_from_specs` /
        :func:`anchors_from_layer`).
    prefecture_field
        The candidates' column of prefecture adcodes, joined to the NEG regions for
        ``neg_share`` / ``neg_share_change``.
    cost
        Network weight of the access criteria: ``"time"`` (minutes, default) or ``"length"``
        (metres).
    alpha
        Significance level of ``gi_significant`` (default 0.05).
    network_options
        Further options of :func:`network_costs` for the access criteria
        (``max_snap_distance``, ``largest_component``, ...).

    Returns
    -------
    CriteriaResult
        ``values`` indexed like ``candidates`` with one column per computed criterion
        (transforms such as ``log1p`` applied).

    Raises
    ------
    DataNotFoundError
        A required criterion's stage did not run, or its anchors are missing.
    ColumnError
        A column criterion names a missing or non-numeric column.
    NetworkError
        Candidates outside the network's reach.
    ParameterError
        A ``neg_share_change`` criterion without ``scenario``.
    """
    res = results or {}
    values: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    kept: list[CriterionLike] = []

    def missing(spec: CriterionLike, why: str) -> None:
        if spec.required:
            raise DataNotFoundError(f"criterion {spec.name!r} (source = {spec.source!r}) is required but {why}")
        log.warning("criterion %r skipped: %s", spec.name, why)
        skipped[spec.name] = why

    access_cache: dict[tuple[str, ...] | str, np.ndarray] = {}
    for spec in specs:
        v: np.ndarray | None = None
        src = spec.source
        if src in ("market_potential", "neg_market_access", "kde"):
            r = _surface(res, src)
            if r is None:
                missing(spec, f"the surfaces stage produced no {src!r} raster")
                continue
            v = sample_raster(r, candidates, name=src)
        elif src in ("gi_z", "gi_p", "gi_significant"):
            hs = _surface(res, "hotspots")
            if hs is None:
                missing(spec, "the surfaces stage produced no 'hotspots' layer")
                continue
            kind = {"gi_z": "z", "gi_p": "p", "gi_significant": "significant"}[src]
            v = hotspot_values(hs, candidates, kind=kind, alpha=alpha)
        elif src == "access":
            if network is None:
                missing(spec, "there is no network (run the network stage or give --roads)")
                continue
            if anchors is None or len(anchors) == 0:
                missing(spec, "no anchors are given ([[sites.anchors]] or anchors_layer)")
                continue
            sel = select_anchors(anchors, spec.anchors)
            key = (spec.aggregate, *sorted(sel["name"]))
            if key not in access_cache:
                access_cache[key] = access_costs(network, candidates, sel, weight=cost, aggregate=spec.aggregate,
                                                  **dict(network_options or {}))
            v = access_cache[key]
        elif src == "station_access":
            if network is None:
                missing(spec, "there is no network (run the network stage or give --roads)")
                continue
            if not has_stations(network):
                missing(spec, "the network has no rail stations (build it with railways and stations)")
                continue
            if "stations" not in access_cache:
                access_cache["stations"] = station_access(network, candidates, weight=cost,
                                                          **dict(network_options or {}))
            v = access_cache["stations"]
        elif src in ("neg_share", "neg_share_change"):
            neg = res.get("neg")
            if not isinstance(neg, Mapping) or "shares" not in neg:
                missing(spec, "the NEG stage did not run")
                continue
            if prefecture_field is None or prefecture_field not in candidates.columns:
                raise ColumnError(
                    f"criterion {spec.name!r} joins NEG shares by prefecture: set prefecture_field to a "
                    f"candidate column holding prefecture adcodes (got {prefecture_field!r})"
                )
            if src == "neg_share_change" and not spec.scenario:
                raise ParameterError(f"criterion {spec.name!r}: source = 'neg_share_change' needs scenario = \"NAME\"")
            v = neg_values(neg, candidates[prefecture_field].to_numpy(),
                           scenario=spec.scenario if src == "neg_share_change" else None)
        elif src == "column":
            col = spec.column or ""
            v = _numeric_column(candidates, col, missing=f"criterion {spec.name!r}: candidates have no column {col!r}",
                                not_numeric=f"criterion {spec.name!r}: column {col!r} is not numeric")
            if spec.per is not None:
                v = v / _denominator(candidates, spec.name, spec.per)
        else:  # pragma: no cover - the config model restricts sources
            raise ParameterError(f"unknown criterion source {src!r}")
        if spec.transform == "log1p":
            if np.nanmin(v) <= -1:
                raise ColumnError(f"criterion {spec.name!r}: log1p needs values > -1")
            v = np.log1p(v)
        values[spec.name] = np.asarray(v, dtype=float)
        kept.append(spec)
    return CriteriaResult(values=pd.DataFrame(values, index=candidates.index), specs=kept, skipped=skipped)
