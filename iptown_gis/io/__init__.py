"""Reading and writing layers: vector, raster, atomic outputs.

The submodules load on first use of one of their names, so reading a vector layer does not
import rasterio.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iptown_gis.io.atomic import atomic_path, ensure_writable_dir
    from iptown_gis.io.raster import read_raster, write_geotiff
    from iptown_gis.io.vector import LayerSpec, parse_layer_spec, read_vector, write_vector

__all__ = [
    "LayerSpec",
    "atomic_path",
    "ensure_writable_dir",
    "parse_layer_spec",
    "read_raster",
    "read_vector",
    "write_geotiff",
    "write_vector",
]

#: Public name -> the submodule that defines it.
_HOME = {
    "atomic_path": "atomic", "ensure_writable_dir": "atomic",
    "read_raster": "raster", "write_geotiff": "raster",
    "LayerSpec": "vector", "parse_layer_spec": "vector", "read_vector": "vector", "write_vector": "vector",
}


def __getattr__(name: str) -> Any:
    """Load the submodule defining ``name`` on first use."""
    home = _HOME.get(name)
    if home is None:
        if importlib.util.find_spec(f"iptown_gis.io.{name}") is not None:  # a submodule, as before
            return importlib.import_module(f"iptown_gis.io.{name}")
        raise AttributeError(f"module 'iptown_gis.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"iptown_gis.io.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
