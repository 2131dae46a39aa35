"""Bad inputs end in a typed error and exit code 2 with a message naming the problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


# ---------------------------------------------------------------- shared helpers for the checks below
def _one_line_error(code: int, out: str, *needles: str) -> None:
    """Exit code 2, one ``iptown: error:`` line holding every needle, no traceback."""
    assert code == 2, out
    assert "Traceback" not in out
    lines = sorted({ln for ln in out.splitlines() if ln.startswith("iptown: error:")})  # _run repeats stderr
    assert len(lines) == 1, out
    for n in needles:
        assert n in lines[0], lines[0]


_MAIN = "import sys; from iptown_gis.cli import main; sys.argv[0] = 'iptown'; main()"


def _process(args: list[str], code: str = _MAIN) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter (real file descriptors 1 and 2)."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          check=False)


# ---------------------------------------------------------------- 1. scenario file and --stage
def test_scenario_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    out = tmp_path / "o"
    code, text = _run(["run", str(folder), "--out", str(out)])
    _one_line_error(code, text, "is a folder", ".toml")
    assert not out.exists()


def test_empty_scenario_file(tmp_path: Path) -> None:
    scen = tmp_path / "scenario.toml"
    scen.write_bytes(b"")
    out = tmp_path / "o"
    code, text = _run(["run", str(scen), "--out", str(out)])
    _one_line_error(code, text, "scenario.toml", "is empty", "[inputs]")
    assert not out.exists()


def test_stage_not_in_scenario(tmp_path: Path, sample_dir: Path) -> None:
    scen = _scenario(tmp_path, sample_dir, extra="[report]\n")
    out = tmp_path / "o"
    code, text = _run(["run", str(scen), "--stage", "network", "--out", str(out)])
    _one_line_error(code, text, "--stage network", "no [network] section", "report")
    assert not out.exists()


def test_scenario_without_stages(tmp_path: Path, sample_dir: Path) -> None:
    scen = _scenario(tmp_path, sample_dir)
    out = tmp_path / "o"
    code, text = _run(["run", str(scen), "--out", str(out)])
    _one_line_error(code, text, "no stage section", "[network]")
    assert not out.exists()


def test_unknown_stage(tmp_path: Path, sample_dir: Path) -> None:
    scen = _scenario(tmp_path, sample_dir, extra="[report]\n")
    out = tmp_path / "o"
    code, text = _run(["run", str(scen), "--stage", "weather", "--out", str(out)])
    _one_line_error(code, text, "--stage weather", "unknown stage", "network")
    assert not out.exists()


# ---------------------------------------------------------------- 2. stdout holds only the command's output
def test_native_writes_to_fd1_go_to_stderr(tmp_path: Path) -> None:
    code = (
        "import os, sys, click\n"
        "from iptown_gis.cli import cli, main\n"
        "from iptown_gis.cli._common import echo_json\n"
        "@cli.command('noisy')\n"
        "def noisy():\n"
        "    os.write(1, b'native banner\\n')\n"
        "    echo_json({'ok': 1})\n"
        "sys.argv[0] = 'iptown'\n"
        "main()\n"
    )
    proc = _process(["-q", "noisy"], code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"ok": 1}
    assert "native banner" in proc.stderr


def test_engine_protocol_still_on_stdout() -> None:
    proc = subprocess.run([sys.executable, "-c", _MAIN, "engine", "run", "-"], input='{"algorithm": "x"}',
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    message = json.loads(proc.stdout.splitlines()[-1])
    assert message["type"] == "error"


def test_highs_prints_nothing_on_stdout() -> None:
    proc = _process([], "from iptown_gis._highs import new_highs; h = new_highs(); h2 = new_highs()")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_zoning_json_is_valid_json(tmp_path: Path) -> None:
    from iptown_gis.zoning import grid_cells

    cs = grid_cells((500000, 3500000, 500600, 3500600), 100.0, crs="EPSG:4548")
    g = cs.to_geodataframe()
    x = (cs.centroids[:, 0] - 500000) / 600
    g["sb"], g["se"], g["sw"] = 1 - abs(x - 0.5), x, 1 - x
    cells = tmp_path / "cells.gpkg"
    g.to_file(cells, layer="grid", driver="GPKG")
    args = ["zoning", "optimise", "--cells", f"{cells}:grid", "--body", "6", "--wing-east", "4",
            "--wing-west", "4", "--suit-body", "sb", "--suit-east", "se", "--suit-west", "sw",
            "--method", "exact", "--time-limit", "60", "--out", str(tmp_path / "out"), "--json"]
    for extra in ([], ["-q"]):
        proc = _process([*extra, *args])
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["method"] == "exact"
        assert "Running HiGHS" not in proc.stdout


# ---------------------------------------------------------------- 3. --workers and --memory-budget
def test_too_many_workers(tmp_path: Path) -> None:
    out = tmp_path / "o"
    code, text = _run(["run", "--workers", "1000", "--out", str(out)])
    limit = 4 * (os.cpu_count() or 1)
    _one_line_error(code, text, "--workers 1000", f"at most {limit}")
    assert not out.exists()


def test_memory_budget_above_physical_memory(tmp_path: Path, sample_dir: Path) -> None:
    gpkg = sample_dir / "anhui.gpkg"
    out = tmp_path / "kde.tif"
    code, text = _run(["surface", "kde", "--points", f"{gpkg}:places", "--boundary", f"{gpkg}:province",
                       "--cell", "5000", "--memory-budget", "100TB", "--out", str(out)])
    _one_line_error(code, text, "--memory-budget '100TB'", "physical memory")
    assert not out.exists()


@pytest.mark.parametrize(("setting", "needles"), [
    ("workers = 1000", ("[parallel] workers = 1000", "at most")),
    ('memory_budget = "100TB"', ("[parallel] memory_budget = '100TB'", "physical memory")),
])
def test_parallel_section_limits(tmp_path: Path, sample_dir: Path, setting: str, needles: tuple[str, ...]) -> None:
    extra = "[report]\n\n[parallel]\n" + setting + ("\nworkers = 1\n" if "memory" in setting else "\n")
    scen = _scenario(tmp_path, sample_dir, extra=extra)
    out = tmp_path / "o"
    code, text = _run(["run", str(scen), "--out", str(out)])
    _one_line_error(code, text, *needles)
    assert not out.exists()


# ---------------------------------------------------------------- 4. crs convert refuses to replace
def _points_gpkg(tmp_path: Path) -> Path:
    gdf = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[Point(116, 31), Point(117, 32)], crs="EPSG:4326")
    path = tmp_path / "pts.gpkg"
    gdf.to_file(path, layer="pois", driver="GPKG")
    gdf.assign(a=[7, 8]).to_file(path, layer="other", driver="GPKG")
    return path


def test_convert_no_overwrite_keeps_existing_layer(tmp_path: Path) -> None:
    path = _points_gpkg(tmp_path)
    before = path.read_bytes()
    code, text = _run(["crs", "convert", "--from", "gcj02", "--to", "wgs84", "--no-overwrite",
                       f"{path}:pois", f"{path}:other"])
    _one_line_error(code, text, "layer 'other'", "--overwrite")
    assert path.read_bytes() == before


def test_convert_no_overwrite_keeps_existing_file(tmp_path: Path) -> None:
    path = _points_gpkg(tmp_path)
    target = tmp_path / "out.geojson"
    target.write_text("{}")
    code, text = _run(["crs", "convert", "--from", "gcj02", "--to", "wgs84", "--no-overwrite",
                       f"{path}:pois", str(target)])
    _one_line_error(code, text, "out.geojson", "exists", "--overwrite")
    assert target.read_text() == "{}"


@pytest.mark.parametrize("out_spec", ["{p}:pois", "{d}/./pts.gpkg:pois"])
def test_convert_in_place_is_refused(tmp_path: Path, out_spec: str) -> None:
    path = _points_gpkg(tmp_path)
    before = path.read_bytes()
    code, text = _run(["crs", "convert", "--from", "gcj02", "--to", "wgs84", f"{path}:pois",
                       out_spec.format(p=path, d=tmp_path)])
    _one_line_error(code, text, "same layer as IN", "another file or another layer")
    assert path.read_bytes() == before


def test_convert_no_crs_names_the_flag(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(116, 31)], crs=None)
    shp = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="crs"):
        gdf.to_file(shp)
    out = tmp_path / "out.gpkg"
    code, text = _run(["crs", "convert", "--from", "gcj02", "--to", "wgs84", str(shp), str(out)])
    _one_line_error(code, text, "has no CRS", "--crs")
    assert not out.exists()


# ---------------------------------------------------------------- 5. text encodings
_LATIN1_GEOJSON = ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                   '{"name": "Café Müller"}, "geometry": {"type": "Point", "coordinates": [116.0, 31.0]}}]}')


def _latin1_shapefile(tmp_path: Path, cpg: str | None) -> Path:
    gdf = gpd.GeoDataFrame({"name": ["Café", "Müller"], "Straße": [1, 2]},
                           geometry=[Point(116, 31), Point(117, 32)], crs="EPSG:4326")
    shp = tmp_path / "latin.shp"
    gdf.to_file(shp, encoding="latin1", engine="pyogrio")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    if cpg is not None:
        shp.with_suffix(".cpg").write_text(cpg)  # a wrong declaration
    return shp


def _convert_and_read(src: Path, tmp_path: Path) -> gpd.GeoDataFrame:
    out = tmp_path / "out.gpkg"
    code, text = _run(["crs", "convert", "--from", "wgs84", "--to", "wgs84", str(src), str(out)])
    assert code == 0, text
    assert "Traceback" not in text
    return gpd.read_file(out)


def test_latin1_geojson(tmp_path: Path) -> None:
    src = tmp_path / "latin.geojson"
    src.write_bytes(_LATIN1_GEOJSON.encode("latin-1"))
    assert _convert_and_read(src, tmp_path)["name"].tolist() == ["Café Müller"]


@pytest.mark.parametrize("cpg", [None, "UTF-8"])
def test_latin1_shapefile(tmp_path: Path, cpg: str | None) -> None:
    got = _convert_and_read(_latin1_shapefile(tmp_path, cpg), tmp_path)
    assert got["name"].tolist() == ["Café", "Müller"]
    assert "Straße" in got.columns


def test_undecodable_file_says_to_declare_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "latin.geojson"
    src.write_bytes(_LATIN1_GEOJSON.encode("latin-1"))
    monkeypatch.setattr("iptown_gis.io.vector.FALLBACK_ENCODINGS", ("UTF-8",))
    out = tmp_path / "out.gpkg"
    code, text = _run(["crs", "convert", "--from", "wgs84", "--to", "wgs84", str(src), str(out)])
    _one_line_error(code, text, "latin.geojson", "cannot decode", "declare its encoding", ".cpg")
    assert not out.exists()


# ---------------------------------------------------------------- 6. messages name CLI flags
def test_message_names_the_cli_flag(tmp_path: Path, sample_dir: Path) -> None:
    gpkg = sample_dir / "anhui.gpkg"
    boundary = tmp_path / "boundary.gpkg"
    gpd.read_file(gpkg, layer="province").to_crs("EPSG:4548").to_file(boundary, layer="b", driver="GPKG")
    out = tmp_path / "kde.tif"
    code, text = _run(["surface", "kde", "--points", f"{gpkg}:places", "--boundary", f"{boundary}:b",
                       "--cell", "20000", "--out", str(out)])
    _one_line_error(code, text, "--reproject (reproject=True)")
    assert not out.exists()


def test_cli_translates_python_arguments() -> None:
    import click

    from iptown_gis.cli._common import cli_message

    with click.Context(cli) as ctx:
        ctx.invoked_subcommand = "zoning"
        assert cli_message("or use largest_component=True", ctx) == (
            "or use --largest-component (largest_component=True)")
        assert cli_message("use reproject=True (--reproject)", ctx) == "use reproject=True (--reproject)"
        ctx.invoked_subcommand = "crs"
        assert cli_message("or pass overwrite=True", ctx) == "or pass --overwrite (overwrite=True)"
        ctx.invoked_subcommand = "run"
        assert cli_message("use largest_component=True", ctx) == "use largest_component=True"


# ---------------------------------------------------------------- 7. pyogrio's INFO lines
def test_pyogrio_info_lines_are_silenced(tmp_path: Path) -> None:
    path = _points_gpkg(tmp_path)
    args = ["crs", "convert", "--from", "gcj02", "--to", "wgs84", f"{path}:pois"]
    proc = _process([*args, str(tmp_path / "a.gpkg")])
    assert proc.returncode == 0, proc.stderr
    assert "Created" not in proc.stderr
    assert "iptown_gis" in proc.stderr  # the package's own INFO lines stay
    proc = _process(["-vv", *args, str(tmp_path / "b.gpkg")])
    assert proc.returncode == 0, proc.stderr
    assert "Created" in proc.stderr


# ---------------------------------------------------------------- 8. packaging
def test_license_file_exists() -> None:
    root = Path(__file__).resolve().parents[2]
    text = (root / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in text
    assert "Copyright (c) 2026 iptown_gis developers" in text
