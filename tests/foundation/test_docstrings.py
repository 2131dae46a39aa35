"""Every public function with three or more parameters documents each of them (numpydoc).

A function or method is public when neither its name nor its module's path has a leading
underscore and, in a module with ``__all__``, it (or its class) is listed there. Its docstring
must have a numpydoc ``Parameters`` section naming every parameter except ``self``/``cls``
(``*args``/``**kwargs`` as ``*args``/``**kwargs`` or their bare names; several names may
share one entry: ``a, b``). Click commands are exempt: their docstring is the ``--help`` text
and their options document themselves.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "iptown_gis"
MIN_PARAMS = 3

#: Public functions still without their parameters documented (``path::qualname``): this list
#: may only shrink (a test fails when an entry is documented and still listed). Empty: every
#: public function documents its parameters; keep it so.
KNOWN: frozenset[str] = frozenset()


def documented_parameters(doc: str) -> set[str] | None:
    """The names in a numpydoc ``Parameters`` section, ``None`` when there is none."""
    lines = doc.expandtabs().splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"}:
            indent = len(lines[i]) - len(lines[i].lstrip())
            names: set[str] = set()
            for j in range(i + 2, len(lines)):
                line = lines[j]
                if not line.strip():
                    continue
                ind = len(line) - len(line.lstrip())
                if ind < indent:
                    break
                if ind == indent:
                    if j + 1 < len(lines) and lines[j + 1].strip() and set(lines[j + 1].strip()) == {"-"}:
                        break  # the next section
                    head = line.split(" : ")[0].split(":")[0].strip()
                    names |= {n.strip().lstrip("*") for n in head.split(",") if n.strip()}
            return names
    return None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool) -> list[str]:
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    if method and names and names[0] in ("self", "cls"):
        names = names[1:]
    return names


def _is_click(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in fn.decorator_list:
        src = ast.unparse(d)
        if re.match(r"(click\.|\w+\.command|\w+\.group|group\.|cli\.)", src):
            return True
    return False


def _skip(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(ast.unparse(d) in ("property", "overload", "typing.overload") or ast.unparse(d).endswith(".setter")
               for d in fn.decorator_list)


def _module_all(tree: ast.Module) -> set[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
                try:
                    return set(ast.literal_eval(node.value))
                except ValueError:
                    return None
    return None


def undocumented(root: Path = ROOT, found_keys: set[str] | None = None) -> list[str]:
    """``module:line name: missing`` for each public function lacking documented parameters.

    ``found_keys`` (when given) receives ``path::qualname`` of each finding.
    """
    found_keys = set() if found_keys is None else found_keys
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        if any(p.startswith("_") and p != "__init__.py" for p in rel.parts):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        public = _module_all(tree)

        def check(fn: ast.FunctionDef | ast.AsyncFunctionDef, qual: str, *, method: bool) -> None:
            if fn.name.startswith("_") or _is_click(fn) or _skip(fn):
                return
            params = _params(fn, method=method)
            if len(params) < MIN_PARAMS:
                return
            doc = ast.get_docstring(fn) or ""
            have = documented_parameters(doc)
            missing = params if have is None else [p for p in params if p not in have]
            if missing:
                what = "no Parameters section" if have is None else "not documented: " + ", ".join(missing)
                found.append(f"{rel}:{fn.lineno} {qual}: {what}")
                found_keys.add(f"{rel.as_posix()}::{qual}")

        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if public is None or node.name in public:
                    check(node, node.name, method=False)
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                if public is not None and node.name not in public:
                    continue
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        check(item, f"{node.name}.{item.name}", method=True)
    return found


def test_public_functions_document_their_parameters() -> None:
    keys: set[str] = set()
    found = [f for f in undocumented(found_keys=keys) if f"{f.split(':')[0]}::{f.split(' ')[1][:-1]}" not in KNOWN]
    assert not found, f"{len(found)} public function(s) need a numpydoc Parameters entry:\n" + "\n".join(found)
    fixed = sorted(KNOWN - keys)
    assert not fixed, "documented now: remove from KNOWN (it only shrinks):\n" + "\n".join(fixed)


def test_the_check_finds_a_missing_parameter(tmp_path: Path) -> None:
    pkg = tmp_path / "iptown_gis"
    pkg.mkdir()
    (pkg / "m.py").write_text('''
__all__ = ["f", "g", "C"]

def f(a, b, *, c=1):
    """Do f.

    Parameters
    ----------
    a, b : int
        Inputs.

    Returns
    -------
    int
    """

def g(a, b, c):
    """No section."""

def hidden(a, b, c):
    """Not in __all__."""

class C:
    def m(self, x, y, z):
        """Method.

        Parameters
        ----------
        x
            X.
        z : float
            Z.
        """
''')
    assert undocumented(pkg) == ["iptown_gis/m.py:4 f: not documented: c",
                                 "iptown_gis/m.py:17 g: no Parameters section",
                                 "iptown_gis/m.py:24 C.m: not documented: y"]
