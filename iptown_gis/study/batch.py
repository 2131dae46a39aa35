"""Several scenario files run as one batch, one task each, on any executor."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iptown_gis.errors import ParameterError
from iptown_gis.parallel.executor import Executor, run_tasks
from iptown_gis.pipeline import run_scenario
from iptown_gis.progress import Progress, ProgressCallback

__all__ = ["scenario_batch"]


def _scenario_task(item: tuple[str, str, list[str] | None]) -> dict[str, Any]:
    path, out, stages = item
    return run_scenario(path, out, stages=stages)


def scenario_batch(
    scenarios: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    stages: Sequence[str] | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | Progress | None = None,
) -> list[dict[str, Any]]:
    """Run several scenario files, each into ``out_dir/<scenario stem>/``, one task each.

    Parameters
    ----------
    scenarios
        Scenario files (TOML). On a remote cluster the paths must be visible to the workers
        (a shared file system).
    out_dir
        Parent folder of the outputs.
    stages
        Stages to run (default: all of each scenario).
    executor
        An :class:`iptown_gis.parallel.Executor` (e.g. Dask); ``None`` runs them one after the other here.
    progress
        Callback or :class:`~iptown_gis.progress.Progress` (fraction of scenarios done).

    Returns
    -------
    list of dict
        The manifests, in the order of ``scenarios``.

    Raises
    ------
    ParameterError
        Two scenario files with the same stem (their outputs would collide).
    """
    paths = [Path(p).resolve() for p in scenarios]
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ParameterError(f"scenario file names must be unique (outputs go to out_dir/<name>): {stems}")
    base = Path(out_dir).resolve()
    items = [(str(p), str(base / p.stem), None if stages is None else list(stages)) for p in paths]
    return run_tasks(_scenario_task, items, executor=executor, progress=progress, message="scenarios")
