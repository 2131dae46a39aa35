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
        if a in cen and b in cen and not cen[a] - cen[b] > 0:
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


