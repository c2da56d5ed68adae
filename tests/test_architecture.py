"""The package's shape: every import follows an allowed edge between layers (the table in
tests/import_layers.py), there are no import cycles, no module uses another
module's private names, and the public API resolves."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from import_layers import ALLOWED, LAYERS, cycles, violations

import aimc_plugins

ROOT = Path(aimc_plugins.__file__).parent
REPO = ROOT.parent


def test_imports_run_down_the_layers_only():
    assert [str(v) for v in violations(ROOT)] == []


def test_there_is_no_import_cycle():
    assert cycles(ROOT) == []


def test_every_package_is_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == set(LAYERS)
    outside = [p.name for p in ROOT.glob("*.py") if p.name != "__init__.py"]
    assert outside == [], "modules outside a layer"


@pytest.fixture
def package_copy(tmp_path):
    copy = tmp_path / "aimc_plugins"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__", "templates"))
    return copy


def test_a_back_running_import_is_caught(package_copy):
    records = package_copy / "host" / "records.py"
    late = "\n\ndef _late():\n    from aimc_plugins.cli import main\n"
    records.write_text(records.read_text() + late)
    (found,) = violations(package_copy)
    assert found.module == "aimc_plugins.host.records"
    assert found.imported == "aimc_plugins.cli.main" and "host may not import cli" in found.why


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("sweep/engine.py", "aimc_plugins.report.summary"),  # sweep and report are siblings
        ("builtin/optimizers.py", "aimc_plugins.sweep.store"),  # builtin never uses sweep
        ("api/results.py", "aimc_plugins.kit.testing"),  # api never uses kit
    ],
)
def test_an_import_along_no_allowed_edge_is_caught(package_copy, module, imported):
    """Not only upward imports: one between layers side by side, or a jump the table does not
    allow, fails too (a total order of layers would accept these)."""
    path = package_copy / module
    path.write_text(path.read_text() + f"\n\ndef _late():\n    import {imported}\n")
    (found,) = violations(package_copy)
    layer, other = module.split("/")[0], imported.split(".")[1]
    assert found.imported == imported and f"{layer} may not import {other}" in found.why


def test_the_allowed_edges_have_no_cycle_and_name_only_layers():
    for layer, below in ALLOWED.items():
        assert below <= set(LAYERS) - {layer}, layer
    seen: set[str] = set()
    for layer in LAYERS:  # listed so that every layer comes after all it may import
        assert ALLOWED[layer] <= seen, layer
        seen.add(layer)


def test_no_layer_names_a_module_of_a_layer_it_may_not_import():
    """A module named in a string (loaded by name) is a dependency the import check cannot see:
    only the app layer, which composes the application, may name other layers' modules."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        layer = parts[0] if len(parts) > 1 else None
        if layer in (None, "app", "compat"):
            continue  # the facade, the composition and the deprecated spellings
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if text.startswith("aimc_plugins.") and text.count(".") >= 1:
                    other = text.split(".")[1]
                    if other in ALLOWED and other != layer and other not in ALLOWED[layer]:
                        found.append(f"{path.relative_to(REPO)}: {text!r}")
    assert found == []


def test_an_import_of_the_facade_from_inside_is_caught(package_copy):
    names = package_copy / "devices" / "names.py"
    names.write_text(names.read_text() + "\nfrom aimc_plugins import Device\n")
    (found,) = violations(package_copy)
    assert "facade" in found.why


def test_a_hidden_cycle_is_caught(package_copy):
    """setup imports periphery; a lazy import back (inside a function) still closes a cycle."""
    periphery = package_copy / "training" / "periphery.py"
    text = periphery.read_text() + "\n\ndef _late():\n    from aimc_plugins.training import setup\n"
    periphery.write_text(text)
    assert violations(package_copy) == []  # same layer: only the cycle check can see it
    (cycle,) = cycles(package_copy)
    assert {"aimc_plugins.training.periphery", "aimc_plugins.training.setup"} <= set(cycle)


def _project_packages() -> set[str]:
    """Top-level packages of this repository: the host's and each first-party plugin's."""
    return {ROOT.name} | {p.parent.name for p in (REPO / "plugins").glob("*/*/__init__.py")}


def _module_of(path: Path) -> tuple[str, bool]:
    """(dotted module name, is a package) of a source file, for a plugin's package too."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[0] == "plugins":
        parts = parts[2:]  # plugins/<distribution>/<package>/...
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def private_uses(source: str, module: str, is_package: bool, packages: set[str]) -> list[str]:
    """Every private name (``_x``, not ``__x__``) of one project module that the source of
    ``module`` uses from another, as ``line: owner._x``: ``from aimc_plugins.a.b import _x``
    (or relative), ``b._x`` on a module name an import bound, and ``aimc_plugins.a.b._x``
    spelled out. What another module uses is public API of its module, and must be named so."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> the project module or name it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            if target.split(".")[0] not in packages:
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and target != module:
                    found.append(f"{node.lineno}: {target}.{alias.name}")
                bound[alias.asname or alias.name] = f"{target}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in packages:
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        chain, base = [], node.value
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name) and base.id in bound:
            owner = ".".join([bound[base.id], *reversed(chain)])
            if owner != module:
                found.append(f"{node.lineno}: {owner}.{node.attr}")
    return found


def private_uses_in(path: Path, packages: set[str]) -> list[str]:
    module, is_package = _module_of(path)
    found = private_uses(path.read_text(encoding="utf-8"), module, is_package, packages)
    return [f"{path.relative_to(REPO)}:{hit}" for hit in found]


def _sources() -> list[Path]:
    return [
        *ROOT.rglob("*.py"),
        *(REPO / "plugins").rglob("*.py"),
        *(REPO / "recipes").rglob("*.py"),
        *(REPO / "benchmarks").rglob("*.py"),
    ]


def test_no_module_uses_another_modules_private_names():
    """Not only across packages: ``report.page`` using ``writers._table_cells`` was a hidden
    dependency too. Tests may still reach into internals; the code may not."""
    packages = _project_packages()
    sources = [p for p in _sources() if "tests" not in p.relative_to(REPO).parts]
    assert [hit for path in sources for hit in private_uses_in(path, packages)] == []


@pytest.mark.parametrize(
    "line",
    [
        "from aimc_plugins.report.ranking import NO_INTERVAL, _private_helper",
        "from .ranking import _private_helper",
        "from aimc_plugins.report import ranking\nX = ranking._private_helper",
        "import aimc_plugins.report.ranking\nX = aimc_plugins.report.ranking._private_helper",
        "import aimc_plugins.report.ranking as r\nX = r._private_helper",
    ],
)
def test_a_private_name_used_by_another_module_is_caught(line):
    """Imported, relative, or read as a module's attribute: each spelling is caught."""
    found = private_uses(line, "aimc_plugins.report.page", False, _project_packages())
    assert found == [f"{line.count(chr(10)) + 1}: aimc_plugins.report.ranking._private_helper"]


def test_a_modules_own_private_names_and_dunders_are_not_flagged():
    source = (
        "from aimc_plugins.report.ranking import _x\n"
        "from aimc_plugins.report import ranking\n"
        "Y = ranking.__name__, ranking._x\n"
        "from pathlib import _private\n"  # not a project module
    )
    assert private_uses(source, "aimc_plugins.report.ranking", False, _project_packages()) == []


def test_every_public_name_resolves():
    for name in aimc_plugins.__all__:
        assert getattr(aimc_plugins, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        aimc_plugins.nonsense  # noqa: B018


def test_importing_the_api_does_not_import_torch():
    code = "import sys, aimc_plugins; print(sorted({'torch', 'aihwkit'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
