"""The package's shape: every import follows an allowed edge between layers (the table in
tests/import_layers.py), there are no import cycles, no module reaches into another package's
private names, and the public API resolves."""

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


def _private_imports(path: Path) -> list[str]:
    """``from aimc_plugins.a.b import _x`` where the importer is not in package
    ``aimc_plugins.a``."""
    relative = path.relative_to(REPO).with_suffix("").parts
    home = ".".join(relative[:2]) if relative[0] == "aimc_plugins" else ""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aimc_plugins"):
            package = ".".join(node.module.split(".")[:2])
            for alias in node.names:
                if alias.name.startswith("_") and package != home:
                    where = f"{path.relative_to(REPO)}:{node.lineno}"
                    found.append(f"{where} {node.module}.{alias.name}")
    return found


def test_no_module_imports_another_packages_private_names():
    sources = [
        *ROOT.rglob("*.py"),
        *(REPO / "plugins").rglob("*.py"),
        *(REPO / "recipes").rglob("*.py"),
        *(REPO / "benchmarks").rglob("*.py"),
    ]
    assert [hit for path in sources for hit in _private_imports(path)] == []


def test_every_public_name_resolves():
    for name in aimc_plugins.__all__:
        assert getattr(aimc_plugins, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        aimc_plugins.nonsense  # noqa: B018


def test_importing_the_api_does_not_import_torch():
    code = "import sys, aimc_plugins; print(sorted({'torch', 'aihwkit'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
