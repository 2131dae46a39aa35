"""The ``iptown`` command line: a thin front on the library."""

from iptown_gis.cli.main import cli, main

__all__ = ["cli", "main"]
