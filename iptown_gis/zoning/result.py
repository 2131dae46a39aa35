"""The result a zoning solver (exact or heuristic) hands back to :meth:`ZoningModel.solve`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SolveResult"]


@dataclass
class SolveResult:
    """What a solver returns to :meth:`ZoningModel.solve`."""

    labels: np.ndarray
    status: str
    bound: float
    objective: float
    info: dict[str, Any] = field(default_factory=dict)
