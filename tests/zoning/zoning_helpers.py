"""Small zoning instances and an independent checker (pure Python BFS, no solver code)."""

from __future__ import annotations

from collections import deque

import numpy as np

from iptown_gis.zoning import ZoningModel, grid_cells


def independent_check(model: ZoningModel, labels: np.ndarray) -> list[str]:
    """Every hard constraint, re-implemented without the package's checker; returns failures."""
    cs = model.cells
    lab = [int(v) for v in labels]
    nb: list[list[int]] = [[] for _ in range(cs.n)]
    for i, j in cs.edges.tolist():
        nb[i].append(j)
        nb[j].append(i)
    bad = []
    for i in range(cs.n):
        if cs.excluded[i] and lab[i] >= 0:
            bad.append(f"excluded cell {i} used")
        if model.cover and not cs.excluded[i] and lab[i] < 0:
            bad.append(f"cell {i} uncovered")
    ux, uy = np.sin(np.radians(model.axis_bearing)), np.cos(np.radians(model.axis_bearing))
    cen = {}
    for d in range(model.k):
        mem = [i for i in range(cs.n) if lab[i] == d]
        size = len(mem) if model.measure == "cells" else sum(cs.areas[i] for i in mem)
        if not (model.lower[d] - 1e-6 <= size <= model.upper[d] + 1e-6):
            bad.append(f"size {d}: {size}")
        if not mem:
            bad.append(f"zone {d} empty")
            continue
        seen = {mem[0]}
        q = deque([mem[0]])
        while q:
            u = q.popleft()
            for v in nb[u]:
                if lab[v] == d and v not in seen:
                    seen.add(v)
                    q.append(v)
        if len(seen) != len(mem):
            bad.append(f"zone {d} not contiguous")
        a = sum(cs.areas[i] for i in mem)
        cen[d] = sum(cs.areas[i] * (cs.centroids[i, 0] * ux + cs.centroids[i, 1] * uy) for i in mem) / a
    for a, b in model.touches:
        if not any((lab[i] == a and lab[j] == b) or (lab[i] == b and lab[j] == a) for i, j in cs.edges.tolist()):
            bad.append(f"{a} does not touch {b}")
    for a, b in model.order:
        if a in cen and b in cen and not cen[a] - cen[b] >= model.margin - 1e-9:
            bad.append(f"orientation {a}-{b}")
    return bad


def small_instance(nr: int = 7, seed: int = 3, **kw: object) -> ZoningModel:
    rng = np.random.default_rng(seed)
    cs = grid_cells((0, 0, nr * 100, nr * 100), 100.0, crs="EPSG:4548")
    x, y = cs.centroids.T / (nr * 100)
    sb = np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) * 8) + 0.3 * rng.random(cs.n)
    se = x + 0.3 * rng.random(cs.n)
    sw = (1 - x) + 0.3 * rng.random(cs.n)
    args = {"body": 6, "wing_east": 4, "wing_west": 4}
    args.update(kw)  # type: ignore[arg-type]
    return ZoningModel.districts(cs, suit_body=sb, suit_east=se, suit_west=sw, **args)  # type: ignore[arg-type]




def _connected_sets_upto(nb: list[list[int]], hi: int) -> dict[int, list[frozenset[int]]]:
    """Every connected cell set of 1..hi cells, by plain breadth extension (no solver code)."""
    level = {frozenset([i]) for i in range(len(nb))}
    out = {1: sorted(level, key=sorted)}
    for k in range(2, hi + 1):
        level = {s | {j} for s in level for i in s for j in nb[i] if j not in s}
        out[k] = sorted(level, key=sorted)
    return out


def brute_force_districts(model: ZoningModel) -> tuple[float, np.ndarray | None]:
    """The best "one body, two wings" layout over every connected body and pair of wings.

    For district models with ``measure="cells"``, no exclusions and zero compactness and
    affinity weights (objective = suitability sum), any size in ``[lower, upper]``, orientation
    ``centroid(a) - centroid(b) >= margin`` along the axis, each wing touching the body. Returns
    ``(-inf, None)`` when no layout is feasible. Every candidate's best is confirmed by
    :func:`independent_check`.
    """
    cs = model.cells
    if model.measure != "cells" or cs.excluded.any() or model.zones[0] != "body":
        raise ValueError("brute force needs a district model on cells without exclusions")
    if model.compactness_weight or model.affinity_weight:
        raise ValueError("brute force needs zero compactness and affinity weights")
    nb: list[list[int]] = [[] for _ in range(cs.n)]
    for i, j in cs.edges.tolist():
        nb[i].append(j)
        nb[j].append(i)
    hi = int(model.upper.max())
    sets = _connected_sets_upto(nb, hi)
    proj = cs.centroids @ np.array([np.sin(np.radians(model.axis_bearing)), np.cos(np.radians(model.axis_bearing))])
    area = cs.areas

    def table(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[frozenset[int]]]:
        ss = [s for k in range(int(model.lower[d]), int(model.upper[d]) + 1) for s in sets[k]]
        mask = np.array([sum(1 << i for i in s) for s in ss], dtype=np.int64)
        score = np.array([model.suitability[list(s), d].sum() for s in ss])
        cen = np.array([(proj[list(s)] * area[list(s)]).sum() / area[list(s)].sum() for s in ss])
        return mask, score, cen, ss

    (mb, sb, cb, B), (me_, se, ce, E), (mw, sw, cw, W) = table(0), table(1), table(2)
    adj = [sum(1 << j for j in {j for i in s for j in nb[i]} - s) for s in B]  # outer neighbours
    mg = model.margin - 1e-9
    best, best_lab = -np.inf, None
    for bi in np.argsort(-sb, kind="stable"):
        if sb[bi] + se.max() + sw.max() <= best:
            break
        okE = ((me_ & mb[bi]) == 0) & ((me_ & adj[bi]) != 0) & (ce - cb[bi] >= mg)
        okW = ((mw & mb[bi]) == 0) & ((mw & adj[bi]) != 0) & (cb[bi] - cw >= mg)
        if not okE.any() or not okW.any():
            continue
        ei = np.flatnonzero(okE)[np.argsort(-se[okE], kind="stable")]
        wi = np.flatnonzero(okW)[np.argsort(-sw[okW], kind="stable")]
        for e_ in ei:
            if sb[bi] + se[e_] + sw[wi[0]] <= best:
                break
            free = wi[(mw[wi] & me_[e_]) == 0]
            if len(free) == 0:
                continue
            total = sb[bi] + se[e_] + sw[free[0]]
            if total > best:
                lab = np.full(cs.n, -1)
                lab[list(B[bi])], lab[list(E[e_])], lab[list(W[free[0]])] = 0, 1, 2
                assert independent_check(model, lab) == [], independent_check(model, lab)
                best, best_lab = float(total), lab
    return best, best_lab
