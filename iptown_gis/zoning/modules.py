"""Second stage: lay out the seven modules inside the body with the same machinery."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from iptown_gis.errors import ParameterError
from iptown_gis.progress import Progress, ProgressCallback
from iptown_gis.zoning.cells import CellSet
from iptown_gis.zoning.model import MODULES, ZoningModel

__all__ = ["layout_modules"]

log = logging.getLogger(__name__)


def layout_modules(
    cells: CellSet,
    district_labels: np.ndarray,
    *,
    body: int = 0,
    suitability: np.ndarray | None = None,
    shares: Mapping[str, float] | None = None,
    tolerance: float = 0.3,
    affinity: Mapping[tuple[str, str], float] | None = None,
    affinity_weight: float = 0.05,
    compactness_weight: float = 0.1,
    method: str = "heuristic",
    time_limit: float | None = 30.0,
    seed: int = 0,
    progress: ProgressCallback | Progress | None = None,
) -> tuple[ZoningModel, np.ndarray]:
    """Partition the body's cells into the seven modules (each contiguous, sizes by share).

    Parameters
    ----------
    cells
        The full cell set of the district layout.
    district_labels
        District index per cell (``body`` marks the body).
    suitability
        ``(n, 7)`` per-module suitability in :data:`MODULES` order (default zeros).
    shares, tolerance
        Share of the body per module (default equal) and relative size tolerance.
    affinity, affinity_weight
        Module affinities (default :data:`~iptown_gis.zoning.model.DEFAULT_MODULE_AFFINITY`).
    method, time_limit, seed
        As in :meth:`ZoningModel.solve`.
    body
        The district index of the body in ``district_labels``.
    compactness_weight
        Weight of the compactness term (see :class:`~iptown_gis.zoning.model.ZoningModel`).
    progress
        A callback ``(fraction, message)`` or a :class:`~iptown_gis.progress.Progress` (also carries
        cancellation); ``None``: silent.

    Returns
    -------
    (model, labels)
        The solved module model (over the body's cells) and a module index per cell of
        ``cells`` (``-1`` outside the body).
    """
    lab = np.asarray(district_labels)
    if lab.shape != (cells.n,):
        raise ParameterError(f"district_labels must have one entry per cell ({cells.n})")
    mask = lab == body
    if suitability is not None and np.asarray(suitability).shape != (cells.n, len(MODULES)):
        raise ParameterError(f"module suitability must be ({cells.n}, {len(MODULES)})")
    model, ids = ZoningModel.modules(cells, mask, suitability=suitability, shares=shares, tolerance=tolerance,
                                     affinity=affinity, affinity_weight=affinity_weight,
                                     compactness_weight=compactness_weight)
    model.solve(method=method, time_limit=time_limit, seed=seed, progress=progress)
    full = np.full(cells.n, -1, dtype="int64")
    assert model.labels_ is not None
    full[ids] = model.labels_
    return model, full


def module_suitability(cells: CellSet, *, prefix: str = "suit_") -> np.ndarray | None:
    """``(n, 7)`` module suitability from ``suit_<module>`` columns, or ``None`` if absent."""
    cols = [f"{prefix}{m}" for m in MODULES]
    if not all(c in cells.data.columns for c in cols):
        return None
    return np.column_stack([cells.column(c, what="module suitability") for c in cols])


__all__ += ["module_suitability"]

