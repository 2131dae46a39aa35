"""The quantitative spatial model: inversion, exact hat algebra, levels check, bands, stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iptown_gis.errors import ParameterError, ScenarioError
from iptown_gis.neg.qsm import (
    QSMParams,
    calibrate,
    counterfactual,
    internal_minutes,
    migration_cost_for_stay_share,
    solve_levels,
    stay_share,
    time_elasticity,
    wage_equation,
)
from iptown_gis.neg.qsm_scenarios import QSMScenario, qsm_bands, qsm_validation


@pytest.fixture(scope="module")
def anhui() -> dict:
    """The 16 prefecture seats: census population, GDP 2022, crow-fly minutes at 60 km/h."""
    from iptown_gis.crs.metric import to_metric
    from iptown_gis.datasets import anhui_layer

    seats = to_metric(anhui_layer("seats"), crs="EPSG:4548", name="seats")
    seats = seats[seats["level"] == "prefecture"].reset_index(drop=True)
    xy = np.column_stack([seats.geometry.x, seats.geometry.y])
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 1000.0
    return {"ids": [str(v) for v in seats["adcode"]], "pop": seats["pop_2020"].to_numpy(float),
            "gdp": seats["gdp_2022"].to_numpy(float), "minutes": internal_minutes(km)}


def test_time_elasticity_from_sources() -> None:
    assert time_elasticity(1.0, 4.0) == 0.25
    assert QSMParams(trade_elasticity=4.0, distance_elasticity=1.0).phi == 0.25
    with pytest.raises(ParameterError, match="must both be > 0"):
        time_elasticity(-1.0, 4.0)


def test_baseline_reproduces_today(anhui: dict) -> None:
    p = QSMParams(migration_cost=migration_cost_for_stay_share(anhui["pop"], 0.85, epsilon=1.5))
    base = calibrate(anhui["pop"], anhui["gdp"], anhui["minutes"], params=p)
    np.testing.assert_allclose(base.shares, anhui["pop"] / anhui["pop"].sum(), rtol=0, atol=1e-12)
    # the fundamentals solved forward give today's wages and residents back
    w, pop, _ = solve_levels(base.productivity, base.amenity, anhui["minutes"], base.registered,
                             anhui["gdp"].sum(), params=p)
    np.testing.assert_allclose(pop / pop.sum(), anhui["pop"] / anhui["pop"].sum(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(w, anhui["gdp"] / anhui["pop"], rtol=1e-8)
    assert stay_share(anhui["pop"], epsilon=1.5, migration_cost=p.migration_cost) == pytest.approx(0.85, abs=1e-9)
    # no change: every hat is one
    r = counterfactual(base)
    for hat in (r.wage_hat, r.population_hat, r.price_index_hat, r.rent_hat, r.welfare_hat):
        np.testing.assert_allclose(hat, 1.0, atol=1e-12)
    np.testing.assert_allclose(r.shares, base.shares, atol=1e-12)


def test_cost_fall_raises_welfare(anhui: dict) -> None:
    base = calibrate(anhui["pop"], anhui["gdp"], anhui["minutes"], params=QSMParams(migration_cost=1.0))
    i, j = anhui["ids"].index("340100"), anhui["ids"].index("341200")
    t = anhui["minutes"].copy()
    t[i, j] = t[j, i] = 0.6 * t[i, j]
    r = counterfactual(base, minutes=t)
    assert r.aggregate_welfare_hat > 1.0
    assert r.welfare_hat[i] > 1.0
    assert r.welfare_hat[j] > 1.0
    assert r.real_income_hat[[i, j]].min() > r.real_income_hat.min()  # the linked cities gain most
    assert r.population_hat[i] > 1.0
    assert r.population_hat[j] > 1.0
    # a cost rise does the opposite
    t2 = anhui["minutes"].copy()
    t2[i, j] = t2[j, i] = 1.5 * t2[i, j]
    assert counterfactual(base, minutes=t2).aggregate_welfare_hat < 1.0


@pytest.mark.parametrize("change", ["link", "amenity", "migration"])
def test_hat_algebra_equals_levels(anhui: dict, change: str) -> None:
    p = QSMParams(trade_elasticity=4.0, alpha=0.75, epsilon=1.5, migration_cost=1.2)
    base = calibrate(anhui["pop"], anhui["gdp"], anhui["minutes"], params=p)
    t, bhat, mc = anhui["minutes"].copy(), np.ones(16), p.migration_cost
    if change == "link":
        t[0, 7] = t[7, 0] = 0.5 * t[0, 7]
    elif change == "amenity":
        bhat[0] = 1.05
    else:
        mc = 0.6
    r = counterfactual(base, minutes=t, amenity_hat=bhat, migration_cost=mc)
    w0, p0, u0 = solve_levels(base.productivity, base.amenity, anhui["minutes"], base.registered,
                              anhui["gdp"].sum(), params=p)
    w1, p1, u1 = solve_levels(base.productivity, base.amenity * bhat, t, base.registered, anhui["gdp"].sum(),
                              params=p, migration_cost=mc)
    np.testing.assert_allclose(p1 / p0, r.population_hat, rtol=1e-8)
    np.testing.assert_allclose(w1 / w0, r.wage_hat, rtol=1e-8)
    np.testing.assert_allclose(u1 / u0, r.welfare_hat, rtol=1e-8)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(3, 8), seed=st.integers(0, 10_000), mc=st.floats(0.0, 2.0))
def test_no_change_is_identity_on_random_economies(n: int, seed: int, mc: float) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 300, (n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 1.0
    pop = rng.uniform(1, 10, n)
    gdp = pop * rng.uniform(0.5, 3.0, n)
    base = calibrate(pop, gdp, internal_minutes(km), params=QSMParams(migration_cost=mc))
    np.testing.assert_allclose(base.shares, pop / pop.sum(), atol=1e-12)
    r = counterfactual(base)
    np.testing.assert_allclose(r.population_hat, 1.0, atol=1e-10)
    np.testing.assert_allclose(r.wage_hat, 1.0, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 100_000), factor=st.floats(0.3, 0.95))
def test_any_cost_fall_raises_aggregate_welfare(seed: int, factor: float) -> None:
    """Over the published parameter ranges, a faster link between any two regions raises welfare."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 9))
    xy = rng.uniform(0, 300, (n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 1.0
    pop = rng.uniform(1, 10, n)
    p = QSMParams(trade_elasticity=rng.uniform(3, 6), alpha=rng.uniform(0.65, 0.85), epsilon=rng.uniform(1, 3),
                  migration_cost=rng.uniform(0, 3))
    base = calibrate(pop, pop * rng.uniform(0.5, 3.0, n), internal_minutes(km), params=p)
    i, j = rng.choice(n, 2, replace=False)
    t = base.minutes.copy()
    t[i, j] *= factor
    t[j, i] *= factor
    assert counterfactual(base, minutes=t).aggregate_welfare_hat > 1.0


def test_errors() -> None:
    t = internal_minutes(np.array([[0, 10, 20], [10, 0, 15], [20, 15, 0.0]]))
    with pytest.raises(ParameterError, match=r"population\[1\] = -1"):
        calibrate([1, -1, 2], [1, 1, 1], t)
    with pytest.raises(ParameterError, match="diagonal included"):
        calibrate([1, 1, 2], [1, 1, 1], np.array([[0, 10, 20], [10, 0, 15], [20, 15, 0.0]]))
    with pytest.raises(ParameterError, match="gdp has 2 values, expected 3"):
        calibrate([1, 1, 2], [1, 1], t)
    with pytest.raises(ParameterError, match=r"alpha = 1\.5"):
        QSMParams(alpha=1.5)
    with pytest.raises(ParameterError, match=r"stay_share = 0\.1"):
        migration_cost_for_stay_share([1, 1, 2], 0.1, epsilon=1.5)
    with pytest.raises(ParameterError, match="damping"):
        counterfactual(calibrate([1, 1, 2], [1, 1, 1], t), damping=0.0)
    with pytest.raises(ParameterError, match="at least 3 regions"):
        wage_equation([1, 2], [1, 2])


def test_wage_equation_known_line() -> None:
    ma = np.array([1.0, 2.0, 4.0, 8.0])
    fit = wage_equation(np.exp(0.3) * ma ** 0.5, ma)
    assert fit["elasticity"] == pytest.approx(0.5)
    assert fit["r2"] == pytest.approx(1.0)
    assert fit["se"] == pytest.approx(0.0, abs=1e-12)


def test_validation_and_bands(anhui: dict) -> None:
    p = QSMParams(migration_cost=1.0)
    base = calibrate(anhui["pop"], anhui["gdp"], anhui["minutes"], params=p)
    val = qsm_validation(base)
    assert val["n_regions"] == 16
    assert 0.0 <= val["own"]["r2"] <= 1.0
    assert val["own"]["elasticity"] > 0  # richer cities have better market access
    t = anhui["minutes"].copy()
    t[0, 10] = t[10, 0] = 0.6 * t[0, 10]
    scs = [QSMScenario("baseline"), QSMScenario("link", minutes=t)]
    b1 = qsm_bands(anhui["pop"], anhui["gdp"], anhui["minutes"], scs, params=p, draws=6, seed=3)
    b2 = qsm_bands(anhui["pop"], anhui["gdp"], anhui["minutes"], scs, params=p, draws=6, seed=3)
    for k, v in b1["link"].items():
        np.testing.assert_array_equal(v, b2["link"][k])
    assert (b1["link"]["d_share_p5"] <= b1["link"]["d_share_p50"]).all()
    assert (b1["link"]["d_share_p50"] <= b1["link"]["d_share_p95"]).all()
    assert b1["link"]["d_welfare_total_pct_p5"][0] > 0  # the link helps over the whole range
    np.testing.assert_array_equal(b1["baseline"]["d_share_p95"], 0.0)
    with pytest.raises(ParameterError, match="at least 2"):
        qsm_bands(anhui["pop"], anhui["gdp"], anhui["minutes"], scs, params=p, draws=1)


def _stage(sample_dir: Path, out: Path, **neg: object) -> Any:
    from iptown_gis.neg import stage
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.progress import as_progress
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(sample_dir / "scenario.toml")
    sec = scen.section("neg")
    sec.bifurcation_taus = []
    sec.cost = "euclidean"  # keeps the test fast; the network costs run in test_stage_cli
    for k, v in neg.items():
        setattr(sec, k, v)
    ctx = StudyContext(scenario=scen, out_dir=out)
    stage.run(ctx, as_progress(None))
    return ctx.neg


def test_stage_qsm_prefectures_and_counties(tmp_path: Path, sample_dir: Path) -> None:
    import pandas as pd

    res = _stage(sample_dir, tmp_path / "out", band_draws=4)
    assert res["model"] == "qsm"
    np.testing.assert_allclose(res["scenarios"]["baseline"]["share"], res["observed_shares"], atol=1e-8)
    hefei = res["region_ids"].index("340100")
    assert res["scenarios"]["hefei_science_centre"]["d_share"][hefei] > 0
    assert res["scenarios"]["hsr_links"]["d_share"][hefei] > 0
    assert res["scenarios"]["hsr_links"]["welfare_total_pct"] > 0
    assert res["summary"]["baseline_max_share_error"] < 1e-8
    out = tmp_path / "out" / "neg"
    table = pd.read_csv(out / "scenarios.csv")
    for col in ("share", "d_share", "d_real_wage_pct", "d_welfare_pct", "d_share_p5", "d_share_p50",
                "d_share_p95", "d_welfare_pct_p5", "d_welfare_pct_p95"):
        assert col in table.columns, col
    assert (table["d_share_p5"] <= table["d_share_p95"] + 1e-15).all()
    for name in ("neg_scenarios.gpkg", "tornado.png", "tornado.csv", "validation.json", "validation.csv",
                 "qsm_params.json", "counties_scenarios.csv", "counties_neg_scenarios.gpkg", "counties_tornado.png",
                 "counties_validation.json"):
        assert (out / name).stat().st_size > 0, name
    c = res["counties"]
    assert len(c["region_ids"]) == 104
    np.testing.assert_allclose(c["scenarios"]["baseline"]["share"], c["observed_shares"], atol=1e-8)
    # the Hefei amenity lands on the county holding Hefei's seat and draws residents to it
    assert c["scenarios"]["hefei_science_centre"]["d_share"].max() > 0


def test_stage_fkv_still_reachable(tmp_path: Path, sample_dir: Path) -> None:
    res = _stage(sample_dir, tmp_path / "out", model="fkv")
    assert res["model"] == "fkv"
    assert set(res["scenarios"]) == {"baseline", "hsr_links", "hukou_reform", "hefei_science_centre"}
    assert (tmp_path / "out" / "neg" / "scenarios.csv").stat().st_size > 0


def test_stage_bad_field(tmp_path: Path, sample_dir: Path) -> None:
    from iptown_gis.errors import ColumnError

    with pytest.raises(ColumnError, match="no column 'gdp_missing'"):
        _stage(sample_dir, tmp_path / "out", gdp_field="gdp_missing", band_draws=0)
    from iptown_gis.neg.config import NEGScenario

    bad = [NEGScenario(name="baseline"), NEGScenario(name="x", amenity={"999999": 0.1})]
    with pytest.raises(ScenarioError, match="unknown region id"):
        _stage(sample_dir, tmp_path / "out2", band_draws=0, county_regions=None, scenarios=bad)


CHINA = Path("/work/shared/data/china")


@pytest.mark.skipif(not (CHINA / "china_county_seats.gpkg").is_file(), reason="national data set not present")
def test_second_region_zhejiang(tmp_path: Path) -> None:
    """The same stage on another province's county seats (Zhejiang), no Anhui input."""
    import geopandas as gpd

    from iptown_gis.neg import stage
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.progress import as_progress
    from iptown_gis.scenario import load_scenario

    seats = gpd.read_file(CHINA / "china_county_seats.gpkg", layer="county_seats")
    seats = seats[seats["province_adcode"].astype(str) == "330000"][["adcode", "name", "geometry"]]
    seats["seat_count"] = 1.0  # the national set has no population or GDP: equal weights
    seats.to_file(tmp_path / "zj.gpkg", layer="seats", driver="GPKG")
    cells = seats.to_crs("EPSG:32651")
    cells["geometry"] = cells.geometry.buffer(8000.0)  # region areas for the internal trip times
    cells.to_file(tmp_path / "zj.gpkg", layer="cells", driver="GPKG")
    (tmp_path / "zj.toml").write_text("""
[study]
name = "Zhejiang"
crs = "EPSG:32651"
[inputs]
seats = { path = "zj.gpkg", layer = "seats", id_field = "adcode" }
cells = "zj.gpkg:cells"
[neg]
cost = "euclidean"
regions = "seats"
name_field = "name"
polygons = "cells"
population_field = "seat_count"
gdp_field = "seat_count"
mobile_field = "seat_count"
immobile_field = "seat_count"
band_draws = 4
[[neg.scenarios]]
name = "hangzhou_ningbo"
links = [["330102", "330203"]]
[[neg.scenarios]]
name = "hangzhou_amenity"
amenity = { "330102" = 0.05 }
""", encoding="utf-8")
    scen = load_scenario(tmp_path / "zj.toml")
    ctx = StudyContext(scenario=scen, out_dir=tmp_path / "out")
    stage.run(ctx, as_progress(None))
    res = ctx.neg
    assert len(res.region_ids) == len(seats)
    np.testing.assert_allclose(res["scenarios"]["baseline"]["share"], 1.0 / len(seats), atol=1e-8)
    hz = res["region_ids"].index("330102")
    assert res["scenarios"]["hangzhou_amenity"]["d_share"][hz] > 0
    assert res["scenarios"]["hangzhou_ningbo"]["welfare_total_pct"] > 0
    assert (tmp_path / "out" / "neg" / "scenarios.csv").stat().st_size > 0


def test_bands_same_on_dask_workers(anhui: dict) -> None:
    """One task per draw: 2 Dask worker processes give bit-identical bands and tornado."""
    pytest.importorskip("distributed")
    from iptown_gis.neg.qsm_scenarios import qsm_tornado
    from iptown_gis.parallel import dask_executor

    p = QSMParams(migration_cost=1.0)
    t = anhui["minutes"].copy()
    t[0, 7] = t[7, 0] = 0.6 * t[0, 7]
    scs = [QSMScenario("baseline"), QSMScenario("link", minutes=t),
           QSMScenario("hukou", migration_cost_factor=0.9)]
    args = (anhui["pop"], anhui["gdp"], anhui["minutes"], scs)
    central = {"trade_elasticity": 4.0, "distance_elasticity": 1.0, "alpha": 0.75, "epsilon": 1.5,
               "stay_share": stay_share(anhui["pop"], epsilon=1.5, migration_cost=1.0)}
    local = qsm_bands(*args, params=p, draws=5, seed=11)
    tl = qsm_tornado(*args, params=p, region_index=0, central=central)
    try:
        opened = dask_executor(workers=2, threads_per_worker=1, processes=True, memory_budget="2GB")
        ex = opened.__enter__()
    except RuntimeError as exc:  # e.g. "Port 8787 is already in use" while other clusters run
        pytest.skip(f"no local Dask cluster: {exc}")
    try:
        remote = qsm_bands(*args, params=p, draws=5, seed=11, executor=ex)
        tr = qsm_tornado(*args, params=p, region_index=0, central=central, executor=ex)
    finally:
        opened.__exit__(None, None, None)
    for name in ("link", "hukou"):
        for k, v in local[name].items():
            np.testing.assert_array_equal(v, remote[name][k])
    import pandas as pd

    pd.testing.assert_frame_equal(tl, tr)
    # the tornado's central row is the scenario itself
    link = tl[tl["scenario"] == "link"]
    assert set(link["parameter"]) == {"trade_elasticity", "distance_elasticity", "alpha", "epsilon", "stay_share"}
