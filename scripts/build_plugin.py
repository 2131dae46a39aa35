"""Build the QGIS plugin zip: ``dist/iptown_planner-<version>.zip`` (used by ``make plugin``).

The zip holds one top-level folder ``iptown_planner/`` (what QGIS's "Install from ZIP" and
the plugin repository expect) with the plugin's sources, metadata.txt, icon and licence;
caches and compiled files are left out. The metadata is checked first: a zip that QGIS
would reject is never written. ``engine_hint.txt`` records this checkout's folder, so the
plugin finds the engine in its ``.venv`` when ``iptown`` is neither configured nor on PATH
(``--no-hint`` leaves it out, for a zip meant for other machines).

``--install PROFILE`` then installs the zip into a QGIS profile folder (e.g.
``~/.local/share/QGIS/QGIS3/profiles/default``) as "Install from ZIP" does: unpacked into
``python/plugins/iptown_planner`` (replacing an older copy) and enabled in ``QGIS/QGIS3.ini``.

Usage: python scripts/build_plugin.py [--out dist] [--no-hint] [--install PROFILE]
"""

from __future__ import annotations

import argparse
import configparser
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "qgis_plugin" / "iptown_planner"
REQUIRED_KEYS = ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
                 "repository", "tracker", "icon", "hasProcessingProvider")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".swp"}


def read_metadata(plugin: Path = PLUGIN) -> configparser.ConfigParser:
    """Parse and check metadata.txt; raise SystemExit naming a missing key."""
    cp = configparser.ConfigParser()
    path = plugin / "metadata.txt"
    with path.open(encoding="utf-8") as f:
        cp.read_file(f)
    missing = [k for k in REQUIRED_KEYS if not cp.get("general", k, fallback="").strip()]
    if missing:
        raise SystemExit(f"{path}: missing required key(s): {', '.join(missing)}")
    icon = plugin / cp.get("general", "icon")
    if not icon.is_file():
        raise SystemExit(f"{path}: icon {icon.name!r} does not exist")
    return cp


def plugin_files(plugin: Path = PLUGIN) -> list[Path]:
    files = []
    for p in sorted(plugin.rglob("*")):
        if p.is_dir() or SKIP_DIRS.intersection(p.relative_to(plugin).parts):
            continue
        if p.suffix in SKIP_SUFFIXES:
            continue
        files.append(p)
    return files


def build(out_dir: Path, plugin: Path = PLUGIN, *, hint: bool = True) -> Path:
    """Write the zip; return its path."""
    cp = read_metadata(plugin)
    version = cp.get("general", "version").strip()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{plugin.name}-{version}.zip"
    tmp = target.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in plugin_files(plugin):
            zf.write(f, f"{plugin.name}/{f.relative_to(plugin).as_posix()}")
        if hint:
            zf.writestr(f"{plugin.name}/engine_hint.txt", str(ROOT) + "\n")
        lic = ROOT / "LICENSE"
        if lic.is_file():
            zf.write(lic, f"{plugin.name}/LICENSE")
    tmp.replace(target)
    return target


def install(zip_path: Path, profile: Path) -> Path:
    """Unpack the zip into ``profile``'s plugins folder and enable the plugin; return its folder."""
    import shutil

    plugins = profile / "python" / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    target = plugins / PLUGIN.name
    staging = plugins / f".{PLUGIN.name}.installing"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(staging)
    shutil.rmtree(target, ignore_errors=True)
    (staging / PLUGIN.name).replace(target)
    shutil.rmtree(staging, ignore_errors=True)
    ini_path = profile / "QGIS" / "QGIS3.ini"
    ini_path.parent.mkdir(parents=True, exist_ok=True)
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    if ini_path.is_file():
        ini.read(ini_path, encoding="utf-8")
    if not ini.has_section("PythonPlugins"):
        ini.add_section("PythonPlugins")
    ini.set("PythonPlugins", PLUGIN.name, "true")
    with ini_path.open("w", encoding="utf-8") as f:
        ini.write(f, space_around_delimiters=False)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "dist"), help="output folder (default: dist/)")
    ap.add_argument("--no-hint", action="store_true", help="do not record this checkout as the engine's home")
    ap.add_argument("--install", metavar="PROFILE", default=None,
                    help="also install it into this QGIS profile folder and enable it")
    args = ap.parse_args(argv)
    target = build(Path(args.out), hint=not args.no_hint)
    with zipfile.ZipFile(target) as zf:
        n = len(zf.namelist())
    print(f"built {target} ({n} files, {target.stat().st_size / 1024:.0f} KiB)")
    if args.install:
        where = install(target, Path(args.install).expanduser())
        print(f"installed into {where} and enabled; restart QGIS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
