"""Keep a pooled Qt thread's Python thread state alive between Processing runs.

QGIS runs algorithms in QgsTasks on pooled Qt threads. sip creates a Python thread state
around each call and destroys it afterwards; pyproj keeps a PROJ context per thread and, with
the thread state gone, the next run on the same OS thread used a dangling context and crashed
QGIS (reproduced by tests/qgis/test_background.py). Taking one extra, never-released GIL-state
reference per OS thread keeps that thread's Python state -- and pyproj's context -- valid for
the thread's whole life.
"""

from __future__ import annotations

import ctypes
import threading

_pinned: set[int] = set()
_lock = threading.Lock()


def pin_thread_state() -> None:
    """Pin the calling OS thread's Python thread state (idempotent; main thread untouched)."""
    if threading.current_thread() is threading.main_thread():
        return
    tid = threading.get_native_id()
    with _lock:
        if tid in _pinned:
            return
        _pinned.add(tid)
    ctypes.pythonapi.PyGILState_Ensure.restype = ctypes.c_int
    ctypes.pythonapi.PyGILState_Ensure()  # deliberately never released
