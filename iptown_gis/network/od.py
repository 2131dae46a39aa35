"""Origin-destination cost matrices and iceberg transport costs.

:func:`od_matrix` runs three steps: snap the points to the network (:func:`snap_points`),
shortest-path costs between the snapped nodes (:func:`~iptown_gis.network.costs.node_costs`,
the package's one implementation: exact core graph, SciPy or the cached compiled Dijkstra,
in-process or on an executor), then combine them with the access legs. Unreachable pairs are
``NaN`` (never a magic number). ``tests/network/test_od.py`` checks the costs against plain
SciPy and NetworkX.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from iptown_gis.errors import ColumnError, ParameterError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.network.costs import CoreGraph, SearchPlan, core_graph, node_costs, plan_search
from iptown_gis.network.model import WEIGHT_UNITS, Network
from iptown_gis.network.snap import (
    DEFAULT_ACCESS_SPEED_KMH,
    DEFAULT_MAX_SNAP_DISTANCE,
    SnapResult,
    snap_points,
)
from iptown_gis.progress import Progress, ProgressCallback, as_progress

if TYPE_CHECKING:
    from iptown_gis.parallel.executor import DaskExecutor

# CoreGraph, SearchPlan, core_graph, node_costs and plan_search live in network.costs; they
# stay importable from here (their former home).
__all__ = ["CoreGraph", "ODMatrix", "SearchPlan", "core_graph", "iceberg", "node_costs", "od_matrix",
           "plan_search"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- OD matrix
@dataclass
class ODMatrix:
    """An origin-destination cost matrix.

    Attributes
    ----------
    values
        ``(n_origins, n_destinations)`` float64 costs; NaN = unreachable (or beyond cutoff).
    origin_ids, destination_ids
        Row and column ids.
    weight
        ``"length"``, ``"time"`` or a generalised-cost name.
    unit
        ``"m"`` for length, ``"min"`` for time.
    meta
        Snap distances and other provenance.
    """

    values: NDArray[np.float64]
    origin_ids: NDArray[Any]
    destination_ids: NDArray[Any]
    weight: str = "length"
    unit: str = "m"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    @property
    def n_unreachable(self) -> int:
        """Number of NaN (unreachable) pairs."""
        return int(np.isnan(self.values).sum())

    def to_long(self, *, dropna: bool = False) -> pd.DataFrame:
        """Long table ``origin_id, destination_id, cost`` (NaN cost = unreachable)."""
        no, nd = self.values.shape
        df = pd.DataFrame({
            "origin_id": np.repeat(self.origin_ids, nd),
            "destination_id": np.tile(self.destination_ids, no),
            "cost": self.values.ravel(),
        })
        return df.dropna(subset=["cost"]).reset_index(drop=True) if dropna else df

    def to_frame(self) -> pd.DataFrame:
        """Wide table: origins as rows, destinations as columns."""
        return pd.DataFrame(self.values, index=pd.Index(self.origin_ids, name="origin_id"),
                            columns=pd.Index(self.destination_ids, name="destination_id"))

    def to_csv(self, path: str | os.PathLike[str], *, dropna: bool = False) -> Path:
        """Write the long table as CSV (unreachable pairs have an empty cost)."""
        target = Path(path)
        with atomic_path(target) as tmp:
            self.to_long(dropna=dropna).to_csv(tmp, index=False, float_format="%.6f")
        return target

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write the long table as Parquet."""
        target = Path(path)
        with atomic_path(target) as tmp:
            self.to_long().to_parquet(tmp, index=False)
        return target

    def to_npz(self, path: str | os.PathLike[str]) -> Path:
        """Write the matrix with ids, weight and unit as a compressed ``.npz``."""
        target = Path(path)
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, values=self.values, origin_ids=_plain(self.origin_ids),
                                destination_ids=_plain(self.destination_ids),
                                weight=np.array(self.weight), unit=np.array(self.unit))
        return target

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str]) -> ODMatrix:
        """Read a matrix written by :meth:`to_npz`."""
        with np.load(path, allow_pickle=False) as z:
            return cls(values=z["values"], origin_ids=z["origin_ids"], destination_ids=z["destination_ids"],
                       weight=str(z["weight"]), unit=str(z["unit"]))

    def iceberg(self, *, tau: float, form: str = "exp") -> NDArray[np.float64]:
        """Iceberg factors of this matrix (see :func:`iceberg`)."""
        return iceberg(self.values, tau=tau, form=form)


def _plain(ids: Any) -> NDArray[Any]:
    """Ids as a non-object array (strings when they are objects) for ``.npz``."""
    a = np.asarray(ids)
    return a.astype(str) if a.dtype == object else a


def iceberg(cost: Any, *, tau: float, form: str = "exp") -> NDArray[np.float64]:
    """Iceberg transport-cost factors ``T >= 1`` for the NEG models.

    ``form="exp"``: ``T = exp(tau * cost)``; ``form="power"``: ``T = (1 + tau) ** cost``.
    ``T = 1`` where the cost is 0 (the diagonal); unreachable pairs (NaN cost) give
    ``T = inf``, i.e. no trade (freeness ``T**(1 - sigma) = 0``). Any shape; ``tau = 0`` gives
    ``T = 1`` (``inf`` where unreachable). :func:`iptown_gis.neg.trade_cost_matrix` is the NEG
    models' strict front to this function (square matrix, zero diagonal, no NaN, ``tau > 0``).

    Parameters
    ----------
    cost
        Costs (any shape; NaN = unreachable).
    tau
        Cost parameter (>= 0) per unit of ``cost``.
    form
        ``"exp"`` or ``"power"``.

    Raises
    ------
    ParameterError
        ``tau`` negative or not finite, negative costs, or an unknown ``form``.
    """
    if not (np.isfinite(tau) and tau >= 0):
        raise ParameterError(f"tau must be a finite number >= 0, got {tau}")
    c = np.asarray(cost, dtype=np.float64)
    if (c[~np.isnan(c)] < 0).any():
        raise ParameterError("costs must not be negative")
    c = np.where(np.isnan(c), np.inf, c)
    with np.errstate(over="ignore", invalid="ignore"):
        if form == "exp":
            t = np.exp(tau * c)
        elif form == "power":
            t = np.power(1.0 + tau, c)
        else:
            raise ParameterError(f"form must be 'exp' or 'power', got {form!r}")
    if tau == 0:
        t = np.where(np.isinf(c), np.inf, 1.0)
    return np.asarray(t, dtype=np.float64)


def _ids(points: gpd.GeoDataFrame, id_field: str | None, name: str) -> NDArray[Any]:
    if id_field is None:
        ids = points.index.to_numpy()
        label = "index"
    else:
        if id_field not in points.columns:
            have = ", ".join(str(c) for c in points.columns if c != points.geometry.name)
            raise ColumnError(f"{name}: no id column {id_field!r}; columns are: {have}")
        ids = points[id_field].to_numpy()
        label = f"column {id_field!r}"
        if pd.isna(points[id_field]).any():
            raise ColumnError(f"{name}: id {label} has {int(pd.isna(points[id_field]).sum())} empty value(s)")
    dup = pd.Series(ids).duplicated(keep=False)
    if dup.any():
        ex = sorted({str(v) for v in np.asarray(ids)[dup.to_numpy()]})[:5]
        raise ColumnError(
            f"{name}: id {label} has duplicates ({int(dup.sum())} rows, e.g. {', '.join(ex)}); "
            "ids must be unique: choose another --id-field"
        )
    return ids


def od_matrix(
    net: Network,
    origins: gpd.GeoDataFrame,
    destinations: gpd.GeoDataFrame | None = None,
    *,
    id_field: str | None = None,
    weight: str = "length",
    snap: str = "node",
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH,
    max_snap_distance: float = DEFAULT_MAX_SNAP_DISTANCE,
    drop_far: bool = False,
    cutoff: float | None = None,
    largest_component: bool = False,
    snap_to: str | None = None,
    method: str = "auto",
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> ODMatrix:
    """Origin-destination cost matrix between points, including both access legs.

    The cost of a pair is: straight access leg origin -> network, shortest path on the
    network, straight access leg network -> destination. For ``weight="length"`` legs count
    their length (metres); otherwise their time at ``access_speed_kmh`` (minutes). A point
    paired with itself (same location) costs 0.

    Parameters
    ----------
    net
        The network.
    origins
        Origin points (any CRS; transformed to the network's).
    destinations
        Destination points (default: the origins).
    id_field
        Column with unique ids (default: the index); the same column names both layers.
    weight
        ``"length"`` (m), ``"time"`` (min) or a generalised-cost name in ``net.edge_attrs``.
    snap
        ``"node"`` or ``"edge"`` (see :func:`~iptown_gis.network.snap.snap_points`).
    access_speed_kmh
        Speed on the access legs.
    max_snap_distance
        Points farther from the network are reported (:class:`NetworkError`).
    drop_far
        Drop such points instead (warning).
    cutoff
        Largest cost to compute; costlier pairs are NaN.
    largest_component
        Snap only to the largest connected component (recommended for messy data).
    snap_to
        Snap only to nodes of this mode (e.g. ``"road"`` in a road + rail network).
    method
        Shortest-path method (see :func:`~iptown_gis.network.costs.node_costs`); ``"overlay"``
        is the exact many-to-many method for large point sets (costs equal to 1e-15 relative).
    executor
        An executor (:func:`iptown_gis.parallel.dask_executor`): the shortest paths run there in
        batches of sources (identical costs). ``None``: in-process.
    progress
        Progress / cancellation callback.

    Returns
    -------
    ODMatrix

    Raises
    ------
    ColumnError
        Missing or duplicated ids.
    NetworkError
        Points too far from the network.
    ParameterError
        Unknown weight, bad cutoff or speed.
    """
    prog = as_progress(progress)
    if isinstance(weight, str) and weight not in ("length", "time") and weight not in net.edge_attrs:
        net.weight_array(weight)  # raises with the list of valid names
    prog.update(0.0, "snapping points")
    net, so, sd, k = _snap_both(net, origins, destinations, id_field=id_field, snap=snap,
                                access_speed_kmh=access_speed_kmh, max_snap_distance=max_snap_distance,
                                drop_far=drop_far, largest_component=largest_component, snap_to=snap_to)
    w = net.weight_array(weight)
    no_, oo, _ = so.candidates(net, w)
    nd_, _, di = sd.candidates(net, w)
    src_nodes = np.unique(no_[np.isfinite(oo)])
    tgt_nodes = np.unique(nd_[np.isfinite(di)])
    d = node_costs(net, src_nodes, weight=weight, cutoff=cutoff, targets=tgt_nodes, method=method,
                   executor=executor, progress=prog.sub(0.05, 0.95))
    vals = _combine(net, w, weight, so, sd, d, (no_, oo, src_nodes), (nd_, di, tgt_nodes), snap=snap,
                    cutoff=cutoff)
    prog.update(1.0, "OD matrix done")
    unit = WEIGHT_UNITS.get(weight, weight) if isinstance(weight, str) else "cost"
    od = ODMatrix(values=vals, origin_ids=so.ids, destination_ids=sd.ids, weight=str(weight), unit=unit,
                  meta={"snap": snap, "access_speed_kmh": access_speed_kmh,
                        "origin_snap_m": so.distance_m, "destination_snap_m": sd.distance_m,
                        "components": k})
    log.info("OD matrix %d x %d (%s, %s): %d unreachable pair(s)", *od.shape, weight, unit, od.n_unreachable)
    return od


def _snap_both(net: Network, origins: gpd.GeoDataFrame, destinations: gpd.GeoDataFrame | None, *,
               id_field: str | None, snap: str, access_speed_kmh: float, max_snap_distance: float,
               drop_far: bool, largest_component: bool,
               snap_to: str | None) -> tuple[Network, SnapResult, SnapResult, int]:
    """Step 1 of :func:`od_matrix`: ids checked, both point sets snapped (the network returned
    is the largest component when ``snap="edge"`` asks for it); the number of components."""
    same = destinations is None
    dest = origins if destinations is None else destinations
    o_ids = _ids(origins, id_field, "origins")
    d_ids = o_ids if same else _ids(dest, id_field, "destinations")
    k, lab = net.components()
    mask = None
    if largest_component and k > 1:
        if snap == "edge":
            net = net.largest_component()
            k, lab = 1, np.zeros(net.n_nodes, dtype=np.int32)
        else:
            mask = lab == 0
    if snap_to is not None:
        if snap == "edge":
            raise ParameterError("snap_to works with snap='node' only")
        modes = net.node_attrs.get("mode")
        if modes is None or not (modes == snap_to).any():
            raise ParameterError(f"snap_to={snap_to!r}: the network has no nodes of that mode")
        mask = (modes == snap_to) if mask is None else (mask & (modes == snap_to))
    kw: dict[str, Any] = {"snap": snap, "max_distance": max_snap_distance, "access_speed_kmh": access_speed_kmh,
                          "drop_far": drop_far}
    so = snap_points(net, origins, ids=o_ids, name="origins", node_mask=mask, **kw)
    sd = so if same else snap_points(net, dest, ids=d_ids, name="destinations", node_mask=mask, **kw)
    if k > 1:
        comp_o = lab[so.node]
        comp_d = lab[sd.node]
        off = np.r_[so.ids[comp_o != 0], sd.ids[comp_d != 0]] if not same else so.ids[comp_o != 0]
        if len(off):
            log.warning("network has %d components; %d point(s) snap outside the largest one (e.g. %s): their "
                        "pairs with the main component are NaN; use --largest-component (largest_component=True) "
                        "to snap them to it",
                        k, len(np.unique(off.astype(str))), ", ".join(map(str, off[:5])))
    return net, so, sd, k


def _combine(net: Network, w: NDArray[np.float64], weight: str, so: SnapResult, sd: SnapResult,
             d: NDArray[np.float64], origin_side: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]],
             destination_side: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]], *,
             snap: str, cutoff: float | None) -> NDArray[np.float64]:
    """Step 3 of :func:`od_matrix`: node costs plus both access legs, the cheapest candidate
    pair per point pair, along-edge shortcuts, zero for coincident points, NaN = unreachable.

    ``origin_side`` is ``(candidate nodes, leg costs, search sources)`` of the origins,
    ``destination_side`` the same for the destinations; ``d`` is sources x targets."""
    d = np.where(np.isnan(d), np.inf, d)
    no_, oo, src_nodes = origin_side
    nd_, di, tgt_nodes = destination_side
    si = np.minimum(np.searchsorted(src_nodes, no_), len(src_nodes) - 1)
    ti = np.minimum(np.searchsorted(tgt_nodes, nd_), len(tgt_nodes) - 1)
    best = np.full((len(so), len(sd)), np.inf)
    for a in range(2):
        fa = np.isfinite(oo[:, a])
        if not fa.any():
            continue
        for b in range(2):
            fb = np.isfinite(di[:, b])
            if not fb.any():
                continue
            part = d[np.ix_(si[:, a], ti[:, b])] + oo[:, a][:, None] + di[:, b][None, :]
            part[~fa] = np.inf
            part[:, ~fb] = np.inf
            np.minimum(best, part, out=best)
    if snap == "edge" and so.edge is not None and sd.edge is not None and so.fraction is not None \
            and sd.fraction is not None:
        best = _same_edge(net, w, so, sd, best)
    access = so.access(weight)[:, None] + sd.access(weight)[None, :]
    vals = best + access
    if so.xy is not None and sd.xy is not None:
        ident = (so.xy[:, None, 0] == sd.xy[None, :, 0]) & (so.xy[:, None, 1] == sd.xy[None, :, 1])
        vals[ident] = 0.0
    if cutoff is not None:
        vals[vals > cutoff] = np.inf
    vals[np.isinf(vals)] = np.nan
    return vals


def _same_edge(net: Network, w: NDArray[np.float64], so: SnapResult, sd: SnapResult,
               best: NDArray[np.float64]) -> NDArray[np.float64]:
    """Direct along-edge costs for origin / destination on the same physical edge."""
    if so.edge is None or sd.edge is None or so.fraction is None or sd.fraction is None \
            or so.twin is None:
        return best
    for i in range(len(so)):
        e, f = so.edge[i], so.fraction[i]
        tw = so.twin[i]
        for j in np.flatnonzero((sd.edge == e) | (sd.edge == tw) & (tw >= 0)):
            # express destination's position on edge e
            g = sd.fraction[j] if sd.edge[j] == e else 1.0 - sd.fraction[j]
            if g >= f:
                c = (g - f) * w[e]
            elif tw >= 0:
                c = (f - g) * w[tw]
            else:
                continue
            best[i, j] = min(best[i, j], c)
    return best
