"""Tomahawk and bifurcation diagrams over the trade cost (CSV tables and PNG charts).

* :func:`tomahawk`: every equilibrium ``lam_1`` of the two-region economy for a grid of trade
  costs ``T``, with its stability (FKV fig. 5.4). Interior asymmetric equilibria are roots of
  ``omega_1 - omega_2`` in ``lam_1`` found by a scan and Brent's method.
* :func:`bifurcation`: long-run shares of every region of any economy (a cost matrix, e.g. the
  racetrack or the Anhui prefectures) over a grid of ``tau``, each run started from ``lam0``.

Charts are drawn with Matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from iptown_gis.errors import ParameterError
from iptown_gis.io.atomic import atomic_path
from iptown_gis.neg.barriers import Mobility
from iptown_gis.neg.breakpoints import two_region_model
from iptown_gis.neg.equilibrium import long_run, short_run
from iptown_gis.neg.model import NEGModel, NEGParams, check_cost_matrix
from iptown_gis.neg.stability import stability
from iptown_gis.progress import Progress, ProgressCallback, as_progress

__all__ = ["bifurcation", "plot_bifurcation", "plot_tomahawk", "tomahawk", "write_diagram"]

log = logging.getLogger(__name__)


def _gap(m: NEGModel, l1: float) -> float:
    sr = short_run(m, [l1, 1.0 - l1])
    return float(sr.real_wage[0] - sr.real_wage[1])


def tomahawk(
    sigma: float = 5.0,
    mu: float = 0.4,
    *,
    T_range: tuple[float, float] = (1.05, 2.5),
    n_T: int = 120,
    n_lambda: int = 60,
    progress: ProgressCallback | Progress | None = None,
) -> pd.DataFrame:
    """Equilibria of the two-region economy over trade costs ``T``.

    Parameters
    ----------
    sigma, mu
        Elasticity of substitution and manufacturing share (see :class:`~iptown_gis.neg.model.NEGParams`).
    T_range, n_T
        Range of trade costs ``T`` and the number of values in it.
    n_lambda
        Grid points of ``lambda1`` in (0, 1/2) scanned per ``T`` for interior equilibria (>= 4).
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Returns
    -------
    pandas.DataFrame
        Columns ``T``, ``lambda1``, ``kind`` (``symmetric``, ``core``, ``interior``),
        ``stable`` (bool), ``max_eigenvalue``, ``stability`` (``"stable"`` / ``"unstable"``: the
        two-region economy has no moving costs).

    Raises
    ------
    ParameterError
        Bad ``sigma``/``mu`` or ranges.
    """
    NEGParams(sigma=sigma, mu=mu)
    lo, hi = float(T_range[0]), float(T_range[1])
    if not 1.0 < lo < hi or n_T < 2 or n_lambda < 4:
        raise ParameterError(f"T_range = {T_range!r}, n_T = {n_T}, n_lambda = {n_lambda}: need 1 < low < "
                             "high, n_T >= 2, n_lambda >= 4")
    prog = as_progress(progress)
    rows: list[dict[str, Any]] = []
    grid = np.linspace(1e-4, 0.5 - 1e-4, int(n_lambda))
    for k, T in enumerate(np.linspace(lo, hi, int(n_T))):
        prog.update(k / n_T, f"T = {T:.3f}")
        m = two_region_model(float(T), sigma=sigma, mu=mu)
        points: list[tuple[float, str]] = [(0.5, "symmetric"), (1.0, "core"), (0.0, "core")]
        g = np.array([_gap(m, float(x)) for x in grid])
        for i in range(len(grid) - 1):
            if g[i] == 0 or g[i] * g[i + 1] < 0:
                r = float(brentq(lambda x, m=m: _gap(m, x), grid[i], grid[i + 1], xtol=1e-12))
                if abs(r - 0.5) > 1e-6:
                    points += [(r, "interior"), (1.0 - r, "interior")]
        for l1, kind in points:
            st = stability(m, [l1, 1.0 - l1])
            rows.append({"T": float(T), "lambda1": l1, "kind": kind, "stable": bool(st.stable),
                         "max_eigenvalue": st.max_eigenvalue, "stability": st.stability})
    prog.update(1.0, "tomahawk")
    return pd.DataFrame(rows)


def bifurcation(
    cost: ArrayLike,
    taus: ArrayLike,
    *,
    sigma: float = 5.0,
    mu: float = 0.4,
    phi: ArrayLike | None = None,
    lam0: ArrayLike | None = None,
    mobility: Mobility | None = None,
    region_ids: list[Any] | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> pd.DataFrame:
    """Long-run shares of every region over a grid of ``tau`` (``T = exp(tau * cost)``).

    Each run starts from ``lam0`` (default: uniform with a tiny deterministic tilt, so that
    symmetric but unstable equilibria are left).

    Parameters
    ----------
    cost
        ``(R, R)`` travel costs.
    taus
        Positive trade-cost rates.
    sigma, mu, phi
        The economy (``phi``: immobile shares, default uniform).
    lam0
        Start of every run.
    mobility
        Barriers, moving costs, amenities and congestion of the dynamics (the pipeline passes
        the baseline scenario's, so that the diagram and the scenarios share one model);
        ``None`` is the plain FKV replicator.
    region_ids
        Region labels of the ``region`` column.
    progress
        Progress / cancellation callback.

    Returns
    -------
    pandas.DataFrame
        Columns ``tau``, ``region``, ``share``, ``real_wage``, ``stable`` (eigenvalue verdict),
        ``max_eigenvalue``, ``stability`` (``"stable"``, ``"unstable"``, ``"inside moving-cost
        band"`` or ``"partly inside moving-cost band"``).

    Raises
    ------
    ParameterError
        Bad costs or ``taus``.
    """
    c = check_cost_matrix(cost)
    n = c.shape[0]
    t = np.asarray(taus, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.isfinite(t).all() or (t <= 0).any():
        raise ParameterError(f"taus = {t.tolist()!r}: give positive, finite values")
    if lam0 is None:
        tilt = 1.0 + 1e-3 * np.cos(2 * np.pi * np.arange(n) / max(n, 1))
        lam0 = tilt / tilt.sum()
    ids = region_ids if region_ids is not None else list(range(n))
    prog = as_progress(progress)
    rows: list[dict[str, Any]] = []
    for k, tau in enumerate(t):
        sub = prog.sub(k / t.size, (k + 1) / t.size)
        m = NEGModel.from_costs(c, tau=float(tau), sigma=sigma, mu=mu, phi=phi, region_ids=ids)
        lr = long_run(m, lam0, mobility=mobility, progress=sub)
        rows.extend({"tau": float(tau), "region": ids[r], "share": float(lr.lam[r]),
                     "real_wage": float(lr.short.real_wage[r]), "stable": bool(lr.stable),
                     "max_eigenvalue": lr.max_eigenvalue, "stability": lr.stability} for r in range(n))
    return pd.DataFrame(rows)


def _save_png(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Lay out ``fig``, write it as a PNG atomically, close it; the path written."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return target


def plot_tomahawk(df: pd.DataFrame, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Draw a tomahawk table (from :func:`tomahawk`) as a PNG (stable: filled, unstable: open).

    Parameters
    ----------
    df
        The table of :func:`tomahawk`.
    path
        The PNG to write (atomically).
    title
        Title (default "Tomahawk: two-region equilibria").
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=120)
    st = df[df["stable"]]
    un = df[~df["stable"]]
    ax.scatter(st["T"], st["lambda1"], s=6, color="black", label="stable")
    ax.scatter(un["T"], un["lambda1"], s=6, facecolors="none", edgecolors="tab:red", linewidths=0.6,
               label="unstable")
    ax.set_xlabel("trade cost T")
    ax.set_ylabel("share of region 1, λ₁")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title or "Tomahawk: two-region equilibria")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return _save_png(fig, path)


def plot_bifurcation(df: pd.DataFrame, path: str | os.PathLike[str], *, title: str | None = None,
                     labels: dict[Any, str] | None = None) -> Path:
    """Draw a bifurcation table (from :func:`bifurcation`) as a PNG: share of each region over tau.

    Parameters
    ----------
    df
        The table of :func:`bifurcation` (``region``, ``tau``, ``share``).
    path
        The PNG to write (atomically).
    title
        Title (default "Bifurcation of long-run shares over tau").
    labels
        Region id -> legend label (default the ids).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for reg, g in df.groupby("region", sort=False):
        g = g.sort_values("tau")
        ax.plot(g["tau"], g["share"], lw=1.0, marker=".", ms=3,
                label=(labels or {}).get(reg, str(reg)))
    ax.set_xscale("log")
    ax.set_xlabel("tau (trade-cost rate per unit of cost)")
    ax.set_ylabel("long-run share λ")
    ax.set_title(title or "Bifurcation of long-run shares over tau")
    if df["region"].nunique() <= 20:
        ax.legend(fontsize=6, ncol=2, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save_png(fig, path)


def write_diagram(df: pd.DataFrame, out_dir: str | os.PathLike[str], name: str, *, kind: str,
                  title: str | None = None) -> tuple[Path, Path]:
    """Write ``name.csv`` and ``name.png`` (``kind`` = ``"tomahawk"`` or ``"bifurcation"``).

    Parameters
    ----------
    df
        The table (:func:`tomahawk` or :func:`bifurcation`).
    out_dir
        The folder written to.
    name
        The file stem.
    kind
        ``"tomahawk"`` or ``"bifurcation"``.
    title
        The figure's title (default per kind).
    """
    out = Path(out_dir)
    csv = out / f"{name}.csv"
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False)
    if kind == "tomahawk":
        png = plot_tomahawk(df, out / f"{name}.png", title=title)
    elif kind == "bifurcation":
        png = plot_bifurcation(df, out / f"{name}.png", title=title)
    else:
        raise ParameterError(f"kind = {kind!r}: use 'tomahawk' or 'bifurcation'")
    return csv, png
