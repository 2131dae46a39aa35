"""Bad inputs end in a typed error and exit code 2 with a message naming the problem."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from iptown_gis.cli import cli


def _scenario(tmp_path: Path, sample_dir: Path, extra: str = "", inputs: str | None = None) -> Path:
    if inputs is None:
        gpkg = (sample_dir / "anhui.gpkg").as_posix()
        inputs = f'seats = "{gpkg}:seats"\n'
    text = f'[study]\nname = "t"\ncrs = "EPSG:4548"\n\n[inputs]\n{inputs}\n{extra}'
    p = tmp_path / "scenario.toml"
    p.write_text(text, encoding="utf-8")
    return p


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_missing_scenario_file(tmp_path: Path) -> None:
    code, out = _run(["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "does not exist" in out
    assert "Traceback" not in out


def test_missing_input_file(tmp_path: Path, sample_dir: Path) -> None:
    scen = _scenario(tmp_path, sample_dir, inputs='roads = "missing.gpkg:roads"\n')
    code, out = _run(["run", str(scen), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "missing.gpkg" in out
    assert "does not exist" in out


def test_missing_layer(tmp_path: Path, sample_dir: Path) -> None:
    gpkg = (sample_dir / "anhui.gpkg").as_posix()
    scen = _scenario(tmp_path, sample_dir, inputs=f'roads = "{gpkg}:highways"\n')
    code, out = _run(["info", str(scen)])
    assert code == 2
    assert "no layer 'highways'" in out


def test_unknown_column_in_scenario(tmp_path: Path, sample_dir: Path) -> None:
    gpkg = (sample_dir / "anhui.gpkg").as_posix()
    scen = _scenario(
        tmp_path, sample_dir, inputs=f'seats = {{ path = "{gpkg}", layer = "seats", id_field = "code" }}\n'
    )
    code, out = _run(["run", str(scen), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "id_field = 'code'" in out
    assert "adcode" in out  # lists the real columns


def test_unknown_key_in_scenario(tmp_path: Path, sample_dir: Path) -> None:
    p = _scenario(tmp_path, sample_dir)
    p.write_text(p.read_text().replace('name = "t"', 'name = "t"\ncrss = "EPSG:4548"'))
    code, out = _run(["info", str(p)])
    assert code == 2
    assert "[study] crss: unknown key" in out


def test_unknown_section(tmp_path: Path, sample_dir: Path) -> None:
    scen = _scenario(tmp_path, sample_dir, extra="[magic]\nx = 1\n")
    code, out = _run(["info", str(scen)])
    assert code == 2
    assert "unknown section(s) [magic]" in out


def test_layer_without_crs(tmp_path: Path, sample_dir: Path) -> None:
    gdf = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)], crs=None)
    shp = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="crs"):
        gdf.to_file(shp)
    scen = _scenario(tmp_path, sample_dir, inputs=f'pts = "{shp.as_posix()}"\n')
    from iptown_gis.errors import CRSError
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.scenario import load_scenario

    ctx = StudyContext(scenario=load_scenario(scen), out_dir=tmp_path)
    with pytest.raises(CRSError, match="has no CRS: assign one"):
        ctx.layer("pts")


def test_empty_layer(tmp_path: Path) -> None:
    from iptown_gis.errors import GeometryError
    from iptown_gis.io import read_vector

    gdf = gpd.GeoDataFrame({"a": []}, geometry=[], crs="EPSG:4326")
    path = tmp_path / "empty.gpkg"
    gdf.to_file(path, layer="pts")
    with pytest.raises(GeometryError, match="is empty"):
        read_vector(f"{path}:pts")


def test_unwritable_output_folder(tmp_path: Path) -> None:
    target = tmp_path / "locked"
    target.mkdir()
    if os.geteuid() == 0:
        # root ignores permission bits: a file where the folder should be is just as unwritable
        target.rmdir()
        target.write_text("not a folder")
        code, out = _run(["run", "--out", str(target)])
    else:
        target.chmod(0o500)
        code, out = _run(["run", "--out", str(target)])
    assert code == 2
    assert "output folder" in out


def test_output_inside_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    code, out = _run(["run", "--out", str(f / "sub")])
    assert code == 2
    assert "cannot create output folder" in out


def test_debug_shows_traceback(tmp_path: Path) -> None:
    from iptown_gis.errors import DataNotFoundError

    result = CliRunner().invoke(cli, ["--debug", "info", str(tmp_path / "nope.toml")])
    assert isinstance(result.exception, DataNotFoundError)
