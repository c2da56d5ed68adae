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
    assert names.rule_optimizer == "my-lab-devices-tt"


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
        "lab_x/rule.py",
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
    optimizers = python_with_site(
        site,
        "from aimc_plugins.cli.main import cli; cli(['optimizers', '--json'])",
        cwd=tmp_path,
    )
    names = {row["name"] for row in json.loads(optimizers.stdout)}
    assert {"lab-kit-sgd", "lab-kit-tt"} <= names, optimizers.stderr[-2000:]
    tested = run_pytest(site, target)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "5 passed" in tested.stdout
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


def test_the_rule_template_is_a_working_transfer_rule(tmp_path, monkeypatch):
    """The generated rule.py, imported as it is: a TransferRule written with the public names
    only (no aihwkit import), passing check_optimizer's rule checks without training, with the
    arrays and rates it declares."""
    import importlib

    from aimc_plugins import TransferRule, build_device, check_optimizer
    from aimc_plugins.kit.testing import rule_of

    target = new_plugin("lab-rule", tmp_path)
    source = (target / "lab_rule" / "rule.py").read_text()
    assert "aihwkit" not in source.split('"""', 2)[2]  # the code below the docstring
    monkeypatch.syspath_prepend(str(target))
    try:
        rule_module = importlib.import_module("lab_rule.rule")
        record = rule_module.example_rule_optimizer()
        report = check_optimizer(record, train=False)
        assert report.results["rule"] == "Tiki-Taka (all columns every 1 mini-batches)"
        setup = record.build([build_device("Idealized")] * 2, gamma=0.3)
        rule = rule_of(setup)
        assert isinstance(rule, TransferRule) and rule.gradient_lr(0.1) == 0.05
        assert [(a.name, a.weight) for a in setup.rpu_config.device.arrays] == [
            ("P", 0.3),
            ("W", 1.0),
        ]
    finally:
        for name in ("lab_rule", "lab_rule.rule", "lab_rule.device", "lab_rule.optimizer"):
            sys.modules.pop(name, None)
