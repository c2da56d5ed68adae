"""The ``aimc`` command line, through click's runner and as a real installed console script."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import make_distribution

from aimc_plugins.cli.main import cli


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_plugins_json_lists_builtins_with_distribution_and_hooks():
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.output)}
    presets = rows["aimc_plugins.builtin.presets"]
    assert presets["status"] == "ok"
    assert presets["distribution"] == "aimc-plugins"
    assert set(presets["hooks"]) == {"register_devices", "register_presets"}


def test_devices_and_presets_json():
    devices = json.loads(invoke("devices", "--json").output)
    assert {"ReRamSB", "PCM", "Idealized"} <= {d["name"] for d in devices}
    presets = json.loads(invoke("presets", "--json").output)
    assert len(presets) == 52
    assert all(p["family"] for p in presets)


def test_optimizers_json_has_schemas():
    optimizers = {o["name"]: o for o in json.loads(invoke("optimizers", "--json").output)}
    assert {"digital", "sgd"} <= set(optimizers)
    lr = {p["name"]: p for p in optimizers["sgd"]["parameters"]}["lr"]
    assert lr["default"] > 0 and lr["range"].startswith("(0")


def test_doctor_reports_versions_and_a_working_core():
    result = invoke("doctor")
    assert f"torch: {importlib.metadata.version('torch')}" in result.output
    assert f"aihwkit: {importlib.metadata.version('aihwkit')}" in result.output
    assert "[ok  ] AnalogLinear update" in result.output
    assert "[ok  ] aihwkit build: " in result.output
    assert result.exit_code == 0, result.output


def test_compare_unknown_device_fails_before_training(tmp_path):
    result = invoke("compare", "--device", "ReRamSb", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "unknown device 'ReRamSb'" in result.output and "ReRamSB" in result.output
    assert not (tmp_path / "out").exists()


def test_compare_rejects_out_of_range_hyperparameter(tmp_path):
    result = invoke("compare", "--device", "Idealized", "--param", "lr=-1", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "lr=-1.0 is below its valid range" in result.output


def test_compare_writes_table_and_learning_curves(tmp_path):
    out = tmp_path / "cmp"
    result = invoke(
        "compare",
        "--recipe",
        "digits-mlp",
        "--device",
        "Idealized",
        "--device",
        "IdealizedPreset",
        "--optimizer",
        "sgd",
        "--optimizer",
        "digital",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    configurations = {(r["device"], r["optimizer"]) for r in rows}
    assert ("Idealized", "sgd") in configurations
    assert ("IdealizedPreset", "preset") in configurations
    assert len(rows) == 3  # the digital baseline runs once, not once per device
    for row in rows:
        assert float(row["mean"]) > 0.3  # one epoch on digits is far above chance (0.1)
        assert int(row["n_done"]) == 2
    assert "± " in (out / "results.md").read_text()
    png = (out / "learning_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_broken_plugin_never_stops_the_installed_cli(tmp_path):
    """A real process with a real console script: a plugin that fails to import is listed as
    failed, and the other commands still work."""
    site = make_distribution(
        tmp_path / "site", "aimc-broken", "aimc_broken", "raise RuntimeError('broken on purpose')"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("AIMC_PLUGINS", None)
    aimc = Path(sys.executable).parent / "aimc"
    listing = subprocess.run(
        [str(aimc), "plugins", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["aimc_broken"]["status"] == "failed"
    assert "broken on purpose" in rows["aimc_broken"]["error"]
    devices = subprocess.run(
        [str(aimc), "devices", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert devices.returncode == 0 and "ReRamSB" in devices.stdout
