"""What the zoning solvers and the layout check read of a model: the :class:`ZoningInstance` protocol.

:class:`~iptown_gis.zoning.model.ZoningModel` is one; the solvers
(:mod:`~iptown_gis.zoning.exact`, :mod:`~iptown_gis.zoning.heuristic`) and
:func:`~iptown_gis.zoning.check.check_layout` are typed against this protocol, so they sit
below the model that calls them (no import back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from iptown_gis.zoning.cells import CellSet
from iptown_gis.zoning.result import Evaluation

__all__ = ["ZoningInstance"]


class ZoningInstance(Protocol):
    """A zoning problem: cells, zones, their size bounds, relations and objective weights."""

    @property
    def cells(self) -> CellSet: ...
    @property
    def zones(self) -> tuple[str, ...]: ...
    @property
    def k(self) -> int: ...
    @property
    def suitability(self) -> np.ndarray: ...
    @property
    def measure(self) -> str: ...
    @property
    def lower(self) -> np.ndarray: ...
    @property
    def upper(self) -> np.ndarray: ...
    @property
    def touches(self) -> Sequence[tuple[int, int]]: ...
    @property
    def order(self) -> Sequence[tuple[int, int]]: ...
    @property
    def axis_bearing(self) -> float: ...
    @property
    def margin(self) -> float: ...
    @property
    def cover(self) -> bool: ...
    @property
    def affinity(self) -> np.ndarray: ...
    @property
    def affinity_weight(self) -> float: ...
    @property
    def compactness_weight(self) -> float: ...
    @property
    def size_weight(self) -> np.ndarray: ...
    @property
    def projection(self) -> np.ndarray: ...

    def evaluate(self, labels: np.ndarray) -> Evaluation:
        """Objective terms of ``labels`` (zone index per cell, -1 unassigned)."""
        ...
