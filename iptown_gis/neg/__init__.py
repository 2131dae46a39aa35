"""New Economic Geography: the R-region core-periphery model and a calibrated spatial model.

Fujita, Krugman & Venables (1999), *The Spatial Economy*, ch. 5-6. Function-first API::

    from iptown_gis import neg
    m = neg.NEGModel.from_costs(minutes, tau=0.004, sigma=5, mu=0.4, phi=pop_share)
    sr = neg.short_run(m, lam)             # wages, price indices, incomes, real wages
    lr = neg.long_run(m, lam0)             # stable long-run distribution
    st = neg.stability(m, lr.lam)          # eigenvalues on the simplex
    neg.break_point(5, 0.4), neg.sustain_point(5, 0.4)     # 1.627, 1.807
    neg.racetrack_break_tau(12, sigma=5, mu=0.4)

The quantitative spatial model (:mod:`iptown_gis.neg.qsm`) for policy counterfactuals::

    base = neg.calibrate(population, gdp, neg.internal_minutes(minutes), params=neg.QSMParams())
    r = neg.counterfactual(base, minutes=new_minutes)   # changes from today (hats)
"""

from iptown_gis.neg.barriers import Mobility, flows, utility
from iptown_gis.neg.breakpoints import (
    break_point,
    break_point_closed_form,
    racetrack_break_tau,
    racetrack_max_eigenvalue,
    ring_distance,
    sustain_point,
    sustain_point_closed_form,
    two_region_model,
)
from iptown_gis.neg.equilibrium import LongRun, ShortRun, long_run, short_run
from iptown_gis.neg.model import (
    NEGModel,
    NEGParams,
    NoBlackHoleWarning,
    check_cost_matrix,
    check_shares,
    observed_shares,
    trade_cost_matrix,
)
from iptown_gis.neg.qsm import (
    QSMBaseline,
    QSMParams,
    QSMResult,
    calibrate,
    counterfactual,
    internal_minutes,
    solve_levels,
)
from iptown_gis.neg.stability import (
    Stability,
    dynamics_jacobian,
    real_wage_jacobian,
    simplex_basis,
    stability,
)

__all__ = [
    "LongRun",
    "Mobility",
    "NEGModel",
    "NEGParams",
    "NoBlackHoleWarning",
    "QSMBaseline",
    "QSMParams",
    "QSMResult",
    "ShortRun",
    "Stability",
    "break_point",
    "break_point_closed_form",
    "calibrate",
    "check_cost_matrix",
    "check_shares",
    "counterfactual",
    "dynamics_jacobian",
    "flows",
    "internal_minutes",
    "long_run",
    "observed_shares",
    "racetrack_break_tau",
    "racetrack_max_eigenvalue",
    "real_wage_jacobian",
    "ring_distance",
    "short_run",
    "simplex_basis",
    "solve_levels",
    "stability",
    "sustain_point",
    "sustain_point_closed_form",
    "trade_cost_matrix",
    "two_region_model",
    "utility",
]
