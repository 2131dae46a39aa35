"""Zoning: "one body, two wings" layouts of an IP characteristic town.

Public API::

    from iptown_gis.zoning import ZoningModel, grid_cells, cells_from_polygons
    m = ZoningModel.districts(cells, suit_body=..., suit_east=..., suit_west=...,
                              body=40, wing_east=25, wing_west=25).solve(method="auto")
    m.labels_, m.objective_, m.bound_, m.gap_, m.status_, m.checks_
"""

from iptown_gis.zoning.cells import CellSet, cells_from_polygons, grid_cells
from iptown_gis.zoning.check import Check, check_layout
from iptown_gis.zoning.export import layout_frames, style_path, write_layout
from iptown_gis.zoning.model import DEFAULT_MODULE_AFFINITY, DISTRICTS, MODULES, ZoningModel, axis_vector
from iptown_gis.zoning.modules import layout_modules, module_suitability
from iptown_gis.zoning.studyarea import StudyArea, build_study_area

__all__ = [
    "DEFAULT_MODULE_AFFINITY",
    "DISTRICTS",
    "MODULES",
    "CellSet",
    "Check",
    "StudyArea",
    "ZoningModel",
    "axis_vector",
    "build_study_area",
    "cells_from_polygons",
    "check_layout",
    "grid_cells",
    "layout_frames",
    "layout_modules",
    "module_suitability",
    "style_path",
    "write_layout",
]
