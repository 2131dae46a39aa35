"""Every ``iptown`` command in README.md's code blocks runs as written on the bundled sample.

Each command (``\\`` continuations joined, trailing ``# comments`` dropped) runs in a fresh
folder holding a ``sample_data`` link to the repository's, in README order (``surface zonal``
reads the ``mp.tif`` the line before wrote), and must exit 0. Commands that run the whole bundled
study or need a database are listed in ``NOT_HERE`` with the test that covers them; a README
command that is neither run nor listed fails the test, and so does a stale entry.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from iptown_gis.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]

#: Commands (first words) not run here, with why and where they are covered.
NOT_HERE = {
    "run": "the whole study (minutes): tests/report/test_second_region.py and the stage tests",
    "neg simulate": "network + NEG stages of the bundled study: tests/neg/test_stage_cli.py",
    "sites rank": "network, NEG, surfaces and sites stages: tests/sites/test_sites_cli.py",
    "zoning optimise": "needs a cells layer with suitabilities: tests/zoning/test_zoning_io.py",
    "zoning layout": "every stage before zoning: tests/zoning/test_zoning_io.py",
    "report build": "needs a finished run folder: tests/report/test_build.py",
    "report publish": "needs PostgreSQL/PostGIS: tests/report/test_postgis.py",
}


def readme_commands(text: str) -> list[str]:
    """The ``iptown ...`` commands of the ``bash``/``sh`` code blocks, continuations joined."""
    cmds: list[str] = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\s*\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("iptown "):
                cmds.append(line)
    return cmds


def _key(cmd: str) -> str:
    words = shlex.split(cmd)[1:]
    two = " ".join(words[:2])
    return two if two in NOT_HERE else words[0]


def test_readme_parsing() -> None:
    cmds = readme_commands("```bash\niptown a --x 1 \\\n   --y 2  # note\nls\n```\n```python\niptown b\n```")
    assert cmds == ["iptown a --x 1 --y 2"]


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cmds = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(cmds) > 15
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    skipped = set()
    failures = []
    for cmd in cmds:
        if _key(cmd) in NOT_HERE:
            skipped.add(_key(cmd))
            continue
        r = CliRunner().invoke(cli, shlex.split(cmd)[1:])
        if r.exit_code != 0:
            failures.append(f"{cmd}\n  -> exit {r.exit_code}: {r.output.strip().splitlines()[-1:]}")
    assert not failures, "\n".join(failures)
    assert skipped == set(NOT_HERE), f"stale NOT_HERE entries: {set(NOT_HERE) - skipped}"
    for out in ("od.csv", "iso.gpkg", "mp.tif", "kde.tif", "hot.gpkg", "zonal.gpkg", "pois_wgs84.gpkg",
                "out/select/selected.csv"):
        assert (tmp_path / out).stat().st_size > 0, out
