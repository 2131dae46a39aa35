"""Snapping points (origins, destinations, centres) to a network.

``snap="node"`` (default) joins each point to its nearest node; ``snap="edge"`` to the
nearest point on the nearest edge, from where both of the edge's end nodes can be reached
along the edge. The straight access leg from the point to the network is kept (metres, and
minutes at ``access_speed_kmh``) so that costs can include it. Points farther than
``max_distance`` from the network are reported in a :class:`NetworkError` listing them,
never silently snapped (``drop_far=True`` drops them with a warning instead).

**Where modes join.** In a road + rail network (built with ``railways`` and ``stations``)
the rail nodes are reachable only through the transfer edges at the stations, which carry
the boarding penalty. A point therefore joins the network at a *road* node (or road edge),
never directly at a rail node: a cell beside a railway but far from a station gets road
time. This is the one snapping policy of the package (:data:`ACCESS_MODES`,
:class:`SnapPolicy`, :func:`snap_access`); every stage that puts points on the network
(seat OD matrix, network market potential, site criteria, zoning travel times, isochrones)
calls it. ``modes=None`` lifts it (any node, the old behaviour) for networks whose modes
really are open everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from iptown_gis.crs.metric import require_crs
from iptown_gis.errors import CRSError, GeometryError, NetworkError, ParameterError
from iptown_gis.network.model import Network

__all__ = [
    "ACCESS_MODES",
    "DEFAULT_ACCESS_SPEED_KMH",
    "DEFAULT_MAX_SNAP_DISTANCE",
    "SnapPolicy",
    "SnapResult",
    "access_node_mask",
    "snap_access",
    "snap_points",
]

log = logging.getLogger(__name__)

#: Speed on the straight access leg between a point and the network (km/h; local streets).
DEFAULT_ACCESS_SPEED_KMH = 30.0
#: Points farther than this from the network (metres) are reported.
DEFAULT_MAX_SNAP_DISTANCE = 10_000.0
#: Modes a point may board directly; other modes (rail) only via the station transfers.
ACCESS_MODES: tuple[str, ...] = ("road",)


@dataclass
class SnapResult:
    """Where each point joins the network.

    Attributes
    ----------
    node
        Nearest node per point (for ``snap="edge"``: the nearer end of the edge).
    distance_m
        Straight access-leg length per point (metres).
    time_min
        Access-leg time per point at ``access_speed_kmh`` (minutes).
    ids
        The points' ids (as given).
    kept
        Positions (in the input) of the points kept (all unless ``drop_far``).
    snap
        ``"node"`` or ``"edge"``.
    edge, fraction
        For ``snap="edge"``: the directed edge the point lies on and the position along it
        (0 = tail, 1 = head); ``None`` for node snapping.
    twin
        For ``snap="edge"``: the reverse edge (head -> tail) or -1 for a one-way edge.
    access_speed_kmh
        Speed used for ``time_min``.
    """

    node: NDArray[np.int64]
    distance_m: NDArray[np.float64]
    time_min: NDArray[np.float64]
    ids: NDArray[Any]
    kept: NDArray[np.int64]
    snap: str = "node"
    edge: NDArray[np.int64] | None = None
    fraction: NDArray[np.float64] | None = None
    twin: NDArray[np.int64] | None = None
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH
    xy: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.node)

    def access(self, weight: str) -> NDArray[np.float64]:
        """Access-leg cost in the unit of ``weight`` (metres for length, minutes otherwise)."""
        return self.distance_m if weight == "length" else self.time_min

    def candidates(
        self, net: Network, w: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Candidate entry nodes per point: ``(nodes (n, 2), cost point->node, cost node->point)``.

        Along-edge costs use the edge cost array ``w``; a direction the edge does not allow
        costs ``inf``.
        """
        n = len(self.node)
        if self.snap == "node" or self.edge is None or self.fraction is None or self.twin is None:
            nodes = np.c_[self.node, self.node]
            z = np.zeros((n, 2))
            z[:, 1] = np.inf
            return nodes, z, z.copy()
        e, f, tw = self.edge, self.fraction, self.twin
        tail, head = net.tails[e], net.indices[e]
        we = w[e]
        wt = np.where(tw >= 0, w[np.maximum(tw, 0)], np.inf)
        nodes = np.c_[tail, head]
        # leaving the point: to head along e (1-f), to tail along twin (f of its length)
        out = np.c_[f * wt, (1.0 - f) * we]
        # arriving at the point: from tail along e (f), from head along twin (1-f)
        inn = np.c_[f * we, (1.0 - f) * wt]
        out[np.isnan(out)] = np.inf
        inn[np.isnan(inn)] = np.inf
        return nodes, out, inn


def access_node_mask(
    net: Network, *, modes: Sequence[str] | None = ACCESS_MODES, largest_component: bool = False
) -> NDArray[np.bool_] | None:
    """Nodes where a point may join the network, or ``None`` for every node.

    Parameters
    ----------
    net
        The network.
    modes
        Modes a point boards directly (default: roads). Nodes of other modes (rail) are
        reached only through the transfer edges at stations. ``None``: no restriction. A
        network without a node ``mode`` attribute (one mode) is not restricted.
    largest_component
        Also restrict to the largest connected component.

    Returns
    -------
    numpy.ndarray or None
        Boolean mask over the nodes; ``None`` when every node may be boarded.

    Raises
    ------
    NetworkError
        The network has no node of ``modes`` (in its largest component).
    """
    if isinstance(modes, str):
        modes = (modes,)
    mask: NDArray[np.bool_] | None = None
    if largest_component:
        k, lab = net.components()
        if k > 1:
            mask = lab == 0
    node_mode = net.node_attrs.get("mode")
    if modes is not None and node_mode is not None:
        want = np.isin(np.asarray(node_mode).astype(str), list(modes))
        if not want.any():
            have = ", ".join(sorted(set(np.asarray(node_mode).astype(str).tolist())))
            raise NetworkError(f"the network has no {'/'.join(modes)} nodes for points to join (its node modes: "
                               f"{have}); build it with roads, or snap with modes=None")
        if not want.all():
            mask = want if mask is None else (mask & want)
    if mask is not None and not mask.any():
        raise NetworkError(f"the network's largest component has no {'/'.join(modes or ('',))} node to join")
    return mask


def _access_edges(net: Network, modes: Sequence[str] | None) -> NDArray[np.int64] | None:
    """Edges a point may join by edge snapping (``None``: all)."""
    if modes is None or net.mode is None:
        return None
    want = np.isin(np.asarray(net.mode).astype(str), list(modes))
    if want.all():
        return None
    if not want.any():
        raise NetworkError(f"the network has no {'/'.join(modes)} edges for points to join; snap with modes=None")
    return np.flatnonzero(want).astype(np.int64)


@dataclass(frozen=True)
class SnapPolicy:
    """How the stages put points on the network: the package's one snapping policy.

    Attributes
    ----------
    max_distance
        Largest straight access leg (metres); farther points are an error or dropped.
    far
        ``"raise"`` (a :class:`NetworkError` listing the far points and naming ``key``) or
        ``"drop"`` (leave them out with a warning: a far grid cell gets no value, a far mass
        adds nothing).
    access_speed_kmh
        Speed on the access leg.
    largest_component
        Join only the largest connected component (no point stranded on an islet).
    modes
        Modes boarded directly (default roads: rail only at stations, with the transfer
        penalty); ``None`` for any node.
    key
        The scenario key or CLI flag that sets ``max_distance``, named in the error.
    """

    max_distance: float = DEFAULT_MAX_SNAP_DISTANCE
    far: Literal["raise", "drop"] = "raise"
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH
    largest_component: bool = True
    modes: tuple[str, ...] | None = ACCESS_MODES
    key: str = "max_snap_distance / --max-snap"

    def __post_init__(self) -> None:
        if not (self.max_distance > 0):
            raise ParameterError(f"{self.key}: the snap distance must be > 0 metres, got {self.max_distance}")
        if self.far not in ("raise", "drop"):
            raise ParameterError(f"far must be 'raise' or 'drop', got {self.far!r}")
        if not (np.isfinite(self.access_speed_kmh) and self.access_speed_kmh > 0):
            raise ParameterError(f"access_speed_kmh must be a positive speed in km/h, got {self.access_speed_kmh}")

    @classmethod
    def from_options(
        cls,
        *,
        max_distance: float | None = None,
        drop_far: bool = False,
        access_speed_kmh: float | None = None,
        largest_component: bool = True,
        source: str = "max_snap_distance / --max-snap",
        drop_source: str | None = None,
        speed_source: str = "access_speed_kmh",
    ) -> SnapPolicy:
        """The snapping policy from a front's options (scenario keys, CLI flags, tool parameters).

        The one constructor the fronts use, so that every front has the same defaults and the
        same messages; each message names the option the user set (``source``).

        Parameters
        ----------
        max_distance
            Largest straight access leg (metres); ``None``: :data:`DEFAULT_MAX_SNAP_DISTANCE`.
        drop_far
            Leave points beyond ``max_distance`` out (with a warning) instead of an error.
        access_speed_kmh
            Speed on the access leg (km/h); ``None``: :data:`DEFAULT_ACCESS_SPEED_KMH`.
        largest_component
            Join only the network's largest connected component.
        source
            The option that sets ``max_distance`` (scenario key, CLI flag or tool parameter),
            named in the errors, e.g. ``"[network] max_snap_distance"`` or ``"--max-snap"``.
        drop_source
            The option that sets ``drop_far``; when given, a far-point error also suggests it
            (``"--max-snap (or --drop-far)"``).
        speed_source
            The option that sets ``access_speed_kmh``, named in its error.

        Returns
        -------
        SnapPolicy

        Raises
        ------
        ParameterError
            ``max_distance`` is not a number > 0 metres, or ``access_speed_kmh`` is not a
            positive speed; the message names ``source`` (``speed_source``).
        """
        limit = DEFAULT_MAX_SNAP_DISTANCE if max_distance is None else _number(max_distance, source)
        speed = DEFAULT_ACCESS_SPEED_KMH if access_speed_kmh is None else _number(access_speed_kmh, speed_source)
        if not (limit > 0):
            raise ParameterError(f"{source}: the snap distance must be > 0 metres, got {max_distance}")
        if not (np.isfinite(speed) and speed > 0):
            raise ParameterError(f"{speed_source}: the access speed must be a positive speed in km/h, "
                                 f"got {access_speed_kmh}")
        key = source if drop_source is None else f"{source} (or {drop_source})"
        return cls(max_distance=limit, far="drop" if drop_far else "raise", access_speed_kmh=speed,
                   largest_component=largest_component, key=key)


def _number(value: Any, source: str) -> float:
    """``value`` as a float, or a :class:`ParameterError` naming ``source``."""
    if isinstance(value, bool):
        raise ParameterError(f"{source}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{source}: expected a number, got {value!r}") from None


def snap_access(
    net: Network,
    points: gpd.GeoDataFrame,
    *,
    policy: SnapPolicy | None = None,
    ids: Any = None,
    name: str = "points",
) -> SnapResult:
    """Snap points to their access nodes under ``policy`` (see :class:`SnapPolicy`).

    Node snapping to road nodes (rail boarded only at stations) of the largest component,
    access legs within ``policy.max_distance``. With ``policy.far == "drop"`` the result's
    ``kept`` lists the points that remain.

    Parameters
    ----------
    net
        The network.
    points
        Points (any CRS; transformed to the network's).
    policy
        The snapping policy (default :class:`SnapPolicy()`).
    ids
        Point ids for messages (default: the index).
    name
        What to call the points in messages.

    Returns
    -------
    SnapResult

    Raises
    ------
    NetworkError
        Points beyond ``policy.max_distance`` (``far="raise"``; the message names
        ``policy.key``), every point beyond it, or no road node to join.
    """
    pol = SnapPolicy() if policy is None else policy
    mask = access_node_mask(net, modes=pol.modes, largest_component=pol.largest_component)
    return snap_points(net, points, snap="node", max_distance=pol.max_distance,
                       access_speed_kmh=pol.access_speed_kmh, ids=ids, drop_far=pol.far == "drop",
                       node_mask=mask, modes=pol.modes, hint=pol.key, name=name)


def _point_xy(points: gpd.GeoDataFrame, net: Network, name: str) -> NDArray[np.float64]:
    if not isinstance(points, gpd.GeoDataFrame):
        raise TypeError(f"{name} should be a GeoDataFrame, got {type(points).__name__}")
    if len(points) == 0:
        raise GeometryError(f"{name} is empty: give at least one point")
    crs = require_crs(points, name=name)
    if crs != net.crs:
        try:
            points = points.to_crs(net.crs)
        except Exception as exc:
            raise CRSError(f"{name}: cannot transform from {crs.name} to the network CRS: {exc}") from exc
    geom = points.geometry
    if (geom.isna() | geom.is_empty).any():
        raise GeometryError(f"{name}: {int((geom.isna() | geom.is_empty).sum())} point(s) have no geometry")
    if set(geom.geom_type) - {"Point"}:
        geom = geom.representative_point()
    xy = shapely.get_coordinates(geom.to_numpy())
    if len(xy) != len(points) or not np.isfinite(xy).all():
        raise GeometryError(f"{name}: every feature needs one finite point (multi-points are not supported)")
    return xy


def snap_points(
    net: Network,
    points: gpd.GeoDataFrame,
    *,
    snap: str = "node",
    max_distance: float = DEFAULT_MAX_SNAP_DISTANCE,
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH,
    ids: Any = None,
    drop_far: bool = False,
    node_mask: NDArray[np.bool_] | None = None,
    modes: Sequence[str] | None = ACCESS_MODES,
    hint: str | None = None,
    name: str = "points",
) -> SnapResult:
    """Snap points to the network.

    Parameters
    ----------
    net
        The network.
    points
        Points (any CRS; transformed to the network's). Polygons use a point inside them.
    snap
        ``"node"`` (nearest node) or ``"edge"`` (nearest point on the nearest edge).
    max_distance
        Largest allowed access-leg length (metres).
    access_speed_kmh
        Speed on the access leg.
    ids
        Point ids for messages and results (default: the index).
    drop_far
        Drop points beyond ``max_distance`` (with a warning) instead of raising.
    node_mask
        Only snap to these nodes (e.g. the largest component); node snapping only.
    modes
        Modes a point may join directly (default :data:`ACCESS_MODES`: roads; rail is then
        reached only via the station transfer edges). ``None``: any node or edge. A network
        without modes (single-mode) is not restricted.
    hint
        How to raise the snap limit, named in the error (default: ``max_distance / --max-snap``);
        callers pass their scenario key or CLI flag.
    name
        What to call the points in messages.

    Returns
    -------
    SnapResult

    Raises
    ------
    NetworkError
        Points lie farther than ``max_distance`` from the network (listed with distances), or
        the network has no node of ``modes``.
    ParameterError
        Unknown ``snap``, non-positive access speed or negative ``max_distance``.
    CRSError, GeometryError
        The points have no CRS, are empty, or are not points.
    """
    if isinstance(modes, str):
        modes = (modes,)
    if snap not in ("node", "edge"):
        raise ParameterError(f"snap must be 'node' or 'edge', got {snap!r}")
    if not (np.isfinite(access_speed_kmh) and access_speed_kmh > 0):
        raise ParameterError(f"access_speed_kmh must be a positive speed in km/h, got {access_speed_kmh}")
    if not max_distance >= 0:
        raise ParameterError(f"max_distance must be >= 0 metres, got {max_distance}")
    xy = _point_xy(points, net, name)
    id_arr = np.asarray(points.index if ids is None else ids)
    if len(id_arr) != len(xy):
        raise ParameterError(f"{name}: {len(id_arr)} ids for {len(xy)} points")
    edge = frac = twin = None
    if snap == "node":
        board = access_node_mask(net, modes=modes)
        if board is not None:
            node_mask = board if node_mask is None else (np.asarray(node_mask, dtype=bool) & board)
        cand = np.arange(net.n_nodes) if node_mask is None else np.flatnonzero(node_mask)
        if len(cand) == 0:
            raise NetworkError(f"{name}: the network has no nodes to snap to"
                               f"{'' if modes is None else ' among its ' + '/'.join(modes) + ' nodes'}")
        key = ("kdtree", None if node_mask is None else hash(cand.tobytes()))
        tree = net._cache.get(key)
        if tree is None:
            tree = cKDTree(np.c_[net.x[cand], net.y[cand]])
            net._cache[key] = tree
        dist, i = tree.query(xy)
        node = cand[i].astype(np.int64)
    else:
        if node_mask is not None:
            raise ParameterError("node_mask works with snap='node' only")
        edge, frac, twin, dist, node = _snap_edges(net, xy, _access_edges(net, modes))
    far = dist > max_distance
    kept = np.arange(len(xy), dtype=np.int64)
    if far.any():
        minx, miny, maxx, maxy = net.extent
        outside = (xy[:, 0] < minx) | (xy[:, 0] > maxx) | (xy[:, 1] < miny) | (xy[:, 1] > maxy)
        listing = ", ".join(
            f"{id_arr[j]!s} ({dist[j] / 1000:.1f} km{', outside the network extent' if outside[j] else ''})"
            for j in np.flatnonzero(far)[:10]
        )
        more = f" and {int(far.sum()) - 10} more" if far.sum() > 10 else ""
        msg = (f"{name}: {int(far.sum())} of {len(xy)} point(s) lie farther than {max_distance:.0f} m from the "
               f"network{'' if modes is None else ' (' + '/'.join(modes) + ' nodes; rail is boarded at stations)'}: "
               f"{listing}{more}. Check their CRS / coordinates, extend the roads, or raise the "
               f"snap distance ({hint or 'max_distance / --max-snap'})")
        if not drop_far:
            raise NetworkError(msg)
        log.warning("%s; dropping them", msg)
        kept = np.flatnonzero(~far).astype(np.int64)
        if len(kept) == 0:
            raise NetworkError(f"{name}: no point lies within {max_distance:.0f} m of the network; raise the snap "
                               f"distance ({hint or 'max_distance / --max-snap'}) or check the CRS")
    log.info("%s: snapped %d point(s) to %ss; access legs median %.0f m, max %.0f m", name, len(kept), snap,
             float(np.median(dist[kept])), float(dist[kept].max()))
    speed = access_speed_kmh * 1000.0 / 60.0
    return SnapResult(
        node=node[kept], distance_m=dist[kept].astype(np.float64), time_min=dist[kept] / speed,
        ids=id_arr[kept], kept=kept, snap=snap,
        edge=None if edge is None else edge[kept], fraction=None if frac is None else frac[kept],
        twin=None if twin is None else twin[kept], access_speed_kmh=access_speed_kmh, xy=xy[kept],
    )


def _edge_geoms(net: Network) -> NDArray[Any]:
    if net.edge_geometry is not None:
        return net.edge_geometry
    if "edge_geoms" not in net._cache:
        t, h = net.tails, net.indices
        net._cache["edge_geoms"] = shapely.linestrings(
            np.stack([np.c_[net.x[t], net.y[t]], np.c_[net.x[h], net.y[h]]], axis=1))
    out: NDArray[Any] = net._cache["edge_geoms"]
    return out


def _snap_edges(
    net: Network, xy: NDArray[np.float64], subset: NDArray[np.int64] | None = None
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    geoms = _edge_geoms(net)
    key = ("strtree", None if subset is None else hash(subset.tobytes()))
    if key not in net._cache:
        net._cache[key] = shapely.STRtree(geoms if subset is None else geoms[subset])
    tree: shapely.STRtree = net._cache[key]
    pts = shapely.points(xy)
    (pi, ei), dist_all = tree.query_nearest(pts, return_distance=True, all_matches=False)
    edge = np.empty(len(xy), dtype=np.int64)
    dist = np.empty(len(xy))
    edge[pi] = ei if subset is None else subset[ei]
    dist[pi] = dist_all
    frac = shapely.line_locate_point(geoms[edge], pts, normalized=True)
    frac = np.nan_to_num(frac, nan=0.0)
    t, h = net.tails[edge], net.indices[edge]
    # reverse twin: an edge head -> tail of the same length
    n = net.n_nodes
    keys = net.tails * n + net.indices
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    twin = np.full(len(xy), -1, dtype=np.int64)
    for j in range(len(xy)):
        k = h[j] * n + t[j]
        lo, hi = np.searchsorted(sk, [k, k + 1])
        for cand in order[lo:hi]:
            if abs(net.length_m[cand] - net.length_m[edge[j]]) <= 1e-6 * max(1.0, net.length_m[edge[j]]):
                twin[j] = cand
                break
    node = np.where(frac <= 0.5, t, h).astype(np.int64)
    return edge, frac, twin, dist, node

