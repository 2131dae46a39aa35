"""An engine job in a :class:`QgsTask`: background, with progress and Cancel, never fatal.

``run`` (a worker thread) runs the job in the engine process and follows its progress; Cancel
terminates the engine (killed after a second if it does not stop). ``finished`` runs in the
main thread and calls ``on_done(task)``, where ``result`` (the job's outputs), ``error`` or
``cancelled`` can be read; only there may QGIS layers be touched.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qgis.core import Qgis, QgsMessageLog, QgsTask

from . import engine as eng

LOG_TAG = "IP Town Planner"


class EngineTask(QgsTask):
    """Runs ``algorithm`` with ``parameters`` in the engine."""

    def __init__(self, description: str, algorithm: str, parameters: dict[str, Any],
                 on_done: Callable[[EngineTask], None] | None = None, *, engine: eng.Engine | None = None) -> None:
        super().__init__(description, QgsTask.CanCancel)
        self.algorithm = algorithm
        self.parameters = parameters
        self.engine = engine
        self.on_done = on_done
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.details = ""
        self.cancelled = False
        self.last_message = ""
        self.log: list[tuple[str, str]] = []
        self.cancel_requested_at: float | None = None
        self.stopped_at: float | None = None
        self.pid: int | None = None
        self.done = False

    def cancel(self) -> None:
        self.cancel_requested_at = time.perf_counter()
        super().cancel()

    def _progress(self, fraction: float, message: str) -> None:
        if message:
            self.last_message = message
        pct = min(max(fraction, 0.0), 1.0) * 100.0
        if pct > self.progress():
            self.setProgress(pct)

    def _log(self, level: str, message: str) -> None:
        self.log.append((level, message))

    def run(self) -> bool:
        folder = Path(tempfile.mkdtemp(prefix=f"iptown_{self.algorithm}_"))
        try:
            engine = self.engine or eng.find_engine()
            self.result = eng.run_job(engine, self.algorithm, self.parameters, work_dir=folder,
                                      on_progress=self._progress, on_log=self._log, is_cancelled=self.isCanceled,
                                      on_start=lambda p: setattr(self, "pid", p.pid))
            return True
        except eng.EngineCancelled:
            self.cancelled = True
            return False
        except eng.EngineUnavailable as exc:
            self.error = str(exc)
            return False
        except eng.EngineError as exc:
            self.error = str(exc)
            self.details = exc.details
            return False
        except Exception as exc:  # never let a bug take QGIS down
            import traceback

            self.error = f"internal error in the plugin ({type(exc).__name__}: {exc}); please report it"
            self.details = traceback.format_exc()
            return False
        finally:
            self.stopped_at = time.perf_counter()
            shutil.rmtree(folder, ignore_errors=True)
            if self.isCanceled():
                self.cancelled = True

    def finished(self, ok: bool) -> None:
        self.done = True
        if self.error:
            QgsMessageLog.logMessage(f"{self.description()}: {self.error}\n{self.details}".rstrip(),
                                     LOG_TAG, Qgis.Critical)
        elif self.cancelled:
            QgsMessageLog.logMessage(f"{self.description()}: cancelled", LOG_TAG, Qgis.Info)
        if self.on_done is not None:
            self.on_done(self)
