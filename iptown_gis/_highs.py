"""Creating HiGHS solvers that never write to standard output.

HiGHS prints a banner on fd 1 when the first ``Highs()`` of a process is made, and its log
(when ``output_flag`` is on) goes to the console. :func:`new_highs` makes the first instance
with fd 1 pointed away (the banner is logged at DEBUG), switches ``output_flag`` off, and,
when the ``iptown_gis.highs`` logger is enabled for DEBUG (``iptown -vv``) or ``log_output``
is asked for, routes HiGHS's log lines through :mod:`logging` instead of the console.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from typing import Any

from iptown_gis.errors import DependencyError

__all__ = ["import_highspy", "new_highs"]

log = logging.getLogger("iptown_gis.highs")

_lock = threading.Lock()
_banner_done = False


def import_highspy() -> Any:
    """The ``highspy`` module (:class:`DependencyError` when it is not installed)."""
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - highspy is a core dependency
        raise DependencyError("the optimisation models need HiGHS: pip install highspy") from exc
    return highspy


def _first_instance(highspy: Any) -> Any:
    """Make a ``Highs()`` with fd 1 sent to a temporary file; log what it printed."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no or a closed sys.stdout
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (embedded use): nothing to protect
        return highspy.Highs()
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        sink.seek(0)
        banner = sink.read().decode("utf-8", "replace").strip()
    if banner:
        log.debug("%s", banner)
    return h


def _forward(event: Any) -> None:
    text = str(getattr(event, "message", "")).rstrip()
    if text:
        log.debug("HiGHS: %s", text)


def new_highs(*, log_output: bool | None = None) -> Any:
    """A ``highspy.Highs`` with ``output_flag`` off and nothing written to standard output.

    Parameters
    ----------
    log_output
        Route HiGHS's log through the ``iptown_gis.highs`` logger (at DEBUG). ``None``:
        when that logger is enabled for DEBUG.
    """
    global _banner_done
    highspy = import_highspy()
    with _lock:
        if not _banner_done:
            h = _first_instance(highspy)
            _banner_done = True
        else:
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if log_output is None:
        log_output = log.isEnabledFor(logging.DEBUG)
    if log_output:
        try:
            h.setOptionValue("log_to_console", False)
            h.setOptionValue("output_flag", True)
            h.cbLogging += _forward
        except Exception:  # pragma: no cover - an older highspy without logging callbacks
            h.setOptionValue("output_flag", False)
    return h
