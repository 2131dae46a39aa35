"""iptown_gis: plan IP characteristic towns with New Economic Geography.

Topic packages:

- :mod:`iptown_gis.network`: road/rail graphs, travel times, snapping, OD cost matrices
- :mod:`iptown_gis.surfaces`: market potential and agglomeration surfaces on a grid
- :mod:`iptown_gis.neg`: the multi-region core-periphery model, stability, scenarios
- :mod:`iptown_gis.sites`: ranking and selecting sites for IP towns
- :mod:`iptown_gis.zoning`: the "one body, two wings" zoning optimiser
- :mod:`iptown_gis.report`: maps, HTML report, QGIS project, PostGIS
- :mod:`iptown_gis.parallel`: running heavy stages on Dask
- :mod:`iptown_gis.io`, :mod:`iptown_gis.crs`, :mod:`iptown_gis.scenario`,
  :mod:`iptown_gis.pipeline`, :mod:`iptown_gis.datasets`: the foundation
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
