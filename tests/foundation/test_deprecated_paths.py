"""The package itself uses no deprecated import path: the old homes are for users only.

The moved names (docs/architecture.md, "Already moved") still resolve from their old modules,
with a ``DeprecationWarning`` where the old path should go; inside ``iptown_gis`` every import
names the new home, so the re-exports can go without touching the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "iptown_gis"

#: Old module -> the names that moved away from it (``None``: every name; the module is a shim).
DEPRECATED: dict[str, frozenset[str] | None] = {
    "iptown_gis.parallel.od": None,
    "iptown_gis.parallel.tiles": None,
    "iptown_gis.parallel.sweeps": None,
    "iptown_gis.parallel": frozenset({"node_costs", "many_to_many", "overlay_graph", "market_potential_tiled",
                                      "kde_tiled", "TileSpec", "potential_cells", "kde_cells", "neg_sweep",
                                      "scenario_batch", "neg_scenarios", "neg_bifurcation", "sites_robustness"}),
    "iptown_gis.network.od": frozenset({"node_costs", "core_graph", "CoreGraph", "SearchPlan", "plan_search"}),
    "iptown_gis.report.postgis": frozenset({"read_layer", "list_tables", "engine_for", "check_identifier",
                                            "safe_url"}),
    "iptown_gis.zoning.heuristic": frozenset({"SolveResult"}),
    "iptown_gis.sites": frozenset({"SitesConfig", "AnchorSpec", "CriterionSpec"}),
}


def _deprecated_imports(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        here = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                moved = DEPRECATED.get(node.module, frozenset())
                names = {a.name for a in node.names}
                bad = names if moved is None else names & moved
                if bad and here != node.module and not here.startswith(node.module + "."):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno}: from {node.module} import "
                                 f"{', '.join(sorted(bad))}")
            elif isinstance(node, ast.Import):
                found += [f"{path.relative_to(root.parent)}:{node.lineno}: import {a.name}" for a in node.names
                          if DEPRECATED.get(a.name, frozenset()) is None and a.name in DEPRECATED]
    return found


def test_no_internal_import_of_a_deprecated_path() -> None:
    found = _deprecated_imports()
    assert not found, "import these from their new home:\n" + "\n".join(found)


def test_the_check_sees_a_deprecated_import(tmp_path: Path) -> None:
    pkg = tmp_path / "iptown_gis" / "sites"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text("from iptown_gis.network.od import od_matrix, node_costs\n"
                              "import iptown_gis.parallel.od\n")
    assert _deprecated_imports(tmp_path / "iptown_gis") == [
        "iptown_gis/sites/x.py:1: from iptown_gis.network.od import node_costs",
        "iptown_gis/sites/x.py:2: import iptown_gis.parallel.od"]
