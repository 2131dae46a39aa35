"""Small synthetic networks for the network tests."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point


def grid_lines(nx: int, ny: int, step: float, x0: float = 500_000.0, y0: float = 4_000_000.0) -> list[LineString]:
    lines = []
    for j in range(ny):
        for i in range(nx - 1):
            lines.append(LineString([(x0 + i * step, y0 + j * step), (x0 + (i + 1) * step, y0 + j * step)]))
    for i in range(nx):
        for j in range(ny - 1):
            lines.append(LineString([(x0 + i * step, y0 + j * step), (x0 + i * step, y0 + (j + 1) * step)]))
    return lines


@pytest.fixture
def grid_roads() -> gpd.GeoDataFrame:
    """A 5 x 4 grid of 1 km segments in UTM 50N."""
    return gpd.GeoDataFrame({"id": np.arange(31)}, geometry=grid_lines(5, 4, 1000.0), crs="EPSG:32650")


@pytest.fixture
def grid_points() -> gpd.GeoDataFrame:
    """Three points 100 m off grid nodes."""
    pts = [Point(500_000.0 - 100.0, 4_000_000.0), Point(504_000.0, 4_003_000.0 + 100.0),
           Point(502_000.0, 4_001_000.0)]
    return gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=pts, crs="EPSG:32650")


@pytest.fixture
def make_grid():
    """The grid_lines builder (x0, y0 set per region)."""
    return grid_lines
