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
