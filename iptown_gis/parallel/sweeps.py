"""Independent replicates on an executor: :func:`monte_carlo` (and :func:`run_tasks`).

Each replicate is one task; shared inputs are sent to every worker once. With
``executor=None`` the same task function runs in a loop here, so the in-process and Dask
results are identical.

The topic sweeps that lived here moved to their topics, each taking ``executor=``: the NEG
parameter sweep and bifurcation to :mod:`iptown_gis.neg.sweeps`, the NEG scenario batch to
:func:`iptown_gis.neg.scenarios.run_scenarios`, the sites robustness draws to
:func:`iptown_gis.sites.scoring.robustness`, batches of scenario files to
:func:`iptown_gis.study.batch.scenario_batch`. The old names still work here, with a
:class:`DeprecationWarning`; they are resolved by name when first used, so
:mod:`iptown_gis.parallel` (the executor layer) imports no topic.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from iptown_gis.errors import ParameterError
from iptown_gis.progress import Progress, ProgressCallback

from .executor import Executor, run_tasks

__all__ = ["monte_carlo", "run_tasks"]

log = logging.getLogger(__name__)

#: Old name -> (module, name) that holds it now.
MOVED = {
    "neg_sweep": ("iptown_gis.neg.sweeps", "neg_sweep"),
    "neg_bifurcation": ("iptown_gis.neg.sweeps", "neg_bifurcation"),
    "neg_scenarios": ("iptown_gis.neg.scenarios", "run_scenarios"),
    "sites_robustness": ("iptown_gis.sites.scoring", "robustness"),
    "scenario_batch": ("iptown_gis.study.batch", "scenario_batch"),
}


def __getattr__(name: str) -> Any:
    """The moved names, with a deprecation warning naming their new place."""
    if name in MOVED:
        module, new = MOVED[name]
        warnings.warn(f"iptown_gis.parallel.sweeps.{name} moved to {module}.{new} (which takes executor=); "
                      "import it from there", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), new)
    raise AttributeError(f"module 'iptown_gis.parallel.sweeps' has no attribute {name!r}")


def monte_carlo(func: Callable[[np.random.Generator, Any], Any], n: int, *, shared: Any = None,
                seed: int = 0, executor: Executor | None = None,
                progress: ProgressCallback | Progress | None = None) -> list[Any]:
    """``n`` independent replicates ``func(rng_i, shared)``; ``rng_i`` from ``SeedSequence(seed).spawn(n)``.

    Each replicate's generator depends only on ``seed`` and its index, so results do not
    depend on where (or in which order) replicates run.

    Parameters
    ----------
    func
        The replicate: a module-level function ``func(rng, shared)``.
    n
        Number of replicates (>= 1).
    shared
        Input common to every replicate (sent to each worker once).
    seed
        Root seed of the replicates' generators.
    executor
        An :class:`iptown_gis.parallel.Executor`; ``None`` runs here.
    progress
        Callback or :class:`~iptown_gis.progress.Progress`.

    Returns
    -------
    list
        The replicates' results, in replicate order.

    Raises
    ------
    ParameterError
        ``n`` < 1.
    """
    if n < 1:
        raise ParameterError(f"n must be at least 1, got {n}")
    seqs = np.random.SeedSequence(seed).spawn(n)
    return run_tasks(_mc_task, [(func, s) for s in seqs], shared=shared, executor=executor,
                     progress=progress, message="Monte Carlo")


def _mc_task(item: tuple[Callable[[np.random.Generator, Any], Any], np.random.SeedSequence], shared: Any = None) -> Any:
    func, seq = item
    return func(np.random.default_rng(seq), shared)
