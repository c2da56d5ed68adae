"""The package's layers and a check that every import follows an allowed edge, read from the
source with ast.

:data:`ALLOWED` is the table of which layer may import which (each may import itself). It is a
set of edges, not a total order: two layers side by side (the sweep engine and the report, the
built-in plugins and the sweep) may not import each other, and a layer uses only the layers it
names, however low. ``aimc_plugins/__init__.py`` is the public facade over all of them and is
checked the other way: no module inside the package imports from the facade, so it cannot hide a
cycle. Names of upper layers written as strings (a module loaded by name) are composed in one
place, the ``app`` layer, which the lower ones read through ``host.composition``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "aimc_plugins"
ALLOWED: dict[str, frozenset[str]] = {
    "host": frozenset(),
    "devices": frozenset({"host"}),
    "training": frozenset({"host", "devices"}),
    # transfer rules: the API plugins write Tiki-Taka variants with, and its aihwkit tile
    "rules": frozenset({"host", "training"}),
    "sweep": frozenset({"host", "devices", "training"}),
    # the report reads the results store (sweep.store), never the other way
    "report": frozenset({"host", "devices", "training", "sweep"}),
    # built-in plugins register devices, optimizers and recipes: no sweep, no report
    "builtin": frozenset({"host", "devices", "training", "rules"}),
    "kit": frozenset({"host", "devices", "training", "rules", "report", "builtin"}),
    # the Python API runs and reads comparisons (and the least-squares experiment, a built-in
    # recipe's); plugins are the registry's business
    "api": frozenset({"training", "sweep", "report", "builtin"}),
    "cli": frozenset({"host", "devices", "training", "sweep", "report", "kit", "api"}),
    # the previous release's spellings, forwarded with a warning: sees every layer
    "compat": frozenset(
        {"host", "devices", "training", "rules", "sweep", "report", "builtin", "kit", "api", "cli"}
    ),
    # the one place that composes the application (names built-ins and their roles)
    "app": frozenset({"host"}),
}
LAYERS = tuple(ALLOWED)


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.why}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """Every ``aimc_plugins...`` module a file imports, at any depth (function bodies and
    ``TYPE_CHECKING`` blocks included: a lazy import is still a dependency)."""
    module = module_name(root, path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:  # `from pkg import submodule` depends on the submodule
                sub = root.parent.joinpath(*target.split("."), alias.name)
                if sub.with_suffix(".py").is_file() or sub.is_dir():
                    yield node.lineno, f"{target}.{alias.name}"
                else:
                    yield node.lineno, target


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(root: Path) -> list[Violation]:
    """Imports along no allowed edge, into the facade, or into a layer-less module."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(root, path)
        layer = layer_of(module)
        if layer is None:
            continue  # the facade itself
        if layer not in LAYERS:
            found.append(Violation(module, 1, "-", f"{layer!r} is in no layer of {LAYERS}"))
            continue
        for line, target in imports(root, path):
            other = layer_of(target)
            if other is None:
                found.append(Violation(module, line, target, "the facade is for users only"))
            elif other not in LAYERS:
                found.append(Violation(module, line, target, f"{other!r} is in no layer"))
            elif other != layer and other not in ALLOWED[layer]:
                found.append(Violation(module, line, target, f"{layer} may not import {other}"))
    return found


def cycles(root: Path) -> list[list[str]]:
    """Import cycles between modules (Tarjan's strongly connected components)."""
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        module = module_name(root, path)
        graph[module] = {target for _, target in imports(root, path) if target != module}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
