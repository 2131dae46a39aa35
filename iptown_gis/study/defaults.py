"""What a planning front shows before a run: a base scenario's values for the keys it edits,
the stage models' defaults where the file is silent, and which keys the library accepts.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from iptown_gis.study.edit import get_key, read_scenario_data

__all__ = ["json_safe", "key_supported", "model_default", "scenario_defaults", "section_fields", "section_model"]


def section_model(section: str) -> type[BaseModel] | None:
    """The model validating scenario section ``section`` (``None``: unknown or not installed).

    Parameters
    ----------
    section
        A stage section (``"neg"``, ``"zoning"``...) or ``"study"``.

    Returns
    -------
    type or None
        The pydantic model class.
    """
    from iptown_gis.scenario import STAGE_SECTIONS, StudySection

    if section == "study":
        return StudySection
    target = STAGE_SECTIONS.get(section)
    if not target:
        return None
    mod_name, _, cls_name = target.partition(":")
    try:
        model = getattr(importlib.import_module(mod_name), cls_name)
    except (ImportError, AttributeError):
        return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def section_fields(section: str) -> set[str]:
    """The keys scenario section ``section`` accepts (empty when the stage is not installed).

    Parameters
    ----------
    section
        The section name.

    Returns
    -------
    set of str
        The section model's field names.
    """
    model = section_model(section)
    return set() if model is None else set(model.model_fields)


def key_supported(dotted: str) -> bool:
    """True when the installed library accepts the scenario key ``section.key[.sub]``.

    Parameters
    ----------
    dotted
        The key, e.g. ``"neg.sigma"``.

    Returns
    -------
    bool
        Whether the section's model has the field ``key`` (sub-keys are not checked).
    """
    section, _, rest = dotted.partition(".")
    return bool(rest) and rest.split(".")[0] in section_fields(section)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list) and any(isinstance(v, BaseModel) for v in value):
        return [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    return value


def model_default(dotted: str) -> Any:
    """The default of scenario key ``section.key[.sub]`` in its section model.

    The section model is instantiated without arguments (so validators that fill values in
    apply); when it has required fields, the field's own default is used.

    Parameters
    ----------
    dotted
        The key, e.g. ``"zoning.body_km2"`` or ``"sites.robustness.draws"``.

    Returns
    -------
    Any
        The default (nested models as dictionaries), or ``None`` when the key is unknown or
        required (no default).
    """
    from pydantic_core import PydanticUndefined

    section, _, rest = dotted.partition(".")
    model = section_model(section)
    if model is None or not rest:
        return None
    key, *sub = rest.split(".")
    try:
        value = _plain(getattr(model(), key, None))
    except Exception:  # required fields: fall back to the field's own default
        f = model.model_fields.get(key)
        if f is None:
            return None
        default = f.get_default(call_default_factory=True)
        value = None if default is PydanticUndefined else _plain(default)
    return get_key(value, ".".join(sub), None) if sub else value


def json_safe(value: Any) -> Any:
    """``value`` with dates as ISO text, NaN / inf as ``None`` and tuples as lists (for JSON).

    Parameters
    ----------
    value
        A parsed TOML value (recursively).

    Returns
    -------
    Any
        The JSON-safe value.
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return value


def scenario_defaults(base: str | os.PathLike[str] | None, keys: Iterable[str]) -> dict[str, Any]:
    """The values a planning front shows for ``keys`` before a run.

    Parameters
    ----------
    base
        The base scenario (``None`` or ``""``: the bundled Anhui study).
    keys
        Dotted scenario keys, e.g. ``["neg.sigma", "zoning.body_km2", "sites.criteria"]``.

    Returns
    -------
    dict
        ``scenario`` (the path read), ``data`` (the parsed TOML, JSON-safe), ``values``
        (key -> the value in the file, else the section model's default when the installed
        library has the key, else ``None``) and ``supported`` (key -> the installed library
        accepts the key and the base scenario has its section, i.e. setting it does not add a
        stage).

    Raises
    ------
    DataNotFoundError, ScenarioError
        The base scenario does not exist or is not valid TOML.
    """
    from pathlib import Path

    from iptown_gis.scenario import default_scenario_path

    path = (Path(base) if base else default_scenario_path()).resolve()
    data = read_scenario_data(path)
    values: dict[str, Any] = {}
    supported: dict[str, bool] = {}
    for dotted in keys:
        known = key_supported(dotted)
        value = get_key(data, dotted, None)
        if value is None and known:
            value = model_default(dotted)
        values[dotted] = json_safe(value)
        supported[dotted] = known and dotted.split(".")[0] in data
    return {"scenario": str(path), "data": json_safe(data), "values": values, "supported": supported}
