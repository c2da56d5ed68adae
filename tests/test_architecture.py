"""The package's shape: imports run one way through the layers, there are no import cycles, no
module reaches into another package's private names, and the public API resolves."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from import_layers import LAYERS, cycles, violations

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
