"""Location models (p-median, MCLP) against brute force on small instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iptown_gis.errors import InfeasibleError, ParameterError, SolverError
from iptown_gis.sites.location import PMedian, max_cover, p_median


def _instance(seed: int, n: int = 25, m: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 100, (n, 2))
    c = rng.uniform(0, 100, (m, 2))
    cost = np.linalg.norm(d[:, None] - c[None], axis=2)
    return cost, rng.uniform(1, 10, n)


def _feasible(s: tuple[int, ...], groups: np.ndarray | None, cap: int | None, cc: np.ndarray | None,
              spacing: float | None) -> bool:
    if groups is not None and cap is not None:
        _, counts = np.unique(groups[list(s)], return_counts=True)
        if counts.max() > cap:
            return False
    if cc is not None and spacing is not None:
        for a, b in itertools.combinations(s, 2):
            if min(cc[a, b], cc[b, a]) < spacing:
                return False
    return True


def _brute_pmedian(cost, w, k, **kw):
    best = None
    for s in itertools.combinations(range(cost.shape[1]), k):
        if not _feasible(s, kw.get("groups"), kw.get("max_per_group"), kw.get("candidate_cost"),
                         kw.get("min_spacing")):
            continue
        v = float((w * cost[:, list(s)].min(axis=1)).sum())
        if best is None or v < best[0] - 1e-9:
            best = (v, set(s))
    return best


def _brute_mclp(cost, w, k, radius, **kw):
    vals = {}
    for s in itertools.combinations(range(cost.shape[1]), k):
        if not _feasible(s, kw.get("groups"), kw.get("max_per_group"), kw.get("candidate_cost"),
                         kw.get("min_spacing")):
            continue
        vals[s] = float(w[(cost[:, list(s)] <= radius).any(axis=1)].sum())
    best = max(vals.values())
    return best, [set(s) for s, v in vals.items() if v >= best - 1e-9]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_pmedian_equals_brute_force(seed: int, k: int) -> None:
    cost, w = _instance(seed)
    m = PMedian.from_cost_matrix(cost, w, p_facilities=k).solve()
    val, best = _brute_pmedian(cost, w, k)
    assert set(m.selected_.tolist()) == best
    assert m.objective_ == pytest.approx(val, rel=1e-9)
    assert m.status_ == "Optimal"
    assert m.gap_ <= 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_mclp_equals_brute_force(seed: int, k: int) -> None:
    cost, w = _instance(seed)
    m = max_cover(cost, k=k, standard=30.0, weights=w)
    val, optimal_sets = _brute_mclp(cost, w, k, 30.0)
    assert m.objective_ == pytest.approx(val, rel=1e-9)
    assert set(m.selected_.tolist()) in optimal_sets
    assert m.covered_share_ == pytest.approx(val / w.sum())
    assert m.coverage(30.0)["covered_weight"] == pytest.approx(val)


def test_constraints_equal_brute_force() -> None:
    cost, w = _instance(7, n=30, m=9)
    rng = np.random.default_rng(7)
    groups = np.array(["a", "a", "a", "b", "b", "b", "c", "c", "c"])
    pts = rng.uniform(0, 100, (9, 2))
    cc = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    kw = {"groups": groups, "max_per_group": 1, "candidate_cost": cc, "min_spacing": 25.0}
    m = p_median(cost, k=3, weights=w, **kw)
    val, best = _brute_pmedian(cost, w, 3, **kw)
    assert set(m.selected_.tolist()) == best
    assert m.objective_ == pytest.approx(val)
    unconstrained = p_median(cost, k=3, weights=w)
    assert unconstrained.objective_ <= m.objective_ + 1e-9
    mc = max_cover(cost, k=3, standard=35.0, weights=w, **kw)
    val2, sets2 = _brute_mclp(cost, w, 3, 35.0, **kw)
    assert mc.objective_ == pytest.approx(val2)
    assert set(mc.selected_.tolist()) in sets2


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 3))
def test_pmedian_brute_force_property(seed: int, k: int) -> None:
    cost, w = _instance(seed, n=12, m=6)
    m = p_median(cost, k=k, weights=w)
    val, _ = _brute_pmedian(cost, w, k)
    assert m.objective_ == pytest.approx(val, rel=1e-9)


def test_unreachable_pairs_respected() -> None:
    cost = np.array([[1.0, np.nan], [np.nan, 1.0], [2.0, 9.0]])
    with pytest.raises(InfeasibleError, match="infeasible"):
        p_median(cost, k=1)  # points 0 and 1 need different sites
    m2 = p_median(cost, k=2)
    assert m2.objective_ == pytest.approx(4.0)
    cost3 = np.array([[1.0, 3.0], [np.nan, np.nan], [4.0, 1.0]])
    with pytest.raises(InfeasibleError, match="reach no candidate"):
        p_median(cost3, k=1)
    m3 = p_median(cost3, k=1, drop_unreachable=True)
    assert m3.selected_ids_ == [1]
    assert m3.objective_ == pytest.approx(4.0)


def test_predefined_sites_are_opened() -> None:
    cost, w = _instance(3)
    m = p_median(cost, k=3, weights=w, predefined=[5])
    assert 5 in m.selected_
    val = min(float((w * cost[:, list(s)].min(axis=1)).sum())
              for s in itertools.combinations(range(8), 3) if 5 in s)
    assert m.objective_ == pytest.approx(val)


def test_infeasible_constraints_raise() -> None:
    cost, w = _instance(1)
    groups = ["a"] * 8
    with pytest.raises(InfeasibleError, match=r"infeasible.*max_per_prefecture = 1"):
        p_median(cost, k=2, weights=w, groups=groups, max_per_group=1)
    cc = np.zeros((8, 8))
    with pytest.raises(InfeasibleError, match="min_spacing"):
        max_cover(cost, k=2, standard=10, weights=w, candidate_cost=cc, min_spacing=1.0)


def test_bad_parameters() -> None:
    cost, w = _instance(1)
    with pytest.raises(ParameterError, match="larger than the number of candidates"):
        p_median(cost, k=9, weights=w)
    with pytest.raises(ParameterError, match="at least 1"):
        p_median(cost, k=0, weights=w)
    with pytest.raises(ParameterError, match="weights for 25 demand"):
        p_median(cost, k=2, weights=w[:3])
    with pytest.raises(ParameterError, match="non-negative"):
        p_median(cost, k=2, weights=-w)
    with pytest.raises(ParameterError, match="standard"):
        max_cover(cost, k=2, standard=0.0, weights=w)
    with pytest.raises(ParameterError, match="candidate-to-candidate"):
        p_median(cost, k=2, min_spacing=5.0)
    with pytest.raises(ParameterError, match="group"):
        p_median(cost, k=2, max_per_group=1)


def test_time_limit_without_solution_is_solver_error() -> None:
    cost, w = _instance(5, n=60, m=30)
    with pytest.raises(SolverError, match="not solved: HiGHS status 'Time limit reached'"):
        p_median(cost, k=5, weights=w, time_limit=1e-6)
