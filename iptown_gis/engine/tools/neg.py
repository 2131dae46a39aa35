"""NEG algorithms: core-periphery simulation on real regions, break points and bifurcation
(:mod:`iptown_gis.neg`).

Both algorithms read the regions the same way: ``REGIONS`` (one point per region, e.g. the
prefecture seats) with a unique ``ID_FIELD``, an optional ``NAME_FIELD``, mobile shares (the
start of the dynamics) from ``MOBILE_FIELD`` and immobile (agricultural) shares from
``IMMOBILE_FIELD`` (empty fields: equal shares). Travel costs (``COST``) are minutes over the
road network (``network``: give ``ROADS``; the network parameters are those of
``buildnetwork``) or crow-fly at ``SPEED`` km/h (``euclidean``); the trade cost is
``T = exp(tau * minutes)``.
"""

from __future__ import annotations

import logging
from typing import Any

from iptown_gis.engine.params import Params
from iptown_gis.engine.tools import tool
from iptown_gis.engine.tools.network import NETWORK_DEFAULTS
from iptown_gis.neg.config import NEGConfig

log = logging.getLogger(__name__)

COSTS = ("network", "euclidean")

_D = NEGConfig.model_fields

#: The region and travel-cost parameters shared by both NEG algorithms.
REGION_DEFAULTS: dict[str, Any] = {"COST": "network", "SPEED": _D["euclidean_speed_kmh"].default,
                                   **NETWORK_DEFAULTS}

#: What the user sees for each region parameter (QGIS labels), for messages.
LABELS = {
    "REGIONS": "Regions (one point each)",
    "ID_FIELD": "Region id field",
    "NAME_FIELD": "Region name field",
    "MOBILE_FIELD": "Mobile shares field (e.g. GDP; empty: equal)",
    "IMMOBILE_FIELD": "Immobile shares field (e.g. population; empty: equal)",
    "SIGMA": "σ elasticity of substitution",
    "MU": "μ expenditure share on manufactures",
    "TAU": "τ trade cost per minute of travel",
    "MOVING_COST": "Moving cost (utility gap needed to move)",
    "BARRIER": "Migration barrier (flow damping)",
    "CONGESTION": "Congestion of immobile factors (θ)",
    "SPEED": "Crow-fly speed (km/h, euclidean costs)",
}

#: NEGConfig field -> parameter key.
_CONFIG_KEYS = {"sigma": "SIGMA", "mu": "MU", "tau": "TAU", "moving_cost": "MOVING_COST", "barrier": "BARRIER",
                "congestion": "CONGESTION", "euclidean_speed_kmh": "SPEED"}


def _config(**values: Any) -> NEGConfig:
    """``NEGConfig(**values)``, its validation errors as :class:`ParameterError` naming the parameter."""
    import pydantic

    from iptown_gis.errors import ParameterError

    try:
        return NEGConfig(**values)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            key = _CONFIG_KEYS.get(field)
            what = f"'{LABELS[key]}' ({key})" if key else field
            problems.append(f"{what}: {err['msg']}")
        raise ParameterError("; ".join(problems)) from None


def regions_from_params(p: Params, *, progress: Any = None, **cfg_values: Any) -> tuple[Any, NEGConfig, Any]:
    """``(regions, NEGConfig, cost minutes)`` from the region parameters, by the library's own helpers.

    Parameters
    ----------
    p
        ``REGIONS``, ``ID_FIELD``, ``NAME_FIELD``, ``MOBILE_FIELD``, ``IMMOBILE_FIELD``, ``COST``,
        ``ROADS`` and the network parameters, ``SPEED``, ``METRIC_CRS``.
    progress
        Reporter for reading the layers and the seat OD matrix.
    cfg_values
        Further :class:`~iptown_gis.neg.config.NEGConfig` values (``sigma``, ``mu``, ...).

    Raises
    ------
    ParameterError
        No region id field; network costs without the road lines.
    ColumnError
        A field is not in the regions, or the region ids repeat.
    """
    from iptown_gis.engine.tools.network import build_from_params
    from iptown_gis.errors import ColumnError, ParameterError
    from iptown_gis.io.vector import check_columns
    from iptown_gis.neg.stage import seat_costs
    from iptown_gis.progress import as_progress

    prog = as_progress(progress).steps(3)
    id_field = p.text("ID_FIELD")
    if id_field is None:
        raise ParameterError("set the region id field")
    cost = p.choice("COST", COSTS)
    if cost == "network" and not p.has("ROADS"):
        raise ParameterError("network travel costs need the road lines: set 'Road lines' "
                             "(or choose euclidean costs)")
    cfg = _config(id_field=id_field, name_field=p.text("NAME_FIELD"), mobile_field=p.text("MOBILE_FIELD"),
                  immobile_field=p.text("IMMOBILE_FIELD"), polygons=None, cost=cost,
                  euclidean_speed_kmh=p.need_number("SPEED", minimum=0.1), **cfg_values)
    regions = p.vector("REGIONS", geom_types=("Point",))
    label = LABELS["REGIONS"]
    for key in ("ID_FIELD", "NAME_FIELD", "MOBILE_FIELD", "IMMOBILE_FIELD"):
        fld = p.text(key)
        if fld is not None:
            check_columns(regions, [fld], name=f"{label}, {LABELS[key]}")
    ids = [str(v) for v in regions[id_field]]
    if len(set(ids)) != len(ids):
        dup = sorted({v for v in ids if ids.count(v) > 1})
        raise ColumnError(f"{LABELS['ID_FIELD']} '{id_field}' has duplicate ids {dup[:10]}: give a unique id "
                          "per region")
    prog[0].update(1.0, "regions read")
    od = None
    if cost == "network":
        from iptown_gis.network import od_matrix

        roads = p.vector("ROADS", crs=regions.crs, geom_types=("LineString",))
        net = build_from_params(p, roads=roads, progress=prog[1])
        od = od_matrix(net, regions, id_field=id_field, weight="time", largest_component=True, progress=prog[2])
    minutes = seat_costs(cfg, regions, od)
    prog[2].update(1.0, "travel costs")
    return regions, cfg, minutes


def shares_from_params(regions: Any, field: str | None, key: str) -> Any:
    """Shares from column ``field`` (parameter ``key``); ``None`` (equal shares) without a field.

    Parameters
    ----------
    regions
        The regions GeoDataFrame (one row per region).
    field
        The column holding the raw values (e.g. GDP or population); ``None`` or ``""``: no field.
    key
        The parameter the field came from (``"MOBILE_FIELD"`` or ``"IMMOBILE_FIELD"``), which
        names the field in error messages.

    Returns
    -------
    numpy.ndarray or None
        The column normalised to shares summing to 1 (:func:`iptown_gis.neg.observed_shares`),
        or ``None`` without a field.

    Raises
    ------
    ColumnError
        A value is NaN, infinite or negative, or all values are zero.
    """
    from iptown_gis.neg import observed_shares

    if not field:
        return None
    return observed_shares(regions[field], name=f"{LABELS[key]} '{field}'")


@tool("negsimulation", defaults={
    **REGION_DEFAULTS, "SIGMA": _D["sigma"].default, "MU": _D["mu"].default, "TAU": _D["tau"].default,
    "MOVING_COST": _D["moving_cost"].default, "BARRIER": _D["barrier"].default,
    "CONGESTION": _D["congestion"].default})
def negsimulation(p: Params) -> dict[str, Any]:
    """Core-periphery simulation: where footloose activity settles among real regions in the long run.

    The Fujita-Krugman-Venables model: ``SIGMA`` elasticity of substitution, ``MU`` expenditure
    share on manufactures, ``TAU`` trade cost per minute, plus migration frictions
    (``MOVING_COST``, ``BARRIER``: hukou) and ``CONGESTION``. Starting from the observed shares,
    the replicator dynamics run to a stable long-run equilibrium. Check sigma (1 - mu) > 1 (no
    black hole).

    Parameters
    ----------
    p
        The regions (see the module), ``SIGMA``, ``MU``, ``TAU``, ``MOVING_COST``, ``BARRIER``,
        ``CONGESTION``.

    Returns
    -------
    dict
        ``OUTPUT``: the GeoPackage written (layer ``neg``): the region points with
        observed_share, share (long run), d_share (share - observed), wage, price_index,
        income, real_wage, utility and stable.
    """
    from iptown_gis.neg.config import NEGScenario
    from iptown_gis.neg.scenarios import run_scenarios, scenario_table

    steps = p.progress.steps(3)
    regions, cfg, minutes = regions_from_params(
        p, progress=steps[0],
        sigma=p.need_number("SIGMA", minimum=1.0001), mu=p.need_number("MU", minimum=0.0001, maximum=0.9999),
        tau=p.need_number("TAU", minimum=0.0), moving_cost=p.need_number("MOVING_COST", minimum=0.0),
        barrier=p.need_number("BARRIER", minimum=0.0), congestion=p.need_number("CONGESTION", minimum=0.0),
        scenarios=[NEGScenario(name="baseline")])
    ids = [str(v) for v in regions[cfg.id_field]]
    names = [str(v) for v in regions[cfg.name_field]] if cfg.name_field else ids
    lam0 = shares_from_params(regions, cfg.mobile_field, "MOBILE_FIELD")
    phi = shares_from_params(regions, cfg.immobile_field, "IMMOBILE_FIELD")
    results = run_scenarios(minutes, region_ids=ids, config=cfg, lam0=lam0, phi=phi, seats=regions,
                            progress=steps[1])
    table = scenario_table(results, region_ids=ids, names=names, lam0=lam0)
    table = table.drop(columns=["scenario", "d_real_wage_pct"])
    if lam0 is not None:
        table["d_share"] = table["share"] - table["observed_share"]
    out = regions[[regions.geometry.name]].copy()
    for col in table.columns:
        out[col] = table[col].to_numpy()
    result = {"OUTPUT": p.write_vector("OUTPUT", out, layer="neg")}
    steps[2].update(1.0, "written")
    return result


@tool("breakpoints", defaults={**REGION_DEFAULTS, "SIGMA": 5.0, "MU": 0.4, "T_MIN": 1.05, "T_MAX": 2.5,
                               "N_T": 120})
def breakpoints(p: Params) -> dict[str, Any]:
    """Break and sustain points of the two-region model, its tomahawk diagram, and a bifurcation diagram.

    The break point T_B (below it the symmetric two-region equilibrium is stable; above it
    agglomeration starts) and the sustain point T_S (above it a core-periphery pattern
    survives), solved numerically from the general R-region model (sigma = 5, mu = 0.4 gives
    T_B = 1.627, T_S = 1.807), and the tomahawk diagram: every two-region equilibrium over
    trade costs T from ``T_MIN`` to ``T_MAX`` (``N_T`` values) with its stability. Optionally,
    with the regions and a list of ``TAUS``, the bifurcation diagram of the real regions: the
    long-run share of each region at each tau.

    Parameters
    ----------
    p
        ``SIGMA``, ``MU``, ``T_MIN``, ``T_MAX``, ``N_T``; for the bifurcation diagram ``TAUS``
        (``"0.002, 0.004"`` or a list) and the regions (see the module).

    Returns
    -------
    dict
        ``OUTPUT``: the tomahawk table (GeoPackage layer ``tomahawk``: T, lambda1, kind,
        stable, max_eigenvalue); ``OUTPUT_BIFURCATION`` (when the job names it and gives
        ``TAUS``): the bifurcation table (layer ``bifurcation``: tau, region, share,
        real_wage, stable, max_eigenvalue); ``BREAK_POINT`` and ``SUSTAIN_POINT`` (numbers).

    Raises
    ------
    ParameterError
        ``TAUS`` without the regions.
    """
    from iptown_gis.errors import ParameterError
    from iptown_gis.neg.breakpoints import break_point, sustain_point
    from iptown_gis.neg.diagrams import bifurcation, tomahawk

    sigma = p.need_number("SIGMA", minimum=1.0001)
    mu = p.need_number("MU", minimum=0.0001, maximum=0.9999)
    t_range = (p.need_number("T_MIN", minimum=1.0), p.need_number("T_MAX", minimum=1.0))
    n_t = p.need_integer("N_T", minimum=2)
    taus = p.numbers("TAUS", what="τ values")
    if taus and not p.has("REGIONS"):
        raise ParameterError("a bifurcation diagram needs the regions (and their id field)")
    want_bif = bool(taus) and p.output("OUTPUT_BIFURCATION", required=False) is not None
    if taus and not want_bif:
        log.info("τ values given but no bifurcation output (OUTPUT_BIFURCATION): no bifurcation diagram")
    steps = p.progress.steps(4 if want_bif else 3)
    tb = break_point(sigma, mu, progress=steps[0])
    ts = sustain_point(sigma, mu, progress=steps[1])
    log.info("break point T_B = %.4f, sustain point T_S = %.4f", tb, ts)
    df = tomahawk(sigma, mu, T_range=t_range, n_T=n_t, progress=steps[2])
    result: dict[str, Any] = {"BREAK_POINT": tb, "SUSTAIN_POINT": ts,
                              "OUTPUT": p.write_table("OUTPUT", df, layer="tomahawk")}
    if want_bif:
        bsteps = steps[3].steps(2)
        regions, cfg, minutes = regions_from_params(p, progress=bsteps[0], sigma=sigma, mu=mu)
        ids = [str(v) for v in regions[cfg.id_field]]
        bif = bifurcation(minutes, taus, sigma=sigma, mu=mu,
                          phi=shares_from_params(regions, cfg.immobile_field, "IMMOBILE_FIELD"),
                          lam0=shares_from_params(regions, cfg.mobile_field, "MOBILE_FIELD"), region_ids=ids,
                          progress=bsteps[1])
        result["OUTPUT_BIFURCATION"] = p.write_table("OUTPUT_BIFURCATION", bif, layer="bifurcation")
    return result
