"""Every spelling the previous release documented still works, with a DeprecationWarning that
names the new spelling (aimc_plugins/compat; CHANGELOG.md, "Deprecated").

pyproject's pytest configuration ignores DeprecationWarning, so each check records warnings
itself with the filter set to "always"."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import aimc_plugins
from aimc_plugins import compat
from aimc_plugins.host import plugins


@contextmanager
def deprecations() -> Iterator[list[str]]:
    """The DeprecationWarning messages raised in the block."""
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield messages
    messages += [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


def forget(*modules: str) -> None:
    """Drop old module names from sys.modules, so importing them warns again."""
    for name in list(sys.modules):
        if any(name == m or name.startswith(m + ".") for m in modules):
            del sys.modules[name]


OLD_IMPORTS = [
    # statement, old module(s) to forget first, the new spelling the warning must name
    ("from aimc_plugins.response import ResponseDevice", "aimc_plugins.devices.response"),
    ("from aimc_plugins.testing import check_device, check_optimizer", "aimc_plugins.kit.testing"),
    ("from aimc_plugins.diagnostics import diagnose, zero_shifted", "devices.diagnostics"),
    ("from aimc_plugins.characterize import measure_steps, quiet", "devices.characterize"),
    ("from aimc_plugins.preset_response import response_of", "devices.config_response"),
    ("import aimc_plugins.reference_dynamics", "aimc_plugins.devices.reference_dynamics"),
    ("from aimc_plugins.adapter import adapt", "aimc_plugins.devices.adapter"),
    ("from aimc_plugins.transfer import transfer_config", "aimc_plugins.training.transfer"),
    ("import aimc_plugins.simulator_seed", "aimc_plugins.training.simulator_seed"),
    ("from aimc_plugins.records import Device", "aimc_plugins.host.records"),
    ("from aimc_plugins.hookspecs import hookimpl", "aimc_plugins.host.hookspecs"),
    ("import aimc_plugins.plugins", "aimc_plugins.host.plugins"),
    ("from aimc_plugins.fit.recovery import recover", "aimc_plugins.kit.fit.recovery"),
    ("from aimc_plugins.fit import read_traces", "aimc_plugins.kit.fit"),
    ("import aimc_plugins.recipes.least_squares", "aimc_plugins.builtin.recipes.least_squares"),
    ("from aimc_plugins.builtin.aihwkit_presets import preset_device_classes", "builtin.presets"),
    ("from aimc_plugins.resolve import build_device, build_setup", "training.setup"),
    ("from aimc_plugins.resolve import is_preset", "device_kind(name) == 'preset'"),
    ("from aimc_plugins.device_spec import DeviceSpec", "import DeviceRef"),
    ("from aimc_plugins.device_spec import parse_device_spec", "import parse_device_ref"),
    ("from aimc_plugins.compare import RunSpec", "import PlannedRun"),
    ("from aimc_plugins.compare import RunOutcome, run_one", "aimc_plugins.training.run"),
    ("from aimc_plugins.training import schedule_notes", "training.loop.schedule_notes"),
    ("from aimc_plugins.report import summarize", "report.summary.summarize"),
    ("from aimc_plugins.plots import plot_learning_curves", "aimc_plugins.report.plots"),
]
OLD_MODULES = [*compat.MOVED_MODULES, *compat.MOVED_PACKAGES, *compat.RENAMED_MODULES]


@pytest.mark.parametrize(("statement", "new"), OLD_IMPORTS)
def test_an_old_import_works_and_names_the_new_spelling(statement, new):
    forget(*OLD_MODULES)
    with deprecations() as messages:
        exec(statement, {})
    assert messages, f"{statement!r} raised no DeprecationWarning"
    assert any(new in m and compat.REMOVED_IN in m for m in messages), messages


def test_an_old_module_is_the_new_module_itself():
    forget(*OLD_MODULES)
    with deprecations():
        from aimc_plugins.response import ResponseDevice
        from aimc_plugins.testing import check_device
    assert ResponseDevice is aimc_plugins.ResponseDevice  # isinstance keeps working
    assert check_device is aimc_plugins.check_device
    assert aimc_plugins.plugins is plugins  # the facade's name for the host is unchanged


def test_every_documented_old_module_is_covered():
    """The modules the previous release's README and guides imported from."""
    documented = {
        "aimc_plugins.response",
        "aimc_plugins.testing",
        "aimc_plugins.diagnostics",
        "aimc_plugins.resolve",
        "aimc_plugins.characterize",
        "aimc_plugins.preset_response",
        "aimc_plugins.reference_dynamics",
        "aimc_plugins.adapter",
        "aimc_plugins.transfer",
        "aimc_plugins.simulator_seed",
        "aimc_plugins.records",
        "aimc_plugins.plugins",
        "aimc_plugins.fit",
        "aimc_plugins.recipes",
        "aimc_plugins.builtin.aihwkit_presets",
    }
    assert documented <= set(OLD_MODULES)


def test_old_record_methods_work_with_a_warning():
    device = plugins.registry.device("ReRamSB")
    optimizer = plugins.registry.optimizer("sgd")
    with deprecations() as messages:
        config = device.build()
        adapted = device.adapted()
        response = device.response()
        data = [r.to_dict() for r in (device, optimizer, plugins.registry.recipe("digits-mlp"))]
        param = aimc_plugins.Param("tau", 0.6, low=0.1).to_dict()
    assert type(config).__name__ == "ReRamSBPresetDevice"
    assert adapted.device == config and response.w_max > response.w_min
    assert data[0] == aimc_plugins.as_dict(device) and param["range"] == "[0.1, inf]"
    for old, new in [
        ("Device.build(**params)", "aimc_plugins.device_config(device, params)"),
        ("Device.adapted(**params)", "aimc_plugins.adapted_device(device, params)"),
        ("Device.response(**params)", "aimc_plugins.device_response(device, params)"),
        ("Optimizer.to_dict()", "aimc_plugins.as_dict(record)"),
        ("Param.to_dict()", "aimc_plugins.as_dict(record)"),
    ]:
        assert any(old in m and new in m for m in messages), (old, messages)


def test_run_outcome_spec_is_its_run():
    from aimc_plugins.training.identity import PlannedRun
    from aimc_plugins.training.run import RunOutcome

    run = PlannedRun("digits-mlp", "ReRamSB", "sgd", seed=0, epochs=1)
    with deprecations() as messages:
        assert RunOutcome(run, "done").spec is run
    assert any("RunOutcome.run" in m for m in messages)


def test_names_that_left_the_host_plugins_module_still_resolve():
    from aimc_plugins.cli.listing import plugin_infos
    from aimc_plugins.training.tracking import choose_trackers

    with deprecations() as messages:
        assert plugins.plugin_infos is plugin_infos
        assert plugins.choose_trackers is choose_trackers
    assert any("aimc_plugins.cli.listing.plugin_infos" in m for m in messages)
    with pytest.raises(AttributeError):
        plugins.nonsense  # noqa: B018


def test_the_new_spellings_raise_no_deprecation_warning():
    with deprecations() as messages:
        from aimc_plugins import ResponseDevice, check_device, device_response  # noqa: F401

        device_response(plugins.registry.device("ReRamSB"))
    assert messages == []
