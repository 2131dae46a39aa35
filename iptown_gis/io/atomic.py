"""Atomic outputs: write to a temporary file beside the target, then rename.

A failure (or cancellation) leaves no half-written file, and an input is never overwritten
in place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from iptown_gis.errors import OutputError

__all__ = ["FORMATS", "atomic_path", "check_output_path", "ensure_writable_dir"]

#: Output suffixes by kind of output (what each writer can produce).
FORMATS: dict[str, tuple[str, ...]] = {
    "raster": (".tif", ".tiff"),
    "vector": (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet", ".csv"),
    "layer": (".gpkg", ".geojson", ".json", ".shp", ".fgb"),
    "geopackage": (".gpkg",),
    "matrix": (".csv", ".parquet", ".npz"),
    "table": (".csv",),
}


def check_output_path(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    folder: bool = False,
    overwrite: bool = True,
    what: str = "output",
) -> Path:
    """Check an output path before any work: format by suffix, a writable place, overwriting.

    The one check every command and writer makes before computing, so a wrong name fails in
    a second rather than after the work. Nothing is created.

    Parameters
    ----------
    path
        The output file (or folder with ``folder``).
    kind
        A key of :data:`FORMATS` (``"raster"``, ``"vector"``, ``"layer"``, ``"geopackage"``,
        ``"matrix"``, ``"table"``): the suffix must be one of its formats. ``None``: any suffix.
    folder
        ``path`` is an output folder: it may exist (as a folder) or not.
    overwrite
        Allow replacing an existing file.
    what
        How to name the output in messages (a CLI flag: ``"--out"``).

    Raises
    ------
    OutputError
        Wrong suffix, ``path`` is a folder (or, with ``folder``, a file), it exists and
        ``overwrite`` is false, or the nearest existing parent is a file or not writable.
    """
    p = Path(path)
    label = f"{what} {str(p)!r}"
    if folder:
        if p.exists() and not p.is_dir():
            raise OutputError(f"{what}: output folder {str(p)!r} exists and is not a folder: choose another path")
    else:
        allowed = FORMATS.get(kind or "")
        if p.is_dir():
            raise OutputError(f"{label} is a folder: give a file name"
                              + (f" ending in {', '.join(allowed)}" if allowed else ""))
        if allowed and p.suffix.lower() not in allowed:
            raise OutputError(f"{label}: unsupported {kind} format {p.suffix or '(no suffix)'!r}: "
                              f"use a {', '.join(allowed)} file name")
        if p.exists() and not overwrite:
            raise OutputError(f"{label} exists: remove it, choose another name, or allow overwriting")
    anc = p.absolute() if folder else p.absolute().parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(f"{what}: cannot create output folder {str(p if folder else p.parent)!r} "
                          f"({str(anc)!r} is a file): choose another location")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(f"{what}: output folder {str(anc)!r} is not writable: choose a writable location")
    return p



def ensure_writable_dir(path: str | os.PathLike[str], *, create: bool = True) -> Path:
    """Make sure ``path`` is a writable folder (created if missing), else :class:`OutputError`."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"output folder {str(p)!r} exists and is not a folder: choose another path")
    if not p.exists():
        if not create:
            raise OutputError(f"output folder {str(p)!r} does not exist: create it first")
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create output folder {str(p)!r} ({exc.strerror}): choose a writable location"
            ) from exc
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {str(p)!r} is not writable: choose a writable location")
    # os.access can lie for root on read-only mounts; probe for real.
    try:
        with tempfile.NamedTemporaryFile(dir=p, prefix=".iptown-probe-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"output folder {str(p)!r} is not writable ({exc.strerror}): choose a writable location"
        ) from exc
    return p


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temporary file keeps ``target``'s suffix (drivers choose formats by it). On any
    exception the temporary file is removed and ``target`` is left untouched.

    Raises
    ------
    OutputError
        If the folder is not writable, or ``target`` exists and ``overwrite`` is false.
    """
    target = Path(target)
    ensure_writable_dir(target.parent if str(target.parent) else Path("."))
    if target.exists() and not overwrite:
        raise OutputError(f"{str(target)!r} exists: remove it or allow overwriting")
    if target.is_dir():
        raise OutputError(f"{str(target)!r} is a folder: give a file name")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=target.suffix)
    os.close(fd)
    os.unlink(tmp)  # drivers (GDAL) want to create the file themselves
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not tmp_path.exists():
            raise OutputError(f"nothing was written for {str(target)!r}")
        os.replace(tmp_path, target)
    except BaseException:
        if tmp_path.is_dir():
            shutil.rmtree(tmp_path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
        # sidecar files some drivers leave (.aux.xml, -journal, -wal, .ovr)
        for side in tmp_path.parent.glob(tmp_path.name + "*"):
            with contextlib.suppress(OSError):
                side.unlink()
        raise
