"""Device selectors (``@presets``, ``@preset-devices``, ``@family:NAME``, glob patterns) in
specs and on the command line: what they select is read from the registry, never listed here,
and a selector that selects nothing is an error that names it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import sweep_fake_plugin
from click.testing import CliRunner

from aimc_plugins.builtin.presets import preset_device_classes
from aimc_plugins.cli.main import cli
from aimc_plugins.host import plugins
from aimc_plugins.sweep.spec import (
    SpecError,
    expand,
    expand_selector,
    is_selector,
    load_spec,
    plan,
    spec_from_dict,
)

SPECS = Path(__file__).resolve().parents[1] / "recipes" / "specs"


def test_all_presets_and_all_preset_devices():
    assert expand_selector("@presets") == list(plugins.presets())
    assert len(expand_selector("@presets")) == 52
    devices = expand_selector("@preset-devices")
    assert sorted(devices) == sorted(preset_device_classes())  # aihwkit's, found by introspection
    assert len(devices) == 10 and "power" not in devices


@pytest.mark.parametrize("written", ["@family:TTv2", "@family:ttv2", "@FAMILY:TTV2"])
def test_a_family_is_case_insensitive_and_exact(written):
    selected = expand_selector(written)
    assert selected == [n for n, p in plugins.presets().items() if p.family == "TTv2"]
    assert len(selected) == 6 and not any(n.startswith("Chopped") for n in selected)  # c-TTv2


def test_a_family_ignores_spaces_and_punctuation():
    assert expand_selector("@family:single-device sgd") == expand_selector(
        "@family:Single Device SGD"
    )
    assert set(expand_selector("@family:c-ttv2")) == {
        n for n, p in plugins.presets().items() if p.family == "c-TTv2"
    }


def test_glob_patterns_over_device_and_preset_names():
    rram = expand_selector("ReRam*")
    assert {"ReRamSB", "ReRamES", "ReRamSBPreset", "ReRamSB4Preset"} <= set(rram)
    assert all(n.startswith("ReRam") for n in rram)
    assert expand_selector("*Preset") == list(plugins.presets())
    assert expand_selector("TikiTaka?e*") == ["TikiTakaReRamESPreset", "TikiTakaReRamSBPreset"]
    assert expand_selector("pow[e]r") == ["power"]


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("@family:TTv3", r"no preset family 'TTv3' \(known: .*AGAD.*TTv2"),
        ("@preset", r"unknown selector '@preset'; did you mean '@presets'"),
        ("@devices", r"unknown selector '@devices'.*known: @presets, @preset-devices"),
        ("Nothing*", r"pattern 'Nothing\*' matches no device or preset name"),
        ("reram*", r"pattern 'reram\*' matches no .*when case is ignored: ReRam"),
    ],
)
def test_selectors_that_select_nothing_are_errors_naming_them(selector, message):
    with pytest.raises(SpecError, match=message):
        expand_selector(selector)


def test_only_names_without_parameters_can_be_patterns():
    assert is_selector("ReRam*") and is_selector("@presets") and is_selector(" @preset-devices ")
    assert not is_selector("ReRamSB") and not is_selector("power(g=0.5)")
    assert not is_selector("power(values=[1, 2])")  # a list value, not a pattern


def test_flags_expand_selectors_and_runs_are_not_duplicated():
    runs = plan("digits-mlp", ["power(g=0.5)", "@preset-devices", "ReRamSB"], ["sgd"], 1, 1)
    devices = [r.device for r in runs]
    assert devices[0] == "power(g=0.5)"
    assert sorted(devices[1:]) == sorted(preset_device_classes())  # ReRamSB once
    assert len(set(devices)) == len(devices) == 11


def test_a_preset_family_takes_the_learning_rate_like_a_named_preset():
    runs = plan("digits-mlp", ["@family:AGAD"], ["sgd"], 2, 1, {"lr": "0.05"})
    assert len(runs) == 6 * 2
    assert {r.optimizer for r in runs} == {"preset"} and {r.params["lr"] for r in runs} == {0.05}
    by_name = plan("digits-mlp", ["AGADReRamSBPreset"], ["sgd"], 2, 1, {"lr": "0.05"})
    assert {r.run_id for r in by_name} <= {r.run_id for r in runs}


def test_a_spec_error_names_the_entry():
    spec = {"recipe": "digits-mlp", "devices": ["Idealized", "@family:TTv3"], "optimizers": "sgd"}
    with pytest.raises(SpecError, match=r"devices\[1\]: @family:TTv3: no preset family"):
        expand(spec_from_dict(spec))


def test_selector_tables_take_params_but_not_a_label():
    spec = {
        "recipe": "digits-mlp",
        "devices": [{"name": "@family:TTv2", "params": {"lr": 0.2}}],
        "optimizers": ["sgd"],
        "seeds": 1,
    }
    runs = expand(spec_from_dict(spec))
    assert len(runs) == 6 and {r.params["lr"] for r in runs} == {0.2}
    spec["devices"] = [{"name": "@presets", "label": "all"}]
    with pytest.raises(SpecError, match="cannot take one label"):
        spec_from_dict(spec)


def test_the_shipped_plugin_vs_presets_spec():
    pytest.importorskip("aimc_paper_devices")
    spec = load_spec(SPECS / "plugin-vs-presets.toml")
    runs = expand(spec)
    devices = {r.device for r in runs if r.optimizer == "sgd"}
    assert set(preset_device_classes()) < devices
    assert any(d.startswith("power(") for d in devices)
    assert len(devices) == len(preset_device_classes()) + 1


def test_a_selector_sweep_end_to_end_from_the_command_line(tmp_path, fresh_plugins):
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "compare",
            "--recipe",
            sweep_fake_plugin.RECIPE,
            "--device",
            "@family:TTv2",
            "--device",
            "Idealized*",
            "--seeds",
            "1",
            "--out",
            str(out),
            "--workers",
            "0",
            "--quiet",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {(r["device"], r["optimizer"]) for r in data["report"]["rows"]}
    ttv2 = {n for n, p in plugins.presets().items() if p.family == "TTv2"}
    idealized = {n for n in [*plugins.devices(), *plugins.presets()] if n.startswith("Idealized")}
    # TTv2IdealizedPreset is selected twice (family and pattern) and runs once
    assert {d for d, _ in rows} == ttv2 | idealized
    assert ("Idealized", "sgd") in rows and ("TTv2IdealizedPreset", "preset") in rows
    assert data["counts"]["done"] == len(ttv2 | idealized) == data["planned"]


def test_an_unknown_family_on_the_command_line_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(
        cli, ["compare", "--device", "@family:tiki", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "no preset family 'tiki'" in result.output and "Tiki-Taka" in result.output
    assert not (tmp_path / "o").exists()


def test_spec_files_hold_selectors(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        textwrap.dedent(
            """
            recipe = "digits-mlp"
            seeds = 1
            devices = ["@preset-devices", "Idealized", "*TTv2Idealized*"]
            optimizers = ["sgd"]
            """
        )
    )
    devices = [r.device for r in expand(load_spec(path))]
    assert len(devices) == len(set(devices)) == 10 + 2  # Idealized once; TTv2 and c-TTv2
    assert {"TTv2IdealizedPreset", "ChoppedTTv2IdealizedPreset"} <= set(devices)
