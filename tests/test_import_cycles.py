"""No import cycles among the modules of robot_rl/, sim/ and calibration/.

The rule: module A depends on module B if A imports B anywhere: at the top, inside a function or
method (a lazy import), or under `if TYPE_CHECKING:`. Every such import counts, because a lazy or
type-only import hides a cycle from the interpreter, not from the design: the two modules still
cannot be read, tested or moved apart one without the other, and the next top-level import turns the
hidden cycle into an ImportError at start-up (ARCHITECTURE.md: "Arrows point one way"). The usual
fix is to move what both need into a third, lower module.

Edges: `import a.b` gives a.b; `from a.b import c` gives a.b.c where that is a module, else a.b;
relative imports are resolved. Importing a submodule runs its packages' `__init__` too, but that is not an
edge here (a package that re-exports its submodules would otherwise be a cycle with each of them).
Names imported through strings (`importlib.import_module`) are not seen.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("robot_rl", "sim", "calibration")

# Cycles tolerated for now, each with why and until when. Nothing else may be added here.
EXEMPT: set[frozenset[str]] = set()


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the packages (a package is its __init__)."""
    mods = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Module -> {imported module: line of its first import}, for every import in the file (see the rule)."""
    mods = module_files(root, packages)
    graph: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        edges: dict[str, int] = {}
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from pkg import sub` imports the submodule (the package's __init__ runs as for any
                # import of pkg.sub: no edge); `from pkg import name` needs the package's own code.
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in mods else module for a in node.names]
            for target in targets:
                if target in mods and target != name:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def shortest_cycle(graph: dict[str, dict[str, int]], component: list[str], root: Path,
                   mods: dict[str, Path]) -> str:
    """One cycle through the component's first module, each step as `file:line imports module`."""
    start, members = component[0], set(component)
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v]):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                path.reverse()
                steps = [(a, b) for a, b in zip(path, [*path[1:], start], strict=True)]
                return "; ".join(f"{mods[a].relative_to(root)}:{graph[a][b]} imports {b}" for a, b in steps)
            if w not in parent:
                parent[w] = v
                queue.append(w)
    return "?"


def describe(graph: dict[str, dict[str, int]], found: list[list[str]], root: Path, packages: tuple[str, ...]) -> str:
    mods = module_files(root, packages)
    return "\n".join(f"  {{{', '.join(c)}}}: {shortest_cycle(graph, c, root, mods)}" for c in found)


def test_no_import_cycles():
    graph = import_graph(ROOT, PACKAGES)
    assert len(graph) > 100, f"found only {len(graph)} modules under {PACKAGES}: is ROOT ({ROOT}) right?"
    found = [c for c in cycles(graph) if frozenset(c) not in EXEMPT]
    assert not found, (
        "import cycles (lazy and TYPE_CHECKING imports count: see this file's docstring); move what both "
        "modules need into a lower module:\n" + describe(graph, found, ROOT, PACKAGES)
    )


def test_exemptions_are_still_needed():
    """An exempted cycle that is gone must leave EXEMPT, so it cannot come back unnoticed."""
    present = {frozenset(c) for c in cycles(import_graph(ROOT, PACKAGES))}
    stale = [sorted(c) for c in EXEMPT if c not in present]
    assert not stale, f"these cycles are gone: remove them from EXEMPT in {Path(__file__).name}: {stale}"


def test_the_check_sees_lazy_and_type_only_cycles(tmp_path):
    """The checker itself: a cycle through a function-level import and one through TYPE_CHECKING are found,
    a package re-exporting its submodule is not a cycle, and relative imports resolve."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg.a import f\n",  # a package re-exporting its submodule: no cycle by itself
        "a.py": "import os\n\ndef f():\n    from pkg import b\n    return b\n",  # lazy
        "b.py": "from pkg.a import f\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.d import D\n",  # type-only
        "sub/__init__.py": "",
        "sub/d.py": "from .. import c\n\nclass D: ...\n",  # relative
        "e.py": "from pkg.sub import d\nimport pkg\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg"] == {"pkg.a": 1} and graph["pkg.sub.d"] == {"pkg.c": 1}
    assert graph["pkg.e"] == {"pkg.sub.d": 1, "pkg": 2}
    found = cycles(graph)
    assert found == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub.d"]], found
    text = describe(graph, found, tmp_path, ("pkg",))
    assert "pkg/a.py:4 imports pkg.b" in text and "pkg/b.py:1 imports pkg.a" in text, text
