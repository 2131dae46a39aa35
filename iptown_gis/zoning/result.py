"""What a zoning solver (exact or heuristic) hands back to :meth:`ZoningModel.solve`, and the
objective terms of a labelling (:class:`Evaluation`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Evaluation", "SolveResult"]


@dataclass
class SolveResult:
    """What a solver returns to :meth:`ZoningModel.solve`."""

    labels: np.ndarray
    status: str
    bound: float
    objective: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """Objective terms of a labelling."""

    objective: float
    suitability: float
    compactness: float  # total perimeter in cell sides (the term is -weight * this)
    affinity: float  # weighted contact length in cell sides (the term is +weight * this)
