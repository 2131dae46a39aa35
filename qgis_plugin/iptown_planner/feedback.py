"""The one adapter between the library's progress callback and QGIS feedback, and the error
translation used by every algorithm.

The library reports progress with ``callback(fraction, message) -> bool | None`` (return
``False`` to cancel; see :mod:`iptown_gis.progress`). :func:`progress_callback` maps it to
``feedback.setProgress`` / ``feedback.setProgressText`` / ``feedback.isCanceled`` for a
:class:`QgsProcessingFeedback` (or a :class:`QgsProcessingMultiStepFeedback` step), and
:func:`task_callback` does the same for a :class:`QgsTask`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsTask

ProgressCallback = Callable[[float, str], "bool | None"]


def progress_callback(feedback: QgsProcessingFeedback | None) -> ProgressCallback:
    """A library progress callback that drives ``feedback`` (0..1 -> 0..100 %).

    Progress shown never goes backwards (the library's ``check()`` re-reports the start of a
    sub-range); the message becomes the progress text when it changes; ``False`` is returned
    once the user pressed Cancel, which makes the library raise ``CancelledError``.
    """
    state = {"pct": 0.0, "msg": ""}

    def cb(fraction: float, message: str = "") -> bool:
        if feedback is None:
            return True
        pct = max(state["pct"], min(max(float(fraction), 0.0), 1.0) * 100.0)
        if pct != state["pct"]:
            state["pct"] = pct
            feedback.setProgress(pct)
        if message and message != state["msg"]:
            state["msg"] = message
            feedback.setProgressText(message)
        return not feedback.isCanceled()

    return cb


def task_callback(task: QgsTask) -> ProgressCallback:
    """A library progress callback that drives a :class:`QgsTask` (progress, cancel)."""

    def cb(fraction: float, message: str = "") -> bool:
        pct = min(max(float(fraction), 0.0), 1.0) * 100.0
        if pct > task.progress():
            task.setProgress(pct)
        if message:
            task.last_message = message  # read by the dock panel's status line
        return not task.isCanceled()

    return cb


def error_message(exc: BaseException) -> str:
    """The text shown to the user for a library error (the library's message as is)."""
    text = str(exc).strip() or type(exc).__name__
    return text


@contextmanager
def library_errors(feedback: QgsProcessingFeedback | None = None) -> Iterator[None]:
    """Turn every exception from the library into a :class:`QgsProcessingException`.

    ``IptownError`` messages (which say what to fix) are passed through unchanged; a
    cancellation says so; anything else is an internal error whose traceback goes to the log.
    """
    try:
        yield
    except QgsProcessingException:
        raise
    except Exception as exc:
        try:
            from iptown_gis.errors import CancelledError, IptownError
        except ImportError:  # the dependency guard already reported this
            CancelledError = IptownError = ()  # type: ignore[assignment]
        if CancelledError and isinstance(exc, CancelledError):
            raise QgsProcessingException("Cancelled by the user.") from exc
        if IptownError and isinstance(exc, IptownError):
            raise QgsProcessingException(error_message(exc)) from exc
        if feedback is not None:
            feedback.pushDebugInfo(traceback.format_exc())
        raise QgsProcessingException(
            f"Internal error in iptown_gis ({type(exc).__name__}: {exc}); please report it with the "
            "log at the plugin's tracker."
        ) from exc
