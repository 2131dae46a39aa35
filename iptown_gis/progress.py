"""One progress/cancellation callback type shared by the library, CLI and QGIS plugin.

A :data:`ProgressCallback` is any callable ``callback(fraction, message)`` where
``fraction`` is in ``[0, 1]``. It returns ``False`` to ask for cancellation; any other return
value (including ``None``) means "go on". The CLI renders it as a progress bar, the QGIS
plugin maps it to ``feedback.setProgress`` / ``feedback.isCanceled()``.

Library functions accept ``progress: ProgressCallback | None = None`` and wrap it with
:func:`as_progress`, which gives a :class:`Progress` that raises
:class:`~iptown_gis.errors.CancelledError` at the next check after cancellation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from iptown_gis.errors import CancelledError

__all__ = ["Progress", "ProgressCallback", "as_progress"]

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
        """
        if self._callback is None:
            return
        f = min(max(float(fraction), 0.0), 1.0)
        overall = self._start + (self._end - self._start) * f
        if self._callback(overall, message) is False:
            raise CancelledError("cancelled by the user")

    def check(self) -> None:
        """Raise :class:`CancelledError` if cancellation was requested (no progress change)."""
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
