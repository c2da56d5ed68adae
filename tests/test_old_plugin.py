"""A plugin written against the previous release keeps working (tests/data/old_plugin).

It was written from the README as it was before the layered-packages release: it imports
``aimc_plugins.response``, ``aimc_plugins.transfer``, ``aimc_plugins.testing``,
``aimc_plugins.diagnostics`` and ``aimc_plugins.resolve``, and calls ``Device.response()`` and
``to_dict()``. Installed as a user would (:mod:`site_install`), it must load, be listed with its
deprecated spellings named, pass its own contract checks and train, with warnings and no error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from site_install import pip_install_editable, python_with_site, run_pytest

OLD_PLUGIN = Path(__file__).parent / "data" / "old_plugin"

TRAIN = """
import warnings
warnings.simplefilter("always", DeprecationWarning)
from aimc_plugins import PlannedRun, run_one
run = PlannedRun("digits-mlp", "old-sigmoid", "old-tiki-taka", seed=0, epochs=1,
                 options={"n_train": 300, "n_test": 100})
outcome = run_one(run)
print(outcome.status, outcome.final.get("test_accuracy"), outcome.error)
"""


@pytest.fixture(scope="module")
def old_plugin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The old distribution, copied (an editable install writes into its folder) and
    installed into a throwaway site folder."""
    root = tmp_path_factory.mktemp("old")
    source = root / "old_plugin"
    shutil.copytree(OLD_PLUGIN, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    site = root / "site"
    install = pip_install_editable(source, site)
    assert install.returncode == 0, install.stderr
    return source, site


def test_the_old_plugin_loads_and_is_listed_with_its_deprecations(old_plugin):
    source, site = old_plugin
    listed = python_with_site(
        site, "from aimc_plugins.cli.main import cli; cli(['plugins', '--json'])", cwd=source
    )
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    row = rows["aimc_old_lab"]
    assert (row["status"], row["distribution"]) == ("ok", "aimc-old-lab"), row
    assert {"register_devices", "register_optimizers"} <= set(row["hooks"])
    named = " ".join(row["warnings"])
    for old in ("aimc_plugins.response", "aimc_plugins.transfer"):
        assert f"module {old} is deprecated" in named, named
    table = python_with_site(
        site, "from aimc_plugins.cli.main import cli; cli(['plugins'])", cwd=source
    )
    assert "warning: plugin 'aimc_old_lab' uses a deprecated spelling" in table.stdout


def test_the_old_plugin_passes_its_own_tests_with_warnings(old_plugin):
    source, site = old_plugin
    tested = run_pytest(site, source)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "5 passed" in tested.stdout
    assert "DeprecationWarning" in tested.stdout  # pytest's warnings summary names them


def test_the_old_plugin_trains(old_plugin):
    source, site = old_plugin
    trained = python_with_site(site, TRAIN, cwd=source)
    assert trained.returncode == 0, trained.stderr[-3000:]
    status, accuracy, *_ = trained.stdout.split()
    assert status == "done" and float(accuracy) > 0.1, trained.stdout
