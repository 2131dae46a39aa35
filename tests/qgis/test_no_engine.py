"""Without a usable engine the plugin still loads in the QGIS desktop: the provider says what
to install (one command) and offers no tools, the panel is disabled with the same message, and
QGIS exits 0."""

from __future__ import annotations

import stat

import pytest
from conftest import HERE, make_profile, require_qgis, run_desktop

FAKE_OLD_ENGINE = """#!/bin/sh
# answers 'engine info' like an engine of another version
echo '{"engine": "iptown_gis", "version": "9.9.0", "schema": 1, "algorithms": {}}'
"""


@pytest.mark.parametrize("case", ["missing", "other_version"])
def test_plugin_without_engine(case, plugin_zip, tmp_path):
    require_qgis()
    if case == "missing":
        engine = tmp_path / "nowhere" / "iptown"
        why = "does not exist"
    else:
        engine = tmp_path / "iptown"
        engine.write_text(FAKE_OLD_ENGINE)
        engine.chmod(engine.stat().st_mode | stat.S_IEXEC)
        why = "it is iptown_gis 9.9.0, this plugin needs 0.1.0"
    profiles = make_profile(tmp_path / "profiles", plugin_zip)
    s = run_desktop(HERE / "session_no_engine.py", profiles, {"results": str(tmp_path / "r.json")},
                    env={"IPTOWN_ENGINE": str(engine)}, timeout=300)
    assert s.returncode == 0, s.stderr[-3000:]
    r = s.results
    assert r["active"]
    assert r["provider"]
    assert r["algorithms"] == []
    assert why in r["warning"]
    assert 'python3 -m pip install --user "iptown_gis==0.1.0"' in r["warning"]
    assert r["notice_visible"]
    assert r["notice"] == r["warning"]
    assert not r["run_enabled"]
    assert r["scientific"] == []
