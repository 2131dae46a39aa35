"""The engine protocol: how a front that must not load the scientific stack (the QGIS plugin)
runs iptown_gis in a separate process.

A *job* (JSON: schema version, algorithm id, parameters with input and output paths) goes in;
JSON lines come out on stdout: ``start``, ``progress``, ``log``, then one ``result`` or
``error``. ``iptown engine run JOB.json`` is the command; ``iptown engine info`` describes the
engine (version, schema, algorithms and their defaults). See ``docs/engine.md``.
"""

from __future__ import annotations

from iptown_gis.engine.protocol import SCHEMA_VERSION, describe, parse_job, run_job

__all__ = ["SCHEMA_VERSION", "describe", "parse_job", "run_job"]
