"""The plugin's own checks, as its authors wrote them against the older host."""

import aimc_old_lab

from aimc_plugins import plugins
from aimc_plugins.diagnostics import diagnose
from aimc_plugins.resolve import build_setup
from aimc_plugins.testing import check_device, check_optimizer


def test_registered_through_the_entry_point():
    assert plugins.devices()["old-sigmoid"].plugin == "aimc_old_lab"
    assert plugins.optimizers()["old-tiki-taka"].n_devices == 2


def test_response_is_symmetric():
    diag = diagnose(aimc_old_lab.SIGMOID.response())
    assert abs(diag.symmetric_point) < 1e-6
    assert aimc_old_lab.SIGMOID.to_dict()["name"] == "old-sigmoid"


def test_setup_from_names():
    setup = build_setup(["old-sigmoid(steep=2)"], "old-tiki-taka", {"gamma": "0.2"})
    assert "gamma=0.2" in setup.description


def test_device_contract():
    report = check_device(aimc_old_lab.SIGMOID)
    assert report.results["accuracy"] > 0.3


def test_optimizer_contract():
    report = check_optimizer(aimc_old_lab.TIKI_TAKA)
    assert report.results["accuracy"] > 0.3
