"""What device factories return is checked in the devices layer; a table that misses its
response is refused unless allowed, and then recorded; listing imports neither torch nor
aihwkit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from aimc_plugins import Device, hookimpl
from aimc_plugins.builtin import presets as builtin_presets
from aimc_plugins.devices import sanity
from aimc_plugins.devices.adapter import PiecewiseCapWarning
from aimc_plugins.devices.build import TableError, adapted_device, device_config, table_fidelity
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.devices.sanity import DeviceConfigError, check_native

ROOT = Path(__file__).resolve().parent.parent


def soft_bounds(**fields: float):
    from aihwkit.simulator.configs import SoftBoundsDevice

    return SoftBoundsDevice(**fields)


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        ({"dw_min": float("nan")}, "dw_min is a number"),
        ({"up_down": float("nan")}, "up_down is a number"),
        ({"dw_min": -0.01}, "dw_min positive"),
        ({"dw_min": 0.0}, "dw_min positive"),
        ({"dw_min": float("inf")}, "dw_min positive"),
        ({"w_min": 0.3, "w_max": 0.3}, "range non-empty"),
        ({"w_min": 0.5, "w_max": -0.5}, "range non-empty"),
        ({"w_max": float("inf")}, "range finite"),
        ({"dw_min": 5.0}, "dw_min below the range"),
    ],
)
def test_impossible_native_configs_name_the_failing_check(fields, check):
    with pytest.raises(DeviceConfigError, match=f"device 'x': check '{check}' failed"):
        check_native(soft_bounds(**fields), "x")


def test_pulses_that_move_the_wrong_way_are_caught(monkeypatch):
    """The tile probe, fed a device whose down pulse moves up, names that check."""

    def wrong_way(config, w, lr, rows=1, seed=1):
        up = np.full((1, len(w)), 0.001)
        return up, -up  # the "down" step is +0.001: the weight went up

    monkeypatch.setattr("aimc_plugins.devices.characterize.measure_steps", wrong_way)
    sanity._verdicts.clear()
    with pytest.raises(DeviceConfigError, match="'down pulse moves down' failed: at w="):
        check_native(soft_bounds(dw_min=0.0123), "x")
    sanity._verdicts.clear()


def test_every_aihwkit_preset_device_passes():
    for name, cls in builtin_presets.preset_device_classes().items():
        assert check_native(cls(), name) is not None


def test_the_check_runs_once_per_config(monkeypatch):
    calls = []
    real = sanity._check_pulses
    monkeypatch.setattr(sanity, "_check_pulses", lambda c: calls.append(c) or real(c))
    config = soft_bounds(dw_min=0.00321)
    for _ in range(3):
        check_native(config, "x")
    check_native(soft_bounds(dw_min=0.00321), "y")  # an equal config: same verdict
    assert len(calls) == 1
    check_native(soft_bounds(dw_min=0.00322), "x")
    assert len(calls) == 2


def test_a_factory_that_is_not_a_device_is_named():
    record = Device(name="not-a-device", factory=lambda: {"dw_min": 0.1})
    with pytest.raises(DeviceConfigError, match="got dict"):
        device_config(record)


def test_a_crashing_factory_is_one_error():
    record = Device(name="crash", factory=lambda: 1 / 0)
    with pytest.raises(DeviceConfigError, match="'factory runs' failed: ZeroDivisionError"):
        device_config(record)


def spike(w: np.ndarray) -> np.ndarray:
    return 1.0 + 10.0 * np.exp(-(((w - 0.0123) / 0.002) ** 2))


def spiky(allow: bool = False) -> ResponseDevice:
    return ResponseDevice(
        "spiky", spike, np.ones_like, -1.0, 1.0, n_states=1000, allow_table_error=allow
    )


SPIKY = Device(name="spiky", factory=spiky)


def test_a_table_beyond_its_tolerance_is_refused():
    with pytest.raises(TableError, match=r"misses the declared response by \d+%"):
        adapted_device(SPIKY)


def test_allowing_the_table_error_trains_on_it_and_records_it():
    from aimc_plugins.training.identity import PlannedRun
    from aimc_plugins.training.run import _record_table_error

    record = Device(name="spiky-allowed", factory=lambda: spiky(allow=True))
    with pytest.warns(PiecewiseCapWarning, match="allowed"):
        adapted = adapted_device(record)
    assert adapted.kind == "PiecewiseStep" and adapted.error > 0.5
    error, note = table_fidelity(record)
    assert error == adapted.error and "misses the declared response" in note

    from aimc_plugins.host import plugins

    plugins.register(_Provides(record), name="spiky-plugin")
    try:
        run = PlannedRun("digits-mlp", "spiky-allowed", "sgd", 0, 1, device_name="spiky-allowed")
        versions: dict[str, str] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PiecewiseCapWarning)
            assert _record_table_error(run, versions) == note
        assert float(versions["table_error"]) == pytest.approx(error, rel=1e-2)
    finally:
        plugins.unregister("spiky-plugin")


def test_a_faithful_device_records_its_small_error_and_no_note():
    from aimc_plugins.host import plugins

    error, note = table_fidelity(plugins.devices()["exponential"])
    assert 0 < error <= 0.01 and note == ""


class _Provides:
    def __init__(self, record: Device) -> None:
        self.record = record

    @hookimpl
    def register_devices(self, register):
        register(self.record)


def test_shipped_preset_metadata_matches_the_installed_aihwkit():
    """Regenerate with: python -c "from aimc_plugins.builtin.presets import *;
    import json; SHIPPED_METADATA.write_text(json.dumps(introspect_metadata(), indent=1)+'\\n')"
    """
    shipped = json.loads(builtin_presets.SHIPPED_METADATA.read_text())
    installed = builtin_presets.aihwkit_version()
    if installed not in builtin_presets.shipped_for(shipped):
        pytest.skip("shipped for another aihwkit: the user cache serves this one")
    same = {k: v for k, v in shipped.items() if k != "same_for"}
    assert {**same, "aihwkit": installed} == builtin_presets.introspect_metadata()
    assert len(shipped["devices"]) >= 10 and len(shipped["configs"]) >= 50


def test_metadata_is_cached_for_an_aihwkit_it_was_not_shipped_for(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(builtin_presets, "aihwkit_version", lambda: "9.9.9")
    first = builtin_presets.preset_metadata()
    (cached,) = (tmp_path / "aimc-plugins").glob("presets-*-aihwkit-9.9.9.json")
    assert json.loads(cached.read_text()) == first
    monkeypatch.setattr(builtin_presets, "introspect_metadata", lambda: pytest.fail("re-read"))
    assert builtin_presets.preset_metadata() == first


def test_lazy_preset_factories_build_the_real_thing():
    from aimc_plugins.host import plugins

    device = plugins.devices()["ReRamSB"].factory()
    assert type(device).__name__ == "ReRamSBPresetDevice"
    config = plugins.presets()["TikiTakaReRamSBPreset"].factory()
    assert type(config).__name__ == "TikiTakaReRamSBPreset"


WATCH = """
import sys
from aimc_plugins.cli.main import cli
try:
    cli(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("IMPORTED", sorted(m for m in ("torch", "aihwkit") if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("command", ["devices", "presets"])
def test_listing_imports_neither_torch_nor_aihwkit(command, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", WATCH, command],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ReRamSB" in result.stdout or "TikiTaka" in result.stdout
    assert "IMPORTED []" in result.stderr, result.stderr
