"""Network and surface algorithms run with processing.run on the bundled sample; outputs are
checked against the library called directly on the same data."""

from __future__ import annotations

import numpy as np
import processing
import pytest
import rasterio
from conftest import GPKG
from qgis.core import QgsRasterLayer, QgsVectorLayer

CRS = "EPSG:4548"
PREF = f"{GPKG}|layername=seats|subset=\"level\" = 'prefecture'"


def uri(name: str) -> str:
    return f"{GPKG}|layername={name}"


def vlayer(path, layer: str | None = None) -> QgsVectorLayer:
    src = f"{path}|layername={layer}" if layer else str(path)
    lyr = QgsVectorLayer(src, "out", "ogr")
    assert lyr.isValid(), src
    return lyr


def values(layer: QgsVectorLayer, field: str) -> list:
    return [f[field] for f in layer.getFeatures()]


@pytest.fixture(scope="module")
def lib():
    from iptown_gis.datasets import anhui_layer

    layers = {n: anhui_layer(n) for n in ("roads", "seats", "province", "places", "counties")}
    layers["pref"] = layers["seats"].query("level == 'prefecture'")
    return layers


def test_build_network_matches_library(registry, lib, tmp_path):
    from iptown_gis.network import build_network
    from iptown_gis.network.osm import to_geodataframes

    res = processing.run("iptown:buildnetwork", {
        "ROADS": uri("roads"), "METRIC_CRS": CRS,
        "OUTPUT_EDGES": str(tmp_path / "edges.gpkg"), "OUTPUT_NODES": str(tmp_path / "nodes.gpkg")})
    edges, nodes = vlayer(res["OUTPUT_EDGES"]), vlayer(res["OUTPUT_NODES"])
    lib_nodes, lib_edges = to_geodataframes(build_network(lib["roads"]))
    assert edges.featureCount() == len(lib_edges) > 10_000
    assert nodes.featureCount() == len(lib_nodes)
    assert edges.crs().authid() == CRS
    np.testing.assert_allclose(sorted(values(edges, "time_min")), np.sort(lib_edges["time_min"]), rtol=1e-9)
    # a layer in degrees without a chosen CRS is projected as the library does (UTM 50N here)
    res2 = processing.run("iptown:buildnetwork", {
        "ROADS": uri("roads"), "OUTPUT_EDGES": "memory:", "OUTPUT_NODES": "memory:"})
    assert res2["OUTPUT_EDGES"] is not None
    from qgis.core import QgsProcessingContext, QgsProcessingUtils, QgsProject

    ctx = QgsProcessingContext()
    ctx.setProject(QgsProject.instance())
    lyr = res2["OUTPUT_EDGES"]
    lyr = lyr if isinstance(lyr, QgsVectorLayer) else QgsProcessingUtils.mapLayerFromString(lyr, ctx)
    assert lyr.crs().authid() == "EPSG:32650"


def test_od_matrix_matches_library(registry, lib, tmp_path):
    from iptown_gis.network import build_network, od_matrix

    res = processing.run("iptown:odmatrix", {
        "ROADS": uri("roads"), "METRIC_CRS": CRS, "ORIGINS": PREF, "ID_FIELD": "adcode", "WEIGHT": 0,
        "OUTPUT": str(tmp_path / "od.gpkg")})
    table = vlayer(res["OUTPUT"])
    assert table.featureCount() == 16 * 16
    assert not table.isSpatial()
    got = {(int(f["origin_id"]), int(f["destination_id"])): f["cost"] for f in table.getFeatures()}
    od = od_matrix(build_network(lib["roads"]), lib["pref"], id_field="adcode", weight="time",
                   largest_component=True)
    want = od.to_long()
    assert len(want) == len(got)
    for row in want.itertuples():
        assert got[(int(row.origin_id), int(row.destination_id))] == pytest.approx(row.cost, rel=1e-9)
    assert set(values(table, "unit")) == {"min"}
    hefei_wuhu = got[(340100, 340200)]
    assert 60 < hefei_wuhu < 240  # minutes between Hefei and Wuhu by road: plausible


def test_isochrones_match_library(registry, lib, tmp_path):
    from iptown_gis.network import build_network
    from iptown_gis.network.isochrones import isochrones

    res = processing.run("iptown:isochrones", {
        "ROADS": uri("roads"), "METRIC_CRS": CRS, "CENTRES": f"{GPKG}|layername=seats|subset=\"adcode\" = 340100",
        "ID_FIELD": "adcode", "BANDS": "30, 60", "WEIGHT": 0, "BUFFER": 1000,
        "OUTPUT": str(tmp_path / "iso.gpkg")})
    iso = vlayer(res["OUTPUT"])
    assert iso.featureCount() == 2
    assert iso.crs().authid() == CRS
    want = isochrones(build_network(lib["roads"]), lib["seats"].query("adcode == 340100"), bands=(30, 60),
                      id_field="adcode")
    got = sorted((f["band"], f["area_km2"]) for f in iso.getFeatures())
    np.testing.assert_allclose([a for _b, a in got], sorted(want["area_km2"]), rtol=1e-6)
    assert got[0][1] < got[1][1]


def _raster(path):
    with rasterio.open(path) as src:
        return src.read(1, masked=True), src.crs


@pytest.mark.parametrize("mode", [0, 1])
def test_market_potential_matches_library(registry, lib, tmp_path, mode):
    from iptown_gis.surfaces import make_grid, market_potential

    params = {"BOUNDARY": uri("province"), "CELL": 5000, "METRIC_CRS": CRS, "MASSES": uri("seats"),
              "MASS_FIELD": "pop_2020", "DECAY": "power:1", "MODE": mode, "OUTPUT": str(tmp_path / "mp.tif")}
    if mode == 1:
        params["ROADS"] = uri("roads")
    res = processing.run("iptown:marketpotential", params)
    got, crs = _raster(res["OUTPUT"])
    grid = make_grid(lib["province"], cell=5000)
    want = market_potential(grid, lib["seats"], mass_field="pop_2020", decay="power:1",
                            mode="euclidean" if mode == 0 else "network",
                            roads=lib["roads"] if mode == 1 else None)
    assert got.shape == want.values.shape
    assert (got.mask == np.ma.getmaskarray(want.values)).all()
    np.testing.assert_allclose(got.compressed(), want.values.compressed(), rtol=1e-5)
    layer = QgsRasterLayer(res["OUTPUT"], "mp")
    assert layer.isValid()
    assert layer.crs().authid() == CRS
    assert str(crs).upper() == CRS


def test_network_potential_needs_roads(registry):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="network distances need the road lines"):
        processing.run("iptown:marketpotential", {
            "BOUNDARY": uri("province"), "CELL": 5000, "MASSES": uri("seats"), "MODE": 1,
            "OUTPUT": "TEMPORARY_OUTPUT"})


def test_kde_hotspots_zonal_chain(registry, lib, tmp_path):
    from iptown_gis.surfaces import make_grid
    from iptown_gis.surfaces.hotspots import hotspots
    from iptown_gis.surfaces.kde import kde
    from iptown_gis.surfaces.zonal import zonal_stats

    res = processing.run("iptown:kerneldensity", {
        "BOUNDARY": uri("province"), "CELL": 5000, "METRIC_CRS": CRS, "POINTS": uri("places"),
        "WEIGHT_FIELD": "population", "KERNEL": 0, "RADIUS": 30000, "OUTPUT_VALUES": 0,
        "OUTPUT": str(tmp_path / "kde.tif")})
    got, _ = _raster(res["OUTPUT"])
    want = kde(lib["places"], make_grid(lib["province"], cell=5000), radius=30000, weight_field="population")
    np.testing.assert_allclose(got.compressed(), want.values.compressed(), rtol=1e-5)

    # zonal statistics of the KDE output (a raster layer from disk) over the counties
    zres = processing.run("iptown:zonalstatistics", {
        "SURFACE": res["OUTPUT"], "ZONES": uri("counties"), "ID_FIELD": "adcode", "STATS": [0, 1, 3],
        "OUTPUT": str(tmp_path / "zonal.gpkg")})
    zonal = vlayer(zres["OUTPUT"])
    assert zonal.featureCount() == 104
    assert zonal.crs().authid() == CRS
    zwant = zonal_stats(want, lib["counties"], stats=("mean", "max", "sum"), id_field="adcode")
    zgot = {int(f["adcode"]): f["kde_mean"] for f in zonal.getFeatures()}
    for row in zwant.itertuples():
        if np.isfinite(row.kde_mean):
            assert zgot[int(row.adcode)] == pytest.approx(row.kde_mean, rel=1e-5)

    # hot spots of the zonal means (layer + field), same seed as the library
    hres = processing.run("iptown:hotspots", {
        "INPUT": zres["OUTPUT"], "FIELD": "kde_mean", "STATISTIC": 0, "WEIGHTS": 0, "PERMUTATIONS": 99,
        "SEED": 7, "ALPHA": 0.05, "FDR": True, "OUTPUT": str(tmp_path / "hot.gpkg")})
    hot = vlayer(hres["OUTPUT"])
    assert hot.featureCount() == 104
    hwant = hotspots(zwant.fillna({"kde_mean": 0.0}) if zwant["kde_mean"].isna().any() else zwant,
                     field="kde_mean", permutations=99, seed=7)
    hgot = {int(f["adcode"]): (f["gi_z"], bool(f["hot_spot"])) for f in hot.getFeatures()}
    for row in hwant.itertuples():
        assert hgot[int(row.adcode)][0] == pytest.approx(row.gi_z, rel=1e-6)
        assert hgot[int(row.adcode)][1] == bool(row.hot_spot)
    assert {"gi_z", "p", "q", "hot_spot", "cold_spot", "significance"} <= set(hot.fields().names())

    # and hot spots of the surface's cells
    cres = processing.run("iptown:hotspots", {
        "SURFACE": res["OUTPUT"], "PERMUTATIONS": 99, "OUTPUT": str(tmp_path / "hotcells.gpkg")})
    assert vlayer(cres["OUTPUT"]).featureCount() == int((~got.mask).sum())
