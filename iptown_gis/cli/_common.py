"""Shared pieces of the CLI: error handling, progress bar, common options."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from iptown_gis.errors import CancelledError, Interrupted, IptownError
from iptown_gis.progress import ProgressCallback, interrupt_on_signals

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("iptown_gis.cli")

#: Exit code for a user error (bad input, bad parameters).
EXIT_USER_ERROR = 2


class IptownGroup(click.Group):
    """A click group that turns :class:`IptownError` into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is None:
            argv = [*getattr(ctx, "_protected_args", []), *ctx.args]
            ctx.meta["iptown_argv"] = argv
            fresh = new_outputs(argv)
            with command_stdout(), interrupt_on_signals():
                try:
                    return self._invoke(ctx)
                except (Exception, click.exceptions.Exit) as exc:
                    if not isinstance(exc, click.exceptions.Exit) or exc.exit_code == EXIT_USER_ERROR:
                        remove_outputs(fresh)
                    raise
        return self._invoke(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IptownError as exc:
            root = ctx.find_root()
            if root.params.get("debug"):
                raise
            kind = "cancelled" if isinstance(exc, CancelledError) else "error"
            click.echo(f"iptown: {kind}: {cli_message(str(exc), root)}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt as exc:
            # SIGINT (Ctrl-C) -> 130, SIGTERM -> 143 (128 + signal), the shell's convention
            code = exc.exit_code if isinstance(exc, Interrupted) else 130
            click.echo(f"iptown: {exc if isinstance(exc, Interrupted) else 'interrupted'}", err=True)
            ctx.exit(code)


#: Options naming a command's output (``--out``), whose new files a failure removes.
OUTPUT_FLAGS = ("--out", "--csv")


def new_outputs(args: list[str]) -> list[Path]:
    """The outputs named on the command line (``--out X``, ``--out=X``) that do not exist yet.

    For each, the topmost folder that does not exist either (what the command may create).
    """
    found: list[Path] = []
    for i, a in enumerate(args):
        value = None
        for flag in OUTPUT_FLAGS:
            if a == flag and i + 1 < len(args):
                value = args[i + 1]
            elif a.startswith(flag + "="):
                value = a[len(flag) + 1:]
        if not value:
            continue
        p = Path(value).absolute()
        if p.exists():
            continue
        while not p.parent.exists() and p.parent != p:
            p = p.parent
        found.append(p)
    return found


def remove_outputs(paths: list[Path]) -> None:
    """Remove what a failed command created at its outputs: nothing is left at ``--out``."""
    import shutil

    for p in paths:
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        except OSError as exc:  # pragma: no cover - permissions changed meanwhile
            log.warning("could not remove %s after the error: %s", p, exc)


@contextmanager
def command_stdout() -> Iterator[None]:
    """While a command runs, only its own output (``click.echo``, ``sys.stdout``) reaches stdout.

    Native libraries (HiGHS, GDAL, ...) and child processes write to file descriptor 1, not
    to ``sys.stdout``: fd 1 is pointed at standard error, and ``sys.stdout`` is replaced by a
    stream on a private copy of the real standard output (the technique of
    :func:`iptown_gis.engine.protocol._protocol_stdout`). So ``--json`` output stays valid
    JSON whatever a library prints. Nothing is done when ``sys.stdout`` is not fd 1 (tests
    capturing output, embedded use).
    """
    old = sys.stdout
    try:
        is_fd1 = old is not None and old.fileno() == 1
    except (AttributeError, OSError, ValueError):
        is_fd1 = False
    if not is_fd1:
        yield
        return
    old.flush()
    try:
        saved = os.dup(1)
    except OSError:  # pragma: no cover - fd 1 is gone
        yield
        return
    stream = os.fdopen(saved, "w", encoding=getattr(old, "encoding", None) or "utf-8",
                       errors=getattr(old, "errors", None) or "strict", buffering=1)
    os.dup2(2, 1)
    sys.stdout = stream
    try:
        yield
    finally:
        try:
            stream.flush()
        finally:
            sys.stdout = old
            os.dup2(saved, 1)
            stream.close()


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


def _workers_callback(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    from iptown_gis.parallel.budget import check_workers

    return None if value is None else check_workers(value, what="--workers")


def _memory_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from click.core import ParameterSource

    from iptown_gis.parallel.budget import check_memory_budget

    if value is not None and ctx.get_parameter_source(param.name or "") is not ParameterSource.DEFAULT:
        check_memory_budget(value, what="--memory-budget")
    return value


def output_path(kind: str | None = None, *, folder: bool = False) -> Callable[[click.Context, click.Parameter,
                                                                           Any], Any]:
    """A click callback checking an output option as it is parsed, before any computation.

    ``kind`` is a key of :data:`iptown_gis.io.atomic.FORMATS` (the allowed suffixes);
    ``folder`` for an output folder. Uses :func:`iptown_gis.io.atomic.check_output_path`, so a
    wrong suffix, a folder given as a file (or the reverse) or an unwritable place is an
    :class:`OutputError` naming the flag (exit 2) and nothing is computed or created.
    """

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from iptown_gis.io.atomic import check_output_path

        if value is None:
            return value
        flag = param.opts[0] if getattr(param, "opts", None) else (param.name or "output")
        check_output_path(value, kind=kind, folder=folder, what=flag)
        return value

    return callback


def memory_budget_option(*, default: str | None = None, help: str) -> Callable[[F], F]:
    """``--memory-budget SIZE``: parsed and checked against physical memory when given."""
    return click.option("--memory-budget", default=default, show_default=default is not None, metavar="SIZE",
                        callback=_memory_callback, help=help)


def executor_options(func: F) -> F:
    """Add ``--scheduler`` / ``--workers`` (Dask) to a heavy command."""
    func = click.option("--workers", type=click.IntRange(min=1), default=None, callback=_workers_callback,
                        help="Run heavy work on a local Dask cluster with N workers "
                             "(at most 4 x the CPU count).")(func)
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

    A local cluster may have at most 4 x the CPU count workers, and a memory budget may not
    exceed the machine's physical memory (:class:`ParameterError` naming the key; the
    ``--workers`` / ``--memory-budget`` flags are checked as they are parsed).
    """
    from iptown_gis.parallel.budget import check_memory_budget, check_workers

    opts: dict[str, Any] = {}
    if parallel is not None:
        if scheduler is None and workers is None:
            scheduler, workers = parallel.scheduler, parallel.workers
            if scheduler is None and workers is not None:
                check_workers(workers, what="[parallel] workers =")
        if not memory_budget:
            memory_budget = parallel.memory_budget
            # a remote cluster's memory is its own; the default (4GB) is never refused
            if scheduler is None and "memory_budget" in parallel.model_fields_set:
                check_memory_budget(memory_budget, what="[parallel] memory_budget =")
        opts = {"threads_per_worker": parallel.threads_per_worker, "od_batch": parallel.od_batch,
                "tile_size": parallel.tile_size}
    if scheduler is None and workers is None:
        yield None
        return
    from iptown_gis.parallel import dask_executor

    with dask_executor(scheduler=scheduler, workers=workers, memory_budget=memory_budget, **opts) as ex:
        yield ex

_PY_FLAG = re.compile(r"(?<![\w.-])([a-z][a-z0-9_]*)=(True|False)\b")


def _invoked_options(root: click.Context) -> dict[str, click.Option]:
    """Options of the command(s) under the invoked subcommand, by Python name."""
    found: dict[str, click.Option] = {}
    name = root.invoked_subcommand
    cmd = root.command.commands.get(name) if name and isinstance(root.command, click.Group) else None
    stack = [cmd] if cmd is not None else []
    while stack:
        c = stack.pop()
        for p in c.params:
            if isinstance(p, click.Option) and p.name and p.is_bool_flag:
                found.setdefault(p.name, p)
        if isinstance(c, click.Group):
            stack.extend(c.commands.values())
    return found


_QUOTED = re.compile(r"'([^']+)'")
_EMPTY_COLUMNS = re.compile(r"columns are:\s*($|[;)])")


def _name_flag(text: str, argv: list[str]) -> str:
    """Prefix ``--flag 'VALUE': `` when a message quotes a value given to a flag but names no flag.

    Library messages name columns and files (``masses: no column 'pop'``); the user typed
    ``--mass-field pop``. Messages that already name a flag are left alone.
    """
    if " --" in f" {text}" or not argv:
        return text
    given: dict[str, str] = {}
    for i, a in enumerate(argv):
        if a.startswith("--") and "=" in a:
            flag, _, value = a.partition("=")
            given.setdefault(value, flag)
        elif a.startswith("--") and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            given.setdefault(argv[i + 1], a)
    for m in _QUOTED.finditer(text):
        value = m.group(1)
        found = given.get(value)
        if found is None:  # FILE[:LAYER] quoted as FILE
            found = next((f for v, f in given.items() if value in (v.split(":")[0], v.rpartition(":")[0])), None)
        if found is not None:
            return f"{found} {value!r}: {text}"
    return text


def cli_message(text: str, root: click.Context) -> str:
    """Name CLI flags where a library message names a Python argument.

    ``use largest_component=True`` becomes ``use --largest-component (largest_component=True)``
    when the running command has that flag (a message naming the flag already is left alone).
    """
    text = _name_flag(text, root.meta.get("iptown_argv") or [])
    if _EMPTY_COLUMNS.search(text):
        from iptown_gis.io.vector import NO_COLUMNS  # the I/O stack only when needed (fast CLI start)

        text = _EMPTY_COLUMNS.sub(lambda m: NO_COLUMNS + m.group(1), text)
    opts = _invoked_options(root)
    if not opts:
        return text

    def flag(m: re.Match[str]) -> str:
        opt = opts.get(m.group(1))
        if opt is None:
            return m.group(0)
        want = m.group(2) == "True"
        names = opt.opts if want != bool(opt.flag_value is False) else opt.secondary_opts
        if not names:
            return m.group(0)
        if names[0] in text:
            return m.group(0)
        return f"{names[0]} ({m.group(0)})"

    return _PY_FLAG.sub(flag, text)
