"""Surface and NEG engine tools run through the engine protocol on the bundled Anhui sample,
checked against the library functions called directly on the same inputs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from engine_helpers import outputs, run

from iptown_gis.io.vector import read_vector
from iptown_gis.surfaces.grid import surface_from_geotiff

CRS = "EPSG:4548"
CELL = 10000.0
#: Four neighbouring prefecture seats (Hefei, Huainan, Ma'anshan, Lu'an): small NEG runs.
FOUR = ("340100", "340400", "340500", "341500")


def as_written(surface: Any) -> np.ndarray:
    """A library surface's values as a GeoTIFF stores them (float32; NaN outside)."""
    return np.ma.filled(surface.values.astype("float32").astype("float64"), np.nan)


def assert_same_surface(got: Any, want: Any, *, rtol: float = 0.0) -> None:
    assert got.grid.shape == want.grid.shape
    assert got.grid.transform.almost_equals(want.grid.transform)
    assert got.grid.crs == want.grid.crs
    assert (got.grid.mask == want.grid.mask).all()
    np.testing.assert_allclose(np.ma.filled(got.values, np.nan), as_written(want), rtol=rtol, atol=0.0)


@pytest.fixture(scope="module")
def g(sample_gpkg: Path) -> str:
    return str(sample_gpkg)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, g: str) -> dict[str, str]:
    """Derived inputs: layers in other CRSs, region subsets, rasters."""
    from iptown_gis.io.raster import write_geotiff

    d = tmp_path_factory.mktemp("inputs")
    seats = gpd.read_file(g, layer="seats")
    pref = seats[seats["level"] == "prefecture"].reset_index(drop=True)
    pref.to_file(d / "pref.gpkg", layer="pref")
    four = pref[pref["adcode"].astype(str).isin(FOUR)].reset_index(drop=True)
    four.to_file(d / "four.gpkg", layer="four")
    roads = gpd.read_file(g, layer="roads")
    minx, miny, maxx, maxy = four.total_bounds
    roads.cx[minx - 0.3:maxx + 0.3, miny - 0.3:maxy + 0.3].to_file(d / "four.gpkg", layer="roads")
    # the places in another projected CRS than the grid's (QGIS users mix layer CRSs)
    gpd.read_file(g, layer="places").to_crs(32650).to_file(d / "places_utm.gpkg", layer="places")
    four.assign(gdp_2022=0.0).to_file(d / "zero.gpkg", layer="zero")
    arr = np.arange(12, dtype="float64").reshape(3, 4)
    from affine import Affine

    write_geotiff(d / "degrees.tif", arr, transform=Affine(0.1, 0, 117.0, 0, -0.1, 32.0), crs="EPSG:4326")
    write_geotiff(d / "untagged.tif", arr, transform=Affine(10000.0, 0, 400000.0, 0, -10000.0, 3550000.0),
                  crs=CRS)
    return {"pref": f"{d / 'pref.gpkg'}:pref", "four": f"{d / 'four.gpkg'}:four",
            "four_roads": f"{d / 'four.gpkg'}:roads", "places_utm": f"{d / 'places_utm.gpkg'}:places",
            "zero": f"{d / 'zero.gpkg'}:zero", "degrees": str(d / "degrees.tif"),
            "untagged": str(d / "untagged.tif")}


@pytest.fixture(scope="module")
def grid(g: str) -> Any:
    """The library's grid for BOUNDARY = province, CELL = 10 km, METRIC_CRS = EPSG:4548."""
    from iptown_gis.surfaces import make_grid

    boundary = read_vector(f"{g}:province", crs=CRS)
    return make_grid(boundary, cell=CELL, crs=boundary.crs)


@pytest.fixture(scope="module")
def kde_tif(tmp_path_factory: pytest.TempPathFactory, g: str, files: dict[str, str]) -> str:
    out = outputs("kerneldensity", {
        "BOUNDARY": f"{g}:province", "CELL": CELL, "METRIC_CRS": CRS, "POINTS": files["places_utm"],
        "WEIGHT_FIELD": "population", "RADIUS": 30000, "OUTPUT": str(tmp_path_factory.mktemp("kde") / "kde.tif")})
    return str(out["OUTPUT"])


# ---------------------------------------------------------------------------- surfaces
def test_marketpotential_matches_library(tmp_path: Path, g: str, grid: Any) -> None:
    from iptown_gis.surfaces import market_potential

    out = outputs("marketpotential", {
        "BOUNDARY": f"{g}:province", "CELL": CELL, "METRIC_CRS": CRS, "MASSES": f"{g}:seats",
        "MASS_FIELD": "pop_2020", "DECAY": "exp:50000", "OUTPUT": str(tmp_path / "mp.tif")})
    assert out == {"OUTPUT": str(tmp_path / "mp.tif")}
    got = surface_from_geotiff(out["OUTPUT"])
    want = market_potential(grid, read_vector(f"{g}:seats", crs=grid.crs), mass_field="pop_2020",
                            decay="exp:50000")
    assert got.name == "market_potential"
    assert_same_surface(got, want)


def test_marketpotential_network_time(tmp_path: Path, g: str, files: dict[str, str]) -> None:
    from iptown_gis.surfaces import make_grid, market_potential

    boundary = read_vector(f"{g}:prefectures", crs=CRS).query("adcode == 340100")
    pyogrio.write_dataframe(boundary, tmp_path / "hefei.gpkg", layer="hefei")
    params = {
        "BOUNDARY": f"{tmp_path / 'hefei.gpkg'}:hefei", "CELL": CELL, "MASSES": files["four"],
        "MODE": "network", "ROADS": files["four_roads"], "COST": "time", "ACCESS_SPEED": 20.0, "DECAY": "power:2",
        "OUTPUT": str(tmp_path / "mpn.tif")}
    # four roads do not reach every cell of Hefei within the default 10 km: a typed error naming the parameter
    code, msgs = run("marketpotential", params)
    assert code != 0
    assert msgs[-1]["error"] == "NetworkError"
    assert msgs[-1]["user_error"] is True
    assert "grid cells: " in msgs[-1]["message"]
    assert "(MAX_SNAP_DISTANCE)" in msgs[-1]["message"]
    out = outputs("marketpotential", {**params, "MAX_SNAP_DISTANCE": 40_000.0})
    grid = make_grid(boundary, cell=CELL, crs=boundary.crs)
    want = market_potential(grid, read_vector(files["four"], crs=grid.crs), mass_field=None, decay="power:2",
                            mode="network", roads=read_vector(files["four_roads"], crs=grid.crs), cost="time",
                            access_speed_kmh=20.0, max_snap_distance=40_000.0)
    assert_same_surface(surface_from_geotiff(out["OUTPUT"]), want)


def test_kerneldensity_matches_library(tmp_path: Path, g: str, grid: Any, kde_tif: str) -> None:
    from iptown_gis.surfaces.kde import kde

    places = read_vector(f"{g}:places", crs=grid.crs)
    want = kde(places, grid, radius=30000, weight_field="population")
    # the points were given in EPSG:32650 and put in the grid's CRS: equal up to reprojection rounding
    assert_same_surface(surface_from_geotiff(kde_tif), want, rtol=1e-6)
    # RADIUS 0: the bandwidth rule
    out = outputs("kerneldensity", {
        "BOUNDARY": f"{g}:province", "CELL": CELL, "METRIC_CRS": CRS, "POINTS": f"{g}:places", "RADIUS": 0,
        "RULE": "scott", "KERNEL": "gaussian", "OUTPUT_VALUES": "density", "OUTPUT": str(tmp_path / "k.tif")})
    got = surface_from_geotiff(out["OUTPUT"])
    want = kde(places, grid, radius=None, rule="scott", kernel="gaussian", output="density")
    assert got.tags["iptown_radius_rule"] == "scott"
    assert_same_surface(got, want)


def test_zonalstatistics_matches_library(tmp_path: Path, g: str, kde_tif: str, files: dict[str, str]) -> None:
    from iptown_gis.surfaces.zonal import zonal_stats

    out = outputs("zonalstatistics", {
        "SURFACE": {"path": kde_tif, "name": "Kernel density"}, "ZONES": f"{g}:counties", "ID_FIELD": "adcode",
        "STATS": ["mean", "sum", "std"], "OUTPUT": str(tmp_path / "zonal.gpkg")})
    got = gpd.read_file(out["OUTPUT"], layer="zonal")
    surface = surface_from_geotiff(kde_tif)
    want = zonal_stats(surface, read_vector(f"{g}:counties", crs=surface.grid.crs), stats=["mean", "sum", "std"],
                       id_field="adcode")
    assert got.crs == surface.grid.crs
    # a surface written by the library keeps its name (the tag), whatever the layer is called
    cols = ["adcode", "kde_mean", "kde_sum", "kde_std", "kde_count"]
    pd.testing.assert_frame_equal(pd.DataFrame(got[cols]), pd.DataFrame(want[cols]), check_dtype=False)
    # default statistics; an explicit prefix; a raster without the library's tag is named as in the job
    out = outputs("zonalstatistics", {"SURFACE": kde_tif, "ZONES": f"{g}:counties", "PREFIX": "dens",
                                      "OUTPUT": str(tmp_path / "z2.gpkg")})
    assert {"dens_mean", "dens_max", "dens_sum", "dens_count"} <= set(gpd.read_file(out["OUTPUT"]).columns)
    out = outputs("zonalstatistics", {"SURFACE": {"path": files["untagged"], "name": "pop"},
                                      "ZONES": f"{g}:counties", "OUTPUT": str(tmp_path / "z3.gpkg")})
    assert "pop_mean" in gpd.read_file(out["OUTPUT"]).columns


def test_hotspots_layer_and_surface_match_library(tmp_path: Path, g: str, kde_tif: str) -> None:
    from iptown_gis.surfaces.hotspots import hotspots

    out = outputs("hotspots", {"INPUT": f"{g}:counties", "FIELD": "pop_2020", "PERMUTATIONS": 99, "SEED": 7,
                               "OUTPUT": str(tmp_path / "hot.gpkg")})
    got = gpd.read_file(out["OUTPUT"], layer="hotspots")
    want = hotspots(read_vector(f"{g}:counties"), field="pop_2020", permutations=99, seed=7)
    cols = ["adcode", "gi_z", "p", "q", "hot_spot", "cold_spot", "significance"]
    pd.testing.assert_frame_equal(pd.DataFrame(got[cols]), pd.DataFrame(want[cols]), check_dtype=False)

    out = outputs("hotspots", {"SURFACE": kde_tif, "WEIGHTS": "rook", "PERMUTATIONS": 99, "FDR": False,
                               "OUTPUT": str(tmp_path / "cells.gpkg")})
    got = gpd.read_file(out["OUTPUT"])
    want = hotspots(surface_from_geotiff(kde_tif), weights="rook", permutations=99, correction="none")
    assert len(got) == len(want) == surface_from_geotiff(kde_tif).grid.n_inside
    cols = ["gi_z", "p", "hot_spot", "significance"]
    pd.testing.assert_frame_equal(pd.DataFrame(got[cols]), pd.DataFrame(want[cols]), check_dtype=False)


# ---------------------------------------------------------------------------- NEG
def _library_neg(regions: Any, *, cost: str, od: Any = None, **kw: Any) -> pd.DataFrame:
    from iptown_gis.neg import observed_shares
    from iptown_gis.neg.config import NEGConfig, NEGScenario
    from iptown_gis.neg.scenarios import run_scenarios, scenario_table
    from iptown_gis.neg.stage import seat_costs

    cfg = NEGConfig(id_field="adcode", name_field="unit_name", mobile_field="gdp_2022", immobile_field="pop_2020",
                    polygons=None, cost=cost, scenarios=[NEGScenario(name="baseline")], **kw)
    ids = [str(v) for v in regions["adcode"]]
    lam0, phi = observed_shares(regions["gdp_2022"]), observed_shares(regions["pop_2020"])
    res = run_scenarios(seat_costs(cfg, regions, od), region_ids=ids, config=cfg, lam0=lam0, phi=phi,
                        seats=regions)
    return scenario_table(res, region_ids=ids, names=[str(v) for v in regions["unit_name"]], lam0=lam0)


NEG_FIELDS = {"ID_FIELD": "adcode", "NAME_FIELD": "unit_name", "MOBILE_FIELD": "gdp_2022",
              "IMMOBILE_FIELD": "pop_2020"}
NEG_COLUMNS = ["region_id", "name", "observed_share", "share", "wage", "price_index", "income", "real_wage",
               "utility", "stable"]


def test_negsimulation_euclidean_matches_library(tmp_path: Path, files: dict[str, str]) -> None:
    out = outputs("negsimulation", {"REGIONS": files["four"], **NEG_FIELDS, "COST": "euclidean", "SPEED": 80.0,
                                    "METRIC_CRS": CRS, "TAU": 0.02, "CONGESTION": 0.1,
                                    "OUTPUT": str(tmp_path / "neg.gpkg")})
    got = gpd.read_file(out["OUTPUT"], layer="neg")
    regions = read_vector(files["four"], crs=CRS)
    want = _library_neg(regions, cost="euclidean", euclidean_speed_kmh=80.0, tau=0.02, congestion=0.1)
    assert got.crs == regions.crs
    assert len(got) == 4
    assert (got.geometry.distance(regions.geometry) < 1e-6).all()
    pd.testing.assert_frame_equal(pd.DataFrame(got[NEG_COLUMNS]), want[NEG_COLUMNS].reset_index(drop=True),
                                  check_dtype=False)
    np.testing.assert_allclose(got["d_share"], want["share"] - want["observed_share"])
    assert got["share"].sum() == pytest.approx(1.0, abs=1e-9)


def test_negsimulation_network_matches_library(tmp_path: Path, files: dict[str, str]) -> None:
    from iptown_gis.network import build_network, od_matrix

    out = outputs("negsimulation", {"REGIONS": files["four"], **NEG_FIELDS, "ROADS": files["four_roads"],
                                    "OUTPUT": str(tmp_path / "negn.gpkg")})
    got = gpd.read_file(out["OUTPUT"])
    regions = read_vector(files["four"])
    od = od_matrix(build_network(read_vector(files["four_roads"], crs=regions.crs)), regions, id_field="adcode",
                   weight="time", largest_component=True)
    want = _library_neg(regions, cost="network", od=od)
    pd.testing.assert_frame_equal(pd.DataFrame(got[NEG_COLUMNS]), want[NEG_COLUMNS].reset_index(drop=True),
                                  check_dtype=False)


def test_breakpoints_tomahawk_bifurcation_match_library(tmp_path: Path, files: dict[str, str]) -> None:
    from iptown_gis.neg import observed_shares
    from iptown_gis.neg.breakpoints import break_point, sustain_point
    from iptown_gis.neg.config import NEGConfig
    from iptown_gis.neg.diagrams import bifurcation, tomahawk
    from iptown_gis.neg.stage import seat_costs

    params = {"SIGMA": 5.0, "MU": 0.4, "T_MIN": 1.5, "T_MAX": 1.9, "N_T": 2, "REGIONS": files["four"],
              **NEG_FIELDS, "COST": "euclidean", "TAUS": [0.05], "OUTPUT": str(tmp_path / "tom.gpkg"),
              "OUTPUT_BIFURCATION": str(tmp_path / "bif.gpkg")}
    out = outputs("breakpoints", params)
    assert out["BREAK_POINT"] == break_point(5.0, 0.4)
    assert out["SUSTAIN_POINT"] == sustain_point(5.0, 0.4)
    assert round(out["BREAK_POINT"], 3) == 1.627
    assert round(out["SUSTAIN_POINT"], 3) == 1.807
    tom = pyogrio.read_dataframe(out["OUTPUT"], layer="tomahawk")
    want = tomahawk(5.0, 0.4, T_range=(1.5, 1.9), n_T=2)
    pd.testing.assert_frame_equal(tom, want, check_dtype=False)

    regions = read_vector(files["four"])
    cfg = NEGConfig(id_field="adcode", cost="euclidean", polygons=None)
    bif = pyogrio.read_dataframe(out["OUTPUT_BIFURCATION"], layer="bifurcation")
    bwant = bifurcation(seat_costs(cfg, regions), [0.05], sigma=5.0, mu=0.4,
                        phi=observed_shares(regions["pop_2020"]), lam0=observed_shares(regions["gdp_2022"]),
                        region_ids=[str(v) for v in regions["adcode"]])
    assert len(bif) == 4
    pd.testing.assert_frame_equal(bif, bwant, check_dtype=False)

    # TAUS without an OUTPUT_BIFURCATION path: no bifurcation diagram (and no regions read)
    del params["OUTPUT_BIFURCATION"]
    params.update(OUTPUT=str(tmp_path / "tom2.gpkg"), REGIONS=files["zero"], MOBILE_FIELD="gdp_2022")
    code, msgs = run("breakpoints", params)
    assert code == 0, msgs[-1]
    assert set(msgs[-1]["outputs"]) == {"OUTPUT", "BREAK_POINT", "SUSTAIN_POINT"}
    assert any("no bifurcation diagram" in m.get("message", "") for m in msgs if m["type"] == "log")


# ---------------------------------------------------------------------------- errors
def _grid(g: str) -> dict[str, Any]:
    return {"BOUNDARY": f"{g}:province", "CELL": 20000}


ERRORS: list[tuple[str, Callable[[str, dict[str, str]], dict[str, Any]], str, str]] = [
    ("marketpotential", lambda g, f: {**_grid(g), "MASSES": f"{g}:seats", "MODE": "network"},
     "ParameterError", r"network distances need the road lines: set 'Road lines'"),
    ("hotspots", lambda g, f: {}, "ParameterError",
     r"give either a layer and its field, or a surface raster \(exactly one\)"),
    ("hotspots", lambda g, f: {"INPUT": f"{g}:counties", "FIELD": "pop_2020", "SURFACE": f["untagged"]},
     "ParameterError", r"give either a layer and its field, or a surface raster \(exactly one\)"),
    ("hotspots", lambda g, f: {"INPUT": f"{g}:counties"}, "ParameterError",
     r"a layer needs the field to test: set 'Field to test'"),
    ("hotspots", lambda g, f: {"SURFACE": f["degrees"]}, "CRSError",
     r"raster '.*degrees\.tif' is in degrees \(WGS 84\); warp it to a metric CRS"),
    ("zonalstatistics", lambda g, f: {"SURFACE": f["degrees"], "ZONES": f"{g}:counties"}, "CRSError",
     r"is in degrees .*Raster > Projections > Warp"),
    ("negsimulation", lambda g, f: {"REGIONS": f["pref"], "COST": "euclidean"}, "ParameterError",
     r"^set the region id field$"),
    ("negsimulation", lambda g, f: {"REGIONS": f["pref"], "ID_FIELD": "adcode"}, "ParameterError",
     r"network travel costs need the road lines: set 'Road lines' \(or choose euclidean costs\)"),
    ("negsimulation", lambda g, f: {"REGIONS": f["pref"], "ID_FIELD": "adcode", "MOBILE_FIELD": "gdp",
                                    "COST": "euclidean"},
     "ColumnError", r"Mobile shares field \(e\.g\. GDP; empty: equal\): no column 'gdp'"),
    ("negsimulation", lambda g, f: {"REGIONS": f"{g}:seats", "ID_FIELD": "level", "COST": "euclidean"},
     "ColumnError", r"Region id field 'level' has duplicate ids \['county', 'prefecture'\]"),
    ("negsimulation", lambda g, f: {"REGIONS": f["pref"], "ID_FIELD": "adcode", "COST": "euclidean", "TAU": 0},
     "ParameterError", r"'τ trade cost per minute of travel' \(TAU\): Input should be greater than 0"),
    ("negsimulation", lambda g, f: {"REGIONS": f["zero"], "ID_FIELD": "adcode", "MOBILE_FIELD": "gdp_2022",
                                    "COST": "euclidean"},
     "ColumnError", r"Mobile shares field.*'gdp_2022': values must be .*not all zero"),
    ("breakpoints", lambda g, f: {"TAUS": "0.002, 0.01"}, "ParameterError",
     r"a bifurcation diagram needs the regions \(and their id field\)"),
    ("breakpoints", lambda g, f: {"TAUS": "0.002, x", "REGIONS": f["four"]}, "ParameterError",
     r"τ values: 'x' is not a number"),
]


@pytest.mark.parametrize(("algorithm", "params", "error", "pattern"), ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors(tmp_path: Path, g: str, files: dict[str, str], algorithm: str,
                params: Callable[[str, dict[str, str]], dict[str, Any]], error: str, pattern: str) -> None:
    ext = ".tif" if algorithm in ("marketpotential", "kerneldensity") else ".gpkg"
    code, msgs = run(algorithm, {**params(g, files), "OUTPUT": str(tmp_path / f"out{ext}")})
    assert code == 2, msgs[-1]
    last = msgs[-1]
    assert last["type"] == "error"
    assert last["user_error"] is True
    assert last["error"] == error
    assert re.search(pattern, last["message"]), last["message"]
    assert not (tmp_path / f"out{ext}").exists()


def test_defaults_published(g: str) -> None:
    from iptown_gis.engine import describe
    from iptown_gis.neg.config import NEGConfig

    algs = describe()["algorithms"]
    assert algs["zonalstatistics"]["defaults"]["STATS"] == ["mean", "max", "sum"]
    assert algs["kerneldensity"]["defaults"]["RADIUS"] == 30000.0
    assert algs["marketpotential"]["defaults"]["CELL"] == 1000.0
    neg = algs["negsimulation"]["defaults"]
    assert neg["SIGMA"] == NEGConfig.model_fields["sigma"].default
    assert neg["CONGESTION"] == NEGConfig.model_fields["congestion"].default
    assert neg["COST"] == "network"
    assert algs["breakpoints"]["defaults"]["N_T"] == 120
    assert algs["hotspots"]["defaults"]["FDR"] is True
