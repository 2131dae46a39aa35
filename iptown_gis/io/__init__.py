"""Reading and writing layers: vector, raster, atomic outputs.

The submodules load on first use of one of their names, so reading a vector layer does not
import rasterio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iptown_gis._lazy import lazy_namespace

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


__getattr__, __dir__ = lazy_namespace(__name__, globals(), _HOME)
