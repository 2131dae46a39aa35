"""Policy scenarios on a real network (the Anhui application).

A scenario changes the baseline economy in one or more ways and the long-run equilibrium is
recomputed from the observed distribution:

* **new links** (a new expressway or high-speed rail line), given as city pairs whose direct
  travel cost is multiplied by ``link_factor``, or as a line layer: seats within
  ``link_snap_km`` of a line are joined in the order they lie along it, with travel time
  ``length / link_speed_kmh + 2 * link_access_min``. Either way the seat-to-seat costs are
  then closed under shortest paths (Floyd-Warshall), so trips routed over the new link
  benefit too;
* **migration barriers** (hukou): ``moving_cost`` (+ ``moving_cost_per_hour`` of travel) is
  the utility gap needed to move; ``barrier`` damps flows;
* **amenities**: e.g. a university / science-centre premium for Hefei;
* **congestion** of immobile factors, or another ``tau``.

Outputs per scenario: equilibrium shares, real wages and their change against the baseline
(CSV), a GeoPackage layer joined to the region polygons, and a chart.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import floyd_warshall

from iptown_gis.errors import ColumnError, GeometryError, ParameterError, ScenarioError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.neg.barriers import Mobility
from iptown_gis.neg.equilibrium import LongRun, long_run
from iptown_gis.neg.model import FloatArray, NEGModel, check_cost_matrix
from iptown_gis.parallel.executor import Executor, run_tasks
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = [
    "ScenarioResult",
    "ScenarioSettings",
    "ScenarioSpec",
    "apply_line_links",
    "apply_pair_links",
    "close_costs",
    "run_scenarios",
    "scenario_mobility",
    "scenario_table",
    "write_scenarios",
]

log = logging.getLogger(__name__)


class ScenarioSpec(Protocol):
    """One policy scenario, as :func:`run_scenarios` reads it (``None``: the baseline value).

    The ``[[neg.scenarios]]`` entries of a scenario file (``iptown_gis.neg.config.NEGScenario``)
    are such objects; any object with these attributes will do.
    """

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def links(self) -> Sequence[Sequence[str]]: ...
    @property
    def link_factor(self) -> float: ...
    @property
    def links_layer(self) -> str | None: ...
    @property
    def link_speed_kmh(self) -> float: ...
    @property
    def link_access_min(self) -> float: ...
    @property
    def link_snap_km(self) -> float: ...
    @property
    def moving_cost(self) -> float | None: ...
    @property
    def moving_cost_per_hour(self) -> float | None: ...
    @property
    def barrier(self) -> float | None: ...
    @property
    def amenity(self) -> Mapping[str, float]: ...
    @property
    def congestion(self) -> float | None: ...
    @property
    def tau(self) -> float | None: ...


class ScenarioSettings(Protocol):
    """The baseline NEG settings and the scenarios :func:`run_scenarios` runs.

    The ``[neg]`` section of a scenario file (``iptown_gis.neg.config.NEGConfig``) is one.
    """

    @property
    def sigma(self) -> float: ...
    @property
    def mu(self) -> float: ...
    @property
    def tau(self) -> float: ...
    @property
    def strict(self) -> bool: ...
    @property
    def tol(self) -> float: ...
    @property
    def id_field(self) -> str: ...
    @property
    def moving_cost(self) -> float: ...
    @property
    def moving_cost_per_hour(self) -> float: ...
    @property
    def barrier(self) -> float: ...
    @property
    def congestion(self) -> float: ...
    @property
    def scenarios(self) -> Sequence[ScenarioSpec]: ...


def close_costs(cost: ArrayLike) -> FloatArray:
    """Shortest-path closure of a seat-to-seat cost matrix (``inf`` = no direct link)."""
    c = check_cost_matrix(cost)
    off = ~np.eye(c.shape[0], dtype=bool)
    c = np.where(off & (c == 0), 1e-9, c)  # csgraph treats 0 as "no edge"
    return np.asarray(floyd_warshall(c, directed=True), dtype=np.float64)


def _index(region_ids: Sequence[Any]) -> dict[str, int]:
    return {str(r): i for i, r in enumerate(region_ids)}


def apply_pair_links(cost: ArrayLike, region_ids: Sequence[Any], pairs: Sequence[Sequence[Any]], *,
                     factor: float) -> FloatArray:
    """Multiply the direct cost of each city pair (both ways) by ``factor``, then close it.

    Parameters
    ----------
    cost
        ``(R, R)`` seat-to-seat travel costs (minutes; ``inf`` = no direct link).
    region_ids
        Ids of the regions in the order of ``cost``'s rows, matched to the pairs as text.
    pairs
        The new links as ``(id_a, id_b)`` pairs of region ids.
    factor
        Multiplier of each pair's direct cost, in ``(0, 1]`` (``0.5``: twice as fast).

    Returns
    -------
    numpy.ndarray
        A new ``(R, R)`` cost matrix, closed under shortest paths (:func:`close_costs`).

    Raises
    ------
    ScenarioError
        A pair names an unknown region id, or joins a region to itself.
    ParameterError
        ``factor`` outside ``(0, 1]``.
    """
    if not 0.0 < factor <= 1.0:
        raise ParameterError(f"link_factor = {factor!r}: must be in (0, 1]")
    c = check_cost_matrix(cost).copy()
    idx = _index(region_ids)
    for pair in pairs:
        a, b = (str(p) for p in pair)
        missing = [p for p in (a, b) if p not in idx]
        if missing:
            raise ScenarioError(f"link {[a, b]}: unknown region id(s) {missing}; ids are: "
                                f"{', '.join(list(idx)[:20])}")
        if a == b:
            raise ScenarioError(f"link {[a, b]} joins a region to itself")
        i, j = idx[a], idx[b]
        c[i, j] *= factor
        c[j, i] *= factor
    return close_costs(c)


def apply_line_links(
    cost: ArrayLike,
    seats: Any,
    lines: Any,
    *,
    id_field: str,
    speed_kmh: float = 250.0,
    access_min: float = 15.0,
    snap_km: float = 15.0,
    region_ids: Sequence[Any] | None = None,
) -> FloatArray:
    """New lines (expressway / HSR) from a line layer, as minutes between the seats they serve.

    ``seats`` and ``lines`` must share a metric CRS. Seats within ``snap_km`` of a line are
    ordered along it; consecutive served seats get ``length / speed * 60 + 2 * access_min``
    minutes when that beats the current cost, and the costs are closed under shortest paths.

    Parameters
    ----------
    cost
        ``(R, R)`` seat-to-seat travel costs in minutes (``inf`` = no direct link).
    seats
        Region seat points (GeoDataFrame, metric CRS) with the column ``id_field``.
    lines
        The new lines (GeoDataFrame of (Multi)LineStrings) in the seats' CRS; a
        MultiLineString is merged first and each remaining part served on its own.
    id_field
        The seats' region id column.
    speed_kmh
        Travel speed on the new lines in km/h (default 250, high-speed rail).
    access_min
        Minutes to get on or off the line at each end (default 15; counted twice per trip).
    snap_km
        Largest distance in km from a seat to a line for the seat to be served (default 15).
    region_ids
        Ids in the order of ``cost``'s rows (``None``: the seats' ``id_field`` in row order);
        seats whose id is not among them are not served.

    Returns
    -------
    numpy.ndarray
        A new ``(R, R)`` cost matrix, closed under shortest paths (:func:`close_costs`).

    Raises
    ------
    CRSError, GeometryError, ColumnError
        CRS mismatch, no line geometries, missing ``id_field``.
    """
    from iptown_gis.crs.metric import require_crs

    require_crs(seats, name="region seats")
    require_crs(lines, name="links layer")
    if seats.crs != lines.crs:
        from iptown_gis.errors import CRSError

        raise CRSError(f"links layer CRS {lines.crs} differs from the seats' CRS {seats.crs}: "
                       "reproject one of them")
    if id_field not in seats.columns:
        raise ColumnError(f"region seats have no column {id_field!r}; columns: {list(seats.columns)}")
    geoms = [g for g in lines.geometry if g is not None and not g.is_empty]
    if not geoms or not all(g.geom_type in ("LineString", "MultiLineString") for g in geoms):
        raise GeometryError("links layer must hold (Multi)LineString geometries")
    c = check_cost_matrix(cost).copy()
    ids = list(region_ids) if region_ids is not None else [str(v) for v in seats[id_field]]
    idx = _index(ids)
    pos = {str(r): (p.x, p.y) for r, p in zip(seats[id_field], seats.geometry)}
    from shapely.geometry import Point
    from shapely.ops import linemerge

    n_links = 0
    for g in geoms:
        line = linemerge(g) if g.geom_type == "MultiLineString" else g
        parts = list(line.geoms) if line.geom_type == "MultiLineString" else [line]
        for part in parts:
            served = []
            for rid, (x, y) in pos.items():
                if rid in idx and part.distance(Point(x, y)) <= snap_km * 1000.0:
                    served.append((part.project(Point(x, y)), rid))
            served.sort()
            for (pa, a), (pb, b) in itertools.pairwise(served):
                minutes = abs(pb - pa) / 1000.0 / speed_kmh * 60.0 + 2.0 * access_min
                i, j = idx[a], idx[b]
                if minutes < c[i, j]:
                    c[i, j] = c[j, i] = minutes
                    n_links += 1
    log.info("links layer: %d seat pairs get a faster link", n_links)
    return close_costs(c)


def scenario_mobility(cfg: ScenarioSettings, sc: ScenarioSpec, cost: FloatArray,
                      region_ids: Sequence[Any]) -> Mobility:
    """The :class:`Mobility` of scenario ``sc`` (baseline values from ``cfg`` where unset).

    Parameters
    ----------
    cfg
        The baseline settings (``moving_cost``, ``moving_cost_per_hour``, ``barrier``,
        ``congestion``).
    sc
        The scenario; its values that are not ``None`` replace the baseline's, and its
        ``amenity`` premiums (region id -> premium) apply.
    cost
        ``(R, R)`` seat-to-seat minutes of the scenario: the moving cost between two regions is
        ``moving_cost + moving_cost_per_hour * minutes / 60`` (an infinite cost counts as the
        largest finite one).
    region_ids
        Ids of the regions in the order of ``cost``'s rows, matched to amenity keys as text.

    Returns
    -------
    Mobility
        Moving costs and barriers off the diagonal (``None`` when zero), amenities, congestion.

    Raises
    ------
    ScenarioError
        An amenity names an unknown region id.
    ParameterError
        A negative congestion.
    """
    n = cost.shape[0]
    off = ~np.eye(n, dtype=bool)
    mc = cfg.moving_cost if sc.moving_cost is None else sc.moving_cost
    mch = cfg.moving_cost_per_hour if sc.moving_cost_per_hour is None else sc.moving_cost_per_hour
    bar = cfg.barrier if sc.barrier is None else sc.barrier
    theta = cfg.congestion if sc.congestion is None else sc.congestion
    moving = None
    if mc > 0 or mch > 0:
        finite = np.where(np.isfinite(cost), cost, np.nanmax(np.where(np.isfinite(cost), cost, 0)))
        moving = np.where(off, mc + mch * finite / 60.0, 0.0)
    barrier = np.where(off, bar, 0.0) if bar > 0 else None
    amenity = None
    if sc.amenity:
        idx = _index(region_ids)
        amenity = np.zeros(n)
        for rid, a in sc.amenity.items():
            if str(rid) not in idx:
                raise ScenarioError(f"[neg] scenario {sc.name!r}: amenity for unknown region id {rid!r}; "
                                    f"ids are: {', '.join(list(idx)[:20])}")
            amenity[idx[str(rid)]] = a
    return Mobility(barrier=barrier, moving_cost=moving, amenity=amenity, congestion=theta)


@dataclass
class ScenarioResult:
    """One scenario's long-run equilibrium and the inputs it used."""

    name: str
    description: str
    cost: FloatArray
    tau: float
    mobility: Mobility
    result: LongRun


def _run_scenario(sc: ScenarioSpec, shared: dict[str, Any], progress: Progress | None = None) -> ScenarioResult:
    """The long-run equilibrium of one scenario (one task of :func:`run_scenarios`)."""
    config: ScenarioSettings = shared["config"]
    ids: list[Any] = shared["ids"]
    layers: Mapping[str, Any] | None = shared["layers"]
    seats, lam0 = shared["seats"], shared["lam0"]
    c = shared["cost"]
    if sc.links:
        c = apply_pair_links(c, ids, sc.links, factor=sc.link_factor)
    if sc.links_layer:
        if layers is None or sc.links_layer not in layers or seats is None:
            raise ScenarioError(f"[neg] scenario {sc.name!r}: links_layer {sc.links_layer!r} is not "
                                "available (add it to [inputs])")
        c = apply_line_links(c, seats, layers[sc.links_layer], id_field=config.id_field,
                             speed_kmh=sc.link_speed_kmh, access_min=sc.link_access_min,
                             snap_km=sc.link_snap_km, region_ids=ids)
    tau = config.tau if sc.tau is None else sc.tau
    mob = scenario_mobility(config, sc, c, ids)
    model = NEGModel.from_costs(c, tau=tau, sigma=config.sigma, mu=config.mu, phi=shared["phi"],
                                region_ids=ids, strict=config.strict)
    lam_start = lam0
    if mob.congestion > 0 and lam_start is not None and (np.asarray(lam_start) <= 0).any():
        ls = np.asarray(lam_start, dtype=np.float64) + 1e-6
        lam_start = ls / ls.sum()
    log.info("NEG scenario %s: tau = %g, start from observed shares", sc.name, tau)
    lr = long_run(model, lam_start, mobility=mob, tol=config.tol, progress=progress)
    return ScenarioResult(name=sc.name, description=sc.description, cost=c, tau=tau, mobility=mob, result=lr)


def _scenario_task(sc: ScenarioSpec, shared: dict[str, Any]) -> ScenarioResult:
    return _run_scenario(sc, shared)


def run_scenarios(
    cost: ArrayLike,
    *,
    region_ids: Sequence[Any],
    config: ScenarioSettings,
    lam0: ArrayLike | None = None,
    phi: ArrayLike | None = None,
    seats: Any = None,
    layers: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> dict[str, ScenarioResult]:
    """Run the baseline and every scenario of ``config`` from the observed shares ``lam0``.

    Parameters
    ----------
    cost
        Baseline seat-to-seat travel costs (minutes), ``(R, R)``.
    region_ids
        Ids of the regions (rows of ``cost``), matched to scenario links / amenities as text.
    config
        The baseline settings and the scenarios: the ``[neg]`` section, or any
        :class:`ScenarioSettings`.
    lam0, phi
        Observed mobile shares (start of the dynamics) and immobile shares (default uniform).
    seats
        Region points (metric CRS) when a scenario uses ``links_layer``.
    layers
        Input layers by name (for ``links_layer``).
    executor
        An :class:`iptown_gis.parallel.Executor` (e.g. Dask): one task per scenario, the same
        results. ``None``: one after the other here.
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.

    Returns
    -------
    dict
        Scenario name -> :class:`ScenarioResult`, in the order of ``config.scenarios``.

    Raises
    ------
    ScenarioError, ParameterError, ConvergenceError, CancelledError
    """
    prog = as_progress(progress)
    base = check_cost_matrix(cost, name="seat travel-cost matrix")
    shared = {"cost": base, "config": config, "ids": list(region_ids), "lam0": lam0, "phi": phi,
              "seats": seats, "layers": layers}
    scs = list(config.scenarios)
    if executor is None:
        results = [_run_scenario(sc, shared, progress=prog.sub(k / len(scs), (k + 1) / len(scs)))
                   for k, sc in enumerate(scs)]
    else:
        results = run_tasks(_scenario_task, scs, shared=shared, executor=executor, progress=prog,
                            message="NEG scenarios")
    return {r.name: r for r in results}


def scenario_table(results: Mapping[str, ScenarioResult], *, region_ids: Sequence[Any],
                   names: Sequence[Any] | None = None, lam0: ArrayLike | None = None) -> pd.DataFrame:
    """One row per (scenario, region): shares, wages, real wages and changes vs the baseline.

    Parameters
    ----------
    results
        Scenario name -> result (:func:`run_scenarios`); must include ``"baseline"``.
    region_ids
        The region ids in the results' region order.
    names
        Region names in the same order (``None``: the ids as text).
    lam0
        The observed shares, written as ``observed_share`` (``None``: NaN).

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario, region_id, name, observed_share, share, wage, price_index, income,
        real_wage, utility, d_share`` (share minus the baseline's), ``d_real_wage_pct`` (real
        wage change against the baseline, %), ``stable, stability, tau``.

    Raises
    ------
    ScenarioError
        No ``baseline`` in ``results``.
    """
    if "baseline" not in results:
        raise ScenarioError("scenario results need a 'baseline' run to compare against")
    b = results["baseline"].result
    n = len(region_ids)
    start = np.full(n, np.nan) if lam0 is None else np.asarray(lam0, dtype=np.float64)
    frames = []
    for name, res in results.items():
        lr = res.result
        sr = lr.short
        frames.append(pd.DataFrame({
            "scenario": name,
            "region_id": list(region_ids),
            "name": list(names) if names is not None else [str(r) for r in region_ids],
            "observed_share": start,
            "share": lr.lam,
            "wage": sr.wage,
            "price_index": sr.price_index,
            "income": sr.income,
            "real_wage": sr.real_wage,
            "utility": lr.utility,
            "d_share": lr.lam - b.lam,
            "d_real_wage_pct": 100.0 * (sr.real_wage / b.short.real_wage - 1.0),
            "stable": lr.stable,
            "stability": lr.stability,
            "tau": res.tau,
        }))
    return pd.concat(frames, ignore_index=True)


def _chart(table: pd.DataFrame, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scen = [s for s in table["scenario"].unique() if s != "baseline"]
    base = table[table["scenario"] == "baseline"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), dpi=110)
    x = np.arange(len(base))
    w = 0.8 / (len(scen) + 1)
    qsm = "model" in table.columns and (table["model"] == "qsm").all()
    bands = qsm and {"d_share_p5", "d_share_p95", "d_welfare_pct_p5", "d_welfare_pct_p95"} <= set(table.columns)

    def err(t: pd.DataFrame, col: str, scale: float) -> Any:
        if not bands:
            return None
        mid = t[col].to_numpy() * scale  # p5-p95 over the parameter draws
        return np.vstack([np.clip(mid - t[f"{col}_p5"].to_numpy() * scale, 0, None),
                          np.clip(t[f"{col}_p95"].to_numpy() * scale - mid, 0, None)])

    if qsm:  # today is the baseline: show the welfare changes instead of two equal bars
        for k, s in enumerate(scen):
            t = table[table["scenario"] == s]
            axes[0].bar(x + k * w, t["d_welfare_pct"], width=w, label=s, yerr=err(t, "d_welfare_pct", 1.0),
                        capsize=1.5, error_kw={"elinewidth": 0.6})
    else:
        axes[0].bar(x, base["observed_share"], width=w, color="0.75", label="observed")
        axes[0].bar(x + w, base["share"], width=w, color="black", label="baseline")
    for k, s in enumerate(scen):
        t = table[table["scenario"] == s]
        axes[1].bar(x + k * w, t["d_share"] * 100, width=w, label=s, yerr=err(t, "d_share", 100.0), capsize=1.5,
                    error_kw={"elinewidth": 0.6})
    for ax in axes:
        ax.set_xticks(x + w / 2, [str(n) for n in base["name"]], rotation=60, fontsize=7)
    if qsm:
        axes[0].set_ylabel("welfare change of registered residents (%)")
        axes[0].set_title("welfare change from today (baseline = observed)")
        axes[0].axhline(0, color="0.5", lw=0.6)
        axes[1].set_ylabel("change from today (percentage points)")
        axes[1].set_title("scenarios (bars: p5-p95 over parameter ranges)" if bands else "scenarios")
    else:
        axes[0].set_ylabel("share of mobile workers")
        axes[0].set_title("long-run shares: observed start vs baseline")
        axes[1].set_ylabel("change in share vs baseline (percentage points)")
        axes[1].set_title("scenarios")
    if scen or not qsm:  # under qsm with no scenario beside the baseline the left panel has no bars
        axes[0].legend(frameon=False, fontsize=8)
    axes[1].axhline(0, color="0.5", lw=0.6)
    if scen:
        axes[1].legend(frameon=False, fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def _cjk_font() -> bool:
    """True when a CJK-capable font is installed (region names are Chinese); see iptown_gis.io.fonts."""
    from iptown_gis.io.fonts import cjk_font_available

    return cjk_font_available()


def write_scenarios(
    table: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    polygons: Any = None,
    polygon_id_field: str = "adcode",
    title: str = "NEG scenarios",
    prefix: str = "",
) -> list[tuple[Path, str]]:
    """Write the scenario table: ``scenarios.csv``, one CSV per scenario, ``neg_scenarios.gpkg``
    (one layer per scenario, joined to ``polygons``) and ``scenarios.png``; every file name
    starts with ``prefix`` (e.g. ``counties_`` for a second run on finer regions).

    Parameters
    ----------
    table
        The :func:`scenario_table` (or the QSM table of the same shape).
    out_dir
        The folder written to (created when missing).
    polygons
        Region polygons (GeoDataFrame) for ``neg_scenarios.gpkg`` (``None``: no GeoPackage).
    polygon_id_field
        The polygons' column matching the table's ``region_id`` as text (default ``"adcode"``).
    title
        Title of the chart.
    prefix
        Prefix of every file name (default ``""``).

    Returns
    -------
    list of (path, kind)
        The files written, kind ``"table"``, ``"vector"`` or ``"chart"``.

    Raises
    ------
    ColumnError
        ``polygon_id_field`` is not a polygon column, or a region has no polygon.
    """
    from iptown_gis.io.vector import write_vector

    out = Path(out_dir)
    written: list[tuple[Path, str]] = []
    with atomic_path(out / f"{prefix}scenarios.csv") as tmp:
        table.to_csv(tmp, index=False)
    written.append((out / f"{prefix}scenarios.csv", "table"))
    for name, t in table.groupby("scenario", sort=False):
        p = out / f"{prefix}scenario_{name}.csv"
        with atomic_path(p) as tmp:
            t.to_csv(tmp, index=False)
        written.append((p, "table"))
    if polygons is not None:
        if polygon_id_field not in polygons.columns:
            raise ColumnError(f"region polygons have no column {polygon_id_field!r}; columns: "
                              f"{list(polygons.columns)}")
        key = polygons[polygon_id_field].astype(str)
        gpkg = out / f"{prefix}neg_scenarios.gpkg"
        if gpkg.exists():
            gpkg.unlink()
        for name, t in table.groupby("scenario", sort=False):
            tt = t.assign(_key=t["region_id"].astype(str)).drop(columns=["name"])
            joined = polygons.assign(_key=key.values).merge(tt, on="_key", how="inner").drop(columns="_key")
            if len(joined) != len(t):
                missing = sorted(set(tt["_key"]) - set(key))
                raise ColumnError(f"{len(missing)} regions have no polygon with {polygon_id_field} in "
                                  f"{missing[:10]}: check polygon_id_field")
            write_vector(joined, gpkg, layer=f"neg_{name}")
        written.append((gpkg, "vector"))
    chart_table = table
    if not _cjk_font() and not table["name"].map(lambda v: str(v).isascii()).all():
        chart_table = table.assign(name=table["region_id"].astype(str))  # no CJK font: label by id
    from iptown_gis.io.fonts import mpl_font_context

    with mpl_font_context():
        written.append((_chart(chart_table, out / f"{prefix}scenarios.png", title), "chart"))
    return written
