"""Pipeline stage ``neg``: the Anhui scenarios on the network's seat costs.

Reads ``ctx.network.seat_od`` (from the network stage; computed here from the roads when
the stage runs alone), selects the regions of ``[neg] regions`` and runs every scenario on

* ``[neg] model = "qsm"`` (default, :func:`run_qsm`): the quantitative spatial model calibrated
  to today's populations and GDP (:mod:`iptown_gis.neg.qsm`), scenarios as changes from today
  with Latin hypercube bands, a tornado and the wage-equation validation; optionally again on
  ``county_regions`` (``neg/counties_*``);
* ``[neg] model = "fkv"`` (:func:`run_fkv`): the FKV core-periphery long run.

Both write ``neg/scenarios.csv``, ``scenario_<name>.csv``, ``neg_scenarios.gpkg`` and
``scenarios.png`` and set ``ctx.neg``, a :class:`~iptown_gis.stage_results.NEGResult` (which
also reads as the dictionary ``ctx.results["neg"]`` was)::

    {"region_ids", "names", "shares", "price_index", "income", "wage", "real_wage",
     "tau", "sigma", "mu", "cost_minutes", "observed_shares", "model",
     "scenarios": {name: {same keys, "d_share", "d_real_wage_pct", "stable", ...}}}

(baseline values at the top level; QSM adds ``params``, ``validation``, ``tornado``,
``summary`` and ``counties``: docs/neg.md) so the surfaces stage can compute NEG market
access ``MA_i = sum_j Y_j G_j^(sigma-1) T_ij^(1-sigma)``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from iptown_gis.errors import ColumnError, DependencyError, NetworkError, ParameterError
from iptown_gis.neg.config import NEGConfig
from iptown_gis.neg.diagrams import write_diagram
from iptown_gis.neg.model import FloatArray, observed_shares
from iptown_gis.neg.scenarios import run_scenarios, scenario_mobility, scenario_table, write_scenarios
from iptown_gis.neg.sweeps import neg_bifurcation
from iptown_gis.progress import Progress
from iptown_gis.stage_results import NEGResult

__all__ = ["qsm_scenarios_from_config", "region_costs", "run", "run_fkv", "run_qsm", "seat_costs"]

log = logging.getLogger(__name__)


def _shares(values: Any, name: str) -> FloatArray:
    """:func:`iptown_gis.neg.model.observed_shares` with the ``[neg]`` section in the message."""
    return observed_shares(values, name=f"[neg] {name}")


def region_costs(ctx: Any, cfg: NEGConfig, seats: Any) -> FloatArray:
    """Travel minutes between the regions' seats, in the order of ``seats``.

    Uses ``ctx.network.seat_od`` when present, otherwise builds the network from the
    ``roads`` input (``cost = "network"``) or uses crow-fly distances (``cost = "euclidean"``);
    see :func:`seat_costs`.

    Parameters
    ----------
    ctx
        The study context (:class:`~iptown_gis.pipeline.StudyContext`): ``ctx.network.seat_od``
        and, without it, the ``roads`` layer are read.
    cfg
        The ``[neg]`` settings: ``cost``, ``id_field`` and ``euclidean_speed_kmh`` are used.
    seats
        One point per region (metric CRS) with the ``cfg.id_field`` column.

    Returns
    -------
    numpy.ndarray
        ``(R, R)`` minutes with a zero diagonal.

    Raises
    ------
    NetworkError
        A region seat is missing from the OD matrix or unreachable.
    DependencyError
        ``cost = "network"`` without the network package.
    """
    od = None
    if cfg.cost == "network":
        od = ctx.network.seat_od if ctx.network is not None else None
        if od is None:
            try:
                from iptown_gis.network import build_network, od_matrix
            except ImportError as exc:
                raise DependencyError("[neg] needs seat travel times: run the network stage or install "
                                      "iptown_gis.network (or set [neg] cost = 'euclidean')") from exc
            log.info("neg: no seat_od from the network stage; building the road network")
            od = od_matrix(build_network(ctx.layer("roads")), seats, id_field=cfg.id_field, weight="time")
    return seat_costs(cfg, seats, od)


def seat_costs(cfg: NEGConfig, seats: Any, seat_od: Any = None) -> FloatArray:
    """Travel minutes between the regions' seats (in the order of ``seats``) from a given seat OD matrix.

    Parameters
    ----------
    cfg
        The ``[neg]`` settings: ``cost``, ``id_field`` and ``euclidean_speed_kmh`` are used.
    seats
        One point per region (metric CRS) with the ``cfg.id_field`` column.
    seat_od
        ``cost = "network"``: an :class:`~iptown_gis.network.od.ODMatrix` (minutes) whose
        origins and destinations include every seat id; unused for ``cost = "euclidean"``
        (crow-fly minutes at ``cfg.euclidean_speed_kmh``).

    Returns
    -------
    numpy.ndarray
        ``(R, R)`` minutes with a zero diagonal.

    Raises
    ------
    ParameterError
        ``cost = "network"`` without ``seat_od``.
    NetworkError
        A region seat is missing from the OD matrix or unreachable.
    """
    ids = [str(v) for v in seats[cfg.id_field]]
    if cfg.cost == "euclidean":
        xy = np.column_stack([seats.geometry.x, seats.geometry.y])
        km = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)) / 1000.0
        return km / cfg.euclidean_speed_kmh * 60.0
    if seat_od is None:
        raise ParameterError("[neg] network costs need the seat OD matrix (travel minutes between the "
                             "seats): compute it from the roads, or set [neg] cost = 'euclidean'")
    oi = {str(v): i for i, v in enumerate(seat_od.origin_ids)}
    di = {str(v): i for i, v in enumerate(seat_od.destination_ids)}
    missing = [r for r in ids if r not in oi or r not in di]
    if missing:
        raise NetworkError(f"[neg] region seats {missing[:10]} are not in the seat OD matrix "
                           "(check [neg] regions / id_field)")
    rows = [oi[r] for r in ids]
    cols = [di[r] for r in ids]
    c = np.asarray(seat_od.values, dtype=np.float64)[np.ix_(rows, cols)]
    np.fill_diagonal(c, 0.0)
    if np.isnan(c).any():
        i, j = (int(v) for v in np.argwhere(np.isnan(c))[0])
        raise NetworkError(f"[neg] seat {ids[i]} cannot reach seat {ids[j]} on the network: connect it "
                           "or drop the region")
    return c


def run(ctx: Any, progress: Progress) -> None:
    """Run the ``[neg]`` section of the study (see module docstring)."""
    cfg: NEGConfig = ctx.scenario.section("neg")
    if cfg is None:
        raise ParameterError("the scenario has no [neg] section")
    if cfg.model == "qsm":
        run_qsm(ctx, cfg, progress)
        return
    run_fkv(ctx, cfg, progress)


def run_fkv(ctx: Any, cfg: NEGConfig, progress: Progress) -> None:
    """The FKV core-periphery long run of every scenario (``[neg] model = "fkv"``).

    Writes the scenario files (:func:`~iptown_gis.neg.scenarios.write_scenarios`) and, with
    ``bifurcation_taus``, the bifurcation diagram into ``neg/``, registers them with
    ``ctx.add_output`` and sets ``ctx.neg`` (model ``"fkv"``).

    Parameters
    ----------
    ctx
        The study context: its layers (``cfg.regions``, ``cfg.polygons``, links layers), output
        paths and ``executor`` (one task per scenario when set) are used.
    cfg
        The ``[neg]`` settings and scenarios.
    progress
        Progress of the stage (travel costs, the scenarios, the diagram).

    Raises
    ------
    ColumnError
        Duplicate region ids, a bad share field, a polygon join that fails.
    NetworkError, DependencyError
        Seat travel costs cannot be computed (:func:`region_costs`).
    ScenarioError, ParameterError, ConvergenceError
        From the scenarios (:func:`~iptown_gis.neg.scenarios.run_scenarios`).
    """
    seats = ctx.layer(cfg.regions)
    ids = [str(v) for v in seats[cfg.id_field]]
    if len(set(ids)) != len(ids):
        raise ColumnError(f"[neg] {cfg.regions}.{cfg.id_field} has duplicate ids")
    names = [str(v) for v in seats[cfg.name_field]] if cfg.name_field else ids
    lam0 = _shares(seats[cfg.mobile_field], "mobile_field") if cfg.mobile_field else None
    phi = _shares(seats[cfg.immobile_field], "immobile_field") if cfg.immobile_field else None
    progress.update(0.02, "neg: travel costs")
    cost = region_costs(ctx, cfg, seats)
    layers = {s.links_layer: ctx.layer(s.links_layer) for s in cfg.scenarios if s.links_layer}
    ex = getattr(ctx, "executor", None)
    # with an executor (iptown run --workers N) one task per scenario; the same results
    results = run_scenarios(cost, region_ids=ids, config=cfg, lam0=lam0, phi=phi, seats=seats,
                            layers=layers, executor=ex, progress=progress.sub(0.05, 0.8))
    table = scenario_table(results, region_ids=ids, names=names, lam0=lam0)
    out = ctx.path("neg", "x").parent
    polys = ctx.layer(cfg.polygons) if cfg.polygons else None
    for path, kind in write_scenarios(table, out, polygons=polys, polygon_id_field=cfg.polygon_id_field,
                                      title=f"NEG scenarios: {ctx.scenario.study.name}"):
        ctx.add_output(path, stage="neg", kind=kind, description="NEG scenario results")
    if cfg.bifurcation_taus:
        # the diagram runs the baseline scenario's dynamics (moving costs, barriers, congestion);
        # with an executor one task per tau (neg_bifurcation calls bifurcation itself without one)
        base_sc = next((s for s in cfg.scenarios if s.name == "baseline"), None)
        mob = scenario_mobility(cfg, base_sc, cost, ids) if base_sc is not None else None
        df = neg_bifurcation(cost, cfg.bifurcation_taus, sigma=cfg.sigma, mu=cfg.mu, phi=phi, lam0=lam0,
                             mobility=mob, region_ids=ids, executor=ex, progress=progress.sub(0.8, 0.98))
        for p in write_diagram(df, out, "bifurcation", kind="bifurcation"):
            ctx.add_output(p, stage="neg", kind="diagram", description="long-run shares over tau")

    def pack(name: str) -> dict[str, Any]:
        t = table[table["scenario"] == name]
        return {k: t[k].to_numpy(dtype=np.float64) for k in
                ("share", "wage", "price_index", "income", "real_wage", "utility", "d_share",
                 "d_real_wage_pct")} | {"stable": bool(t["stable"].all()), "tau": results[name].tau}

    base = pack("baseline")
    ctx.neg = NEGResult(
        region_ids=ids, names=names, shares=base["share"], price_index=base["price_index"],
        income=base["income"], wage=base["wage"], real_wage=base["real_wage"],
        tau=cfg.tau, sigma=cfg.sigma, mu=cfg.mu, cost_minutes=cost,
        observed_shares=lam0, scenarios={n: pack(n) for n in results}, model="fkv",
    )
    progress.update(1.0, "neg: done")


_FKV_ONLY = ("moving_cost", "moving_cost_per_hour", "barrier", "congestion", "tau")


def _positive(values: Any, name: str) -> FloatArray:
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v) | (v <= 0)
    if bad.any():
        raise ColumnError(f"[neg] {name} needs a positive value for every region; {int(bad.sum())} are "
                          f"missing or <= 0 (first at row {int(np.argmax(bad))})")
    return v


def _areas(ctx: Any, cfg: NEGConfig, seats: Any, ids: list[str], id_field: str, polygons: str | None,
           polygon_id_field: str, area_field: str | None) -> FloatArray | None:
    """Region areas (km2) for the internal trip times: ``area_field``, else polygon areas, else None."""
    if area_field is not None:
        return _positive(seats[area_field], f"{area_field} (area_field)")
    if polygons is None:
        return None
    polys = ctx.layer(polygons)
    if polygon_id_field not in polys.columns:
        raise ColumnError(f"[neg] {polygons} has no column {polygon_id_field!r}; columns: {list(polys.columns)}")
    from iptown_gis.crs.metric import require_crs

    require_crs(polys, name=f"[neg] {polygons}")
    if polys.crs.is_geographic:
        from iptown_gis.errors import CRSError

        raise CRSError(f"[neg] {polygons} is in degrees ({polys.crs}): set [study] crs to a metric CRS")
    area = dict(zip(polys[polygon_id_field].astype(str), polys.geometry.area / 1e6, strict=True))
    missing = [r for r in ids if r not in area]
    if missing:
        log.warning("neg: %d regions have no polygon in %s (e.g. %s): internal times from the nearest seat",
                    len(missing), polygons, missing[:5])
        return None
    return np.array([area[r] for r in ids])


def qsm_scenarios_from_config(cfg: NEGConfig, cost: FloatArray, ids: list[str], *, seats: Any = None,
                              layers: dict[str, Any] | None = None,
                              id_map: dict[str, str] | None = None) -> list[Any]:
    """The ``[[neg.scenarios]]`` as :class:`~iptown_gis.neg.qsm_scenarios.QSMScenario` on ``cost``.

    ``id_map`` translates region ids of links / amenities (e.g. prefecture -> the county
    holding its seat) for a run on finer regions.

    Parameters
    ----------
    cfg
        The ``[neg]`` settings; its ``scenarios`` are translated (``id_field`` names the seats'
        id column for line links).
    cost
        ``(R, R)`` baseline seat-to-seat minutes the links are applied to.
    ids
        Region ids in the order of ``cost``'s rows.
    seats
        Region seat points (metric CRS), needed by a scenario with ``links_layer``.
    layers
        Input layers by name, for ``links_layer`` (``None``: none available).
    id_map
        Region id -> id used here, applied to link and amenity ids (``None``: ids as given).

    Returns
    -------
    list of QSMScenario
        One per ``[[neg.scenarios]]`` entry, in order: new minutes (``None`` without links),
        ``amenity_hat = 1 + premium`` by region, the migration cost factor, and the FKV-only
        settings it sets in ``ignored``.

    Raises
    ------
    ScenarioError
        Unknown region ids, an unavailable ``links_layer``.
    """
    from iptown_gis.errors import ScenarioError
    from iptown_gis.neg.qsm_scenarios import QSMScenario
    from iptown_gis.neg.scenarios import apply_line_links, apply_pair_links

    def tr(rid: str) -> str:
        return id_map.get(str(rid), str(rid)) if id_map else str(rid)

    idx = {r: i for i, r in enumerate(ids)}
    out = []
    for sc in cfg.scenarios:
        c = None
        if sc.links:
            c = apply_pair_links(cost, ids, [[tr(a), tr(b)] for a, b in sc.links], factor=sc.link_factor)
        if sc.links_layer:
            if layers is None or sc.links_layer not in layers or seats is None:
                raise ScenarioError(f"[neg] scenario {sc.name!r}: links_layer {sc.links_layer!r} is not "
                                    "available (add it to [inputs])")
            c = apply_line_links(cost if c is None else c, seats, layers[sc.links_layer], id_field=cfg.id_field,
                                 speed_kmh=sc.link_speed_kmh, access_min=sc.link_access_min,
                                 snap_km=sc.link_snap_km, region_ids=ids)
        bhat = None
        if sc.amenity:
            bhat = np.ones(len(ids))
            for rid, a in sc.amenity.items():
                key = tr(rid)
                if key not in idx:
                    raise ScenarioError(f"[neg] scenario {sc.name!r}: amenity for unknown region id {rid!r}; "
                                        f"ids are: {', '.join(ids[:20])}")
                bhat[idx[key]] *= 1.0 + a
        ignored = tuple(k for k in _FKV_ONLY if getattr(sc, k) is not None)
        out.append(QSMScenario(name=sc.name, description=sc.description, minutes=c, amenity_hat=bhat,
                               migration_cost_factor=sc.migration_cost_factor, ignored=ignored))
    return out


def _county_id_map(ctx: Any, cfg: NEGConfig, counties: Any, cids: list[str]) -> dict[str, str]:
    """Region id -> the finer region whose seat is nearest the region's seat (same parent)."""
    regions = ctx.layer(cfg.regions)
    parent = [str(v) for v in counties[cfg.county_parent_field]]
    cx, cy = np.asarray(counties.geometry.x), np.asarray(counties.geometry.y)
    out: dict[str, str] = {}
    for rid, g in zip((str(v) for v in regions[cfg.id_field]), regions.geometry, strict=True):
        sel = np.array([p == rid for p in parent])
        if not sel.any():
            continue
        d = np.hypot(cx - g.x, cy - g.y)
        d[~sel] = np.inf
        out[rid] = cids[int(np.argmin(d))]
    return out


def _qsm_regions(ctx: Any, cfg: NEGConfig, layer: str, polygons: str | None, progress: Progress,
                 *, id_map_for: bool, out: Any, title: str, prefix: str = "") -> dict[str, Any]:
    """Calibrate, run the scenarios, bands, tornado and validation on the regions of ``layer``."""
    from iptown_gis.neg.qsm import (
        QSMParams,
        internal_minutes,
        market_access,
        migration_cost_for_stay_share,
        stay_share,
    )
    from iptown_gis.neg.qsm_scenarios import (
        PARAM_RANGES,
        check_region_index,
        qsm_bands,
        qsm_table,
        qsm_tornado,
        qsm_validation,
        run_qsm_scenarios,
        write_qsm_extras,
    )
    from iptown_gis.neg.scenarios import write_scenarios

    seats = ctx.layer(layer)
    for fld, key in ((cfg.id_field, "id_field"), (cfg.population_field, "population_field"),
                     (cfg.gdp_field, "gdp_field")):
        if fld is None:
            raise ParameterError(f"[neg] model = 'qsm' needs {key} (observed data by region)")
        if fld not in seats.columns:
            raise ColumnError(f"[neg] {layer} has no column {fld!r} ({key}); columns: {list(seats.columns)}")
    ids = [str(v) for v in seats[cfg.id_field]]
    if len(set(ids)) != len(ids):
        raise ColumnError(f"[neg] {layer}.{cfg.id_field} has duplicate ids")
    names = [str(v) for v in seats[cfg.name_field]] if cfg.name_field and cfg.name_field in seats.columns else ids
    pop = _positive(seats[cfg.population_field], f"{layer}.{cfg.population_field} (population_field)")
    gdp = _positive(seats[cfg.gdp_field], f"{layer}.{cfg.gdp_field} (gdp_field)")
    progress.update(0.02, "neg: travel costs")
    cost = region_costs(ctx, cfg, seats)
    area = _areas(ctx, cfg, seats, ids, cfg.id_field, polygons, cfg.polygon_id_field, cfg.area_field
                  if not id_map_for else None)
    minutes = internal_minutes(cost, area_km2=area, speed_kmh=cfg.euclidean_speed_kmh)
    layers = {s.links_layer: ctx.layer(s.links_layer) for s in cfg.scenarios if s.links_layer}
    id_map = _county_id_map(ctx, cfg, seats, ids) if id_map_for else None
    scs = qsm_scenarios_from_config(cfg, cost, ids, seats=seats, layers=layers, id_map=id_map)
    mcost = cfg.migration_cost
    if mcost is None:
        mcost = migration_cost_for_stay_share(pop, cfg.stay_share, epsilon=cfg.migration_elasticity)
    params = QSMParams(trade_elasticity=cfg.trade_elasticity, alpha=cfg.alpha, epsilon=cfg.migration_elasticity,
                       distance_elasticity=cfg.distance_elasticity, migration_cost=mcost)
    central = {"trade_elasticity": params.trade_elasticity, "distance_elasticity": params.distance_elasticity,
               "alpha": params.alpha, "epsilon": params.epsilon,
               "stay_share": stay_share(pop, epsilon=params.epsilon, migration_cost=mcost)}
    progress.update(0.08, "neg: calibrating the spatial model")
    base, results = run_qsm_scenarios(pop, gdp, minutes, scs, params=params)
    table = qsm_table(base, results, region_ids=ids, names=names)
    ex = getattr(ctx, "executor", None)
    seed = cfg.band_seed if cfg.band_seed is not None else int(getattr(ctx.scenario.study, "seed", 0))
    bands: dict[str, dict[str, FloatArray]] = {}
    if cfg.band_draws > 0:
        bands = qsm_bands(pop, gdp, minutes, scs, params=params, draws=max(cfg.band_draws, 2), seed=seed,
                          executor=ex, progress=progress.sub(0.1, 0.75))
        for col in ("d_share", "d_welfare_pct", "d_real_wage_pct", "d_welfare_total_pct"):
            for q in ("p5", "p50", "p95"):
                vals = np.concatenate([np.broadcast_to(bands[s][f"{col}_{q}"], (len(ids),))
                                       for s in table["scenario"].unique()])
                table[f"{col}_{q}"] = vals
    track = cfg.tornado_region if cfg.tornado_region is not None else ids[int(np.argmax(pop))]
    if id_map and track in id_map:
        track = id_map[track]
    tidx = check_region_index(ids, track)
    tornado = qsm_tornado(pop, gdp, minutes, scs, params=params, region_index=tidx, central=central, executor=ex,
                          progress=progress.sub(0.75, 0.9))
    validation = qsm_validation(base) | {"region_layer": layer}
    vtable = pd.DataFrame({"region_id": ids, "name": names, "population": pop, "gdp": gdp,
                           "gdp_per_person": base.wage, "market_access": market_access(base),
                           "market_access_external": market_access(base, own=False),
                           "productivity": base.productivity, "amenity": base.amenity})
    polys = ctx.layer(polygons) if polygons else None
    pdict = {"model": "qsm", "regions": layer, **central, "migration_cost": mcost,
             "sigma": params.sigma, "time_elasticity_phi": params.phi, "unique_condition": params.unique,
             "ranges": {k: {"central": r.central, "low": r.low, "high": r.high, "source": r.source}
                        for k, r in PARAM_RANGES.items()},
             "band_draws": cfg.band_draws, "band_seed": seed,
             "baseline_max_share_error": float(np.max(np.abs(results["baseline"].shares - base.shares)))}
    written = write_scenarios(table, out, polygons=polys, polygon_id_field=cfg.polygon_id_field, title=title,
                              prefix=prefix)
    written += write_qsm_extras(out, tornado=tornado, validation=validation, validation_table=vtable,
                                params=pdict, title=title, prefix=prefix)
    for path, kind in written:
        ctx.add_output(path, stage="neg", kind=kind, description=f"QSM scenario results ({layer})")

    def pack(name: str) -> dict[str, Any]:
        t = table[table["scenario"] == name]
        cols = [c for c in t.columns if c not in ("scenario", "region_id", "name", "model", "stable", "tau")]
        d: dict[str, Any] = {k: t[k].to_numpy(dtype=np.float64) for k in cols}
        d["stable"] = bool(t["stable"].all())
        d["tau"] = float("nan")
        d["welfare_total_pct"] = float(t["d_welfare_total_pct"].iloc[0])
        for q in ("p5", "p50", "p95"):
            if f"d_welfare_total_pct_{q}" in t:
                d[f"welfare_total_pct_{q}"] = float(t[f"d_welfare_total_pct_{q}"].iloc[0])
        return d

    scen = {n: pack(n) for n in results}
    w0 = base.shares
    return {
        "region_ids": ids, "names": names, "shares": w0, "observed_shares": w0.copy(),
        "price_index": base.price_index / float((w0 * base.price_index).sum()), "income": gdp,
        "wage": base.wage, "real_wage": base.real_income / float((w0 * base.real_income).sum()),
        "cost_minutes": cost, "scenarios": scen, "params": pdict, "validation": validation,
        "tornado": tornado, "tornado_region": track,
        "summary": {
            "model": "qsm", "regions": len(ids),
            "baseline_max_share_error": pdict["baseline_max_share_error"],
            "wage_equation_elasticity": validation["own"]["elasticity"],
            "wage_equation_se": validation["own"]["se"], "wage_equation_r2": validation["own"]["r2"],
            **{f"{n}_welfare_pct": scen[n]["welfare_total_pct"] for n in scen if n != "baseline"},
            **{f"{n}_welfare_pct_{q}": scen[n][f"welfare_total_pct_{q}"] for n in scen if n != "baseline"
               for q in ("p5", "p95") if f"welfare_total_pct_{q}" in scen[n]},
        },
    }


def run_qsm(ctx: Any, cfg: NEGConfig, progress: Progress) -> None:
    """The calibrated quantitative spatial model (``[neg] model = "qsm"``, the default).

    Sets ``ctx.neg`` (:class:`~iptown_gis.stage_results.NEGResult`) with the fields of the FKV
    run (baseline = today's data) plus ``model``, ``params``, ``validation``, ``tornado``, ``summary`` and, with
    ``county_regions``, ``counties`` (the same dict for the finer regions); writes ``neg/``
    (the finer regions' files with the prefix ``counties_``).

    Parameters
    ----------
    ctx
        The study context: its layers (``cfg.regions``, polygons, ``county_regions``, links
        layers), output paths, ``executor`` (bands and tornado draws as tasks) and the study
        seed (the bands' seed unless ``band_seed`` is set) are used.
    cfg
        The ``[neg]`` settings and scenarios.
    progress
        Progress of the stage (calibration, bands, tornado, counties, diagram).

    Raises
    ------
    ParameterError
        ``id_field``, ``population_field`` or ``gdp_field`` not set.
    ColumnError
        A field is missing, ids repeat, or populations / GDP are not all positive.
    ScenarioError
        Unknown region ids in the scenarios or ``tornado_region``; an unavailable links layer.
    ConvergenceError
        The calibration or a counterfactual does not converge.
    """
    out = ctx.path("neg", "x").parent
    title = f"NEG (QSM) scenarios: {ctx.scenario.study.name}"
    sub = progress.sub(0.0, 0.5 if cfg.county_regions else 0.9)
    res = _qsm_regions(ctx, cfg, cfg.regions, cfg.polygons, sub, id_map_for=False, out=out, title=title)
    res.update({"tau": cfg.tau, "sigma": 1.0 + cfg.trade_elasticity, "mu": cfg.alpha, "model": "qsm"})
    if cfg.county_regions:
        cres = _qsm_regions(ctx, cfg, cfg.county_regions, cfg.county_polygons, progress.sub(0.5, 0.9),
                            id_map_for=True, out=out, title=title + " (counties)", prefix="counties_")
        res["counties"] = cres
        res["summary"] |= {f"counties_{k}": v for k, v in cres["summary"].items() if k != "model"}
    _fkv_diagram(ctx, cfg, progress.sub(0.9, 0.99))
    # NEGResult reads with the summary first: the report lists a result's first scalars (report/catalogue.py)
    ctx.neg = NEGResult.from_dict(res)
    progress.update(1.0, "neg: done")


def _fkv_diagram(ctx: Any, cfg: NEGConfig, progress: Progress) -> None:
    """The FKV bifurcation diagram over ``bifurcation_taus`` (a theory output kept under ``qsm``)."""
    if not cfg.bifurcation_taus:
        return
    seats = ctx.layer(cfg.regions)
    ids = [str(v) for v in seats[cfg.id_field]]
    lam0 = _shares(seats[cfg.mobile_field], "mobile_field") if cfg.mobile_field else None
    phi = _shares(seats[cfg.immobile_field], "immobile_field") if cfg.immobile_field else None
    cost = region_costs(ctx, cfg, seats)
    ex = getattr(ctx, "executor", None)
    # the baseline scenario's FKV dynamics (moving costs, barriers, congestion), as under model = "fkv"
    base = next((s for s in cfg.scenarios if s.name == "baseline"), None)
    mob = scenario_mobility(cfg, base, cost, ids) if base is not None else None
    df = neg_bifurcation(cost, cfg.bifurcation_taus, sigma=cfg.sigma, mu=cfg.mu, phi=phi, lam0=lam0,
                         mobility=mob, region_ids=ids, executor=ex, progress=progress)
    for p in write_diagram(df, ctx.path("neg", "x").parent, "bifurcation", kind="bifurcation"):
        ctx.add_output(p, stage="neg", kind="diagram", description="FKV long-run shares over tau (theory)")
