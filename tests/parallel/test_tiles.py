"""Tiled surfaces on Dask equal the whole-grid in-process surfaces."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from iptown_gis.errors import ParameterError
from iptown_gis.surfaces.kde import kde_tiled
from iptown_gis.surfaces.potential import market_potential_tiled
from iptown_gis.surfaces.tiles import tile_windows

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def grid():
    from iptown_gis.datasets import anhui_layer
    from iptown_gis.surfaces.grid import make_grid

    return make_grid(anhui_layer("province"), cell=1000, crs="EPSG:4548")


@pytest.fixture(scope="module")
def seats():
    from iptown_gis.crs.metric import to_metric
    from iptown_gis.datasets import anhui_layer

    return to_metric(anhui_layer("seats"), crs="EPSG:4548", name="seats")


def _read(path):
    with rasterio.open(path) as src:
        assert src.profile["tiled"]
        return src.read(1, masked=True)


def test_market_potential_tiles_equal(grid, seats, executor, tmp_path):
    from iptown_gis.surfaces.potential import market_potential

    ref = market_potential(grid, seats, mass_field="pop_2020", decay="power:1")
    x, y = seats.geometry.x.to_numpy(), seats.geometry.y.to_numpy()
    m = seats["pop_2020"].to_numpy(dtype=float)
    a = market_potential_tiled(grid, x, y, m, tmp_path / "mp_local.tif", dtype="float64", tile_size=256)
    b = market_potential_tiled(grid, x, y, m, tmp_path / "mp_dask.tif", dtype="float64", tile_size=256,
                               executor=executor)
    va, vb = _read(a), _read(b)
    assert len(tile_windows(grid, 256)) > 1
    assert np.array_equal(va.mask, ~grid.mask)
    np.testing.assert_allclose(vb.filled(0), va.filled(0), rtol=1e-12, atol=0)
    np.testing.assert_allclose(va.filled(0), np.ma.filled(ref.values, 0), rtol=1e-12, atol=0)


def test_kde_tiles_equal(grid, seats, executor, tmp_path):
    from iptown_gis.surfaces.kde import kde

    ref = kde(seats, grid, kernel="quartic", radius=30_000.0)
    x, y = seats.geometry.x.to_numpy(), seats.geometry.y.to_numpy()
    b = kde_tiled(grid, x, y, tmp_path / "kde.tif", radius=30_000.0, dtype="float64", tile_size=256,
                  executor=executor)
    np.testing.assert_allclose(_read(b).filled(0), np.ma.filled(ref.values, 0), rtol=1e-12, atol=1e-300)


def test_tile_errors(grid, tmp_path):
    with pytest.raises(ParameterError, match="same length"):
        market_potential_tiled(grid, [1.0], [1.0, 2.0], [1.0], tmp_path / "x.tif")
    with pytest.raises(ParameterError, match=">= 0"):
        market_potential_tiled(grid, [1.0], [1.0], [-1.0], tmp_path / "x.tif")
    with pytest.raises(ParameterError, match="radius"):
        kde_tiled(grid, [1.0], [1.0], tmp_path / "x.tif", radius=0.0)
    assert not (tmp_path / "x.tif").exists()
