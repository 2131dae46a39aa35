"""NEG engine: closed forms, invariants, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iptown_gis.errors import ConvergenceError, ParameterError
from iptown_gis.neg import (
    Mobility,
    NEGModel,
    NEGParams,
    NoBlackHoleWarning,
    break_point,
    break_point_closed_form,
    dynamics_jacobian,
    flows,
    long_run,
    racetrack_break_tau,
    racetrack_max_eigenvalue,
    short_run,
    stability,
    sustain_point,
    sustain_point_closed_form,
    utility,
)


def test_reference_tomahawk_sigma5_mu04() -> None:
    assert round(break_point(5, 0.4), 3) == 1.627
    assert round(sustain_point(5, 0.4), 3) == 1.807


@pytest.mark.parametrize(("sigma", "mu"), [(4.0, 0.3), (6.0, 0.5), (3.0, 0.2), (8.0, 0.6)])
def test_numerical_points_match_closed_forms(sigma: float, mu: float) -> None:
    assert break_point(sigma, mu) == pytest.approx(break_point_closed_form(sigma, mu), abs=5e-4)
    assert sustain_point(sigma, mu) == pytest.approx(sustain_point_closed_form(sigma, mu), abs=5e-4)
    assert sustain_point(sigma, mu) > break_point(sigma, mu)


def test_ring2_break_tau_is_log_break_point() -> None:
    assert racetrack_break_tau(2, sigma=5, mu=0.4) == pytest.approx(np.log(break_point_closed_form(5, 0.4)),
                                                                     abs=1e-6)


def test_racetrack_stability_changes_at_break_tau() -> None:
    tb = racetrack_break_tau(6, sigma=5, mu=0.4)
    assert racetrack_max_eigenvalue(6, tau=tb * 0.9, sigma=5, mu=0.4) > 0
    assert racetrack_max_eigenvalue(6, tau=tb * 1.1, sigma=5, mu=0.4) < 0


def test_walras_and_short_run_equations() -> None:
    rng = np.random.default_rng(3)
    n = 7
    c = rng.uniform(1, 4, (n, n))
    c = (c + c.T) / 2
    np.fill_diagonal(c, 0)
    m = NEGModel.from_costs(c, tau=0.4, phi=rng.dirichlet(np.ones(n)))
    lam = rng.dirichlet(np.ones(n))
    sr = short_run(m, lam)
    assert float(lam @ sr.wage) == pytest.approx(1.0, abs=1e-9)  # wage bill = manufacturing spending
    G = (m.freeness.T @ (lam * sr.wage ** (1 - m.sigma))) ** (1 / (1 - m.sigma))
    np.testing.assert_allclose(sr.price_index, G, rtol=1e-10)
    np.testing.assert_allclose(sr.real_wage, sr.wage * sr.price_index ** (-m.mu), rtol=1e-12)
    fp = short_run(m, lam, method="fixed-point")
    np.testing.assert_allclose(fp.wage, sr.wage, rtol=1e-9)


@pytest.mark.parametrize("mob", [Mobility(), Mobility(congestion=0.1, amenity=[0.05, 0, 0, 0, 0]),
                                 Mobility(barrier=np.full((5, 5), 0.5) - 0.5 * np.eye(5))])
def test_jacobian_matches_finite_differences(mob: Mobility) -> None:
    rng = np.random.default_rng(1)
    n = 5
    c = rng.uniform(1, 3, (n, n))
    c = (c + c.T) / 2
    np.fill_diagonal(c, 0)
    m = NEGModel.from_costs(c, tau=0.3)
    lam = rng.dirichlet(np.ones(n))
    J = dynamics_jacobian(m, lam, mobility=mob)

    def F(v: np.ndarray) -> np.ndarray:
        return flows(v, utility(v, short_run(m, v, check=False).real_wage, mob), mob)

    h = 1e-6
    fd = np.column_stack([(F(lam + h * e) - F(lam - h * e)) / (2 * h) for e in np.eye(n)])
    P = np.eye(n) - 1.0 / n  # compare on sum-zero directions
    np.testing.assert_allclose(J @ P, fd @ P, atol=1e-7)


def test_symmetric_inputs_give_symmetric_equilibria() -> None:
    m = NEGModel.racetrack(8, tau=1.0)
    sr = short_run(m, np.full(8, 1 / 8))
    np.testing.assert_allclose(sr.wage, sr.wage[0], rtol=1e-12)
    lr = long_run(m, np.full(8, 1 / 8))
    assert lr.stable
    np.testing.assert_allclose(lr.lam, 1 / 8, atol=1e-9)
    two = NEGModel.from_trade_costs([[1, 1.3], [1.3, 1]])
    np.testing.assert_allclose(short_run(two, [0.5, 0.5]).real_wage[0], short_run(two, [0.5, 0.5]).real_wage[1])


def test_long_run_core_periphery_and_stability() -> None:
    m = NEGModel.from_trade_costs([[1, 1.5], [1.5, 1]])
    lr = long_run(m, [0.6, 0.4])
    assert lr.stable
    np.testing.assert_allclose(lr.lam, [1.0, 0.0])
    st_cp = stability(m, [1.0, 0.0])
    sr = short_run(m, [1.0, 0.0])
    assert st_cp.max_eigenvalue == pytest.approx(sr.real_wage[1] - sr.real_wage[0], abs=1e-10)


def test_congestion_keeps_every_region_settled() -> None:
    m = NEGModel.racetrack(5, tau=0.2)
    lam0 = np.array([0.4, 0.3, 0.1, 0.1, 0.1])
    lr = long_run(m, lam0, mobility=Mobility(congestion=0.2))
    assert (lr.lam > 0.01).all()
    assert lr.stable


@settings(max_examples=12, deadline=None)
@given(st.integers(min_value=3, max_value=7), st.integers(min_value=0, max_value=10_000))
def test_permutation_invariance(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 3, (n, 2))
    c = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    phi = rng.dirichlet(np.ones(n))
    lam = rng.dirichlet(np.ones(n))
    perm = rng.permutation(n)
    m = NEGModel.from_costs(c, tau=0.5, phi=phi)
    mp = NEGModel.from_costs(c[np.ix_(perm, perm)], tau=0.5, phi=phi[perm])
    a, b = short_run(m, lam), short_run(mp, lam[perm])
    np.testing.assert_allclose(a.real_wage[perm], b.real_wage, rtol=1e-9)
    np.testing.assert_allclose(a.price_index[perm], b.price_index, rtol=1e-9)
    ea = np.sort(stability(m, lam).eigenvalues.real)
    eb = np.sort(stability(mp, lam[perm]).eigenvalues.real)
    np.testing.assert_allclose(ea, eb, atol=1e-10)


# ---- bad input -------------------------------------------------------------------------------

def test_bad_sigma_mu() -> None:
    with pytest.raises(ParameterError, match=r"sigma = 1\.0"):
        NEGParams(sigma=1.0)
    with pytest.raises(ParameterError, match=r"mu = 1\.2"):
        NEGParams(mu=1.2)
    with pytest.raises(ParameterError, match=r"mu = 0"):
        NEGParams(mu=0)


def test_black_hole_warns_or_raises() -> None:
    with pytest.warns(NoBlackHoleWarning, match="no-black-hole"):
        NEGParams(sigma=2.0, mu=0.6)
    with pytest.raises(ParameterError, match=r"sigma \* \(1 - mu\) = 0\.8"):
        NEGParams(sigma=2.0, mu=0.6, strict=True)


@pytest.mark.parametrize(("cost", "pattern"), [
    (np.zeros((2, 3)), r"square 2-D matrix, got shape \(2, 3\)"),
    (np.array([[0, -1.0], [1, 0]]), r"\[0, 1\] = -1\.0"),
    (np.array([[0, np.nan], [1, 0]]), r"NaN entries \(first at \[0, 1\]\)"),
    (np.array([[0.5, 1], [1, 0]]), r"diagonal must be 0, but \[0, 0\] = 0\.5"),
])
def test_bad_cost_matrix(cost: np.ndarray, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        NEGModel.from_costs(cost, tau=0.1)


def test_bad_shares_and_tau() -> None:
    m = NEGModel.racetrack(3, tau=0.5)
    with pytest.raises(ParameterError, match=r"sum to 0\.9"):
        short_run(m, [0.3, 0.3, 0.3])
    with pytest.raises(ParameterError, match=r"negative values \(first: \[1\] = -0\.1\)"):
        short_run(m, [0.6, -0.1, 0.5])
    with pytest.raises(ParameterError, match="has 2 values but the model has 3"):
        short_run(m, [0.5, 0.5])
    with pytest.raises(ParameterError, match=r"agricultural shares phi must sum to 1"):
        NEGModel.from_costs(np.zeros((2, 2)), tau=1.0, phi=[0.2, 0.2])
    with pytest.raises(ParameterError, match=r"tau = -1\.0"):
        NEGModel.racetrack(3, tau=-1.0)
    with pytest.raises(ParameterError, match="barrier matrix must be symmetric"):
        long_run(m, mobility=Mobility(barrier=np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0.0]])))


def test_convergence_error_names_the_cap() -> None:
    m = NEGModel.racetrack(4, tau=0.5)
    with pytest.raises(ConvergenceError, match="did not converge in 2 iterations"):
        short_run(m, [0.7, 0.1, 0.1, 0.1], max_iter=2, method="fixed-point")
