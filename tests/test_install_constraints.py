"""Dependencies that accept any working aihwkit >= 1.1 with its torch, the tested combinations as
pip constraints files, and pip keeping a source-built aihwkit that is already installed.

The pip checks run pip's real resolver offline (``--no-index``) against stub distributions put
in front of the environment's own: nothing is downloaded, built or installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
WHEEL_CPU = ROOT / "constraints" / "wheel-cpu.txt"
SOURCE_CPU = ROOT / "constraints" / "source-cpu.txt"


def dependencies() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements}


def constraints(path: Path) -> dict[str, SpecifierSet]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = requirement.specifier
    return pins


def pinned_version(specifier: SpecifierSet) -> str:
    """The version an ``==`` pin names (``==2.10.*`` -> ``2.10.0``)."""
    (spec,) = [s for s in specifier if s.operator == "=="]
    return spec.version.replace(".*", ".0")


@pytest.mark.parametrize("path", [WHEEL_CPU, SOURCE_CPU], ids=["wheel-cpu", "source-cpu"])
def test_each_constraints_file_pins_a_combination_the_project_accepts(path):
    pins, deps = constraints(path), dependencies()
    assert {"aihwkit", "torch", "torchvision"} <= set(pins)
    for name in ("aihwkit", "torch", "torchvision"):
        version = pinned_version(pins[name])
        assert deps[name].specifier.contains(version), f"{path.name}: {name} {version}"


def test_the_tested_combinations():
    wheel, source = constraints(WHEEL_CPU), constraints(SOURCE_CPU)
    assert pinned_version(wheel["aihwkit"]) == "1.1.0" and wheel["torch"].contains("2.10.0")
    assert not wheel["torch"].contains("2.13.0")
    assert pinned_version(source["aihwkit"]) == "1.2.0" and source["torch"].contains("2.13.0")
    assert source["torch"].contains("2.13.0+cpu")  # the CPU build satisfies the pin


def test_the_project_accepts_source_and_cuda_builds():
    deps = dependencies()
    for version in ("1.1.0", "1.2.0", "1.2.0+cu130", "1.3.0"):
        assert deps["aihwkit"].specifier.contains(version), version
    assert not deps["aihwkit"].specifier.contains("1.0.0")
    for version in ("2.10.0", "2.11.0+cu130", "2.13.0+cpu", "2.14.1"):
        assert deps["torch"].specifier.contains(version), version


def test_make_install_uses_the_wheel_constraints_by_default():
    makefile = (ROOT / "Makefile").read_text()
    assert "AIHWKIT ?= wheel" in makefile
    assert "constraints/wheel-cpu.txt" in makefile and "constraints/source-cpu.txt" in makefile
    assert "-c $(CONSTRAINTS)" in makefile


def write_stub(site: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")


def pip_dry_run(site: Path, requirements: list[str]) -> subprocess.CompletedProcess:
    """``pip install --dry-run`` of ``requirements`` with ``site`` first on the path, so that its
    stub distributions are what pip sees installed (they shadow the environment's own)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["PIP_CONSTRAINT"] = ""  # only what the project itself asks for
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index"]
    command += ["--disable-pip-version-check", "--quiet", "--report", "-", *requirements]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_pip_keeps_an_installed_source_built_aihwkit(tmp_path):
    """A researcher's environment with aihwkit 1.2.0 built from source against torch 2.13: pip,
    asked for the project's dependencies (what ``pip install -e .`` resolves), finds them all
    satisfied and installs nothing: no aihwkit, no torch. With the old pin it would have had to
    replace the build (shown by the same run with ``aihwkit==1.1.0``, which cannot resolve)."""
    site = tmp_path / "site"
    write_stub(site, "aihwkit", "1.2.0", ("torch", "torchvision", "numpy"))
    write_stub(site, "torch", "2.13.0+cpu", ("numpy",))
    write_stub(site, "torchvision", "0.28.0", ("torch==2.13.0", "numpy"))
    requirements = [str(r) for r in dependencies().values()]
    result = pip_dry_run(site, requirements)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["install"] == []
    # The stubs are what pip sees installed: only they satisfy these.
    result = pip_dry_run(site, [*requirements, "aihwkit==1.2.0", "torch==2.13.0"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["install"] == []
    old_pin = [r for r in requirements if not r.startswith(("aihwkit", "torch"))]
    old_pin += ["aihwkit==1.1.0", "torch>=2.10,<2.11"]
    result = pip_dry_run(site, old_pin)
    assert result.returncode != 0
    assert "aihwkit==1.1.0" in result.stderr or "torch" in result.stderr


def _index_reachable(url: str = "https://pypi.org/simple/aihwkit/") -> bytes | None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.read()
    except (urllib.error.URLError, OSError):
        return None


def test_the_source_path_constraints_resolve_on_the_index():
    """The CI-sized part of the source path, against the package index (skipped offline): the
    sdist the build script compiles is published, and pip resolves torch, torchvision and the
    build tools under constraints/source-cpu.txt for this Python and platform (metadata only)."""
    listing = _index_reachable()
    if listing is None:
        pytest.skip("the package index is not reachable")
    source = constraints(SOURCE_CPU)
    sdist = f"aihwkit-{pinned_version(source['aihwkit'])}.tar.gz"
    assert sdist in {f["filename"] for f in json.loads(listing)["files"]}
    tools = ["torch", "torchvision", "scikit-build", "cmake", "pybind11", "ninja", "mypy"]
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
    command += ["--no-deps", "--quiet", "--report", "-", "-c", str(SOURCE_CPU), *tools]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    chosen = {
        canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
        for i in json.loads(result.stdout)["install"]
    }
    assert set(chosen) == set(tools)
    for name in ("torch", "torchvision", "scikit-build", "cmake", "pybind11"):
        assert source[name].contains(chosen[name]), (name, chosen[name])
