"""Hot spots on the raw variable: why the sample uses county population density, not the KDE.

Gi* with a conditional-permutation null assumes the values are exchangeable under the null.
A smoothed surface is not: every county's mean of a 30 km kernel shares mass with its
neighbours, so the smoothing alone creates the clustering the test then finds. The tests
show it on the Anhui counties with values that have no spatial pattern at all.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from iptown_gis.datasets import anhui_layer
from iptown_gis.errors import ColumnError
from iptown_gis.surfaces.hotspots import hotspots
from iptown_gis.surfaces.stage import _density

CRS = "EPSG:4548"


@pytest.fixture(scope="module")
def counties() -> gpd.GeoDataFrame:
    return anhui_layer("counties").to_crs(CRS)


def _smoothed(counties: gpd.GeoDataFrame, values: np.ndarray, radius: float) -> np.ndarray:
    """Each county's mean of a quartic kernel of radius ``radius`` over the county centroids."""
    c = counties.geometry.representative_point()
    xy = np.c_[c.x, c.y]
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    k = np.where(d < radius, (1 - (d / radius) ** 2) ** 2, 0.0)
    return (k @ values) / k.sum(axis=1)


def test_smoothing_alone_makes_hot_spots_raw_values_do_not(counties):
    rng = np.random.default_rng(20171)
    raw_sig: list[int] = []
    smooth_sig: list[int] = []
    raw_fdr: list[int] = []
    smooth_fdr: list[int] = []
    for _ in range(5):
        x = rng.lognormal(size=len(counties))  # no spatial pattern
        z = counties.assign(raw=x, smooth=_smoothed(counties, x, 60_000.0))
        for field, acc, acc_fdr in (("raw", raw_sig, raw_fdr), ("smooth", smooth_sig, smooth_fdr)):
            h = hotspots(z, field=field, permutations=199, seed=1, correction="none")
            acc.append(int((h.hot_spot | h.cold_spot).sum()))
            h = hotspots(z, field=field, permutations=199, seed=1)  # FDR 5 %, the stage's default
            acc_fdr.append(int((h.hot_spot | h.cold_spot).sum()))
    n = len(counties)
    # raw: about the nominal 5 % (two-sided pseudo p of 199 draws); smoothed: twice that and more
    assert np.mean(raw_sig) < 0.12 * n
    assert np.mean(smooth_sig) > 2.0 * np.mean(raw_sig)
    # with the FDR the raw noise gives (almost) nothing, the smoothed noise still "hot spots"
    assert sum(raw_fdr) <= 2
    assert sum(smooth_fdr) > 10 * max(sum(raw_fdr), 1)


def test_density_is_column_per_km2(counties):
    zones, field = _density(counties, "pop_2020", "counties")
    assert field == "pop_2020_per_km2"
    area = counties.geometry.area.to_numpy() / 1e6
    np.testing.assert_allclose(zones[field], counties.pop_2020.to_numpy() / area)
    # the layer's own area column agrees with the geometry (Gauss-Kruger scale error < 1 %)
    np.testing.assert_allclose(area, counties.area_km2.to_numpy(), rtol=0.02)
    assert "pop_2020_per_km2" not in counties.columns  # the input is not modified
    # the urban districts (small, dense) form the hot spots: Hefei's districts among them
    hs = hotspots(zones, field=field, permutations=999, seed=20171)
    hefei = hs[hs.parent_adcode.astype(str) == "340100"]
    assert hefei.hot_spot.any()


def test_density_of_a_missing_column_names_the_key(counties):
    with pytest.raises(ColumnError, match=r"hotspot_variable = 'density:people': counties has no column 'people'"):
        _density(counties, "people", "counties")


def test_kde_hotspot_variable_warns(caplog):
    import logging

    from iptown_gis.surfaces.stage import _warn_smoothed

    with caplog.at_level(logging.WARNING, logger="iptown_gis.surfaces.stage"):
        _warn_smoothed("kde", None)  # type: ignore[arg-type]
    assert "smoothing itself creates autocorrelation" in caplog.text
    assert "density:pop_2020" in caplog.text
