"""The NumPy conditional randomisation of hotspots.py equals esda bit for bit (same seed)."""

from __future__ import annotations

import dataclasses
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from iptown_gis.surfaces import hotspots as hs
from iptown_gis.surfaces import make_grid
from iptown_gis.surfaces.grid import Surface

esda = pytest.importorskip("esda")
libpysal = pytest.importorskip("libpysal")

PERMS = 999
SEEDS = (20171, 1)
eq = np.testing.assert_array_equal  # exact, NaN == NaN


@pytest.fixture(scope="module")
def counties():
    from iptown_gis.datasets import anhui_layer

    c = anhui_layer("counties")
    c["dens"] = c.pop_2020 / c.area_km2  # non-integer values: sums depend on the operation order
    return c


def queen(df):
    return libpysal.weights.Queen.from_dataframe(df, use_index=False, silence_warnings=True)


def esda_gi(y, w, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.G_Local(y, w, transform="B", star=True, permutations=PERMS, seed=seed)


def esda_moran(y, w, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.Moran_Local(y, w, transformation="r", permutations=PERMS, seed=seed)


def _islands(res):
    """Zones without a neighbour (every public function flags them in ``island``)."""
    return res["island"].to_numpy(dtype=bool) if "island" in res.columns else np.zeros(len(res), dtype=bool)


def check_gi(res, g, alpha=0.05):
    """Every output column against esda's G_Local and the module's labelling rules."""
    p = np.asarray(g.p_sim, dtype="float64")
    eq(res["gi"].to_numpy(), g.Gs)
    eq(res["gi_z"].to_numpy(), g.Zs)
    eq(res["gi_z_sim"].to_numpy(), g.z_sim)
    eq(res["p"].to_numpy(), p)
    eq(res["p_norm"].to_numpy(), 2.0 * g.p_norm)
    q = hs.fdr_qvalues(p)
    eq(res["q"].to_numpy(), q)
    b, text = hs._labels(np.asarray(g.Zs), q, "hot spot", "cold spot")
    isl = _islands(res)  # no neighbour: statistics as esda, never a cluster
    eq(res["gi_bin"].to_numpy(), np.where(isl, 0, b))
    eq(res["significance"].to_numpy(), np.where(isl, "no neighbour", text))
    eq(res["hot_spot"].to_numpy(), (q <= alpha) & (g.Zs > 0) & ~isl)
    eq(res["cold_spot"].to_numpy(), (q <= alpha) & (g.Zs < 0) & ~isl)


def check_moran(res, m, alpha=0.05):
    p = np.asarray(m.p_sim, dtype="float64")
    eq(res["moran_i"].to_numpy(), m.Is)
    eq(res["moran_z_sim"].to_numpy(), m.z_sim)
    eq(res["p"].to_numpy(), p)
    q = hs.fdr_qvalues(p)
    eq(res["q"].to_numpy(), q)
    eq(res["quadrant"].to_numpy(), m.q)
    names = np.array(["", "HH", "LH", "LL", "HL"], dtype=object)
    isl = _islands(res)
    eq(res["cluster"].to_numpy(), np.where(isl, "no neighbour", np.where(q <= alpha, names[m.q], "ns")))
    eq(res["significant"].to_numpy(), (q <= alpha) & ~isl)


@pytest.mark.parametrize("field", ["pop_2020", "dens"])
@pytest.mark.parametrize("seed", SEEDS)
def test_counties_equal_esda(counties, field, seed):
    y = counties[field].to_numpy(dtype="float64")
    check_gi(hs.hotspots(counties, field=field, permutations=PERMS, seed=seed), esda_gi(y, queen(counties), seed))
    check_moran(hs.hotspots(counties, field=field, statistic="moran", permutations=PERMS, seed=seed),
                esda_moran(y, queen(counties), seed))


def test_public_functions_with_libpysal_weights_equal_esda(counties):
    y = counties.dens.to_numpy()
    check_gi(hs.local_gi_star(y, hs.polygon_weights(counties), seed=5), esda_gi(y, queen(counties), 5))
    check_moran(hs.local_moran(y, hs.polygon_weights(counties), seed=5), esda_moran(y, queen(counties), 5))
    w = hs.polygon_weights(counties, kind="knn", k=4)  # knn still comes from libpysal
    ref = esda_gi(y, hs.polygon_weights(counties, kind="knn", k=4), 3)
    check_gi(hs.hotspots(counties, field="dens", weights="knn", k=4, seed=3), ref)
    check_gi(hs.local_gi_star(y, w, seed=3), ref)


def test_permutation_ids_equal_esda_vec_permutations():
    from esda.crand import vec_permutations

    for seed in SEEDS:
        eq(hs._permuted_ids(9, 104, PERMS, seed), vec_permutations(9, 104, PERMS, seed))


def test_contiguity_equals_libpysal(counties):
    for kind, cls in (("queen", libpysal.weights.Queen), ("rook", libpysal.weights.Rook)):
        ref = cls.from_dataframe(counties, use_index=False, silence_warnings=True).sparse.tocsr()
        ours = hs._contiguity_adjacency(counties, kind)
        assert ours is not None
        eq(ours.indptr, ref.indptr)
        eq(ours.indices, ref.indices)
        eq(ours.data, ref.data)


def _surface(square, seed, isolated):
    g = make_grid(square, cell=1000)
    rng = np.random.default_rng(seed)
    vals = rng.random(g.shape)
    vals[2:5, 2:5] += 3
    if isolated:  # cut (8, 8) off from the rest: an island
        mask = g.mask.copy()
        mask[7, 6:10] = False
        mask[6:10, 7] = False
        mask[8:10, 8:10] = False
        mask[8, 8] = True
        g = dataclasses.replace(g, mask=mask)
    return g, Surface(grid=g, values=g.masked(vals), name="v", tags={}), vals[g.mask]


@pytest.mark.parametrize("isolated", [False, True])
@pytest.mark.parametrize("kind", ["queen", "rook"])
def test_grid_cells_equal_esda(square, isolated, kind):
    g, s, y = _surface(square, 0, isolated)
    w = hs.grid_weights(g, kind=kind)
    eq(hs._grid_adjacency(g, kind).toarray(), w.sparse.toarray())
    assert (len(w.islands) == 1) == isolated
    for seed in SEEDS:
        check_gi(hs.hotspots(s, weights=kind, permutations=PERMS, seed=seed), esda_gi(y, hs.grid_weights(g, kind=kind),
                                                                                      seed))
        check_moran(hs.hotspots(s, statistic="moran", weights=kind, permutations=PERMS, seed=seed),
                    esda_moran(y, hs.grid_weights(g, kind=kind), seed))


def test_chunking_gives_the_same_results(square, monkeypatch):
    _, s, _ = _surface(square, 1, True)
    full_g = hs.hotspots(s, seed=2)
    full_m = hs.hotspots(s, statistic="moran", seed=2)
    monkeypatch.setattr(hs, "_CHUNK_ELEMENTS", 1)  # one feature per chunk
    pd.testing.assert_frame_equal(hs.hotspots(s, seed=2), full_g, check_exact=True)
    pd.testing.assert_frame_equal(hs.hotspots(s, statistic="moran", seed=2), full_m, check_exact=True)


def test_seed_none_draws_like_esda(counties):
    """seed=None: esda draws its seed from NumPy's global generator; so do we."""
    y = counties.dens.to_numpy()
    np.random.seed(11)  # noqa: NPY002 - the global generator esda draws from
    ours = hs.hotspots(counties, field="dens", seed=None)
    np.random.seed(11)  # noqa: NPY002 - the global generator esda draws from
    check_gi(ours, esda_gi(y, queen(counties), None))


def test_islands_are_never_hot_or_cold_spots(sample_gpkg) -> None:
    """A few zones without a neighbour keep their statistics but get no cluster label."""
    from shapely.geometry import box

    from iptown_gis.errors import GeometryError
    from iptown_gis.surfaces.hotspots import hotspots

    counties = gpd.read_file(sample_gpkg, layer="counties").to_crs(4548)
    far = counties.total_bounds[2] + 50_000
    extra = gpd.GeoDataFrame({"pop_2020": [5e6, 1.0]},  # extreme values, no neighbour
                             geometry=[box(far, 0, far + 1000, 1000), box(far + 5000, 0, far + 6000, 1000)],
                             crs=counties.crs)
    zones = gpd.GeoDataFrame(pd.concat([counties[["pop_2020", "geometry"]], extra], ignore_index=True),
                             crs=counties.crs)
    res = hotspots(zones, field="pop_2020", permutations=99, seed=1, correction="none", alpha=0.5)
    isl = res["island"].to_numpy()
    assert isl.sum() == 2
    assert isl[-2:].all()
    assert not res.loc[isl, ["hot_spot", "cold_spot"]].to_numpy().any()
    assert (res.loc[isl, "significance"] == "no neighbour").all()
    assert (res.loc[isl, "gi_bin"] == 0).all()
    assert res.loc[~isl, "hot_spot"].any()  # the others are still classified
    mor = hotspots(zones, field="pop_2020", statistic="moran", permutations=99, seed=1, correction="none", alpha=0.5)
    assert (mor.loc[isl, "cluster"] == "no neighbour").all()
    assert not mor.loc[isl, "significant"].any()
    apart = gpd.GeoDataFrame({"v": [float(i % 3) for i in range(12)]},
                             geometry=[box(i * 3000, 0, i * 3000 + 1000, 1000) for i in range(12)], crs="EPSG:4548")
    with pytest.raises(GeometryError, match=r"12 of 12 zones have no neighbour.*knn"):
        hotspots(apart, field="v", permutations=99)
    knn = hotspots(apart, field="v", permutations=99, weights="knn", k=3)
    assert not knn["island"].any()


def _with_islands(counties):
    """The sample's counties plus two far squares with extreme values and no neighbour."""
    from shapely.geometry import box

    far = counties.total_bounds[2] + 50_000
    extra = gpd.GeoDataFrame({"dens": [2.0 * counties.dens.max(), 0.5 * counties.dens.min()]},
                             geometry=[box(far, 0, far + 1000, 1000), box(far + 5000, 0, far + 6000, 1000)],
                             crs=counties.crs)
    return gpd.GeoDataFrame(pd.concat([counties[["dens", "geometry"]], extra], ignore_index=True), crs=counties.crs)


@pytest.mark.parametrize("weights", ["libpysal", "sparse"])
def test_every_public_function_labels_islands_the_same(counties, weights):
    """local_gi_star / local_moran apply the island rule themselves, as hotspots does."""
    zones = _with_islands(counties)
    y = zones.dens.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = hs.polygon_weights(zones) if weights == "libpysal" else hs._contiguity_adjacency(zones, "queen")
    kw = {"permutations": 99, "seed": 1, "correction": "none", "alpha": 0.5}
    gi, mor = hs.local_gi_star(y, w, **kw), hs.local_moran(y, w, **kw)
    for res in (gi, mor):
        eq(res["island"].to_numpy(), np.arange(len(zones)) >= len(counties))
    isl = gi["island"].to_numpy()
    assert not gi.loc[isl, ["hot_spot", "cold_spot"]].to_numpy().any()
    assert (gi.loc[isl, "significance"] == "no neighbour").all()
    assert (gi.loc[isl, "gi_bin"] == 0).all()
    assert gi.loc[~isl, "hot_spot"].any()
    assert (mor.loc[isl, "cluster"] == "no neighbour").all()
    assert not mor.loc[isl, "significant"].any()
    assert mor.loc[~isl, "significant"].any()
    # hotspots gives the same columns, value for value
    for stat, res in (("gi*", gi), ("moran", mor)):
        full = hs.hotspots(zones, field="dens", statistic=stat, **kw)
        pd.testing.assert_frame_equal(full[list(res.columns)].reset_index(drop=True), res, check_exact=True)
