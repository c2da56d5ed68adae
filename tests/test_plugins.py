"""The plugin host: registration, entry points, isolation of broken plugins, duplicates."""

from __future__ import annotations

import pluggy
import pytest

import aimc_plugins
from aimc_plugins import Device, Preset, hookimpl
from aimc_plugins.cli import listing
from aimc_plugins.cli.main import add_commands
from aimc_plugins.devices.build import device_config
from aimc_plugins.host import plugins
from aimc_plugins.host.plugins import DuplicateNameError
from aimc_plugins.host.records import as_dict

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
    assert type(device_config(record)).__name__ == "ConstantStepDevice"
    plugins.unregister(name)
    assert "in-test-device" not in plugins.devices()


def test_records_are_frozen_and_stamped_with_their_plugin():
    record = plugins.devices()["ReRamSB"]
    assert record.plugin == "aimc_plugins.builtin.presets"
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
    info = {i.name: i for i in listing.plugin_infos()}
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
    info = {i.name: i for i in listing.plugin_infos()}["aimc_fake_devices"]
    assert (info.distribution, info.version, info.status) == ("aimc-fake-devices", "1.2.3", "ok")
    assert info.hooks == ("register_devices",)


def test_plugin_that_fails_to_import_is_reported_and_others_load(installed):
    installed("aimc-broken", "aimc_broken", "import numpy\nraise ImportError('needs libfoo')\n")
    installed("aimc-fake-devices", "aimc_fake_devices", GOOD_PLUGIN)
    plugins.reload_plugins()
    assert "third-party-constant" in plugins.devices()
    info = {i.name: i for i in listing.plugin_infos()}
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
        assert isinstance(device_config(record), PulsedDevice)
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
    add_commands(group)
    result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output
    assert "devices" in group.commands  # the built-in commands use the same hook


# --- the host goes through pluggy: ordering, wrappers, tracing ---------------------------------


class SameNameDevice:
    """Registers ``in-test-device`` too, and notes when it was called."""

    def __init__(self, calls: list[str], label: str) -> None:
        self.calls, self.label = calls, label

    @hookimpl
    def register_devices(self, register):
        self.calls.append(self.label)
        register(Device(name="in-test-device", factory=constant_device, description=self.label))


class TryFirstSameNameDevice(SameNameDevice):
    @hookimpl(tryfirst=True)
    def register_devices(self, register):
        super().register_devices(register)


def test_tryfirst_plugin_runs_first_and_wins_a_name_clash(fresh_plugins):
    calls: list[str] = []
    plugins.register(SameNameDevice(calls, "plain"), name="plain-plugin")
    plugins.register(TryFirstSameNameDevice(calls, "eager"), name="eager-plugin")
    assert plugins.devices()["in-test-device"].plugin == "eager-plugin"
    assert calls == ["eager", "plain"]
    [failure] = [f for f in plugins.failures if f.plugin == "plain-plugin"]
    assert "eager-plugin" in failure.error and "takes precedence" in failure.error


def test_hook_wrapper_sees_every_call_and_a_broken_wrapper_is_reported(fresh_plugins):
    seen: list[str] = []

    class Watching:
        @hookimpl(wrapper=True)
        def register_devices(self, register):
            result = yield
            seen.append("call")
            return result

    class Broken:
        @hookimpl(wrapper=True)
        def register_devices(self, register):
            raise RuntimeError("wrapper bug")
            yield

    plugins.register(InTestPlugin(), name="in-test")
    plugins.register(Watching(), name="watching")
    plugins.register(Broken(), name="broken-wrapper")
    devices = plugins.devices()
    implementers = [i for i in plugins.pm.hook.register_devices.get_hookimpls() if not i.wrapper]
    assert len(seen) == len(implementers)  # once around each plugin's call
    assert "in-test-device" in devices and "ReRamSB" in devices
    broken = [f for f in plugins.failures if f.plugin == "broken-wrapper"]
    assert len(broken) == 1 and "wrapper bug" in broken[0].error
    assert not [f for f in plugins.failures if f.plugin == "in-test"]


def test_trace_variable_prints_each_hook_call(fresh_plugins, monkeypatch, capsys):
    monkeypatch.setenv(plugins.TRACE_ENV_VAR, "1")
    plugins.reload_plugins()
    plugins.register(InTestPlugin(), name="in-test")
    plugins.devices()
    lines = capsys.readouterr().err.splitlines()
    mine = [line for line in lines if "register_devices plugin=in-test " in line]
    assert len(mine) == 1 and mine[0].startswith("aimc trace: ") and mine[0].endswith(" ms")
    assert any("plugin=aimc_plugins.builtin.presets" in line for line in lines)


def test_no_trace_without_the_variable(fresh_plugins, monkeypatch, capsys):
    monkeypatch.delenv(plugins.TRACE_ENV_VAR, raising=False)
    plugins.reload_plugins()
    plugins.devices()
    assert "aimc trace" not in capsys.readouterr().err


# --- isolation, caching, clashes, explanations ---------------------------------------------------


def test_system_exit_in_a_hook_is_contained_and_reported(fresh_plugins):
    import click

    class Exiting:
        @hookimpl
        def register_devices(self, register):
            raise SystemExit(3)

        @hookimpl
        def register_commands(self, cli):
            raise SystemExit("stray sys.exit()")

    plugins.register(Exiting(), name="exiting-plugin")
    plugins.register(InTestPlugin(), name="in-test")
    assert "in-test-device" in plugins.devices()
    group = click.Group()
    add_commands(group)
    assert "devices" in group.commands  # every other plugin's commands are there
    hooks = {f.hook: f.error for f in plugins.failures if f.plugin == "exiting-plugin"}
    assert hooks["register_devices"] == "SystemExit: 3"
    assert "stray sys.exit()" in hooks["register_commands"]


def test_keyboard_interrupt_still_interrupts(fresh_plugins):
    class Interrupted:
        @hookimpl
        def register_recipes(self, register):
            raise KeyboardInterrupt

    plugins.register(Interrupted(), name="interrupted")
    with pytest.raises(KeyboardInterrupt):
        plugins.recipes()


def test_registration_runs_once_until_plugins_change(fresh_plugins):
    calls: list[str] = []
    plugins.register(SameNameDevice(calls, "counted"), name="counted-plugin")
    for _ in range(3):
        plugins.devices()
        plugins.presets()
        plugins.lookup(plugins.devices, "in-test-device", "device")
        listing.plugin_infos()
    assert calls == ["counted"]
    assert set(plugins.registration_times()["counted-plugin"]) == {"register_devices"}
    plugins.register(InTestPlugin(), name="in-test")  # plugins changed: collect again
    plugins.devices()
    assert calls == ["counted", "counted"]
    plugins.unregister("in-test")
    plugins.devices()
    assert calls == ["counted", "counted", "counted"]


def test_plugins_command_names_a_slow_plugin(fresh_plugins, monkeypatch):
    import time

    from click.testing import CliRunner

    from aimc_plugins.cli.main import cli

    class Slow:
        @hookimpl
        def register_recipes(self, register):
            time.sleep(0.2)

    plugins.register(Slow(), name="slow-plugin")
    monkeypatch.setattr(listing, "SLOW_REGISTRATION_S", 0.1)
    result = CliRunner().invoke(cli, ["plugins"], catch_exceptions=False)
    assert result.exit_code == 0
    [line] = [
        line for line in result.output.splitlines() if "slow-plugin" in line and "slow:" in line
    ]
    assert "register_recipes" in line
    info = {i.name: i for i in listing.plugin_infos()}["slow-plugin"]
    assert info.seconds >= 0.2 and as_dict(info)["seconds"] >= 0.2


def test_two_distributions_sharing_an_entry_point_name_both_load(installed, caplog):
    one = GOOD_PLUGIN.replace("third-party-constant", "clash-one")
    two = GOOD_PLUGIN.replace("third-party-constant", "clash-two")
    installed("aimc-clash-one", "aimc_clash_one", one, entry_name="clashing")
    installed("aimc-clash-two", "aimc_clash_two", two, entry_name="clashing")
    with caplog.at_level("WARNING", logger="aimc_plugins.plugins"):
        plugins.reload_plugins()
    devices = plugins.registry.devices()
    assert devices["clash-one"].plugin == "clashing (aimc-clash-one)"
    assert devices["clash-two"].plugin == "clashing (aimc-clash-two)"
    info = {i.name: i for i in listing.plugin_infos()}
    assert "clashing" not in info
    for dist in ("aimc-clash-one", "aimc-clash-two"):
        row = info[f"clashing ({dist})"]
        assert (row.status, row.distribution) == ("ok", dist)
        assert "aimc-clash-one" in row.warnings[0] and "aimc-clash-two" in row.warnings[0]
    [line] = [r.getMessage() for r in caplog.records if "entry point 'clashing'" in r.getMessage()]
    assert "aimc-clash-one" in line and "aimc-clash-two" in line
    # AIMC_PLUGINS may name either one, qualified or by distribution
    assert plugins.distributions()["clashing (aimc-clash-two)"][0] == "aimc-clash-two"


def test_a_shared_entry_point_name_is_no_conflict_but_a_shared_device_name_is(installed):
    installed("aimc-same-one", "aimc_same_one", GOOD_PLUGIN, entry_name="same")
    installed("aimc-same-two", "aimc_same_two", GOOD_PLUGIN, entry_name="same")
    plugins.reload_plugins()
    owner = plugins.registry.device("third-party-constant").plugin
    loaded = [name for name, _ in plugins.pm.list_name_plugin() if name.startswith("same (")]
    assert owner == loaded[0]  # the earlier one keeps the name, as between any two plugins
    [failure] = [f for f in plugins.failures if f.plugin == loaded[1]]
    assert DuplicateNameError.__name__ in failure.error and owner in failure.error


MISSPELT_PLUGIN = """
from aimc_plugins import Device, hookimpl

@hookimpl
def register_device(register):
    register(Device(name="never-registered", factory=dict))
"""


def test_a_misspelt_hook_fails_the_plugin_by_name(installed, caplog):
    installed("aimc-misspelt", "aimc_misspelt", MISSPELT_PLUGIN)
    installed("aimc-fake-devices", "aimc_fake_devices", GOOD_PLUGIN)
    with caplog.at_level("WARNING", logger="aimc_plugins.plugins"):
        plugins.reload_plugins()
    expected = "unknown hook 'register_device'; did you mean 'register_devices'?"
    assert any(expected in r.getMessage() for r in caplog.records)  # said on first use
    info = {i.name: i for i in listing.plugin_infos()}
    assert info["aimc_misspelt"].status == "failed"
    assert info["aimc_misspelt"].distribution == "aimc-misspelt"
    assert expected in info["aimc_misspelt"].error
    assert info["aimc_fake_devices"].status == "ok"
    assert "third-party-constant" in plugins.registry.devices()
    assert not plugins.pm.has_plugin("aimc_misspelt")  # nothing of it half-registers
    with pytest.raises(KeyError, match="did you mean 'register_devices'"):
        plugins.registry.device("never-registered")


def test_a_misspelt_hook_of_an_in_process_plugin_is_refused(fresh_plugins):
    class Misspelt:
        @hookimpl
        def register_optimizer(self, register):
            pass

    with pytest.raises(plugins.UnknownHookError, match="did you mean 'register_optimizers'"):
        plugins.register(Misspelt(), name="misspelt")
    assert not plugins.pm.has_plugin("misspelt")


def test_an_optional_hook_of_a_newer_host_is_accepted(fresh_plugins):
    optional = pluggy.HookimplMarker("aimc")

    class Newer:
        @optional(optionalhook=True)
        def register_datasets(self, register):
            pass

    plugins.register(Newer(), name="newer")
    assert plugins.pm.has_plugin("newer")


@pytest.mark.parametrize(
    ("required", "loads"),
    [("aimc-plugins>=0.2,<0.3", True), ("aimc-plugins>=0.3", False), ("numpy", True)],
)
def test_a_plugin_states_the_host_versions_it_supports(installed, caplog, required, loads):
    site = installed("aimc-versioned", "aimc_versioned", GOOD_PLUGIN)
    metadata = site / "aimc_versioned-0.1.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text() + f"Requires-Dist: {required}\n")
    with caplog.at_level("WARNING", logger="aimc_plugins.plugins"):
        plugins.reload_plugins()
    assert ("third-party-constant" in plugins.registry.devices()) is loads
    info = {i.name: i for i in listing.plugin_infos()}["aimc_versioned"]
    assert info.status == ("ok" if loads else "failed")
    if not loads:
        line = f"aimc-versioned requires aimc-plugins>=0.3, this host is {aimc_plugins.__version__}"
        assert line in info.error
        assert sum(line in r.getMessage() for r in caplog.records) == 1
    assert "ReRamSB" in plugins.registry.devices()  # the others keep working


def test_device_named_like_a_preset_is_reported_as_a_clash(fresh_plugins):
    class PresetNamed:
        @hookimpl
        def register_devices(self, register):
            register(Device(name="TikiTakaReRamSBPreset", factory=constant_device))

    plugins.register(PresetNamed(), name="preset-named")
    assert "TikiTakaReRamSBPreset" not in plugins.devices()
    assert plugins.presets()["TikiTakaReRamSBPreset"].plugin.endswith("builtin.presets")
    [failure] = [f for f in plugins.failures if f.plugin == "preset-named"]
    assert "preset-named" in failure.error and "aimc_plugins.builtin.presets" in failure.error
    assert DuplicateNameError.__name__ in failure.error
    with pytest.raises(KeyError, match="Plugin 'preset-named' registered a device of that name"):
        plugins.lookup(plugins.devices, "TikiTakaReRamSBPreset", "device")


def test_unknown_name_of_a_failed_plugin_is_explained(installed):
    from aimc_plugins.training.setup import build_device

    half = """
from aimc_plugins import Device, hookimpl

@hookimpl
def register_devices(register):
    register(Device(name="half-registered", factory=dict))
    raise RuntimeError("lost the calibration table")
"""
    installed("aimc-half", "aimc_half", half)
    installed("aimc-broken", "aimc_broken", "raise ImportError('needs libfoo')\n")
    plugins.reload_plugins()
    with pytest.raises(KeyError) as given:
        build_device("half-registered")
    message = str(given.value)
    assert "unknown device 'half-registered'" in message
    assert "'aimc_half' registered a device of that name" in message
    assert "lost the calibration table" in message
    with pytest.raises(KeyError) as given:
        build_device("lab_rram(tau=0.7)")
    message = str(given.value)  # a name no one gave: both failed plugins may provide it
    assert "'aimc_broken' (import: ImportError: needs libfoo)" in message
    assert "'aimc_half' (register_devices" in message
    with pytest.raises(KeyError) as given:
        plugins.lookup(plugins.optimizers, "nope", "optimizer")
    assert "aimc_half" not in str(given.value)  # its register_devices has nothing to do with it


def test_every_failure_of_a_plugin_is_listed(fresh_plugins):
    from click.testing import CliRunner

    from aimc_plugins.cli.main import cli

    class ManyFaults:
        @hookimpl
        def register_devices(self, register):
            register(Device(name="ReRamSB", factory=constant_device))
            register(Device(name="PCM", factory=constant_device))

        @hookimpl
        def register_presets(self, register):
            register(Device(name="not-a-preset", factory=constant_device))

    plugins.register(ManyFaults(), name="many-faults")
    info = {i.name: i for i in listing.plugin_infos()}["many-faults"]
    assert len(info.errors) == 3
    assert sum("'ReRamSB'" in e for e in info.errors) == 1
    assert sum("'PCM'" in e for e in info.errors) == 1
    assert sum("expects Preset records" in e for e in info.errors) == 1
    assert info.error == "; ".join(info.errors)
    output = CliRunner().invoke(cli, ["plugins"], catch_exceptions=False).output
    assert all(error in output for error in info.errors)


def test_unhashable_plugin_is_refused_by_name(fresh_plugins):
    from dataclasses import dataclass

    @dataclass
    class Unhashable:
        calibration: str = "x"

    with pytest.raises(TypeError, match="unhashable-plugin"):
        plugins.register(Unhashable(), name="unhashable-plugin")
    assert "ReRamSB" in plugins.devices()
