"""Scenario files: one TOML file names a study's inputs, parameters and outputs.

Layout::

    [study]
    name = "Anhui IP characteristic towns"
    crs = "EPSG:4548"              # metric CRS for all measurements (optional: auto UTM)

    [inputs]                       # name -> "FILE[:LAYER]" or a table
    roads = "anhui.gpkg:roads"
    masses = { path = "anhui.gpkg", layer = "seats", where = "level == 'county'" }

    [network]                      # one section per stage, validated by that stage's model
    ...

Paths are relative to the scenario file. Validation happens on load (pydantic models with
``extra="forbid"``); every error names the offending key, e.g.
``scenario.toml: [surfaces] decay: ...``. :meth:`Scenario.check_references` also verifies
that referenced inputs exist and that referenced columns exist in them.

Each stage section is validated by a model the stage package declares, listed in
:data:`STAGE_SECTIONS`, so the stages own their parameters.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import pydantic
import tomllib
from pydantic import BaseModel, ConfigDict, Field

from iptown_gis.errors import ColumnError, DataNotFoundError, ScenarioError

__all__ = [
    "STAGE_SECTIONS",
    "InputLayer",
    "Scenario",
    "Section",
    "StudySection",
    "default_scenario_path",
    "load_scenario",
]

log = logging.getLogger(__name__)

#: Stage sections, in pipeline order: section name -> "module:Model".
STAGE_SECTIONS: dict[str, str] = {
    "network": "iptown_gis.network.config:NetworkConfig",
    "neg": "iptown_gis.neg.config:NEGConfig",
    "surfaces": "iptown_gis.surfaces.config:SurfacesConfig",
    "sites": "iptown_gis.sites.config:SitesConfig",
    "zoning": "iptown_gis.zoning.config:ZoningConfig",
    "report": "iptown_gis.report.config:ReportConfig",
    "parallel": "iptown_gis.parallel.config:ParallelConfig",
}


class Section(BaseModel):
    """Base of every scenario section: unknown keys are errors.

    Subclasses list the inputs and columns they use by overriding :meth:`references`, so a
    misspelt column is reported at load time with its key.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    def references(self) -> list[tuple[str, str | None, str]]:
        """``(input_name, column_or_None, key)`` triples this section reads."""
        return []

    def bind_inputs(self, inputs: Collection[str], *, source: str) -> Section:
        """The section adjusted to the scenario's input names (defaults naming absent inputs off).

        Called once by :func:`parse_scenario`; the base class returns the section unchanged.
        """
        return self


class StudySection(Section):
    """The ``[study]`` section."""

    name: str = "iptown study"
    description: str = ""
    crs: str | None = Field(default=None, description="metric CRS for measurements, e.g. EPSG:4548")
    seed: int = 20171


class InputLayer(Section):
    """An input: a vector layer, a raster, a table (CSV), or a PostGIS table.

    A PostGIS input gives the database URL as ``path`` and ``[SCHEMA.]TABLE`` as ``layer``:
    ``roads = { path = "postgresql://user@host/db", layer = "bureau.roads" }``.
    """

    path: str
    layer: str | None = None
    where: str | None = Field(default=None, description="pandas query selecting rows")
    id_field: str | None = None
    crs: str | None = Field(default=None, description="CRS to assume when the file has none")
    coords: str | None = Field(default=None, description="'wgs84' (default), 'gcj02' or 'bd09'")


class Scenario(BaseModel):
    """A validated scenario. ``sections`` holds the stage sections present in the file."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: Path
    study: StudySection = StudySection()
    inputs: dict[str, InputLayer] = {}
    sections: dict[str, Any] = {}
    raw: dict[str, Any] = {}

    @property
    def base_dir(self) -> Path:
        return self.source.parent

    def is_database(self, name: str) -> bool:
        """True when input ``name`` is a PostGIS table (``path`` is a ``postgresql://`` URL)."""
        return is_database_url(self.input(name).path)

    def input_path(self, name: str) -> Path:
        """Absolute path of input ``name``."""
        inp = self.input(name)
        p = Path(inp.path)
        return p if p.is_absolute() else (self.base_dir / p)

    def input(self, name: str) -> InputLayer:
        try:
            return self.inputs[name]
        except KeyError:
            have = ", ".join(sorted(self.inputs)) or "none"
            raise ScenarioError(
                f"{self.source.name}: no input named {name!r} in [inputs]; inputs are: {have}"
            ) from None

    def section(self, name: str) -> Any:
        """The validated model of section ``name`` (``None`` when absent)."""
        return self.sections.get(name)

    def has(self, name: str) -> bool:
        return name in self.sections

    def check_references(self) -> None:
        """Check that every input file exists and every referenced column exists.

        Raises
        ------
        DataNotFoundError
            An input file or layer is missing.
        ColumnError
            A section names a column its input does not have; the message gives the key.
        ScenarioError
            A section names an input that ``[inputs]`` does not define.
        """
        for name in self.inputs:
            self._check_input_exists(name)
        for sec_name, sec in self.sections.items():
            for inp, col, key in sec.references():
                if inp not in self.inputs:
                    raise ScenarioError(
                        f"{self.source.name}: [{sec_name}] {key} names input {inp!r}, which [inputs] "
                        f"does not define: add it to [inputs] or name one of {', '.join(sorted(self.inputs))}"
                    )
                if col is not None:
                    cols = self.input_columns(inp)
                    if col not in cols:
                        raise ColumnError(
                            f"{self.source.name}: [{sec_name}] {key} = {col!r}: input {inp!r} has no "
                            f"column {col!r}; columns are: {', '.join(cols)}"
                        )
        for name, inp in self.inputs.items():
            if inp.id_field is not None and inp.id_field not in self.input_columns(name):
                raise ColumnError(
                    f"{self.source.name}: [inputs.{name}] id_field = {inp.id_field!r}: no such column; "
                    f"columns are: {', '.join(self.input_columns(name))}"
                )

    def _check_input_exists(self, name: str) -> None:
        if self.is_database(name):
            if not self.inputs[name].layer:
                raise ScenarioError(
                    f"{self.source.name}: [inputs.{name}] a PostGIS input needs layer = \"[SCHEMA.]TABLE\""
                )
            return  # checked when read: the database may not be reachable at load time
        p = self.input_path(name)
        if not p.exists():
            raise DataNotFoundError(
                f"{self.source.name}: [inputs] {name} = {self.inputs[name].path!r}: file {str(p)!r} "
                "does not exist"
            )
        inp = self.inputs[name]
        if inp.layer is None and p.suffix.lower() in (".gpkg", ".sqlite"):
            import pyogrio

            layers = [str(r[0]) for r in pyogrio.list_layers(p)]
            if len(layers) > 1:
                raise ScenarioError(
                    f"{self.source.name}: [inputs] {name} = {inp.path!r}: {p.name} has {len(layers)} layers; "
                    f"name one, e.g. {name} = \"{inp.path}:{layers[0]}\" (layers: {', '.join(layers)})"
                )
        if inp.layer is not None:
            import pyogrio

            layers = [str(r[0]) for r in pyogrio.list_layers(p)]
            if inp.layer not in layers:
                raise DataNotFoundError(
                    f"{self.source.name}: [inputs] {name}: no layer {inp.layer!r} in {p.name}; "
                    f"layers are: {', '.join(layers)}"
                )

    def input_columns(self, name: str) -> list[str]:
        """Column names of input ``name`` (read from the file's schema, not its rows)."""
        if self.is_database(name):
            return [str(c) for c in read_database_layer(self.inputs[name]).columns]
        p = self.input_path(name)
        suffix = p.suffix.lower()
        if suffix == ".csv":
            import pandas as pd

            return [str(c) for c in pd.read_csv(p, nrows=0).columns]
        if suffix in (".tif", ".tiff"):
            return []
        import pyogrio

        from iptown_gis.io.vector import detect_encoding

        info = pyogrio.read_info(p, layer=self.inputs[name].layer, encoding=detect_encoding(p, name=f"input {name!r}"))
        return [str(f) for f in info["fields"]]


def is_database_url(path: str) -> bool:
    """True for ``postgresql://`` (or ``postgres://``, ``postgresql+psycopg://``) URLs."""
    return path.split("://", 1)[0].lower().startswith(("postgresql", "postgres")) and "://" in path


def read_database_layer(inp: InputLayer) -> Any:
    """Read a PostGIS input (``layer`` = ``[SCHEMA.]TABLE``) as a GeoDataFrame."""
    from iptown_gis.io.postgis import read_layer

    schema, _, table = (inp.layer or "").rpartition(".")
    return read_layer(inp.path, table, schema=schema or "public")


def _format_loc(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc)


def _section_model(name: str) -> type[Section] | None:
    target = STAGE_SECTIONS.get(name)
    if target is None:
        return None
    mod_name, _, cls_name = target.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        if exc.name and mod_name.startswith(exc.name):
            return None
        raise
    model: type[Section] = getattr(mod, cls_name)
    return model


def _validate(model: type[BaseModel], data: Any, *, where: str, source: str) -> Any:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = _format_loc(err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(sorted(model.model_fields))
                msg = f"unknown key (allowed: {allowed})"
            problems.append(f"{where} {key}: {msg}" if key else f"{where}: {msg}")
        raise ScenarioError(f"{source}: " + "; ".join(problems)) from None


def parse_scenario(data: dict[str, Any], *, source: Path) -> Scenario:
    """Validate a scenario given as a dictionary (as read from TOML)."""
    src = source.name
    unknown = [k for k in data if k not in ("study", "inputs", *STAGE_SECTIONS)]
    if unknown:
        raise ScenarioError(
            f"{src}: unknown section(s) {', '.join(f'[{k}]' for k in unknown)}; sections are: "
            f"[study], [inputs], {', '.join(f'[{k}]' for k in STAGE_SECTIONS)}"
        )
    study = _validate(StudySection, data.get("study", {}), where="[study]", source=src)
    inputs: dict[str, InputLayer] = {}
    raw_inputs = data.get("inputs", {})
    if not isinstance(raw_inputs, dict):
        raise ScenarioError(f"{src}: [inputs] must be a table of name = \"FILE[:LAYER]\"")
    for name, spec in raw_inputs.items():
        if isinstance(spec, str):
            from iptown_gis.io.vector import parse_layer_spec

            ls = parse_layer_spec(spec)
            spec = {"path": str(ls.path), "layer": ls.layer}
        inputs[name] = _validate(InputLayer, spec, where=f"[inputs.{name}]", source=src)
    sections: dict[str, Any] = {}
    for name in STAGE_SECTIONS:
        if name not in data:
            continue
        model = _section_model(name)
        if model is None:
            raise ScenarioError(f"{src}: section [{name}] is not supported by this iptown_gis version")
        sections[name] = _validate(model, data[name], where=f"[{name}]", source=src).bind_inputs(
            set(inputs), source=src)
    return Scenario(source=source, study=study, inputs=inputs, sections=sections, raw=data)


def load_scenario(path: str | os.PathLike[str] | None = None, *, check: bool = True) -> Scenario:
    """Load and validate a scenario TOML file (default: the bundled Anhui study).

    Parameters
    ----------
    path
        The scenario file; ``None`` for :func:`default_scenario_path`.
    check
        Also check that inputs exist and referenced columns exist
        (:meth:`Scenario.check_references`).

    Raises
    ------
    DataNotFoundError, ScenarioError, ColumnError
    """
    p = Path(path) if path is not None else default_scenario_path()
    if not p.exists():
        raise DataNotFoundError(f"scenario file {str(p)!r} does not exist: check the path")
    if p.is_dir():
        inside = p / "scenario.toml"
        hint = f" (e.g. {str(inside)!r})" if inside.is_file() else ""
        raise ScenarioError(f"scenario {str(p)!r} is a folder, not a file: give the scenario's .toml file{hint}")
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p.name}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{p.name}: not UTF-8 text; save the scenario as UTF-8") from None
    except OSError as exc:
        raise ScenarioError(
            f"cannot read scenario {str(p)!r} ({exc.strerror}): check the path and permissions"
        ) from None
    if not data:
        raise ScenarioError(
            f"{p.name}: the scenario is empty: write at least [inputs] and one stage section "
            f"({', '.join(f'[{k}]' for k in STAGE_SECTIONS if k != 'parallel')})"
        )
    scen = parse_scenario(data, source=p.resolve())
    if check:
        scen.check_references()
    return scen


def default_scenario_path() -> Path:
    """The bundled Anhui study's scenario file."""
    from iptown_gis.datasets import sample_dir

    return sample_dir() / "scenario.toml"
