"""`aimc show` and `aimc characterize` on plugin response devices and aihwkit presets."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aimc_plugins.cli import cli


@pytest.fixture
def run(tmp_path):
    def invoke(*args):
        return CliRunner().invoke(cli, [*args, "--out", str(tmp_path)])

    return invoke


def test_show_preset_prints_diagnostics_and_writes_png(run, tmp_path):
    result = run("show", "ReRamES")
    assert result.exit_code == 0, result.output
    assert "symmetric point w* = -0.217" in result.output
    assert "asymmetry" in result.output and "R_c" in result.output
    assert (tmp_path / "ReRamES-response.png").stat().st_size > 10_000


def test_show_json(run):
    result = run("show", "ReRamSB", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
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
