"""Study algorithms: run a whole scenario, run a study assembled by the planning panel, and
read a base scenario's values for the panel (:mod:`iptown_gis.pipeline`, :mod:`iptown_gis.study`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iptown_gis.engine.params import Params
from iptown_gis.engine.tools import tool
from iptown_gis.errors import ParameterError
from iptown_gis.pipeline import STAGES

log = logging.getLogger(__name__)

#: Stage names, in pipeline order (the options of ``STAGES``).
STAGE_NAMES = tuple(name for name, _ in STAGES)

#: The scenario keys the planning panel edits (``scenariodefaults``' default ``KEYS``).
PANEL_KEYS = ("neg.sigma", "neg.mu", "neg.tau", "zoning.body_km2", "zoning.wing_east_km2", "zoning.wing_west_km2",
              "sites.criteria", "surfaces.mass_field")


def _run(p: Params, scenario: Any, out_dir: Path) -> dict[str, Any]:
    """Run ``scenario`` into ``out_dir`` (stages ``STAGES``); the outputs every study tool returns."""
    from iptown_gis.pipeline import run_scenario
    from iptown_gis.study.layers import output_layers

    stages = p.choices("STAGES", STAGE_NAMES) or None
    manifest = run_scenario(scenario, out_dir, stages=stages, progress=p.progress)
    log.info("stages run: %s; %d outputs in %s s", ", ".join(manifest["stages"]) or "none",
             len(manifest["outputs"]), manifest["timings_s"]["total"])
    return {"OUTPUT_FOLDER": str(out_dir), "MANIFEST": str(out_dir / "manifest.json"),
            "OUTPUT_LAYERS": output_layers(manifest, out_dir)}


def _folder(p: Params, key: str) -> Path:
    path = p.output(key)
    assert path is not None
    return Path(path)


@tool("runscenario", defaults={"LOAD_OUTPUTS": True})
def runscenario(p: Params) -> dict[str, Any]:
    """Run every stage of a study described by a scenario file, as 'iptown run' does.

    ``SCENARIO``: the TOML file (empty: the bundled Anhui study); ``STAGES``: run only these
    (empty: every stage the scenario has); writes the outputs and ``manifest.json`` into
    ``OUTPUT_FOLDER``. ``OUTPUT_LAYERS`` lists the loadable layers (``source``, ``name``,
    ``provider``, ``stage``, ``kind``, ``style_key``); ``LOAD_OUTPUTS`` is the front's choice
    to load them.
    """
    return _run(p, p.text("SCENARIO") or None, _folder(p, "OUTPUT_FOLDER"))


def _object(p: Params, key: str, what: str) -> dict[str, Any]:
    v = p.raw(key)
    if v is None or v == "" or v == {}:
        return {}
    if not isinstance(v, Mapping):
        raise ParameterError(f"{p.algorithm}: parameter {key}: give a JSON object of {what}, "
                             f"got {type(v).__name__}")
    return {str(k): x for k, x in v.items()}


@tool("planstudy")
def planstudy(p: Params) -> dict[str, Any]:
    """Run a study assembled by the planning panel: a base scenario, picked layers and parameters.

    Writes ``RUN_DIR/scenario.toml`` (``BASE_SCENARIO``, empty: the bundled Anhui study, with
    its inputs made absolute; each of ``LAYERS``, input name -> ``{"path", "layer"}``,
    replaces the input of that name, keeping its ``id_field`` when the layer has that column;
    ``OVERRIDES``, dotted key -> value, are set; ``NAME`` is the study's name), validates it
    and runs it into ``RUN_DIR`` (``STAGES``: only these). Returns what ``runscenario``
    returns plus ``SCENARIO_FILE``.
    """
    from iptown_gis.study.edit import build_study

    run_dir = _folder(p, "RUN_DIR")
    scenario = build_study(p.text("BASE_SCENARIO") or None, run_dir,
                           layers=_object(p, "LAYERS", "input name -> {\"path\": FILE, \"layer\": NAME}"),
                           overrides=_object(p, "OVERRIDES", "dotted scenario key -> value"), name=p.text("NAME"))
    log.info("wrote %s", scenario)
    return {**_run(p, scenario, run_dir), "SCENARIO_FILE": str(scenario)}


@tool("scenariodefaults", defaults={"KEYS": list(PANEL_KEYS)})
def scenariodefaults(p: Params) -> dict[str, Any]:
    """A base scenario's values for the keys the planning panel edits, with the stages' defaults.

    ``BASE_SCENARIO``: the scenario (empty: the bundled Anhui study); ``KEYS``: dotted keys.
    Returns ``SCENARIO`` (the path read), ``DATA`` (the parsed TOML), ``VALUES`` (key -> the
    value in the file, else the section model's default) and ``SUPPORTED`` (key -> the
    installed library accepts it and the base scenario has its section).
    """
    from iptown_gis.study.defaults import scenario_defaults

    res = scenario_defaults(p.text("BASE_SCENARIO") or None, p.names("KEYS"))
    return {"SCENARIO": res["scenario"], "DATA": res["data"], "VALUES": res["values"],
            "SUPPORTED": res["supported"]}
