"""The engine: the ``iptown`` command of iptown_gis, run as a separate process.

The plugin never imports the scientific stack (numpy, shapely, pyproj, GDAL wheels...) into
QGIS's process: two copies of GEOS/PROJ/GDAL in one process corrupt each other. Like QGIS's
GRASS and SAGA providers, it writes the inputs as files, runs the tool, streams its progress
and reads the results back. The protocol is iptown_gis's engine protocol (``docs/engine.md``):
a JSON job in, JSON lines out.

Finding the engine, in order:

1. the provider setting "iptown engine" (Settings > Options > Processing > Providers >
   IP Town Planner), or the environment variable ``IPTOWN_ENGINE``;
2. ``iptown`` on ``PATH``;
3. the ``.venv`` of the iptown_gis checkout the plugin was built from (``engine_hint.txt``
   written by ``make plugin``) or lives in.

Only the standard library is used here.
"""

from __future__ import annotations

import collections
import configparser
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: The engine protocol version this plugin speaks.
SCHEMA_VERSION = 1

#: Name of the provider setting holding the engine's path.
SETTING = "IPTOWN_ENGINE"

#: Seconds a cancelled engine gets to stop by itself before it is killed.
TERMINATE_GRACE_S = 1.0


def plugin_version() -> str:
    """The plugin's version from metadata.txt."""
    cp = configparser.ConfigParser()
    cp.read(HERE / "metadata.txt", encoding="utf-8")
    return cp.get("general", "version", fallback="0")


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for p in str(text).split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def install_command() -> str:
    """The one command that installs the engine matching this plugin."""
    return f'python3 -m pip install --user "iptown_gis=={plugin_version()}"'


class EngineUnavailable(Exception):
    """No usable engine: the message says what to install or configure."""


class EngineError(Exception):
    """The engine reported an error (``user_error``: bad input the user can fix)."""

    def __init__(self, message: str, *, kind: str = "", user_error: bool = True, details: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.user_error = user_error
        self.details = details


class EngineCancelled(Exception):
    """The job was cancelled and the engine process stopped."""


# ----------------------------------------------------------------------------- locating
def configured_path() -> str:
    """The engine path from the provider setting, else ``$IPTOWN_ENGINE`` ("" when neither)."""
    value = ""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        value = str(ProcessingConfig.getSetting(SETTING) or "").strip()
    except Exception:  # Processing not initialised (plugin loaded before it): use the environment
        value = ""
    return value or os.environ.get("IPTOWN_ENGINE", "").strip()


def _venv_engine(root: Path) -> Path | None:
    for cand in (root / ".venv" / "bin" / "iptown", root / ".venv" / "Scripts" / "iptown.exe"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def candidates() -> list[tuple[str, str]]:
    """``(command, where it came from)`` in the order they are tried."""
    out: list[tuple[str, str]] = []
    conf = configured_path()
    if conf:
        out.append((conf, "the provider setting / IPTOWN_ENGINE"))
        return out  # an explicit choice is never second-guessed
    on_path = shutil.which("iptown")
    if on_path:
        out.append((on_path, "PATH"))
    roots = []
    hint = HERE / "engine_hint.txt"
    if hint.is_file():
        roots.append(Path(hint.read_text(encoding="utf-8").strip()))
    roots += [HERE.parent.parent, HERE.parent]  # a plugin linked from a checkout's qgis_plugin/
    for root in roots:
        exe = _venv_engine(root)
        if exe is not None and str(exe) not in {c for c, _ in out}:
            out.append((str(exe), f"the checkout's .venv ({root})"))
    return out


def engine_env() -> dict[str, str]:
    """The environment for the engine: QGIS's own Python settings removed."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "QGIS_PYTHON_PATH"):
        env.pop(key, None)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _popen_kwargs() -> dict[str, Any]:
    kw: dict[str, Any] = {"env": engine_env()}
    if sys.platform == "win32":
        kw["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    return kw


@dataclass(frozen=True)
class Engine:
    """A working engine: its command and what ``iptown engine info`` said."""

    command: str
    source: str
    info: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.info.get("version", "?"))

    def defaults(self, algorithm: str) -> dict[str, Any]:
        return dict(self.info.get("algorithms", {}).get(algorithm, {}).get("defaults", {}))

    @property
    def styles_dir(self) -> Path | None:
        d = self.info.get("styles_dir")
        return Path(d) if d and Path(d).is_dir() else None


def probe(command: str, *, timeout: float = 120.0) -> dict[str, Any]:
    """Run ``COMMAND engine info`` and return its JSON (EngineUnavailable with the reason)."""
    try:
        proc = subprocess.run([command, "engine", "info"], capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=timeout, stdin=subprocess.DEVNULL, **_popen_kwargs())
    except FileNotFoundError:
        raise EngineUnavailable(f"{command!r} does not exist") from None
    except PermissionError:
        raise EngineUnavailable(f"{command!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise EngineUnavailable(f"{command!r} did not answer 'engine info' within {timeout:.0f} s") from None
    except OSError as exc:
        raise EngineUnavailable(f"{command!r} cannot be started ({exc})") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise EngineUnavailable(f"{command!r} failed 'engine info' (exit {proc.returncode}): {' | '.join(tail)}")
    try:
        info = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise EngineUnavailable(f"{command!r} is not an iptown_gis engine (no JSON from 'engine info')") from None
    return info


def check_compatible(info: dict[str, Any]) -> str | None:
    """Why an engine's ``info`` does not fit this plugin (``None``: it fits)."""
    if info.get("engine") != "iptown_gis":
        return "it is not an iptown_gis engine"
    if info.get("schema") != SCHEMA_VERSION:
        return f"it speaks engine schema {info.get('schema')}, this plugin schema {SCHEMA_VERSION}"
    want, have = _version_tuple(plugin_version()), _version_tuple(str(info.get("version", "0")))
    if have[:2] != want[:2] or have < want:
        return f"it is iptown_gis {info.get('version')}, this plugin needs {plugin_version()} (same minor series)"
    return None


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def find_engine(*, refresh: bool = False) -> Engine:
    """The first working, compatible engine (cached; ``refresh`` looks again).

    Raises
    ------
    EngineUnavailable
        None was found: the message lists what was tried and the command that installs one.
    """
    with _cache_lock:
        if not refresh and "engine" in _cache:
            return _cache["engine"]
        if not refresh and "error" in _cache:
            raise EngineUnavailable(_cache["error"])
        tried = []
        for command, source in candidates():
            try:
                info = probe(command)
            except EngineUnavailable as exc:
                tried.append(f"{command} ({source}): {exc}")
                continue
            why = check_compatible(info)
            if why:
                tried.append(f"{command} ({source}): {why}")
                continue
            eng = Engine(command=command, source=source, info=info)
            _cache.pop("error", None)
            _cache["engine"] = eng
            return eng
        looked = "; ".join(tried) if tried else "no 'iptown' in the provider setting, IPTOWN_ENGINE or PATH"
        msg = (f"IP Town Planner needs its engine, the 'iptown' command of iptown_gis {plugin_version()}, and "
               f"found none that works ({looked}). Install it with: {install_command()} — or, from an "
               "iptown_gis checkout, run 'make setup' — then restart QGIS or set the path of 'iptown' in "
               "Settings > Options > Processing > Providers > IP Town Planner.")
        _cache.pop("engine", None)
        _cache["error"] = msg
        raise EngineUnavailable(msg)


def forget() -> None:
    """Drop the cached engine (after the setting changed)."""
    with _cache_lock:
        _cache.clear()


# ----------------------------------------------------------------------------- running
ProgressFn = Callable[[float, str], None]
LogFn = Callable[[str, str], None]


def _reader(stream: Any, sink: queue.Queue[Any]) -> None:
    try:
        for line in stream:
            sink.put(line)
    finally:
        sink.put(None)


def _drain(stream: Any, tail: collections.deque[str]) -> None:
    for line in stream:
        tail.append(line.rstrip("\n"))


def run_job(
    engine: Engine,
    algorithm: str,
    parameters: dict[str, Any],
    *,
    work_dir: str | os.PathLike[str],
    on_progress: ProgressFn | None = None,
    on_log: LogFn | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> dict[str, Any]:
    """Run one job in the engine and return its ``outputs``.

    The engine's progress and log lines are passed to ``on_progress(fraction, message)`` and
    ``on_log(level, message)`` in the calling thread. ``is_cancelled()`` is polled every 0.1 s;
    when it turns true the engine is terminated (killed after ``TERMINATE_GRACE_S``).

    Raises
    ------
    EngineError
        The engine reported an error, or stopped without a result (crash).
    EngineCancelled
        The job was cancelled.
    """
    folder = Path(work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    job_file = folder / "job.json"
    job = {"schema": SCHEMA_VERSION, "algorithm": algorithm, "parameters": parameters}
    job_file.write_text(json.dumps(job, ensure_ascii=False, indent=1), encoding="utf-8")
    try:
        proc = subprocess.Popen([engine.command, "engine", "run", str(job_file)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                errors="replace", bufsize=1, **_popen_kwargs())
    except OSError as exc:
        raise EngineError(f"cannot start the engine {engine.command!r}: {exc}", user_error=False) from None
    if on_start is not None:
        on_start(proc)
    lines: queue.Queue[Any] = queue.Queue()
    err_tail: collections.deque[str] = collections.deque(maxlen=200)
    t_out = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
    t_err = threading.Thread(target=_drain, args=(proc.stderr, err_tail), daemon=True)
    t_out.start()
    t_err.start()
    final: dict[str, Any] | None = None
    try:
        while True:
            if is_cancelled is not None and is_cancelled():
                stop(proc)
                raise EngineCancelled("cancelled by the user")
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                err_tail.append(line.rstrip("\n"))
                continue
            kind = msg.get("type")
            if kind == "progress" and on_progress is not None:
                on_progress(float(msg.get("fraction", 0.0)), str(msg.get("message", "")))
            elif kind == "log" and on_log is not None:
                on_log(str(msg.get("level", "INFO")), str(msg.get("message", "")))
            elif kind in ("result", "error", "cancelled"):
                final = msg
        code = proc.wait()
    except BaseException:
        stop(proc)
        raise
    finally:
        t_err.join(timeout=2)
    if final is not None and final.get("type") == "result":
        return dict(final.get("outputs") or {})
    if final is not None and final.get("type") == "error":
        raise EngineError(str(final.get("message")), kind=str(final.get("error", "")),
                          user_error=bool(final.get("user_error", True)), details=str(final.get("traceback", "")))
    if final is not None and final.get("type") == "cancelled":
        raise EngineCancelled(str(final.get("message", "cancelled")))
    tail = "\n".join(list(err_tail)[-15:])
    raise EngineError(f"the engine stopped without a result (exit code {code}); its last words:\n{tail}",
                      kind="EngineCrash", user_error=False, details="\n".join(err_tail))


def stop(proc: subprocess.Popen[str]) -> None:
    """Terminate the engine; kill it if it has not stopped within ``TERMINATE_GRACE_S``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    deadline = time.monotonic() + TERMINATE_GRACE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return
        time.sleep(0.02)
    proc.kill()
    proc.wait(timeout=5)
