"""Market-potential and agglomeration surfaces on a regular grid.

- :mod:`~iptown_gis.surfaces.grid`: the :class:`Grid` shared by all surfaces, GeoTIFF output
- :mod:`~iptown_gis.surfaces.potential`: Harris market potential (Euclidean / network), NEG
  market access, all-cells potential by FFT
- :mod:`~iptown_gis.surfaces.kde`: kernel density (QGIS Heatmap quartic, Gaussian)
- :mod:`~iptown_gis.surfaces.hotspots`: local Getis-Ord Gi* and local Moran's I with FDR
- :mod:`~iptown_gis.surfaces.concentration`: location quotient, Ellison-Glaeser, Duranton-Overman
- :mod:`~iptown_gis.surfaces.zonal`: zonal statistics per county / prefecture
- :mod:`~iptown_gis.surfaces.tiles`: surfaces cut into tiles, one task per tile on an executor
  (``market_potential_tiled``, ``kde_tiled``: tiled GeoTIFFs for national grids;
  ``market_potential_to_tiff``, ``kde_to_tiff``: the same from a point layer, checked as the
  whole-grid functions check it)
"""

from iptown_gis.surfaces.grid import Grid, Surface, make_grid
from iptown_gis.surfaces.potential import (
    Decay,
    market_access,
    market_potential,
    market_potential_tiled,
    market_potential_to_tiff,
    parse_decay,
    potential_at,
    potential_cells,
    potential_direct,
    potential_fft,
    raster_potential,
    rasterize_masses,
)

__all__ = [
    "Decay",
    "Grid",
    "Surface",
    "make_grid",
    "market_access",
    "market_potential",
    "market_potential_tiled",
    "market_potential_to_tiff",
    "parse_decay",
    "potential_at",
    "potential_cells",
    "potential_direct",
    "potential_fft",
    "raster_potential",
    "rasterize_masses",
]
