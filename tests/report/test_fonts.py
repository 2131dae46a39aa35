"""Chinese names on maps, in the report's CSS and in QGIS styles: a CJK-capable font, no missing glyph.

matplotlib warns ``Glyph N (...) missing from font(s) ...`` when a character falls through every
family of its chain and is drawn as a box; here that warning is an error.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
from conftest import need

from iptown_gis.io.fonts import (
    CJK_FAMILIES,
    CSS_FONT_STACK,
    cjk_font_available,
    mpl_font_context,
    mpl_font_families,
    qgis_font_family,
)
from iptown_gis.report.catalogue import Item
from iptown_gis.report.maps import map_item

CRS = "EPSG:4548"


def _need_cjk() -> None:
    need(cjk_font_available(), "no CJK font installed (Debian: apt-get install fonts-noto-cjk)")


def _sites_with_names(sample_gpkg: Path, d: Path) -> Path:
    seats = gpd.read_file(sample_gpkg, layer="seats")
    seats = seats[seats["level"] == "county"].to_crs(CRS).copy()
    assert not seats["unit_name"].str.isascii().any()  # the sample's names are Chinese
    seats["score"] = (seats["pop_2020"] / seats["pop_2020"].max()).round(4)
    seats["rank"] = seats["score"].rank(ascending=False, method="first").astype(int)
    seats["site_id"] = seats["adcode"].astype(str)
    p = d / "ranked.gpkg"
    seats[["site_id", "unit_name", "score", "rank", "geometry"]].to_file(p, layer="ranked", engine="pyogrio")
    return p


def test_font_chain_is_cjk_first() -> None:
    _need_cjk()
    fams = mpl_font_families()
    assert fams[0] in CJK_FAMILIES
    assert "DejaVu Sans" in fams  # Latin fallback after the CJK family
    assert CSS_FONT_STACK.startswith('"Noto Sans CJK SC"')
    assert CSS_FONT_STACK.endswith("sans-serif")
    assert qgis_font_family() in CJK_FAMILIES


def test_sites_map_with_chinese_names_has_every_glyph(sample_gpkg: Path, tmp_path: Path) -> None:
    _need_cjk()
    path = _sites_with_names(sample_gpkg, tmp_path)
    item = Item(path, "sites", "sites", "vector", "", "ranked", ["site_id", "unit_name", "score", "rank"],
                "Point", 60)
    prov = gpd.read_file(sample_gpkg, layer="province").to_crs(CRS)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph .* missing from font")
        files = map_item(item, tmp_path / "sites_map", context=[prov], crs=CRS, formats=("png", "pdf"), dpi=40,
                         title="候选县城 Candidate towns: 合肥市")
    assert {f.suffix for f in files} == {".png", ".pdf"}
    assert all(f.stat().st_size > 1000 for f in files)


def test_missing_glyph_is_caught_without_the_chain() -> None:
    """The check itself can fail: a Latin-only font does warn on Chinese text."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
        fig = Figure()
        fig.text(0.1, 0.5, "合肥市")
        with pytest.warns(UserWarning, match="missing from font"):
            fig.savefig(io.BytesIO(), format="png")
    _need_cjk()
    with mpl_font_context(), warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph .* missing from font")
        fig = Figure()
        fig.text(0.1, 0.5, "合肥市 瑶海区 蜀山区 km²")
        fig.text(0.1, 0.3, " 1  雨山区 (340504)", family="monospace")
        fig.savefig(io.BytesIO(), format="png")


def test_zoning_styles_name_the_installed_cjk_family(tmp_path: Path) -> None:
    from iptown_gis.zoning.export import _with_font, style_path

    for name in ("districts", "modules"):
        text = _with_font(style_path(name).read_text(encoding="utf-8"))
        assert f'fontFamily="{qgis_font_family()}"' in text
        assert "DejaVu LGC Sans" not in text
