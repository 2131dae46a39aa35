"""Market potential: Harris potential, NEG market access, and all-cells potential by FFT.

Harris (1954) market potential of a place *i* from masses *M_j* at distances *d_ij*::

    MP_i = sum_j M_j * f(d_ij),   f(d) = d^-beta  ("power:BETA")  or  exp(-d / d0)  ("exp:D0")

NEG (real) market access (Redding and Venables 2004; Fujita, Krugman and Venables 1999)::

    MA_i = sum_j Y_j * G_j^(sigma - 1) * T_ij^(1 - sigma),   T_ij = exp(tau * t_ij)

Distances are in metres from the cell centre to the mass point: straight lines
(``mode="euclidean"``) or over a road network (``mode="network"``: the cell centre is snapped
to its nearest road node, the straight access leg is added, then the shortest-path cost
to the node of each mass plus that mass's own access leg). Snapping follows the network
package's one policy (:class:`iptown_gis.network.SnapPolicy`): rail is boarded only at
stations, with the transfer penalty; access legs longer than the snap limit (10 km unless
set) are an error, or dropped with ``far="drop"``.

**Minimum distance.** A mass in (or next to) a cell would give an infinite or absurd power
potential, so every distance below ``min_distance`` is raised to it. The default is half the
cell size, the mean distance from a cell's centre to its edge; it is recorded in the
GeoTIFF tags. (For zone-level data the Keeble internal distance ``(2/3) sqrt(area/pi)`` is
the usual alternative: pass it as ``min_distance``.)

**All cells on all cells.** :func:`potential_fft` computes the potential of a whole raster of
masses on itself (every cell to every cell) as one circular convolution with the distance
kernel, by real FFTs padded to avoid wrap-around: ``O(N log N)`` instead of the ``O(N^2)``
of :func:`potential_direct`, with the same result to rounding error.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np

from iptown_gis.errors import ColumnError, ParameterError
from iptown_gis.network.model import Network
from iptown_gis.network.snap import DEFAULT_MAX_SNAP_DISTANCE, SnapPolicy
from iptown_gis.parallel.executor import Executor
from iptown_gis.progress import Progress, ProgressCallback, as_progress
from iptown_gis.surfaces._validate import point_xy, positive, weights_from
from iptown_gis.surfaces.grid import Grid, Surface, check_same_crs
from iptown_gis.surfaces.tiles import TileSpec, tile_centres, tile_fill, tile_values, write_tiles

__all__ = [
    "Decay",
    "market_access",
    "market_potential",
    "market_potential_tiled",
    "market_potential_to_tiff",
    "network_distances",
    "parse_decay",
    "potential_at",
    "potential_cells",
    "potential_direct",
    "potential_fft",
    "raster_potential",
    "rasterize_masses",
]

log = logging.getLogger(__name__)

Mode = Literal["euclidean", "network"]

#: Target number of float64 elements in one chunk of a cells x masses matrix (~32 MB).
CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Decay:
    """Distance decay ``f(d)``: ``power`` gives ``d^-param``, ``exp`` gives ``exp(-d / param)``.

    Parameters
    ----------
    kind
        ``"power"`` (``param`` = beta > 0) or ``"exp"`` (``param`` = d0 > 0, in the cost's
        unit: metres for distances).
    param
        The exponent beta or the distance scale d0.
    """

    kind: Literal["power", "exp"]
    param: float

    def __post_init__(self) -> None:
        if self.kind not in ("power", "exp"):
            raise ParameterError(f"decay kind must be 'power' or 'exp', got {self.kind!r}")
        if not (math.isfinite(self.param) and self.param > 0):
            what = "beta" if self.kind == "power" else "d0"
            raise ParameterError(f"decay {self.kind}: {what} must be > 0, got {self.param:g}")

    def __call__(self, d: np.ndarray) -> np.ndarray:
        """Weights ``f(d)`` for distances ``d`` (already clamped to the minimum)."""
        d = np.asarray(d, dtype="float64")
        if self.kind == "power":
            if self.param == 1.0:
                return 1.0 / d
            if self.param == 2.0:
                return 1.0 / (d * d)
            return np.power(d, -self.param)
        return np.exp(-d / self.param)

    def __str__(self) -> str:
        return f"{self.kind}:{self.param:g}"


def parse_decay(spec: str | Decay) -> Decay:
    """Parse ``"power:BETA"`` or ``"exp:D0"`` (``D0`` in metres) into a :class:`Decay`.

    Raises
    ------
    ParameterError
        Unknown form or a non-positive parameter.
    """
    if isinstance(spec, Decay):
        return spec
    text = str(spec).strip().lower()
    kind, sep, value = text.partition(":")
    kind = {"pow": "power", "power": "power", "exp": "exp", "exponential": "exp"}.get(kind, kind)
    if not sep or kind not in ("power", "exp"):
        raise ParameterError(
            f"cannot read decay {spec!r}: write 'power:BETA' (M / d^BETA) or 'exp:D0' "
            "(M * exp(-d / D0), D0 in metres), e.g. 'power:1' or 'exp:50000'"
        )
    try:
        param = float(value)
    except ValueError:
        raise ParameterError(f"cannot read decay {spec!r}: {value!r} is not a number") from None
    return Decay(kind, param)  # type: ignore[arg-type]


def _min_distance(min_distance: float | None, cell: float | None) -> float:
    if min_distance is None:
        return 0.5 * cell if cell else 0.0
    positive(min_distance, "min_distance", allow_zero=True)
    return float(min_distance)


# --------------------------------------------------------------------------- point potentials


def potential_at(
    x: np.ndarray,
    y: np.ndarray,
    mass_x: np.ndarray,
    mass_y: np.ndarray,
    mass: np.ndarray,
    *,
    decay: str | Decay,
    min_distance: float = 0.0,
    progress: ProgressCallback | Progress | None = None,
) -> np.ndarray:
    """Euclidean Harris potential at points ``(x, y)`` from masses at ``(mass_x, mass_y)``.

    Vectorised in chunks of targets (memory stays near :data:`CHUNK_ELEMENTS` floats).

    Parameters
    ----------
    x, y
        Target coordinates (metres).
    mass_x, mass_y, mass
        Mass coordinates and values (``mass >= 0``).
    decay
        ``"power:BETA"``, ``"exp:D0"`` or a :class:`Decay`.
    min_distance
        Distances below it are raised to it (metres). Must be > 0 for power decay when a
        target can coincide with a mass.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Returns
    -------
    numpy.ndarray
        ``MP_i = sum_j mass_j f(max(d_ij, min_distance))`` for each target.
    """
    dec = parse_decay(decay)
    prog = as_progress(progress)
    tx = np.asarray(x, dtype="float64").ravel()
    ty = np.asarray(y, dtype="float64").ravel()
    mx = np.asarray(mass_x, dtype="float64").ravel()
    my = np.asarray(mass_y, dtype="float64").ravel()
    m = np.asarray(mass, dtype="float64").ravel()
    if not (mx.shape == my.shape == m.shape):
        raise ParameterError("mass_x, mass_y and mass must have the same length")
    out = np.zeros(tx.shape[0], dtype="float64")
    if m.size == 0 or tx.size == 0:
        return out
    step = max(CHUNK_ELEMENTS // m.size, 1)
    n_chunks = (tx.size + step - 1) // step
    for c, s in enumerate(range(0, tx.size, step)):
        d = np.hypot(tx[s:s + step, None] - mx[None, :], ty[s:s + step, None] - my[None, :])
        np.maximum(d, min_distance, out=d)
        if dec.kind == "power" and min_distance <= 0 and not np.all(d > 0):
            raise ParameterError(
                "a target coincides with a mass and min_distance is 0: power decay would be infinite; "
                "give min_distance > 0"
            )
        out[s:s + step] = dec(d) @ m
        if c % 16 == 0:
            prog.update((c + 1) / n_chunks, "potential")
    return out


def _potential_from_costs(cost: np.ndarray, mass: np.ndarray, dec: Decay, min_distance: float) -> np.ndarray:
    """``sum_j mass_j f(max(cost_ij, min))`` with NaN (unreachable) contributing nothing."""
    d = np.maximum(cost, min_distance)
    with np.errstate(divide="ignore", over="ignore"):
        w = dec(np.where(np.isnan(d), np.inf, d))  # unreachable: f(inf) = 0
    w = np.where(np.isfinite(w), w, 0.0)
    return w @ mass


# --------------------------------------------------------------------------- network mode


def network_distances(
    network: Network,
    x: np.ndarray,
    y: np.ndarray,
    mass_x: np.ndarray,
    mass_y: np.ndarray,
    *,
    crs: Any,
    cost: Literal["length", "time"] = "length",
    access_speed_kmh: float = 30.0,
    max_snap_distance: float | None = None,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
    snap_policy: SnapPolicy | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Network cost pieces for targets and masses.

    Returns ``(target_access, mass_access, node_cost)`` where the cost from target *i* to mass
    *j* is ``target_access[i] + node_cost[j, target_node[i]] + mass_access[j]``; to save memory
    ``node_cost`` is already gathered per target: shape ``(n_masses, n_targets)``.

    Costs are metres (``cost="length"``) or minutes (``cost="time"``; access legs at
    ``access_speed_kmh``). Unreachable pairs are NaN. With an :mod:`iptown_gis.parallel`
    ``executor`` the shortest paths run on Dask in batches of masses (identical costs).

    Cells and masses join the network under the package's snapping policy
    (:class:`iptown_gis.network.SnapPolicy`, ``snap_policy``; default: road nodes of the
    largest component, rail boarded only at stations, access legs up to ``max_snap_distance``
    or 10 km). With ``far="drop"`` a far cell gets NaN costs (no value) and a far mass NaN
    access (it adds nothing).

    Parameters
    ----------
    network
        A built :class:`iptown_gis.network.Network`.
    x, y
        Target (cell centre) coordinates in ``crs``.
    mass_x, mass_y
        Mass coordinates in ``crs``.
    crs
        The CRS of the coordinates.
    cost
        ``"length"`` (metres) or ``"time"`` (minutes).
    access_speed_kmh
        Speed on the access legs (overrides the policy's).
    max_snap_distance
        Access-leg limit (metres) when no ``snap_policy`` is given (default 10 km).
    executor
        An :mod:`iptown_gis.parallel` executor for the shortest paths; ``None``: in-process.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.
    snap_policy
        The snapping policy (:class:`iptown_gis.network.SnapPolicy`).
    """
    from iptown_gis import network as nw

    prog = as_progress(progress)
    tgt = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=crs)
    src = gpd.GeoDataFrame(geometry=gpd.points_from_xy(mass_x, mass_y), crs=crs)
    pol = snap_policy if snap_policy is not None else SnapPolicy(
        max_distance=DEFAULT_MAX_SNAP_DISTANCE if max_snap_distance is None else float(max_snap_distance))
    if pol.access_speed_kmh != access_speed_kmh:
        pol = dataclasses.replace(pol, access_speed_kmh=access_speed_kmh)
    prog.update(0.0, "snapping cells to the network")
    t_snap = nw.snap_access(network, tgt, policy=pol, name="grid cells")
    m_snap = nw.snap_access(network, src, policy=pol, name="masses")
    prog.update(0.2, "shortest paths from the masses")
    uniq, inv = np.unique(t_snap.node, return_inverse=True)
    costs = np.asarray(nw.node_costs(network, m_snap.node, weight=cost, targets=uniq, executor=executor),
                       dtype="float64")
    t_acc = np.full(x.size, np.nan)
    m_acc = np.full(np.size(mass_x), np.nan)
    t_acc[t_snap.kept] = t_snap.distance_m if cost == "length" else t_snap.time_min
    m_acc[m_snap.kept] = m_snap.distance_m if cost == "length" else m_snap.time_min
    node_cost = np.full((m_acc.size, t_acc.size), np.nan)
    node_cost[np.ix_(m_snap.kept, t_snap.kept)] = costs[:, inv.ravel()]
    prog.update(1.0, "network costs")
    return t_acc, m_acc, node_cost


def _load_network(roads: gpd.GeoDataFrame | None, network: Network | None, crs: Any, reproject: bool) -> Network:
    if network is not None:
        return network
    if roads is None:
        raise ParameterError("mode='network' needs a network or a roads layer (--roads FILE[:LAYER])")
    from iptown_gis import network as nw

    roads = check_same_crs(crs, roads, name="roads", reproject=reproject)
    return nw.build_network(roads, crs=crs)


# --------------------------------------------------------------------------- grid potentials


def _masses(
    grid: Grid, masses: gpd.GeoDataFrame, mass_field: str | None, *, reproject: bool, name: str = "masses",
    values: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    masses = check_same_crs(grid.crs, masses, name=name, reproject=reproject)
    mx, my = point_xy(masses, name=name)
    if values is None:
        m = weights_from(masses, mass_field, name=name)
    else:
        m = np.asarray(values, dtype="float64")
        if m.shape != mx.shape:
            raise ParameterError(f"{name}: {m.size} mass values for {mx.size} points")
        if not np.all(np.isfinite(m)) or (m < 0).any():
            raise ColumnError(f"{name}: mass values must be finite and >= 0")
    return mx, my, m


def market_potential(
    grid: Grid,
    masses: gpd.GeoDataFrame,
    *,
    mass_field: str | None,
    decay: str | Decay = "power:1",
    mode: Mode = "euclidean",
    network: Network | None = None,
    roads: gpd.GeoDataFrame | None = None,
    cost: Literal["length", "time"] = "length",
    access_speed_kmh: float = 30.0,
    max_snap_distance: float | None = None,
    min_distance: float | None = None,
    reproject: bool = False,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
    snap_policy: SnapPolicy | None = None,
) -> Surface:
    """Harris market potential of every grid cell from mass points.

    Parameters
    ----------
    grid
        The :class:`~iptown_gis.surfaces.grid.Grid`.
    masses
        Point layer (seats, firms, ...) in the grid's CRS.
    mass_field
        Column holding the masses (population, GDP, patents, ...); ``None`` counts points.
    decay
        ``"power:BETA"`` (``M / d^BETA``) or ``"exp:D0"`` (``M exp(-d / D0)``).
    mode
        ``"euclidean"`` (straight lines) or ``"network"`` (roads; needs ``network`` or ``roads``).
    network, roads
        A built :class:`iptown_gis.network.Network`, or a road layer to build one from.
    cost
        Network cost: ``"length"`` (metres) or ``"time"`` (minutes; then ``D0`` and
        ``min_distance`` are in minutes too).
    access_speed_kmh
        Speed on the straight access legs when ``cost="time"``.
    max_snap_distance
        Cells or masses farther than this (metres) from the network's road nodes are a
        :class:`~iptown_gis.errors.NetworkError` naming them (default 10 km; ignored when
        ``snap_policy`` is given).
    min_distance
        Distances below it are raised to it; default half the cell size.
    reproject
        Reproject masses/roads to the grid's CRS instead of raising :class:`CRSError`.
    executor
        An :mod:`iptown_gis.parallel` Dask executor: Euclidean potentials run tile by tile
        as tasks, network shortest paths in batches of masses. Same values (costs exactly,
        sums to 1e-12 relative). ``None``: in-process.
    snap_policy
        How cells and masses join the network (:class:`iptown_gis.network.SnapPolicy`): road
        nodes only (rail boarded at stations), the largest component, the access-leg limit
        and ``far="drop"`` (far cells get no value, far masses add nothing; with a warning).
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Returns
    -------
    Surface
        Name ``"market_potential"``; tags record the decay, mode, mass field and minimum.

    Raises
    ------
    CRSError
        The masses are in another CRS than the grid (and ``reproject`` is false).
    ColumnError
        Missing mass column, NaN or negative masses.
    ParameterError
        Bad decay, mode or minimum distance.
    """
    dec = parse_decay(decay)
    prog = as_progress(progress)
    if mode not in ("euclidean", "network"):
        raise ParameterError(f"mode must be 'euclidean' or 'network', got {mode!r}")
    if cost not in ("length", "time"):
        raise ParameterError(f"cost must be 'length' or 'time', got {cost!r}")
    dmin = _min_distance(min_distance, grid.cell if cost == "length" else None)
    if cost == "time" and min_distance is None:
        dmin = 0.5 * grid.cell / (access_speed_kmh * 1000.0 / 60.0)
    mx, my, m = _masses(grid, masses, mass_field, reproject=reproject)
    x, y = grid.centres()
    if mode == "euclidean":
        if cost != "length":
            raise ParameterError("cost='time' needs mode='network'")
        if executor is None:
            vals = potential_at(x, y, mx, my, m, decay=dec, min_distance=dmin, progress=prog)
        else:
            vals = potential_cells(grid, mx, my, m, decay=dec, min_distance=dmin, executor=executor, progress=prog)
    else:
        net = _load_network(roads, network, grid.crs, reproject)
        vals = _network_potential(net, x, y, mx, my, m, grid=grid, dec=dec, dmin=dmin, cost=cost,
                                  access_speed_kmh=access_speed_kmh, max_snap_distance=max_snap_distance,
                                  prog=prog, executor=executor, snap_policy=snap_policy)
    tags = {"iptown_decay": str(dec), "iptown_mode": mode, "iptown_mass_field": str(mass_field),
            "iptown_min_distance": f"{dmin:g}", "iptown_cost": cost, "iptown_n_masses": str(m.size),
            "iptown_formula": "MP_i = sum_j M_j f(max(d_ij, min_distance))"}
    return Surface(grid=grid, values=grid.to_array(vals), name="market_potential", tags=tags)


def _network_potential(
    net: Any, x: np.ndarray, y: np.ndarray, mx: np.ndarray, my: np.ndarray, m: np.ndarray, *,
    grid: Grid, dec: Decay, dmin: float, cost: Literal["length", "time"], access_speed_kmh: float,
    max_snap_distance: float | None, prog: Progress, executor: Any = None, snap_policy: SnapPolicy | None = None,
) -> np.ndarray:
    t_acc, m_acc, node_cost = network_distances(
        net, x, y, mx, my, crs=grid.crs, cost=cost, access_speed_kmh=access_speed_kmh,
        max_snap_distance=max_snap_distance, executor=executor, progress=prog.sub(0.0, 0.6),
        snap_policy=snap_policy)
    n = x.size
    out = np.zeros(n, dtype="float64")
    step = max(CHUNK_ELEMENTS // max(m.size, 1), 1)
    sub = prog.sub(0.6, 1.0)
    for s in range(0, n, step):
        c = t_acc[s:s + step, None] + node_cost[:, s:s + step].T + m_acc[None, :]
        out[s:s + step] = _potential_from_costs(c, m, dec, dmin)
        sub.update(min(s + step, n) / n, "network potential")
    out[np.isnan(t_acc)] = np.nan  # cells dropped by the snap policy (far="drop"): no value
    unreachable = np.isnan(node_cost).all(axis=0) & np.isfinite(t_acc)
    if unreachable.any():
        log.warning("%d cells reach no mass over the network (potential 0 there)", int(unreachable.sum()))
    return out


def market_access(
    grid: Grid,
    masses: gpd.GeoDataFrame,
    *,
    income_field: str | None = None,
    income: np.ndarray | Sequence[float] | None = None,
    price_index: np.ndarray | Sequence[float] | None = None,
    sigma: float = 5.0,
    tau: float = 0.002,
    mode: Mode = "euclidean",
    network: Network | None = None,
    roads: gpd.GeoDataFrame | None = None,
    cost: Literal["length", "time"] = "length",
    access_speed_kmh: float = 30.0,
    reproject: bool = False,
    executor: Any = None,
    progress: ProgressCallback | Progress | None = None,
    max_snap_distance: float | None = None,
    snap_policy: SnapPolicy | None = None,
) -> Surface:
    """NEG market access ``MA_i = sum_j Y_j G_j^(sigma-1) T_ij^(1-sigma)`` on the grid.

    ``T_ij = exp(tau * t_ij)`` with ``t_ij`` in kilometres (``cost="length"``) or minutes
    (``cost="time"``), so ``T_ij^(1-sigma) = exp(-(sigma-1) tau t_ij)``; ``T_ii = 1`` needs
    no minimum distance.

    Parameters
    ----------
    grid, masses
        Grid and the regions' points (one per region: seats).
    income_field, income
        Regional income ``Y_j``: a column of ``masses`` or an array in the same order (the NEG
        stage's equilibrium income).
    price_index
        Price indices ``G_j`` from the NEG stage; ``None`` means ``G = 1`` (nominal access).
    sigma
        Elasticity of substitution (> 1).
    tau
        Transport cost per kilometre (or per minute).
    mode, network, roads, cost, access_speed_kmh, reproject, executor, max_snap_distance, snap_policy
        As in :func:`market_potential`.
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Raises
    ------
    ParameterError
        ``sigma <= 1``, ``tau < 0``, lengths of ``income``/``price_index`` not matching.
    ColumnError
        Missing, NaN or negative incomes.
    """
    prog = as_progress(progress)
    if not (math.isfinite(sigma) and sigma > 1):
        raise ParameterError(f"sigma must be > 1, got {sigma!r}")
    positive(tau, "tau", allow_zero=True)
    if income is None and income_field is None:
        raise ParameterError("give income_field (a column of masses) or income (an array)")
    mx, my, y = _masses(grid, masses, income_field, reproject=reproject, name="regions",
                        values=None if income is None else np.asarray(income, dtype="float64"))
    if price_index is None:
        g = np.ones_like(y)
    else:
        g = np.asarray(price_index, dtype="float64").ravel()
        if g.shape != y.shape:
            raise ParameterError(f"price_index has {g.size} values for {y.size} regions")
        if not np.all(np.isfinite(g)) or (g <= 0).any():
            raise ParameterError("price indices must be finite and > 0")
    weight = y * np.power(g, sigma - 1.0)
    # T^(1-sigma) = exp(-(sigma-1) tau t): an exponential decay with scale 1 / ((sigma-1) tau).
    unit = 1000.0 if cost == "length" else 1.0  # metres per km for lengths
    rate = (sigma - 1.0) * tau / unit
    x, yy = grid.centres()
    if rate == 0:
        vals = np.full(x.size, weight.sum())
    elif mode == "euclidean":
        if cost != "length":
            raise ParameterError("cost='time' needs mode='network'")
        if executor is None:
            vals = potential_at(x, yy, mx, my, weight, decay=Decay("exp", 1.0 / rate), min_distance=0.0,
                                progress=prog)
        else:
            vals = potential_cells(grid, mx, my, weight, decay=Decay("exp", 1.0 / rate), min_distance=0.0,
                                   executor=executor, progress=prog)
    elif mode == "network":
        net = _load_network(roads, network, grid.crs, reproject)
        vals = _network_potential(net, x, yy, mx, my, weight, grid=grid, dec=Decay("exp", 1.0 / rate),
                                  dmin=0.0, cost=cost, access_speed_kmh=access_speed_kmh,
                                  max_snap_distance=max_snap_distance, prog=prog, executor=executor,
                                  snap_policy=snap_policy)
    else:
        raise ParameterError(f"mode must be 'euclidean' or 'network', got {mode!r}")
    tags = {"iptown_sigma": f"{sigma:g}", "iptown_tau": f"{tau:g}", "iptown_cost": cost, "iptown_mode": mode,
            "iptown_price_index": "neg" if price_index is not None else "1",
            "iptown_formula": "MA_i = sum_j Y_j G_j^(sigma-1) exp(-(sigma-1) tau t_ij)"}
    return Surface(grid=grid, values=grid.to_array(vals), name="neg_market_access", tags=tags)


# --------------------------------------------------------------------------- all cells (FFT)


def _check_raster(mass: np.ndarray) -> np.ndarray:
    a: np.ndarray = np.ma.filled(np.ma.asarray(mass, dtype="float64"), 0.0)
    if a.ndim != 2:
        raise ParameterError(f"mass raster must be 2-D, got shape {a.shape}")
    if np.isnan(a).any() or np.isinf(a).any():
        raise ColumnError("mass raster has NaN or infinite cells: fill them (e.g. with 0) first")
    if (a < 0).any():
        raise ColumnError("mass raster has negative cells: masses must be >= 0")
    return np.asarray(a)


def _raster_inputs(mass: np.ndarray, cell: float, decay: str | Decay, min_distance: float | None, *,
                   power_needs_floor: bool = False) -> tuple[Decay, float, np.ndarray]:
    """The checked inputs of the all-cells potentials: ``(decay, distance floor, mass array)``."""
    dec = parse_decay(decay)
    positive(cell, "cell")
    dmin = _min_distance(min_distance, cell)
    if power_needs_floor and dec.kind == "power" and dmin <= 0:
        raise ParameterError("power decay needs min_distance > 0 (a cell's distance to itself is 0)")
    return dec, dmin, _check_raster(mass)


def _kernel(h: int, w: int, cell: float, dec: Decay, dmin: float, shape: tuple[int, int]) -> np.ndarray:
    """Distance-decay kernel for offsets (-(h-1)..h-1, -(w-1)..w-1) laid out circularly."""
    l1, l2 = shape
    di = np.arange(l1, dtype="float64")
    di = np.where(di < h, di, di - l1)  # offsets 0..h-1, then negative ones wrapped
    dj = np.arange(l2, dtype="float64")
    dj = np.where(dj < w, dj, dj - l2)
    d = cell * np.hypot(di[:, None], dj[None, :])
    np.maximum(d, dmin, out=d)
    return dec(d)


def potential_fft(
    mass: np.ndarray,
    *,
    cell: float,
    decay: str | Decay,
    min_distance: float | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """All-cells Euclidean potential of a raster of masses on itself, by FFT convolution.

    ``P[i] = sum_j mass[j] f(max(cell * |i - j|, min_distance))`` for every cell ``i`` of the
    raster (masked or NaN-free; cells outside a study area should hold 0). Computed as a
    circular convolution of size ``>= 2n - 1`` per axis (no wrap-around), with real FFTs.

    Parameters
    ----------
    mass
        2-D array of masses (>= 0).
    cell
        Cell size (metres).
    decay
        ``"power:BETA"``, ``"exp:D0"`` or a :class:`Decay`.
    min_distance
        Distance floor; default half the cell (a cell's own mass counts at ``cell / 2``).
    workers
        FFT threads (default: all cores).

    Returns
    -------
    numpy.ndarray
        Potential, same shape as ``mass``.
    """
    import scipy.fft as sfft

    dec, dmin, a = _raster_inputs(mass, cell, decay, min_distance, power_needs_floor=True)
    h, w = a.shape
    shape = (sfft.next_fast_len(2 * h - 1, real=True), sfft.next_fast_len(2 * w - 1, real=True))
    k = _kernel(h, w, float(cell), dec, dmin, shape)
    nw = workers if workers is not None else -1
    fa = sfft.rfft2(a, s=shape, workers=nw)
    fa *= sfft.rfft2(k, workers=nw)
    del k
    out = sfft.irfft2(fa, s=shape, workers=nw)[:h, :w]
    return np.ascontiguousarray(out)


def potential_direct(
    mass: np.ndarray,
    *,
    cell: float,
    decay: str | Decay,
    min_distance: float | None = None,
    targets: np.ndarray | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> np.ndarray:
    """The same potential as :func:`potential_fft` by the direct ``O(N^2)`` double sum.

    Only cells with a non-zero mass are summed over. Slow: meant for checks and benchmarks.

    Parameters
    ----------
    mass, cell, decay, min_distance
        As in :func:`potential_fft`.
    targets
        Boolean mask of the cells where the potential is computed (others are NaN; default all).
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.

    Returns
    -------
    numpy.ndarray
        Potential, same shape as ``mass``.
    """
    dec, dmin, a = _raster_inputs(mass, cell, decay, min_distance)
    h, w = a.shape
    src_r, src_c = np.nonzero(a)
    tmask = np.ones(a.shape, bool) if targets is None else np.asarray(targets, bool)
    tr, tc = np.nonzero(tmask)
    vals = potential_at(tc * float(cell), -tr * float(cell), src_c * float(cell), -src_r * float(cell),
                        a[src_r, src_c], decay=dec, min_distance=dmin, progress=progress)
    out = np.full((h, w), np.nan)
    out[tr, tc] = vals
    return out


def raster_potential(
    grid: Grid,
    mass: np.ndarray,
    *,
    decay: str | Decay = "power:1",
    min_distance: float | None = None,
    workers: int | None = None,
) -> Surface:
    """All-cells potential (FFT) of a mass raster on ``grid``; masses outside the mask ignored.

    Parameters
    ----------
    grid
        The grid.
    mass
        Mass raster of shape ``grid.shape`` (masked or NaN cells count as 0).
    decay, min_distance, workers
        As in :func:`potential_fft` (``min_distance`` default: half a cell).

    Returns
    -------
    Surface
        Name ``"raster_potential"``.

    Raises
    ------
    ParameterError
        ``mass`` is not of the grid's shape, or a bad decay.
    """
    if np.shape(mass) != grid.shape:
        raise ParameterError(f"mass raster has shape {np.shape(mass)}, the grid {grid.shape}")
    dec = parse_decay(decay)
    dmin = _min_distance(min_distance, grid.cell)
    a: np.ndarray = np.where(grid.mask, np.ma.filled(np.ma.asarray(mass, dtype="float64"), 0.0), 0.0)
    vals = potential_fft(a, cell=grid.cell, decay=dec, min_distance=dmin, workers=workers)
    tags = {"iptown_decay": str(dec), "iptown_mode": "euclidean-all-cells-fft", "iptown_min_distance": f"{dmin:g}"}
    return Surface(grid=grid, values=grid.masked(vals), name="raster_potential", tags=tags)


def rasterize_masses(
    grid: Grid, points: gpd.GeoDataFrame, *, field: str | None, reproject: bool = False
) -> np.ndarray:
    """Sum point masses into the grid's cells (points outside the frame are dropped, logged).

    Parameters
    ----------
    grid
        The grid.
    points
        Point layer in the grid's CRS.
    field
        Column of masses; ``None`` counts points.
    reproject
        Reproject ``points`` to the grid's CRS instead of raising :class:`CRSError`.

    Returns
    -------
    numpy.ndarray
        Masses per cell, shape ``grid.shape``.
    """
    mx, my, m = _masses(grid, points, field, reproject=reproject, name="points")
    r, c = grid.rowcol(mx, my)
    ok = grid.contains_rowcol(r, c)
    if (~ok).any():
        log.warning("%d point(s) fall outside the grid and are ignored", int((~ok).sum()))
    out = np.zeros(grid.shape, dtype="float64")
    np.add.at(out, (r[ok], c[ok]), m[ok])
    return out



# --------------------------------------------------------------------------- tile by tile


def _mp_tile(spec: TileSpec, mask: np.ndarray, masses: tuple[np.ndarray, ...], decay: Decay,
             dmin: float, nodata: float, dtype: str) -> np.ndarray:
    """Market potential of one tile (the task): :func:`potential_at` at the tile's cells."""
    x, y = tile_centres(spec, mask)
    vals = potential_at(x, y, masses[0], masses[1], masses[2], decay=decay, min_distance=dmin)
    return tile_fill(spec, mask, vals, nodata, dtype)


def potential_cells(
    grid: Grid, mass_x: Any, mass_y: Any, mass: Any, *, decay: str | Decay, min_distance: float,
    executor: Executor | None = None, tile_size: int | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> np.ndarray:
    """Euclidean potential of the cells inside ``grid`` (order of ``grid.centres()``), tile by tile.

    The values :func:`market_potential` computes in one piece, here as one task per tile (on
    ``executor`` when given); equal to summation order. Inputs are not validated again (the
    surfaces functions calling this have done so).

    Parameters
    ----------
    grid
        The grid.
    mass_x, mass_y, mass
        Mass coordinates (grid CRS, metres) and values.
    decay
        ``"power:BETA"``, ``"exp:D0"`` or a :class:`Decay`.
    min_distance
        Distance floor (metres).
    executor
        An :class:`iptown_gis.parallel.Executor`; ``None`` runs the tiles here.
    tile_size
        Tile edge in cells (rounded to a multiple of 256; default from the memory budget).
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.

    Returns
    -------
    numpy.ndarray
        One value per cell inside the mask.
    """
    m = np.asarray(mass, dtype="float64").ravel()
    args = ((np.asarray(mass_x, dtype="float64").ravel(), np.asarray(mass_y, dtype="float64").ravel(), m),
            parse_decay(decay), float(min_distance), np.nan, "float64")
    return tile_values(grid, _mp_tile, args, n_points=m.size, executor=executor, tile_size=tile_size,
                       prog=as_progress(progress), what="market potential")


def market_potential_tiled(
    grid: Grid,
    mass_x: Any,
    mass_y: Any,
    mass: Any,
    path: str | os.PathLike[str],
    *,
    decay: str | Decay = "power:1",
    min_distance: float | None = None,
    executor: Executor | None = None,
    tile_size: int | None = None,
    dtype: str = "float32",
    nodata: float = -9999.0,
    progress: ProgressCallback | Progress | None = None,
) -> Path:
    """Euclidean Harris market potential on ``grid``, tile by tile, into a tiled GeoTIFF.

    For grids too large for one piece: no process holds the whole raster
    (:func:`iptown_gis.surfaces.tiles.write_tiles`); the values are those of
    :func:`market_potential` (to summation order).

    Parameters
    ----------
    grid
        A :class:`~iptown_gis.surfaces.grid.Grid` (cells outside its mask are nodata).
    mass_x, mass_y, mass
        Mass coordinates (grid CRS, metres) and values (>= 0).
    path
        Output GeoTIFF (written atomically).
    decay
        ``"power:BETA"`` or ``"exp:D0"`` (see :func:`parse_decay`).
    min_distance
        Distances below it are raised to it (default: half a cell).
    executor
        An :class:`iptown_gis.parallel.Executor` (e.g. a Dask one), or ``None`` for in-process.
    tile_size
        Tile edge in cells (rounded to a multiple of 256; default from the memory budget).
    dtype
        ``"float32"`` (default) or ``"float64"``.
    nodata
        Value of the cells outside the grid's mask.
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ParameterError
        Bad decay, negative or NaN masses, arrays of different lengths, another ``dtype``.
    """
    prog = as_progress(progress)
    dec = parse_decay(decay)
    mx = np.asarray(mass_x, dtype="float64").ravel()
    my = np.asarray(mass_y, dtype="float64").ravel()
    m = np.asarray(mass, dtype="float64").ravel()
    if not (mx.shape == my.shape == m.shape):
        raise ParameterError("mass_x, mass_y and mass must have the same length")
    if np.isnan(m).any() or (m < 0).any():
        raise ParameterError("masses must be numbers >= 0 (no NaN)")
    dmin = 0.5 * float(abs(grid.transform.a)) if min_distance is None else float(min_distance)
    if dmin < 0 or not math.isfinite(dmin):
        raise ParameterError(f"min_distance must be >= 0, got {min_distance}")
    tags = {"iptown_decay": str(dec), "iptown_mode": "euclidean", "iptown_min_distance": f"{dmin:g}",
            "iptown_n_masses": str(m.size), "iptown_formula": "MP_i = sum_j M_j f(max(d_ij, min_distance))",
            "iptown_tiled": "yes"}
    return write_tiles(path, grid, _mp_tile, ((mx, my, m), dec, dmin, nodata, dtype), n_points=m.size,
                       executor=executor, tile_size=tile_size, nodata=nodata, dtype=dtype, tags=tags,
                       prog=prog, what="market potential")


def market_potential_to_tiff(
    grid: Grid,
    masses: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    mass_field: str | None = None,
    decay: str | Decay = "power:1",
    min_distance: float | None = None,
    reproject: bool = False,
    executor: Executor | None = None,
    tile_size: int | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> Path:
    """Euclidean :func:`market_potential` of a point layer, tile by tile, into a tiled GeoTIFF.

    The masses are read and checked as in :func:`market_potential` (CRS, finite non-negative
    masses); the tiles are :func:`market_potential_tiled`'s.

    Parameters
    ----------
    grid
        A :class:`~iptown_gis.surfaces.grid.Grid`.
    masses
        Mass points (polygons use a representative point) in the grid's CRS.
    path
        Output GeoTIFF (written atomically).
    mass_field
        Column of the masses (``None``: every point weighs 1).
    decay
        Distance decay (``"power:1"``, ``"exp:50000"``, ... or a :class:`Decay`).
    min_distance
        Floor of the distance in metres (default: half a cell).
    reproject
        Reproject the masses to the grid's CRS instead of raising :class:`CRSError`.
    executor
        An :mod:`iptown_gis.parallel` executor for the tiles; ``None``: in-process.
    tile_size
        Tile side in cells (default: from the memory budget).
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    CRSError, ColumnError, GeometryError, ParameterError
        As :func:`market_potential`.
    """
    mx, my, m = _masses(grid, masses, mass_field, reproject=reproject)
    return market_potential_tiled(grid, mx, my, m, path, decay=decay, min_distance=min_distance, executor=executor,
                                  tile_size=tile_size, progress=progress)
