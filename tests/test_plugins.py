"""The plugin host: registration, entry points, isolation of broken plugins, duplicates."""

from __future__ import annotations

import pytest

from aimc_plugins import Device, Preset, hookimpl, plugins
from aimc_plugins.plugins import DuplicateNameError

GOOD_PLUGIN = """
from aimc_plugins import Device, hookimpl

def _make():
    from aihwkit.simulator.configs import ConstantStepDevice
    return ConstantStepDevice(dw_min=0.002)

@hookimpl
def register_devices(register):
    register(Device(name="third-party-constant", factory=_make, family="constant step"))
"""


def constant_device() -> object:
    from aihwkit.simulator.configs import ConstantStepDevice

    return ConstantStepDevice()


class InTestPlugin:
    @hookimpl
    def register_devices(self, register):
        register(Device(name="in-test-device", factory=constant_device, description="test"))


def test_in_test_plugin_registers_and_unregisters(fresh_plugins):
    name = plugins.register(InTestPlugin(), name="in-test")
    record = plugins.devices()["in-test-device"]
    assert record.plugin == "in-test"
    assert type(record.build()).__name__ == "ConstantStepDevice"
    plugins.unregister(name)
    assert "in-test-device" not in plugins.devices()


def test_records_are_frozen_and_stamped_with_their_plugin():
    record = plugins.devices()["ReRamSB"]
    assert record.plugin == "aimc_plugins.builtin.aihwkit_presets"
    with pytest.raises(AttributeError):
        record.name = "other"  # type: ignore[misc]


def test_raising_hook_is_reported_by_name_and_others_keep_working(fresh_plugins):
    class Raising:
        @hookimpl
        def register_devices(self, register):
            raise RuntimeError("calibration file missing")

    plugins.register(Raising(), name="raising-plugin")
    plugins.register(InTestPlugin(), name="in-test")
    devices = plugins.devices()
    assert "in-test-device" in devices and "ReRamSB" in devices
    [failure] = [f for f in plugins.failures if f.plugin == "raising-plugin"]
    assert failure.hook == "register_devices"
    assert "calibration file missing" in failure.error
    info = {i.name: i for i in plugins.plugin_infos()}
    assert info["raising-plugin"].status == "failed"
    assert "calibration file missing" in info["raising-plugin"].error
    assert info["in-test"].status == "ok"


def test_wrong_record_type_is_a_plugin_failure(fresh_plugins):
    class WrongType:
        @hookimpl
        def register_presets(self, register):
            register(Device(name="not-a-preset", factory=constant_device))

    plugins.register(WrongType(), name="wrong-type")
    assert "not-a-preset" not in plugins.presets()
    [failure] = [f for f in plugins.failures if f.plugin == "wrong-type"]
    assert "expects Preset records" in failure.error


def test_duplicate_names_name_both_plugins_and_first_wins(fresh_plugins):
    class Clash:
        @hookimpl
        def register_devices(self, register):
            register(Device(name="in-test-device", factory=constant_device, description="clash"))

    plugins.register(InTestPlugin(), name="first-plugin")
    plugins.register(Clash(), name="second-plugin")
    record = plugins.devices()["in-test-device"]
    assert record.plugin == "first-plugin"
    [failure] = [f for f in plugins.failures if f.plugin == "second-plugin"]
    assert "first-plugin" in failure.error and "second-plugin" in failure.error
    assert DuplicateNameError.__name__ in failure.error


def test_entry_point_plugin_of_an_installed_distribution_is_found(installed):
    installed("aimc-fake-devices", "aimc_fake_devices", GOOD_PLUGIN, version="1.2.3")
    plugins.reload_plugins()
    assert plugins.devices()["third-party-constant"].plugin == "aimc_fake_devices"
    info = {i.name: i for i in plugins.plugin_infos()}["aimc_fake_devices"]
    assert (info.distribution, info.version, info.status) == ("aimc-fake-devices", "1.2.3", "ok")
    assert info.hooks == ("register_devices",)


def test_plugin_that_fails_to_import_is_reported_and_others_load(installed):
    installed("aimc-broken", "aimc_broken", "import numpy\nraise ImportError('needs libfoo')\n")
    installed("aimc-fake-devices", "aimc_fake_devices", GOOD_PLUGIN)
    plugins.reload_plugins()
    assert "third-party-constant" in plugins.devices()
    info = {i.name: i for i in plugins.plugin_infos()}
    assert info["aimc_broken"].status == "failed"
    assert info["aimc_broken"].distribution == "aimc-broken"
    assert "needs libfoo" in info["aimc_broken"].error
    assert info["aimc_fake_devices"].status == "ok"


@pytest.mark.parametrize(
    ("allowed", "loaded"),
    [
        ("", False),
        ("someone-else", False),
        ("aimc_fake_devices", True),
        ("aimc-fake-devices", True),
    ],
)
def test_aimc_plugins_variable_restricts_third_party_plugins(
    installed, monkeypatch, allowed, loaded
):
    installed("aimc-fake-devices", "aimc_fake_devices", GOOD_PLUGIN)
    monkeypatch.setenv(plugins.ENV_VAR, allowed)
    plugins.reload_plugins()
    assert ("third-party-constant" in plugins.devices()) is loaded
    assert "ReRamSB" in plugins.devices()  # built-ins always load


def test_all_aihwkit_preset_devices_are_registered_and_build():
    from aihwkit.simulator.configs.devices import PulsedDevice

    presets = {n: d for n, d in plugins.devices().items() if d.family.startswith("aihwkit preset")}
    assert len(presets) == 10
    assert {
        "ReRamES",
        "ReRamSB",
        "Capacitor",
        "EcRam",
        "EcRamMO",
        "Idealized",
        "GokmenVlasov",
        "PCM",
        "ReRamArrayOM",
        "ReRamArrayHfO2",
    } == set(presets)
    for record in presets.values():
        assert isinstance(record.build(), PulsedDevice)
        assert record.description


def test_all_52_preset_training_configs_with_their_families():
    from collections import Counter

    presets = plugins.presets()
    assert len(presets) == 52
    families = Counter(p.family for p in presets.values())
    assert families == {
        "single-device SGD": 8,
        "multi-device": 12,
        "Tiki-Taka": 6,
        "TTv2": 6,
        "c-TTv2": 6,
        "AGAD": 6,
        "mixed precision": 8,
    }
    assert presets["TikiTakaReRamSBPreset"].family == "Tiki-Taka"
    assert presets["ChoppedTTv2EcRamPreset"].family == "c-TTv2"
    assert presets["MixedPrecisionPCMPreset"].family == "mixed precision"
    assert isinstance(presets["ReRamSBPreset"], Preset)


def test_lookup_suggests_close_names():
    with pytest.raises(KeyError, match="ReRamSB"):
        plugins.lookup(plugins.devices, "ReRamSb", "device")


def test_plugins_may_add_cli_commands(fresh_plugins):
    import click
    from click.testing import CliRunner

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command()
            def hello() -> None:
                click.echo("hello from a plugin")

    plugins.register(Commands(), name="commands-plugin")
    group = click.Group()
    plugins.add_commands(group)
    result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output
    assert "devices" in group.commands  # the built-in commands use the same hook
