"""The compiled annealing moves of :mod:`iptown_gis.zoning.heuristic` (imported when a search runs).

The layout state of :class:`~iptown_gis.zoning.heuristic._Search` as flat arrays, and the moves
(:func:`assign`, :func:`penalty`, :func:`removable`) and annealing steps (:func:`anneal_steps`)
as Numba functions with ``cache=True``: the first process compiles them into Numba's cache (the
package's ``__pycache__``, or the user cache directory when that is not writable, or
``NUMBA_CACHE_DIR``); later processes load the machine code. The arithmetic is that of the
Python moves, so the objective and penalty bookkeeping is the same; the random stream is
Numba's (seeded from the search's NumPy generator), so a seed gives the same layout on every
run.

``G`` (the instance, read only) and ``S`` (the state, changed in place) are tuples:

- ``G = (nb_ptr, nb_idx, nb_len, ring, per, s, w, a, qa, lo, hi, A, touch_rows, order, edges,
  ring_runs, par)`` with ``par = [unit, wa, wc, side, margin, use_aff, cover, has_ring, n_touch]``;
- ``S = (lab, members, count, pos, size, area, sqa, contact, obj, stamp, stack)``.
"""

# Numba compiles only the legacy np.random functions (not Generator) and plain comparisons.
# ruff: noqa: NPY002, SIM109
from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np

__all__ = ["anneal_steps", "assign", "penalty", "removable", "seed"]

EXCL = -2
LOCAL_VISIT = 96
FULL_BFS_MAX = 4000


@nb.njit(cache=True)
def seed(value: int) -> None:  # pragma: no cover - compiled
    """Seed Numba's random stream (used by :func:`anneal_steps`)."""
    np.random.seed(value)


@nb.njit(cache=True)
def assign(c: int, q: int, G: Any, S: Any) -> float:  # pragma: no cover - compiled
    """Move cell ``c`` to zone ``q`` (-1 = unassigned); return the objective change."""
    nb_ptr, nb_idx, nb_len, _ring, per, s, w, a, qa = G[0], G[1], G[2], G[3], G[4], G[5], G[6], G[7], G[8]
    A, touch_rows, par = G[11], G[12], G[16]
    lab, members, count, pos, size, area, sqa, contact, obj = S[0], S[1], S[2], S[3], S[4], S[5], S[6], S[7], S[8]
    p = lab[c]
    if p == q:
        return 0.0
    d = s[c, q] - s[c, p]
    wa, wc = par[1], par[2]
    use_aff = par[5] > 0.5
    n_touch = int(par[8])
    if wc != 0.0 or use_aff or n_touch > 0:
        lp = 0.0
        lq = 0.0
        aff_old = 0.0
        aff_new = 0.0
        for j in range(nb_ptr[c], nb_ptr[c + 1]):
            k = nb_idx[j]
            ln = nb_len[j]
            r = lab[k]
            if r < 0:
                continue
            if r == p:
                lp += ln
            elif r == q:
                lq += ln
            if use_aff:
                if p >= 0 and r != p:
                    aff_old += A[p, r] * ln
                if q >= 0 and r != q:
                    aff_new += A[q, r] * ln
            if n_touch > 0:
                if p >= 0 and r != p:
                    for t in touch_rows[p, r]:
                        if t < 0:
                            break
                        contact[t] -= 1
                if q >= 0 and r != q:
                    for t in touch_rows[q, r]:
                        if t < 0:
                            break
                        contact[t] += 1
        if wc != 0.0:
            pc = per[c]
            dper = 0.0
            if p >= 0:
                dper -= pc - 2.0 * lp
            if q >= 0:
                dper += pc - 2.0 * lq
            d -= wc * dper
        if use_aff:
            d += wa * (aff_new - aff_old)
    if p >= 0:
        i = pos[c]
        last = members[p, count[p] - 1]
        members[p, i] = last
        pos[last] = i
        count[p] -= 1
        size[p] -= w[c]
        area[p] -= a[c]
        sqa[p] -= qa[c]
    if q >= 0:
        pos[c] = count[q]
        members[q, count[q]] = c
        count[q] += 1
        size[q] += w[c]
        area[q] += a[c]
        sqa[q] += qa[c]
    lab[c] = q
    obj[0] += d
    return d


@nb.njit(cache=True)
def penalty(G: Any, S: Any) -> float:  # pragma: no cover - compiled
    """Violation of the soft constraints (sizes in units, touching, orientation in sides)."""
    lo, hi, order, par = G[9], G[10], G[13], G[16]
    size, area, sqa, contact = S[4], S[5], S[6], S[7]
    unit, side, mg = par[0], par[3], par[4]
    v = 0.0
    for z in range(size.shape[0]):
        sd = size[z]
        if sd < lo[z] - 1e-9:
            v += (lo[z] - sd) / unit
        elif sd > hi[z] + 1e-9:
            v += (sd - hi[z]) / unit
    for t in range(contact.shape[0]):
        if contact[t] <= 0:
            v += 1.0
    for o in range(order.shape[0]):
        x, y = order[o, 0], order[o, 1]
        if area[x] <= 0 or area[y] <= 0:
            v += 10.0
            continue
        diff = (sqa[x] / area[x] - sqa[y] / area[y]) / side
        if diff < mg:
            v += mg - diff + 0.01
    return v


@nb.njit(cache=True)
def removable(c: int, p: int, G: Any, S: Any) -> bool:  # pragma: no cover - compiled
    """True if zone ``p`` stays connected (and non-empty) without cell ``c``."""
    nb_ptr, nb_idx, ring, ring_runs, par = G[0], G[1], G[3], G[15], G[16]
    lab, count, stamp, stack = S[0], S[2], S[9], S[10]
    if count[p] <= 1:
        return False
    if par[7] > 0.5:  # a rook grid: the 8-ring decides (a "simple point" can go)
        m = 0
        for t in range(8):
            k = ring[c, t]
            if k >= 0 and lab[k] == p:
                m |= 1 << t
        return ring_runs[m] <= 1
    first = -1
    n_want = 0
    stamp[-1] += 1
    g = stamp[-1]  # generation: stamp[v] == g marks "wanted", g + 1 "seen"
    stamp[-1] += 1
    for j in range(nb_ptr[c], nb_ptr[c + 1]):
        k = nb_idx[j]
        if lab[k] == p:
            if first < 0:
                first = k
            elif stamp[k] != g:
                stamp[k] = g
                n_want += 1
    if n_want == 0:
        return True
    seen = g + 1
    stamp[c] = seen
    stamp[first] = seen
    top = 0
    stack[top] = first
    top += 1
    visits = 0
    limit = LOCAL_VISIT
    n = lab.shape[0]
    while top > 0:
        top -= 1
        u = stack[top]
        visits += 1
        if visits > limit:
            if count[p] > FULL_BFS_MAX or limit > LOCAL_VISIT:
                return False
            limit = n + 1  # exact search over the zone
        for j in range(nb_ptr[u], nb_ptr[u + 1]):
            v = nb_idx[j]
            if stamp[v] != seen and lab[v] == p:
                if stamp[v] == g:
                    n_want -= 1
                    if n_want == 0:
                        return True
                stamp[v] = seen
                stack[top] = v
                top += 1
    return False


@nb.njit(cache=True)
def _boundary_cell(d: int, G: Any, S: Any) -> int:  # pragma: no cover - compiled
    nb_ptr, nb_idx = G[0], G[1]
    lab, members, count = S[0], S[1], S[2]
    n_d = count[d]
    if n_d == 0:
        return -1
    for _ in range(40):
        c = members[d, int(np.random.random() * n_d)]
        for j in range(nb_ptr[c], nb_ptr[c + 1]):
            k = nb_idx[j]
            if lab[k] != d and lab[k] != EXCL:
                return c
    return -1


@nb.njit(cache=True)
def anneal_steps(G: Any, S: Any, steps: int, T: float, cool: float, mu: float, pen: float, best_obj: float,
                 best_lab: Any) -> tuple[float, float, float, bool]:  # pragma: no cover - compiled
    """``steps`` annealing steps from the state ``S`` (see the Python module for the moves).

    Returns (temperature, penalty, best feasible objective, whether ``best_lab`` was updated).
    """
    nb_ptr, nb_idx, edges, par = G[0], G[1], G[14], G[16]
    lo, hi = G[9], G[10]
    lab, size, obj = S[0], S[4], S[8]
    cover = par[6] > 0.5
    n_e = edges.shape[0]
    found = False
    nbuf = np.empty(64, dtype=np.int64)
    for _ in range(steps):
        T *= cool
        # a random edge whose two ends are in different zones (rejection sampling)
        i = -1
        j = -1
        for _try in range(64):
            e = int(np.random.random() * n_e)
            la, lb = lab[edges[e, 0]], lab[edges[e, 1]]
            if la != lb and la != EXCL and lb != EXCL:
                i, j = edges[e, 0], edges[e, 1]
                break
        r0 = np.random.random()
        r1 = np.random.random()
        r2 = np.random.random()
        r3 = np.random.random()
        if i < 0:
            continue
        if r0 < 0.5:
            c, q = i, lab[j]
        else:
            c, q = j, lab[i]
        p = lab[c]
        if p == q or p == EXCL or q == EXCL or (cover and q < 0):
            continue
        if p >= 0 and not removable(c, p, G, S):
            continue
        obj0 = obj[0]
        # undo log: up to three moves (cell, zone it left)
        u0c, u0p = c, p
        u1c, u1p = -1, -1
        u2c, u2p = -1, -1
        assign(c, q, G, S)
        # compensate a size overflow of q / underflow of p with a second boundary move
        if q >= 0 and size[q] > hi[q] + 1e-9:
            c2 = _boundary_cell(q, G, S)
            if c2 >= 0 and c2 != c:
                n_opt = 0
                for jj in range(nb_ptr[c2], nb_ptr[c2 + 1]):
                    k = nb_idx[jj]
                    lk = lab[k]
                    if lk != q and lk != EXCL and not (cover and lk < 0) and n_opt < 64:
                        nbuf[n_opt] = lk
                        n_opt += 1
                if n_opt > 0 and removable(c2, q, G, S):
                    r = nbuf[int(r2 * n_opt)]
                    u1c, u1p = c2, q
                    assign(c2, r, G, S)
        if p >= 0 and size[p] < lo[p] - 1e-9:
            c3 = _boundary_cell(p, G, S)
            if c3 >= 0:
                n_opt = 0
                for jj in range(nb_ptr[c3], nb_ptr[c3 + 1]):
                    k = nb_idx[jj]
                    if lab[k] != p and lab[k] != EXCL and n_opt < 64:
                        nbuf[n_opt] = k
                        n_opt += 1
                if n_opt > 0:
                    k = nbuf[int(r3 * n_opt)]
                    rk = lab[k]
                    if rk < 0 or removable(k, rk, G, S):
                        u2c, u2p = k, rk
                        assign(k, p, G, S)
        pen1 = penalty(G, S)
        delta = (obj[0] - obj0) - mu * (pen1 - pen)
        if delta >= 0 or (T > 0 and r1 < math.exp(delta / T)):
            pen = pen1
            if pen <= 1e-12 and obj[0] > best_obj + 1e-12:
                best_obj = obj[0]
                best_lab[:] = lab
                found = True
        else:
            if u2c >= 0:
                assign(u2c, u2p, G, S)
            if u1c >= 0:
                assign(u1c, u1p, G, S)
            assign(u0c, u0p, G, S)
            obj[0] = obj0
    return T, pen, best_obj, found
