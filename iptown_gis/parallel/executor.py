"""The execution layer: the :class:`Executor` protocol, in-process and over ``dask.distributed``.

An executor runs independent tasks: :meth:`Executor.scatter` sends a shared input once,
:meth:`Executor.map_tasks` runs ``func(item, *args)`` for every item and returns the results in
the order of the items. Topic functions (``surfaces``, ``neg``, ``sites``, ``network``) take
``executor=None`` and cut their own work into such tasks (tiles, batches of draws, one
scenario or parameter point each); ``None`` means :class:`SerialExecutor`, which runs the same
task functions in a loop here, so the results are the same whichever executor runs them.

:func:`dask_executor` opens a :class:`DaskExecutor` on an existing cluster (``scheduler``
address) or on a :class:`~distributed.LocalCluster` it starts with ``workers`` worker
processes, each limited to the memory budget.

Dask is an optional dependency (``pip install iptown_gis[dask]``); it is imported only here,
when an executor is asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

from iptown_gis.errors import CancelledError, DependencyError, ParameterError
from iptown_gis.progress import Progress, ProgressCallback, as_progress

from .budget import MemoryBudget, format_bytes

__all__ = ["DaskExecutor", "Executor", "SerialExecutor", "as_executor", "dask_executor", "process_memory",
           "run_tasks"]

log = logging.getLogger(__name__)


def process_memory() -> dict[str, int]:
    """Resident memory of this process now and at its peak (bytes; Linux ``VmHWM``)."""
    rss = peak = 0
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) * 1024
    except OSError:
        import resource

        peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
        rss = peak
    return {"rss": rss, "peak": max(peak, rss), "pid": os.getpid()}


def reset_peak_memory() -> bool:
    """Reset this process's peak-RSS mark (Linux); ``False`` where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


@runtime_checkable
class Executor(Protocol):
    """What a topic function needs of an executor (:class:`SerialExecutor`, :class:`DaskExecutor`).

    Attributes ``budget`` (memory per worker), ``od_batch`` and ``tile_size`` (optional size
    overrides) and ``n_threads`` (task slots) size the tasks; ``scatter`` and ``map_tasks`` run
    them.
    """

    budget: MemoryBudget
    od_batch: int | None
    tile_size: int | None

    @property
    def n_threads(self) -> int:
        """Tasks that can run at once (sizes the batches)."""
        ...

    def scatter(self, obj: Any) -> Any:
        """Make ``obj`` available to every task once; returns what to pass to the tasks."""
        ...

    def map_tasks(self, func: Callable[..., Any], items: Sequence[Any], *args: Any,
                  progress: ProgressCallback | Progress | None = None, message: str = "tasks",
                  on_result: Callable[[int, Any], None] | None = None, **kwargs: Any) -> list[Any]:
        """``[func(item, *args, **kwargs) for item in items]``, in the order of ``items``.

        Parameters
        ----------
        func
            The task (a module-level function: a Dask executor pickles it by reference).
        items
            One task per item.
        *args, **kwargs
            Passed to every task (``args`` may hold what :meth:`scatter` returned).
        progress
            Callback or :class:`~iptown_gis.progress.Progress`: fraction of tasks done;
            cancelling raises :class:`~iptown_gis.errors.CancelledError`.
        message
            Progress message prefix.
        on_result
            Called as ``on_result(i, result)`` when task ``i`` is done; the result is then not kept.

        Returns
        -------
        list
            The results in the order of ``items`` (``None`` where ``on_result`` took them).
        """
        ...


class SerialExecutor:
    """Runs the tasks one after the other in this process (the default executor).

    Parameters
    ----------
    budget
        Memory budget sizing the tasks (default :class:`MemoryBudget`, 4 GiB).
    od_batch, tile_size
        Optional overrides of the derived OD batch size and surface tile edge.
    """

    def __init__(self, *, budget: MemoryBudget | None = None, od_batch: int | None = None,
                 tile_size: int | None = None) -> None:
        self.budget = budget if budget is not None else MemoryBudget()
        self.od_batch = od_batch
        self.tile_size = tile_size

    def __repr__(self) -> str:
        return f"SerialExecutor(budget={self.budget.describe()})"

    @property
    def n_threads(self) -> int:
        """One task at a time."""
        return 1

    def scatter(self, obj: Any) -> Any:
        """In-process: the object itself."""
        return obj

    def map_tasks(self, func: Callable[..., Any], items: Sequence[Any], *args: Any,
                  progress: ProgressCallback | Progress | None = None, message: str = "tasks",
                  on_result: Callable[[int, Any], None] | None = None, **kwargs: Any) -> list[Any]:
        """Run ``func(item, *args, **kwargs)`` for every item here, in order.

        ``progress`` is checked before each task, so cancelling raises
        :class:`CancelledError` between tasks.

        Parameters
        ----------
        func, items, args, kwargs, progress, message, on_result
            As in :meth:`Executor.map_tasks`.

        Returns
        -------
        list
        """
        prog = as_progress(progress)
        items = list(items)
        n = len(items)
        results: list[Any] = [None] * n
        for i, item in enumerate(items):
            prog.update(i / max(n, 1), f"{message}: {i}/{n}")
            res = func(item, *args, **kwargs)
            if on_result is not None:
                on_result(i, res)
            else:
                results[i] = res
        prog.update(1.0, f"{message}: {n}/{n}")
        return results


def as_executor(executor: Executor | None) -> Executor:
    """``executor``, or a :class:`SerialExecutor` when it is ``None``.

    Raises
    ------
    ParameterError
        ``executor`` has no ``scatter``/``map_tasks`` (not an executor).
    """
    if executor is None:
        return SerialExecutor()
    if not isinstance(executor, Executor):
        raise ParameterError(
            f"executor must be None (in-process) or an iptown_gis.parallel executor "
            f"(dask_executor(...)), got {type(executor).__name__}"
        )
    return executor


def run_tasks(func: Callable[..., Any], items: Sequence[Any], *, shared: Any = None,
              executor: Executor | None = None,
              progress: ProgressCallback | Progress | None = None, message: str = "tasks") -> list[Any]:
    """``[func(item, shared) for item in items]`` (``func(item)`` when ``shared`` is None).

    Parameters
    ----------
    func
        The task: a module-level function (Dask pickles it by reference).
    items
        One task per item.
    shared
        Input common to every task, sent to each worker once (``executor.scatter``).
    executor
        An :class:`Executor`; ``None`` runs the tasks here (:class:`SerialExecutor`).
    progress
        Callback or :class:`~iptown_gis.progress.Progress` (fraction of tasks done; cancels).
    message
        Progress message prefix.

    Returns
    -------
    list
        The results in the order of ``items``.
    """
    ex = as_executor(executor)
    extra: tuple[Any, ...] = () if shared is None else (ex.scatter(shared),)
    return ex.map_tasks(func, list(items), *extra, progress=progress, message=message)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DependencyError(
            "running on Dask needs dask.distributed: pip install 'iptown_gis[dask]' "
            "(or run without --scheduler/--workers)"
        ) from exc
    return distributed


class _Box:
    """Holds a scattered object so Dask pickles it whole (its own scipy.sparse serializer
    mangles some CSR matrices, and sequences would be split)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj


def _unbox(v: Any) -> Any:
    return v.obj if isinstance(v, _Box) else v


def _call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a task with boxed arguments unboxed (runs on the worker)."""
    return func(*(_unbox(a) for a in args), **{k: _unbox(v) for k, v in kwargs.items()})


class DaskExecutor:
    """Runs independent tasks on a Dask cluster.

    Use :func:`dask_executor` to open one. Attributes ``budget``, ``od_batch`` and
    ``tile_size`` carry the memory budget per worker and the optional size overrides.
    """

    def __init__(self, client: Any, *, budget: MemoryBudget, cluster: Any = None,
                 od_batch: int | None = None, tile_size: int | None = None) -> None:
        self.client = client
        self.cluster = cluster
        self.budget = budget
        self.od_batch = od_batch
        self.tile_size = tile_size

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address!r}, workers={self.n_workers}, budget={self.budget.describe()})"

    @property
    def address(self) -> str:
        return str(self.client.scheduler.address)

    @property
    def n_workers(self) -> int:
        """Number of workers connected now."""
        return len(self.client.scheduler_info().get("workers", {}))

    @property
    def n_threads(self) -> int:
        """Total worker threads (task slots)."""
        info = self.client.scheduler_info().get("workers", {})
        return int(sum(w.get("nthreads", 1) for w in info.values())) or 1

    def scatter(self, obj: Any) -> Any:
        """Send ``obj`` once to every worker; returns a future to pass to tasks."""
        return self.client.scatter([_Box(obj)], broadcast=True, hash=False)[0]

    def submit(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Submit one task (never cached: ``pure=False``).

        Parameters
        ----------
        func
            The task.
        *args, **kwargs
            Its arguments (futures of :meth:`scatter` are unboxed on the worker).

        Returns
        -------
        distributed.Future
        """
        return self.client.submit(_call, func, *args, pure=False, **kwargs)

    def as_completed(self, futures: Sequence[Any], *, with_results: bool = True) -> Iterator[Any]:
        """Iterate over ``futures`` as they finish (``(future, result)`` pairs with results)."""
        distributed = _import_distributed()
        yield from distributed.as_completed(list(futures), with_results=with_results, loop=self.client.loop)

    def map_tasks(self, func: Callable[..., Any], items: Sequence[Any], *args: Any,
                  progress: ProgressCallback | Progress | None = None, message: str = "tasks",
                  on_result: Callable[[int, Any], None] | None = None, **kwargs: Any) -> list[Any]:
        """Run ``func(item, *args, **kwargs)`` for every item; results in the order of ``items``.

        ``args`` may hold futures from :meth:`scatter`. ``on_result(i, result)`` is called on
        the client as each task finishes (e.g. to write a tile), after which the executor drops
        its reference to that result when ``on_result`` is given. Cancelling through
        ``progress`` cancels the pending tasks and raises :class:`CancelledError`.

        Parameters
        ----------
        func, items, args, kwargs, progress, message, on_result
            As in :meth:`Executor.map_tasks`.

        Returns
        -------
        list
        """
        prog = as_progress(progress)
        futures = [self.submit(func, item, *args, **kwargs) for item in items]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        done = 0
        try:
            for fut, res in self.as_completed(futures):
                i = index[fut.key]
                if on_result is not None:
                    on_result(i, res)
                else:
                    results[i] = res
                fut.release()
                done += 1
                prog.update(done / max(len(futures), 1), f"{message}: {done}/{len(futures)}")
        except (CancelledError, KeyboardInterrupt):
            self.client.cancel(futures)
            raise
        return results

    def worker_memory(self) -> dict[str, dict[str, int]]:
        """Current and peak resident memory of each worker process (bytes)."""
        return dict(self.client.run(process_memory))

    def reset_peak_memory(self) -> None:
        """Reset the peak-memory mark of every worker (Linux)."""
        self.client.run(reset_peak_memory)

    def worker_memory_limits(self) -> dict[str, int]:
        """The memory limit Dask enforces on each worker (0 = none)."""
        info = self.client.scheduler_info().get("workers", {})
        return {addr: int(w.get("memory_limit") or 0) for addr, w in info.items()}


@contextmanager
def dask_executor(
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    memory_budget: int | float | str | MemoryBudget | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    od_batch: int | None = None,
    tile_size: int | None = None,
) -> Iterator[DaskExecutor]:
    """Open a Dask executor: on ``scheduler`` (an address) or on a new local cluster.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``); workers are the cluster's own.
    workers
        Start a local cluster with this many worker processes (default: one per core) when
        no ``scheduler`` is given.
    memory_budget
        Memory per worker (``"4GB"``; default 4 GiB). A local cluster's workers get it as their
        Dask ``memory_limit``; batch and tile sizes derive from it.
    threads_per_worker, processes
        Local cluster layout (default: one single-threaded process per worker).
    od_batch, tile_size
        Overrides of the derived OD batch size and surface tile edge.

    Yields
    ------
    DaskExecutor

    Raises
    ------
    DependencyError
        If dask.distributed is not installed.
    ParameterError
        If both ``scheduler`` and ``workers`` are given, or the scheduler cannot be reached.
    """
    distributed = _import_distributed()
    budget = MemoryBudget.from_setting(memory_budget)
    if scheduler is not None and workers is not None:
        raise ParameterError("give either --scheduler (an existing cluster) or --workers (a local one), not both")
    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be at least 1, got {workers}")
    cluster = None
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="15s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ParameterError(
                f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}; check the address "
                "(tcp://host:8786) and that `dask scheduler` runs there"
            ) from None
    else:
        n = workers if workers is not None else max(os.cpu_count() or 1, 1)
        try:
            import psutil

            total = int(psutil.virtual_memory().total)
            if n * budget.bytes_per_worker > total:
                log.warning("%d workers x %s exceeds this machine's memory (%s)", n, budget.describe(),
                            format_bytes(total))
        except ImportError:  # pragma: no cover
            pass
        cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=threads_per_worker, processes=processes,
            memory_limit=budget.bytes_per_worker,
            # ":0": any free port (None means the default 8787, and a second study running at the
            # same time then failed with "Port 8787 is already in use")
            dashboard_address=":0", worker_dashboard_address=None,
        )
        client = distributed.Client(cluster, set_as_default=False)
    ex = DaskExecutor(client, budget=budget, cluster=cluster, od_batch=od_batch, tile_size=tile_size)
    log.info("Dask executor: %s", ex)
    try:
        yield ex
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
