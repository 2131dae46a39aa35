"""Assembling and reading studies for a front (the QGIS planning panel through the engine).

- :mod:`iptown_gis.study.edit`: write a new scenario from a base one, picked layers and
  parameter overrides (:func:`build_study`), TOML writing (:func:`toml_dumps`) and dotted
  keys (:func:`set_key`, :func:`get_key`);
- :mod:`iptown_gis.study.defaults`: the values and defaults a front shows before a run
  (:func:`scenario_defaults`);
- :mod:`iptown_gis.study.layers`: the loadable layers of a finished run (:func:`output_layers`).
"""

from __future__ import annotations

from iptown_gis.study.defaults import key_supported, model_default, scenario_defaults, section_fields
from iptown_gis.study.edit import build_study, get_key, read_scenario_data, set_key, toml_dumps
from iptown_gis.study.layers import OutputLayer, output_layers

__all__ = [
    "OutputLayer",
    "build_study",
    "get_key",
    "key_supported",
    "model_default",
    "output_layers",
    "read_scenario_data",
    "scenario_defaults",
    "section_fields",
    "set_key",
    "toml_dumps",
]
