"""Sweeps and Monte Carlo as tasks: the same results on Dask and in-process."""

from __future__ import annotations

import numpy as np
import pytest

from iptown_gis.errors import ParameterError
from iptown_gis.neg.sweeps import neg_sweep
from iptown_gis.parallel.sweeps import monte_carlo
from iptown_gis.sites.scoring import robustness as sites_robustness

pytestmark = pytest.mark.dask


def test_sites_robustness_equal(executor):
    from iptown_gis.sites.scoring import robustness

    rng = np.random.default_rng(3)
    crit = rng.random((40, 4))
    ids = np.arange(40)
    ref = robustness(crit, [0.4, 0.3, 0.2, 0.1], ids=ids, k=5, draws=900, seed=7, batch=200)
    got = sites_robustness(crit, [0.4, 0.3, 0.2, 0.1], ids=ids, k=5, draws=900, seed=7, batch=200,
                           executor=executor)
    for name in ("p_top_k", "rank_p05", "rank_median", "rank_p95", "weights"):
        assert np.array_equal(getattr(got, name), getattr(ref, name)), name


def test_neg_sweep_equal(executor):
    ring = np.array([[min(abs(i - j), 6 - abs(i - j)) for j in range(6)] for i in range(6)], dtype=float)
    lam0 = np.array([0.2, 0.18, 0.16, 0.16, 0.15, 0.15])
    a = neg_sweep(ring, taus=[0.1, 0.6], lam0=lam0)
    b = neg_sweep(ring, taus=[0.1, 0.6], lam0=lam0, executor=executor)
    assert [p for p, _ in a] == [p for p, _ in b]
    for (_, ra), (_, rb) in zip(a, b):
        np.testing.assert_allclose(rb.lam, ra.lam, rtol=1e-12, atol=1e-15)
        assert abs(ra.lam.sum() - 1) < 1e-9


def _draw_mean(rng, shared):
    return float(rng.normal(shared, 1.0, size=1000).mean())


def test_monte_carlo_independent_of_placement(executor):
    a = monte_carlo(_draw_mean, 6, shared=2.0, seed=11)
    b = monte_carlo(_draw_mean, 6, shared=2.0, seed=11, executor=executor)
    assert a == b
    assert len(set(a)) == 6


def test_sweep_errors():
    with pytest.raises(ParameterError, match="at least one"):
        neg_sweep(np.zeros((2, 2)), taus=[])
    with pytest.raises(ParameterError, match="at least 1"):
        monte_carlo(_draw_mean, 0)
