"""The planning panel: the whole workflow in one dock.

Pick the layers (boundary, roads, masses, candidates), set the model parameters (sigma, mu,
tau, site weights, district sizes), run the study in the engine (an :class:`~.task.EngineTask`:
background, progress, Cancel), load the results styled into a group per run, and compare runs
in a table. The panel only collects choices: the engine writes and validates the scenario
(``planstudy``) and runs it; :mod:`.results` loads the outputs.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsFieldProxyModel,
    QgsMapLayerProxyModel,
    QgsMessageLog,
    QgsProject,
    QgsVectorFileWriter,
)
from qgis.gui import QgsDockWidget, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import engine as eng
from .task import LOG_TAG, EngineTask

#: Layer pickers: key -> (label, dotted scenario key naming the input it replaces, fallback input
#: name, layer filter). The input name is read from the base scenario, so a picked layer
#: replaces exactly the input the stages use.
LAYER_INPUTS: dict[str, tuple[str, str, str, Any]] = {
    "boundary": ("Boundary (polygons)", "surfaces.boundary", "boundary", QgsMapLayerProxyModel.PolygonLayer),
    "roads": ("Roads (lines)", "network.roads", "roads", QgsMapLayerProxyModel.LineLayer),
    "masses": ("Masses (points)", "surfaces.masses", "county_seats", QgsMapLayerProxyModel.PointLayer),
    "candidates": ("Candidate sites", "sites.candidates", "places",
                   QgsMapLayerProxyModel.PointLayer | QgsMapLayerProxyModel.PolygonLayer),
}

#: Scalar model parameters: key -> (label, dotted scenario key, min, max, decimals, step).
SCALAR_PARAMS: dict[str, tuple[str, str, float, float, int, float]] = {
    "sigma": ("σ substitution elasticity", "neg.sigma", 1.01, 50.0, 2, 0.5),
    "mu": ("μ manufactures share", "neg.mu", 0.01, 0.99, 3, 0.05),
    "tau": ("τ trade cost / minute", "neg.tau", 0.0, 10.0, 4, 0.001),
}

#: Table parameters: key -> label. "weights" edits the weight of each [[sites.criteria]];
#: "district_sizes" edits [zoning] body_km2 / wing_east_km2 / wing_west_km2.
TABLE_PARAMS: dict[str, str] = {
    "weights": "Site criteria weights",
    "district_sizes": "District sizes (km²)",
}
DISTRICT_KEYS = ("body_km2", "wing_east_km2", "wing_west_km2")

#: The scenario keys whose values and support the panel asks the engine for.
DEFAULT_KEYS = [d for _l, d, *_r in SCALAR_PARAMS.values()] + [f"zoning.{k}" for k in DISTRICT_KEYS] + [
    "sites.criteria", "surfaces.mass_field"]


def get_key(data: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """``section.key[.sub]`` of a scenario dictionary (``default`` when absent)."""
    node: Any = data
    for p in dotted.split("."):
        if not isinstance(node, Mapping) or p not in node:
            return default
        node = node[p]
    return node


@dataclass
class RunRecord:
    """One run of the panel, for the comparison table."""

    name: str
    run_dir: Path
    parameters: dict[str, Any]
    status: str = "running"
    seconds: float = 0.0
    manifest: dict[str, Any] | None = None
    layers: list[Any] = field(default_factory=list)


def _shrinkable(widget: QWidget) -> QWidget:
    """Let a field shrink with a narrow dock instead of cutting its neighbours off."""
    widget.setMinimumWidth(60)
    widget.setSizePolicy(QSizePolicy.Ignored, widget.sizePolicy().verticalPolicy())
    if isinstance(widget, QComboBox):
        widget.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        widget.setMinimumContentsLength(6)
    return widget


def _form(box: QGroupBox) -> QFormLayout:
    f = QFormLayout(box)
    f.setRowWrapPolicy(QFormLayout.WrapAllRows)  # labels above fields: a narrow dock keeps every field whole
    f.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
    f.setLabelAlignment(Qt.AlignLeft)
    return f


def _label(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setWordWrap(True)
    return lab


class PlannerDock(QgsDockWidget):
    """The IP Town Planner panel."""

    def __init__(self, iface: Any = None, parent: QWidget | None = None):
        super().__init__("IP Town Planner", parent)
        self.setObjectName("IptownPlannerDock")
        self.iface = iface
        self.task: EngineTask | None = None
        self.defaults_task: EngineTask | None = None
        self.runs: list[RunRecord] = []
        self._started = 0.0
        self._base_data: dict[str, Any] = {}
        self._supported: dict[str, bool] = {}
        self._defaults_for: str | None = None  # the base scenario whose values the widgets show
        self._build()
        try:
            self.engine: eng.Engine | None = eng.find_engine()
        except eng.EngineUnavailable as exc:
            self.engine = None
            self.disable_tools(str(exc))
        else:
            self.load_defaults()

    # ------------------------------------------------------------------------------ building
    def _build(self) -> None:
        body = QWidget()
        lay = QVBoxLayout(body)
        self.notice = _label("")
        self.notice.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.notice.setStyleSheet("color: #a40000;")
        self.notice.hide()
        lay.addWidget(self.notice)

        study = QGroupBox("Study")
        f = _form(study)
        self.scenario_file = _shrinkable(QgsFileWidget())
        self.scenario_file.setFilter("Scenario (*.toml)")
        self.scenario_file.setToolTip("The scenario to start from; empty = the bundled Anhui study")
        self.scenario_file.fileChanged.connect(lambda _p: self.load_defaults())
        f.addRow(_label("Base scenario"), self.scenario_file)
        self.run_name = _shrinkable(QLineEdit())
        self.run_name.setPlaceholderText("e.g. expressway 2030")
        f.addRow(_label("Run name"), self.run_name)
        self.out_dir = _shrinkable(QgsFileWidget())
        self.out_dir.setStorageMode(QgsFileWidget.GetDirectory)
        self.out_dir.setFilePath(str(Path(tempfile.gettempdir()) / "iptown_runs"))
        f.addRow(_label("Output folder"), self.out_dir)
        lay.addWidget(study)

        layers = QGroupBox("Layers")
        f = _form(layers)
        hint = _label("Empty: the scenario's own layer.")
        hint.setStyleSheet("color: #555;")
        f.addRow(hint)
        self.layer_boxes: dict[str, QgsMapLayerComboBox] = {}
        for key, (label, _dotted, _fallback, flt) in LAYER_INPUTS.items():
            box = _shrinkable(QgsMapLayerComboBox())
            box.setFilters(flt)
            box.setAllowEmptyLayer(True)
            box.setLayer(None)
            self.layer_boxes[key] = box
            f.addRow(_label(label), box)
        self.mass_field = _shrinkable(QgsFieldComboBox())
        self.mass_field.setFilters(QgsFieldProxyModel.Numeric)
        self.mass_field.setAllowEmptyFieldName(True)
        self.layer_boxes["masses"].layerChanged.connect(self.mass_field.setLayer)
        f.addRow(_label("Mass field"), self.mass_field)
        lay.addWidget(layers)

        params = QGroupBox("Parameters")
        f = _form(params)
        self.scalars: dict[str, QDoubleSpinBox] = {}
        for key, (label, _dotted, lo, hi, dec, step) in SCALAR_PARAMS.items():
            sb = _shrinkable(QDoubleSpinBox())
            sb.setRange(lo, hi)
            sb.setDecimals(dec)
            sb.setSingleStep(step)
            sb.setEnabled(False)
            self.scalars[key] = sb
            f.addRow(_label(label), sb)
        self.tables: dict[str, QTableWidget] = {}
        for key, label in TABLE_PARAMS.items():
            t = QTableWidget(0, 2)
            t.setHorizontalHeaderLabels(["name", "value"])
            t.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
            t.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeToContents)
            t.verticalHeader().hide()
            t.setMaximumHeight(130)
            t.setMinimumWidth(60)
            t.setEnabled(False)
            self.tables[key] = t
            f.addRow(_label(label))
            f.addRow(t)
        lay.addWidget(params)

        row = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_run)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        lay.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        lay.addWidget(self.progress)
        self.status = _label("Ready.")
        lay.addWidget(self.status)

        cmp_box = QGroupBox("Compare scenarios")
        v = QVBoxLayout(cmp_box)
        self.compare = QTableWidget(0, 0)
        self.compare.setMinimumWidth(60)
        v.addWidget(self.compare)
        lay.addWidget(cmp_box)
        lay.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        self.setWidget(scroll)
        self._inputs = [self.scenario_file, self.run_name, self.out_dir, params, layers, self.run_button]

    # ------------------------------------------------------------------------------ state
    def disable_tools(self, message: str) -> None:
        """Show why the tools are unavailable and disable them."""
        self.notice.setText(message)
        self.notice.show()
        for w in self._inputs:
            w.setEnabled(False)
        self.cancel_button.setEnabled(False)

    def base_scenario(self) -> str:
        """The base scenario's path ("" = the bundled Anhui study, resolved by the engine)."""
        return self.scenario_file.filePath().strip()

    def load_defaults(self) -> EngineTask | None:
        """Ask the engine (in the background) for the base scenario's values; fill the widgets."""
        if self.engine is None:
            return None
        self.run_button.setEnabled(False)
        self._defaults_for = None
        self.status.setText("Reading the scenario…")
        task = EngineTask("IP Town Planner: read scenario", "scenariodefaults",
                          {"BASE_SCENARIO": self.base_scenario(), "KEYS": DEFAULT_KEYS},
                          on_done=self._defaults_read, engine=self.engine)
        self.defaults_task = task
        QgsApplication.taskManager().addTask(task)
        return task

    def _defaults_read(self, task: EngineTask) -> None:
        if task is not self.defaults_task:
            return  # a newer request superseded this one
        self.run_button.setEnabled(self.task is None or self.task.done)
        if task.error or task.result is None:
            self._base_data, self._supported = {}, {}
            self.status.setText(f"Cannot read the scenario: {task.error or 'cancelled'}")
            return
        self._defaults_for = str(task.parameters.get("BASE_SCENARIO", ""))
        data = dict(task.result.get("DATA") or {})
        values = dict(task.result.get("VALUES") or {})
        self._supported = {str(k): bool(v) for k, v in (task.result.get("SUPPORTED") or {}).items()}
        self._base_data = data
        for key, (_label, dotted, *_rest) in SCALAR_PARAMS.items():
            sb = self.scalars[key]
            ok = self._supported.get(dotted, False)
            sb.setEnabled(ok)
            value = values.get(dotted)
            if isinstance(value, (int, float)):
                sb.setValue(float(value))
        rows: dict[str, list[tuple[str, Any]]] = {"weights": [], "district_sizes": []}
        if self._supported.get("sites.criteria"):
            for crit in values.get("sites.criteria") or []:
                if isinstance(crit, dict) and "name" in crit:
                    rows["weights"].append((str(crit["name"]), crit.get("weight", 0.0)))
        for k in DISTRICT_KEYS:
            if self._supported.get(f"zoning.{k}"):
                rows["district_sizes"].append((k, values.get(f"zoning.{k}")))
        for key, t in self.tables.items():
            t.setRowCount(0)
            t.setEnabled(bool(rows[key]))
            for name, v in rows[key]:
                r = t.rowCount()
                t.insertRow(r)
                item = QTableWidgetItem(name)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                t.setItem(r, 0, item)
                t.setItem(r, 1, QTableWidgetItem("" if v is None else str(v)))
        self.status.setText("Ready.")

    def parameters(self) -> dict[str, Any]:
        """The dotted scenario keys the panel sets (only those the engine accepts)."""
        out: dict[str, Any] = {}
        for key, (_label, dotted, *_rest) in SCALAR_PARAMS.items():
            if self.scalars[key].isEnabled():
                out[dotted] = round(float(self.scalars[key].value()), 6)
        tables = {key: self._table_values(key) for key in TABLE_PARAMS}
        if tables["weights"]:
            crits = [dict(c) for c in get_key(self._base_data, "sites.criteria", []) or []]
            for c in crits:
                if c.get("name") in tables["weights"]:
                    c["weight"] = tables["weights"][c["name"]]
            out["sites.criteria"] = crits
        for k, v in tables["district_sizes"].items():
            out[f"zoning.{k}"] = v
        fld = self.mass_field.currentField()
        if fld and self.layer_boxes["masses"].currentLayer() is not None and self._supported.get(
                "surfaces.mass_field"):
            out["surfaces.mass_field"] = fld
        # only the stages the base scenario has: setting a key must not add a stage
        return {k: v for k, v in out.items() if k.split(".")[0] in self._base_data}

    def _table_values(self, key: str) -> dict[str, float]:
        t = self.tables[key]
        values: dict[str, float] = {}
        if not t.isEnabled():
            return values
        for r in range(t.rowCount()):
            name, val = t.item(r, 0), t.item(r, 1)
            if name is None or val is None or not name.text().strip():
                continue
            try:
                values[name.text().strip()] = float(val.text())
            except ValueError:
                raise ValueError(f"{TABLE_PARAMS[key]}: {name.text()!r} = {val.text()!r} is not a number") from None
        return values

    def export_layers(self, run_dir: Path) -> dict[str, dict[str, str]]:
        """Write each picked layer to ``run_dir/inputs.gpkg`` (with its CRS and filter); input name -> spec."""
        out: dict[str, dict[str, str]] = {}
        gpkg = run_dir / "inputs.gpkg"
        for key, (label, dotted, fallback, _flt) in LAYER_INPUTS.items():
            layer = self.layer_boxes[key].currentLayer()
            if layer is None:
                continue
            name = str(get_key(self._base_data, dotted, fallback) or fallback)
            opts = QgsVectorFileWriter.SaveVectorOptions()
            opts.driverName = "GPKG"
            opts.layerName = name
            opts.actionOnExistingFile = (QgsVectorFileWriter.CreateOrOverwriteLayer if gpkg.exists()
                                         else QgsVectorFileWriter.CreateOrOverwriteFile)
            res = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(gpkg), QgsProject.instance().transformContext(),
                                                            opts)
            if res[0] != QgsVectorFileWriter.NoError:
                raise ValueError(f"{label}: cannot write layer {layer.name()!r} for the engine: {res[1]}")
            out[name] = {"path": str(gpkg), "layer": name}
        return out

    # ------------------------------------------------------------------------------ running
    def _message(self, text: str, level: Any = Qgis.Info) -> None:
        self.status.setText(text)
        QgsMessageLog.logMessage(text, LOG_TAG, level)
        if self.iface is not None:
            self.iface.messageBar().pushMessage("IP Town Planner", text, level=level,
                                                duration=0 if level == Qgis.Critical else 8)

    def start_run(self, _checked: bool = False, *, stages: list[str] | None = None) -> EngineTask | None:
        """Assemble the study and start it in the engine, in the background (returned, for scripting)."""
        if self.engine is None:
            return None
        if self.task is not None and not self.task.done:
            self._message("A run is already in progress.", Qgis.Warning)
            return None
        if self._defaults_for != self.base_scenario():
            # the widgets show another scenario's values: read this one's first
            if self.defaults_task is None or self.defaults_task.done or \
                    self.defaults_task.parameters.get("BASE_SCENARIO") != self.base_scenario():
                self.load_defaults()
            self._message("The base scenario's values are being read; press Run again when they are shown.",
                          Qgis.Warning)
            return None
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = self.run_name.text().strip() or f"run {len(self.runs) + 1}"
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
        run_dir = Path(self.out_dir.filePath() or tempfile.gettempdir()) / f"{stamp}-{safe}"
        try:
            params = self.parameters()
            run_dir.mkdir(parents=True, exist_ok=False)
            layers = self.export_layers(run_dir)
        except (ValueError, OSError) as exc:
            shutil.rmtree(run_dir, ignore_errors=True)
            self._message(f"Cannot start: {exc}", Qgis.Critical)
            return None
        record = RunRecord(name=name, run_dir=run_dir, parameters=params)
        self.runs.append(record)
        job = {"BASE_SCENARIO": self.base_scenario(), "RUN_DIR": str(run_dir), "LAYERS": layers,
               "OVERRIDES": params, "NAME": name, "STAGES": stages or []}
        task = EngineTask(f"IP Town Planner: {name}", "planstudy", job,
                          on_done=lambda t: self._finished(t, record), engine=self.engine)
        task.progressChanged.connect(lambda p: self.progress.setValue(int(p)))
        task.progressChanged.connect(lambda _p: self.status.setText(task.last_message or "Running…"))
        self.task = task
        self._started = time.perf_counter()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText(f"Running {name}…")
        QgsApplication.taskManager().addTask(task)
        return task

    def cancel_run(self) -> None:
        if self.task is not None and not self.task.done:
            self.status.setText("Cancelling…")
            self.task.cancel()

    def _finished(self, task: EngineTask, record: RunRecord) -> None:
        record.seconds = round(time.perf_counter() - self._started, 2)
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if task.cancelled:
            record.status = "cancelled"
            shutil.rmtree(record.run_dir, ignore_errors=True)  # a cancelled run leaves nothing behind
            self._message(f"{record.name}: cancelled after {record.seconds} s; nothing was kept.", Qgis.Warning)
        elif task.error or task.result is None:
            record.status = "failed"
            self._message(f"{record.name}: {task.error}", Qgis.Critical)
        else:
            from .results import load_into_project

            record.status = "done"
            try:
                record.manifest = json.loads(Path(str(task.result["MANIFEST"])).read_text(encoding="utf-8"))
            except (KeyError, OSError, ValueError):
                record.manifest = None
            self.progress.setValue(100)
            try:
                record.layers = load_into_project(task.result.get("OUTPUT_LAYERS") or [],
                                                  group_name=f"IP Town Planner: {record.name}",
                                                  project=QgsProject.instance())
            except Exception as exc:  # loading must never take QGIS down
                self._message(f"{record.name}: results written to {record.run_dir} but could not be "
                              f"loaded: {exc}", Qgis.Warning)
            else:
                self._message(f"{record.name}: done in {record.seconds} s, {len(record.layers)} layers "
                              f"loaded from {record.run_dir}.", Qgis.Success)
        self.refresh_compare()

    # ------------------------------------------------------------------------------ compare
    def comparison(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of the comparison table (one row per run)."""
        from .summary import run_summary

        keys: list[str] = []
        rows_data = []
        for rec in self.runs:
            values: dict[str, Any] = {"run": rec.name, "status": rec.status, "seconds": rec.seconds,
                                      **rec.parameters}
            if rec.manifest is not None:
                values.update(run_summary(rec.manifest, rec.run_dir))
            for k in values:
                if k not in keys:
                    keys.append(k)
            rows_data.append(values)
        rows = [[_fmt(vals.get(k, "")) for k in keys] for vals in rows_data]
        return keys, rows

    def refresh_compare(self) -> None:
        keys, rows = self.comparison()
        self.compare.clear()
        self.compare.setColumnCount(len(keys))
        self.compare.setRowCount(len(rows))
        self.compare.setHorizontalHeaderLabels(keys)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.compare.setItem(r, c, QTableWidgetItem(text))
        self.compare.resizeColumnsToContents()

    def closeEvent(self, event: Any) -> None:
        self.cancel_run()
        super().closeEvent(event)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)
