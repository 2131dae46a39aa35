"""Typed errors raised by iptown_gis.

Every failure caused by user input is an :class:`IptownError`. Each subclass also derives
from the closest builtin exception, so callers may catch either (``except ValueError``
still works). Messages always say what to fix.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "CancelledError",
    "ColumnError",
    "ConvergenceError",
    "DataNotFoundError",
    "DependencyError",
    "GeometryError",
    "InfeasibleError",
    "Interrupted",
    "IptownError",
    "NetworkError",
    "OutputError",
    "ParameterError",
    "ScenarioError",
    "SolverError",
]


class IptownError(Exception):
    """Base class of every error iptown_gis raises for a user-fixable problem."""


class DataNotFoundError(IptownError, FileNotFoundError):
    """An input file or layer does not exist."""


class CRSError(IptownError, ValueError):
    """A layer has no CRS, or layers disagree on their CRS."""


class GeometryError(IptownError, ValueError):
    """A layer is empty, or has invalid, missing or wrong-type geometries."""


class ColumnError(IptownError, ValueError):
    """A named column is missing or holds unusable values (NaN, negative, duplicates)."""


class ScenarioError(IptownError, ValueError):
    """A scenario file is malformed; the message names the offending key."""


class ParameterError(IptownError, ValueError):
    """A parameter value is out of its valid range."""


class NetworkError(IptownError, ValueError):
    """A network is empty, disconnected, or points cannot be reached from it."""


class ConvergenceError(IptownError, RuntimeError):
    """An iterative solver did not converge within its iteration cap."""


class InfeasibleError(IptownError, RuntimeError):
    """An optimisation problem has no feasible solution; the message names the constraint."""


class SolverError(IptownError, RuntimeError):
    """An optimisation solver failed or stopped without a usable solution."""


class OutputError(IptownError, OSError):
    """An output cannot be written (folder missing or not writable, target exists, ...)."""


class CancelledError(IptownError):
    """The user cancelled a running computation through the progress callback."""


class DependencyError(IptownError, ImportError):
    """An optional dependency is missing; the message says what to install."""


class Interrupted(KeyboardInterrupt):
    """The process received SIGINT (Ctrl-C) or SIGTERM while working.

    A :class:`KeyboardInterrupt`, not an :class:`IptownError`: nothing was wrong with the
    input. ``exit_code`` is the shell's convention, 128 + the signal number (130 for SIGINT,
    143 for SIGTERM). Raised by :func:`iptown_gis.progress.interrupt_on_signals`.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = int(signum)
        try:
            name = signal.Signals(self.signum).name
        except ValueError:  # pragma: no cover - not a known signal
            name = f"signal {self.signum}"
        super().__init__(f"interrupted by {name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
