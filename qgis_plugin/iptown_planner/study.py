"""Assemble a study for the planning panel: a base scenario, the layers the user picked and
the parameters they set, written as a new scenario TOML that the library validates and runs.

Pure Python (no widgets), so the panel stays thin and this is tested on its own.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomllib

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else '"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
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
        # inputs read best as one line each
        if prefix == "inputs":
            lines.insert(len(lines) - (1 if scalars else 0), f"{_key(str(k))} = {_value(v)}")
            continue
        _table(lines, f"{prefix}.{_key(str(k))}" if prefix else _key(str(k)), v)


def toml_dumps(data: Mapping[str, Any]) -> str:
    """Serialise a scenario dictionary as TOML (round-trips through :mod:`tomllib`)."""
    lines: list[str] = []
    top = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
    for k, v in top.items():
        lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in data.items():
        if isinstance(v, Mapping):
            if k == "inputs":
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
    """Set ``section.key[.sub]`` in a scenario dictionary (tables are created)."""
    parts = dotted.split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def get_key(data: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    node: Any = data
    for p in dotted.split("."):
        if not isinstance(node, Mapping) or p not in node:
            return default
        node = node[p]
    return node


def build_study(
    base: str | Path | None,
    run_dir: str | Path,
    *,
    layers: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Path:
    """Write ``run_dir/scenario.toml``: ``base`` with inputs replaced and parameters set.

    Parameters
    ----------
    base
        The scenario to start from (``None``: the bundled Anhui study).
    run_dir
        Folder of this run (created): the scenario, ``inputs.gpkg`` and later the outputs.
    layers
        Input name -> GeoDataFrame picked by the user (written to ``inputs.gpkg``).
    overrides
        Dotted key -> value, e.g. ``{"neg.sigma": 5.0}``.
    name
        The study's name (``[study] name``).

    Returns
    -------
    Path
        The scenario file, already validated by :func:`iptown_gis.scenario.load_scenario`.
    """
    from iptown_gis.io.atomic import atomic_path, ensure_writable_dir
    from iptown_gis.io.vector import write_vector
    from iptown_gis.scenario import default_scenario_path, load_scenario

    base_path = Path(base) if base else default_scenario_path()
    data = tomllib.loads(base_path.read_text(encoding="utf-8"))
    out = ensure_writable_dir(run_dir)
    inputs: dict[str, Any] = {}
    for key, spec in data.get("inputs", {}).items():
        spec = dict(spec) if isinstance(spec, Mapping) else {"path": spec}
        if ":" in str(spec["path"]) and "layer" not in spec:
            from iptown_gis.io.vector import parse_layer_spec

            ls = parse_layer_spec(str(base_path.parent / spec["path"]))
            spec["path"], spec["layer"] = str(ls.path), ls.layer
        p = Path(spec["path"])
        spec["path"] = str(p if p.is_absolute() else (base_path.parent / p).resolve())
        if spec.get("layer") is None:
            spec.pop("layer", None)
        inputs[key] = {k: v for k, v in spec.items() if v is not None}
    gpkg = out / "inputs.gpkg"
    for key, gdf in (layers or {}).items():
        write_vector(gdf, gpkg, layer=key)
        old = inputs.get(key, {})
        new: dict[str, Any] = {"path": str(gpkg), "layer": key}
        if old.get("id_field") and old["id_field"] in gdf.columns:
            new["id_field"] = old["id_field"]
        inputs[key] = new
    data["inputs"] = inputs
    if name:
        set_key(data, "study.name", name)
    for dotted, value in (overrides or {}).items():
        set_key(data, dotted, value)
    target = out / "scenario.toml"
    with atomic_path(target) as tmp:
        tmp.write_text(toml_dumps(data), encoding="utf-8")
    load_scenario(target)  # raises a typed error naming the key when something is wrong
    return target
