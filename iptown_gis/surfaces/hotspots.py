"""Local spatial association: Getis-Ord Gi* and local Moran's I with permutation inference.

The statistics, their z-scores and the conditional-permutation pseudo p-values are those of
PySAL's ``esda`` (``G_Local(star=True)`` and ``Moran_Local``), which is the reference: this
module reimplements esda's conditional randomisation (``esda.crand``) in vectorised NumPy, so
that no Numba kernel is compiled on the user's path (esda pays about 40 s of JIT compilation
in every new process). With the same ``seed`` every output equals esda's bit for bit: the
permutation draws replicate ``esda.crand.vec_permutations`` (the legacy MT19937 generator
seeded with ``seed``, one ``permutation(n - 1)[:max_card]`` per replication), and the
simulated statistics are evaluated with the same floating-point operations as esda's
``fastmath`` kernels (the neighbour sums by the same BLAS ``gemv`` call, one per feature).
The weights are built here too (polygon contiguity exactly as ``libpysal``'s vertex/edge
sets, grid-cell contiguity); ``libpysal`` is only imported for k-nearest-neighbour and
distance-band weights and by the public :func:`polygon_weights` / :func:`grid_weights`.

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
from collections.abc import Callable
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

#: Simulated neighbour values held at once (features x permutations x neighbours): 4e6
#: float64 (32 MB) per temporary, a few temporaries, so peak memory stays far below 500 MB.
_CHUNK_ELEMENTS = 4_000_000

WeightsKind = Literal["queen", "rook", "knn", "distance"]


def _libpysal() -> Any:
    try:
        import libpysal
    except ImportError as exc:  # pragma: no cover - installed with the dev extra
        raise DependencyError("hot spots need libpysal and esda: pip install esda libpysal") from exc
    return libpysal


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


# ------------------------------------------------------------------ weights


def _contiguity_adjacency(zones: gpd.GeoDataFrame, kind: str) -> sp.csr_matrix | None:
    """Binary queen/rook contiguity of polygons, as ``libpysal.weights.Queen``/``Rook``.

    libpysal's ``ContiguityWeightsLists``: queen neighbours share a vertex (exactly equal
    coordinates), rook neighbours share an edge (two consecutive vertices of the
    concatenated ring coordinates, in either direction). Returns a CSR matrix with sorted
    indices and 1.0 weights, no self-neighbours, or ``None`` when a geometry is not a
    (multi)polygon (then libpysal builds the weights).
    """
    import shapely

    geoms = np.asarray(zones.geometry.values, dtype=object)
    n = geoms.size
    if n == 0 or not np.isin(shapely.get_type_id(geoms), (3, 6)).all() or shapely.is_empty(geoms).any():
        return None
    xy, gidx = shapely.get_coordinates(geoms, return_index=True)
    xy = xy + 0.0  # -0.0 == 0.0, as in libpysal's tuples
    if kind == "queen":
        keys = xy
        owner = gidx
    else:
        k = np.flatnonzero(gidx[1:] == gidx[:-1])
        a, b = xy[k], xy[k + 1]
        swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))  # sorted((a, b))
        lo = np.where(swap[:, None], b, a)
        hi = np.where(swap[:, None], a, b)
        keys = np.column_stack([lo, hi])
        owner = gidx[k]
    if keys.shape[0] == 0:
        return sp.csr_matrix((n, n))
    order = np.lexsort(keys.T[::-1])  # group equal keys (exact float equality)
    ks = keys[order]
    kid = np.empty(order.size, dtype=np.int64)
    kid[order] = np.cumsum(np.r_[False, (ks[1:] != ks[:-1]).any(axis=1)])
    pk = kid * n + owner  # (key, polygon) pairs, unique and sorted by key
    pk = np.unique(pk)
    key, poly = pk // n, pk % n
    ii, jj = [], []
    d = 1
    while d < key.size:  # every two polygons of one key group
        same = key[d:] == key[:-d]
        if not same.any():
            break
        ii.append(poly[:-d][same])
        jj.append(poly[d:][same])
        d += 1
    i = np.concatenate(ii) if ii else np.empty(0, dtype=np.int64)
    j = np.concatenate(jj) if jj else np.empty(0, dtype=np.int64)
    m = sp.coo_matrix((np.ones(2 * i.size), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    m.data[:] = 1.0  # duplicates summed
    m.sort_indices()
    return m


def _grid_adjacency(grid: Grid, kind: str) -> sp.csr_matrix:
    """Binary queen/rook contiguity of the cells inside the mask (CSR, sorted, no diagonal)."""
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
    m.sort_indices()
    return m


def polygon_weights(
    zones: gpd.GeoDataFrame, *, kind: WeightsKind = "queen", k: int = 6, distance: float | None = None
) -> Any:
    """Spatial weights (``libpysal.weights.W``) of polygons or points, in row order.

    ``queen``/``rook`` contiguity (polygons), ``knn`` (``k`` nearest centroids) or
    ``distance`` (centroids within ``distance`` metres).

    Parameters
    ----------
    zones
        Polygons or points (a metric CRS for ``distance``).
    kind
        ``"queen"``, ``"rook"``, ``"knn"`` or ``"distance"``.
    k
        Neighbours per feature for ``"knn"``.
    distance
        Band (metres) for ``"distance"`` (required there).
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
    m = _grid_adjacency(grid, kind)
    n = grid.n_inside
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


def _local_inputs(values: Any, w: Any, permutations: int) -> np.ndarray:
    """The checked values of a local statistic over weights ``w`` (libpysal or scipy.sparse)."""
    if permutations < 99:
        raise ParameterError(f"permutations must be >= 99, got {permutations}")
    return _check_values(values, w.n if hasattr(w, "n") else w.shape[0])


def _labels(z: np.ndarray, p: np.ndarray, hot: str, cold: str) -> tuple[np.ndarray, np.ndarray]:
    """ArcGIS-style bins (+-3: 99 %, +-2: 95 %, +-1: 90 %) and text labels."""
    level = np.select([p <= 0.01, p <= 0.05, p <= 0.10], [3, 2, 1], 0)
    b = (np.sign(z) * level).astype(int)
    conf = {3: "99%", 2: "95%", 1: "90%"}
    text = np.array([f"{hot if v > 0 else cold} ({conf[abs(v)]})" if v else "not significant" for v in b],
                    dtype=object)
    return b, text


# ------------------------------------------------------------------ conditional randomisation


def _crand_seed(seed: int | None) -> int:
    """esda's seed: ``None`` draws one from NumPy's global generator as ``esda.crand`` does."""
    if seed is None:
        seed = int(np.random.randint(12345, 12345000))  # noqa: NPY002 - esda's own draw
    return int(seed) % 2**32  # Numba's np.random.seed takes a uint32


def _permuted_ids(max_card: int, n: int, permutations: int, seed: int) -> np.ndarray:
    """``esda.crand.vec_permutations``: ``permutations`` x ``max_card`` ids drawn from ``n - 1``.

    esda seeds Numba's legacy MT19937 with ``seed`` and draws ``np.random.choice(n - 1,
    max_card, replace=False)`` per replication, which (in Numba as in NumPy) is the first
    ``max_card`` entries of ``permutation(n - 1)``: the same stream from a ``RandomState``.
    NumPy's global generator is not touched.
    """
    rs = np.random.RandomState(seed)
    out = np.empty((permutations, max_card), dtype=np.int64)
    for k in range(permutations):
        out[k] = rs.permutation(n - 1)[:max_card]
    return out


def _crand(
    z: np.ndarray, adj: sp.csr_matrix, observed: np.ndarray, permutations: int, seed: int | None,
    stat: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], island_weight: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """esda's conditional randomisation (``esda.crand.crand``), vectorised and chunked.

    For feature ``i`` and replication ``p`` the ``card_i`` neighbours are replaced by
    ``z_no_i[ids[p, :card_i]]`` (``z`` without ``z_i``, ``ids`` of :func:`_permuted_ids`)
    and their weighted sum is taken with one BLAS ``gemv`` per feature (``numpy.matmul`` of a
    stack of (permutations, card) matrices, the call Numba makes for ``zrand @ weights``);
    ``stat(lag, rows, self_weights)`` turns these sums into the simulated statistics. An island
    gets one fake neighbour of weight ``island_weight`` and no self-weight (esda's rule).

    Returns ``larger`` (simulated >= observed, not folded), the mean and the standard
    deviation of the simulated statistics per feature (as esda's ``sim.mean(axis=0)``,
    ``sim.std(axis=0)``).
    """
    n = z.size
    a = adj.tocsr(copy=True)
    self_w = a.diagonal().astype(z.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if self_w.any():
            a.setdiag(0)
        a.eliminate_zeros()
    data = a.data.astype(z.dtype)
    card = np.diff(a.indptr)
    self_w[card == 0] = 0.0  # esda's island weights are [0, island_weight]: no self-weight either
    max_card = int(card.max()) if n else 0
    ids = _permuted_ids(max(max_card, 1), n, permutations, _crand_seed(seed))
    larger = np.zeros(n, dtype=np.int64)
    mean = np.empty(n)
    std = np.empty(n)
    width = np.where(card == 0, 1, card)
    for k in np.unique(width):
        rows = np.flatnonzero(width == k)
        idk = np.ascontiguousarray(ids[:, :k])
        za = z[idk]  # z_no_i[id] is z[id] below i ...
        zb = z[idk + 1]  # ... and z[id + 1] from i on (ids < n - 1)
        wts = np.full((rows.size, int(k)), island_weight, dtype=z.dtype)  # esda's fake neighbour
        linked = card[rows] > 0
        if linked.any():
            wts[linked] = data[a.indptr[rows[linked]][:, None] + np.arange(k)]
        wts = np.ascontiguousarray(wts[:, :, None])
        step = max(1, _CHUNK_ELEMENTS // (permutations * int(k)))
        for s in range(0, rows.size, step):
            rr = rows[s:s + step]
            zr = np.where(idk[None, :, :] >= rr[:, None, None], zb[None], za[None])
            lag = np.matmul(zr, wts[s:s + step])[:, :, 0]
            sim = stat(lag, rr, self_w[rr]).T  # (permutations, features), as esda's rlocals.T
            larger[rr] = (sim >= observed[rr]).sum(axis=0)
            mean[rr] = sim.mean(axis=0)
            std[rr] = sim.std(axis=0)
    return larger, mean, std


def _fold(larger: np.ndarray, permutations: int) -> np.ndarray:
    """esda's 'directed' pseudo p-value: the smaller tail, ``(larger + 1) / (perms + 1)``."""
    larger = larger.copy()
    low_extreme = (permutations - larger) < larger
    larger[low_extreme] = permutations - larger[low_extreme]
    return (larger + 1.0) / (permutations + 1.0)


def _gi_star_arrays(y: np.ndarray, wb: sp.csr_matrix, permutations: int, seed: int | None
                    ) -> dict[str, np.ndarray]:
    """esda ``G_Local(y, w, transform="B", star=True)``; ``wb`` binary with the diagonal set."""
    from scipy.special import ndtr

    n = y.size
    remove_self = False
    big_n = n - remove_self
    statistic = (wb @ y) / (y.sum() - y * remove_self)
    empirical_mean = (y.sum() - y * remove_self) / big_n
    mean_of_squares = ((y**2).sum() - (y**2) * remove_self) / big_n
    empirical_variance = mean_of_squares - empirical_mean**2
    cardinality = np.asarray(wb.sum(axis=1)).squeeze()
    expected_value = cardinality / big_n
    expected_variance = cardinality * (big_n - cardinality)
    expected_variance /= big_n - 1
    expected_variance *= 1 / big_n**2
    expected_variance *= empirical_variance / (empirical_mean**2)
    zs = (statistic - expected_value) / np.sqrt(expected_variance)
    inv_scaling = 1.0 / y.sum()  # esda's fastmath kernel multiplies by the reciprocal

    def stat(lag: np.ndarray, rows: np.ndarray, sw: np.ndarray) -> np.ndarray:
        return (lag + (sw * y[rows])[:, None]) * inv_scaling

    larger, eg_sim, seg_sim = _crand(y, wb, statistic, permutations, seed, stat)
    # esda keeps the Gi* pseudo p-values in a float32 buffer (crand.compute_chunk)
    p_sim = _fold(larger, permutations).astype(np.float32).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_sim = (statistic - eg_sim) / seg_sim
    return {"Gs": statistic, "Zs": zs, "p_norm": ndtr(-np.abs(zs)), "p_sim": p_sim, "z_sim": z_sim}


def _moran_arrays(y: np.ndarray, wr: sp.csr_matrix, permutations: int, seed: int | None
                  ) -> dict[str, np.ndarray]:
    """esda ``Moran_Local(y, w, transformation="r")``; ``wr`` row-standardised."""
    n = y.size
    n_1 = n - 1
    z = y - y.mean()
    with np.errstate(all="ignore"):
        sy = y.std()
        z /= sy
    den = (z * z).sum()
    zl = wr @ z
    i_s = n_1 * z * zl / den
    zp = z > 0
    lp = zl > 0
    pp = zp * lp
    np_ = (1 - zp) * lp
    nn = (1 - zp) * (1 - lp)
    pn = zp * (1 - lp)
    quads = (1 * pp) + (2 * np_) + (3 * nn) + (4 * pn)
    scaling = (n - 1) / (z * z).sum()

    def stat(lag: np.ndarray, rows: np.ndarray, sw: np.ndarray) -> np.ndarray:
        zi = z[rows]
        if sw.any():  # not reached with contiguity weights (no self-neighbours)
            return (lag + (sw * zi)[:, None]) * (zi * scaling)[:, None]
        return lag * (zi * scaling)[:, None]  # esda's fastmath kernel: zi * lag * scaling

    larger, ei_sim, sei_sim = _crand(z, wr, i_s, permutations, seed, stat)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_sim = (i_s - ei_sim) / sei_sim
    return {"Is": i_s, "q": quads, "p_sim": _fold(larger, permutations), "z_sim": z_sim}


def _star_binary(w: Any) -> sp.csr_matrix:
    """The binary weights esda's ``G_Local(transform="B", star=True)`` uses: self-weights 1."""
    m = sp.csr_matrix(w.sparse if hasattr(w, "sparse") else w, dtype="float64", copy=True)
    m.data[:] = 1.0
    if not m.diagonal().any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.setdiag(1.0)
    m.sum_duplicates()
    m.sort_indices()
    return m


def _row_standardised(w: Any) -> sp.csr_matrix:
    """esda's ``Moran_Local(transformation="r")`` weights (sets ``w.transform`` as esda does)."""
    if hasattr(w, "set_transform"):  # libpysal W: transformed in place, like esda
        w.transform = "r"
        return sp.csr_matrix(w.sparse)
    if hasattr(w, "transform") and callable(w.transform):  # libpysal Graph
        return sp.csr_matrix(w.transform("r").sparse)
    m = sp.csr_matrix(w, dtype="float64", copy=True)  # a binary scipy.sparse matrix
    rs = np.asarray(m.sum(axis=1)).ravel()
    m.data = m.data / np.repeat(np.where(rs == 0, 1.0, rs), np.diff(m.indptr))
    return m


# ------------------------------------------------------------------ statistics


#: The label of a feature without a neighbour (an island): it has no local cluster.
NO_NEIGHBOUR = "no neighbour"


def _islands(m: sp.csr_matrix) -> np.ndarray:
    """Features with no neighbour under the weights ``m``: no non-zero weight off the diagonal.

    The one island rule of the module: an island keeps its statistics (as esda computes them)
    but is never significant, never a hot/cold spot or a cluster, and is labelled
    :data:`NO_NEIGHBOUR`.
    """
    m = sp.csr_matrix(m)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    off = (m.indices != rows) & (m.data != 0)
    return np.bincount(rows[off], minlength=m.shape[0]) == 0


def _gi_star_frame(y: np.ndarray, wb: sp.csr_matrix, permutations: int, seed: int | None, alpha: float,
                   correction: str) -> pd.DataFrame:
    g = _gi_star_arrays(y, wb, permutations, seed)
    p = g["p_sim"]
    q = fdr_qvalues(p)
    test = q if correction == "fdr" else p
    zs = g["Zs"]
    island = _islands(wb)
    b, text = _labels(zs, test, "hot spot", "cold spot")
    b[island] = 0
    text[island] = NO_NEIGHBOUR
    return pd.DataFrame({
        "gi": g["Gs"], "gi_z": zs, "gi_z_sim": g["z_sim"],
        "p": p, "p_norm": 2.0 * g["p_norm"], "q": q, "gi_bin": b, "significance": text,
        "hot_spot": (test <= alpha) & (zs > 0) & ~island,
        "cold_spot": (test <= alpha) & (zs < 0) & ~island,
        "island": island,
    })


def _moran_frame(y: np.ndarray, wr: sp.csr_matrix, permutations: int, seed: int | None, alpha: float,
                 correction: str) -> pd.DataFrame:
    m = _moran_arrays(y, wr, permutations, seed)
    p = m["p_sim"]
    q = fdr_qvalues(p)
    test = q if correction == "fdr" else p
    island = _islands(wr)
    sig = (test <= alpha) & ~island
    names = np.array(["", "HH", "LH", "LL", "HL"], dtype=object)
    quad = np.asarray(m["q"], dtype=int)
    cluster = np.where(island, NO_NEIGHBOUR, np.where(sig, names[quad], "ns"))
    return pd.DataFrame({
        "moran_i": m["Is"], "moran_z_sim": m["z_sim"], "p": p, "q": q,
        "quadrant": quad, "cluster": cluster, "significant": sig, "island": island,
    })


def local_gi_star(
    values: Any, w: Any, *, permutations: int = 999, seed: int | None = 20171,
    alpha: float = 0.05, correction: Literal["fdr", "none"] = "fdr",
) -> pd.DataFrame:
    """Local Getis-Ord Gi* (binary weights, self included) with permutation and FDR inference.

    The statistic, its analytic z-score and the conditional-permutation pseudo p-values are
    computed by a vectorised NumPy reimplementation of esda's ``G_Local(values, w,
    transform="B", star=True, permutations=permutations, seed=seed)`` and equal it exactly
    (same permutation draws for the same ``seed``, same floating-point operations), without
    compiling esda's Numba kernels.

    Parameters
    ----------
    values
        One value per feature, in the order of ``w``.
    w
        Spatial weights (``libpysal`` ``W`` or ``Graph``, e.g. from :func:`polygon_weights` or
        :func:`grid_weights`, or a square ``scipy.sparse`` adjacency); made binary with a
        self-weight of 1, as esda does.
    permutations, seed
        Conditional permutations (>= 99) and the random seed (``None``: drawn from NumPy's
        global generator, as esda does).
    alpha, correction
        Significance level; ``"fdr"`` (Benjamini-Hochberg q-values) or ``"none"`` (p-values).

    Returns
    -------
    pandas.DataFrame
        ``gi`` (esda ``Gs``), ``gi_z`` (analytic z), ``gi_z_sim``, ``p`` (permutation pseudo
        p-value), ``p_norm`` (normal approximation), ``q`` (Benjamini-Hochberg), ``gi_bin``
        (-3..3 as ArcGIS), ``significance`` (text), ``hot_spot`` / ``cold_spot`` (bool: ``q``
        (or ``p``) ``<= alpha`` with a positive / negative z), ``island`` (no neighbour but
        itself: statistics kept, ``gi_bin`` 0, ``significance`` ``"no neighbour"``, never a
        hot or cold spot).
    """
    y = _local_inputs(values, w, permutations)
    return _gi_star_frame(y, _star_binary(w), permutations, seed, alpha, correction)


def local_moran(
    values: Any, w: Any, *, permutations: int = 999, seed: int | None = 20171,
    alpha: float = 0.05, correction: Literal["fdr", "none"] = "fdr",
) -> pd.DataFrame:
    """Local Moran's I (row-standardised weights) with permutation and FDR inference.

    The statistic, the quadrants and the conditional-permutation pseudo p-values are computed
    by a vectorised NumPy reimplementation of esda's ``Moran_Local(values, w,
    transformation="r", permutations=permutations, seed=seed)`` and equal it exactly (same
    permutation draws for the same ``seed``, same floating-point operations), without
    compiling esda's Numba kernels.

    Parameters
    ----------
    values
        One value per feature, in the order of ``w``.
    w
        Spatial weights (``libpysal`` ``W`` or ``Graph``, or a square binary ``scipy.sparse``
        adjacency); row-standardised (a ``W`` is set to ``transform="r"`` in place, as esda
        does).
    permutations, seed
        Conditional permutations (>= 99) and the random seed (``None``: drawn from NumPy's
        global generator, as esda does).
    alpha, correction
        Significance level; ``"fdr"`` (Benjamini-Hochberg q-values) or ``"none"`` (p-values).

    Returns
    -------
    pandas.DataFrame
        ``moran_i`` (esda ``Is``), ``moran_z_sim``, ``p``, ``q``, ``quadrant`` (1 HH, 2 LH,
        3 LL, 4 HL), ``cluster`` ("HH", "LH", "LL", "HL" where significant, else "ns"),
        ``significant``, ``island`` (no neighbour: statistics kept, ``cluster``
        ``"no neighbour"``, never significant).
    """
    y = _local_inputs(values, w, permutations)
    return _moran_frame(y, _row_standardised(w), permutations, seed, alpha, correction)


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

    The statistics and their permutation inference are :func:`local_gi_star` /
    :func:`local_moran` (NumPy reimplementations equal to esda's ``G_Local(star=True)`` /
    ``Moran_Local`` for the same seed). Queen/rook contiguity of polygons and of grid cells is
    built here, identical to libpysal's ``Queen``/``Rook`` (shared vertex / shared edge) and
    to :func:`grid_weights`, so the usual call compiles nothing and does not import
    libpysal; ``knn`` and ``distance`` weights come from libpysal (:func:`polygon_weights`).

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
    k
        Neighbours per feature for ``weights="knn"``.
    distance
        Neighbour distance (metres) for ``weights="distance"``.

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
        Fewer than :data:`MIN_FEATURES` features, or half of the zones or more without a
        neighbour under ``weights`` (islands: use ``"knn"`` or ``"distance"``). Fewer islands
        are reported with ``significance`` / ``cluster`` = ``"no neighbour"``, never as a hot or
        cold spot (column ``island``).
    ParameterError
        Bad statistic, weights, permutations or alpha.
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    if correction not in ("fdr", "none"):
        raise ParameterError(f"correction must be 'fdr' or 'none', got {correction!r}")
    adj: sp.csr_matrix | None
    if isinstance(target, Surface):
        base = target.grid.cell_polygons()
        y = target.inside_values()
        base["value"] = y
        if weights not in ("queen", "rook"):
            raise ParameterError("hot spots on grid cells use 'queen' or 'rook' weights")
        adj = _grid_adjacency(target.grid, weights)
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
        adj = _contiguity_adjacency(base, weights) if weights in ("queen", "rook") else None
        if adj is None:
            adj = sp.csr_matrix(polygon_weights(base, kind=weights, k=k, distance=distance).sparse)
    island = _islands(adj)
    if island.any():
        n_isl = int(island.sum())
        if 2 * n_isl >= island.size:
            raise GeometryError(
                f"{n_isl} of {island.size} zones have no neighbour under {weights!r} weights (islands): local "
                "statistics need neighbours; use weights='knn' (CLI: --weights knn --k 6) or weights='distance' "
                "with a band that reaches the next zone (--weights distance --distance METRES)")
        log.warning("%d feature(s) have no neighbour (islands): they are reported as 'no neighbour', never as a "
                    "hot or cold spot (weights='knn' gives every zone neighbours)", n_isl)
    if statistic in ("gi*", "gi", "gistar", "getis-ord"):
        res = _gi_star_frame(_local_inputs(y, adj, permutations), _star_binary(adj), permutations, seed, alpha,
                             correction)
    elif statistic in ("moran", "local_moran", "lisa"):
        res = _moran_frame(_local_inputs(y, adj, permutations), _row_standardised(adj), permutations, seed, alpha,
                           correction)
    else:
        raise ParameterError(f"statistic must be 'gi*' or 'moran', got {statistic!r}")
    for col in res.columns:  # islands are labelled by the frames (``_islands``), as for the array functions
        base[col] = res[col].to_numpy()
    return gpd.GeoDataFrame(base, geometry=base.geometry.name, crs=base.crs)
