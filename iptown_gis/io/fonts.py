"""Fonts that can draw Chinese place names, for every map, report and QGIS style.

Anhui's (and any Chinese region's) names are in Chinese characters; a Latin-only font draws
them as boxes. Every output names one family chain, CJK-capable first, Latin last:

* matplotlib: :func:`mpl_font_context` (an ``rcParams`` context, never a global change), whose
  ``font.sans-serif`` list matplotlib falls back along glyph by glyph;
* HTML/CSS: :data:`CSS_FONT_STACK`;
* QGIS labels and legends: :func:`qgis_font_family` (the first family of the chain that
  fontconfig knows, else the first of the chain, which QGIS replaces by its own default).

The setup installs Debian's ``fonts-noto-cjk`` (``make demo`` / ``make test``), which provides
"Noto Sans CJK SC". On other systems the chain tries Source Han Sans, WenQuanYi, Microsoft YaHei,
SimHei and PingFang before DejaVu Sans.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CJK_FAMILIES", "CJK_MONO_FAMILIES", "CSS_FONT_STACK", "FONT_FAMILIES", "cjk_font_available",
           "mpl_font_context",
           "mpl_font_families", "qgis_font_family"]

log = logging.getLogger(__name__)

#: CJK-capable sans-serif families, preferred first (Simplified Chinese forms first).
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans CJK JP",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC",
    "Hiragino Sans GB", "Arial Unicode MS",
)
#: CJK-capable monospace families (tables of names on maps), then the sans-serif CJK ones.
CJK_MONO_FAMILIES: tuple[str, ...] = ("Noto Sans Mono CJK SC", "Noto Sans Mono CJK JP", "Sarasa Mono SC")
#: The whole chain: CJK first, then Latin fonts for anything the CJK font lacks.
FONT_FAMILIES: tuple[str, ...] = (*CJK_FAMILIES, "DejaVu Sans", "Arial", "Helvetica")
#: The same chain as a CSS ``font-family`` value.
CSS_FONT_STACK: str = ", ".join(f'"{f}"' for f in FONT_FAMILIES) + ", sans-serif"

#: File name stems of CJK fonts looked for when matplotlib's font cache predates their install.
_CJK_FILE_HINTS = ("notosanscjk", "notosanssc", "sourcehansans", "wqy-zenhei", "wqy-microhei", "msyh",
                   "simhei", "pingfang")
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts",
              "/Library/Fonts", "/System/Library/Fonts", "C:/Windows/Fonts")


@functools.lru_cache(maxsize=1)
def _register_cjk_fonts() -> tuple[str, ...]:
    """CJK families matplotlib knows, adding installed font files its cache missed."""
    from matplotlib import font_manager

    def known() -> set[str]:
        return {f.name for f in font_manager.fontManager.ttflist}

    names = known()
    if not any(f in names for f in CJK_FAMILIES):
        # matplotlib caches the font list: a font installed after the cache was built is unseen
        for d in _FONT_DIRS:
            root = Path(d).expanduser()
            if not root.is_dir():
                continue
            for p in sorted(root.rglob("*")):
                stem = p.name.lower()
                if p.suffix.lower() in (".ttf", ".otf", ".ttc") and any(h in stem for h in _CJK_FILE_HINTS) \
                        and "serif" not in stem:
                    try:
                        font_manager.fontManager.addfont(str(p))
                    except Exception as exc:  # an unreadable font file: skip it
                        log.debug("fonts: cannot add %s: %s", p, exc)
        names = known()
    found = tuple(f for f in (*CJK_FAMILIES, *CJK_MONO_FAMILIES) if f in names)
    if not found:
        log.warning("fonts: no CJK-capable font installed (e.g. Debian's fonts-noto-cjk): Chinese names "
                    "will be drawn as boxes on maps")
    return found


def cjk_font_available() -> bool:
    """True if matplotlib can use a CJK-capable font of :data:`CJK_FAMILIES`."""
    return any(f in CJK_FAMILIES for f in _register_cjk_fonts())


def mpl_font_families() -> list[str]:
    """The ``font.sans-serif`` list for matplotlib: installed CJK families, then Latin fallbacks."""
    from matplotlib import rcParams

    cjk = [f for f in _register_cjk_fonts() if f in CJK_FAMILIES]
    rest = [f for f in rcParams["font.sans-serif"] if f not in cjk]
    return [*cjk, *[f for f in FONT_FAMILIES if f not in cjk and f not in CJK_FAMILIES], *rest]


@contextlib.contextmanager
def mpl_font_context() -> Iterator[None]:
    """A matplotlib ``rc_context`` with the CJK-capable sans-serif chain (figures made inside it)."""
    import matplotlib

    sans = mpl_font_families()
    found = _register_cjk_fonts()
    mono = [f for f in CJK_MONO_FAMILIES if f in found] + [f for f in found if f in CJK_FAMILIES]
    rest = [f for f in matplotlib.rcParams["font.monospace"] if f not in mono]
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": sans,
                                "font.monospace": [*mono, *rest], "axes.unicode_minus": False}):
        yield


@functools.lru_cache(maxsize=1)
def qgis_font_family() -> str:
    """The family QGIS labels and legends name: the first of the chain fontconfig knows."""
    fc = shutil.which("fc-list")
    if fc:
        try:
            out = subprocess.run([fc, ":", "family"], capture_output=True, text=True, timeout=20, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        installed = {name.strip() for line in out.splitlines() for name in line.split(",")}
        for fam in FONT_FAMILIES:
            if fam in installed:
                return fam
    return FONT_FAMILIES[0]

