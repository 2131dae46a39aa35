"""Lazy package namespaces: a package's public names load their submodule on first use.

A package's ``__init__.py`` lists each public name's home submodule and binds the module-level
``__getattr__``/``__dir__`` this module builds (PEP 562), so importing the package stays cheap
(``import iptown_gis.network`` imports neither NumPy-heavy submodules nor Numba)::

    _HOME = {"read_vector": "vector", "write_geotiff": "raster"}
    __getattr__, __dir__ = lazy_namespace(__name__, globals(), _HOME)

Foundation layer: standard library only.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_namespace"]


def lazy_namespace(
    package: str, namespace: MutableMapping[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names load on first use.

    Parameters
    ----------
    package
        The package's dotted name (its ``__name__``).
    namespace
        The package's ``globals()``: a loaded name is stored there, so the next access is a
        plain attribute lookup; its ``__all__`` is listed by ``__dir__``.
    homes
        Public name -> the submodule (relative to ``package``) that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)`` to bind at the package's module level. ``__getattr__``
        also returns a submodule by its name (``package.od``), as a plain import would, and
        raises :class:`AttributeError` (``module 'package' has no attribute 'x'``) otherwise.
    """

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            if importlib.util.find_spec(f"{package}.{name}") is not None:  # a submodule, as before
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    getattr_.__doc__ = f"Load the submodule of {package} defining ``name`` on first use."
    return getattr_, dir_
