"""Writing scenario files: a base scenario, the layers a user picked and the parameters they set,
written as a new scenario TOML that :func:`iptown_gis.scenario.load_scenario` validates.

This is what the QGIS planning panel (through the engine's ``planstudy`` tool) and the
``studyarealayout`` tool use to assemble a study without editing the user's own file.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomllib

from iptown_gis.errors import DataNotFoundError, ParameterError, ScenarioError

__all__ = ["build_study", "get_key", "read_scenario_data", "set_key", "toml_dumps"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else '"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):  # float(): numpy's float64 is a float whose repr is "np.float64(...)"
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(float(v))
    if isinstance(v, str):
        out = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{out}"'
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(x)}" for k, x in v.items()) + " }"
    if hasattr(v, "item"):  # numpy scalar
        return _value(v.item())
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _table(lines: list[str], prefix: str, table: Mapping[str, Any]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if prefix and (scalars or not tables):
        lines.append(f"[{prefix}]")
    for k, v in scalars.items():
        lines.append(f"{_key(str(k))} = {_value(v)}")
    if scalars:
        lines.append("")
    for k, v in tables.items():
        _table(lines, f"{prefix}.{_key(str(k))}" if prefix else _key(str(k)), v)


def toml_dumps(data: Mapping[str, Any]) -> str:
    """Serialise a scenario dictionary as TOML.

    Top-level values come first, then one ``[section]`` per table (sub-tables as
    ``[section.sub]``); ``[inputs]`` is written one input per line; arrays of tables
    (``[[neg.scenarios]]``) are written as arrays of inline tables.

    Parameters
    ----------
    data
        The scenario as :func:`tomllib.loads` returns it (strings, numbers, booleans, dates,
        lists and tables; numpy scalars are accepted).

    Returns
    -------
    str
        TOML text that :mod:`tomllib` reads back to ``data``.

    Raises
    ------
    TypeError
        A value TOML cannot hold (``None``, an arbitrary object).
    """
    lines: list[str] = []
    top = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
    for k, v in top.items():
        lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in data.items():
        if isinstance(v, Mapping):
            if k == "inputs":  # inputs read best as one line each
                lines.append("[inputs]")
                for name, spec in v.items():
                    lines.append(f"{_key(str(name))} = {_value(spec)}")
                lines.append("")
            else:
                _table(lines, _key(k), v)
    text = "\n".join(lines).rstrip() + "\n"
    tomllib.loads(text)  # never write what cannot be read back
    return text


def set_key(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``section.key[.sub]`` in a scenario dictionary; missing tables are created.

    Parameters
    ----------
    data
        The scenario dictionary (changed in place).
    dotted
        The key, e.g. ``"neg.sigma"`` or ``"sites.constraints.min_spacing"``.
    value
        The new value.

    Raises
    ------
    ParameterError
        The key is empty, or a part of its path holds a value that is not a table.
    """
    parts = dotted.split(".")
    if not all(parts):
        raise ParameterError(f"scenario key {dotted!r}: give section.key, e.g. neg.sigma")
    node = data
    for i, p in enumerate(parts[:-1]):
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ParameterError(f"scenario key {dotted!r}: {'.'.join(parts[:i + 1])} is a value, not a table")
    node[parts[-1]] = value


def get_key(data: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """The value of ``section.key[.sub]`` in a scenario dictionary, else ``default``.

    Parameters
    ----------
    data
        The scenario dictionary.
    dotted
        The key, e.g. ``"zoning.body_km2"``.
    default
        Returned when a part of the path is missing.

    Returns
    -------
    Any
        The value, or ``default``.
    """
    node: Any = data
    for p in dotted.split("."):
        if not isinstance(node, Mapping) or p not in node:
            return default
        node = node[p]
    return node


def read_scenario_data(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A scenario file parsed as a dictionary (not validated).

    Parameters
    ----------
    path
        The scenario file (``None``: the bundled Anhui study).

    Returns
    -------
    dict
        The parsed TOML.

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    ScenarioError
        The file is not valid UTF-8 TOML.
    """
    from iptown_gis.scenario import default_scenario_path

    p = Path(path) if path else default_scenario_path()
    if not p.is_file():
        raise DataNotFoundError(f"scenario file {str(p)!r} does not exist: check the path")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p.name}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{p.name}: not UTF-8 text; save the scenario as UTF-8") from None


def _absolute_inputs(data: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """The ``[inputs]`` of a scenario with file paths made absolute (``FILE:LAYER`` split)."""
    from iptown_gis.io.vector import parse_layer_spec
    from iptown_gis.scenario import is_database_url

    inputs: dict[str, Any] = {}
    for key, raw in data.get("inputs", {}).items():
        spec = dict(raw) if isinstance(raw, Mapping) else {"path": raw}
        if is_database_url(str(spec["path"])):
            inputs[key] = {k: v for k, v in spec.items() if v is not None}
            continue
        if ":" in str(spec["path"]) and "layer" not in spec:
            ls = parse_layer_spec(str(base_dir / spec["path"]))
            spec["path"], spec["layer"] = str(ls.path), ls.layer
        p = Path(spec["path"])
        spec["path"] = str(p if p.is_absolute() else (base_dir / p).resolve())
        if spec.get("layer") is None:
            spec.pop("layer", None)
        inputs[key] = {k: v for k, v in spec.items() if v is not None}
    return inputs


def _picked_layer(name: str, spec: Any) -> tuple[Path, str | None, list[str]]:
    """A picked layer ``{"path", "layer"}`` (or ``"FILE[:LAYER]"``): absolute path, layer, columns."""
    import pyogrio

    from iptown_gis.io.vector import list_layers, parse_layer_spec

    if isinstance(spec, Mapping):
        if not spec.get("path"):
            raise ParameterError(f"layer for input {name!r}: give {{\"path\": FILE, \"layer\": NAME}}")
        ls = parse_layer_spec(str(spec["path"]), str(spec["layer"]) if spec.get("layer") else None)
    elif isinstance(spec, (str, os.PathLike)) and str(spec).strip():
        ls = parse_layer_spec(str(spec))
    else:
        raise ParameterError(f"layer for input {name!r}: give {{\"path\": FILE, \"layer\": NAME}}, "
                             f"got {type(spec).__name__}")
    path = ls.path.resolve()
    if not path.exists():
        raise DataNotFoundError(f"layer for input {name!r}: file {str(path)!r} does not exist: check the path")
    if ls.layer is not None:
        have = list_layers(path)
        if ls.layer not in have:
            raise DataNotFoundError(f"layer for input {name!r}: no layer {ls.layer!r} in {path.name}; "
                                    f"layers are: {', '.join(have)}")
    try:
        from iptown_gis.io.vector import detect_encoding

        enc = detect_encoding(path, name=f"layer for input {name!r}")
        fields = [str(f) for f in pyogrio.read_info(path, layer=ls.layer, encoding=enc)["fields"]]
    except Exception as exc:  # pyogrio's DataSourceError and friends
        raise DataNotFoundError(f"layer for input {name!r}: cannot read {str(path)!r}: {exc}") from exc
    return path, ls.layer, fields


def build_study(
    base: str | os.PathLike[str] | None,
    run_dir: str | os.PathLike[str],
    *,
    layers: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Path:
    """Write ``run_dir/scenario.toml``: ``base`` with inputs replaced and parameters set.

    Parameters
    ----------
    base
        The scenario to start from (``None`` or ``""``: the bundled Anhui study). Its input
        paths are made absolute, so the new scenario reads the same files.
    run_dir
        Folder of this run (created); the scenario is written there.
    layers
        Input name -> existing layer picked by the user, ``{"path": FILE, "layer": NAME}`` (or
        ``"FILE[:LAYER]"``). It replaces the base scenario's input of that name (``where``,
        ``crs`` and ``coords`` are dropped); the input's ``id_field`` is kept when the picked
        layer has that column. A name the base does not have adds an input.
    overrides
        Dotted key -> value, e.g. ``{"neg.sigma": 5.0}``; ``None`` removes the key (the
        stage's default applies).
    name
        The study's name (``[study] name``).

    Returns
    -------
    Path
        The scenario file, already validated by :func:`iptown_gis.scenario.load_scenario`.

    Raises
    ------
    DataNotFoundError
        The base scenario, a picked file or layer, or an input does not exist.
    ScenarioError, ColumnError
        The assembled scenario does not validate (the message names the key).
    ParameterError
        A picked layer or an override cannot be used.
    """
    from iptown_gis.io.atomic import atomic_path, ensure_writable_dir
    from iptown_gis.scenario import default_scenario_path, load_scenario

    base_path = (Path(base) if base else default_scenario_path()).resolve()
    data = read_scenario_data(base_path)
    out = ensure_writable_dir(run_dir)
    inputs = _absolute_inputs(data, base_path.parent)
    for key, spec in (layers or {}).items():
        path, layer, fields = _picked_layer(str(key), spec)
        old = inputs.get(key, {})
        new: dict[str, Any] = {"path": str(path)}
        if layer is not None:
            new["layer"] = layer
        if old.get("id_field") and old["id_field"] in fields:
            new["id_field"] = old["id_field"]
        inputs[str(key)] = new
    data["inputs"] = inputs
    if name:
        set_key(data, "study.name", name)
    for dotted, value in (overrides or {}).items():
        if value is None:
            parent = get_key(data, dotted.rpartition(".")[0], None) if "." in dotted else data
            if isinstance(parent, dict):
                parent.pop(dotted.rpartition(".")[2], None)
            continue
        try:
            _value(value)
        except TypeError as exc:
            raise ParameterError(f"override {dotted} = {value!r}: {exc}") from None
        set_key(data, dotted, value)
    target = out / "scenario.toml"
    with atomic_path(target) as tmp:
        tmp.write_text(toml_dumps(data), encoding="utf-8")
    load_scenario(target)  # raises a typed error naming the key when something is wrong
    return target
