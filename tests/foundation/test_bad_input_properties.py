"""Property tests (issue 18): random valid layers never crash a stage; random corruptions of a
GeoPackage never leave partial output and end in a typed error (or a complete result)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from iptown_gis.cli import cli
from iptown_gis.errors import IptownError
from iptown_gis.pipeline import run_scenario

ROOT = Path(__file__).resolve().parents[2]
G = (ROOT / "sample_data" / "anhui" / "anhui.gpkg").as_posix()
CRS = "EPSG:4548"
X0, Y0, SIDE = 500_000.0, 3_500_000.0, 40_000.0

SCENARIO = """
[study]
name = "property"
crs = "EPSG:4548"
seed = 1

[inputs]
boundary = "{boundary}"
pts = "{points}"

[surfaces]
mode = "euclidean"
cell = 5000.0
masses = "pts"
mass_field = "w"
market_access = {market_access}
raster_potential = {raster}
kde_points = "pts"
kde_weight = {kde_weight}
kde_radius = {kde_radius}
hotspot_zones = false
zonal_zones = false
"""


@pytest.fixture(scope="module")
def square(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("prop") / "square.geojson"
    gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + SIDE, Y0 + SIDE)], crs=CRS).to_file(p)
    return p


_coord = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)
_weight = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e7, allow_nan=False))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xy=st.lists(st.tuples(_coord, _coord, _weight), min_size=1, max_size=25),
       market_access=st.booleans(), raster=st.booleans(), weighted=st.booleans(),
       radius=st.one_of(st.none(), st.floats(min_value=500.0, max_value=60_000.0)))
def test_random_valid_layers_never_crash_the_surfaces_stage(xy, market_access, raster, weighted, radius,
                                                            square: Path, tmp_path: Path) -> None:
    d = Path(tempfile.mkdtemp(dir=tmp_path, prefix="ex"))  # one per example (Hypothesis replays some)
    pts = gpd.GeoDataFrame({"w": [w for _, _, w in xy]},
                           geometry=[Point(X0 + SIDE * a, Y0 + SIDE * b) for a, b, _ in xy], crs=CRS)
    pts.to_file(d / "pts.geojson")
    scen = d / "scenario.toml"
    scen.write_text(SCENARIO.format(boundary=square.as_posix(), points=(d / "pts.geojson").as_posix(),
                                    market_access=str(market_access).lower(), raster=str(raster).lower(),
                                    kde_weight='"w"' if weighted else "false",
                                    kde_radius="false" if radius is None else repr(radius)), encoding="utf-8")
    out = d / "out"
    try:
        man = run_scenario(scen, out)
    except IptownError:
        assert not out.exists(), sorted(str(p) for p in out.rglob("*"))
        return
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert man["status"] == "complete"
    assert files == {o["path"] for o in man["outputs"]} | {"manifest.json"}
    assert "surfaces/market_potential.tif" in files
    assert "surfaces/kde.tif" in files
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["stages"] == ["surfaces"]


@pytest.fixture(scope="module")
def good_gpkg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    p = tmp_path_factory.mktemp("gpkg") / "seats.gpkg"
    seats = gpd.read_file(G, layer="seats").to_crs(CRS)
    seats = seats[seats.geometry.within(box(X0 - 5e4, Y0 - 5e4, X0 + SIDE + 5e4, Y0 + SIDE + 5e4))]
    if len(seats) < 3:  # the square holds few seats: place some inside it
        seats = gpd.GeoDataFrame({"w": np.arange(1.0, 21.0)},
                                 geometry=[Point(X0 + 1000 * i, Y0 + 1500 * i) for i in range(20)], crs=CRS)
    seats.to_file(p, layer="seats")
    return p.read_bytes()


_corruption = st.one_of(
    st.tuples(st.just("truncate"), st.floats(min_value=0.0, max_value=0.999)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(min_value=0.0, max_value=0.999),
                                                  st.integers(min_value=1, max_value=255)),
                                        min_size=1, max_size=40)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruption=_corruption)
def test_corrupt_geopackage_gives_typed_error_and_no_partial_output(corruption, good_gpkg: bytes, square: Path,
                                                                    tmp_path: Path) -> None:
    kind, arg = corruption
    data = bytearray(good_gpkg)
    if kind == "truncate":
        data = data[: int(len(data) * arg)]
    else:
        for where, mask in arg:
            data[int(len(data) * where)] ^= mask
    d = Path(tempfile.mkdtemp(dir=tmp_path, prefix="c"))
    src = d / "bad.gpkg"
    src.write_bytes(bytes(data))
    out = d / "out" / "k.tif"
    result = CliRunner().invoke(cli, ["-q", "surface", "kde", "--points", f"{src.as_posix()}:seats", "--boundary",
                                      square.as_posix(), "--cell", "5000", "--radius", "10000", "--out", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    assert result.exit_code in (0, 2), result.stderr
    left = sorted(p.name for p in d.rglob("*") if p != src)
    if result.exit_code == 2:
        assert "iptown: error:" in result.stderr
        assert not (d / "out").exists(), left
    else:
        assert [p.name for p in (d / "out").iterdir()] == ["k.tif"]
    assert not list(d.rglob(".*")), "temporary files left"
