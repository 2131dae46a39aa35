"""Bundled sample data: the Anhui study area.

>>> from iptown_gis import datasets
>>> layers = datasets.anhui()            # doctest: +SKIP
>>> layers["seats"].crs                  # doctest: +SKIP
<Projected CRS: EPSG:4548>

The files live in ``sample_data/anhui/`` of the source tree and are shipped as package data;
their sources and licences are in ``SOURCES.md`` beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

__all__ = ["ANHUI_CRS", "ANHUI_LAYERS", "anhui", "anhui_layer", "sample_dir"]

#: The metric CRS used for the Anhui sample (CGCS2000 / 3-degree Gauss-Kruger CM 117E).
ANHUI_CRS = "EPSG:4548"

#: Vector layers of ``anhui.gpkg``.
ANHUI_LAYERS = (
    "province",
    "province_dcw",
    "prefectures",
    "counties",
    "seats",
    "places",
    "roads",
    "railways",
    "rivers",
    "lake_shores",
)


def sample_dir() -> Path:
    """Folder of the bundled Anhui sample (``anhui.gpkg``, ``dem_coarse.tif``, CSVs, scenario)."""
    return Path(__file__).resolve().parent / "anhui"


def anhui_layer(name: str, *, metric: bool = True) -> gpd.GeoDataFrame:
    """One layer of the Anhui sample, in EPSG:4548 (``metric=True``) or as stored (EPSG:4326)."""
    from iptown_gis.errors import DataNotFoundError

    if name not in ANHUI_LAYERS:
        raise DataNotFoundError(f"the Anhui sample has no layer {name!r}; layers: {', '.join(ANHUI_LAYERS)}")
    gdf = gpd.read_file(sample_dir() / "anhui.gpkg", layer=name, engine="pyogrio")
    return gdf.to_crs(ANHUI_CRS) if metric else gdf


def anhui(*, metric: bool = True) -> dict[str, Any]:
    """All layers of the Anhui sample as GeoDataFrames, plus the tables and the DEM path.

    Returns
    -------
    dict
        Keys are :data:`ANHUI_LAYERS` (GeoDataFrames), ``"cities"`` and ``"counties_population"``
        (DataFrames) and ``"dem"`` (path of the GeoTIFF).
    """
    out: dict[str, Any] = {name: anhui_layer(name, metric=metric) for name in ANHUI_LAYERS}
    out["cities"] = pd.read_csv(sample_dir() / "cities.csv")
    out["counties_population"] = pd.read_csv(sample_dir() / "counties_population.csv")
    out["dem"] = sample_dir() / "dem_coarse.tif"
    return out
