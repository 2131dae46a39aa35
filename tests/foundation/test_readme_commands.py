"""Every ``iptown`` command in README.md's code blocks runs as written on the bundled sample.

Each command (``\\`` continuations joined, trailing ``# comments`` dropped, ``$VAR`` expanded as
a shell would) runs once, in README order, in one folder holding a ``sample_data`` link to the
repository's: ``iptown run --out out/`` runs the whole study once and the commands after it read
its run folder (``zoning optimise`` its cells, ``report build`` / ``report publish`` the folder),
``surface zonal`` reads the ``mp.tif`` the line before wrote. The commands that need a database
(``NEEDS_DATABASE``) run last, against the PostgreSQL + PostGIS server ``pg_url`` starts
(tests/conftest.py), with ``$IPTOWN_DB`` set to its URL.

``--out DIR`` means DIR: for every command, the files it documents are checked at the path the
command names (one-stage commands: directly in DIR, never in ``DIR/<stage>/``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iptown_gis.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]

#: Commands (first words) not run here, with why and where they are covered: none.
NOT_HERE: dict[str, str] = {}

#: Commands (first words) that need a PostgreSQL + PostGIS database: run after all others by
#: ``test_readme_database_commands`` with ``$IPTOWN_DB`` set to the test server's URL.
NEEDS_DATABASE = ("report publish",)


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


#: Command groups: their commands are keyed by two words.
_GROUPS = ("network", "surface", "neg", "sites", "zoning", "crs", "report")


def _key(cmd: str) -> str:
    """``"sites rank"`` for ``iptown sites rank --out ...``; ``"run"`` for ``iptown run ...``."""
    words = shlex.split(cmd)[1:]
    return " ".join(words[:2]) if words[0] in _GROUPS and len(words) > 1 else words[0]


def _args(cmd: str) -> list[str]:
    """The command's arguments after ``iptown``, with ``$VAR`` / ``${VAR}`` expanded."""
    words = [os.path.expandvars(w) for w in shlex.split(cmd)[1:]]
    left = [w for w in words if re.search(r"\$\{?[A-Za-z_]", w)]
    assert not left, f"{cmd}: variables not set: {left}"
    return words


def _out(cmd: str) -> Path | None:
    """The path a command writes: its ``--out`` value (``crs convert``: its last argument), else None."""
    words = shlex.split(cmd)[1:]
    if "--out" in words:
        return Path(words[words.index("--out") + 1])
    return Path(words[-1]) if _key(cmd) == "crs convert" else None


def _run(cmd: str) -> Result:
    return CliRunner().invoke(cli, _args(cmd))


def _tail(r: Result) -> list[str]:
    return r.output.strip().splitlines()[-3:] + ([repr(r.exception)] if r.exception else [])


README_CMDS = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
LOCAL_CMDS = [c for c in README_CMDS if _key(c) not in NEEDS_DATABASE and _key(c) not in NOT_HERE]
DB_CMDS = [c for c in README_CMDS if _key(c) in NEEDS_DATABASE]


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Result]]:
    """Every README command but the database ones, run in README order in one folder."""
    work = tmp_path_factory.mktemp("readme")
    (work / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    results: dict[str, Result] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        for cmd in LOCAL_CMDS:
            results[cmd] = _run(cmd)
    return work, results


def test_readme_parsing() -> None:
    cmds = readme_commands("```bash\niptown a --x 1 \\\n   --y 2  # note\nls\n```\n```python\niptown b\n```")
    assert cmds == ["iptown a --x 1 --y 2"]
    assert _key("iptown sites rank --out x") == "sites rank"
    assert _key("iptown run --out out/") == "run"
    assert _key("iptown report publish out/ --out u") == "report publish"
    assert _out("iptown report publish out/ --out u") == Path("u")
    assert _out("iptown crs convert --from a --to b in.gpkg:l o.gpkg") == Path("o.gpkg")


def test_readme_lists_every_command_kind() -> None:
    keys = {_key(c) for c in README_CMDS}
    assert len(README_CMDS) > 15
    for k in ("run", "neg simulate", "sites rank", "sites select", "zoning optimise", "zoning layout",
              "report build", "report publish", "surface zonal", "network od", "crs convert"):
        assert k in keys, k
    assert not set(NOT_HERE) - keys, f"stale NOT_HERE entries: {set(NOT_HERE) - keys}"
    assert all(README_CMDS.index(c) > README_CMDS.index(o) for c in DB_CMDS for o in LOCAL_CMDS), \
        "the database commands run after the others: keep them last in README"


@pytest.mark.slow
@pytest.mark.parametrize("cmd", LOCAL_CMDS, ids=[f"{i:02d}-{_key(c).replace(' ', '-')}" for i, c in
                                                enumerate(LOCAL_CMDS)])
def test_readme_command_runs_as_written(readme_run: tuple[Path, dict[str, Result]], cmd: str) -> None:
    work, results = readme_run
    r = results[cmd]
    assert r.exit_code == 0, f"{cmd}\n  -> exit {r.exit_code}: {_tail(r)}"
    target = _out(cmd)
    if target is None:  # prints only (info, neg breakpoints ... --json)
        assert r.output.strip(), f"{cmd}: printed nothing"
        return
    assert (work / target).exists(), f"{cmd}: wrote nothing at {target}"
    if (work / target).is_file():
        assert (work / target).stat().st_size > 0, target


#: What a folder-writing command puts directly into ``--out DIR`` (``report build``: RUN_DIR), and the
#: ``DIR/<stage>/`` folder it must not write its own files into.
FOLDER_FILES = {
    "run": (("manifest.json", "report.html", "iptown.qgz", "network/od_seats.csv", "neg/scenarios.csv",
             "surfaces/market_potential.tif", "sites/ranked.gpkg", "zoning/layout.gpkg", "report/maps/kde.png"),
            None),
    "neg simulate": (("manifest.json", "scenarios.csv", "neg_scenarios.gpkg", "tornado.png", "validation.json",
                      "network/od_seats.csv"), "neg"),
    "sites rank": (("ranked.gpkg", "ranked.geojson", "ranked.csv", "network/od_seats.csv"), "sites"),
    "sites select": (("selected.csv", "selected.geojson", "assignment.csv", "summary.json"), "sites"),
    "zoning optimise": (("layout.geojson", "layout.gpkg", "summary.json", "layout.png", "layout_districts.qml"),
                        "zoning"),
    "zoning layout": (("manifest.json", "layout.geojson", "layout.gpkg", "summary.json", "layout.png",
                       "layout_districts.qml"), "zoning"),
    "report build": (("report.html", "iptown.qgz", "report/maps/kde.png", "report/maps/kde.pdf"), "report/report"),
}


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(FOLDER_FILES))
def test_out_dir_means_dir(readme_run: tuple[Path, dict[str, Result]], key: str) -> None:
    work, results = readme_run
    cmd = next(c for c in LOCAL_CMDS if _key(c) == key)
    assert results[cmd].exit_code == 0, f"{cmd}: {_tail(results[cmd])}"
    words = shlex.split(cmd)
    folder = work / (words[words.index("build") + 1] if key == "report build" else str(_out(cmd)))
    files, own_stage = FOLDER_FILES[key]
    for name in files:
        assert (folder / name).is_file(), f"{cmd}: no {name} in {folder}"
        assert (folder / name).stat().st_size > 0, f"{cmd}: {name} is empty"
    if own_stage is not None:
        assert not (folder / own_stage).exists(), f"{cmd}: wrote into {own_stage}/ of --out"
    if (folder / "manifest.json").is_file() and key != "report build":  # what it lists is what it wrote
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        for o in manifest["outputs"]:
            assert (folder / o["path"]).is_file(), f"{cmd}: manifest lists {o['path']}, not in {folder}"
        if key == "zoning layout":
            assert {o["path"] for o in manifest["outputs"]} >= {"layout.gpkg", "summary.json"}


@pytest.mark.slow
def test_readme_zoning_optimise_uses_the_run_cells(readme_run: tuple[Path, dict[str, Result]]) -> None:
    """The README's cells are the run's town 1 cells; the layout has the sizes the command asks for."""
    work, _ = readme_run
    cmd = next(c for c in LOCAL_CMDS if _key(c) == "zoning optimise")
    words = shlex.split(cmd)
    out = work / str(_out(cmd))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["all_checks_passed"] is True
    import geopandas as gpd

    districts = gpd.read_file(out / "layout.gpkg", layer="districts")
    sizes = dict(zip(districts["district"], districts["n_cells"], strict=True))
    want = {"body": words[words.index("--body") + 1], "wing_east": words[words.index("--wing-east") + 1],
            "wing_west": words[words.index("--wing-west") + 1]}
    assert sizes == {k: int(v) for k, v in want.items()}


@pytest.mark.slow
@pytest.mark.parametrize("cmd", DB_CMDS, ids=[_key(c).replace(" ", "-") for c in DB_CMDS])
def test_readme_database_commands(readme_run: tuple[Path, dict[str, Result]], pg_url: str, cmd: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from iptown_gis.report.postgis import list_tables, read_layer

    work, _results = readme_run
    monkeypatch.chdir(work)
    monkeypatch.setenv("IPTOWN_DB", pg_url)
    r = _run(cmd)
    assert r.exit_code == 0, f"{cmd}\n  -> exit {r.exit_code}: {_tail(r)}"
    words = shlex.split(cmd)
    schema = words[words.index("--schema") + 1]
    res = json.loads(r.output[r.output.index("{"):])
    assert res["schema"] == schema
    tables = list_tables(pg_url, schema=schema)
    assert sorted(res["tables"]) == tables
    assert {"network_edges", "od_seats", "scenarios", "hotspots", "ranked", "selected", "layout_districts"} \
        <= set(tables), tables
    ranked = read_layer(pg_url, "ranked", schema=schema)
    assert len(ranked) == 104
    assert ranked.crs is not None
