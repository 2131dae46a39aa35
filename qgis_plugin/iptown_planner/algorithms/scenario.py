"""Run whole scenario: every stage of a TOML study, as ``iptown run`` does."""

from __future__ import annotations

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

    def after_run(self, result: dict[str, Any], out: dict[str, Any], parameters: dict[str, Any],
                  context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> None:
        from ..results import load_on_completion

        layers = list(result.get(self.OUTPUT_LAYERS) or [])
        feedback.pushInfo(f"{len(layers)} layers written into {out.get(self.OUTPUT_FOLDER)}")
        out[self.OUTPUT_LAYERS] = [item["source"] for item in layers]
        if self.parameterAsBoolean(parameters, self.LOAD_OUTPUTS, context):
            load_on_completion(layers, context)
