"""Policy scenarios on the calibrated quantitative spatial model, with uncertainty bands.

Plain arrays and small dataclasses in, tables and files out (the ``[neg]`` section is
translated by :mod:`iptown_gis.neg.stage`). Every scenario is a change from today's calibrated
baseline (:func:`iptown_gis.neg.qsm.calibrate`) solved by exact hat algebra
(:func:`iptown_gis.neg.qsm.counterfactual`):

* a new link = new seat-to-seat minutes (shortest paths recomputed by the caller);
* hukou reform = a lower log migration cost;
* a science-centre amenity = ``B_hat = 1 + premium`` in the named regions.

Bands: the baseline is re-calibrated and every scenario re-solved for each of ``draws`` Latin
hypercube draws (:class:`scipy.stats.qmc.LatinHypercube`, seeded) over the published parameter
ranges (:data:`PARAM_RANGES`), one task per draw on the executor (the same numbers for 1 and
N workers: every draw is a pure function of its parameters). A tornado varies one parameter
at a time to the ends of its range.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from iptown_gis.errors import ParameterError, ScenarioError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.neg.model import FloatArray
from iptown_gis.neg.qsm import (
    QSMBaseline,
    QSMParams,
    QSMResult,
    calibrate,
    counterfactual,
    market_access,
    migration_cost_for_stay_share,
    wage_equation,
)
from iptown_gis.parallel.executor import run_tasks
from iptown_gis.progress import Progress, ProgressCallback, as_progress

if TYPE_CHECKING:
    from iptown_gis.parallel.executor import DaskExecutor

__all__ = [
    "PARAM_RANGES",
    "ParamRange",
    "QSMScenario",
    "qsm_bands",
    "qsm_table",
    "qsm_tornado",
    "qsm_validation",
    "run_qsm_scenarios",
    "write_qsm_extras",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParamRange:
    """A parameter's central value and the published range carried into the bands."""

    central: float
    low: float
    high: float
    source: str

    def __post_init__(self) -> None:
        if not self.low <= self.central <= self.high:
            raise ParameterError(f"range [{self.low}, {self.high}] must contain the central value {self.central}")


#: Central values and ranges (docs/neg.md, "Parameters and their sources").
PARAM_RANGES: dict[str, ParamRange] = {
    "trade_elasticity": ParamRange(4.0, 3.0, 6.0, "Tombe & Zhu (2019, AER) 4; Simonovska & Waugh (2014, JIE) "
                                   "about 4; Redding (2016, JIE) sigma = 5; Head & Mayer (2014) about 5"),
    "distance_elasticity": ParamRange(1.0, 0.8, 1.2, "Head & Mayer (2014, Handbook of Int. Econ. 4) "
                                      "meta-analysis: about 0.9 (all) to 1.1 (structural gravity)"),
    "alpha": ParamRange(0.75, 0.65, 0.85, "Redding (2016, JIE) alpha = 0.75; Davis & Ortalo-Magne (2011, "
                        "RED) housing share about 0.24"),
    "epsilon": ParamRange(1.5, 1.0, 3.0, "Tombe & Zhu (2019, AER) migration elasticity 1.5; range used "
                          "up to the commuting-scale elasticities of Monte, Redding & Rossi-Hansberg (2018, AER)"),
    "stay_share": ParamRange(0.85, 0.7, 0.95, "assumption (share of registered residents living in their "
                             "home region; sets the log migration cost): range used"),
}

#: Range keys that are not :class:`QSMParams` fields but set one (``stay_share`` -> ``migration_cost``).
DERIVED = ("stay_share",)


@dataclass(frozen=True)
class QSMScenario:
    """One QSM scenario as changes to the baseline inputs (unset: unchanged).

    Attributes
    ----------
    minutes
        New off-diagonal travel minutes (the diagonal is ignored: internal times stay).
    amenity_hat
        ``B' / B`` by region.
    migration_cost_factor
        New log migration cost as a multiple of the baseline's (hukou reform: < 1).
    """

    name: str
    description: str = ""
    minutes: FloatArray | None = None
    amenity_hat: FloatArray | None = None
    migration_cost_factor: float | None = None
    ignored: tuple[str, ...] = field(default_factory=tuple)


def _with_diag(minutes: FloatArray, diag: FloatArray) -> FloatArray:
    m = np.array(minutes, dtype=np.float64)
    np.fill_diagonal(m, diag)
    off = ~np.eye(m.shape[0], dtype=bool)
    return np.where(off & (m <= 0), np.minimum(diag[:, None], diag[None, :]), m)


def _solve(base: QSMBaseline, sc: QSMScenario) -> QSMResult:
    diag = np.diag(base.minutes)
    mc = None
    if sc.migration_cost_factor is not None:
        mc = base.migration_cost * sc.migration_cost_factor
    return counterfactual(base, minutes=None if sc.minutes is None else _with_diag(sc.minutes, diag),
                          amenity_hat=sc.amenity_hat, migration_cost=mc)


def run_qsm_scenarios(
    population: Any,
    gdp: Any,
    minutes: Any,
    scenarios: Sequence[QSMScenario],
    *,
    params: QSMParams,
    housing: Any = None,
) -> tuple[QSMBaseline, dict[str, QSMResult]]:
    """Calibrate today's baseline and solve every scenario as a change from it.

    Parameters
    ----------
    population, gdp
        Observed residents and GDP by region.
    minutes
        Baseline minutes with internal trip times on the diagonal
        (:func:`iptown_gis.neg.qsm.internal_minutes`).
    scenarios
        The scenarios; one named ``baseline`` (no change) is added when missing.
    params
        Central parameters (``params.migration_cost`` is the baseline migration cost).
    housing
        Housing stock / land by region (default 1; see :func:`iptown_gis.neg.qsm.calibrate`).

    Returns
    -------
    (QSMBaseline, dict name -> QSMResult)

    Raises
    ------
    ParameterError, ConvergenceError
    """
    base = calibrate(population, gdp, minutes, params=params, housing=housing)
    out: dict[str, QSMResult] = {}
    names = [s.name for s in scenarios]
    if "baseline" not in names:
        scenarios = [QSMScenario(name="baseline"), *scenarios]
    for sc in scenarios:
        if sc.ignored:
            changes = sc.minutes is not None or sc.amenity_hat is not None or sc.migration_cost_factor is not None
            (log.info if changes else log.warning)(
                "QSM scenario %s: %s only apply to model = 'fkv'%s", sc.name, ", ".join(sc.ignored),
                "" if changes else ": this scenario changes nothing in the calibrated model "
                "(set migration_cost_factor, links or amenity)")
        out[sc.name] = _solve(base, sc)
        log.info("QSM scenario %s: %d iterations, aggregate welfare %+.4f %%", sc.name,
                 out[sc.name].iterations, 100 * (out[sc.name].aggregate_welfare_hat - 1))
    return base, out


def qsm_table(base: QSMBaseline, results: Mapping[str, QSMResult], *, region_ids: Sequence[Any],
              names: Sequence[Any] | None = None) -> pd.DataFrame:
    """One row per (scenario, region) with the FKV table's columns plus the QSM changes.

    Levels: ``share`` (population share), ``wage`` (GDP per person, data units), ``income``
    (GDP), ``price_index`` (goods price index, population-weighted mean 1 today), ``real_wage``
    (income over the cost of living, mean 1 today), ``utility`` (amenity-inclusive ``V``);
    changes from today: ``d_share``, ``d_real_wage_pct``, ``d_population_pct``, ``d_wage_pct``,
    ``d_price_index_pct``, ``d_rent_pct``, ``d_welfare_pct`` (expected utility of the region's
    registered residents), ``d_welfare_total_pct``; fundamentals: ``productivity``, ``amenity``.

    Parameters
    ----------
    base
        The calibrated baseline (:func:`iptown_gis.neg.qsm.calibrate`).
    results
        Scenario name -> its counterfactual, in output order (e.g. from :func:`run_qsm_scenarios`).
    region_ids
        The region ids in the baseline's region order (written as text in ``region_id``).
    names
        Region names in the same order (``None``: the ids).

    Returns
    -------
    pandas.DataFrame
        ``len(results) * N`` rows; also ``observed_share``, ``population``,
        ``d_goods_real_wage_pct``, ``stable`` (the model's uniqueness condition), ``tau`` (NaN)
        and ``model`` (``"qsm"``).
    """
    p = base.params
    w0 = base.population / base.population.sum()
    pscale = float((w0 * base.price_index).sum())
    ri = base.real_income
    rscale = float((w0 * ri).sum())
    frames = []
    for name, r in results.items():
        share = r.shares
        frames.append(pd.DataFrame({
            "scenario": name,
            "region_id": [str(v) for v in region_ids],
            "name": list(names) if names is not None else [str(v) for v in region_ids],
            "observed_share": w0,
            "share": share,
            "wage": base.wage * r.wage_hat,
            "price_index": base.price_index * r.price_index_hat / pscale,
            "income": base.gdp * r.wage_hat * r.population_hat,
            "real_wage": ri * r.real_income_hat / rscale,
            "utility": base.utility * r.utility_hat,
            "d_share": share - w0,
            "d_real_wage_pct": 100.0 * (r.real_income_hat - 1.0),
            "stable": p.unique,
            "tau": np.nan,
            "model": "qsm",
            "population": base.population * r.population_hat,
            "d_population_pct": 100.0 * (r.population_hat - 1.0),
            "d_wage_pct": 100.0 * (r.wage_hat - 1.0),
            "d_price_index_pct": 100.0 * (r.price_index_hat - 1.0),
            "d_rent_pct": 100.0 * (r.rent_hat - 1.0),
            "d_goods_real_wage_pct": 100.0 * (r.real_wage_hat - 1.0),
            "d_welfare_pct": 100.0 * (r.welfare_hat - 1.0),
            "d_welfare_total_pct": 100.0 * (r.aggregate_welfare_hat - 1.0),
            "productivity": base.productivity,
            "amenity": base.amenity,
        }))
    return pd.concat(frames, ignore_index=True)


def _param_grid(draws: int, seed: int, ranges: Mapping[str, ParamRange]) -> list[dict[str, float]]:
    from scipy.stats import qmc

    keys = list(ranges)
    u = qmc.LatinHypercube(d=len(keys), seed=np.random.default_rng(seed)).random(draws)
    lo = np.array([ranges[k].low for k in keys])
    hi = np.array([ranges[k].high for k in keys])
    x = qmc.scale(u, lo, hi)
    return [{k: float(v) for k, v in zip(keys, row, strict=True)} for row in x]


def params_from(item: Mapping[str, float], fixed: Mapping[str, Any], population: Any) -> QSMParams:
    """:class:`QSMParams` from drawn values; ``stay_share`` becomes the migration cost it implies."""
    kw = {**fixed, **{k: v for k, v in item.items() if k not in DERIVED}}
    if "stay_share" in item:
        kw["migration_cost"] = migration_cost_for_stay_share(population, item["stay_share"],
                                                             epsilon=float(kw.get("epsilon", 1.5)))
    return QSMParams(**kw)


def _band_task(item: dict[str, float], shared: dict[str, Any]) -> dict[str, dict[str, Any]]:
    params = params_from(item, shared["fixed"], shared["population"])
    base = calibrate(shared["population"], shared["gdp"], shared["minutes"], params=params,
                     housing=shared["housing"])
    out: dict[str, dict[str, Any]] = {}
    for sc in shared["scenarios"]:
        r = _solve(base, sc)
        out[sc.name] = {"d_share": r.shares - base.shares, "d_welfare_pct": 100.0 * (r.welfare_hat - 1.0),
                        "d_real_wage_pct": 100.0 * (r.real_income_hat - 1.0),
                        "d_welfare_total_pct": 100.0 * (r.aggregate_welfare_hat - 1.0)}
    return out


def _shared(population: Any, gdp: Any, minutes: Any, scenarios: Sequence[QSMScenario], params: QSMParams,
            housing: Any, ranges: Mapping[str, ParamRange]) -> dict[str, Any]:
    fixed = {k: v for k, v in asdict(params).items() if k not in ranges}
    if "stay_share" in ranges:
        fixed.pop("migration_cost", None)
    return {"population": np.asarray(population, dtype=np.float64), "gdp": np.asarray(gdp, dtype=np.float64),
            "minutes": np.asarray(minutes, dtype=np.float64), "housing": housing,
            "scenarios": [s for s in scenarios if s.name != "baseline"], "fixed": fixed}


def qsm_bands(
    population: Any,
    gdp: Any,
    minutes: Any,
    scenarios: Sequence[QSMScenario],
    *,
    params: QSMParams,
    draws: int = 64,
    seed: int = 0,
    ranges: Mapping[str, ParamRange] | None = None,
    housing: Any = None,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> dict[str, dict[str, FloatArray]]:
    """p5 / p50 / p95 of every scenario's changes over Latin hypercube parameter draws.

    Parameters
    ----------
    population, gdp
        Observed residents and GDP by region (``(N,)``, finite and > 0).
    minutes
        ``(N, N)`` baseline minutes with internal trip times on the diagonal
        (:func:`iptown_gis.neg.qsm.internal_minutes`).
    scenarios
        The scenarios; one named ``baseline`` is skipped (it changes nothing).
    params
        Central parameters; the fields without a range keep these values in every draw
        (``migration_cost`` is replaced when ``stay_share`` has a range).
    draws
        Number of Latin hypercube draws (>= 2; 64 or more for stable p5 / p95).
    seed
        Seed of the draws (the same seed gives the same bands for any number of workers).
    ranges
        Parameter ranges by :class:`QSMParams` field (or ``stay_share``, which sets the
        migration cost it implies); default :data:`PARAM_RANGES`.
    housing
        Housing stock / land by region (default ``None``: 1; see :func:`iptown_gis.neg.qsm.calibrate`).
    executor
        Executor the draws run on, one task per draw (``None``: in this process).
    progress
        Progress reporter or callback (``None``: silent).

    Returns
    -------
    dict
        scenario -> ``{"d_share_p5": (N,), "d_share_p50", "d_share_p95", "d_welfare_pct_p5", ...,
        "d_real_wage_pct_p5", ..., "d_welfare_total_pct_p5": (1,), ...}``; the baseline gets zeros.

    Raises
    ------
    ParameterError
        ``draws < 2``, or a range key that is not a :class:`QSMParams` field.
    """
    rg = dict(PARAM_RANGES if ranges is None else ranges)
    bad = [k for k in rg if k not in QSMParams.__dataclass_fields__ and k not in DERIVED]
    if bad:
        raise ParameterError(f"parameter ranges {bad} are not QSM parameters "
                             f"({', '.join(QSMParams.__dataclass_fields__)})")
    if draws < 2:
        raise ParameterError(f"band draws = {draws}: need at least 2 (64 or more for stable p5/p95)")
    grid = _param_grid(draws, seed, rg)
    shared = _shared(population, gdp, minutes, scenarios, params, housing, rg)
    res = run_tasks(_band_task, grid, shared=shared, executor=executor, progress=as_progress(progress),
                    message="QSM bands")
    n = np.asarray(population).size
    out: dict[str, dict[str, FloatArray]] = {}
    for sc in scenarios:
        if sc.name == "baseline" or sc.name not in res[0]:
            out[sc.name] = {f"{k}_{q}": np.zeros(1 if k == "d_welfare_total_pct" else n)
                            for k in ("d_share", "d_welfare_pct", "d_real_wage_pct", "d_welfare_total_pct")
                            for q in ("p5", "p50", "p95")}
            continue
        d: dict[str, FloatArray] = {}
        for k in ("d_share", "d_welfare_pct", "d_real_wage_pct", "d_welfare_total_pct"):
            stack = np.vstack([np.atleast_1d(r[sc.name][k]) for r in res])
            for q in (5, 50, 95):
                d[f"{k}_p{q}"] = np.percentile(stack, q, axis=0)
        out[sc.name] = d
    return out


def qsm_tornado(
    population: Any,
    gdp: Any,
    minutes: Any,
    scenarios: Sequence[QSMScenario],
    *,
    params: QSMParams,
    region_index: int,
    central: Mapping[str, float],
    ranges: Mapping[str, ParamRange] | None = None,
    housing: Any = None,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> pd.DataFrame:
    """One-at-a-time sensitivity: each parameter at the low and high end of its range.

    Parameters
    ----------
    population, gdp
        Observed residents and GDP by region (``(N,)``, finite and > 0).
    minutes
        ``(N, N)`` baseline minutes with internal trip times on the diagonal
        (:func:`iptown_gis.neg.qsm.internal_minutes`).
    scenarios
        The scenarios; one named ``baseline`` is skipped (it changes nothing).
    params
        Central parameters; the fields without a range keep these values in every draw
        (``migration_cost`` is replaced when ``stay_share`` has a range).
    region_index
        Position of the region whose share change is reported (``share_pp_*``).
    central
        The central value of every range key (the other parameters stay there while one varies).
    ranges
        Parameter ranges by :class:`QSMParams` field (or ``stay_share``, which sets the
        migration cost it implies); default :data:`PARAM_RANGES`.
    housing
        Housing stock / land by region (default ``None``: 1; see :func:`iptown_gis.neg.qsm.calibrate`).
    executor
        Executor the draws run on, one task per draw (``None``: in this process).
    progress
        Progress reporter or callback (``None``: silent).

    Returns
    -------
    pandas.DataFrame
        ``scenario, parameter, low, high, welfare_low, welfare_high, welfare_central`` (aggregate
        welfare change, %) and ``share_pp_low, share_pp_high, share_pp_central`` (share change of
        the region at ``region_index``, percentage points), sorted by the welfare swing.
    """
    rg = dict(PARAM_RANGES if ranges is None else ranges)
    central = {k: float(central[k]) for k in rg}
    items = [dict(central)]
    for k in rg:
        items.append({**central, k: rg[k].low})
        items.append({**central, k: rg[k].high})
    shared = _shared(population, gdp, minutes, scenarios, params, housing, rg)
    res = run_tasks(_band_task, items, shared=shared, executor=executor, progress=as_progress(progress),
                    message="QSM tornado")
    rows = []
    for sc in shared["scenarios"]:
        c = res[0][sc.name]
        for j, k in enumerate(rg):
            lo, hi = res[1 + 2 * j][sc.name], res[2 + 2 * j][sc.name]
            rows.append({"scenario": sc.name, "parameter": k, "low": rg[k].low, "high": rg[k].high,
                         "welfare_low": float(lo["d_welfare_total_pct"]),
                         "welfare_high": float(hi["d_welfare_total_pct"]),
                         "welfare_central": float(c["d_welfare_total_pct"]),
                         "share_pp_low": 100 * float(lo["d_share"][region_index]),
                         "share_pp_high": 100 * float(hi["d_share"][region_index]),
                         "share_pp_central": 100 * float(c["d_share"][region_index])})
    df = pd.DataFrame(rows)
    if len(df):
        df["swing"] = (df["welfare_high"] - df["welfare_low"]).abs()
        df = df.sort_values(["scenario", "swing"], ascending=[True, False], ignore_index=True)
    return df


def qsm_validation(base: QSMBaseline) -> dict[str, Any]:
    """The NEG wage equation on the calibrated baseline: log(GDP per person) on log(market access).

    Two regressions (:func:`iptown_gis.neg.qsm.wage_equation`): with the region's own market in
    its market access (``own``) and without (``external``), the robustness check of Redding &
    Venables (2004) against the mechanical own-GDP link.
    """
    out: dict[str, Any] = {}
    for key, own in (("own", True), ("external", False)):
        out[key] = wage_equation(base.wage, market_access(base, own=own))
    out["n_regions"] = int(base.population.size)
    out["distinct_wages"] = int(np.unique(np.round(base.wage, 12)).size)
    return out


def _tornado_png(df: pd.DataFrame, path: Path, title: str) -> Path:
    from iptown_gis.io.fonts import mpl_font_context

    with mpl_font_context():  # region and study names may be Chinese
        return _tornado_png_body(df, path, title)


def _tornado_png_body(df: pd.DataFrame, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scen = list(dict.fromkeys(df["scenario"]))
    fig, axes = plt.subplots(1, max(len(scen), 1), figsize=(4.2 * max(len(scen), 1), 3.6), dpi=110,
                             squeeze=False)
    for ax, s in zip(axes[0], scen, strict=False):
        t = df[df["scenario"] == s].iloc[::-1]
        c = float(t["welfare_central"].iloc[0])
        y = np.arange(len(t))
        ax.barh(y, t["welfare_low"] - c, left=c, color="tab:blue", label="low end")
        ax.barh(y, t["welfare_high"] - c, left=c, color="tab:orange", label="high end")
        ax.axvline(c, color="0.3", lw=0.8)
        ax.set_yticks(y, list(t["parameter"]), fontsize=8)
        ax.set_xlabel("aggregate welfare change (%)")
        ax.set_title(s, fontsize=9)
    axes[0][0].legend(frameon=False, fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def write_qsm_extras(
    out_dir: str | os.PathLike[str],
    *,
    tornado: pd.DataFrame | None = None,
    validation: Mapping[str, Any] | None = None,
    validation_table: pd.DataFrame | None = None,
    params: Mapping[str, Any] | None = None,
    prefix: str = "",
    title: str = "QSM",
) -> list[tuple[Path, str]]:
    """Write ``{prefix}tornado.csv/png``, ``{prefix}validation.json/csv`` and ``{prefix}qsm_params.json``.

    Each file is written atomically, and only when its input is given (an empty tornado writes
    nothing).

    Parameters
    ----------
    out_dir
        The folder written to (created when missing).
    tornado
        The :func:`qsm_tornado` table: ``tornado.csv`` and its chart ``tornado.png``.
    validation
        The :func:`qsm_validation` result: ``validation.json``.
    validation_table
        A table form of the validation: ``validation.csv``.
    params
        The QSM parameters used (JSON-serialisable): ``qsm_params.json``.
    prefix
        Prefix of every file name (default ``""``).
    title
        Title of the tornado chart (``"{title}: tornado"``).

    Returns
    -------
    list of (pathlib.Path, str)
        The files written with their kind (``"table"`` or ``"chart"``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, str]] = []
    if tornado is not None and len(tornado):
        p = out / f"{prefix}tornado.csv"
        with atomic_path(p) as tmp:
            tornado.to_csv(tmp, index=False)
        written.append((p, "table"))
        written.append((_tornado_png(tornado, out / f"{prefix}tornado.png", f"{title}: tornado"), "chart"))
    if validation is not None:
        p = out / f"{prefix}validation.json"
        with atomic_path(p) as tmp:
            Path(tmp).write_text(json.dumps(validation, indent=2, ensure_ascii=False), encoding="utf-8")
        written.append((p, "table"))
    if validation_table is not None:
        p = out / f"{prefix}validation.csv"
        with atomic_path(p) as tmp:
            validation_table.to_csv(tmp, index=False)
        written.append((p, "table"))
    if params is not None:
        p = out / f"{prefix}qsm_params.json"
        with atomic_path(p) as tmp:
            Path(tmp).write_text(json.dumps(params, indent=2, ensure_ascii=False), encoding="utf-8")
        written.append((p, "table"))
    return written


def check_region_index(region_ids: Sequence[Any], rid: str) -> int:
    """Position of region ``rid`` (text) in ``region_ids``.

    Raises
    ------
    ScenarioError
        Unknown id.
    """
    ids = [str(r) for r in region_ids]
    if str(rid) not in ids:
        raise ScenarioError(f"unknown region id {rid!r}; ids are: {', '.join(ids[:20])}")
    return ids.index(str(rid))
