"""NEG scenarios, bifurcations and the sites ranking on Dask equal the in-process results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from iptown_gis.errors import ParameterError
from iptown_gis.neg.sweeps import neg_bifurcation

pytestmark = pytest.mark.dask


def _ring(r):
    return np.array([[min(abs(i - j), r - abs(i - j)) for j in range(r)] for i in range(r)], dtype=float)


@pytest.mark.parametrize("model", ["fkv", "qsm"])
def test_neg_stage_scenarios_equal(scenario_path, executor, tmp_path, model):
    """The neg stage with ctx.executor (FKV: one task per scenario; QSM: one task per band draw)
    writes the same tables."""
    from iptown_gis.pipeline import run_scenario
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(scenario_path)
    neg = scen.section("neg")
    # six prefectures (Hefei, Fuyang and Anqing: the high-speed rail links of the 2nd scenario), crow-fly
    # costs (no network stage needed), the baseline and the rail scenario (a changed cost matrix)
    keep = ("340100", "341200", "340800", "340200", "341000", "341800")
    inp = scen.inputs[neg.regions]
    scen.inputs[neg.regions] = inp.model_copy(update={"where": f"{inp.where} and adcode.astype('str') in {keep}"})
    scen.sections["neg"] = neg.model_copy(update={"scenarios": neg.scenarios[:2], "bifurcation_taus": [],
                                                  "cost": "euclidean", "model": model, "band_draws": 4,
                                                  "county_regions": None})
    run_scenario(scen, tmp_path / "a", stages=["neg"])
    run_scenario(scen, tmp_path / "b", stages=["neg"], executor=executor)
    table = pd.read_csv(tmp_path / "a" / "neg" / "scenarios.csv")
    assert set(table["scenario"]) == {"baseline", neg.scenarios[1].name}
    assert len(table) == 2 * len(keep)
    assert table["d_share"].abs().max() > 1e-6   # the rail links change the equilibrium
    files = sorted(p.name for p in (tmp_path / "a" / "neg").glob("*.csv"))
    assert len(files) == (3 if model == "fkv" else 5)  # qsm: + tornado.csv, validation.csv
    for name in files:
        a = pd.read_csv(tmp_path / "a" / "neg" / name)
        b = pd.read_csv(tmp_path / "b" / "neg" / name)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-15)


def test_bifurcation_equal_and_cli(executor, tmp_path):
    """`iptown neg diagram --ring` in-process (neg.diagrams.bifurcation) and with --scheduler
    (neg.sweeps.neg_bifurcation, one task per tau) write the same table."""
    from iptown_gis.cli.main import cli

    with pytest.raises(ParameterError, match="positive"):
        neg_bifurcation(_ring(4), [], executor=executor)
    args = ["neg", "diagram", "--ring", "4", "--tau-min", "0.1", "--tau-max", "0.6", "--steps", "2"]
    for sub, extra in (("a", []), ("b", ["--scheduler", executor.address])):
        res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / sub), *extra], catch_exceptions=False)
        assert res.exit_code == 0, res.output
    a = pd.read_csv(tmp_path / "a" / "bifurcation_ring4.csv")
    b = pd.read_csv(tmp_path / "b" / "bifurcation_ring4.csv")
    assert sorted(set(a["tau"])) == [0.1, 0.6]
    assert a["share"].max() > 0.6     # agglomeration at the low tau, dispersion at the high one
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-15)


def test_rank_sites_robustness_equal(executor):
    import geopandas as gpd

    from iptown_gis.sites.select import rank_sites

    rng = np.random.default_rng(5)
    n = 60
    cands = gpd.GeoDataFrame({"site_id": [f"s{i}" for i in range(n)]},
                             geometry=gpd.points_from_xy(rng.random(n), rng.random(n)), crs="EPSG:4548")
    crit = pd.DataFrame({"gdp": rng.random(n), "access": rng.random(n) * 90, "kde": rng.random(n)})
    kw = {"weights": {"gdp": 0.5, "access": 0.3, "kde": 0.2},
          "directions": {"gdp": "benefit", "access": "cost", "kde": "benefit"}, "k": 5, "draws": 700, "seed": 3}
    a = rank_sites(cands, crit, **kw)
    b = rank_sites(cands, crit, executor=executor, **kw)
    cols = ["site_id", "score", "rank", "p_top_k", "rank_p05", "rank_median", "rank_p95"]
    pd.testing.assert_frame_equal(pd.DataFrame(a[cols]), pd.DataFrame(b[cols]), check_exact=True)
    assert 0 < a["p_top_k"].max() <= 1
