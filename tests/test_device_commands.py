"""`aimc show` and `aimc characterize` on plugin response devices and aihwkit presets."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from aimc_plugins.cli.main import cli


def _measured_symmetric_point(preset: str) -> float:
    """w* of an aihwkit preset read off the simulator, not the formulas ``aimc show`` uses: one
    up and one down pulse at each of 801 weights on a quiet tile, and the sign change of
    (down step - up step) located by linear interpolation."""
    import numpy as np
    from aihwkit.simulator.presets import devices

    from aimc_plugins.devices.characterize import measure_steps, quiet

    config = getattr(devices, f"{preset}PresetDevice")()
    inner = 0.95 * np.array([config.w_min, config.w_max])  # one pulse stays inside the bounds
    w = np.linspace(*inner, 801).astype(np.float32).astype(float)
    up, down = measure_steps(quiet(config), w, lr=4 * config.dw_min)
    g = down[0] - up[0]
    (i,) = np.flatnonzero(np.diff(np.sign(g)) != 0)  # exactly one root in the range
    return float(w[i] - g[i] * (w[i + 1] - w[i]) / (g[i + 1] - g[i]))


@pytest.fixture
def run(tmp_path):
    def invoke(*args):
        return CliRunner().invoke(cli, [*args, "--out", str(tmp_path)])

    return invoke


def test_show_preset_prints_diagnostics_and_writes_png(run, tmp_path):
    result = run("show", "ReRamES")
    assert result.exit_code == 0, result.output
    printed = re.search(r"symmetric point w\* = (\S+) \(stable\)", result.output)
    assert printed, result.output
    assert float(printed.group(1)) == pytest.approx(_measured_symmetric_point("ReRamES"), abs=1e-3)
    assert "asymmetry" in result.output and "R_c" in result.output
    assert (tmp_path / "ReRamES-response.png").stat().st_size > 10_000


def test_show_json(run):
    result = run("show", "ReRamSB", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    # ReRamSB is a soft-bounds device with up_down = 0 read against a zero reference: both steps
    # are dw_min (1 - w / bound), dw_min (1 - w/w_max) up and dw_min (1 - w/w_min) down, equal
    # only where w (1/w_min - 1/w_max) = 0, at w = 0 whatever the (asymmetric) bounds
    from aihwkit.simulator.presets.devices import ReRamSBPresetDevice

    preset = ReRamSBPresetDevice()
    assert preset.up_down == 0.0 and preset.reference_mean == 0.0 and preset.w_min != -preset.w_max
    assert summary["symmetric_point"] == pytest.approx(0.0, abs=1e-6)
    assert summary["aihwkit_device"] == "ReRamSBPreset"


def test_characterize_preset(run, tmp_path):
    result = run("characterize", "Idealized", "--points", "21", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["max_error"] <= summary["float32_resolution"] + 1e-5
    assert (tmp_path / "Idealized-fidelity.png").exists()


def test_unknown_device_is_a_usage_error(run):
    result = run("show", "ReRamXX")
    assert result.exit_code == 2
    assert "unknown device 'ReRamXX'" in result.output


def test_characterize_with_noise_averages_rows(run):
    result = run("characterize", "ReRamSB", "--points", "11", "--noise", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["noise"] is True
    # write noise (56 dw_min on ReRamSB) makes single-pulse steps unreadable: the error shows it
    assert summary["max_error"] > 1.0


def test_show_plugin_device_with_parameters(run, tmp_path):
    result = run("show", "power(tau=0.5, g=2)")
    if result.exit_code == 2 and "unknown device 'power'" in result.output:
        pytest.skip("aimc-paper-devices is not installed")
    assert result.exit_code == 0, result.output
    assert "range           [-0.5, 0.5]" in result.output
    assert "PowStep (native PowStep)" in result.output
    assert (tmp_path / "power_tau=0.5_g=2-response.png").exists()
