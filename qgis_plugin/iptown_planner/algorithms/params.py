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


def parse_numbers(text: str, *, what: str) -> list[float]:
    """``"15, 30, 60"`` -> ``[15.0, 30.0, 60.0]`` (a library ParameterError when malformed)."""
    from iptown_gis.errors import ParameterError

    out = []
    for part in str(text).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(float(part))
        except ValueError:
            raise ParameterError(f"{what}: {part!r} is not a number; give numbers separated by commas") from None
    if not out:
        raise ParameterError(f"{what}: give at least one number, e.g. 15, 30, 60")
    return out


def parse_mapping(text: str, *, what: str) -> dict[str, float]:
    """``"a=0.5, b=0.25"`` -> ``{"a": 0.5, "b": 0.25}`` (a library ParameterError when malformed)."""
    from iptown_gis.errors import ParameterError

    out: dict[str, float] = {}
    for part in str(text).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"{what}: {part!r} is not name=value; e.g. market_potential=0.4")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise ParameterError(f"{what}: {key.strip()}={value.strip()!r} is not a number") from None
    return out
