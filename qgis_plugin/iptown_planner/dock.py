"""The planning panel: the whole workflow in one dock.

Pick the layers (boundary, roads, masses, candidates), set the model parameters (sigma, mu,
tau, site weights, district sizes), run the study in a :class:`~.task.LibraryTask` with
progress and Cancel, load the results styled into a group per run, and compare runs in a
table. The panel only collects choices: :mod:`.study` writes the scenario, the library
(:func:`iptown_gis.pipeline.run_scenario`) does the work, :mod:`.results` loads the outputs.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import tempfile
import time
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
)
from qgis.gui import QgsDockWidget, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import bridge
from .deps import Missing, install_hint
from .task import LOG_TAG, LibraryTask

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
    "sigma": ("σ  elasticity of substitution", "neg.sigma", 1.01, 50.0, 2, 0.5),
    "mu": ("μ  expenditure share on manufactures", "neg.mu", 0.01, 0.99, 3, 0.05),
    "tau": ("τ  trade cost per minute of travel", "neg.tau", 0.0, 10.0, 4, 0.001),
}

#: Table parameters: key -> label. "weights" edits the weight of each [[sites.criteria]];
#: "district_sizes" edits [zoning] body_km2 / wing_east_km2 / wing_west_km2.
TABLE_PARAMS: dict[str, str] = {
    "weights": "Site criteria weights",
    "district_sizes": "District sizes (km²)",
}
DISTRICT_KEYS = ("body_km2", "wing_east_km2", "wing_west_km2")


def section_fields(section: str) -> set[str]:
    """The keys a scenario section accepts (empty when the stage is not installed)."""
    from iptown_gis.scenario import STAGE_SECTIONS

    target = STAGE_SECTIONS.get(section)
    if not target:
        return set()
    mod_name, _, cls_name = target.partition(":")
    try:
        model = getattr(importlib.import_module(mod_name), cls_name)
    except (ImportError, AttributeError):
        return set()
    return set(model.model_fields)


def supported(dotted: str) -> bool:
    """True when the installed library accepts the scenario key ``section.key``."""
    section, _, rest = dotted.partition(".")
    return rest.split(".")[0] in section_fields(section)


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


class PlannerDock(QgsDockWidget):
    """The IP Town Planner panel."""

    def __init__(self, iface: Any = None, missing: list[Missing] | None = None, parent: QWidget | None = None):
        super().__init__("IP Town Planner", parent)
        self.setObjectName("IptownPlannerDock")
        self.iface = iface
        self.missing = list(missing or [])
        self.task: LibraryTask | None = None
        self.runs: list[RunRecord] = []
        self._started = 0.0
        self._base_data: dict[str, Any] = {}
        self._build()
        if self.missing:
            self.disable_tools(install_hint(self.missing))

    # ------------------------------------------------------------------------------ building
    def _build(self) -> None:
        body = QWidget()
        lay = QVBoxLayout(body)
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.notice.setStyleSheet("color: #a40000;")
        self.notice.hide()
        lay.addWidget(self.notice)

        study = QGroupBox("Study")
        f = QFormLayout(study)
        self.scenario_file = QgsFileWidget()
        self.scenario_file.setFilter("Scenario (*.toml)")
        self.scenario_file.setToolTip("The scenario to start from; empty = the bundled Anhui study")
        self.scenario_file.fileChanged.connect(lambda _p: self.load_defaults())
        f.addRow("Base scenario", self.scenario_file)
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("e.g. expressway 2030")
        f.addRow("Run name", self.run_name)
        self.out_dir = QgsFileWidget()
        self.out_dir.setStorageMode(QgsFileWidget.GetDirectory)
        self.out_dir.setFilePath(str(Path(tempfile.gettempdir()) / "iptown_runs"))
        f.addRow("Output folder", self.out_dir)
        lay.addWidget(study)

        layers = QGroupBox("Layers (empty: the scenario's own)")
        f = QFormLayout(layers)
        self.layer_boxes: dict[str, QgsMapLayerComboBox] = {}
        for key, (label, _dotted, _fallback, flt) in LAYER_INPUTS.items():
            box = QgsMapLayerComboBox()
            box.setFilters(flt)
            box.setAllowEmptyLayer(True)
            box.setLayer(None)
            self.layer_boxes[key] = box
            f.addRow(label, box)
        self.mass_field = QgsFieldComboBox()
        self.mass_field.setFilters(QgsFieldProxyModel.Numeric)
        self.mass_field.setAllowEmptyFieldName(True)
        self.layer_boxes["masses"].layerChanged.connect(self.mass_field.setLayer)
        f.addRow("Mass field", self.mass_field)
        lay.addWidget(layers)

        params = QGroupBox("Parameters")
        f = QFormLayout(params)
        self.scalars: dict[str, QDoubleSpinBox] = {}
        for key, (label, _dotted, lo, hi, dec, step) in SCALAR_PARAMS.items():
            sb = QDoubleSpinBox()
            sb.setRange(lo, hi)
            sb.setDecimals(dec)
            sb.setSingleStep(step)
            self.scalars[key] = sb
            f.addRow(label, sb)
        self.tables: dict[str, QTableWidget] = {}
        for key, label in TABLE_PARAMS.items():
            t = QTableWidget(0, 2)
            t.setHorizontalHeaderLabels(["name", "value"])
            t.horizontalHeader().setStretchLastSection(True)
            t.setMaximumHeight(130)
            self.tables[key] = t
            f.addRow(label, t)
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
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)

        cmp_box = QGroupBox("Compare scenarios")
        v = QVBoxLayout(cmp_box)
        self.compare = QTableWidget(0, 0)
        v.addWidget(self.compare)
        lay.addWidget(cmp_box)
        lay.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self.setWidget(scroll)
        self._inputs = [self.scenario_file, self.run_name, self.out_dir, params, layers, self.run_button]
        if not self.missing:
            self.load_defaults()

    # ------------------------------------------------------------------------------ state
    def disable_tools(self, message: str) -> None:
        """Show why the tools are unavailable and disable them."""
        self.notice.setText(message)
        self.notice.show()
        for w in self._inputs:
            w.setEnabled(False)
        self.cancel_button.setEnabled(False)

    def base_scenario(self) -> Path:
        from iptown_gis.scenario import default_scenario_path

        text = self.scenario_file.filePath().strip()
        return Path(text) if text else default_scenario_path()

    def load_defaults(self) -> None:
        """Fill the parameter widgets from the base scenario (and the stages' defaults)."""
        import tomllib

        from .study import get_key

        try:
            data = tomllib.loads(self.base_scenario().read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            self.status.setText(f"Cannot read the scenario: {exc}")
            return
        for key, (_label, dotted, *_rest) in SCALAR_PARAMS.items():
            sb = self.scalars[key]
            ok = supported(dotted) and dotted.split(".")[0] in data
            sb.setEnabled(ok)
            value = get_key(data, dotted, None)
            if value is None and ok:
                value = self._model_default(dotted)
            if isinstance(value, (int, float)):
                sb.setValue(float(value))
        self._base_data = data
        rows: dict[str, list[tuple[str, Any]]] = {"weights": [], "district_sizes": []}
        if supported("sites.criteria"):
            for crit in get_key(data, "sites.criteria", []) or []:
                if isinstance(crit, dict) and "name" in crit:
                    rows["weights"].append((str(crit["name"]), crit.get("weight", 0.0)))
        if supported("zoning.body_km2") and "zoning" in data:
            for k in DISTRICT_KEYS:
                v = get_key(data, f"zoning.{k}", None)
                rows["district_sizes"].append((k, v if v is not None else self._model_default(f"zoning.{k}")))
        for key, t in self.tables.items():
            t.setRowCount(0)
            t.setEnabled(bool(rows[key]))
            for name, v in rows[key]:
                r = t.rowCount()
                t.insertRow(r)
                item = QTableWidgetItem(name)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                t.setItem(r, 0, item)
                t.setItem(r, 1, QTableWidgetItem(str(v)))

    @staticmethod
    def _model_default(dotted: str) -> Any:
        from iptown_gis.scenario import STAGE_SECTIONS

        section, _, key = dotted.partition(".")
        mod_name, _, cls_name = STAGE_SECTIONS[section].partition(":")
        model = getattr(importlib.import_module(mod_name), cls_name)
        try:
            inst = model()
        except Exception:
            f = model.model_fields.get(key)
            return None if f is None else f.get_default(call_default_factory=True)
        value = getattr(inst, key, None)
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        return value

    def parameters(self) -> dict[str, Any]:
        """The dotted scenario keys the panel sets (only those the library accepts)."""
        out: dict[str, Any] = {}
        for key, (_label, dotted, *_rest) in SCALAR_PARAMS.items():
            if self.scalars[key].isEnabled():
                out[dotted] = round(float(self.scalars[key].value()), 6)
        tables = {key: self._table_values(key) for key in TABLE_PARAMS}
        if tables["weights"]:
            from .study import get_key

            crits = [dict(c) for c in get_key(self._base_data, "sites.criteria", []) or []]
            for c in crits:
                if c.get("name") in tables["weights"]:
                    c["weight"] = tables["weights"][c["name"]]
            out["sites.criteria"] = crits
        for k, v in tables["district_sizes"].items():
            out[f"zoning.{k}"] = v
        field = self.mass_field.currentField()
        if field and self.layer_boxes["masses"].currentLayer() is not None and supported("surfaces.mass_field"):
            out["surfaces.mass_field"] = field
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

    def picked_layers(self) -> dict[str, Any]:
        """Scenario input name -> GeoDataFrame for each picker with a layer."""
        from .study import get_key

        out = {}
        for key, (label, dotted, fallback, _flt) in LAYER_INPUTS.items():
            layer = self.layer_boxes[key].currentLayer()
            if layer is None:
                continue
            inp = str(get_key(self._base_data, dotted, fallback) or fallback)
            gdf = bridge.source_to_gdf(layer, name=f"{label} {layer.name()!r}", metric=False)
            out[inp] = gdf.reset_index(drop=True)
        return out

    # ------------------------------------------------------------------------------ running
    def _message(self, text: str, level: Any = Qgis.Info) -> None:
        self.status.setText(text)
        QgsMessageLog.logMessage(text, LOG_TAG, level)
        if self.iface is not None:
            self.iface.messageBar().pushMessage("IP Town Planner", text, level=level,
                                                duration=0 if level == Qgis.Critical else 8)

    def start_run(self, _checked: bool = False, *, stages: list[str] | None = None) -> LibraryTask | None:
        """Assemble the study and start it in a background task (returned, for scripting)."""
        if self.missing:
            return None
        if self.task is not None and not self.task.done:
            self._message("A run is already in progress.", Qgis.Warning)
            return None
        from iptown_gis.errors import IptownError

        from .study import build_study

        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = self.run_name.text().strip() or f"run {len(self.runs) + 1}"
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
        run_dir = Path(self.out_dir.filePath() or tempfile.gettempdir()) / f"{stamp}-{safe}"
        try:
            params = self.parameters()
            layers = self.picked_layers()
            scenario = build_study(self.base_scenario(), run_dir, layers=layers, overrides=params,
                                   name=name)
        except (IptownError, ValueError, OSError) as exc:
            self._message(f"Cannot start: {exc}", Qgis.Critical)
            return None
        record = RunRecord(name=name, run_dir=run_dir, parameters=params)
        self.runs.append(record)

        def work(progress: Any) -> dict[str, Any]:
            from iptown_gis.pipeline import run_scenario

            return run_scenario(scenario, run_dir, stages=stages, progress=progress)

        task = LibraryTask(f"IP Town Planner: {name}", work, on_done=lambda t: self._finished(t, record))
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

    def _finished(self, task: LibraryTask, record: RunRecord) -> None:
        record.seconds = round(time.perf_counter() - self._started, 2)
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if task.cancelled:
            record.status = "cancelled"
            self._message(f"{record.name}: cancelled after {record.seconds} s.", Qgis.Warning)
        elif task.error:
            record.status = "failed"
            self._message(f"{record.name}: {task.error}", Qgis.Critical)
        else:
            from .results import load_into_project

            record.status = "done"
            record.manifest = task.result
            self.progress.setValue(100)
            try:
                record.layers = load_into_project(task.result, record.run_dir,
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
