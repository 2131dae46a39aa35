"""Travel speeds: by road class (Chinese and OSM classes), from a speed column, or a default.

Speeds are in km/h. The tables below are the defaults; every entry can be overridden (the
scenario's ``[network.speeds]`` table, or ``speeds=`` in :func:`build_network`).

Precedence per road: a usable value in the speed column (``maxspeed`` / ``speed``), else the
speed of its class, else ``default_speed_kmh``. The bundled Anhui roads have no class or
speed column, so every road gets the default speed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from iptown_gis.errors import ColumnError, ParameterError

__all__ = [
    "CHINESE_CLASS_SPEEDS",
    "DEFAULT_SPEED_KMH",
    "OSM_HIGHWAY_SPEEDS",
    "RAIL_SPEED_KMH",
    "default_speeds",
    "parse_maxspeed",
    "resolve_speeds",
]

log = logging.getLogger(__name__)

#: Speed for roads with no class and no speed column (km/h).
DEFAULT_SPEED_KMH = 60.0
#: Default average speed on railways (conventional and high-speed mix, km/h).
RAIL_SPEED_KMH = 120.0

#: Typical travel speeds (km/h) for Chinese administrative road classes. Keys match a
#: class value that contains them ("G104国道" -> 国道); English aliases are included.
CHINESE_CLASS_SPEEDS: dict[str, float] = {
    "高速": 100.0, "expressway": 100.0,
    "国道": 70.0, "national": 70.0,
    "省道": 60.0, "provincial": 60.0,
    "县道": 45.0, "county": 45.0,
    "乡道": 30.0, "township": 30.0,
    "村道": 20.0, "village": 20.0,
}

#: Typical travel speeds (km/h) for OSM ``highway`` tags (osmnx-style, exact match).
OSM_HIGHWAY_SPEEDS: dict[str, float] = {
    "motorway": 100.0, "motorway_link": 60.0,
    "trunk": 80.0, "trunk_link": 50.0,
    "primary": 60.0, "primary_link": 45.0,
    "secondary": 50.0, "secondary_link": 40.0,
    "tertiary": 40.0, "tertiary_link": 30.0,
    "unclassified": 30.0, "road": 30.0,
    "residential": 25.0, "living_street": 10.0,
    "service": 20.0, "track": 15.0,
}

_CLASS_COLUMNS = ("highway", "road_class", "class", "fclass", "roadclass", "grade", "type", "等级", "道路等级")
_SPEED_COLUMNS = ("maxspeed", "speed_kmh", "speed", "max_speed")


def default_speeds() -> dict[str, float]:
    """A fresh copy of the combined default class-speed table (Chinese + OSM)."""
    return {**CHINESE_CLASS_SPEEDS, **OSM_HIGHWAY_SPEEDS}


_NUM = re.compile(r"(\d+(?:\.\d+)?)")


def parse_maxspeed(value: Any) -> float:
    """Parse an OSM-style ``maxspeed`` value to km/h (NaN when unusable).

    ``"60"``, ``"60 km/h"``, ``"30 mph"``, ``"50;70"`` (the lowest), lists (osmnx) and numbers
    are understood; ``"none"``, ``"signals"`` and blanks give NaN.
    """
    if value is None:
        return float("nan")
    if isinstance(value, (list, tuple, np.ndarray)):
        vals = [parse_maxspeed(v) for v in value]
        vals = [v for v in vals if np.isfinite(v)]
        return min(vals) if vals else float("nan")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip().lower()
    nums = [float(m) for m in _NUM.findall(text)]
    if not nums:
        return float("nan")
    v = min(nums)
    if "mph" in text:
        v *= 1.609344
    return v


def _class_speed(value: Any, table: Mapping[str, float]) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return float("nan")
    if isinstance(value, (list, tuple, np.ndarray)):
        vals = [_class_speed(v, table) for v in value]
        vals = [v for v in vals if np.isfinite(v)]
        return max(vals) if vals else float("nan")
    text = str(value).strip()
    if text in table:
        return float(table[text])
    low = text.lower()
    if low in table:
        return float(table[low])
    # Chinese classes inside longer labels ("G104 国道", "高速公路"): longest key first.
    for key in sorted(table, key=len, reverse=True):
        if not key.isascii() and key in text:
            return float(table[key])
    return float("nan")


def _check_table(speeds: Mapping[str, float]) -> None:
    bad = {k: v for k, v in speeds.items() if not (np.isfinite(float(v)) and float(v) > 0)}
    if bad:
        raise ParameterError(
            f"speeds must be positive km/h values; fix {', '.join(f'{k}={v}' for k, v in bad.items())}"
        )


def resolve_speeds(
    frame: pd.DataFrame,
    *,
    class_field: str | None = None,
    speed_field: str | None = None,
    speeds: Mapping[str, float] | None = None,
    default_speed_kmh: float = DEFAULT_SPEED_KMH,
    name: str = "roads",
) -> tuple[NDArray[np.float64], str]:
    """Speed (km/h) of every road in ``frame``.

    Parameters
    ----------
    frame
        The road table.
    class_field
        Column with the road class; ``None`` looks for ``highway``, ``road_class``, ``class``,
        ``fclass``, ``grade``, ``type``, ``等级``, ``道路等级``.
    speed_field
        Column with a posted / design speed in km/h (``maxspeed`` strings are parsed);
        ``None`` looks for ``maxspeed``, ``speed_kmh``, ``speed``, ``max_speed``.
    speeds
        Class -> km/h entries that override / extend :func:`default_speeds`.
    default_speed_kmh
        Speed for roads with neither a usable speed nor a known class.
    name
        Layer name for messages.

    Returns
    -------
    speeds, source
        Array of km/h and a short description of where the speeds came from.

    Raises
    ------
    ParameterError
        A zero / negative / NaN speed in the table or as default.
    ColumnError
        A named column is missing, or the speed column holds zero or negative speeds.
    """
    if not (np.isfinite(default_speed_kmh) and default_speed_kmh > 0):
        raise ParameterError(f"default_speed_kmh must be a positive speed in km/h, got {default_speed_kmh}")
    table = default_speeds()
    if speeds:
        _check_table(speeds)
        table.update({str(k): float(v) for k, v in speeds.items()})
    n = len(frame)
    out = np.full(n, np.nan)
    used: list[str] = []
    cols = list(frame.columns)
    if speed_field is not None and speed_field not in cols:
        raise ColumnError(f"{name}: no speed column {speed_field!r}; columns are: {', '.join(map(str, cols))}")
    if class_field is not None and class_field not in cols:
        raise ColumnError(f"{name}: no class column {class_field!r}; columns are: {', '.join(map(str, cols))}")
    sf = speed_field or next((c for c in _SPEED_COLUMNS if c in cols), None)
    if sf is not None:
        vals = frame[sf]
        if pd.api.types.is_numeric_dtype(vals):
            sp = vals.to_numpy(dtype=np.float64)
        else:
            sp = np.array([parse_maxspeed(v) for v in vals], dtype=np.float64)
        bad = np.isfinite(sp) & (sp <= 0)
        if bad.any():
            rows = list(frame.index[bad][:5])
            raise ColumnError(
                f"{name}: column {sf!r} has {int(bad.sum())} zero or negative speed(s) (e.g. rows {rows}); "
                "give positive km/h values or leave them empty to use the class / default speed"
            )
        out = np.where(np.isfinite(sp), sp, out)
        used.append(f"column {sf!r} ({int(np.isfinite(sp).sum())} roads)")
    cf = class_field or next((c for c in _CLASS_COLUMNS if c in cols), None)
    if cf is not None:
        need = np.isnan(out)
        if need.any():
            uniq = pd.unique(frame[cf].astype(str)) if frame[cf].map(np.isscalar).all() else None
            if uniq is not None:
                lut = {u: _class_speed(u, table) for u in uniq}
                cls = np.array([lut[str(v)] if v is not None else np.nan for v in frame[cf]], dtype=np.float64)
            else:
                cls = np.array([_class_speed(v, table) for v in frame[cf]], dtype=np.float64)
            fill = need & np.isfinite(cls)
            out[fill] = cls[fill]
            used.append(f"class column {cf!r} ({int(fill.sum())} roads)")
    rest = np.isnan(out)
    if rest.any():
        out[rest] = float(default_speed_kmh)
        used.append(f"default {default_speed_kmh:g} km/h ({int(rest.sum())} roads)")
    source = "; ".join(used)
    log.info("%s speeds: %s", name, source)
    return out, source
