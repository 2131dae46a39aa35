"""report.html in a real headless Chromium (Playwright): loads offline with no console errors,
every layer is in the layer control and toggles, a screenshot is taken."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import need  # tests/report/conftest.py

from iptown_gis.report import ReportConfig, build_report

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
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"requestfailed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(res["html"].resolve().as_uri())
    page.wait_for_load_state("load")
    page.wait_for_selector(".leaflet-control-layers-overlays label")
    assert errors == []
    # offline: nothing but the page itself and inline data: URIs is requested
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    labels = [t.strip() for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
    expected = {"Boundary", "Harris market potential (network)", "Gi* hot spots", "Ranked candidate sites",
                "Layout districts", "Layout modules"}
    assert expected <= set(labels), labels
    # the layers are drawn: an image overlay for the surface, SVG paths for the vectors
    assert page.locator("img.leaflet-image-layer").count() >= 1
    assert page.locator("path.leaflet-interactive").count() > 100  # 104 sites + polygons
    # toggling a layer works: switch the hot spots on, a second image overlay appears
    n_img = page.locator("img.leaflet-image-layer").count()
    page.locator(".leaflet-control-layers-overlays label", has_text="Gi* hot spots").locator("input").check()
    assert page.locator("img.leaflet-image-layer").count() == n_img + 1
    page.locator(".leaflet-control-layers-overlays label", has_text="Layout districts").locator("input").uncheck()
    assert errors == []
    # the static maps are embedded
    assert page.locator(".fig img").count() == 4
    assert page.evaluate("Array.from(document.querySelectorAll('.fig img')).every(i => i.naturalWidth > 300)")
    page.locator("#webmap").scroll_into_view_if_needed()
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000
    if os.environ.get("IPTOWN_SAVE_SCREENSHOT"):
        shutil.copy(shot, os.environ["IPTOWN_SAVE_SCREENSHOT"])
    page.close()
