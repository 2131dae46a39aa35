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

__all__ = ["atomic_path", "ensure_writable_dir"]


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
