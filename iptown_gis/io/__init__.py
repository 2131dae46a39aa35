"""Reading and writing layers: vector, raster, atomic outputs."""

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
