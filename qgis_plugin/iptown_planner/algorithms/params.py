"""Small helpers to declare Processing parameters the QGIS way (advanced flags, enums)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qgis.core import (
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
)

from .base import tr


def advanced(p: QgsProcessingParameterDefinition) -> QgsProcessingParameterDefinition:
    p.setFlags(p.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return p


def number(key: str, label: str, default: float | None, *, minimum: float | None = None,
           maximum: float | None = None, integer: bool = False, optional: bool = False,
           is_advanced: bool = False) -> QgsProcessingParameterNumber:
    kind = QgsProcessingParameterNumber.Integer if integer else QgsProcessingParameterNumber.Double
    kw: dict[str, Any] = {"type": kind, "optional": optional}
    if default is not None:
        kw["defaultValue"] = default
    if minimum is not None:
        kw["minValue"] = minimum
    if maximum is not None:
        kw["maxValue"] = maximum
    p = QgsProcessingParameterNumber(key, tr(label), **kw)
    return advanced(p) if is_advanced else p


def enum(key: str, label: str, options: Sequence[str], default: int = 0, *,
         is_advanced: bool = False, optional: bool = False) -> QgsProcessingParameterEnum:
    p = QgsProcessingParameterEnum(key, tr(label), options=list(options), defaultValue=default,
                                   optional=optional)
    return advanced(p) if is_advanced else p
