"""The ``[parallel]`` scenario section: where and how heavy stages run.

Example::

    [parallel]
    workers = 2              # local Dask cluster with 2 workers (or scheduler = "tcp://host:8786")
    memory_budget = "4GB"    # per worker; batch and tile sizes follow from it
    # od_batch = 256         # sources per OD batch (default: from the budget)
    # tile_size = 512        # surface tile edge in cells (default: from the budget)

``iptown run --scheduler/--workers`` override ``scheduler`` / ``workers``; with neither given
anywhere, everything runs in-process without Dask.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from iptown_gis.errors import ParameterError
from iptown_gis.scenario import Section

from .budget import MemoryBudget, parse_bytes

__all__ = ["ParallelConfig"]


class ParallelConfig(Section):
    """Settings of the ``[parallel]`` section."""

    scheduler: str | None = Field(default=None, description="address of an existing Dask scheduler")
    workers: int | None = Field(default=None, ge=1, le=1024, description="local cluster workers")
    threads_per_worker: int = Field(default=1, ge=1, le=256)
    memory_budget: str = Field(default="4GB", description="memory per worker, e.g. '4GB'")
    od_batch: int | None = Field(default=None, ge=1, description="sources per OD batch")
    tile_size: int | None = Field(default=None, ge=16, le=16384, description="surface tile edge (cells)")

    @field_validator("memory_budget", mode="before")
    @classmethod
    def _check_budget(cls, v: object) -> str:
        try:
            parse_bytes(v)  # type: ignore[arg-type]
        except ParameterError as exc:
            raise ValueError(str(exc)) from None
        return str(v)

    @field_validator("scheduler")
    @classmethod
    def _check_scheduler(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("scheduler must be an address like 'tcp://host:8786' (or leave it out)")
        return v

    def budget(self) -> MemoryBudget:
        """The memory budget as a :class:`MemoryBudget`."""
        return MemoryBudget.from_setting(self.memory_budget)
