"""An independent checker of every hard constraint of a zoning layout.

It uses only the cell arrays (edges, centroids, areas, exclusion mask) and SciPy's connected
components, none of the optimisers' bookkeeping, so a solver bug cannot hide here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from iptown_gis.errors import ParameterError
from iptown_gis.zoning.instance import ZoningInstance

__all__ = ["Check", "check_layout"]


@dataclass(frozen=True)
class Check:
    """One constraint's verdict."""

    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": bool(self.passed), "detail": self.detail}


def _connected(edges: np.ndarray, members: np.ndarray, n: int) -> int:
    """Number of connected components of the subgraph induced by ``members``."""
    idx = np.flatnonzero(members)
    if len(idx) == 0:
        return 0
    keep = members[edges[:, 0]] & members[edges[:, 1]]
    e = edges[keep]
    pos = np.full(n, -1)
    pos[idx] = np.arange(len(idx))
    g = sp.coo_matrix((np.ones(len(e)), (pos[e[:, 0]], pos[e[:, 1]])), shape=(len(idx), len(idx)))
    k, _ = connected_components(g, directed=False)
    return int(k)


def check_layout(model: ZoningInstance, labels: np.ndarray) -> list[Check]:
    """Check ``labels`` against every hard constraint of ``model``.

    Returns
    -------
    list of Check
        ``labels``, ``excluded``, ``cover``, ``size:<zone>``, ``contiguity:<zone>``,
        ``touch:<a>-<b>``, ``orientation:<a>-<b>``.
    """
    cs = model.cells
    lab = np.asarray(labels)
    if lab.shape != (cs.n,):
        raise ParameterError(f"labels must have one entry per cell ({cs.n}), got shape {lab.shape}")
    out: list[Check] = []
    ok = bool(((lab >= -1) & (lab < model.k)).all())
    out.append(Check("labels", ok, "every label in -1..K-1" if ok else "labels out of range"))
    lab = np.clip(lab.astype("int64"), -1, model.k - 1)
    bad = int(((lab >= 0) & cs.excluded).sum())
    out.append(Check("excluded", bad == 0, f"{bad} excluded cell(s) used"))
    if model.cover:
        free = int(((lab < 0) & ~cs.excluded).sum())
        out.append(Check("cover", free == 0, f"{free} usable cell(s) left unassigned"))
    w = np.ones(cs.n) if model.measure == "cells" else cs.areas
    tol = 1e-9 * max(float(w.sum()), 1.0)
    proj = cs.centroids @ np.array([np.sin(np.deg2rad(model.axis_bearing)),
                                    np.cos(np.deg2rad(model.axis_bearing))])
    cent = {}
    for d, z in enumerate(model.zones):
        mem = lab == d
        size = float(w[mem].sum())
        lo, hi = float(model.lower[d]), float(model.upper[d])
        out.append(Check(f"size:{z}", lo - tol <= size <= hi + tol,
                         f"{size:g} in [{lo:g}, {hi:g}] ({model.measure})"))
        k = _connected(cs.edges, mem, cs.n)
        out.append(Check(f"contiguity:{z}", k == 1, f"{k} connected piece(s)"))
        a = cs.areas[mem]
        cent[d] = float((proj[mem] * a).sum() / a.sum()) if mem.any() else float("nan")
    la, lb = lab[cs.edges[:, 0]], lab[cs.edges[:, 1]]
    for a, b in model.touches:
        n_touch = int((((la == a) & (lb == b)) | ((la == b) & (lb == a))).sum())
        out.append(Check(f"touch:{model.zones[a]}-{model.zones[b]}", n_touch > 0,
                         f"{n_touch} shared cell edge(s)"))
    for a, b in model.order:
        diff = cent[a] - cent[b]
        out.append(Check(f"orientation:{model.zones[a]}-{model.zones[b]}",
                         bool(np.isfinite(diff) and diff >= model.margin - 1e-9),
                         f"centroid of {model.zones[a]} is {diff:.1f} m beyond {model.zones[b]} along "
                         f"bearing {model.axis_bearing:g} deg (needs >= {model.margin:g} m)"))
    return out
