"""Maps, report building from a run folder, the stage, the CLI and its errors."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from iptown_gis.errors import DataNotFoundError
from iptown_gis.report import ReportConfig, build_report, catalogue, collect_run
from iptown_gis.report.maps import make_maps
from iptown_gis.stage_results import ReportResult, ZoningResult


def test_catalogue_roles(run_dir):
    items = catalogue(collect_run(run_dir))
    roles = {(it.key, it.role) for it in items}
    assert ("market_potential", "surface") in roles
    assert ("hotspots_gistar", "hotspots") in roles
    assert ("ranked_sites", "sites") in roles
    assert ("layout_districts", "layout") in roles
    assert ("layout_modules", "layout") in roles
    assert ("scenario_comparison", "table") in roles
    assert ("summary", "summary") in roles


def test_maps_png_pdf_readable(run_dir, sample_gpkg):
    import geopandas as gpd

    items = catalogue(collect_run(run_dir))
    prov = gpd.read_file(sample_gpkg, layer="province").to_crs(4548)
    maps = make_maps(items, run_dir / "maps", context=[prov], crs="EPSG:4548", formats=("png", "pdf"), dpi=50,
                     attribution="© OpenStreetMap contributors")
    keys = {m["key"]: m for m in maps}
    assert set(keys) == {"market_potential", "hotspots_gistar", "ranked_sites", "layout_layout"}
    for m in maps:
        png, pdf = (f for f in sorted(m["files"], key=lambda p: p.suffix != ".png"))
        assert pdf.read_bytes()[:5] == b"%PDF-"
        img = imread(png)
        assert img.shape[0] > 250
        assert img.shape[1] > 300
        # not blank: many distinct colours, and a good share of non-white pixels
        rgb = img[..., :3].reshape(-1, 3)
        assert len(np.unique((rgb * 255).astype(int), axis=0)) > 8
        assert (rgb.min(axis=1) < 0.9).mean() > 0.03, m["key"]


def test_build_report_writes_everything(run_dir):
    res = build_report(run_dir, config=ReportConfig(qgis_project=False, formats=["png"], dpi=60))
    html = res["html"].read_text(encoding="utf-8")
    assert res["html"] == run_dir / "report.html"
    assert len(res["maps"]) == 4
    assert all(p.suffix == ".png" for p in res["maps"])
    for needle in ("Summary", "Key figures", "Scenario comparison", "Baseline share",
                   "Market potential: population reachable over the road network", "Harris market potential",
                   "data:image/png;base64,", "OpenStreetMap contributors", "Objective value", "EPSG:4548",
                   "persons per m of travel"):
        assert needle in html, needle
    # self-contained: no external scripts, styles or tiles
    assert "cdn.jsdelivr" not in html
    assert "<script src=" not in html
    assert "<link " not in html
    assert "tile.openstreetmap" not in html
    assert res["styles"] == []
    assert res["qgis_project"] is None


def test_compare_runs(run_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    cfg = ReportConfig(qgis_project=False, maps=False, compare=[str(other)])
    html = build_report(run_dir, config=cfg)["html"].read_text(encoding="utf-8")
    assert "Key figures by run" in html
    assert ">other<" in html


def test_missing_or_empty_run_folder_is_typed_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        build_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="no outputs to report on"):
        build_report(tmp_path / "empty")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "manifest.json").write_text(json.dumps({"outputs": [{"path": "gone.tif", "stage": "x"}]}))
    with pytest.raises(DataNotFoundError, match="no outputs to report on"):
        build_report(tmp_path / "m")


def test_cli_build_and_errors(run_dir, tmp_path):
    from iptown_gis.cli import cli

    runner = CliRunner()
    r = runner.invoke(cli, ["report", "build", str(run_dir), "--no-qgis", "--format", "png", "--dpi", "60"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["maps"] == 4
    assert out["html"].endswith("report.html")
    (tmp_path / "empty").mkdir()
    r = runner.invoke(cli, ["report", "build", str(tmp_path / "empty")])
    assert r.exit_code == 2
    assert "no outputs to report on" in r.output


def test_stage_uses_registered_outputs(run_dir, scenario_path):
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.report import stage
    from iptown_gis.scenario import load_scenario

    man = json.loads((run_dir / "manifest.json").read_text())
    scen = load_scenario(scenario_path)
    scen.sections["report"] = ReportConfig(qgis_project=False, formats=["png"], dpi=60)
    ctx = StudyContext(scenario=scen, out_dir=run_dir)
    for o in man["outputs"]:
        ctx.add_output(run_dir / o["path"], stage=o["stage"], kind=o["kind"], description=o["description"])
    ctx.zoning = ZoningResult(extra={"objective": 48.3, "status": "Optimal"})
    stage.run(ctx, SimpleNamespace(sub=lambda a, b: None, update=lambda f, m="": None))
    rep = ctx.report
    assert isinstance(rep, ReportResult)
    assert rep.html is not None
    assert rep.html.exists()
    kinds = {o["kind"] for o in ctx.outputs if o["stage"] == "report"}
    assert {"figure", "report"} <= kinds
    html = rep.html.read_text(encoding="utf-8")
    assert "Results: town layout" in html
    assert "Optimal" in html
    # the province context came from the scenario inputs (drawn, and in the web map)
    assert "Boundary" in html


def test_stage_without_outputs_does_nothing(tmp_path, scenario_path):
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.report import stage
    from iptown_gis.scenario import load_scenario

    ctx = StudyContext(scenario=load_scenario(scenario_path), out_dir=tmp_path)
    stage.run(ctx, SimpleNamespace(sub=lambda a, b: None, update=lambda f, m="": None))
    assert ctx.report is not None
    assert ctx.report.html is None
    assert ctx.report.maps == []
    assert not (tmp_path / "report.html").exists()


def test_report_section_validation(tmp_path):
    from iptown_gis.errors import ScenarioError
    from iptown_gis.scenario import parse_scenario

    with pytest.raises(ScenarioError, match=r"\[report\] dpi"):
        parse_scenario({"report": {"dpi": 5}}, source=tmp_path / "s.toml")
    with pytest.raises(ScenarioError, match=r"\[report\] postgis"):
        parse_scenario({"report": {"postgis": "mysql://x"}}, source=tmp_path / "s.toml")
    with pytest.raises(ScenarioError, match=r"\[report\] basemap"):
        parse_scenario({"report": {"basemap": "google"}}, source=tmp_path / "s.toml")
    with pytest.raises(ScenarioError, match="names input 'roadz'"):
        parse_scenario({"report": {"context_layers": ["roadz"]}}, source=tmp_path / "s.toml").check_references()
