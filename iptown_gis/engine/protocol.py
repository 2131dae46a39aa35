"""The engine protocol, schema version 1.

Job (a JSON object, from a file or standard input)::

    {"schema": 1, "algorithm": "odmatrix", "parameters": {"ROADS": "roads.gpkg:roads", ...}}

Output: one JSON object per line on standard output, in this order:

- ``{"type": "start", "schema": 1, "version": "0.1.0", "algorithm": "odmatrix", "pid": 123}``
- any number of ``{"type": "progress", "fraction": 0.25, "message": "shortest paths"}``
  (fraction in [0, 1], never decreasing) and
  ``{"type": "log", "level": "INFO", "logger": "iptown_gis.network", "message": "..."}``
- exactly one of
  ``{"type": "result", "outputs": {"OUTPUT": "/path/od.gpkg", "BREAK_POINT": 1.6266}, "seconds": 1.2}``
  or ``{"type": "error", "error": "ColumnError", "message": "...", "user_error": true}``
  (``"traceback"`` is added for internal errors) or ``{"type": "cancelled", "message": "..."}``.

Exit codes are the CLI's: 0 done, 2 user error (bad input or parameters), 1 internal error,
130 interrupted (SIGINT), 143 terminated (SIGTERM: how a front cancels). Anything else the
libraries print goes to standard error, never into the protocol stream. Outputs are written
atomically, so a terminated job leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import IO, Any

from iptown_gis import __version__
from iptown_gis.errors import CancelledError, IptownError, ParameterError
from iptown_gis.progress import Progress

__all__ = ["EXIT", "SCHEMA_VERSION", "Emitter", "describe", "parse_job", "run_job"]

#: Version of the job and message schema; a front refuses an engine with another version.
SCHEMA_VERSION = 1

#: Exit codes (the CLI's).
EXIT = {"ok": 0, "internal": 1, "user": 2, "interrupted": 130, "terminated": 143}

log = logging.getLogger(__name__)


class Terminated(BaseException):
    """Raised in the main thread when the engine receives SIGTERM (a front's cancel)."""


class Emitter:
    """Writes protocol messages as JSON lines (thread-safe, flushed per line)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def emit(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"type": kind, **fields}, ensure_ascii=False, default=_jsonable, allow_nan=False)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (set, tuple)):
        return list(v)
    return str(v)


def _finite(v: Any) -> Any:
    """Replace NaN / inf (not JSON) by ``None``, recursively."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Mapping):
        return {str(k): _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        return _finite(v.item())
    return v


class _LogHandler(logging.Handler):
    def __init__(self, emitter: Emitter) -> None:
        super().__init__(logging.INFO)
        self.emitter = emitter

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.emit("log", level=record.levelname, logger=record.name, message=record.getMessage())
        except Exception:  # never let logging break a job
            self.handleError(record)


def _progress_callback(emitter: Emitter) -> Any:
    """A library progress callback emitting ``progress`` lines (at most ~20 a second)."""
    last = {"fraction": -1.0, "at": 0.0}
    last_message = [""]

    def cb(fraction: float, message: str = "") -> bool:
        f = min(max(float(fraction), 0.0), 1.0)
        f = max(f, last["fraction"])
        now = time.monotonic()
        changed_msg = bool(message) and message != last_message[0]
        if changed_msg or (f - last["fraction"] >= 0.005 and now - last["at"] >= 0.05):
            last["fraction"], last["at"] = f, now
            if message:
                last_message[0] = message
            emitter.emit("progress", fraction=round(f, 4), message=message or last_message[0])
        return True

    return cb


def parse_job(job: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """Check a job's shape and schema version; return it as a dict.

    Raises
    ------
    ParameterError
        Not a JSON object, another schema version, no algorithm, parameters not an object.
    """
    if isinstance(job, (str, bytes)):
        try:
            data = json.loads(job)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"the job is not valid JSON ({exc}); see docs/engine.md") from None
    else:
        data = dict(job)
    if not isinstance(data, dict):
        raise ParameterError("the job must be a JSON object with schema, algorithm and parameters")
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        raise ParameterError(f"job schema {schema!r} is not supported: this engine (iptown_gis {__version__}) "
                             f"speaks schema {SCHEMA_VERSION}; install the matching plugin or engine")
    if not isinstance(data.get("algorithm"), str) or not data["algorithm"]:
        raise ParameterError("the job has no 'algorithm' (e.g. \"odmatrix\")")
    params = data.get("parameters", {})
    if not isinstance(params, dict):
        raise ParameterError("the job's 'parameters' must be a JSON object")
    data["parameters"] = params
    return data


@contextlib.contextmanager
def _protocol_stdout() -> Iterator[IO[str]]:
    """A private copy of standard output for the protocol; fd 1 then points at standard error.

    Native libraries (HiGHS, GDAL) and stray ``print`` calls write to fd 1; sending fd 1 to
    stderr keeps every byte they write out of the JSON-lines stream.
    """
    sys.stdout.flush()
    try:
        # sys.stdout's descriptor, which is fd 1 unless a front (the CLI) already moved fd 1 away
        fd = os.dup(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real descriptor (embedded use): use sys.stdout
        yield sys.stdout
        return
    saved_stdout = sys.stdout
    saved_fd1 = os.dup(1)
    stream = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield stream
    finally:
        sys.stdout = saved_stdout
        stream.flush()
        os.dup2(saved_fd1, 1)
        os.close(saved_fd1)
        stream.close()


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated()


def run_job(job: str | bytes | Mapping[str, Any], *, stream: IO[str] | None = None) -> int:
    """Run one job, streaming protocol messages; return the exit code.

    ``stream`` is where the JSON lines go (default: a private copy of standard output, with
    fd 1 redirected to standard error while the job runs).
    """
    if stream is not None:
        return _run(job, Emitter(stream))
    with _protocol_stdout() as out:
        return _run(job, Emitter(out))


def _run(job: str | bytes | Mapping[str, Any], emitter: Emitter) -> int:
    from iptown_gis.engine.params import Params
    from iptown_gis.engine.tools import get_tool

    handler = _LogHandler(emitter)
    pkg_log = logging.getLogger("iptown_gis")
    pkg_log.addHandler(handler)
    old_level = pkg_log.level
    if pkg_log.getEffectiveLevel() > logging.INFO:
        pkg_log.setLevel(logging.INFO)
    old_term = None
    if threading.current_thread() is threading.main_thread():
        old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.perf_counter()
    algorithm = "?"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            logging.captureWarnings(True)
            data = parse_job(job)
            algorithm = data["algorithm"]
            emitter.emit("start", schema=SCHEMA_VERSION, version=__version__, algorithm=algorithm, pid=os.getpid())
            t = get_tool(algorithm)
            params = Params(data["parameters"], algorithm=t.name, defaults=t.defaults,
                            progress=Progress(_progress_callback(emitter)))
            outputs = t.run(params)
            params.progress.update(1.0, "done")
        emitter.emit("result", outputs=_finite(outputs), seconds=round(time.perf_counter() - started, 3))
        return EXIT["ok"]
    except CancelledError as exc:
        emitter.emit("cancelled", message=str(exc))
        return EXIT["terminated"]
    except IptownError as exc:
        emitter.emit("error", error=type(exc).__name__, message=str(exc).strip() or type(exc).__name__,
                     user_error=True)
        return EXIT["user"]
    except Terminated:
        emitter.emit("cancelled", message="terminated (SIGTERM): the job was cancelled")
        return EXIT["terminated"]
    except KeyboardInterrupt:
        emitter.emit("cancelled", message="interrupted (SIGINT)")
        return EXIT["interrupted"]
    except Exception as exc:
        log.debug("internal error in %s", algorithm, exc_info=True)
        emitter.emit("error", error=type(exc).__name__,
                     message=f"internal error in iptown_gis ({type(exc).__name__}: {exc}); please report it",
                     user_error=False, traceback=traceback.format_exc())
        return EXIT["internal"]
    finally:
        logging.captureWarnings(False)
        pkg_log.removeHandler(handler)
        pkg_log.setLevel(old_level)
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def describe(*, with_defaults: bool = True) -> dict[str, Any]:
    """What a front needs to know about this engine: versions, schema, algorithms, style files."""
    from pathlib import Path

    import iptown_gis
    from iptown_gis.engine.tools import tools

    pkg = Path(iptown_gis.__file__).resolve().parent
    algs: dict[str, Any] = {}
    for name, t in tools().items():
        algs[name] = {"summary": t.summary, **({"defaults": _finite(dict(t.defaults))} if with_defaults else {})}
    return {
        "engine": "iptown_gis",
        "version": __version__,
        "schema": SCHEMA_VERSION,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "styles_dir": str(pkg / "zoning" / "styles"),
        "algorithms": algs,
    }
