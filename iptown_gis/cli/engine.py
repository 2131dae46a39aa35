"""``iptown engine``: run a job of the engine protocol (used by the QGIS plugin), describe the engine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from iptown_gis.cli._common import IptownGroup, echo_json


@click.group("engine", cls=IptownGroup)
def group() -> None:
    """The engine protocol: JSON job in, JSON lines out (see docs/engine.md)."""


@group.command("run")
@click.argument("job", type=click.Path(path_type=Path, allow_dash=True), default="-")
def run_cmd(job: Path) -> None:
    """Run JOB (a JSON file, or - for standard input) and stream JSON lines on stdout.

    Exit code: 0 done, 2 user error, 1 internal error, 143 terminated (cancelled).
    """
    from iptown_gis.engine import run_job
    from iptown_gis.errors import DataNotFoundError

    if str(job) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = job.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataNotFoundError(f"cannot read the job file {str(job)!r}: {exc.strerror}") from None
    code = run_job(text)
    sys.exit(code)


@group.command("info")
@click.option("--no-defaults", is_flag=True, help="Leave out the algorithms' parameter defaults.")
def info_cmd(no_defaults: bool) -> None:
    """Describe the engine as JSON: version, schema, algorithms and their defaults, styles."""
    from iptown_gis.engine import describe

    echo_json(describe(with_defaults=not no_defaults))
