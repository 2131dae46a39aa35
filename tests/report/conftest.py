"""A small, self-made run folder (surface, hot spots, sites, layout, table, summary).

The report stage is generic over registered outputs, so these tests make their own outputs
instead of depending on the other stages.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import box

from iptown_gis.io.raster import write_geotiff

CRS = "EPSG:4548"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip outside CI, fail in CI (env CI=true) when a system dependency is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def _surface(sample_gpkg: Path, d: Path) -> tuple[Path, Path]:
    prov = gpd.read_file(sample_gpkg, layer="province").to_crs(CRS)
    seats = gpd.read_file(sample_gpkg, layer="seats").to_crs(CRS)
    minx, miny, maxx, maxy = prov.total_bounds
    cell = 10_000.0
    w, h = int((maxx - minx) // cell) + 1, int((maxy - miny) // cell) + 1
    tr = Affine(cell, 0, minx, 0, -cell, maxy)
    cols, rows = np.meshgrid(np.arange(w), np.arange(h))
    x = minx + (cols + 0.5) * cell
    y = maxy - (rows + 0.5) * cell
    mp = np.zeros((h, w))
    for pt, pop in zip(seats.geometry, seats["pop_2020"], strict=True):
        d2 = np.hypot(x - pt.x, y - pt.y)
        mp += pop / np.maximum(d2, cell / 2)
    import rasterio.features

    inside = rasterio.features.geometry_mask(prov.geometry, out_shape=(h, w), transform=tr, invert=True)
    mp = np.ma.masked_array(mp, mask=~inside)
    (d / "surfaces").mkdir(parents=True, exist_ok=True)
    p1 = write_geotiff(d / "surfaces" / "market_potential.tif", mp, transform=tr, crs=CRS,
                       description="Harris market potential", tags={"units": "persons/m"})
    z = (mp - mp.mean()) / mp.std()
    cls = np.ma.masked_array(np.clip(np.round(z.filled(0)), -3, 3), mask=~inside)
    p2 = write_geotiff(d / "surfaces" / "hotspots_gistar.tif", cls, transform=tr, crs=CRS,
                       description="Gi* hot spot classes")
    return p1, p2


def _sites(sample_gpkg: Path, d: Path) -> Path:
    seats = gpd.read_file(sample_gpkg, layer="seats")
    seats = seats[seats["level"] == "county"].to_crs(CRS).copy()
    seats["score"] = (seats["pop_2020"] / seats["pop_2020"].max()).round(4)
    seats["rank"] = seats["score"].rank(ascending=False, method="first").astype(int)
    seats["site_id"] = seats["adcode"].astype(str)
    out = seats[["site_id", "unit_name", "score", "rank", "geometry"]]
    (d / "sites").mkdir(parents=True, exist_ok=True)
    p = d / "sites" / "ranked_sites.gpkg"
    out.to_file(p, layer="ranked_sites", engine="pyogrio")
    return p


def _layout(d: Path) -> Path:
    # a 12 x 8 grid of 250 m cells near Hefei: west wing, body (with modules), east wing
    x0, y0, c = 500_000.0, 3_520_000.0, 250.0
    cells = []
    for r in range(8):
        for col in range(12):
            district = "wing_west" if col < 4 else ("body" if col < 8 else "wing_east")
            module = None
            if district == "body":
                module = ["ip_management", "ip_trading", "ip_services", "ip_education", "think_tank",
                          "ip_culture", "ip_finance", "ip_finance"][r]
            cells.append({"district": district, "module": module, "suit": 0.5 + 0.01 * r,
                          "geometry": box(x0 + col * c, y0 + r * c, x0 + (col + 1) * c, y0 + (r + 1) * c)})
    cg = gpd.GeoDataFrame(cells, crs=CRS)
    dist = cg.dissolve("district", as_index=False)[["district", "geometry"]]
    dist["area_km2"] = dist.area / 1e6
    mods = cg[cg["module"].notna()].dissolve("module", as_index=False)[["module", "geometry"]]
    mods["area_km2"] = mods.area / 1e6
    (d / "zoning").mkdir(parents=True, exist_ok=True)
    p = d / "zoning" / "layout.gpkg"
    dist.to_file(p, layer="districts", engine="pyogrio")
    mods.to_file(p, layer="modules", engine="pyogrio")
    cg.to_file(p, layer="cells", engine="pyogrio")
    return p


def _table(d: Path) -> Path:
    (d / "neg").mkdir(parents=True, exist_ok=True)
    p = d / "neg" / "scenario_comparison.csv"
    pd.DataFrame({"region": ["Hefei", "Wuhu", "Bengbu"], "baseline_share": [0.31, 0.12, 0.07],
                  "hsr_share": [0.33, 0.13, 0.06], "change": [0.02, 0.01, -0.01]}).to_csv(p, index=False)
    return p


@pytest.fixture(scope="session")
def run_dir_template(tmp_path_factory: pytest.TempPathFactory, sample_gpkg: Path,
                     scenario_path: Path) -> Path:
    d = tmp_path_factory.mktemp("run_template")
    mp, hs = _surface(sample_gpkg, d)
    sites = _sites(sample_gpkg, d)
    layout = _layout(d)
    table = _table(d)
    (d / "zoning" / "summary.json").write_text(json.dumps({"objective": 48.3, "gap": 0.0, "method": "exact",
                                                           "status": "Optimal"}))
    outputs = [
        {"path": "surfaces/market_potential.tif", "stage": "surfaces", "kind": "raster",
         "description": "Harris market potential (network)"},
        {"path": "surfaces/hotspots_gistar.tif", "stage": "surfaces", "kind": "raster",
         "description": "Gi* hot spots"},
        {"path": "sites/ranked_sites.gpkg", "stage": "sites", "kind": "vector",
         "description": "Ranked candidate sites"},
        {"path": "zoning/layout.gpkg", "stage": "zoning", "kind": "layout", "description": ""},
        {"path": "neg/scenario_comparison.csv", "stage": "neg", "kind": "table",
         "description": "NEG scenario comparison"},
        {"path": "zoning/summary.json", "stage": "zoning", "kind": "summary", "description": "Layout summary"},
    ]
    assert all((d / o["path"]).exists() for o in outputs), (mp, hs, sites, layout, table)
    manifest = {"tool": "iptown_gis", "scenario": {"path": str(scenario_path), "name": "Test run"},
                "crs": CRS, "stages": ["surfaces", "sites", "zoning", "neg"],
                "parameters": {"study": {"name": "Test run", "crs": CRS}, "surfaces": {"cell": 10000}},
                "outputs": outputs, "timings_s": {"surfaces": 1.0, "total": 2.0}}
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


@pytest.fixture
def run_dir(run_dir_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the small run folder (tests may write into it)."""
    d = tmp_path / "run"
    shutil.copytree(run_dir_template, d)
    return d
