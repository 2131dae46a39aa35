"""The missing-dependency guard.

QGIS runs plugins in its own Python. When ``iptown_gis`` or one of its dependencies is not
importable there, the plugin must still load, say exactly what is missing and how to install
it, and disable its tools. :func:`check_dependencies` does the checking (importing each module
for real, so a broken binary build is caught too) and :func:`install_hint` builds the message.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from dataclasses import dataclass

#: Oldest iptown_gis this plugin works with (the plugin's own version's minor series).
MIN_LIBRARY_VERSION = (0, 1, 0)

#: Modules the library needs at run time: import name -> pip requirement.
REQUIRED: dict[str, str] = {
    "numpy": "numpy>=1.24",
    "scipy": "scipy>=1.11",
    "pandas": "pandas>=2.0",
    "shapely": "shapely>=2.0",
    "pyproj": "pyproj>=3.6",
    "pyogrio": "pyogrio>=0.7",
    "geopandas": "geopandas>=1.0",
    "rasterio": "rasterio>=1.3",
    "networkx": "networkx>=3.0",
    "osmnx": "osmnx>=2.0",
    "pydantic": "pydantic>=2.5",
    "highspy": "highspy>=1.7",
    "iptown_gis": "iptown_gis>=0.1",
}


@dataclass(frozen=True)
class Missing:
    """One module that cannot be imported, with the reason and the pip requirement."""

    module: str
    requirement: str
    reason: str


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for p in text.split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_dependencies() -> list[Missing]:
    """Import every required module; return those that fail (empty list: all good)."""
    missing: list[Missing] = []
    for module, req in REQUIRED.items():
        try:
            mod = importlib.import_module(module)
        except Exception as exc:  # ImportError, or a broken build raising anything else
            missing.append(Missing(module, req, f"{type(exc).__name__}: {exc}"))
            continue
        if module == "iptown_gis":
            version = str(getattr(mod, "__version__", "0"))
            if _version_tuple(version) < MIN_LIBRARY_VERSION:
                need = ".".join(map(str, MIN_LIBRARY_VERSION))
                missing.append(Missing(module, f"iptown_gis>={need}", f"version {version} is too old"))
    return missing


def python_command() -> str:
    """The command that runs the Python QGIS uses, for install instructions."""
    exe = sys.executable or ""
    base = os.path.basename(exe).lower()
    if platform.system() == "Windows":
        return "python"  # in the OSGeo4W Shell / QGIS's python-qgis.bat
    if base.startswith("python"):
        return exe
    return "python3"


def install_hint(missing: list[Missing]) -> str:
    """A message naming what is missing and the command that installs it."""
    if not missing:
        return ""
    names = ", ".join(f"{m.module} ({m.reason})" for m in missing)
    reqs = " ".join(f'"{m.requirement}"' for m in missing)
    py = f"Python {platform.python_version()} at {sys.executable or 'unknown'}"
    how = f'{python_command()} -m pip install --user {reqs}'
    if platform.system() == "Windows":
        how = f"in the OSGeo4W Shell run: {how}"
    elif platform.system() == "Linux":
        how = (f"run: {how}  (on Debian/Ubuntu numpy, scipy, pandas, shapely, pyproj, geopandas and "
               "rasterio also come as apt packages: sudo apt install python3-geopandas python3-rasterio "
               "python3-scipy)")
    else:
        how = f"run: {how}"
    return (f"IP Town Planner is disabled: QGIS's Python ({py}) cannot import {names}. To install, "
            f"{how}; then restart QGIS.")
