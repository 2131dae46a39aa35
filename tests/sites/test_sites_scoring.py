"""Scoring: normalisation, weights, ranks, greedy constraints and Monte Carlo robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from iptown_gis.errors import ColumnError, InfeasibleError, ParameterError
from iptown_gis.sites.scoring import (
    check_weights,
    greedy_select,
    normalise,
    rank_candidates,
    rank_scores,
    robustness,
)

DIRS = {"mp": "benefit", "kde": "benefit", "time": "cost"}


def _frame(seed: int = 0, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"mp": rng.lognormal(3, 1, n), "kde": rng.uniform(0, 1, n), "time": rng.uniform(10, 300, n)},
        index=pd.Index([f"s{i:03d}" for i in range(n)], name="site_id"),
    )


def test_minmax_directions() -> None:
    x = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 20.0]])
    n = normalise(x, directions=["benefit", "cost"], method="minmax")
    np.testing.assert_allclose(n[:, 0], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(n[:, 1], [1.0, 0.0, 0.5])


def test_zscore_and_rank() -> None:
    x = np.array([[1.0], [2.0], [3.0], [3.0]])
    z = normalise(x, directions=["benefit"], method="zscore")
    assert z.mean() == pytest.approx(0.0)
    assert z.std() == pytest.approx(1.0)
    zc = normalise(x, directions=["cost"], method="zscore")
    np.testing.assert_allclose(zc, -z)
    r = normalise(x, directions=["benefit"], method="rank")
    np.testing.assert_allclose(r[:, 0], [0.0, 1 / 3, 2.5 / 3, 2.5 / 3])


def test_constant_criterion_is_neutral() -> None:
    x = np.array([[5.0, 1.0], [5.0, 2.0]])
    assert normalise(x, directions=["benefit", "benefit"])[:, 0].tolist() == [0.5, 0.5]
    assert normalise(x, directions=["benefit", "benefit"], method="zscore")[:, 0].tolist() == [0.0, 0.0]


def test_weight_change_follows_documented_formula() -> None:
    df = _frame(3)
    w = {"mp": 0.5, "kde": 0.3, "time": 0.2}
    base = rank_candidates(df, weights=w, directions=DIRS)
    a, b = w["kde"], 0.9
    w2 = {**w, "kde": b}
    new = rank_candidates(df, weights=w2, directions=DIRS)
    total = sum(w.values())
    expected = (total * base["score"] + (b - a) * base["norm_kde"]) / (total + b - a)
    np.testing.assert_allclose(new["score"], expected, rtol=1e-12)
    gain = new["score"] - base["score"]
    assert (gain[base["norm_kde"] > base["score"]] > 0).all()
    assert (gain[base["norm_kde"] < base["score"]] < 0).all()
    # scaling every weight leaves scores unchanged
    scaled = rank_candidates(df, weights={k: 7 * v for k, v in w.items()}, directions=DIRS)
    np.testing.assert_allclose(scaled["score"], base["score"], rtol=1e-12)


def test_only_one_criterion_reproduces_its_order() -> None:
    df = _frame(4)
    out = rank_candidates(df, weights={"mp": 0, "kde": 0, "time": 1}, directions=DIRS)
    assert out.sort_values("rank").index.tolist() == df.sort_values("time").index.tolist()


@settings(max_examples=40, deadline=None)
@given(
    values=arrays(np.float64, (12, 3), elements=st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 1))),
    perm_seed=st.integers(0, 2**31),
    method=st.sampled_from(["minmax", "zscore", "rank"]),
)
def test_ranks_invariant_to_row_order(values: np.ndarray, perm_seed: int, method: str) -> None:
    df = pd.DataFrame(values, columns=["mp", "kde", "time"], index=[f"c{i}" for i in range(12)])
    w = {"mp": 0.4, "kde": 0.35, "time": 0.25}
    a = rank_candidates(df, weights=w, directions=DIRS, method=method)  # type: ignore[arg-type]
    perm = np.random.default_rng(perm_seed).permutation(12)
    b = rank_candidates(df.iloc[perm], weights=w, directions=DIRS, method=method)  # type: ignore[arg-type]
    pd.testing.assert_series_equal(a["rank"], b["rank"].loc[a.index])
    pd.testing.assert_series_equal(a["score"], b["score"].loc[a.index])


def test_ties_broken_by_id() -> None:
    ranks = rank_scores(np.array([1.0, 2.0, 2.0, 0.5]), ["d", "c", "b", "a"])
    assert ranks.tolist() == [3, 2, 1, 4]


def test_weight_errors() -> None:
    with pytest.raises(ParameterError, match="non-negative"):
        check_weights({"a": -1.0, "b": 1.0}, ["a", "b"])
    with pytest.raises(ParameterError, match=r"unknown criteria \['c'\]"):
        check_weights({"a": 1.0, "c": 1.0}, ["a", "b"])
    with pytest.raises(ParameterError, match=r"no weight for criteria \['b'\]"):
        check_weights({"a": 1.0}, ["a", "b"])
    with pytest.raises(ParameterError, match="all weights are 0"):
        check_weights({"a": 0.0}, ["a"])
    assert check_weights({"a": 1.0, "b": 3.0}, ["a", "b"]) == {"a": 0.25, "b": 0.75}


def test_bad_values_and_ids() -> None:
    df = _frame()
    df.iloc[2, 0] = np.nan
    with pytest.raises(ColumnError, match="NaN"):
        rank_candidates(df, weights={"mp": 1, "kde": 1, "time": 1}, directions=DIRS)
    df2 = _frame()
    with pytest.raises(ColumnError, match="unique"):
        rank_candidates(df2, weights={"mp": 1, "kde": 1, "time": 1}, directions=DIRS, ids=[1] * len(df2))
    with pytest.raises(ParameterError, match="normalisation"):
        normalise(df2.to_numpy(), directions=["benefit"] * 3, method="max")  # type: ignore[arg-type]


def _brute_greedy_check(order, k, cc, spacing, groups, cap, chosen):
    # each chosen candidate respects the constraints, and every skipped better one breaks one
    sym = np.minimum(cc, cc.T)
    picked: list[int] = []
    for i in order:
        ok = all(sym[i, j] >= spacing for j in picked) and sum(groups[j] == groups[i] for j in picked) < cap
        if ok:
            picked.append(int(i))
        if len(picked) == k:
            break
    return picked == list(chosen)


def test_greedy_selection_respects_constraints() -> None:
    rng = np.random.default_rng(11)
    pts = rng.uniform(0, 100, (30, 2))
    cc = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    groups = rng.integers(0, 4, 30)
    order = rng.permutation(30)
    chosen = greedy_select(order, 5, cost=cc, min_spacing=20.0, groups=groups, max_per_group=2)
    assert len(chosen) == 5
    assert chosen[0] == order[0]
    assert _brute_greedy_check(order, 5, cc, 20.0, groups, 2, chosen)
    assert (np.minimum(cc, cc.T)[np.ix_(chosen, chosen)] + np.eye(5) * 1e9 >= 20.0).all()
    # unconstrained = first k in order
    assert greedy_select(order, 5).tolist() == order[:5].tolist()


def test_greedy_errors() -> None:
    with pytest.raises(ParameterError, match="larger than the number of candidates"):
        greedy_select([0, 1, 2], 4)
    with pytest.raises(InfeasibleError, match="only 1 of k = 2"):
        greedy_select([0, 1, 2], 2, groups=["a", "a", "a"], max_per_group=1)
    with pytest.raises(InfeasibleError, match="min_spacing"):
        greedy_select([0, 1], 2, cost=np.zeros((2, 2)), min_spacing=1.0)


def test_robustness_reproducible_and_sensible() -> None:
    df = _frame(8, n=50)
    w = np.array([0.5, 0.3, 0.2])
    ranked = rank_candidates(df, weights=dict(zip(df.columns, w)), directions=DIRS)
    norm = ranked[[f"norm_{c}" for c in df.columns]].to_numpy()
    r1 = robustness(norm, w, ids=df.index, k=5, draws=400, concentration=30, seed=1)
    r2 = robustness(norm, w, ids=df.index, k=5, draws=400, concentration=30, seed=1)
    np.testing.assert_array_equal(r1.p_top_k, r2.p_top_k)
    assert r1.p_top_k.sum() == pytest.approx(5.0)  # exactly k candidates are in the top k per draw
    assert (r1.rank_p05 <= r1.rank_median).all()
    assert (r1.rank_median <= r1.rank_p95).all()
    np.testing.assert_allclose(r1.weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(r1.weights.mean(axis=0), w, atol=0.03)
    best = int(np.argmin(ranked["rank"].to_numpy()))
    assert r1.p_top_k[best] > 0.5
    # huge concentration = no perturbation: probabilities are 0/1 and intervals collapse to the rank
    r3 = robustness(norm, w, ids=df.index, k=5, draws=50, concentration=1e9, seed=2)
    np.testing.assert_array_equal(r3.p_top_k, (ranked["rank"].to_numpy() <= 5).astype(float))
    np.testing.assert_array_equal(r3.rank_p95, ranked["rank"].to_numpy())
    # a zero weight stays zero
    r4 = robustness(norm, np.array([0.0, 0.5, 0.5]), ids=df.index, k=5, draws=20, seed=0)
    assert (r4.weights[:, 0] == 0).all()


def test_robustness_errors() -> None:
    norm = np.zeros((4, 2))
    with pytest.raises(ParameterError, match="k = 5"):
        robustness(norm, [1, 1], ids=range(4), k=5)
    with pytest.raises(ParameterError, match="draws"):
        robustness(norm, [1, 1], ids=range(4), k=2, draws=0)
    with pytest.raises(ParameterError, match="non-negative"):
        robustness(norm, [1, -1], ids=range(4), k=2)


@settings(max_examples=10, deadline=None)
@given(perm_seed=st.integers(0, 2**31), method=st.sampled_from(["minmax", "zscore", "rank"]))
def test_rank_sites_and_robustness_invariant_to_row_order(perm_seed: int, method: str) -> None:
    import geopandas as gpd

    from iptown_gis.sites.candidates import SITE_ID
    from iptown_gis.sites.select import rank_sites

    df = _frame(5, n=30).round(1)
    cands = gpd.GeoDataFrame({SITE_ID: df.index.to_numpy()}, geometry=gpd.points_from_xy(np.arange(30), np.zeros(30)),
                             crs="EPSG:4548")
    crit = df.reset_index(drop=True)
    w = {"mp": 0.5, "kde": 0.3, "time": 0.2}
    a = rank_sites(cands, crit, weights=w, directions=DIRS, normalisation=method, k=3, draws=100,  # type: ignore[arg-type]
                   seed=3)
    perm = np.random.default_rng(perm_seed).permutation(30)
    b = rank_sites(cands.iloc[perm], crit.iloc[perm], weights=w, directions=DIRS, normalisation=method,  # type: ignore[arg-type]
                   k=3, draws=100, seed=3)
    cols = [SITE_ID, "score", "rank", "p_top_k", "rank_p05", "rank_p95"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))
