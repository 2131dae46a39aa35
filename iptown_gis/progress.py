"""One progress/cancellation callback type shared by the library, CLI and QGIS plugin.

A :data:`ProgressCallback` is any callable ``callback(fraction, message)`` where
``fraction`` is in ``[0, 1]``. It returns ``False`` to ask for cancellation; any other return
value (including ``None``) means "go on". The CLI renders it as a progress bar, the QGIS
plugin maps it to ``feedback.setProgress`` / ``feedback.isCanceled()``.

Library functions accept ``progress: ProgressCallback | None = None`` and wrap it with
:func:`as_progress`, which gives a :class:`Progress` that raises
:class:`~iptown_gis.errors.CancelledError` at the next check after cancellation.

The signal policy lives here too: inside :func:`interrupt_on_signals` (the CLI wraps every
command in it), SIGINT and SIGTERM raise :class:`~iptown_gis.errors.Interrupted` at once, and
the signal stays recorded, so that if the exception is swallowed on its way up (Python
prints ``Exception ignored ... KeyboardInterrupt`` when it is raised inside a finaliser, a
callback of compiled code or a Numba compile) every later :meth:`Progress.update` /
:meth:`Progress.check` and :func:`raise_if_interrupted` raises it again: a run never goes on
to finish as if nothing happened.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator

from iptown_gis.errors import CancelledError, Interrupted

__all__ = ["Progress", "ProgressCallback", "as_progress", "deferred_signals", "interrupt_on_signals",
           "raise_if_interrupted"]

#: Signals received inside :func:`interrupt_on_signals` (cleared when it is left).
_pending: list[int] = []
#: Depth of :func:`deferred_signals`: while > 0 a signal is recorded but raises nothing.
_defer = [0]


def _on_signal(signum: int, frame: object) -> None:
    if signum not in _pending:
        _pending.append(signum)
    if not _defer[0]:
        raise Interrupted(signum)


def raise_if_interrupted() -> None:
    """Raise :class:`Interrupted` if SIGINT/SIGTERM arrived (outside :func:`deferred_signals`)."""
    if _pending and not _defer[0]:
        raise Interrupted(_pending[0])


@contextlib.contextmanager
def interrupt_on_signals(signums: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """SIGINT/SIGTERM raise :class:`Interrupted` (and stay pending, see the module docstring).

    Only in the main thread (elsewhere Python cannot set handlers: nothing is changed). The
    previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {}
    for s in signums:
        with contextlib.suppress(OSError, ValueError):
            old[s] = signal.signal(s, _on_signal)
    _pending.clear()
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _pending.clear()


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """While cleaning up after an error, record SIGINT/SIGTERM without raising."""
    _defer[0] += 1
    try:
        yield
    finally:
        _defer[0] -= 1

ProgressCallback = Callable[[float, str], "bool | None"]

log = logging.getLogger(__name__)


class Progress:
    """A progress reporter over a sub-range ``[start, end]`` of the overall work.

    Parameters
    ----------
    callback
        The user's callback, or ``None`` to report nothing (cancellation is then impossible).
    start, end
        The fraction of the overall work this reporter covers.
    """

    __slots__ = ("_callback", "_end", "_start")

    def __init__(
        self, callback: ProgressCallback | None = None, *, start: float = 0.0, end: float = 1.0
    ) -> None:
        self._callback = callback
        self._start = float(start)
        self._end = float(end)

    def update(self, fraction: float, message: str = "") -> None:
        """Report ``fraction`` (0..1) of this reporter's range done.

        Raises
        ------
        CancelledError
            If the callback returned ``False``.
        Interrupted
            If SIGINT/SIGTERM arrived inside :func:`interrupt_on_signals`.
        """
        if _pending:
            raise_if_interrupted()
        if self._callback is None:
            return
        f = min(max(float(fraction), 0.0), 1.0)
        overall = self._start + (self._end - self._start) * f
        if self._callback(overall, message) is False:
            raise CancelledError("cancelled by the user")

    def check(self) -> None:
        """Raise :class:`CancelledError` if cancellation was requested (no progress change)."""
        if _pending:
            raise_if_interrupted()
        if self._callback is None:
            return
        if self._callback(self._start, "") is False:
            raise CancelledError("cancelled by the user")

    def sub(self, start: float, end: float) -> Progress:
        """A reporter for the part ``[start, end]`` (fractions of this reporter's range)."""
        span = self._end - self._start
        return Progress(
            self._callback, start=self._start + span * start, end=self._start + span * end
        )

    def steps(self, n: int) -> list[Progress]:
        """Split this reporter into ``n`` equal consecutive sub-reporters."""
        n = max(int(n), 1)
        return [self.sub(i / n, (i + 1) / n) for i in range(n)]


def as_progress(progress: ProgressCallback | Progress | None) -> Progress:
    """Wrap a callback (or ``None``, or an existing :class:`Progress`) as a :class:`Progress`."""
    if isinstance(progress, Progress):
        return progress
    return Progress(progress)
