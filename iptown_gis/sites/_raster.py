"""Rasters the sites functions read: surfaces, :class:`iptown_gis.io.raster.Raster` or GeoTIFF paths."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyproj

from iptown_gis.errors import ParameterError

__all__ = ["as_raster"]


def as_raster(obj: Any, *, name: str = "raster") -> tuple[np.ma.MaskedArray, Any, pyproj.CRS]:
    """``(masked values, affine transform, CRS)`` of a surface, a Raster or a GeoTIFF path."""
    if isinstance(obj, Mapping):
        for key in ("surface", "raster", "path"):
            if obj.get(key) is not None:
                return as_raster(obj[key], name=name)
        raise ParameterError(f"{name}: a mapping needs a 'surface', 'raster' or 'path' entry")
    if isinstance(obj, str | os.PathLike):
        from iptown_gis.io.raster import read_raster

        r = read_raster(Path(obj))
        return np.ma.asarray(r.data), r.transform, pyproj.CRS.from_user_input(r.crs)
    grid = getattr(obj, "grid", None)
    if grid is not None and hasattr(obj, "values"):  # surfaces.Surface
        return np.ma.asarray(obj.values), grid.transform, pyproj.CRS.from_user_input(grid.crs)
    if hasattr(obj, "data") and hasattr(obj, "transform") and hasattr(obj, "crs"):  # io.raster.Raster
        return np.ma.asarray(obj.data), obj.transform, pyproj.CRS.from_user_input(obj.crs)
    raise ParameterError(f"{name}: cannot read a raster from {type(obj).__name__}")
