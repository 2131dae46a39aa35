"""The sites pipeline stage on the Anhui sample: outputs, constraints, optimality, bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from sites_helpers import write_scenario

from iptown_gis.errors import DataNotFoundError, ParameterError, ScenarioError
from iptown_gis.pipeline import StudyContext, run_scenario
from iptown_gis.scenario import load_scenario
from iptown_gis.sites.candidates import SITE_ID
from iptown_gis.sites.stage import rank_stage, select_stage


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory: pytest.TempPathFactory, sample_gpkg: Path) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("sites_stage")
    scen = write_scenario(tmp, sample_gpkg, map_=True)
    out = tmp / "out"
    manifest = run_scenario(scen, out, stages=["sites"])
    return out, manifest


def test_stage_writes_every_output(stage_run: tuple[Path, dict]) -> None:
    out, manifest = stage_run
    names = {Path(o["path"]).name for o in manifest["outputs"] if o["stage"] == "sites"}
    assert {"ranked.gpkg", "ranked.geojson", "ranked.csv", "selected.gpkg", "selected.geojson", "selected.csv",
            "summary.json", "map.png", "anchors.geojson"} <= names
    summary = json.loads((out / "sites" / "summary.json").read_text())
    assert summary["selection"]["status"] == "Optimal"
    assert summary["selection"]["gap"] == 0.0
    assert summary["ranking"]["skipped"] == {"market_potential": "the surfaces stage produced no "
                                                                 "'market_potential' raster"}
    import geopandas as gpd

    ranked = gpd.read_file(out / "sites" / "ranked.gpkg")
    assert len(ranked) == 104
    for col in ("time_to_innovation_hub", "norm_gdp_per_capita", "score", "rank", "p_top_k", "rank_p05",
                "rank_median", "rank_p50", "rank_p95"):
        assert col in ranked.columns
    assert ranked["rank"].tolist() == list(range(1, 105))
    assert ranked["p_top_k"].sum() == pytest.approx(3.0)  # every draw has exactly k = 3 in its top 3
    # rank bands: ordered, inside 1..n, p50 the median's new name
    assert (ranked.rank_p05 <= ranked.rank_p50).all()
    assert (ranked.rank_p50 <= ranked.rank_p95).all()
    assert ranked.rank_p05.min() >= 1
    assert ranked.rank_p95.max() <= 104
    np.testing.assert_array_equal(ranked.rank_p50, ranked.rank_median)
    # the rank under the given weights lies inside its own 90 % band for nearly every candidate
    inside = (ranked["rank"] >= ranked.rank_p05) & (ranked["rank"] <= ranked.rank_p95)
    assert inside.mean() >= 0.9
    # no two criteria of the recipe rank the candidates alike
    assert summary["ranking"]["collinear"] == []
    png = (out / "sites" / "map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def _ctx(scen: Path, out: Path) -> StudyContext:
    return StudyContext(scenario=load_scenario(scen), out_dir=out)


def test_ranked_first_row_is_top_and_selection_is_optimal(tmp_path: Path, sample_gpkg: Path) -> None:
    ctx = _ctx(write_scenario(tmp_path, sample_gpkg), tmp_path)
    res = rank_stage(ctx)
    ranked = res["ranked"]
    assert ranked["rank"].iloc[0] == 1
    assert ranked["score"].is_monotonic_decreasing
    # ranking invariants: a candidate at least as good on every criterion ranks no worse
    norm = ranked[[c for c in ranked.columns if c.startswith("norm_")]].to_numpy()
    rank = ranked["rank"].to_numpy()
    ge = (norm[:, None, :] >= norm[None, :, :]).all(axis=2)
    gt = (norm[:, None, :] > norm[None, :, :]).any(axis=2)
    dom = ge & gt
    assert dom.any()
    assert (rank[:, None] < rank[None, :])[dom].all()
    # the score is the weighted mean of the normalised criteria (weights rescaled to 1)
    w = np.array([ranked.attrs["sites"]["weights"][c.removeprefix("norm_")] for c in ranked.columns
                  if c.startswith("norm_")])
    np.testing.assert_allclose(ranked["score"], norm @ w, rtol=1e-12)
    sel = select_stage(ctx)
    chosen = sel.selected
    assert len(chosen) == 3
    assert chosen["parent_adcode"].is_unique  # at most 1 per prefecture
    model = sel.model
    assert model is not None
    # brute force over the 12-candidate shortlist with the same constraints
    cost, w = model.cost, model.weights
    groups = ranked["parent_adcode"].to_numpy()[:12]
    cc = model.candidate_cost
    sym = np.minimum(cc, cc.T)
    best = None
    for s in itertools.combinations(range(12), 3):
        if len(set(groups[list(s)])) < 3 or any(sym[a, b] < 45.0 for a, b in itertools.combinations(s, 2)):
            continue
        v = float((w * cost[:, list(s)].min(axis=1)).sum())
        if best is None or v < best[0]:
            best = (v, set(s))
    assert best is not None
    assert set(model.selected_.tolist()) == best[1]
    assert model.objective_ == pytest.approx(best[0], rel=1e-9)
    assert ctx.sites is not None
    assert ctx.sites.selected is chosen
    # mclp on the same context: the covered share is reported and within [0, 1]
    sel2 = select_stage(ctx, model="mclp", k=2)
    assert 0.0 < sel2.summary["covered_share"] <= 1.0
    assert sel2.summary["covered_weight"] == pytest.approx(sel2.model.objective_)  # type: ignore[union-attr]
    # greedy by rank respects the constraints too
    sel3 = select_stage(ctx, model="rank", k=3)
    assert sel3.selected["parent_adcode"].is_unique
    assert sel3.selected[SITE_ID].iloc[0] == ranked[SITE_ID].iloc[0]  # greedy takes the best-ranked first


def test_weight_override_and_bad_weights(tmp_path: Path, sample_gpkg: Path) -> None:
    ctx = _ctx(write_scenario(tmp_path, sample_gpkg), tmp_path)
    base = rank_stage(ctx)["ranked"].set_index(SITE_ID)
    only_pop = rank_stage(ctx, weights={"time_to_innovation_hub": 0.0, "gdp_per_capita": 0.0})["ranked"]
    assert only_pop[SITE_ID].iloc[0] == base["population"].idxmax()
    # raising one weight moves every score towards that criterion's normalised value (exact)
    up = rank_stage(ctx, weights={"population": 0.6})["ranked"].set_index(SITE_ID).loc[base.index]
    # kept weights 0.4, 0.2, 0.2 (market_potential is skipped): W = 0.8, population 0.2 -> 0.6
    want = (0.8 * base["score"] + (0.6 - 0.2) * base["norm_population"]) / (0.8 + 0.6 - 0.2)
    np.testing.assert_allclose(up["score"], want, rtol=1e-12)
    with pytest.raises(ParameterError, match=r"unknown criteria \['typo'\]"):
        rank_stage(ctx, weights={"typo": 1.0})
    with pytest.raises(ParameterError, match="non-negative"):
        rank_stage(ctx, weights={"population": -1.0})


def test_criteria_reach_beyond_hefei(tmp_path: Path, sample_gpkg: Path) -> None:
    """Knowledge access is to the nearest hub of Hefei, Wuhu and Bengbu, not to Hefei alone."""
    from iptown_gis.sites.criteria import access_costs

    ctx = _ctx(write_scenario(tmp_path, sample_gpkg), tmp_path)
    res = rank_stage(ctx)
    ranked = res["ranked"]
    hefei = res["anchors"][res["anchors"]["name"].isin(["science_island", "ustc"])]
    t_hefei = access_costs(ctx.network.network, ranked, hefei, aggregate="min", max_snap_distance=30_000.0)
    t_hub = ranked["time_to_innovation_hub"].to_numpy()
    assert (t_hub <= t_hefei + 1e-9).all()
    closer = t_hub < t_hefei - 1.0
    pref = ranked["parent_adcode"].astype(str)
    assert closer[pref.eq("340200").to_numpy()].all()  # every Wuhu county: Wuhu is nearer than Hefei
    assert closer[pref.eq("340300").to_numpy()].all()  # every Bengbu county
    # GDP per capita is the prefecture's (county GDP is prefecture GDP split by population) ...
    gpc = ranked.groupby(pref)["gdp_per_capita"].agg(lambda v: v.max() - v.min())
    assert gpc.max() < 1e-4
    # ... and does not repeat population, while the split county GDP did
    old = ranked.assign(gdp=np.log1p(ranked["gdp_2022"].to_numpy(dtype=float)))
    from iptown_gis.sites.select import collinear_criteria

    pairs = collinear_criteria(old[["gdp", "population", "gdp_per_capita"]])
    assert [p[:2] for p in pairs] == [["gdp", "population"]]
    assert ranked.attrs["sites"]["collinear"] == []


def test_bad_scenarios(tmp_path: Path, sample_gpkg: Path) -> None:
    scen = write_scenario(tmp_path, sample_gpkg)
    text = scen.read_text()
    bad = tmp_path / "neg_weight.toml"
    bad.write_text(text.replace("weight = 0.4", "weight = -0.4", 1))
    with pytest.raises(ScenarioError, match=r"\[sites\] criteria.0.weight"):
        load_scenario(bad)
    dup = tmp_path / "dup.toml"
    dup.write_text(text.replace('name = "population"', 'name = "time_to_innovation_hub"'))
    with pytest.raises(ScenarioError, match="unique"):
        load_scenario(dup)
    no_std = tmp_path / "no_std.toml"
    no_std.write_text(text.replace('model = "pmedian"', 'model = "mclp"').replace("standard = 90.0", ""))
    with pytest.raises(ScenarioError, match="needs standard"):
        load_scenario(no_std)
    # anchors layer that does not exist in the GeoPackage
    missing = write_scenario(tmp_path, sample_gpkg, extra='anchors_layer = "anchors"',
                             inputs_extra=f'anchors = "{sample_gpkg}:anchors"')
    with pytest.raises(DataNotFoundError, match="no layer 'anchors'"):
        load_scenario(missing)
    undefined = write_scenario(tmp_path, sample_gpkg, extra='anchors_layer = "anchors"')
    with pytest.raises(ScenarioError, match="names input 'anchors'"):
        load_scenario(undefined)


def test_k_larger_than_candidates(tmp_path: Path, sample_gpkg: Path) -> None:
    ctx = _ctx(write_scenario(tmp_path, sample_gpkg, extra=""), tmp_path)
    ctx.scenario.section("sites").k = 500
    with pytest.raises(ParameterError, match="k = 500 is larger than the number of candidates"):
        rank_stage(ctx)
    ctx.scenario.section("sites").k = 3
    rank_stage(ctx)
    with pytest.raises(ParameterError, match="k = 200 is larger"):
        select_stage(ctx, k=200)
