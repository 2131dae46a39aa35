"""Slope only from a DEM fine enough for the cell size (else left out, with a warning)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from iptown_gis.errors import GeometryError
from iptown_gis.zoning.studyarea import SLOPE_MAX_PIXEL_RATIO, build_study_area, combine_factors, dem_pixel_m

CRS = "EPSG:4548"
RECIPE = {"body": {"centre_time": 0.5, "slope": 0.5}, "wing_east": {"centre_time": 1.0},
          "wing_west": {"slope": 1.0}}
TRANSFORMS = {"centre_time": "cost", "slope": "cost", "access_time": "cost", "market_potential": "minmax",
              "agglomeration": "minmax", "water_distance": "minmax"}
HEFEI = Transformer.from_crs(4326, CRS, always_xy=True).transform(117.27, 31.86)


def _plane_dem(path, *, pixel: float, grade: float, crs: str | None = CRS) -> None:
    """A plane z = grade * x (metres) around Hefei in ``crs`` with square ``pixel`` metres."""
    n = int(12_000 / pixel)
    x0, y0 = HEFEI[0] - 6_000, HEFEI[1] + 6_000
    x = x0 + (np.arange(n) + 0.5) * pixel
    z = np.tile(grade * (x - x0), (n, 1)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
                       crs=crs, transform=from_origin(x0, y0, pixel, pixel)) as dst:
        dst.write(z, 1)


def _area(dem, cell: float = 250.0):
    return build_study_area(HEFEI, radius=2_000, cell_size=cell, crs=CRS, recipe=RECIPE, transforms=TRANSFORMS,
                            dem=dem)


def test_sample_dem_is_too_coarse_for_250_m_cells(scenario_path, caplog):
    dem = scenario_path.parent / "dem_coarse.tif"
    px, py = dem_pixel_m(dem, HEFEI, CRS)
    assert 15_000 < px < 20_000  # 0.2 degrees of longitude at 31.9 N
    assert 21_000 < py < 23_000
    with caplog.at_level(logging.WARNING, logger="iptown_gis.zoning.studyarea"):
        area = _area(dem)
    assert "slope left out of the suitability" in caplog.text
    assert set(area.left_out) == {"slope"}
    assert area.sources["slope"].startswith("left out: DEM pixel")
    d = area.cells.data
    assert d["f_slope"].isna().all()
    fac = {"centre_time": d["f_centre_time"].to_numpy()}
    # the body's suitability is the recipe without slope, renormalised
    np.testing.assert_allclose(d["suit_body"], combine_factors(fac, {"centre_time": 0.5}, TRANSFORMS))
    np.testing.assert_allclose(d["suit_wing_east"], combine_factors(fac, {"centre_time": 1.0}, TRANSFORMS))
    np.testing.assert_array_equal(d["suit_wing_west"], 0.0)  # slope was its only factor
    assert "every weighted factor was left out" in caplog.text


def test_fine_dem_gives_the_slope_of_a_plane(tmp_path):
    path = tmp_path / "dem.tif"
    _plane_dem(path, pixel=100.0, grade=0.1)
    area = _area(path)
    assert area.left_out == {}
    assert area.sources["slope"].startswith("DEM slope, bilinear (pixel 100 x 100 m")
    np.testing.assert_allclose(area.cells.data["f_slope"], np.degrees(np.arctan(0.1)), rtol=1e-4)


@pytest.mark.parametrize(("pixel", "used"), [(250.0, True), (250.0 * SLOPE_MAX_PIXEL_RATIO + 50, False)])
def test_rule_is_pixel_at_most_cell_size(tmp_path, pixel, used):
    path = tmp_path / "dem.tif"
    _plane_dem(path, pixel=pixel, grade=0.05)
    area = _area(path, cell=250.0)
    assert ("slope" not in area.left_out) is used
    assert bool(np.isfinite(area.cells.data["f_slope"]).all()) is used


def test_dem_without_crs_is_an_error(tmp_path):
    path = tmp_path / "dem.tif"
    _plane_dem(path, pixel=100.0, grade=0.1, crs=None)
    with pytest.raises(GeometryError, match="no CRS"):
        _area(path)
