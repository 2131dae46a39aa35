"""NEG and site algorithms run with processing.run on the bundled sample, checked against
the library called directly on the same data."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import processing
import pytest
from conftest import GPKG
from qgis.core import QgsProcessingException, QgsVectorLayer

CRS = "EPSG:4548"
PREF = f"{GPKG}|layername=seats|subset=\"level\" = 'prefecture'"


def uri(name: str) -> str:
    return f"{GPKG}|layername={name}"


def vlayer(path) -> QgsVectorLayer:
    lyr = QgsVectorLayer(str(path), "out", "ogr")
    assert lyr.isValid(), path
    return lyr


@pytest.fixture(scope="module")
def seats():
    from iptown_gis.datasets import anhui_layer

    return anhui_layer("seats")


def _library_neg(pref, *, cost: str, roads=None, **kw):
    from iptown_gis.neg import observed_shares
    from iptown_gis.neg.config import NEGConfig, NEGScenario
    from iptown_gis.neg.scenarios import run_scenarios, scenario_table
    from iptown_gis.neg.stage import region_costs

    cfg = NEGConfig(id_field="adcode", name_field="unit_name", mobile_field="gdp_2022", immobile_field="pop_2020",
                    polygons=None, cost=cost, scenarios=[NEGScenario(name="baseline")], **kw)
    results = {}
    if cost == "network":
        from iptown_gis.network import build_network, od_matrix

        results["seat_od"] = od_matrix(build_network(roads), pref, id_field="adcode", weight="time",
                                       largest_component=True)
    minutes = region_costs(SimpleNamespace(results=results), cfg, pref)
    ids = [str(v) for v in pref["adcode"]]
    lam0, phi = observed_shares(pref["gdp_2022"]), observed_shares(pref["pop_2020"])
    res = run_scenarios(minutes, region_ids=ids, config=cfg, lam0=lam0, phi=phi, seats=pref)
    return scenario_table(res, region_ids=ids, lam0=lam0)


@pytest.mark.parametrize("cost", [0])  # network costs (euclidean ones take minutes to converge here)
def test_neg_simulation_matches_library(registry, seats, tmp_path, cost):
    from iptown_gis.datasets import anhui_layer

    params = {"REGIONS": PREF, "ID_FIELD": "adcode", "NAME_FIELD": "unit_name", "MOBILE_FIELD": "gdp_2022",
              "IMMOBILE_FIELD": "pop_2020", "COST": cost, "METRIC_CRS": CRS, "SIGMA": 5.0, "MU": 0.4,
              "TAU": 0.006, "OUTPUT": str(tmp_path / "neg.gpkg")}
    if cost == 0:
        params["ROADS"] = uri("roads")
    res = processing.run("iptown:negsimulation", params)
    out = vlayer(res["OUTPUT"])
    assert out.featureCount() == 16
    assert out.crs().authid() == CRS
    got = {str(f["region_id"]): (f["share"], f["real_wage"], bool(f["stable"])) for f in out.getFeatures()}
    assert sum(v[0] for v in got.values()) == pytest.approx(1.0, abs=1e-9)
    pref = seats.query("level == 'prefecture'")
    want = _library_neg(pref, cost="network" if cost == 0 else "euclidean",
                        roads=anhui_layer("roads") if cost == 0 else None, sigma=5.0, mu=0.4, tau=0.006)
    for row in want.itertuples():
        assert got[row.region_id][0] == pytest.approx(row.share, rel=1e-7, abs=1e-12)
        assert got[row.region_id][1] == pytest.approx(row.real_wage, rel=1e-7)
        assert got[row.region_id][2] == bool(row.stable)


def test_neg_network_costs_need_roads(registry):
    with pytest.raises(QgsProcessingException, match="need the road lines"):
        processing.run("iptown:negsimulation", {"REGIONS": PREF, "ID_FIELD": "adcode", "COST": 0,
                                                "OUTPUT": "TEMPORARY_OUTPUT"})


def test_break_points_and_tomahawk(registry, tmp_path):
    res = processing.run("iptown:breakpoints", {
        "SIGMA": 5.0, "MU": 0.4, "N_T": 25, "OUTPUT": str(tmp_path / "tomahawk.gpkg"),
        "REGIONS": PREF, "ID_FIELD": "adcode", "MOBILE_FIELD": "gdp_2022", "IMMOBILE_FIELD": "pop_2020",
        "COST": 0, "ROADS": uri("roads"), "TAUS": "0.002, 0.01", "OUTPUT_BIFURCATION": str(tmp_path / "bif.gpkg")})
    # the paper's validation values (FKV 1999): T_B = 1.627, T_S = 1.807
    assert res["BREAK_POINT"] == pytest.approx(1.627, abs=1e-3)
    assert res["SUSTAIN_POINT"] == pytest.approx(1.807, abs=1e-3)
    tom = vlayer(res["OUTPUT"])
    kinds = {f["kind"] for f in tom.getFeatures()}
    assert {"symmetric", "core"} <= kinds
    sym_stable = {round(f["T"], 6): bool(f["stable"]) for f in tom.getFeatures() if f["kind"] == "symmetric"}
    assert all(st == (t > res["BREAK_POINT"]) for t, st in sym_stable.items() if abs(t - res["BREAK_POINT"]) > 0.02)
    bif = vlayer(res["OUTPUT_BIFURCATION"])
    assert bif.featureCount() == 2 * 16
    for tau in (0.002, 0.01):
        shares = [f["share"] for f in bif.getFeatures() if f["tau"] == pytest.approx(tau)]
        assert sum(shares) == pytest.approx(1.0, abs=1e-8)


@pytest.fixture(scope="module")
def mp_raster(registry, tmp_path_factory):
    out = tmp_path_factory.mktemp("mp") / "market_potential.tif"
    processing.run("iptown:marketpotential", {
        "BOUNDARY": uri("province"), "CELL": 5000, "METRIC_CRS": CRS, "MASSES": uri("seats"),
        "MASS_FIELD": "pop_2020", "MODE": 0, "OUTPUT": str(out)})
    return out


def test_rank_and_select_sites_match_library(registry, seats, mp_raster, tmp_path):
    import pandas as pd

    from iptown_gis.datasets import anhui_layer
    from iptown_gis.network import build_network
    from iptown_gis.sites.candidates import candidates_from_layer
    from iptown_gis.sites.criteria import network_costs, sample_raster
    from iptown_gis.sites.select import choose_sites, rank_sites

    res = processing.run("iptown:ranksites", {
        "CANDIDATES": uri("seats"), "ID_FIELD": "adcode", "BENEFIT_FIELDS": ["gdp_2022"],
        "COST_FIELDS": ["pop_2020"], "RASTERS": [str(mp_raster)],
        "WEIGHTS": "gdp_2022=0.5, pop_2020=0.2, market_potential=0.3", "TOP_K": 5, "DRAWS": 200, "SEED": 3,
        "METRIC_CRS": CRS, "OUTPUT": str(tmp_path / "ranked.gpkg")})
    ranked = vlayer(res["OUTPUT"])
    assert ranked.featureCount() == 120
    assert ranked.crs().authid() == CRS
    got = [(int(f["site_id"]), f["rank"], f["score"], f["p_top_k"]) for f in ranked.getFeatures()]
    # written in rank order: feature ids and iteration order follow the rank (best site first)
    assert [g[1] for g in got] == sorted(g[1] for g in got)
    assert got[0][1] == 1
    fids = [f.id() for f in ranked.getFeatures()]
    assert fids == sorted(fids)
    # the candidates' own GeoPackage fid is kept as source_fid and still points at the input feature
    src = {f.id(): int(f["adcode"]) for f in QgsVectorLayer(uri("seats"), "seats", "ogr").getFeatures()}
    assert all(src[f["source_fid"]] == int(f["site_id"]) for f in ranked.getFeatures())
    cands = candidates_from_layer(seats.reset_index(drop=True), id_field="adcode")
    crit = pd.DataFrame({"gdp_2022": cands["gdp_2022"].astype(float), "pop_2020": cands["pop_2020"].astype(float),
                         "market_potential": sample_raster(str(mp_raster), cands)}, index=cands.index)
    want = rank_sites(cands, crit, weights={"gdp_2022": 0.5, "pop_2020": 0.2, "market_potential": 0.3},
                      directions={"gdp_2022": "benefit", "pop_2020": "cost", "market_potential": "benefit"},
                      k=5, draws=200, seed=3)
    assert [g[0] for g in got] == [int(v) for v in want["site_id"]]
    np.testing.assert_allclose([g[2] for g in got], want["score"], rtol=1e-9)
    np.testing.assert_allclose([g[3] for g in got], want["p_top_k"], rtol=1e-9)

    # p-median: 3 towns for the county seats' population, over the road network
    sel = processing.run("iptown:selectsites", {
        "RANKED": res["OUTPUT"], "ID_FIELD": "site_id", "K": 3, "MODEL": 1, "ROADS": uri("roads"),
        "DEMAND": uri("seats"), "DEMAND_WEIGHT": "pop_2020", "COST": 0, "METRIC_CRS": CRS,
        "OUTPUT": str(tmp_path / "selected.gpkg")})
    chosen = vlayer(sel["OUTPUT"])
    assert chosen.featureCount() == 3
    net = build_network(anhui_layer("roads"))
    pool = want.reset_index(drop=True)
    demand = seats.reset_index(drop=True)
    dc = network_costs(net, demand, pool, weight="time", check_reach=False)
    lib = choose_sites(pool, k=3, model="pmedian", demand_cost=dc, demand_weights=demand["pop_2020"].to_numpy(float),
                       demand_ids=demand.index.tolist())
    assert sel["OBJECTIVE"] == pytest.approx(lib.summary["objective"], rel=1e-6)
    assert sorted(int(f["site_id"]) for f in chosen.getFeatures()) == sorted(int(v) for v in lib.selected["site_id"])


def test_select_location_model_needs_roads(registry, tmp_path):
    with pytest.raises(QgsProcessingException, match="needs network costs"):
        processing.run("iptown:selectsites", {"RANKED": uri("seats"), "ID_FIELD": "adcode", "K": 2, "MODEL": 1,
                                              "OUTPUT": "TEMPORARY_OUTPUT"})


def test_neg_bad_share_field_names_the_parameter(registry):
    """Shares come from the library's public ``observed_shares``; a field of zeros is reported
    with the parameter's label and the field's name."""
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer

    layer = QgsVectorLayer("Point?crs=EPSG:4548&field=rid:integer&field=gdp:double", "regions", "memory")
    feats = []
    for i in range(3):
        f = QgsFeature(layer.fields())
        f.setAttributes([i + 1, 0.0])
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(500_000 + 50_000 * i, 3_500_000)))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    with pytest.raises(QgsProcessingException, match=r"Mobile shares field.*'gdp'.*not all zero"):
        processing.run("iptown:negsimulation", {"REGIONS": layer, "ID_FIELD": "rid", "MOBILE_FIELD": "gdp",
                                                "COST": 1, "OUTPUT": "TEMPORARY_OUTPUT"})
