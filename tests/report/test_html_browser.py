"""report.html in a real headless Chromium (Playwright): loads offline with no console errors,
every layer is in the layer control and toggles, Chinese names are drawn with a CJK font (not as
boxes), the page fits 1366 px and a phone, and a screenshot is taken (``IPTOWN_WRITE_DOCS=1``
writes it to docs/report_screenshot.png)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import need  # tests/report/conftest.py

from iptown_gis.report import ReportConfig, build_report

DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    need(Path(CHROMIUM).exists(), "Debian chromium is not installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "Python package playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_report_in_headless_chromium(browser, run_dir, tmp_path):
    res = build_report(run_dir, config=ReportConfig(qgis_project=False, formats=["png"], dpi=60))
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"requestfailed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(res["html"].resolve().as_uri())
    page.wait_for_load_state("load")
    page.wait_for_selector(".leaflet-control-layers-overlays label", state="attached")
    assert errors == []
    # the layer list is collapsed to a button (it covered half of the map), and opens on hover
    assert page.locator(".leaflet-control-layers-expanded").count() == 0
    page.locator("#webmap").scroll_into_view_if_needed()
    page.locator(".leaflet-control-layers").hover()
    assert page.locator(".leaflet-control-layers-expanded").count() == 1
    # offline: nothing but the page itself and inline data: URIs is requested
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    labels = [t.strip() for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
    expected = {"Boundary", "Market potential: population reachable over the road network", "Gi* hot spots",
                "Ranked candidate sites", "Town layout: districts (one body, two wings)",
                "Town layout: the seven modules of the body"}
    assert expected <= set(labels), labels
    # the layers are drawn: an image overlay for the surface, SVG paths for the vectors
    assert page.locator("img.leaflet-image-layer").count() >= 1
    assert page.locator("path.leaflet-interactive").count() > 100  # 104 sites + polygons
    # toggling a layer works: switch the hot spots on, a second image overlay appears
    n_img = page.locator("img.leaflet-image-layer").count()
    page.locator(".leaflet-control-layers-overlays label", has_text="Gi* hot spots").locator("input").check()
    assert page.locator("img.leaflet-image-layer").count() == n_img + 1
    page.locator(".leaflet-control-layers-overlays label", has_text="Town layout: districts").locator("input").uncheck()
    assert errors == []
    # the static maps are embedded
    assert page.locator(".fig img").count() == 4
    assert page.evaluate("Array.from(document.querySelectorAll('.fig img')).every(i => i.naturalWidth > 300)")
    page.mouse.move(5, 5)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000
    if os.environ.get("IPTOWN_SAVE_SCREENSHOT"):
        shutil.copy(shot, os.environ["IPTOWN_SAVE_SCREENSHOT"])
    page.close()


def _platform_fonts(page, selector: str) -> list[str]:
    """The fonts Chromium really used for the text of ``selector`` (DevTools CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [f["familyName"] for f in fonts if f.get("glyphCount", 0) > 0]


def test_chinese_names_render_with_a_cjk_font(browser, run_dir, tmp_path):
    """The summary names the towns in Chinese; Chromium draws them with the CJK family, not as tofu.

    ``IPTOWN_DOCS_RUN=DIR`` checks the report.html of a real run (``iptown run --out DIR``) instead;
    ``IPTOWN_WRITE_DOCS=1`` writes the first screen to docs/report_screenshot.png.
    """
    from iptown_gis.io.fonts import CJK_FAMILIES, cjk_font_available

    need(cjk_font_available(), "no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    docs_run = os.environ.get("IPTOWN_DOCS_RUN")
    if docs_run:
        html = Path(docs_run) / "report.html"
    else:
        html = build_report(run_dir, config=ReportConfig(qgis_project=False, formats=["png"], dpi=60))["html"]
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(html.resolve().as_uri())
    page.wait_for_load_state("load")
    cell = "#summary table tbody tr:first-child td:nth-child(2)"
    name = page.locator(cell).inner_text()
    assert any(0x4E00 <= ord(ch) <= 0x9FFF for ch in name), name  # a Chinese name, beside its code
    assert any(ch.isdigit() for ch in name)
    used = _platform_fonts(page, cell)
    assert any(f in CJK_FAMILIES for f in used), used
    # and no tofu: three different characters are drawn as three different shapes
    distinct = page.evaluate("""() => {
        const c = document.createElement('canvas'); c.width = 40; c.height = 40;
        const g = c.getContext('2d'); const out = [];
        for (const ch of ['合', '肥', '瑶']) {
            g.clearRect(0, 0, 40, 40); g.font = '32px ' + getComputedStyle(document.body).fontFamily;
            g.fillText(ch, 2, 34); out.push(Array.from(g.getImageData(0, 0, 40, 40).data).join(','));
        }
        return new Set(out).size; }""")
    assert distinct == 3
    shot = tmp_path / "summary.png"
    page.screenshot(path=str(shot), full_page=False)
    if os.environ.get("IPTOWN_WRITE_DOCS") == "1":
        shutil.copy(shot, DOCS / "report_screenshot.png")
    page.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_report_fits_the_screen(browser, run_dir, width):
    """No horizontal scrolling of the page at 1366 px or on a phone: wide tables scroll in their box."""
    import json

    # a long path without break opportunities (a checkout in a deep folder) must wrap, not widen the page
    m = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    m["scenario"]["path"] = "/tmp/tmp.AbCdEfGhIj/projects/anhui_study_2026/sample_data/anhui/scenario_long_name.toml"
    (run_dir / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    res = build_report(run_dir, config=ReportConfig(qgis_project=False, formats=["png"], dpi=60))
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(res["html"].resolve().as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.locator("main > section#summary, main section.summary").count() == 1
    # the summary comes first, before the key figures
    order = page.evaluate("Array.from(document.querySelectorAll('main h2')).map(h => h.textContent)")
    assert order[0] == "Summary", order
    assert "Key figures" in order[1:], order
    box = page.locator("#webmap").bounding_box()
    assert box is not None
    assert box["width"] <= width
    page.close()
