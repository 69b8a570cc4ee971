"""Imports flow one way: web → demo → contracts → market → quality → participants.

Identity (participants) is the ground floor and imports none of ours; no package imports a
package above it, at module level or inside a function; only web imports Flask, WTForms and
Jinja2 (the domain may use Werkzeug's password hashing, which is not a web concern).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["participants", "quality", "market", "contracts", "demo", "web"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations() -> list[str]:
    found = []
    for floor, package in enumerate(FLOORS):
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in _imports(path):
                top = name.split(".")[0]
                if top in FLOORS and FLOORS.index(top) > floor:
                    found.append(f"{path.relative_to(ROOT)} imports {name} (upward)")
                if top.startswith("flask") or top in ("wtforms", "jinja2"):
                    if package != "web":
                        found.append(f"{path.relative_to(ROOT)} imports {name} (only web may)")
    return found


def test_no_package_imports_a_package_above_it():
    assert _violations() == []


def test_the_ground_floor_imports_none_of_our_packages():
    for path in (ROOT / "participants").rglob("*.py"):
        ours = {n.split(".")[0] for n in _imports(path)} & set(FLOORS[1:])
        assert ours == set(), path


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    # The check itself must be able to fail: a quality module importing market is caught.
    fake = tmp_path / "quality"
    fake.mkdir()
    (fake / "bad.py").write_text("from market.listings import create_listing\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert _violations() == ["quality/bad.py imports market.listings (upward)"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_import_circle_between_modules():
    import networkx as nx

    graph = nx.DiGraph()
    modules = {_module_name(p): p for package in FLOORS for p in (ROOT / package).rglob("*.py")}
    for name, path in modules.items():
        for imported in _imports(path):
            # "from a.b import c" may name a module a.b.c or a name in a.b
            target = imported if imported in modules else None
            if target and target != name and not name.startswith(target + "."):
                graph.add_edge(name, target)
    assert list(nx.simple_cycles(graph)) == []
