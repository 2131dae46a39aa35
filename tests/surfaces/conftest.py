"""Fixtures for the surfaces tests: small synthetic grids and the Anhui sample."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

CRS = "EPSG:32650"


@pytest.fixture
def square() -> gpd.GeoDataFrame:
    """A 10 km x 10 km square boundary in UTM 50N (origin on a 1 km multiple)."""
    return gpd.GeoDataFrame(geometry=[box(500_000, 3_500_000, 510_000, 3_510_000)], crs=CRS)


@pytest.fixture(scope="module")
def anhui_layers():
    from iptown_gis.datasets import anhui_layer

    return {n: anhui_layer(n) for n in ("province", "counties", "seats", "places", "roads")}
