"""I/O layer, CRS policy, atomic outputs, scenario validation, progress, datasets."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from iptown_gis import datasets
from iptown_gis.crs import metric_crs_for, to_metric
from iptown_gis.errors import (
    CancelledError,
    ColumnError,
    CRSError,
    DataNotFoundError,
    GeometryError,
    OutputError,
    ScenarioError,
)
from iptown_gis.io import atomic_path, parse_layer_spec, read_raster, read_vector, write_geotiff, write_vector
from iptown_gis.progress import as_progress
from iptown_gis.scenario import load_scenario


def test_datasets_anhui_layers() -> None:
    layers = datasets.anhui()
    assert len(layers["seats"]) == 120
    assert len(layers["counties"]) == 104
    assert len(layers["prefectures"]) == 16
    assert layers["seats"].crs.to_epsg() == 4548
    # county populations add up exactly to the 2020 census total of the province
    assert int(layers["counties"]["pop_2020"].sum()) == 61_027_171
    assert int(layers["prefectures"]["pop_2020"].sum()) == 61_027_171


def test_layer_spec_parsing(sample_gpkg: Path) -> None:
    ls = parse_layer_spec(f"{sample_gpkg}:roads")
    assert ls.path == sample_gpkg
    assert ls.layer == "roads"
    assert parse_layer_spec("C:/data/roads.shp").layer is None
    assert parse_layer_spec("plain.geojson").layer is None


def test_read_vector_projects_degrees_to_metric(sample_gpkg: Path) -> None:
    gdf = read_vector(f"{sample_gpkg}:seats")
    assert gdf.crs.to_epsg() == 32650  # UTM 50N from the extent
    gdf = read_vector(sample_gpkg, layer="seats", crs="EPSG:4548")
    assert gdf.crs.to_epsg() == 4548


def test_read_vector_errors(sample_gpkg: Path, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist"):
        read_vector(tmp_path / "none.gpkg")
    with pytest.raises(DataNotFoundError, match="no layer 'nope'"):
        read_vector(f"{sample_gpkg}:nope")
    with pytest.raises(ColumnError, match="no column 'speed'"):
        read_vector(f"{sample_gpkg}:roads", columns=["speed"])
    with pytest.raises(GeometryError, match="expected Polygon"):
        read_vector(f"{sample_gpkg}:seats", geom_types=["Polygon"])
    with pytest.raises(CRSError, match="geographic"):
        read_vector(f"{sample_gpkg}:seats", crs="EPSG:4326")


def test_missing_geometry_is_an_error(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[Point(0, 0), None], crs="EPSG:4326")
    p = tmp_path / "g.gpkg"
    gdf.to_file(p)
    with pytest.raises(GeometryError, match="have no geometry"):
        read_vector(p)


def test_gbk_shapefile(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["合肥市", "芜湖市"]}, geometry=[Point(117.2, 31.8), Point(118.4, 31.3)],
                           crs="EPSG:4326")
    shp = tmp_path / "gbk.shp"
    gdf.to_file(shp, encoding="GBK")
    (tmp_path / "gbk.cpg").write_text("936")
    back = read_vector(shp, metric=False)
    assert list(back["name"]) == ["合肥市", "芜湖市"]


@settings(max_examples=30, deadline=None)
@given(lon=st.floats(-179, 179), lat=st.floats(-80, 80))
def test_metric_crs_is_utm_of_extent(lon: float, lat: float) -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(lon, lat)], crs="EPSG:4326")
    crs = metric_crs_for(gdf)
    zone = int((lon + 180) // 6) + 1
    assert crs.to_epsg() == (32600 if lat >= 0 else 32700) + zone
    assert not crs.is_geographic


def test_to_metric_requires_crs() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(0, 0)])
    with pytest.raises(CRSError, match="has no CRS"):
        to_metric(gdf)


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    def fail() -> None:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_write_vector_formats(tmp_path: Path, sample_gpkg: Path) -> None:
    seats = read_vector(f"{sample_gpkg}:seats", crs="EPSG:4548")
    write_vector(seats, tmp_path / "s.gpkg", layer="seats")
    write_vector(seats.head(3), tmp_path / "s.gpkg", layer="three")
    assert len(gpd.read_file(tmp_path / "s.gpkg", layer="seats")) == 120
    assert len(gpd.read_file(tmp_path / "s.gpkg", layer="three")) == 3
    write_vector(seats, tmp_path / "s.geojson")
    assert gpd.read_file(tmp_path / "s.geojson").crs.to_epsg() == 4326
    write_vector(seats, tmp_path / "s.shp")
    assert len(gpd.read_file(tmp_path / "s.shp")) == 120
    with pytest.raises(OutputError, match="unsupported vector format"):
        write_vector(seats, tmp_path / "s.xyz")
    assert not list(tmp_path.glob(".*"))


def test_geotiff_roundtrip(tmp_path: Path) -> None:
    data = np.ma.masked_invalid(np.arange(600 * 500, dtype=float).reshape(600, 500))
    data[0, 0] = np.ma.masked
    t = Affine(1000, 0, 500000, 0, -1000, 3500000)
    p = write_geotiff(tmp_path / "r.tif", data, transform=t, crs="EPSG:4548", tags={"decay": "power:1"})
    r = read_raster(p)
    assert r.crs.to_epsg() == 4548
    assert r.data.mask[0, 0]
    assert float(r.data[10, 10]) == pytest.approx(10 * 500 + 10)
    assert r.tags["decay"] == "power:1"
    with rasterio.open(p) as src:
        assert src.overviews(1)
    with pytest.raises(CRSError, match="without a CRS"):
        write_geotiff(tmp_path / "x.tif", data, transform=t, crs=None)
    with pytest.raises(DataNotFoundError):
        read_raster(tmp_path / "nope.tif")


def test_default_scenario_loads(scenario_path: Path) -> None:
    scen = load_scenario()
    assert scen.source == scenario_path.resolve()
    assert scen.study.crs == "EPSG:4548"
    assert "roads" in scen.inputs
    assert scen.input_path("roads").exists()


def test_scenario_errors(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text("[study\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(p)
    p.write_text('[study]\nseed = "many"\n')
    with pytest.raises(ScenarioError, match=r"\[study\] seed: Input should be a valid integer"):
        load_scenario(p)
    p.write_text('[inputs]\nroads = { file = "x.gpkg" }\n')
    with pytest.raises(ScenarioError, match=r"\[inputs.roads\] file: unknown key"):
        load_scenario(p)


def test_progress_cancel_and_subranges() -> None:
    seen: list[float] = []

    def cb(f: float, msg: str) -> bool:
        seen.append(round(f, 3))
        return f < 0.6

    prog = as_progress(cb)
    a, b = prog.steps(2)
    a.update(0.5, "half of a")
    a.update(1.0)
    assert seen == [0.25, 0.5]
    with pytest.raises(CancelledError):
        b.update(0.5)
    as_progress(None).update(0.5)  # no callback, no error
