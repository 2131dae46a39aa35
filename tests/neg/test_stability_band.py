"""``stable`` under moving costs: the eigenvalue verdict and the band status ``stability``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iptown_gis.neg import Mobility, NEGModel, flows, long_run, ring_distance, short_run, stability, utility
from iptown_gis.neg.diagrams import bifurcation
from iptown_gis.neg.stability import STATUSES, band_pairs

N = 4
UNIFORM = np.full(N, 1.0 / N)


def _model(tau: float) -> NEGModel:
    return NEGModel.from_costs(ring_distance(N), tau=tau, sigma=5.0, mu=0.4)


def _moving(cost: float, *, free_pair: tuple[int, int] | None = None) -> Mobility:
    C = np.full((N, N), cost)
    np.fill_diagonal(C, 0.0)
    if free_pair is not None:
        i, j = free_pair
        C[i, j] = C[j, i] = 0.0
    return Mobility(moving_cost=C)


def test_uniform_point_frozen_by_moving_costs_reports_the_band():
    """Below the break tau the uniform rest point is unstable; moving costs above every utility
    gap freeze it: the Jacobian is zero, so the eigenvalue verdict alone would say 'stable'."""
    m = _model(0.2)
    plain = stability(m, UNIFORM)
    assert plain.stability == "unstable"
    assert not plain.stable
    frozen = stability(m, UNIFORM, mobility=_moving(1.0))
    np.testing.assert_allclose(frozen.eigenvalues, 0.0, atol=1e-12)
    assert frozen.stable  # no perturbation grows ...
    assert frozen.stability == "inside moving-cost band"  # ... nor decays: it is frozen
    assert frozen.frozen_pairs == N * (N - 1) // 2
    assert frozen.band_slack == pytest.approx(1.0)  # every gap is 0, every cost 1


def test_a_small_perturbation_of_a_frozen_point_is_itself_a_rest_point():
    m, mob = _model(0.2), _moving(1.0)
    lam = UNIFORM + np.array([1e-3, -1e-3, 2e-3, -2e-3])
    u = utility(lam, short_run(m, lam).real_wage, mob)
    np.testing.assert_array_equal(flows(lam, u, mob), 0.0)  # the perturbation stays, it is not undone
    u0 = utility(lam, short_run(m, lam).real_wage, Mobility())
    assert np.abs(flows(lam, u0, Mobility())).max() > 1e-6  # without moving costs it moves
    st = stability(m, lam, mobility=mob)
    assert st.stability == "inside moving-cost band"
    assert 0 < st.band_slack < 1.0


def test_partly_inside_the_band_and_unstable_despite_the_band():
    # above the break tau the uniform point is stable; one cost-free pair stays active
    hi = stability(_model(1.5), UNIFORM, mobility=_moving(1.0, free_pair=(0, 1)))
    assert hi.stable
    assert hi.stability == "partly inside moving-cost band"
    assert hi.frozen_pairs == N * (N - 1) // 2 - 1
    ev = np.sort(hi.eigenvalues.real)
    assert ev[0] < -1e-3  # the active direction e0 - e1 returns ...
    np.testing.assert_allclose(ev[1:], 0.0, atol=1e-12)  # ... the frozen ones neither return nor grow
    assert stability(_model(1.5), UNIFORM).stability == "stable"
    # below it, the active pair alone makes it unstable: the band does not hide that
    lo = stability(_model(0.2), UNIFORM, mobility=_moving(1.0, free_pair=(0, 1)))
    assert lo.stability == "unstable"
    assert not lo.stable


def test_band_pairs_edges_and_empty_regions():
    C = np.array([[0.0, 0.5, 0.2], [0.1, 0.0, 0.3], [0.2, 0.3, 0.0]])
    mob = Mobility(moving_cost=C)
    u = np.array([1.0, 1.1, 1.0])  # u_1 - u_0 = 0.1 = C[0, 1]... moving 0 -> 1 needs 0.5
    inside, slack = band_pairs(np.array([0.5, 0.5, 0.0]), u, mob)
    # pair (0, 1): gap u_1 - u_0 = 0.1 < C[0, 1] = 0.5 and u_0 - u_1 = -0.1 < C[1, 0] = 0.1
    assert inside[0, 1]
    assert slack[0, 1] == pytest.approx(min(0.5 - 0.1, 0.1 + 0.1))
    # pair (0, 2): no gap, cost 0.2 both ways: inside
    assert inside[0, 2]
    inside2, _ = band_pairs(np.array([0.5, 0.5, 0.0]), np.array([1.0, 1.6, 1.0]), mob)
    assert not inside2[0, 1]  # gap 0.6 beyond the 0.5 band: active
    none, _ = band_pairs(np.array([0.5, 0.5, 0.0]), u, None)
    assert not none.any()
    # two empty regions: their pair is irrelevant, not counted
    inside3, _ = band_pairs(np.array([1.0, 0.0, 0.0]), u, mob)
    assert not inside3[1, 2]


def test_long_run_reports_a_frozen_start():
    m = _model(0.2)
    lam0 = np.array([0.3, 0.25, 0.25, 0.2])
    lr = long_run(m, lam0, mobility=_moving(1.0))
    np.testing.assert_allclose(lr.lam, lam0)  # nobody moves
    assert lr.stable
    assert lr.stability == "inside moving-cost band"
    assert lr.frozen_pairs == 6
    free = long_run(m, lam0)
    assert free.stability == "stable"
    assert free.lam.max() > 0.9  # agglomeration without moving costs


def test_bifurcation_uses_the_mobility_and_reports_stability():
    lam0 = np.array([0.3, 0.25, 0.25, 0.2])
    plain = bifurcation(ring_distance(N), [0.2, 1.5], lam0=lam0)
    frozen = bifurcation(ring_distance(N), [0.2, 1.5], lam0=lam0, mobility=_moving(1.0))
    assert {"stable", "stability", "max_eigenvalue"} <= set(frozen.columns)
    assert set(frozen["stability"]) <= set(STATUSES)
    assert (frozen["stability"] == "inside moving-cost band").all()
    np.testing.assert_allclose(frozen["share"], np.tile(lam0, 2))
    assert (plain["stability"] == "stable").all()
    assert plain[plain.tau == 0.2]["share"].max() > 0.9


def test_stage_diagram_runs_the_baseline_mobility(tmp_path: Path, sample_dir: Path, monkeypatch) -> None:
    from iptown_gis.neg import stage
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.progress import as_progress
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(sample_dir / "scenario.toml")
    cfg = scen.section("neg")
    cfg.scenarios = [s for s in cfg.scenarios if s.name == "baseline"]
    cfg.bifurcation_taus = [cfg.tau]
    cfg.model = "fkv"  # the FKV scenarios: their baseline equilibrium is the diagram's point at tau
    seen: dict[str, object] = {}
    real = stage.neg_bifurcation

    def spy(cost, taus, **kw):
        seen.update(kw)
        return real(cost, taus, **kw)

    monkeypatch.setattr(stage, "neg_bifurcation", spy)
    ctx = StudyContext(scenario=scen, out_dir=tmp_path / "out")
    stage.run(ctx, as_progress(None))
    mob = seen["mobility"]
    assert isinstance(mob, Mobility)
    assert mob.congestion == pytest.approx(cfg.congestion)
    off = ~np.eye(len(ctx.neg.region_ids), dtype=bool)
    assert mob.moving_cost is not None
    assert (mob.moving_cost[off] >= cfg.moving_cost).all()
    df = pd.read_csv(tmp_path / "out" / "neg" / "bifurcation.csv")
    assert "stability" in df.columns
    # the diagram at the scenario's tau is the baseline scenario's equilibrium
    base = ctx.neg.shares
    np.testing.assert_allclose(df["share"].to_numpy(), base, atol=1e-6)
