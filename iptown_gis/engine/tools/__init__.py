"""The engine's algorithms: one function per Processing algorithm id.

Each tool reads its inputs from files (:class:`~iptown_gis.engine.params.Params`), calls the
library's own functions (the same ones the CLI and the pipeline call) and writes its outputs
to the paths the job names. It returns a mapping of output key -> path (or number) for the
``result`` line. ``defaults`` are the parameter defaults a front shows (taken from the
library's constants, so the plugin and the library cannot drift apart).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iptown_gis.engine.params import Params

__all__ = ["TOOL_MODULES", "Tool", "get_tool", "tool", "tools"]

ToolFunc = Callable[[Params], Mapping[str, Any]]

#: Modules under ``iptown_gis.engine.tools`` that register tools, in menu order.
TOOL_MODULES = ("network", "surfaces", "neg", "sites", "zoning", "study")


@dataclass(frozen=True)
class Tool:
    """One engine algorithm."""

    name: str
    func: ToolFunc
    summary: str
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def run(self, params: Params) -> dict[str, Any]:
        return dict(self.func(params))


_REGISTRY: dict[str, Tool] = {}


def tool(name: str, *, defaults: Mapping[str, Any] | None = None) -> Callable[[ToolFunc], ToolFunc]:
    """Register ``func`` as the engine algorithm ``name`` (its docstring's first line is the summary)."""

    def deco(func: ToolFunc) -> ToolFunc:
        doc = (func.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = Tool(name=name, func=func, summary=doc[0] if doc else name, defaults=dict(defaults or {}))
        return func

    return deco


def tools() -> dict[str, Tool]:
    """Every registered tool (importing the tool modules on first use)."""
    for mod in TOOL_MODULES:
        importlib.import_module(f"iptown_gis.engine.tools.{mod}")
    return dict(_REGISTRY)


def get_tool(name: str) -> Tool:
    """The tool called ``name`` (an ``iptown:`` prefix is accepted)."""
    from iptown_gis.errors import ParameterError

    key = name.split(":", 1)[1] if name.startswith("iptown:") else name
    every = tools()
    if key not in every:
        raise ParameterError(f"unknown algorithm {name!r}; the engine has: {', '.join(sorted(every))}")
    return every[key]
