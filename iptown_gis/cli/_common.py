"""Shared pieces of the CLI: error handling, progress bar, common options."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from iptown_gis.errors import CancelledError, IptownError
from iptown_gis.progress import ProgressCallback

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("iptown_gis.cli")

#: Exit code for a user error (bad input, bad parameters).
EXIT_USER_ERROR = 2


class IptownGroup(click.Group):
    """A click group that turns :class:`IptownError` into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IptownError as exc:
            root = ctx.find_root()
            if root.params.get("debug"):
                raise
            kind = "cancelled" if isinstance(exc, CancelledError) else "error"
            click.echo(f"iptown: {kind}: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("iptown: interrupted", err=True)
            ctx.exit(130)


@contextmanager
def progress_bar(description: str = "working") -> Iterator[ProgressCallback]:
    """A rich progress bar as a :data:`ProgressCallback` (silent when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        last = [-1]

        def quiet(fraction: float, message: str) -> bool:
            pct = int(fraction * 10)
            if pct != last[0] and message:
                last[0] = pct
                log.info("%3d%% %s", int(fraction * 100), message)
            return True

        yield quiet
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), TextColumn("{task.fields[msg]}"), transient=True,
    ) as bar:
        task = bar.add_task(description, total=1.0, msg="")

        def update(fraction: float, message: str) -> bool:
            bar.update(task, completed=fraction, msg=message[:60] if message else "")
            return True

        yield update


def echo_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout."""
    click.echo(json.dumps(obj, indent=None, ensure_ascii=False, default=float))


def executor_options(func: F) -> F:
    """Add ``--scheduler`` / ``--workers`` (Dask) to a heavy command."""
    func = click.option("--workers", type=click.IntRange(min=1), default=None,
                        help="Run heavy work on a local Dask cluster with N workers.")(func)
    func = click.option("--scheduler", metavar="ADDRESS", default=None,
                        help="Run heavy work on an existing Dask cluster (tcp://host:8786).")(func)
    return func


@contextmanager
def make_executor(scheduler: str | None, workers: int | None, memory_budget: str | None = None, *,
                  parallel: Any = None) -> Iterator[Any]:
    """The executor for ``--scheduler`` / ``--workers`` (``None`` = in-process).

    ``parallel`` is a scenario's ``[parallel]`` section (or None): its ``scheduler`` /
    ``workers`` apply when neither option is given; its ``memory_budget`` (unless
    ``memory_budget`` is given), ``threads_per_worker``, ``od_batch`` and ``tile_size`` always.
    """
    opts: dict[str, Any] = {}
    if parallel is not None:
        if scheduler is None and workers is None:
            scheduler, workers = parallel.scheduler, parallel.workers
        memory_budget = memory_budget or parallel.memory_budget
        opts = {"threads_per_worker": parallel.threads_per_worker, "od_batch": parallel.od_batch,
                "tile_size": parallel.tile_size}
    if scheduler is None and workers is None:
        yield None
        return
    from iptown_gis.parallel import dask_executor

    with dask_executor(scheduler=scheduler, workers=workers, memory_budget=memory_budget, **opts) as ex:
        yield ex


