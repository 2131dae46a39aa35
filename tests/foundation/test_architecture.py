"""The import graph of ``iptown_gis`` follows its layers (see docs/architecture.md).

A small import-graph checker built on :mod:`ast` (standard library only). Every module of the
package is parsed and its imports are collected: module-level ones, function-local ones (inside a
``def``) and type-only ones (under ``if TYPE_CHECKING:``), all of which count. Each module is
mapped to a layer:

0. foundation: ``errors``, ``progress``, ``io``, ``crs``, ``parallel``, ``_highs``, ``_lazy``,
   ``datasets`` (and the package root, which only holds ``__version__``);
1. topic kernels: ``network``, ``surfaces``, ``neg``, ``sites``, ``zoning``, minus their
   ``stage.py`` and ``config.py``; a kernel may import only the kernels listed in
   ``KERNEL_DEPS`` for it;
2. study: ``scenario``, ``pipeline``, ``study``, ``report``, every ``<package>/stage.py`` and
   ``<package>/config.py`` (the scenario sections);
3. fronts: ``cli``, ``engine``.

The test asserts (a) that no import points from a lower layer to a higher one (nor from a
kernel to a kernel it may not use), and (b) that the package graph (one node per top-level
package or module, function-local imports included) has no cycle, except for the edges of
``KNOWN_VIOLATIONS``: those are left out of both checks. An entry that no longer exists in the
code fails the test too, so the list only shrinks. Imports done by string through
:mod:`importlib` (the stage and section registries of ``scenario.py``/``pipeline.py``, lazy
attributes of ``parallel``) are invisible to this checker.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "iptown_gis"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE

FOUNDATION, KERNEL, STUDY, FRONT = 0, 1, 2, 3
LAYER_NAMES = {FOUNDATION: "foundation", KERNEL: "kernel", STUDY: "study", FRONT: "front"}

#: Top-level packages/modules of each layer (``stage``/``config`` submodules are ``STUDY``).
TOP_LAYERS = {
    "errors": FOUNDATION, "progress": FOUNDATION, "io": FOUNDATION, "crs": FOUNDATION,
    "parallel": FOUNDATION, "_highs": FOUNDATION, "_lazy": FOUNDATION, "datasets": FOUNDATION,
    "network": KERNEL, "surfaces": KERNEL, "neg": KERNEL, "sites": KERNEL, "zoning": KERNEL,
    "scenario": STUDY, "pipeline": STUDY, "stage_results": STUDY, "study": STUDY, "report": STUDY,
    "cli": FRONT, "engine": FRONT,
}
#: Submodules that belong to the study layer wherever they are (scenario sections and stages).
STUDY_SUBMODULES = ("stage", "config")

#: Which other kernels each topic kernel may import.
KERNEL_DEPS: dict[str, frozenset[str]] = {
    "network": frozenset(),
    "surfaces": frozenset({"network"}),
    "neg": frozenset({"network", "surfaces"}),
    "sites": frozenset({"network", "surfaces", "neg"}),
    "zoning": frozenset({"network", "surfaces", "sites"}),
}

#: Edges ``(importing module, imported module)`` that break the rules today, each with the reason
#: it exists. They are left out of both checks; remove an entry when its import is gone (the
#: test fails on stale entries). docs/architecture.md lists them (generated from this dict).
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    # parallel is foundation (executor, budget), but its Dask variants of the kernels live in it too;
    # they belong in their topics (e.g. network/_dask.py), leaving parallel a plain executor.
    ("iptown_gis.parallel.od", "iptown_gis.network"):
        "deprecated re-export of network.node_costs/many_to_many (moved there, with executor=); remove with it",
}


@dataclass(frozen=True)
class Module:
    name: str
    source: str
    is_package: bool = False


@dataclass(frozen=True)
class Import:
    src: str
    dst: str
    kind: str  # "module", "local" (inside a function) or "type" (under TYPE_CHECKING)
    line: int


@functools.cache
def package_modules(root: Path = PACKAGE_DIR) -> tuple[Module, ...]:
    """Every ``.py`` module under ``root`` (the package directory)."""
    mods = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        mods.append(Module(name, path.read_text(encoding="utf-8"), is_pkg))
    return tuple(mods)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@functools.cache
def _parse(source: str) -> ast.Module:
    return ast.parse(source)


def collect_imports(mod: Module, known: Iterable[str]) -> list[Import]:
    """The imports of ``mod`` into the package, resolved to module names of ``known``."""
    known = set(known)
    package = mod.name if mod.is_package else mod.name.rpartition(".")[0]
    found: list[Import] = []

    def add(dst: str, kind: str, line: int) -> None:
        if dst == PACKAGE or dst.startswith(PACKAGE + "."):
            found.append(Import(mod.name, dst, kind, line))

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, kind, child.lineno)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for alias in child.names:  # ``from pkg import submodule`` imports the submodule
                    sub = f"{target}.{alias.name}"
                    add(sub if sub in known else target, kind, child.lineno)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, "local" if kind == "module" else kind)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), "type")
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), kind)
            else:
                visit(child, kind)

    visit(_parse(mod.source), "module")
    return found


def top(name: str) -> str:
    """The package-graph node of a module: its top-level package (or the root)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def layer_of(name: str) -> int | None:
    """The layer of a module, ``None`` when it has none (a new top-level package)."""
    parts = name.split(".")
    if len(parts) == 1:
        return FOUNDATION  # the root __init__: __version__ only
    if len(parts) > 2 and parts[2] in STUDY_SUBMODULES:
        return STUDY
    return TOP_LAYERS.get(parts[1])


def edge_rule(src: str, dst: str) -> str | None:
    """Why the import ``src -> dst`` breaks the layering, or ``None`` when it does not."""
    ls, ld = layer_of(src), layer_of(dst)
    if ls is None:
        return f"{src} has no layer: add {top(src)!r} to TOP_LAYERS"
    if ld is None:
        return f"{dst} has no layer: add {top(dst)!r} to TOP_LAYERS"
    if ld > ls:
        return f"{LAYER_NAMES[ls]} imports {LAYER_NAMES[ld]}"
    if ls == ld == KERNEL and top(src) != top(dst) and top(dst) not in KERNEL_DEPS[top(src)]:
        return f"kernel {top(src)} may not import kernel {top(dst)}"
    return None


def _sccs(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan) with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(out)


def import_edges(modules: Iterable[Module]) -> dict[tuple[str, str], list[Import]]:
    """``(src, dst) -> imports`` over the modules, self-imports left out."""
    modules = list(modules)
    names = {m.name for m in modules}
    edges: dict[tuple[str, str], list[Import]] = {}
    for m in modules:
        for imp in collect_imports(m, names):
            if imp.dst != imp.src:
                edges.setdefault((imp.src, imp.dst), []).append(imp)
    return edges


def _describe(edge: tuple[str, str], imps: list[Import]) -> str:
    kinds = "/".join(sorted({i.kind for i in imps}))
    lines = ",".join(str(n) for n in sorted({i.line for i in imps}))
    return f"{edge[0]} -> {edge[1]} ({kinds}, line {lines})"


def module_cycles(modules: Iterable[Module], known: Mapping[tuple[str, str], str] = KNOWN_VIOLATIONS) -> list[str]:
    """Import cycles between modules (inside a package too), edges of ``known`` excepted.

    Every import counts, function-local and ``TYPE_CHECKING`` ones included, so a cycle cannot
    be hidden by moving one of its imports into a function: move the shared piece to the lower
    module instead (or type against a protocol defined there).
    """
    edges = import_edges(modules)
    graph: dict[str, set[str]] = {}
    for (src, dst) in edges:
        if (src, dst) not in known:
            graph.setdefault(src, set()).add(dst)
    out = []
    for comp in _sccs(graph):
        inner = [_describe(e, imps) for e, imps in sorted(edges.items())
                 if e[0] in comp and e[1] in comp and e not in known]
        out.append(f"cycle between {', '.join(comp)} through: " + "; ".join(inner))
    return out


def check(
    modules: Iterable[Module], known: Mapping[tuple[str, str], str] = KNOWN_VIOLATIONS
) -> tuple[list[str], list[str], list[str]]:
    """``(layer violations, package cycles, stale allowlist entries)``, edges of ``known`` excepted."""
    edges = import_edges(modules)
    layering = [
        f"{_describe(e, imps)}: {why}"
        for e, imps in sorted(edges.items())
        if e not in known and (why := edge_rule(*e)) is not None
    ]
    graph: dict[str, set[str]] = {}
    via: dict[tuple[str, str], list[str]] = {}
    for (src, dst), imps in sorted(edges.items()):
        if (src, dst) in known or top(src) == top(dst):
            continue
        graph.setdefault(top(src), set()).add(top(dst))
        via.setdefault((top(src), top(dst)), []).append(_describe((src, dst), imps))
    cycles = []
    for comp in _sccs(graph):
        inner = [d for (a, b), ds in sorted(via.items()) if a in comp and b in comp for d in ds]
        cycles.append(f"cycle between {', '.join(comp)} through: " + "; ".join(inner))
    stale = [f"{a} -> {b} ({why})" for (a, b), why in known.items() if (a, b) not in edges]
    return layering, cycles, stale


def _report(title: str, items: list[str]) -> str:
    return f"{title} ({len(items)}):\n" + "\n".join(f"  {s}" for s in items)


def assert_layered(modules: Iterable[Module], known: Mapping[tuple[str, str], str] = KNOWN_VIOLATIONS) -> None:
    """Fail, listing them, on layer violations or package cycles not in ``known``."""
    layering, cycles, _ = check(modules, known)
    problems = layering + cycles
    assert not problems, (
        _report("imports from a lower layer to a higher one", layering) + "\n"
        + _report("import cycles between packages", cycles)
        + "\n(fix the import, or, if it must stay for now, add it to KNOWN_VIOLATIONS with a reason)"
    )


def test_import_graph_follows_the_layers() -> None:
    assert_layered(package_modules())


def test_no_import_cycle_between_modules() -> None:
    cycles = module_cycles(package_modules())
    assert not cycles, _report("import cycles between modules", cycles)


def test_known_violations_still_exist() -> None:
    _, _, stale = check(package_modules())
    assert not stale, _report("KNOWN_VIOLATIONS entries whose import is gone: remove them", stale)


def test_known_violations_have_reasons() -> None:
    assert all(isinstance(why, str) and why.strip() for why in KNOWN_VIOLATIONS.values())


def test_every_module_has_a_layer() -> None:
    missing = [m.name for m in package_modules() if layer_of(m.name) is None]
    assert not missing, f"modules with no layer (add their package to TOP_LAYERS): {missing}"


# --- the checker itself, on synthetic modules --------------------------------------------------


def _with(*extra: Module) -> list[Module]:
    return [*package_modules(), *extra]


def test_checker_sees_a_new_upward_import() -> None:
    bad = Module(f"{PACKAGE}.network.fake", "from iptown_gis.pipeline import StudyContext\n")
    layering, _, _ = check(_with(bad))
    assert layering == [f"{PACKAGE}.network.fake -> {PACKAGE}.pipeline (module, line 1): kernel imports study"]
    with pytest.raises(AssertionError, match=r"network\.fake -> iptown_gis\.pipeline .*kernel imports study"):
        assert_layered(_with(bad))


def test_checker_sees_function_local_and_relative_imports() -> None:
    src = "def f():\n    from ..report import html\n    return html\n"
    layering, _, _ = check(_with(Module(f"{PACKAGE}.io.fake", src)))
    assert layering == [f"{PACKAGE}.io.fake -> {PACKAGE}.report.html (local, line 2): foundation imports study"]


def test_checker_sees_a_forbidden_kernel_import() -> None:
    bad = Module(f"{PACKAGE}.network.fake", "import iptown_gis.zoning.cells\n")
    layering, _, _ = check(_with(bad))
    assert layering == [f"{PACKAGE}.network.fake -> {PACKAGE}.zoning.cells (module, line 1): "
                        "kernel network may not import kernel zoning"]


def test_checker_sees_a_new_cycle_through_a_local_import() -> None:
    # io already imports crs; crs importing io (inside a function) closes a cycle in one layer.
    bad = Module(f"{PACKAGE}.crs.fake", "def f():\n    from iptown_gis import io\n")
    layering, cycles, _ = check(_with(bad))
    assert layering == []
    assert len(cycles) == 1
    assert cycles[0].startswith("cycle between crs, io through:")
    assert f"{PACKAGE}.crs.fake -> {PACKAGE}.io (local, line 2)" in cycles[0]
    with pytest.raises(AssertionError, match="import cycles between packages \\(1\\)"):
        assert_layered(_with(bad))


def test_checker_sees_a_type_checking_import_and_an_unknown_package() -> None:
    src = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from iptown_gis.cli import main\n"
    layering, _, _ = check(_with(Module(f"{PACKAGE}.newtopic", src, is_package=True)))
    assert layering == [f"{PACKAGE}.newtopic -> {PACKAGE}.cli.main (type, line 3): "
                        f"{PACKAGE}.newtopic has no layer: add 'newtopic' to TOP_LAYERS"]


def test_checker_sees_a_module_cycle_inside_a_package() -> None:
    # two modules of one package importing each other, one of them only inside a function
    a = Module(f"{PACKAGE}.neg.fake_a", "from iptown_gis.neg.fake_b import g\n")
    b = Module(f"{PACKAGE}.neg.fake_b", "def g():\n    from iptown_gis.neg.fake_a import f\n")
    cycles = module_cycles(_with(a, b))
    assert cycles == [f"cycle between {PACKAGE}.neg.fake_a, {PACKAGE}.neg.fake_b through: "
                      f"{PACKAGE}.neg.fake_a -> {PACKAGE}.neg.fake_b (module, line 1); "
                      f"{PACKAGE}.neg.fake_b -> {PACKAGE}.neg.fake_a (local, line 2)"]


def test_checker_reports_stale_allowlist_entries() -> None:
    known = {**KNOWN_VIOLATIONS, (f"{PACKAGE}.errors", f"{PACKAGE}.cli"): "never existed"}
    _, _, stale = check(package_modules(), known)
    assert stale == [f"{PACKAGE}.errors -> {PACKAGE}.cli (never existed)"]


# --- docs/architecture.md lists KNOWN_VIOLATIONS ------------------------------------------------

DOC = PACKAGE_DIR.parent / "docs" / "architecture.md"
DOC_BEGIN = "<!-- known-violations: generated from tests/foundation/test_architecture.py -->"
DOC_END = "<!-- end known-violations -->"


def known_violations_markdown(known: Mapping[tuple[str, str], str] = KNOWN_VIOLATIONS) -> str:
    """The Markdown list of ``known`` (what docs/architecture.md shows between its markers)."""
    def short(name: str) -> str:
        return name.removeprefix(PACKAGE + ".")

    return "\n".join(f"- `{short(a)}` -> `{short(b)}`: {why}" for (a, b), why in sorted(known.items()))


def test_doc_lists_the_known_violations() -> None:
    text = DOC.read_text(encoding="utf-8")
    listed = text.split(DOC_BEGIN, 1)[1].split(DOC_END, 1)[0].strip()
    assert listed == known_violations_markdown(), (
        "docs/architecture.md is out of date: replace its known-violations list with the output of "
        "`.venv/bin/python tests/foundation/test_architecture.py`"
    )


if __name__ == "__main__":
    print(known_violations_markdown())
