"""``aimc new-plugin``: the generated distribution is lint-clean, installs with ``pip install -e``,
shows up in ``aimc plugins`` and passes its own generated tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from site_install import pip_install_editable, python_with_site, run_pytest

from aimc_plugins.cli.main import cli
from aimc_plugins.kit.scaffold import ScaffoldError, new_plugin, plugin_names, render

REPO = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


def test_names_derive_from_one_name():
    names = plugin_names("My_Lab-devices")
    assert (names.dist, names.module, names.entry) == (
        "my-lab-devices",
        "my_lab_devices",
        "my_lab_devices",
    )
    assert names.device == "my-lab-devices-device" and names.optimizer == "my-lab-devices-sgd"


@pytest.mark.parametrize("bad", ["", "1lab", "my lab", "lab--x", "lab/x", "é"])
def test_bad_names_are_refused(bad):
    with pytest.raises(ScaffoldError):
        plugin_names(bad)


def test_rendered_files_and_no_placeholder_left():
    files = render(plugin_names("lab-x"))
    assert set(files) == {
        "pyproject.toml",
        "README.md",
        "lab_x/__init__.py",
        "lab_x/device.py",
        "lab_x/optimizer.py",
        "tests/test_lab_x.py",
    }
    assert 'lab_x = "lab_x"' in files["pyproject.toml"]  # the entry point
    assert all("$" not in text for name, text in files.items() if name.endswith(".py"))


def test_a_new_plugin_requires_this_hosts_minor_series():
    """The template states the host range (aimc-plugins>=0.2,<0.3 on 0.2.x), so a plugin made
    today is refused in one line by a host whose minor release may have changed the API."""
    import tomllib

    from packaging.requirements import Requirement

    from aimc_plugins.host.loading import check_host_version
    from aimc_plugins.host.version import VERSION

    project = tomllib.loads(render(plugin_names("lab-x"))["pyproject.toml"])["project"]
    (host,) = [Requirement(r) for r in project["dependencies"] if r.startswith("aimc-plugins")]
    assert check_host_version("lab-x", [host]) == ""
    major, minor = (int(p) for p in VERSION.split(".")[:2])
    assert not host.specifier.contains(f"{major}.{minor + 1}.0")
    if minor:
        assert not host.specifier.contains(f"{major}.{minor - 1}.9")


def test_existing_folder_is_not_overwritten(tmp_path):
    new_plugin("lab-x", tmp_path)
    with pytest.raises(ScaffoldError, match="--force"):
        new_plugin("lab-x", tmp_path)
    (tmp_path / "lab-x" / "notes.txt").write_text("mine")
    new_plugin("lab-x", tmp_path, force=True)
    assert (tmp_path / "lab-x" / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is not installed next to this python")
def test_generated_code_is_ruff_clean(tmp_path):
    target = new_plugin("lab-x", tmp_path)
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run([str(RUFF), *args], cwd=target, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_new_plugin_installs_appears_and_passes_its_own_tests(tmp_path):
    """The issue's acceptance test (installation: see :mod:`site_install`)."""
    result = CliRunner().invoke(cli, ["new-plugin", "lab-kit", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    target = tmp_path / "lab-kit"
    site = tmp_path / "site"
    install = pip_install_editable(target, site)
    assert install.returncode == 0, install.stderr
    listed = python_with_site(
        site,
        "from aimc_plugins.cli.main import cli; cli(['plugins', '--json'])",
        cwd=tmp_path,
    )
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["lab_kit"]["status"] == "ok", rows.get("lab_kit")
    assert rows["lab_kit"]["distribution"] == "lab-kit"
    assert {"register_devices", "register_optimizers"} <= set(rows["lab_kit"]["hooks"])
    tested = run_pytest(site, target)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "4 passed" in tested.stdout
    # editable: a change to the source is what the installed plugin runs
    device_py = target / "lab_kit" / "device.py"
    device_py.write_text(device_py.read_text().replace('"tau", 0.7', '"tau", 0.55'))
    shown = python_with_site(
        site,
        "from aimc_plugins import plugins; "
        "print(plugins.devices()['lab-kit-device'].parameters[0].default)",
        cwd=tmp_path,
    )
    assert shown.stdout.strip().splitlines()[-1] == "0.55", shown.stderr
