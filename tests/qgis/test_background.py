"""Algorithms run as QGIS runs them from the toolbox: in background QgsTasks (pooled threads),
several times in a row, without taking QGIS down."""

from __future__ import annotations

import time

from conftest import GPKG
from qgis.core import (
    QgsApplication,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
)
from qgis.PyQt.QtCore import QCoreApplication


def test_algorithm_runs_repeatedly_in_background_tasks(registry, tmp_path):
    alg = registry.algorithmById("iptown:odmatrix")
    results = []
    for i in range(3):
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        feedback = QgsProcessingFeedback()
        params = {"ROADS": f"{GPKG}|layername=roads", "ID_FIELD": "adcode", "METRIC_CRS": "EPSG:4548",
                  "ORIGINS": f"{GPKG}|layername=seats|subset=\"level\" = 'prefecture'",
                  "OUTPUT": str(tmp_path / f"od{i}.gpkg")}
        task = QgsProcessingAlgRunnerTask(alg, params, context, feedback)
        done = {}
        task.executed.connect(lambda ok, res, d=done: d.update(ok=ok, res=res))
        QgsApplication.taskManager().addTask(task)
        end = time.time() + 120
        while "ok" not in done and time.time() < end:
            QCoreApplication.processEvents()
            time.sleep(0.02)
        assert done.get("ok"), f"run {i} failed"
        results.append(done["res"]["OUTPUT"])
    assert len(set(results)) == 3
