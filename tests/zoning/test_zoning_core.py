from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zoning_helpers import independent_check, small_instance

from iptown_gis.errors import ColumnError, GeometryError, InfeasibleError, ParameterError
from iptown_gis.zoning import ZoningModel, cells_from_polygons, grid_cells, layout_modules
from iptown_gis.zoning.check import check_layout

FAST = {"iterations": 15_000, "restarts": 2}


def test_grid_rook_adjacency_and_polygons_agree():
    cs = grid_cells((0, 0, 500, 400), 100.0, crs="EPSG:4548")
    assert cs.n == 20
    assert len(cs.edges) == 4 * 4 + 3 * 5  # horizontal + vertical rook pairs
    poly = cells_from_polygons(cs.to_geodataframe())
    assert poly.kind == "grid"
    assert sorted(map(tuple, poly.edges.tolist())) == sorted(map(tuple, cs.edges.tolist()))
    np.testing.assert_allclose(poly.edge_length, 100.0)


def test_exact_and_heuristic_agree_and_pass_checkers():
    ex = small_instance().solve(method="exact", time_limit=60)
    assert ex.status_ == "optimal"
    assert ex.bound_ >= ex.objective_ - 1e-6
    he = small_instance().solve(method="heuristic", seed=1, **FAST)
    assert he.objective_ == pytest.approx(ex.objective_, abs=1e-9)
    for m in (ex, he):
        assert independent_check(m, m.labels_) == []
        assert all(c.passed for c in check_layout(m, m.labels_))


def test_heuristic_reaches_optimum_with_tolerance_and_compactness():
    kw = {"body": 8, "wing_east": 5, "wing_west": 5, "tolerance": 0.2, "compactness_weight": 0.05}
    ex = small_instance(seed=5, **kw).solve(method="exact", time_limit=90)
    he = small_instance(seed=5, **kw).solve(method="heuristic", seed=2, **FAST)
    assert ex.status_ == "optimal"
    assert he.objective_ >= ex.objective_ - 1e-6 * abs(ex.objective_)
    assert independent_check(he, he.labels_) == []


def test_same_seed_same_layout():
    a = small_instance(9, body=12, wing_east=8, wing_west=8).solve(method="heuristic", seed=7, **FAST)
    b = small_instance(9, body=12, wing_east=8, wing_west=8).solve(method="heuristic", seed=7, **FAST)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.objective_ == b.objective_


def test_zero_weights_objective_is_suitability_sum():
    m = small_instance(8, body=10, wing_east=6, wing_west=6).solve(method="heuristic", seed=0, **FAST)
    lab = m.labels_
    on = lab >= 0
    expect = m.suitability[np.flatnonzero(on), lab[on]].sum()
    assert m.objective_ == pytest.approx(expect, abs=1e-9)


def test_compactness_term_is_perimeter():
    m = small_instance(8, body=10, wing_east=6, wing_west=6, compactness_weight=0.1)
    m.solve(method="heuristic", seed=0, **FAST)
    lab = m.labels_
    perim = 0
    for d in range(3):
        g = np.zeros((8, 8), dtype=int)
        rc = m.cells.grid_rc[lab == d]
        g[rc[:, 0], rc[:, 1]] = 1
        p = np.pad(g, 1)
        perim += int(np.abs(np.diff(p, axis=0)).sum() + np.abs(np.diff(p, axis=1)).sum())
    on = lab >= 0
    suit = m.suitability[np.flatnonzero(on), lab[on]].sum()
    assert m.objective_ == pytest.approx(suit - 0.1 * perim, abs=1e-9)


def test_wings_on_opposite_sides_along_any_bearing():
    m = small_instance(8, body=10, wing_east=6, wing_west=6, axis_bearing=0.0)  # north-south axis
    m.solve(method="heuristic", seed=3, **FAST)
    assert independent_check(m, m.labels_) == []
    y = m.cells.centroids[:, 1]
    assert y[m.labels_ == 1].mean() > y[m.labels_ == 0].mean() > y[m.labels_ == 2].mean()


def test_exclusions_respected():
    m0 = small_instance(8, body=10, wing_east=6, wing_west=6)
    cs = m0.cells
    cs.excluded[:] = False
    cs.excluded[[27, 28, 35, 36]] = True  # a 2x2 hole in the middle
    m = ZoningModel.districts(cs, suit_body=m0.suitability[:, 0], suit_east=m0.suitability[:, 1],
                              suit_west=m0.suitability[:, 2], body=10, wing_east=6, wing_west=6)
    m.solve(method="heuristic", seed=1, **FAST)
    assert (m.labels_[cs.excluded] == -1).all()
    assert independent_check(m, m.labels_) == []


def test_targets_exceeding_cells():
    with pytest.raises(InfeasibleError, match="size targets"):
        small_instance(5, body=20, wing_east=5, wing_west=5).solve(method="heuristic")


def test_orientation_infeasible_is_named():
    cs = grid_cells((0, 0, 100, 1000), 100.0)  # one column: no west-east separation possible
    s = np.ones(cs.n)
    m = ZoningModel.districts(cs, suit_body=s, suit_east=s, suit_west=s, body=2, wing_east=2, wing_west=2)
    with pytest.raises(InfeasibleError, match="orientation"):
        m.solve(method="exact", warm_start=False, time_limit=30)
    with pytest.raises(InfeasibleError, match="orientation"):
        ZoningModel.districts(cs, suit_body=s, suit_east=s, suit_west=s, body=2, wing_east=2,
                              wing_west=2).solve(method="heuristic", iterations=3000, restarts=1)


def test_missing_and_nan_columns():
    cs = grid_cells((0, 0, 400, 400), 100.0)
    cs.data["a"] = 1.0
    with pytest.raises(ColumnError, match="'nope' not found"):
        ZoningModel.districts(cs, suit_body="nope", suit_east="a", suit_west="a", body=3, wing_east=2, wing_west=2)
    cs.data.loc[3, "a"] = np.nan
    with pytest.raises(ColumnError, match="NaN"):
        ZoningModel.districts(cs, suit_body="a", suit_east="a", suit_west="a", body=3, wing_east=2, wing_west=2)


def test_disconnected_cells():
    cs = grid_cells((0, 0, 500, 100), 100.0)
    cs.excluded[2] = True
    s = np.ones(cs.n)
    with pytest.raises(GeometryError, match="2 separate areas"):
        ZoningModel.districts(cs, suit_body=s, suit_east=s, suit_west=s, body=1, wing_east=1, wing_west=1)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="method"):
        small_instance().solve(method="magic")
    with pytest.raises(ParameterError, match="tolerance"):
        small_instance(tolerance=1.5)


def test_modules_partition_body():
    m = small_instance(10, body=28, wing_east=12, wing_west=12).solve(method="heuristic", seed=0, **FAST)
    mm, mlab = layout_modules(m.cells, m.labels_, method="heuristic", seed=0)
    body = m.labels_ == 0
    assert ((mlab >= 0) == body).all()
    assert independent_check(mm, mm.labels_) == []
    assert sorted(set(mlab[body].tolist())) == list(range(7))


def test_parcels_from_polygons():
    cs = grid_cells((0, 0, 600, 600), 100.0, crs="EPSG:4548")
    g = cs.to_geodataframe()
    # merge pairs of cells in the first row into wider parcels (irregular sizes)
    merged = gpd.GeoDataFrame(geometry=[g.geometry.iloc[0].union(g.geometry.iloc[1]), *list(g.geometry.iloc[2:])],
                              crs=g.crs)
    merged["s"] = np.linspace(0, 1, len(merged))
    pc = cells_from_polygons(merged)
    assert pc.kind == "parcels"
    m = ZoningModel.districts(pc, suit_body="s", suit_east="s", suit_west="s", body=6, wing_east=4,
                              wing_west=4).solve(method="exact", time_limit=60)
    assert independent_check(m, m.labels_) == []


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), bearing=st.floats(0, 359))
def test_heuristic_layouts_always_pass_checker(seed, bearing):
    m = small_instance(8, seed=seed, body=9, wing_east=5, wing_west=5, axis_bearing=bearing, tolerance=0.2)
    m.solve(method="heuristic", seed=seed, iterations=6000, restarts=1)
    assert independent_check(m, m.labels_) == []


def test_cut_formulation_matches_flow_formulation():
    from iptown_gis.zoning.exact import solve_exact

    m = small_instance(6, seed=4, body=5, wing_east=3, wing_west=3)
    cut = solve_exact(m, time_limit=60, cut_rounds=10)
    flow = solve_exact(m, time_limit=60, cut_rounds=0)
    assert cut.status == flow.status == "optimal"
    assert cut.objective == pytest.approx(flow.objective, abs=1e-7)
    assert independent_check(m, cut.labels) == []


@given(st.integers(0, 255))
def test_ring_simple_point_table_matches_bfs(mask):
    """The 8-ring removability table agrees with a BFS on the 3 x 3 patch."""
    from iptown_gis.zoning.heuristic import _RING_RUNS

    offs = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
    on = {offs[t] for t in range(8) if (mask >> t) & 1}
    rook = [o for o in on if abs(o[0]) + abs(o[1]) == 1]
    if not rook:
        assert _RING_RUNS[mask] == 0
        return
    seen, stack = {rook[0]}, [rook[0]]
    while stack:
        r, c = stack.pop()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            v = (r + dr, c + dc)
            if v in on and v not in seen:
                seen.add(v)
                stack.append(v)
    assert (_RING_RUNS[mask] <= 1) == all(o in seen for o in rook)


def test_exact_runs_after_other_highs_solves_in_the_process():
    """HiGHS keeps one thread scheduler per process: an earlier solve with default options
    (as the sites stage's p-median / MCLP) must not stop the zoning MIP from running."""
    from iptown_gis.sites import PMedian

    cost = np.array([[0.0, 2.0, 5.0], [2.0, 0.0, 3.0], [5.0, 3.0, 0.0]])
    PMedian.from_cost_matrix(cost, np.ones(3), p_facilities=1).solve()
    ex = small_instance().solve(method="exact", time_limit=60)
    assert ex.status_ == "optimal"
    assert independent_check(ex, ex.labels_) == []


def _connected_sets(nb: list[list[int]], k: int) -> list[frozenset[int]]:
    """All connected k-sets by plain breadth extension (independent of the solver's enumerator)."""
    level = {frozenset([i]) for i in range(len(nb))}
    for _ in range(k - 1):
        level = {s | {j} for s in level for i in s for j in nb[i] if j not in s}
    return sorted(level, key=sorted)


@pytest.mark.parametrize("seed", [1, 6])
def test_exact_optimum_equals_brute_force(seed):
    """The contact formulation (one contact, contact flow, contact bound) cuts off no layout:
    the MIP optimum equals the best layout over every connected body and pair of wings."""
    m = small_instance(5, seed=seed, body=4, wing_east=3, wing_west=3)
    nb: list[list[int]] = [[] for _ in range(m.cells.n)]
    for i, j in m.cells.edges.tolist():
        nb[i].append(j)
        nb[j].append(i)
    bodies, wings = _connected_sets(nb, 4), _connected_sets(nb, 3)
    s = m.suitability
    best = -np.inf
    for B in bodies:
        sb = s[list(B), 0].sum()
        adj = {j for i in B for j in nb[i]} - B
        for E in wings:
            if E & B or not E & adj:
                continue
            se = s[list(E), 1].sum()
            for W in wings:
                if W & B or W & E or not W & adj:
                    continue
                total = sb + se + s[list(W), 2].sum()
                if total <= best:
                    continue
                lab = np.full(m.cells.n, -1)
                lab[list(B)], lab[list(E)], lab[list(W)] = 0, 1, 2
                if not independent_check(m, lab):
                    best = total
    ex = m.solve(method="exact", time_limit=120, warm_start=False)
    assert ex.status_ == "optimal"
    assert ex.objective_ == pytest.approx(best, abs=1e-9)
    assert independent_check(ex, ex.labels_) == []
