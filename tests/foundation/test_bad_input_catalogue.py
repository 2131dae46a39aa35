"""The bad-input catalogue (issue 18): every row through the CLI, and the Python API.

Each CLI row must end with exit code 2, exactly one ``iptown: error:`` line on stderr that
contains the row's needles (the flag or key, and the fix), no traceback, and nothing left at
the row's output path. The rows run in-process (click's ``CliRunner``) and fail before any
heavy work, so the whole table takes seconds. The Python rows check that the library raises
an :class:`IptownError` subclass (with the message's key words).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, Point, box

from iptown_gis.cli import cli
from iptown_gis.errors import (
    ColumnError,
    DataNotFoundError,
    GeometryError,
    IptownError,
    OutputError,
    ParameterError,
    ScenarioError,
)

ROOT = Path(__file__).resolve().parents[2]
G = (ROOT / "sample_data" / "anhui" / "anhui.gpkg").as_posix()


# --------------------------------------------------------------------------- bad files


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Small bad (and good) files shared by the rows; paths by name."""
    d = tmp_path_factory.mktemp("bad")
    f: dict[str, str] = {"dir": d.as_posix()}
    seats = gpd.read_file(G, layer="seats").to_crs("EPSG:4548").head(30)
    seats.to_file(d / "seats.gpkg", layer="seats")
    f["seats"] = f"{(d / 'seats.gpkg').as_posix()}:seats"
    square = gpd.GeoDataFrame(geometry=[box(500_000, 3_500_000, 540_000, 3_540_000)], crs="EPSG:4548")
    square.to_file(d / "square.geojson")
    f["square"] = (d / "square.geojson").as_posix()
    far = gpd.GeoDataFrame({"w": [1.0, 2.0]}, geometry=[Point(2_500_000, 0), Point(2_600_000, 0)],
                           crs="EPSG:4548")
    far.to_file(d / "far.geojson")
    f["far"] = (d / "far.geojson").as_posix()
    lines = gpd.GeoDataFrame({"w": [1.0]}, geometry=[LineString([(500_000, 3_500_000), (510_000, 3_510_000)])],
                             crs="EPSG:4548")
    lines.to_file(d / "lines.geojson")
    f["lines"] = (d / "lines.geojson").as_posix()
    nocrs = gpd.GeoDataFrame({"w": [1.0]}, geometry=[Point(1, 1)])
    with pytest.warns(UserWarning, match="crs"):
        nocrs.to_file(d / "nocrs.shp")
    f["nocrs"] = (d / "nocrs.shp").as_posix()
    empty = gpd.GeoDataFrame({"w": []}, geometry=[], crs="EPSG:4548")
    empty.to_file(d / "empty.gpkg", layer="pts")
    f["empty"] = f"{(d / 'empty.gpkg').as_posix()}:pts"
    (d / "zero.gpkg").write_bytes(b"")
    f["zero"] = (d / "zero.gpkg").as_posix()
    raw = (d / "seats.gpkg").read_bytes()
    (d / "corrupt.gpkg").write_bytes(raw[:100] + b"\xff" * 4096 + raw[4196:])
    f["corrupt"] = (d / "corrupt.gpkg").as_posix()
    (d / "notgis.geojson").write_text("this is not JSON", encoding="utf-8")
    f["notgis"] = (d / "notgis.geojson").as_posix()
    (d / "existing.gpkg").write_bytes(raw)
    f["existing"] = (d / "existing.gpkg").as_posix()
    (d / "afile").write_text("x", encoding="utf-8")
    f["afile"] = (d / "afile").as_posix()
    return f


def _scenario(d: str, body: str, inputs: str | None = None) -> str:
    """A scenario file with the sample's inputs (or ``inputs``) and ``body``; its path."""
    if inputs is None:
        inputs = (f'boundary = "{G}:province"\ncounty_seats = {{ path = "{G}", layer = "seats", '
                  f'where = "level == \'county\'" }}\ncounties = "{G}:counties"\nroads = "{G}:roads"\n')
    text = f'[study]\nname = "t"\ncrs = "EPSG:4548"\n\n[inputs]\n{inputs}\n{body}\n'
    import hashlib

    p = Path(d) / f"scen_{hashlib.sha1(text.encode()).hexdigest()[:10]}.toml"
    p.write_text(text, encoding="utf-8")
    return p.as_posix()


_FAST = '[surfaces]\nmode = "euclidean"\ncell = 20000.0\nraster_potential = false\nmarket_access = false\n'

#: (id, args (with {name} for the bad files and {out} for the row's output), needles)
#: ``{scen:BODY}`` writes a scenario with BODY; ``{scen_in:INPUTS|BODY}`` with other inputs.
ROWS: list[tuple[str, list[str], list[str]]] = [
    # ---- iptown run: the scenario
    ("run-missing-scenario", ["run", "{dir}/nope.toml", "--out", "{out}"], ["nope.toml", "does not exist"]),
    ("run-scenario-is-folder", ["run", "{dir}", "--out", "{out}"], ["is a folder", ".toml"]),
    ("run-empty-scenario", ["run", "{scen_raw:}", "--out", "{out}"], ["empty", "[inputs]"]),
    ("run-invalid-toml", ["run", "{scen_raw:[study\nname=}", "--out", "{out}"], ["not valid TOML"]),
    ("run-unknown-section", ["run", "{scen:[weather]\nrain = 1}", "--out", "{out}"],
     ["[weather]", "sections are"]),
    ("run-unknown-key", ["run", "{scen:[surfaces]\ncel = 100.0}", "--out", "{out}"],
     ["[surfaces] cel", "unknown key", "allowed"]),
    ("run-kde-points-none-string", ["run", '{scen:[surfaces]\nkde_points = "none"}', "--out", "{out}"],
     ["kde_points", "write false"]),
    ("run-kde-points-empty-string", ["run", '{scen:[surfaces]\nkde_points = ""}', "--out", "{out}"],
     ["kde_points", "write false"]),
    ("run-kde-points-true", ["run", "{scen:[surfaces]\nkde_points = true}", "--out", "{out}"],
     ["kde_points", "false to switch it off"]),
    ("run-kde-points-unknown-input", ["run", '{scen:[surfaces]\nkde_points = "places"}', "--out", "{out}"],
     ["[surfaces] kde_points", "'places'", "inputs"]),
    ("run-kde-weight-unknown-column", ["run", '{scen:[surfaces]\nkde_points = "counties"\nkde_weight = "w"}',
                                       "--out", "{out}"], ["[surfaces] kde_weight = 'w'", "columns are"]),
    ("run-mass-field-unknown", ["run", '{scen:[surfaces]\nmass_field = "pop"}', "--out", "{out}"],
     ["[surfaces] mass_field = 'pop'", "columns are"]),
    ("run-hotspots-need-kde", ["run", '{scen:[surfaces]\nkde_points = false\nhotspot_variable = "kde"}',
                               "--out", "{out}"], ["hotspot_variable = 'kde'", "hotspot_zones = false"]),
    ("run-zonal-zones-unknown", ["run", '{scen:[surfaces]\nzonal_zones = ["parishes"]}', "--out", "{out}"],
     ["zonal_zones", "'parishes'"]),
    ("run-zonal-stat-unknown", ["run", '{scen:[surfaces]\nzonal_stats = ["median"]}', "--out", "{out}"],
     ["zonal_stats", "choose from"]),
    ("run-cell-negative", ["run", "{scen:[surfaces]\ncell = -5.0}", "--out", "{out}"], ["[surfaces] cell", "0"]),
    ("run-decay-unknown", ["run", '{scen:[surfaces]\ndecay = "gauss:3"}', "--out", "{out}"], ["[surfaces] decay"]),
    ("run-input-missing-file", ["run", '{scen_in:roads = "missing.gpkg:roads"|[network]\nroads = "roads"}',
                                "--out", "{out}"], ["missing.gpkg", "does not exist"]),
    ("run-input-missing-layer", ["run", '{scen_in:roads = "' + G + ':highways"|[network]\nroads = "roads"}',
                                 "--out", "{out}"], ["no layer 'highways'", "layers are"]),
    ("run-input-multilayer-no-name", ["run", '{scen_in:roads = "' + G + '"|[network]\nroads = "roads"}',
                                      "--out", "{out}"], ["[inputs] roads", "layers", "roads = "]),
    ("run-stage-unknown", ["run", "{scen:" + _FAST + "}", "--stage", "weather", "--out", "{out}"],
     ["--stage weather", "stages are"]),
    ("run-stage-absent", ["run", "{scen:" + _FAST + "}", "--stage", "zoning", "--out", "{out}"],
     ["--stage zoning", "[zoning]"]),
    ("run-no-stage", ["run", "{scen:}", "--out", "{out}"], ["no stage section", "add one of"]),
    ("run-workers-too-many", ["run", "{scen:" + _FAST + "}", "--workers", "100000", "--out", "{out}"],
     ["--workers", "CPU"]),
    ("run-memory-budget-too-big", ["run", '{scen:[parallel]\nmemory_budget = "100TB"\nworkers = 1\n' + _FAST + "}",
                                   "--out", "{out}"], ["memory_budget", "physical memory"]),
    ("run-out-is-a-file", ["run", "{scen:" + _FAST + "}", "--out", "{afile}"], ["--out", "not a folder"]),
    ("run-out-inside-a-file", ["run", "{scen:" + _FAST + "}", "--out", "{afile}/sub"],
     ["--out", "is a file", "another location"]),
    ("run-out-foreign-files", ["run", "{scen:" + _FAST + "}", "--out", "{dir}"],
     ["does not own", "new or empty folder"]),
    # bad data met inside a stage: rolled back, nothing left at --out
    ("run-where-selects-nothing", ["run", '{scen_in:boundary = "' + G + ':province"\ncs = { path = "' + G
                                   + '", layer = "seats", where = "level == \'x\'" }|' + _FAST
                                   + 'masses = "cs"\nmass_field = false\nzonal_zones = false}', "--out", "{out}"],
     ["where", "selects no features"]),
    ("run-kde-points-are-polygons", ["run", "{scen:" + _FAST + 'masses = false\nkde_points = "counties"\n'
                                     'kde_weight = false\nhotspot_zones = false\nzonal_zones = false}',
                                     "--out", "{out}"], ["input 'counties'", "expected Point", "point layer"]),
    ("run-masses-are-lines", ["run", "{scen:" + _FAST + 'masses = "roads"\nmass_field = false\n'
                              "kde_points = false\nhotspot_zones = false\nzonal_zones = false}", "--out", "{out}"],
     ["input 'roads'", "expected Point", "point layer"]),
    ("run-boundary-is-points", ["run", "{scen:" + _FAST + 'boundary = "county_seats"\nmasses = false\n'
                                "hotspot_zones = false\nzonal_zones = false}", "--out", "{out}"],
     ["input 'county_seats'", "expected Polygon", "polygon layer"]),
    # ---- iptown info
    ("info-missing-layer", ["info", '{scen_in:roads = "' + G + ':highways"|}'], ["no layer 'highways'"]),
    # ---- iptown surface market-potential
    ("mp-out-gpkg", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{square}", "--cell", "5000",
                     "--out", "{out}/mp.gpkg"], ["--out", ".tif"]),
    ("mp-out-is-folder", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{square}", "--cell",
                          "5000", "--out", "{dir}"], ["--out", "is a folder", ".tif"]),
    ("mp-out-parent-is-file", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{square}",
                               "--cell", "5000", "--out", "{afile}/mp.tif"], ["--out", "is a file"]),
    ("mp-cell-zero", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{square}", "--cell", "0",
                      "--out", "{out}/mp.tif"], ["cell size", "positive"]),
    ("mp-decay-bad", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{square}", "--cell",
                      "5000", "--decay", "gauss:2", "--out", "{out}/mp.tif"], ["decay", "power:"]),
    ("mp-masses-lines", ["surface", "market-potential", "--masses", "{lines}", "--boundary", "{square}", "--cell",
                         "5000", "--out", "{out}/mp.tif"], ["--masses", "expected Point", "point layer"]),
    ("mp-masses-polygons", ["surface", "market-potential", "--masses", G + ":counties", "--boundary", "{square}",
                            "--cell", "5000", "--reproject", "--out", "{out}/mp.tif"],
     ["--masses", "expected Point", "Centroids"]),
    ("mp-masses-multilayer", ["surface", "market-potential", "--masses", G, "--boundary", "{square}", "--cell",
                              "5000", "--out", "{out}/mp.tif"], ["--masses", "layers", "FILE:LAYER"]),
    ("mp-boundary-points", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{seats}",
                            "--cell", "5000", "--out", "{out}/mp.tif"], ["--boundary", "expected Polygon"]),
    ("mp-mass-field-missing", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{square}",
                               "--cell", "5000", "--mass-field", "pop", "--out", "{out}/mp.tif"],
     ["--mass-field 'pop'", "columns are"]),
    ("mp-masses-missing-file", ["surface", "market-potential", "--masses", "{dir}/none.gpkg", "--boundary",
                                "{square}", "--cell", "5000", "--out", "{out}/mp.tif"],
     ["none.gpkg", "does not exist"]),
    ("mp-masses-zero-bytes", ["surface", "market-potential", "--masses", "{zero}", "--boundary", "{square}",
                              "--cell", "5000", "--out", "{out}/mp.tif"], ["--masses", "zero.gpkg", "re-export"]),
    ("mp-masses-corrupt", ["surface", "market-potential", "--masses", "{corrupt}", "--boundary", "{square}",
                           "--cell", "5000", "--out", "{out}/mp.tif"], ["--masses", "corrupt.gpkg", "re-export"]),
    ("mp-masses-not-json", ["surface", "market-potential", "--masses", "{notgis}", "--boundary", "{square}",
                            "--cell", "5000", "--out", "{out}/mp.tif"], ["--masses", "notgis.geojson", "re-export"]),
    ("mp-masses-no-crs", ["surface", "market-potential", "--masses", "{nocrs}", "--boundary", "{square}",
                          "--cell", "5000", "--out", "{out}/mp.tif"], ["--masses", "CRS"]),
    ("mp-masses-empty", ["surface", "market-potential", "--masses", "{empty}", "--boundary", "{square}",
                         "--cell", "5000", "--out", "{out}/mp.tif"], ["--masses", "empty"]),
    ("mp-memory-budget-huge", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{square}",
                               "--cell", "5000", "--memory-budget", "100TB", "--out", "{out}/mp.tif"],
     ["--memory-budget", "physical memory"]),
    ("mp-workers-too-many", ["surface", "market-potential", "--masses", "{seats}", "--boundary", "{square}",
                             "--cell", "5000", "--workers", "100000", "--out", "{out}/mp.tif"], ["--workers"]),
    # ---- iptown surface kde
    ("kde-out-gpkg", ["surface", "kde", "--points", "{seats}", "--boundary", "{square}", "--cell", "5000",
                      "--out", "{out}/k.gpkg"], ["--out", ".tif"]),
    ("kde-points-lines", ["surface", "kde", "--points", "{lines}", "--boundary", "{square}", "--cell", "5000",
                          "--out", "{out}/k.tif"], ["--points", "expected Point"]),
    ("kde-weight-missing", ["surface", "kde", "--points", "{seats}", "--boundary", "{square}", "--cell", "5000",
                            "--weight-field", "nope", "--out", "{out}/k.tif"],
     ["--weight-field 'nope'", "columns are"]),
    ("kde-radius-negative", ["surface", "kde", "--points", "{seats}", "--boundary", "{square}", "--cell", "5000",
                             "--radius", "-5", "--out", "{out}/k.tif"], ["radius", "> 0"]),
    ("kde-points-far-away", ["surface", "kde", "--points", "{far}", "--boundary", "{square}", "--cell", "5000",
                             "--radius", "5000", "--out", "{out}/k.tif"], ["none of the 2 point", "CRS"]),
    # ---- iptown surface hotspots / zonal
    ("hotspots-out-tif", ["surface", "hotspots", "--zones", G + ":counties", "--field", "pop_2020",
                          "--out", "{out}/h.tif"], ["--out", ".gpkg"]),
    ("hotspots-field-missing", ["surface", "hotspots", "--zones", G + ":counties", "--field", "nope",
                                "--permutations", "99", "--out", "{out}/h.gpkg"], ["--field 'nope'", "columns"]),
    ("hotspots-zones-lines", ["surface", "hotspots", "--zones", "{lines}", "--field", "w", "--out", "{out}/h.gpkg"],
     ["--zones", "expected Point/Polygon"]),
    ("zonal-out-tif", ["surface", "zonal", "--raster", "{dir}/r.tif", "--zones", G + ":counties",
                       "--out", "{out}/z.tif"], ["--out", ".gpkg"]),
    ("zonal-csv-txt", ["surface", "zonal", "--raster", "{dir}/r.tif", "--zones", G + ":counties",
                       "--out", "{out}/z.gpkg", "--csv", "{out}/z.txt"], ["--csv", ".csv"]),
    ("zonal-raster-missing", ["surface", "zonal", "--raster", "{dir}/r.tif", "--zones", G + ":counties",
                              "--out", "{out}/z.gpkg"], ["r.tif"]),
    # ---- iptown network
    ("build-out-geojson", ["network", "build", "--roads", G + ":roads", "--out", "{out}/n.geojson"],
     ["--out", ".gpkg"]),
    ("build-roads-points", ["network", "build", "--roads", "{seats}", "--out", "{out}/n.gpkg"],
     ["expected LineString", "line layer"]),
    ("build-roads-multilayer", ["network", "build", "--roads", G, "--out", "{out}/n.gpkg"], ["layers", "FILE:LAYER"]),
    ("od-out-txt", ["network", "od", "--roads", G + ":roads", "--origins", "{seats}", "--out", "{out}/od.txt"],
     ["--out", ".csv, .parquet, .npz"]),
    ("od-speed-bad", ["network", "od", "--roads", G + ":roads", "--origins", "{seats}", "--speed", "fast",
                      "--out", "{out}/od.csv"], ["--speed 'fast'", "CLASS=KMH"]),
    ("isochrones-bands-bad", ["network", "isochrones", "--roads", G + ":roads", "--centres", "{seats}",
                              "--bands", "a,b", "--out", "{out}/i.gpkg"], ["--bands", "numbers"]),
    ("isochrones-out-tif", ["network", "isochrones", "--roads", G + ":roads", "--centres", "{seats}",
                            "--out", "{out}/i.tif"], ["--out", ".gpkg"]),
    # ---- iptown zoning
    ("zoning-out-is-file", ["zoning", "optimise", "--cells", G + ":counties", "--body", "3", "--wing-east", "2",
                            "--wing-west", "2", "--suit-body", "a", "--suit-east", "a", "--suit-west", "a",
                            "--out", "{afile}"], ["--out", "not a folder"]),
    ("zoning-size-mix", ["zoning", "optimise", "--cells", G + ":counties", "--body", "3km2", "--wing-east", "2",
                         "--wing-west", "2", "--suit-body", "a", "--suit-east", "a", "--suit-west", "a",
                         "--out", "{out}"], ["sizes", "not a mix"]),
    ("zoning-cells-lines", ["zoning", "optimise", "--cells", "{lines}", "--body", "3", "--wing-east", "2",
                            "--wing-west", "2", "--suit-body", "a", "--suit-east", "a", "--suit-west", "a",
                            "--out", "{out}"], ["cells", "expected Polygon"]),
    # ---- iptown crs
    ("crs-in-place", ["crs", "convert", "--from", "gcj02", "--to", "wgs84", "{seats}", "{seats}"],
     ["same layer", "another"]),
    ("crs-out-no-suffix", ["crs", "convert", "--from", "gcj02", "--to", "wgs84", "{seats}", "{out}/x"],
     ["OUT", "suffix"]),
    ("crs-out-tif", ["crs", "convert", "--from", "gcj02", "--to", "wgs84", "{seats}", "{out}/x.tif"],
     ["OUT", ".gpkg"]),
    ("crs-no-overwrite", ["crs", "convert", "--from", "gcj02", "--to", "wgs84", "--no-overwrite", "{seats}",
                          "{existing}:seats"], ["already has a layer", "remove it"]),
    ("crs-no-crs", ["crs", "convert", "--from", "gcj02", "--to", "wgs84", "{nocrs}", "{out}/x.gpkg"], ["--crs"]),
    # ---- iptown sites select (direct form)
    ("sites-weight-field-missing", ["sites", "select", "--candidates", "{seats}", "--demand", "{seats}",
                                    "--roads", G + ":roads", "--k", "2", "--weight-field", "nope",
                                    "--out", "{out}"], ["--weight-field 'nope'", "columns are"]),
    ("sites-model-rank", ["sites", "select", "--candidates", "{seats}", "--demand", "{seats}", "--roads",
                          G + ":roads", "--k", "2", "--model", "rank", "--out", "{out}"], ["--model pmedian"]),
    ("sites-mclp-no-standard", ["sites", "select", "--candidates", "{seats}", "--demand", "{seats}", "--roads",
                                G + ":roads", "--k", "2", "--model", "mclp", "--out", "{out}"], ["--standard"]),
]


def _expand(arg: str, bad: dict[str, str], out: str) -> str:
    d = bad["dir"]
    if arg.startswith("{scen_raw:") and arg.endswith("}"):
        import hashlib

        text = arg[len("{scen_raw:"):-1]
        p = Path(d) / f"raw_{hashlib.sha1(text.encode()).hexdigest()[:10]}.toml"
        p.write_text(text, encoding="utf-8")
        return p.as_posix()
    if arg.startswith("{scen_in:") and arg.endswith("}"):
        inputs, _, body = arg[len("{scen_in:"):-1].partition("|")
        return _scenario(d, body, inputs=inputs)
    if arg.startswith("{scen:") and arg.endswith("}"):
        return _scenario(d, arg[len("{scen:"):-1])
    return arg.format(out=out, **bad)


def _snapshot(d: str) -> dict[str, float]:
    return {p.as_posix(): p.stat().st_mtime for p in Path(d).rglob("*")}


def test_catalogue_has_at_least_60_rows() -> None:
    assert len(ROWS) >= 60
    assert len({r[0] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize(("row", "args", "needles"), ROWS, ids=[r[0] for r in ROWS])
def test_cli_bad_input(row: str, args: list[str], needles: list[str], bad: dict[str, str],
                       tmp_path: Path) -> None:
    out = (tmp_path / "out").as_posix()
    argv = ["-q", *(_expand(a, bad, out) for a in args)]
    before = _snapshot(bad["dir"])
    result = CliRunner().invoke(cli, argv)
    err = result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{row}: {type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in err + result.stdout, err
    assert result.exit_code == 2, f"{row}: exit {result.exit_code}\n{err}\n{result.stdout}"
    lines = [ln for ln in err.splitlines() if ln.startswith("iptown: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], f"{row}: {needle!r} not in {lines[0]!r}"
    assert not Path(out).exists(), f"{row}: left {sorted(p.name for p in Path(out).rglob('*'))} at --out"
    after = _snapshot(bad["dir"])
    # nothing written (or left) beside the inputs either, but the scenarios the rows create
    new = [p for p in after if p not in before and not Path(p).name.startswith(("scen_", "raw_"))]
    assert not new, f"{row}: left {new}"
    changed = [p for p in before if p in after and after[p] != before[p] and Path(p).is_file()]
    assert not changed, f"{row}: modified {changed}"


# --------------------------------------------------------------------------- the Python API


def _api_rows(bad: dict[str, str], tmp: Path) -> list[tuple[str, Callable[[], Any], type[IptownError], str]]:
    from iptown_gis.io.atomic import check_output_path
    from iptown_gis.io.vector import check_role, read_vector, write_vector
    from iptown_gis.pipeline import run_scenario
    from iptown_gis.scenario import load_scenario
    from iptown_gis.surfaces import make_grid
    from iptown_gis.surfaces._validate import point_xy
    from iptown_gis.surfaces.kde import bandwidth, kde
    from iptown_gis.surfaces.potential import parse_decay

    square = gpd.read_file(bad["square"])
    lines = gpd.read_file(bad["lines"])
    grid = make_grid(square, cell=5000)
    far = gpd.read_file(bad["far"])
    foreign = tmp / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    scen = _scenario(bad["dir"], _FAST + "masses = false\nkde_points = false\nhotspot_zones = false\n"
                     "zonal_zones = false")
    return [
        ("load-missing", lambda: load_scenario(Path(bad["dir"]) / "nope.toml"), DataNotFoundError, "does not exist"),
        ("load-folder", lambda: load_scenario(bad["dir"]), ScenarioError, "is a folder"),
        ("read-multilayer", lambda: read_vector(G), DataNotFoundError, "FILE:LAYER"),
        ("read-role", lambda: read_vector(bad["lines"], geom_types=("Point",)), GeometryError, "point layer"),
        ("check-role", lambda: check_role(lines, "polygons", name="zones"), GeometryError, "polygon layer"),
        ("check-role-unknown", lambda: check_role(lines, "curves"), ParameterError, "points, lines, polygons"),
        ("read-corrupt", lambda: read_vector(bad["corrupt"]), DataNotFoundError, "corrupt.gpkg"),
        ("read-zero", lambda: read_vector(bad["zero"]), DataNotFoundError, "zero.gpkg"),
        ("output-suffix", lambda: check_output_path(tmp / "x.gpkg", kind="raster"), OutputError, ".tif"),
        ("write-vector-tif", lambda: write_vector(lines, tmp / "x.tif"), OutputError, ".gpkg"),
        ("surface-write-gpkg", lambda: kde(far.iloc[:0].pipe(lambda g: gpd.GeoDataFrame(
            geometry=[Point(510_000, 3_510_000), Point(520_000, 3_520_000)], crs=g.crs)), grid,
            radius=5000).write(tmp / "k.gpkg"), OutputError, ".tif"),
        ("kde-far", lambda: kde(far, grid, radius=5000), GeometryError, "none of the 2"),
        ("bandwidth-inf", lambda: bandwidth(np.array([0.0, np.inf, 1.0]), np.zeros(3)), GeometryError,
         "not finite"),
        ("point-xy-lines", lambda: point_xy(lines, name="masses"), GeometryError, "point layer"),
        ("decay", lambda: parse_decay("gauss:1"), ParameterError, "power"),
        ("grid-cell", lambda: make_grid(square, cell=0), ParameterError, "cell"),
        ("run-foreign", lambda: run_scenario(scen, foreign), OutputError, "does not own"),
        ("scenario-none-word", lambda: load_scenario(_scenario(bad["dir"], '[surfaces]\nkde_points = "none"')),
         ScenarioError, "write false"),
        ("column", lambda: kde(gpd.read_file(bad["far"]), grid, radius=5000, weight_field="x"), ColumnError,
         "no column 'x'"),
    ]


def test_python_api_raises_typed_errors(bad: dict[str, str], tmp_path: Path) -> None:
    failures = []
    rows = _api_rows(bad, tmp_path)
    for name, call, kind, needle in rows:
        try:
            call()
        except IptownError as exc:
            if not isinstance(exc, kind) or needle not in str(exc):
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
        except Exception as exc:  # the point: anything else is a failure
            failures.append(f"{name}: untyped {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{name}: no error")
    assert not failures, "\n".join(failures)
    assert not (tmp_path / "x.tif").exists()
    assert not (tmp_path / "k.gpkg").exists()
    assert sorted(p.name for p in (tmp_path / "foreign").iterdir()) == ["notes.txt"]


# --------------------------------------------------------------------------- run folders


def test_rerun_replaces_stale_outputs_and_refuses_foreign(bad: dict[str, str], tmp_path: Path) -> None:
    """A re-run leaves exactly what its manifest lists; a failed re-run keeps the earlier run."""
    from iptown_gis.pipeline import run_scenario

    with_kde = _scenario(bad["dir"], _FAST + 'masses = false\nkde_points = "county_seats"\nkde_weight = false\n'
                         "hotspot_zones = false\nzonal_zones = false")
    with_mp = _scenario(bad["dir"], _FAST + 'mass_field = false\nkde_points = false\nhotspot_zones = false\n'
                        "zonal_zones = false")
    out = tmp_path / "run"

    def listed() -> set[str]:
        man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        return {o["path"] for o in man["outputs"]} | {"manifest.json"}

    def present() -> set[str]:
        return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}

    run_scenario(with_kde, out)
    assert present() == listed() == {"manifest.json", "surfaces/kde.tif"}
    run_scenario(with_mp, out)  # the stale kde.tif goes
    assert present() == listed() == {"manifest.json", "surfaces/market_potential.tif"}
    broken = _scenario(bad["dir"], _FAST + 'masses = "county_seats"\nmass_field = "pop_2020"\n'
                       'kde_points = "counties"\nkde_weight = false\nhotspot_zones = false\nzonal_zones = false')
    with pytest.raises(GeometryError, match="point layer"):
        run_scenario(broken, out)  # fails in the stage, after writing market_potential.tif
    assert present() == listed() == {"manifest.json", "surfaces/market_potential.tif"}
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["scenario"]["path"].endswith(
        Path(with_mp).name)
    assert not list(out.rglob(".*"))  # no temp or set-aside folder left
    (out / "surfaces" / "mine.txt").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match=r"does not own \(surfaces/mine.txt"):
        run_scenario(with_kde, out)
    assert "surfaces/mine.txt" in present()
    shutil.rmtree(out)


# --------------------------------------------------------------------------- items fixed before


def test_earlier_fixes_still_hold(bad: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Items 2, 7, 14 of issue 18 (fixed in an earlier session) are not bad inputs any more."""
    from iptown_gis.io.vector import read_vector

    # 2: a Latin-1 GeoJSON is read with its text intact (no UnicodeDecodeError)
    latin = tmp_path / "latin.geojson"
    latin.write_bytes(('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                       '{"name": "Café Müller"}, "geometry": {"type": "Point", "coordinates": [117.2, 31.8]}}]}'
                       ).encode("latin-1"))
    assert read_vector(latin, metric=False)["name"].tolist() == ["Café Müller"]
    # 7: polygons that touch nothing: hot spots refuse contiguity weights and name the fix
    isl = tmp_path / "islands.geojson"
    gpd.GeoDataFrame({"v": [float(i % 3) for i in range(12)]},
                     geometry=[box(i * 3000, 0, i * 3000 + 1000, 1000) for i in range(12)], crs="EPSG:4548"
                     ).to_file(isl)
    with caplog.at_level("WARNING", logger="iptown_gis"):
        r = CliRunner().invoke(cli, ["surface", "hotspots", "--zones", str(isl), "--field", "v", "--permutations",
                                     "99", "--out", str(tmp_path / "h.gpkg")])
    assert r.exit_code == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "12 of 12 zones have no neighbour" in r.stderr
    assert "--weights knn" in r.stderr
    assert not (tmp_path / "h.gpkg").exists()
    # 14: a Shapefile without its .dbf: the message does not end in an empty "columns are:"
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gpd.read_file(bad["seats"].rpartition(":")[0], layer="seats")[["adcode", "pop_2020", "geometry"]].to_file(
        shp_dir / "s.shp")
    (shp_dir / "s.dbf").unlink()
    r = CliRunner().invoke(cli, ["-q", "surface", "market-potential", "--masses", str(shp_dir / "s.shp"),
                                 "--mass-field", "pop_2020", "--boundary", bad["square"], "--cell", "5000",
                                 "--out", str(tmp_path / "mp.tif")])
    assert r.exit_code == 2, r.stderr
    assert "columns are: \n" not in r.stderr + "\n"
    assert not r.stderr.rstrip().endswith("columns are:")
    assert not (tmp_path / "mp.tif").exists()


def test_a_study_inside_its_run_folder_is_kept(bad: dict[str, str], tmp_path: Path) -> None:
    """The scenario (and inputs) a study writes into its own run folder are not foreign files."""
    from iptown_gis.pipeline import run_scenario

    out = tmp_path / "run"
    (out / "study").mkdir(parents=True)
    scen = out / "study" / "scenario.toml"
    shutil.copy(_scenario(bad["dir"], _FAST + 'mass_field = false\nkde_points = false\nhotspot_zones = false\n'
                          "zonal_zones = false"), scen)
    for _ in range(2):
        man = run_scenario(scen, out)
        assert scen.is_file()
        assert "study/scenario.toml" not in {o["path"] for o in man["outputs"]}
    bad_scen = out / "study" / "scenario.toml"
    bad_scen.write_text(bad_scen.read_text(encoding="utf-8").replace('mass_field = false', 'mass_field = false\n'
                        'boundary = "county_seats"'), encoding="utf-8")
    with pytest.raises(GeometryError):
        run_scenario(bad_scen, out)
    assert bad_scen.is_file()
    assert (out / "surfaces" / "market_potential.tif").is_file()  # the earlier run is back
