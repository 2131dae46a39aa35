"""Memory budget per worker, and the tile and batch sizes derived from it.

A budget is the most memory one worker (one process) may use for a task's arrays. Batch sizes
for OD computations (rows of sources) and tile sizes for surfaces are chosen so that the
arrays one task holds at once take at most a fraction of the budget (:data:`WORKING_FRACTION`),
leaving room for the graph, the interpreter and Dask's own book-keeping.

Sizes use binary units: ``"4GB"`` = ``"4GiB"`` = 4 x 1024**3 bytes.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from iptown_gis.errors import ParameterError

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "WORKING_FRACTION",
    "MemoryBudget",
    "check_memory_budget",
    "check_workers",
    "format_bytes",
    "max_local_workers",
    "parse_bytes",
    "physical_memory",
]

#: Most local workers per CPU core (more only thrash the machine).
WORKERS_PER_CPU = 4

#: Default memory budget per worker: 4 GiB.
DEFAULT_MEMORY_BUDGET = 4 * 1024**3

#: Share of the budget one task's arrays may take (the rest: graph copy, interpreter, Dask).
WORKING_FRACTION = 0.25

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
          "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "t": 1024**4, "tb": 1024**4,
          "tib": 1024**4}
_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(value: int | float | str) -> int:
    """Parse a memory size: ``"4GB"``, ``"512 MiB"``, ``"1.5g"`` or a number of bytes.

    Raises
    ------
    ParameterError
        If the text is not a size, or the size is not positive.
    """
    if isinstance(value, bool):
        raise ParameterError(f"memory size must be a number or text like '4GB', got {value!r}")
    if isinstance(value, int | float):
        n = float(value)
    else:
        m = _RE.match(str(value))
        unit = m.group(2).lower() if m else ""
        if m is None or unit not in _UNITS:
            raise ParameterError(
                f"cannot read memory size {value!r}: write a number with a unit, e.g. '4GB', '512MB'"
            )
        n = float(m.group(1)) * _UNITS[unit]
    if not math.isfinite(n) or n <= 0:
        raise ParameterError(f"memory size must be positive, got {value!r}")
    return int(n)


def physical_memory() -> int | None:
    """The machine's physical memory in bytes (psutil if installed, else ``sysconf``; None if unknown)."""
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        pass
    try:
        n = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return None
    return n if n > 0 else None


def check_memory_budget(value: int | float | str, *, what: str = "memory budget") -> int:
    """Parse a memory budget and refuse one above the machine's physical memory.

    ``what`` names the setting in messages (``"--memory-budget"``, ``"[parallel] memory_budget"``).

    Raises
    ------
    ParameterError
        If the text is not a size, or the size exceeds physical memory.
    """
    try:
        n = parse_bytes(value)
    except ParameterError as exc:
        raise ParameterError(f"{what} {value!r}: {exc}") from None
    total = physical_memory()
    if total is not None and n > total:
        raise ParameterError(
            f"{what} {value!r} ({format_bytes(n)}) is more than this machine's physical memory "
            f"({format_bytes(total)}): give at most {format_bytes(total)}, e.g. '4GB'"
        )
    return n


def max_local_workers() -> int:
    """Most workers a local cluster may start: :data:`WORKERS_PER_CPU` x the CPU count."""
    return WORKERS_PER_CPU * max(os.cpu_count() or 1, 1)


def check_workers(n: int, *, what: str = "workers") -> int:
    """Refuse more local workers than :func:`max_local_workers` (``what`` names the setting)."""
    limit = max_local_workers()
    if n > limit:
        raise ParameterError(
            f"{what} {n}: at most {limit} local workers ({WORKERS_PER_CPU} x {os.cpu_count() or 1} CPUs) "
            "on this machine; give fewer, or --scheduler ADDRESS for a larger cluster"
        )
    return n


def format_bytes(n: float) -> str:
    """``4294967296`` -> ``'4.0 GiB'``."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


@dataclass(frozen=True)
class MemoryBudget:
    """Memory budget of one worker and the sizes derived from it.

    Parameters
    ----------
    bytes_per_worker
        Budget of one worker process, in bytes (see :func:`parse_bytes`).
    working_fraction
        Share of the budget one task's arrays may take.
    """

    bytes_per_worker: int = DEFAULT_MEMORY_BUDGET
    working_fraction: float = WORKING_FRACTION

    @classmethod
    def from_setting(cls, value: int | float | str | MemoryBudget | None) -> MemoryBudget:
        """A budget from a setting (``None`` = the default 4 GiB)."""
        if isinstance(value, MemoryBudget):
            return value
        if value is None:
            return cls()
        return cls(parse_bytes(value))

    @property
    def working_bytes(self) -> int:
        """Bytes one task's arrays may take."""
        return int(self.bytes_per_worker * self.working_fraction)

    def od_batch_size(self, n_columns: int, *, bytes_per_value: int = 8, copies: int = 3,
                      maximum: int = 4096) -> int:
        """Sources per OD batch so that ``batch x n_columns`` result rows fit the budget.

        Parameters
        ----------
        n_columns
            Costs per source row (targets, or all nodes).
        bytes_per_value
            Size of one cost.
        copies
            Arrays of that size alive at once (search output, expansion to all nodes, the
            gathered result slice).
        maximum
            Upper limit of the batch.

        Returns
        -------
        int

        Raises
        ------
        ParameterError
            ``n_columns`` < 1, or not even one row fits the budget.
        """
        if n_columns <= 0:
            raise ParameterError(f"n_columns must be positive, got {n_columns}")
        per_row = max(n_columns, 1) * bytes_per_value * max(copies, 1)
        rows = self.working_bytes // per_row
        if rows < 1:
            raise ParameterError(
                f"memory budget {format_bytes(self.bytes_per_worker)} per worker is too small for one row "
                f"of {n_columns:,} costs ({format_bytes(per_row)}): raise memory_budget"
            )
        return int(min(rows, maximum))

    def tile_size(self, n_masses: int, *, bytes_per_value: int = 8, copies: int = 4,
                  mass_block: int = 256, minimum: int = 64, maximum: int = 2048) -> int:
        """Edge (cells) of a square surface tile for a computation over ``n_masses`` points.

        A tile evaluates ``cells x min(n_masses, mass_block)`` distances at once with ``copies``
        temporaries; the edge is rounded down to a multiple of 64 (GeoTIFF blocks are 256 or
        a divisor of the tile edge).

        Parameters
        ----------
        n_masses
            Points each cell sums over.
        bytes_per_value
            Size of one distance.
        copies
            Temporaries of the ``cells x points`` block alive at once.
        mass_block
            Points evaluated at once.
        minimum, maximum
            Bounds of the edge (cells).

        Returns
        -------
        int
        """
        k = max(1, min(int(n_masses), mass_block))
        cells = self.working_bytes // (k * bytes_per_value * max(copies, 1))
        edge = math.isqrt(max(int(cells), 1))
        edge = max(minimum, min(maximum, (edge // 64) * 64))
        return edge

    def describe(self) -> str:
        return f"{format_bytes(self.bytes_per_worker)} per worker"
