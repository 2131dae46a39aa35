"""Run whole scenario: every stage of a TOML study, as ``iptown run`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
)

from ..results import load_outputs_on_completion
from .base import IptownAlgorithm

STAGE_NAMES = ["network", "neg", "surfaces", "sites", "zoning", "report"]


class RunScenarioAlgorithm(IptownAlgorithm):
    """Runs a whole study described by a scenario file and loads its outputs."""

    SCENARIO = "SCENARIO"
    STAGES = "STAGES"
    LOAD_OUTPUTS = "LOAD_OUTPUTS"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    MANIFEST = "MANIFEST"
    OUTPUT_LAYERS = "OUTPUT_LAYERS"

    NAME = "runscenario"
    DISPLAY = "Run whole scenario"
    GROUP_ID = "study"
    HELP = (
        "Runs every stage of a study described by a scenario file (TOML: inputs, parameters, "
        "outputs), in order: network, NEG, surfaces, sites, zoning, report — exactly as the "
        "command 'iptown run' does — and writes manifest.json (inputs with hashes, parameters, "
        "outputs, versions, timings) into the output folder.\n\n"
        "Scenario file: leave empty for the bundled Anhui study.\n"
        "Stages: run only these (default: every stage the scenario has).\n"
        "Load outputs: add the written layers to the project, styled (districts and modules "
        "with the fixed categorical style, surfaces with a colour ramp)."
    )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(QgsProcessingParameterFile(
            self.SCENARIO, self.tr("Scenario file (empty: the bundled Anhui study)"),
            behavior=QgsProcessingParameterFile.File, extension="toml", optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.STAGES, self.tr("Stages to run (empty: all the scenario has)"), options=STAGE_NAMES,
            allowMultiple=True, optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.LOAD_OUTPUTS, self.tr("Load outputs into the project"), defaultValue=True))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.OUTPUT_FOLDER, self.tr("Output folder")))
        self.addOutput(QgsProcessingOutputFile(self.MANIFEST, self.tr("Manifest (manifest.json)")))
        self.addOutput(QgsProcessingOutputMultipleLayers(self.OUTPUT_LAYERS, self.tr("Output layers")))

    def compute(self, parameters: dict[str, Any], context: QgsProcessingContext,
            feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from iptown_gis.pipeline import run_scenario

        scenario = self.parameterAsFile(parameters, self.SCENARIO, context) or None
        picked = self.parameterAsEnums(parameters, self.STAGES, context)
        stages = [STAGE_NAMES[i] for i in picked] or None
        out_dir = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        manifest = run_scenario(scenario, out_dir, stages=stages, progress=self.progress(feedback))
        feedback.pushInfo(f"stages run: {', '.join(manifest['stages']) or 'none'}; "
                          f"{len(manifest['outputs'])} outputs in {manifest['timings_s']['total']} s")
        layers: list[str] = []
        if self.parameterAsBoolean(parameters, self.LOAD_OUTPUTS, context):
            layers = load_outputs_on_completion(manifest, Path(out_dir), context)
        return {self.OUTPUT_FOLDER: out_dir, self.MANIFEST: str(Path(out_dir) / "manifest.json"),
                self.OUTPUT_LAYERS: layers}
