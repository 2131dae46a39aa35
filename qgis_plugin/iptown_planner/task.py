"""Long library work in a :class:`QgsTask`: progress, Cancel, errors caught (never fatal).

The work function receives the library's progress callback (see
:func:`iptown_planner.feedback.task_callback`); Cancel makes the callback return ``False``, so
the library raises ``CancelledError`` at its next progress report or check. ``finished`` runs
in the main thread and calls ``on_done(task)``, where the result, the error message, or
``cancelled`` can be read; only there may QGIS layers be touched.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from qgis.core import Qgis, QgsMessageLog, QgsTask

from .feedback import error_message, task_callback

LOG_TAG = "IP Town Planner"

log = logging.getLogger(__name__)


class LibraryTask(QgsTask):
    """Runs ``work(progress_callback)`` in a worker thread."""

    def __init__(self, description: str, work: Callable[[Any], Any],
                 on_done: Callable[[LibraryTask], None] | None = None) -> None:
        super().__init__(description, QgsTask.CanCancel)
        self.work = work
        self.on_done = on_done
        self.result: Any = None
        self.error: str | None = None
        self.details: str = ""
        self.cancelled = False
        self.last_message = ""
        self.cancel_requested_at: float | None = None
        self.stopped_at: float | None = None
        self.done = False

    def cancel(self) -> None:
        self.cancel_requested_at = time.perf_counter()
        super().cancel()

    def run(self) -> bool:
        try:
            from iptown_gis.errors import CancelledError, IptownError
        except ImportError as exc:
            self.error = f"iptown_gis cannot be imported: {exc}"
            return False
        try:
            self.result = self._in_python_thread()
            return True
        except CancelledError:
            self.cancelled = True
            return False
        except IptownError as exc:
            self.error = error_message(exc)
            return False
        except Exception as exc:  # never let a bug take QGIS down
            self.error = f"internal error ({type(exc).__name__}: {exc}); please report it"
            self.details = traceback.format_exc()
            return False
        finally:
            self.stopped_at = time.perf_counter()
            if self.isCanceled():
                self.cancelled = True

    def _in_python_thread(self) -> Any:
        """Run the work in a fresh Python thread and wait for it.

        QgsTask runs in a pooled Qt thread whose Python thread state is created and dropped
        around each call; libraries that keep per-thread native state (PROJ contexts in
        pyproj) crashed on the second run in a reused pool thread. A dedicated Python thread
        gives the work one consistent thread for its whole life.
        """
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = self.work(task_callback(self))
            except BaseException as exc:  # re-raised in the task's thread below
                box["error"] = exc

        worker = threading.Thread(target=target, name=f"iptown: {self.description()}", daemon=True)
        worker.start()
        worker.join()
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def finished(self, ok: bool) -> None:
        self.done = True
        if self.error:
            QgsMessageLog.logMessage(f"{self.description()}: {self.error}\n{self.details}".rstrip(),
                                     LOG_TAG, Qgis.Critical)
        elif self.cancelled:
            QgsMessageLog.logMessage(f"{self.description()}: cancelled", LOG_TAG, Qgis.Info)
        if self.on_done is not None:
            self.on_done(self)
