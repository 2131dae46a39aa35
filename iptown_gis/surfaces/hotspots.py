"""Local spatial association: Getis-Ord Gi* and local Moran's I with permutation inference.

The statistics, their z-scores and the conditional-permutation pseudo p-values are those of
PySAL's ``esda`` (``G_Local(star=True)`` and ``Moran_Local``), which is the reference
implementation; this module builds the spatial weights (contiguity of polygons or of grid
cells, k nearest neighbours, distance bands), checks the inputs, adds the
Benjamini-Hochberg false discovery rate control and labels the results.

Gi* (Getis and Ord 1992; Ord and Getis 1995) uses binary weights with each feature its own
neighbour; its z-score ``gi_z`` is the analytic one::

    Gi*_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1)))

with ``W_i = sum_j w_ij``, ``S1_i = sum_j w_ij^2`` (the form ArcGIS's Hot Spot Analysis
reports). Local Moran's I (Anselin 1995) uses row-standardised weights.

P-values: ``p`` is esda's conditional-permutation pseudo p-value
``(min(larger, perms - larger) + 1) / (perms + 1)`` (one-sided, in the direction of the
observed value; ``seed`` makes it reproducible); ``q`` are Benjamini-Hochberg adjusted
p-values, and ``significance`` is decided on ``q`` (``correction="fdr"``) or ``p``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from iptown_gis.errors import ColumnError, DependencyError, GeometryError, ParameterError
from iptown_gis.surfaces.grid import Grid, Surface

__all__ = [
    "fdr_qvalues",
    "grid_weights",
    "hotspots",
    "local_gi_star",
    "local_moran",
    "polygon_weights",
]

log = logging.getLogger(__name__)

#: Fewest features a local statistic is computed for.
MIN_FEATURES = 5

WeightsKind = Literal["queen", "rook", "knn", "distance"]


def _libpysal() -> Any:
    try:
        import libpysal
    except ImportError as exc:  # pragma: no cover - installed with the dev extra
        raise DependencyError("hot spots need libpysal and esda: pip install esda libpysal") from exc
    return libpysal


def _esda() -> Any:
    try:
        import esda
    except ImportError as exc:  # pragma: no cover
        raise DependencyError("hot spots need libpysal and esda: pip install esda libpysal") from exc
    return esda


def fdr_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values): reject where ``q <= alpha``.

    ``q_(k) = min_{m >= k} min(1, n p_(m) / m)`` over the sorted p-values.
    """
    p = np.asarray(p, dtype="float64")
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def polygon_weights(
    zones: gpd.GeoDataFrame, *, kind: WeightsKind = "queen", k: int = 6, distance: float | None = None
) -> Any:
    """Spatial weights (``libpysal.weights.W``) of polygons or points, in row order.

    ``queen``/``rook`` contiguity (polygons), ``knn`` (``k`` nearest centroids) or
    ``distance`` (centroids within ``distance`` metres).
    """
    lps = _libpysal()
    if len(zones) < MIN_FEATURES:
        raise GeometryError(f"local statistics need at least {MIN_FEATURES} features, got {len(zones)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # libpysal warns about islands/disconnected parts
        if kind == "queen":
            w = lps.weights.Queen.from_dataframe(zones, use_index=False, silence_warnings=True)
        elif kind == "rook":
            w = lps.weights.Rook.from_dataframe(zones, use_index=False, silence_warnings=True)
        elif kind in ("knn", "distance"):
            cent = zones.geometry.representative_point() if not (zones.geom_type == "Point").all() \
                else zones.geometry
            xy = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
            if kind == "knn":
                if not 1 <= k < len(zones):
                    raise ParameterError(f"k must be between 1 and {len(zones) - 1}, got {k}")
                w = lps.weights.KNN(xy, k=k, silence_warnings=True)
            else:
                if distance is None or distance <= 0:
                    raise ParameterError("weights='distance' needs a distance band > 0 (metres)")
                w = lps.weights.DistanceBand(xy, threshold=float(distance), binary=True,
                                             silence_warnings=True)
        else:
            raise ParameterError(f"weights must be 'queen', 'rook', 'knn' or 'distance', got {kind!r}")
    if w.islands:
        log.warning("%d feature(s) have no neighbour (islands): their local statistics are not "
                    "meaningful", len(w.islands))
    return w


def grid_weights(grid: Grid, *, kind: Literal["queen", "rook"] = "queen") -> Any:
    """Contiguity weights of the grid cells inside the mask (order of ``grid.centres()``)."""
    lps = _libpysal()
    if grid.n_inside < MIN_FEATURES:
        raise GeometryError(f"local statistics need at least {MIN_FEATURES} cells, got {grid.n_inside}")
    if kind not in ("queen", "rook"):
        raise ParameterError(f"grid weights must be 'queen' or 'rook', got {kind!r}")
    idx = np.full(grid.shape, -1, dtype=np.int64)
    idx[grid.mask] = np.arange(grid.n_inside)
    offsets = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if kind == "queen" else [])
    rows, cols = [], []
    h, w = grid.shape
    for dr, dc in offsets:  # dr >= 0; pair cell (i, j) with (i + dr, j + dc)
        ja, jb = (slice(0, w - dc), slice(dc, w)) if dc >= 0 else (slice(-dc, w), slice(0, w + dc))
        a = idx[0:h - dr, ja]
        b = idx[dr:h, jb]
        ok = (a >= 0) & (b >= 0)
        rows.append(a[ok])
        cols.append(b[ok])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    n = grid.n_inside
    m = sp.coo_matrix((np.ones(2 * r.size), (np.r_[r, c], np.r_[c, r])), shape=(n, n)).tocsr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # WSP keeps every cell, isolated ones (islands) included; W.from_sparse dropped trailing ones
        wt = lps.weights.WSP(m, id_order=list(range(n))).to_W(silence_warnings=True)
    return wt


def _check_values(values: Any, n: int) -> np.ndarray:
    y = np.asarray(values, dtype="float64").ravel()
    if y.size != n:
        raise ParameterError(f"{y.size} values for {n} features")
    if y.size < MIN_FEATURES:
        raise GeometryError(f"local statistics need at least {MIN_FEATURES} features, got {y.size}")
    if not np.all(np.isfinite(y)):
        raise ColumnError(f"values have {int((~np.isfinite(y)).sum())} NaN/infinite entries: fill or drop them")
    if np.ptp(y) == 0:
        raise ColumnError("values are constant: local statistics are undefined")
    return y


def _labels(z: np.ndarray, p: np.ndarray, hot: str, cold: str) -> tuple[np.ndarray, np.ndarray]:
    """ArcGIS-style bins (+-3: 99 %, +-2: 95 %, +-1: 90 %) and text labels."""
    level = np.select([p <= 0.01, p <= 0.05, p <= 0.10], [3, 2, 1], 0)
    b = (np.sign(z) * level).astype(int)
    conf = {3: "99%", 2: "95%", 1: "90%"}
    text = np.array([f"{hot if v > 0 else cold} ({conf[abs(v)]})" if v else "not significant" for v in b],
                    dtype=object)
    return b, text


def local_gi_star(
    values: Any, w: Any, *, permutations: int = 999, seed: int | None = 20171,
    alpha: float = 0.05, correction: Literal["fdr", "none"] = "fdr",
) -> pd.DataFrame:
    """Local Getis-Ord Gi* (binary weights, self included) with permutation and FDR inference.

    Returns
    -------
    pandas.DataFrame
        ``gi`` (esda ``Gs``), ``gi_z`` (analytic z), ``gi_z_sim``, ``p`` (permutation pseudo
        p-value), ``p_norm`` (normal approximation), ``q`` (Benjamini-Hochberg), ``gi_bin``
        (-3..3 as ArcGIS), ``significance`` (text), ``hot_spot`` / ``cold_spot`` (bool: ``q``
        (or ``p``) ``<= alpha`` with a positive / negative z).
    """
    if permutations < 99:
        raise ParameterError(f"permutations must be >= 99, got {permutations}")
    esda = _esda()
    y = _check_values(values, w.n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        g = esda.G_Local(y, w, transform="B", star=True, permutations=permutations, seed=seed, n_jobs=1)
    p = np.asarray(g.p_sim, dtype="float64")
    q = fdr_qvalues(p)
    test = q if correction == "fdr" else p
    b, text = _labels(np.asarray(g.Zs), test, "hot spot", "cold spot")
    return pd.DataFrame({
        "gi": np.asarray(g.Gs), "gi_z": np.asarray(g.Zs), "gi_z_sim": np.asarray(g.z_sim),
        "p": p, "p_norm": 2.0 * np.asarray(g.p_norm), "q": q, "gi_bin": b, "significance": text,
        "hot_spot": (test <= alpha) & (np.asarray(g.Zs) > 0),
        "cold_spot": (test <= alpha) & (np.asarray(g.Zs) < 0),
    })


def local_moran(
    values: Any, w: Any, *, permutations: int = 999, seed: int | None = 20171,
    alpha: float = 0.05, correction: Literal["fdr", "none"] = "fdr",
) -> pd.DataFrame:
    """Local Moran's I (row-standardised weights) with permutation and FDR inference.

    Returns
    -------
    pandas.DataFrame
        ``moran_i`` (esda ``Is``), ``moran_z_sim``, ``p``, ``q``, ``quadrant`` (1 HH, 2 LH,
        3 LL, 4 HL), ``cluster`` ("HH", "LH", "LL", "HL" where significant, else "ns"),
        ``significant``.
    """
    if permutations < 99:
        raise ParameterError(f"permutations must be >= 99, got {permutations}")
    esda = _esda()
    y = _check_values(values, w.n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        m = esda.Moran_Local(y, w, transformation="r", permutations=permutations, seed=seed, n_jobs=1)
    p = np.asarray(m.p_sim, dtype="float64")
    q = fdr_qvalues(p)
    test = q if correction == "fdr" else p
    sig = test <= alpha
    names = np.array(["", "HH", "LH", "LL", "HL"], dtype=object)
    quad = np.asarray(m.q, dtype=int)
    return pd.DataFrame({
        "moran_i": np.asarray(m.Is), "moran_z_sim": np.asarray(m.z_sim), "p": p, "q": q,
        "quadrant": quad, "cluster": np.where(sig, names[quad], "ns"), "significant": sig,
    })


def hotspots(
    target: gpd.GeoDataFrame | Surface,
    *,
    field: str | None = None,
    statistic: Literal["gi*", "moran"] = "gi*",
    weights: WeightsKind = "queen",
    k: int = 6,
    distance: float | None = None,
    permutations: int = 999,
    seed: int | None = 20171,
    alpha: float = 0.05,
    correction: Literal["fdr", "none"] = "fdr",
) -> gpd.GeoDataFrame:
    """Hot spots of a column of polygons/points, or of a surface's grid cells.

    Parameters
    ----------
    target
        A GeoDataFrame (counties, prefectures, points) with ``field``, or a
        :class:`~iptown_gis.surfaces.grid.Surface` (its cells inside the boundary; cell
        polygons are returned).
    field
        The column to test (GeoDataFrame input).
    statistic
        ``"gi*"`` (Getis-Ord Gi*) or ``"moran"`` (local Moran's I).
    weights
        ``"queen"``, ``"rook"`` (contiguity), ``"knn"`` (``k``), ``"distance"`` (``distance``
        metres); grids support queen/rook.
    permutations, seed
        Conditional permutations and the random seed.
    alpha, correction
        Significance level; ``"fdr"`` (Benjamini-Hochberg) or ``"none"``.

    Returns
    -------
    geopandas.GeoDataFrame
        The input's columns (or ``row``, ``col``, ``value`` for a surface) plus the columns of
        :func:`local_gi_star` or :func:`local_moran`.

    Raises
    ------
    ColumnError
        Missing field, NaN values, constant values.
    GeometryError
        Fewer than :data:`MIN_FEATURES` features.
    ParameterError
        Bad statistic, weights, permutations or alpha.
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    if correction not in ("fdr", "none"):
        raise ParameterError(f"correction must be 'fdr' or 'none', got {correction!r}")
    if isinstance(target, Surface):
        base = target.grid.cell_polygons()
        y = target.inside_values()
        base["value"] = y
        if weights not in ("queen", "rook"):
            raise ParameterError("hot spots on grid cells use 'queen' or 'rook' weights")
        w = grid_weights(target.grid, kind=weights)  # type: ignore[arg-type]
    else:
        if not isinstance(target, gpd.GeoDataFrame):
            raise GeometryError(f"target should be a GeoDataFrame or Surface, got {type(target).__name__}")
        if field is None or field not in target.columns:
            cols = ", ".join(str(c) for c in target.columns if c != target.geometry.name)
            raise ColumnError(f"hot spots need field= one of the columns: {cols} (got {field!r})")
        base = target.reset_index(drop=True).copy()
        try:
            y = pd.to_numeric(base[field], errors="raise").to_numpy(dtype="float64")
        except (TypeError, ValueError):
            raise ColumnError(f"column {field!r} is not numeric") from None
        if len(base) < MIN_FEATURES:
            raise GeometryError(f"local statistics need at least {MIN_FEATURES} features, got {len(base)}")
        _check_values(y, len(base))
        w = polygon_weights(base, kind=weights, k=k, distance=distance)
    if statistic in ("gi*", "gi", "gistar", "getis-ord"):
        res = local_gi_star(y, w, permutations=permutations, seed=seed, alpha=alpha, correction=correction)
    elif statistic in ("moran", "local_moran", "lisa"):
        res = local_moran(y, w, permutations=permutations, seed=seed, alpha=alpha, correction=correction)
    else:
        raise ParameterError(f"statistic must be 'gi*' or 'moran', got {statistic!r}")
    for col in res.columns:
        base[col] = res[col].to_numpy()
    return gpd.GeoDataFrame(base, geometry=base.geometry.name, crs=base.crs)
