"""NEG CLI forms, Anhui scenarios through the pipeline, scenario errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from iptown_gis.cli.main import cli
from iptown_gis.errors import ScenarioError
from iptown_gis.neg.scenarios import apply_pair_links, close_costs


def _json(args: list[str]) -> dict:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])


def test_cli_breakpoints_and_ring() -> None:
    out = _json(["neg", "breakpoints", "--sigma", "5", "--mu", "0.4", "--json"])
    assert round(out["break_T"], 3) == 1.627
    assert round(out["sustain_T"], 3) == 1.807
    bt = _json(["neg", "break-tau", "--ring", "2", "--sigma", "5", "--mu", "0.4", "--json"])["break_tau"]
    assert bt == pytest.approx(np.log(1.6265765617), abs=1e-6)
    lo = _json(["neg", "stability", "--ring", "2", "--sigma", "5", "--mu", "0.4", "--tau", str(bt * 0.9), "--json"])
    hi = _json(["neg", "stability", "--ring", "2", "--sigma", "5", "--mu", "0.4", "--tau", str(bt * 1.1), "--json"])
    assert lo["stable"] is False
    assert lo["max_eigenvalue"] > 0
    assert hi["stable"] is True
    assert hi["max_eigenvalue"] < 0


def test_cli_bad_sigma_exits_2() -> None:
    res = CliRunner().invoke(cli, ["neg", "breakpoints", "--sigma", "0.5", "--json"])
    assert res.exit_code == 2
    assert "sigma = 0.5" in res.output


def test_links_shorten_paths_and_bad_ids() -> None:
    c = np.array([[0, 10, 20], [10, 0, 10], [20, 10, 0.0]])
    new = apply_pair_links(c, ["a", "b", "c"], [["a", "b"]], factor=0.5)
    assert new[0, 1] == 5
    assert new[0, 2] == 15  # via the faster a-b link
    np.testing.assert_allclose(close_costs(c), c)
    with pytest.raises(ScenarioError, match=r"unknown region id\(s\) \['z'\]"):
        apply_pair_links(c, ["a", "b", "c"], [["a", "z"]], factor=0.5)


def test_anhui_scenarios_stage(tmp_path: Path, sample_dir: Path) -> None:
    from iptown_gis.pipeline import StudyContext
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(sample_dir / "scenario.toml")
    scen.section("neg").bifurcation_taus = []  # the diagram is tested elsewhere; keep this fast
    scen.section("neg").band_draws = 4
    scen.section("neg").county_regions = None  # counties: tests/neg/test_qsm.py
    from iptown_gis.neg import stage

    ctx = StudyContext(scenario=scen, out_dir=tmp_path / "out")
    from iptown_gis.progress import as_progress

    stage.run(ctx, as_progress(None))
    res = ctx.neg
    assert res is not None
    assert len(res.region_ids) == 16
    assert res["shares"].sum() == pytest.approx(1.0)
    assert set(res["scenarios"]) == {"baseline", "hsr_links", "hukou_reform", "hefei_science_centre"}
    hefei = res["region_ids"].index("340100")
    # the Hefei amenity and the Hefei rail links both draw workers to Hefei
    assert res["scenarios"]["hefei_science_centre"]["d_share"][hefei] > 0
    assert res["scenarios"]["hsr_links"]["d_share"][hefei] > 0
    for name in ("scenarios.csv", "neg_scenarios.gpkg", "scenarios.png"):
        assert (tmp_path / "out" / "neg" / name).stat().st_size > 0
    import geopandas as gpd

    layer = gpd.read_file(tmp_path / "out" / "neg" / "neg_scenarios.gpkg", layer="neg_hsr_links")
    assert len(layer) == 16
    assert {"share", "d_share", "real_wage", "price_index"} <= set(layer.columns)


def test_tomahawk_and_bifurcation_files(tmp_path: Path) -> None:
    from iptown_gis.neg import ring_distance
    from iptown_gis.neg.diagrams import bifurcation, tomahawk, write_diagram

    df = tomahawk(5, 0.4, T_range=(1.5, 1.9), n_T=9, n_lambda=20)
    # between T_B and T_S: symmetric and core both stable, interior unstable
    mid = df[np.isclose(df["T"], 1.7)]
    assert mid[mid.kind == "symmetric"]["stable"].all()
    assert mid[mid.kind == "core"]["stable"].all()
    assert not mid[mid.kind == "interior"]["stable"].any()
    csv, png = write_diagram(df, tmp_path, "tomahawk", kind="tomahawk")
    assert csv.stat().st_size > 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    b = bifurcation(ring_distance(4), [0.2, 1.5])
    high = b[b.tau == 1.5]["share"].to_numpy()
    np.testing.assert_allclose(high, 0.25, atol=1e-6)  # above the break tau: uniform


def test_stage_dirs_put_a_stage_s_files_in_the_folder_given(tmp_path: Path, sample_dir: Path) -> None:
    """`iptown neg simulate --out DIR` writes the neg files to DIR itself, not DIR/neg/ (stage_dirs)."""
    from iptown_gis.pipeline import run_scenario
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(sample_dir / "scenario.toml")
    scen.section("neg").bifurcation_taus = []
    out = tmp_path / "out" / "neg"
    man = run_scenario(scen, out, stages=["neg"], stage_dirs={"neg": out})
    assert (out / "scenarios.csv").stat().st_size > 0
    assert not (out / "neg").exists()
    assert "scenarios.csv" in {o["path"] for o in man["outputs"]}
