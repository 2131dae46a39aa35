"""Pipeline stage ``neg``: the Anhui core-periphery scenarios on the network's seat costs.

Reads ``ctx.results["seat_od"]`` (from the network stage; computed here from the roads when
the stage runs alone), selects the regions of ``[neg] regions``, runs every scenario and
writes ``neg/`` outputs. Puts ``ctx.results["neg"]``::

    {"region_ids", "names", "shares", "price_index", "income", "wage", "real_wage",
     "tau", "sigma", "mu", "cost_minutes", "scenarios": {name: {same keys, "d_share",
     "d_real_wage_pct", "stable"}}}

(baseline values at the top level) so the surfaces stage can compute NEG market access
``MA_i = sum_j Y_j G_j^(sigma-1) T_ij^(1-sigma)``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from iptown_gis.errors import ColumnError, DependencyError, NetworkError, ParameterError
from iptown_gis.neg.config import NEGConfig
from iptown_gis.neg.diagrams import write_diagram
from iptown_gis.neg.model import FloatArray, observed_shares
from iptown_gis.neg.scenarios import run_scenarios, scenario_mobility, scenario_table, write_scenarios
from iptown_gis.neg.sweeps import neg_bifurcation
from iptown_gis.progress import Progress

__all__ = ["region_costs", "run", "seat_costs"]

log = logging.getLogger(__name__)


def _shares(values: Any, name: str) -> FloatArray:
    """:func:`iptown_gis.neg.model.observed_shares` with the ``[neg]`` section in the message."""
    return observed_shares(values, name=f"[neg] {name}")


def region_costs(ctx: Any, cfg: NEGConfig, seats: Any) -> FloatArray:
    """Travel minutes between the regions' seats, in the order of ``seats``.

    Uses ``ctx.results["seat_od"]`` when present, otherwise builds the network from the
    ``roads`` input (``cost = "network"``) or uses crow-fly distances (``cost = "euclidean"``);
    see :func:`seat_costs`.

    Raises
    ------
    NetworkError
        A region seat is missing from the OD matrix or unreachable.
    DependencyError
        ``cost = "network"`` without the network package.
    """
    od = None
    if cfg.cost == "network":
        od = ctx.results.get("seat_od")
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
        mob = scenario_mobility(cfg, next(s for s in cfg.scenarios if s.name == "baseline"), cost, ids)
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
    ctx.results["neg"] = {
        "region_ids": ids, "names": names, "shares": base["share"], "price_index": base["price_index"],
        "income": base["income"], "wage": base["wage"], "real_wage": base["real_wage"],
        "tau": cfg.tau, "sigma": cfg.sigma, "mu": cfg.mu, "cost_minutes": cost,
        "observed_shares": lam0, "scenarios": {n: pack(n) for n in results},
    }
    progress.update(1.0, "neg: done")
