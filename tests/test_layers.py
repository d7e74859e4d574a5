"""Imports go one way: eql <- rules, store <- engine <- detection <- server <- cli. A back
edge fails here."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lanner"

# What each package may import from lanner, besides itself and the root modules
# `lanner.errors` and `lanner.cache` (on-disk cache folders, shared by rules and engine).
ALLOWED = {
    "eql": set(),
    "kql": {"eql"},
    "esql": {"eql", "kql"},
    "rules": {"eql", "kql", "esql"},
    "store": {"eql"},
    "engine": {"eql", "kql", "store", "esql"},
    "detection": {"eql", "kql", "rules", "store", "engine", "esql"},
    "server": {"eql", "kql", "rules", "store", "engine", "detection", "esql"},
    "web": {"eql", "kql", "rules", "store", "engine", "detection", "server", "esql"},
    "cli": {"eql", "kql", "rules", "store", "engine", "detection", "server", "web", "esql"},
}


def lanner_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "lanner" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_imports_go_one_way() -> None:
    back_edges = []
    for package, allowed in ALLOWED.items():
        for path in sorted((PACKAGE / package).rglob("*.py")):
            for target in lanner_imports(path) - allowed - {package, "errors", "cache"}:
                back_edges.append(f"{path.relative_to(PACKAGE)} imports lanner.{target}")
    assert back_edges == []
