"""The tile path of the surfaces (one task per tile) equals the whole-grid path, in-process."""

from __future__ import annotations

import numpy as np
import pytest

from iptown_gis.errors import ParameterError
from iptown_gis.parallel import SerialExecutor


@pytest.fixture(scope="module")
def grid_and_seats(anhui_layers):
    from iptown_gis.crs.metric import to_metric
    from iptown_gis.surfaces.grid import make_grid

    grid = make_grid(anhui_layers["province"], cell=1500, crs="EPSG:4548")
    return grid, to_metric(anhui_layers["seats"], crs="EPSG:4548", name="seats")


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_kde_tiles_equal_whole_grid(grid_and_seats, kernel):
    from iptown_gis.surfaces.kde import kde
    from iptown_gis.surfaces.tiles import tile_windows

    grid, seats = grid_and_seats
    whole = kde(seats, grid, kernel=kernel, radius=40_000.0, weight_field="pop_2020")
    tiled = kde(seats, grid, kernel=kernel, radius=40_000.0, weight_field="pop_2020",
                executor=SerialExecutor(tile_size=256))
    assert len(tile_windows(grid, 256)) == 4   # the tile path really cuts the grid
    assert np.ma.count(whole.values) == grid.mask.sum()
    assert whole.tags == tiled.tags
    np.testing.assert_allclose(np.ma.filled(tiled.values, 0), np.ma.filled(whole.values, 0), rtol=1e-12, atol=1e-300)
    assert np.ma.max(whole.values) > 0


def test_potential_tiles_equal_whole_grid(grid_and_seats):
    from iptown_gis.surfaces.potential import market_access, market_potential

    grid, seats = grid_and_seats
    a = market_potential(grid, seats, mass_field="pop_2020", decay="exp:50000")
    b = market_potential(grid, seats, mass_field="pop_2020", decay="exp:50000", executor=SerialExecutor(tile_size=256))
    np.testing.assert_allclose(np.ma.filled(b.values, 0), np.ma.filled(a.values, 0), rtol=1e-12, atol=0)
    c = market_access(grid, seats, income_field="pop_2020", tau=0.01)
    d = market_access(grid, seats, income_field="pop_2020", tau=0.01, executor=SerialExecutor(tile_size=256))
    np.testing.assert_allclose(np.ma.filled(d.values, 0), np.ma.filled(c.values, 0), rtol=1e-12, atol=0)


def test_tiled_geotiff_dtype(grid_and_seats, tmp_path):
    from iptown_gis.surfaces.kde import kde_tiled

    grid, seats = grid_and_seats
    x, y = seats.geometry.x.to_numpy(), seats.geometry.y.to_numpy()
    with pytest.raises(ParameterError, match="dtype must be 'float32' or 'float64'"):
        kde_tiled(grid, x, y, tmp_path / "k.tif", radius=30_000.0, dtype="int16")
    with pytest.raises(ParameterError, match="kernel must be"):
        kde_tiled(grid, x, y, tmp_path / "k.tif", radius=30_000.0, kernel="box")  # type: ignore[arg-type]
    assert not (tmp_path / "k.tif").exists()


def test_tile_windows_cover_the_mask(grid_and_seats):
    from iptown_gis.surfaces.tiles import tile_windows

    grid, _ = grid_and_seats
    tiles = tile_windows(grid, 64)
    covered = np.zeros(grid.shape, bool)
    for t in tiles:
        covered[t.row:t.row + t.height, t.col:t.col + t.width] = True
    assert covered[grid.mask].all()
    assert len({(t.row, t.col) for t in tiles}) == len(tiles)
    with pytest.raises(ParameterError, match="tile_size must be positive"):
        tile_windows(grid, 0)
