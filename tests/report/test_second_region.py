"""A second region (Zhejiang from the national set): the report and the QGIS project read as well as Anhui's.

The study is the one tests/qgis/test_desktop.py runs in the QGIS desktop (network, surfaces, a
site ranking; every county seat weighs one), plus the report stage.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import geopandas as gpd
import pytest
from conftest import need
from test_qgis_project import CHECK

from iptown_gis.report.qgis_project import find_qgis_python

CHINA = Path(os.environ.get("IPTOWN_CHINA_DATA", "/work/shared/data/china"))
ROOT = Path(__file__).resolve().parents[2]


def _scenario_text() -> str:
    src = (ROOT / "tests" / "qgis" / "test_desktop.py").read_text(encoding="utf-8")
    return src.split('ZHEJIANG_SCENARIO = """', 1)[1].split('"""', 1)[0] + '\n[report]\ncontext_layers = ["boundary"]\n'


@pytest.mark.slow
def test_zhejiang_report_and_project_name_every_town(tmp_path: Path) -> None:
    need((CHINA / "china_provinces.gpkg").is_file(), f"no national data set in {CHINA} (IPTOWN_CHINA_DATA)")
    from iptown_gis.pipeline import run_scenario

    prov = gpd.read_file(CHINA / "china_provinces.gpkg", layer="provinces")
    zj = prov[prov["adcode"].astype(str) == "330000"]
    seats = gpd.read_file(CHINA / "china_county_seats.gpkg", layer="county_seats")
    seats = seats[seats["province_adcode"].astype(str) == "330000"][["adcode", "name", "geometry"]]
    seats["seat_count"] = 1
    minx, miny, maxx, maxy = zj.total_bounds
    roads = gpd.read_file(CHINA / "china_highways.gpkg", layer="edges",
                          bbox=(minx - 0.2, miny - 0.2, maxx + 0.2, maxy + 0.2))[["length_km", "geometry"]]
    gpkg = tmp_path / "zhejiang.gpkg"
    zj[["adcode", "name", "geometry"]].to_file(gpkg, layer="province", driver="GPKG")
    seats.to_file(gpkg, layer="seats", driver="GPKG")
    roads.to_file(gpkg, layer="roads", driver="GPKG")
    scen = tmp_path / "zhejiang.toml"
    scen.write_text(_scenario_text(), encoding="utf-8")
    out = tmp_path / "run"
    # pytest turns warnings into errors (pyproject): a Chinese name drawn as boxes fails here
    run_scenario(scen, out)
    html = (out / "report.html").read_text(encoding="utf-8")
    summary = html[html.index("id='summary'"):html.index("id='key-figures'")]
    towns = re.findall(r"<td>([^<]*\(33\d{4}\))</td>", summary)
    assert len(towns) == 3, summary[:2000]
    assert all(re.match(r"[\u4e00-\u9fff]+ \(33\d{4}\)", t) for t in towns), towns
    assert "330,1" not in html  # codes as text, never as quantities (330,102.0)
    assert "Market potential: population reachable over the road network" in html
    py = find_qgis_python()
    need(py is not None, "PyQGIS is not installed (apt-get install python3-qgis qgis-providers)")
    r = subprocess.run([py, "-c", CHECK, str(out / "iptown.qgz")], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert all(lay["valid"] for lay in res["layers"])
    assert [b.split(":")[0] for b in res["bookmarks"]] == ["Town 1", "Town 2", "Town 3"]
    assert all(t.split(" (")[0] in " ".join(res["bookmarks"]) for t in towns)
    # opens on Zhejiang (the province's extent in the project's CRS), not at 1:1 on nothing
    zb = zj.to_crs(res["crs"]).total_bounds
    x0, y0, x1, y1 = res["extent"]
    assert x0 <= zb[0]
    assert y0 <= zb[1]
    assert x1 >= zb[2]
    assert y1 >= zb[3]
    assert (x1 - x0) < 1.2 * (zb[2] - zb[0])
