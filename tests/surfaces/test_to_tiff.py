"""``kde_to_tiff`` / ``market_potential_to_tiff`` (what ``iptown surface ... --workers`` runs)
check and choose their points as ``kde`` / ``market_potential`` do and give the same values."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from iptown_gis.errors import ColumnError, CRSError, ParameterError
from iptown_gis.surfaces.kde import kde, kde_to_tiff
from iptown_gis.surfaces.potential import market_potential, market_potential_to_tiff


@pytest.fixture(scope="module")
def grid():
    from iptown_gis.datasets import anhui_layer
    from iptown_gis.surfaces.grid import make_grid

    return make_grid(anhui_layer("province"), cell=2000, crs="EPSG:4548")


@pytest.fixture(scope="module")
def seats():
    from iptown_gis.crs.metric import to_metric
    from iptown_gis.datasets import anhui_layer

    return to_metric(anhui_layer("seats"), crs="EPSG:4548", name="seats")


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1, masked=True)


@pytest.mark.parametrize("radius", [None, 25_000.0])
def test_kde_to_tiff_equals_kde(grid, seats, tmp_path, radius):
    ref = kde(seats, grid, radius=radius, weight_field="pop_2020")
    out = kde_to_tiff(seats, grid, tmp_path / "kde.tif", radius=radius, weight_field="pop_2020", tile_size=64)
    v = _read(out)
    np.testing.assert_array_equal(v.mask, ~grid.mask)
    np.testing.assert_allclose(v.filled(0), np.ma.filled(ref.values, 0), rtol=2e-6, atol=0)  # float32 file


def test_market_potential_to_tiff_equals_market_potential(grid, seats, tmp_path):
    ref = market_potential(grid, seats, mass_field="pop_2020", decay="power:1")
    out = market_potential_to_tiff(grid, seats, tmp_path / "mp.tif", mass_field="pop_2020", tile_size=64)
    np.testing.assert_allclose(_read(out).filled(0), np.ma.filled(ref.values, 0), rtol=2e-6, atol=0)


def test_to_tiff_errors(grid, seats, tmp_path):
    with pytest.raises(CRSError, match="points"):
        kde_to_tiff(seats.to_crs(4326), grid, tmp_path / "a.tif")
    with pytest.raises(ColumnError, match="no_such"):
        kde_to_tiff(seats, grid, tmp_path / "a.tif", weight_field="no_such")
    with pytest.raises(ParameterError, match="radius"):
        kde_to_tiff(seats, grid, tmp_path / "a.tif", radius=-1.0)
    bad = seats.copy()
    bad.loc[bad.index[0], "pop_2020"] = -5.0
    with pytest.raises(ColumnError, match="masses"):
        market_potential_to_tiff(grid, bad, tmp_path / "b.tif", mass_field="pop_2020")
    assert not (tmp_path / "a.tif").exists()
    assert not (tmp_path / "b.tif").exists()
