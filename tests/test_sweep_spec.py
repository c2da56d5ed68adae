"""Sweep specs: parsing, expansion, the errors a user can make, and run-id stability."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from aimc_plugins.sweep.spec import (
    SpecError,
    check,
    expand,
    load_spec,
    parse_call,
    plan,
    spec_from_dict,
)
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.setup import DIGITAL_DEVICE

SPECS = Path(__file__).resolve().parents[1] / "recipes" / "specs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(textwrap.dedent(text))
    return path


BASE = """
recipe = "digits-mlp"
seeds = 2
epochs = 1
devices = ["Idealized", "IdealizedPreset", { name = "ReRamSB", label = "rram" }]
optimizers = ["digital", { name = "sgd", grid = { lr = [0.05, 0.1] } }]
"""


def test_spec_expands_devices_optimizers_grids_and_seeds(tmp_path):
    runs = expand(load_spec(write(tmp_path, BASE)))
    pairs = {(r.device, r.shown_optimizer) for r in runs}
    assert pairs == {
        (DIGITAL_DEVICE, "digital"),  # once, not once per device
        ("IdealizedPreset", "preset"),  # a preset config runs under its own algorithm
        ("Idealized", "sgd(lr=0.05)"),
        ("Idealized", "sgd(lr=0.1)"),
        ("rram", "sgd(lr=0.05)"),
        ("rram", "sgd(lr=0.1)"),
    }
    assert len(runs) == 2 * len(pairs)
    assert {r.seed for r in runs} == {0, 1}
    assert all(r.epochs == 1 for r in runs)
    assert len({r.run_id for r in runs}) == len(runs)


def test_spec_name_defaults_to_file_and_scale_overrides(tmp_path):
    path = write(tmp_path, BASE + "\n[scale.full]\nepochs = 7\noptions = { n = 3 }\n")
    assert load_spec(path).name == "spec"
    full = load_spec(path, scale="full")
    assert full.epochs == 7 and full.options == {"n": 3}
    with pytest.raises(SpecError, match=r"no scale 'huge'.*full"):
        load_spec(path, scale="huge")


def test_a_spec_without_seeds_runs_three(tmp_path):
    path = write(tmp_path, 'recipe = "digits-mlp"\ndevices = ["Idealized"]\noptimizers = ["sgd"]\n')
    assert [r.seed for r in check(load_spec(path))] == [0, 1, 2]


def test_device_with_parameters_from_string_and_grid(tmp_path):
    pytest.importorskip("aimc_paper_devices")
    path = write(
        tmp_path,
        """
        recipe = "digits-mlp"
        devices = ["power(tau=0.7, g=1)", { name = "exponential", grid = { g = [1, 2] } }]
        optimizers = ["sgd"]
        seeds = 1
        """,
    )
    runs = check(load_spec(path))
    assert [r.device for r in runs] == [
        "power(g=1, tau=0.7)",
        "exponential(g=1)",
        "exponential(g=2)",
    ]
    assert runs[0].device_name == "power" and runs[0].device_params["tau"] == 0.7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'recipe = "digits-mlp"\ndevices = ["Idealized"]\noptimizers = ["sgd"]\nseed = 2',
            "unknown key 'seed'; did you mean 'seeds'",
        ),
        ('devices = ["Idealized"]\noptimizers = ["sgd"]', "spec needs 'recipe'"),
        (
            'recipe = "digits-mlp"\ndevices = []\noptimizers = ["sgd"]',
            "devices must be a non-empty",
        ),
        (
            'recipe = "digits-mlp"\ndevices = ["Idealized"]\noptimizers = ["sgd"]\nseeds = 0',
            "seeds must be at least 1",
        ),
        (
            'recipe = "digits-mlp"\ndevices = ["Idealized"]\noptimizers = ["sgd"]\nepochs = 1.5',
            "epochs must be a positive integer",
        ),
        (
            'recipe = "digits-mlp"\ndevices = [{ name = "Idealized", grid = { x = 1 } }]\n'
            'optimizers = ["sgd"]',
            r"grid.x must be a non-empty list",
        ),
        (
            'recipe = "digits-mlp"\ndevices = [{ nme = "Idealized" }]\noptimizers = ["sgd"]',
            "unknown key 'nme'; did you mean 'name'",
        ),
        (
            'recipe = "digits-mlp"\ndevices = ["Idealized"]\noptimizers = ["sgd"]\n'
            'periphery = "papr"',
            "unknown periphery profile 'papr'",
        ),
        ('recipe = "digits-mlp"\ndevices = ["Idealized"\n', "not valid TOML"),
    ],
)
def test_spec_shape_errors_name_the_file_and_the_fix(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match=message) as info:
        load_spec(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"recipe": "digit-mlp"}, "unknown recipe 'digit-mlp'.*digits-mlp"),
        ({"devices": ["ReRamSb"]}, "unknown device 'ReRamSb'.*ReRamSB"),
        ({"optimizers": ["sdg"]}, "unknown optimizer 'sdg'.*sgd"),
        ({"optimizers": [{"name": "sgd", "params": {"lr": -1}}]}, "below its valid range"),
        ({"optimizers": [{"name": "sgd", "params": {"lrr": 1}}]}, "did you mean 'lr'"),
        ({"devices": [{"name": "IdealizedPreset", "params": {"x": 1}}]}, "only lr may be given"),
    ],
)
def test_spec_name_and_value_errors_before_training(data, message):
    spec = {"recipe": "digits-mlp", "devices": ["Idealized"], "optimizers": ["sgd"], **data}
    with pytest.raises(SpecError, match=message):
        check(spec_from_dict(spec))


def test_parse_call_reads_literals_without_eval():
    assert parse_call("power(tau=0.7, g=2, name='x')") == (
        "power",
        {"tau": 0.7, "g": 2, "name": "x"},
    )
    assert parse_call("ReRamSB") == ("ReRamSB", {})
    with pytest.raises(SpecError):
        parse_call("power(tau)")


def test_a_device_written_with_or_without_its_defaults_is_one_run():
    runs = plan("digits-mlp", ["power", "power(g=0.5)", "power(tau=0.7, g=0.5)"], ["sgd"], 1)
    assert len(runs) == 1
    assert runs[0].device_params["g"] == 0.5 and runs[0].device_params["tau"] == 0.7
    assert len(plan("digits-mlp", ["power", "power(g=2)"], ["sgd"], 1)) == 2


def test_run_id_is_stable_and_covers_the_whole_configuration():
    run = PlannedRun("digits-mlp", "Idealized", "sgd", seed=0, epochs=2, params={"lr": 0.1})
    # A fixed value: changing how ids are computed would silently orphan every stored result.
    # It is the SHA-256 of the configuration's canonical JSON:
    # {"device":"Idealized","device_params":{},"epochs":2,"optimizer":"sgd","options":{},
    #  "params":{"lr":0.1},"periphery":"aihwkit","recipe":"digits-mlp","seed":0}
    assert run.run_id == "702b98131daad361"
    assert PlannedRun("digits-mlp", "Idealized", "sgd", 0, 2, {"lr": 0.1}).run_id == run.run_id
    relabelled = PlannedRun(
        "digits-mlp", "Idealized", "sgd", 0, 2, {"lr": 0.1}, optimizer_label="x"
    )
    assert relabelled.run_id == run.run_id  # a label is not configuration
    for changed in (
        PlannedRun("digits-mlp", "Idealized", "sgd", 1, 2, {"lr": 0.1}),
        PlannedRun("digits-mlp", "Idealized", "sgd", 0, 3, {"lr": 0.1}),
        PlannedRun("digits-mlp", "Idealized", "sgd", 0, 2, {"lr": 0.2}),
        PlannedRun("digits-mlp", "Idealized", "sgd", 0, 2, {"lr": 0.1}, options={"n_train": 5}),
        PlannedRun("digits-mlp", "Idealized", "sgd", 0, 2, {"lr": 0.1}, periphery="paper"),
    ):
        assert changed.run_id != run.run_id


def test_flags_and_spec_give_the_same_runs(tmp_path):
    from_flags = plan("digits-mlp", ["Idealized"], ["sgd"], 2, 1, {"lr": "0.1"})
    path = write(
        tmp_path,
        """
        recipe = "digits-mlp"
        seeds = 2
        epochs = 1
        devices = ["Idealized"]
        optimizers = [{ name = "sgd", params = { lr = 0.1 } }]
        """,
    )
    assert [r.run_id for r in expand(load_spec(path))] == [r.run_id for r in from_flags]


def test_shipped_specs_are_valid():
    paths = sorted(SPECS.glob("*.toml"))
    assert paths
    for path in paths:
        try:
            runs = expand(load_spec(path))
        except SpecError as exc:
            if "unknown device" in str(exc) or "unknown optimizer" in str(exc):
                pytest.skip(f"{path.name} needs a plugin that is not installed: {exc}")
            raise
        assert runs


def test_paper_spec_has_the_papers_grid():
    pytest.importorskip("aimc_paper_devices")
    runs = expand(load_spec(SPECS / "paper-mnist.toml"))
    assert len(runs) == (3 * 3 + 1) * 3  # 3 devices x sgd / tiki-taka / rl, and digital; 3 seeds
    assert {r.periphery for r in runs} == {"paper"}
    assert {(r.device_name, r.device_params["g"]) for r in runs if "g" in r.device_params} == {
        ("power", 2.0),
        ("exponential", 1.0),
        ("power", 0.5),
    }
    assert len(expand(load_spec(SPECS / "paper-mnist.toml", scale="full"))) == len(runs)


# --- several learning rates and a preset (issue 28) ----------------------------------------------

FOUR_RATES = {
    "recipe": "digits-mlp",
    "seeds": 1,
    "devices": ["ReRamSB", "TikiTakaReRamSBPreset"],
    "optimizers": [{"name": "sgd", "grid": {"lr": [0.01, 0.05, 0.1, 0.5]}}],
}


def _presets(runs: list[PlannedRun]) -> list[tuple[str, float, str]]:
    return [(r.device, r.params["lr"], r.run_id) for r in runs if r.optimizer == "preset"]


def test_a_preset_beside_several_learning_rates_runs_once_and_the_plan_says_so():
    """sgd at four rates beside a preset: the preset runs once, at the first rate, as it always
    did (its run id is the one a spec with that rate alone gives), and one line says which
    rate it took, which it did not, and how to give it the others."""
    from aimc_plugins.sweep.spec import plan_warnings

    spec = spec_from_dict(FOUR_RATES)
    (preset,) = _presets(expand(spec))
    one_rate = {**FOUR_RATES, "optimizers": [{"name": "sgd", "params": {"lr": 0.01}}]}
    assert [preset] == _presets(expand(spec_from_dict(one_rate)))
    assert preset[:2] == ("TikiTakaReRamSBPreset", 0.01)
    (line,) = plan_warnings(spec)
    assert line.startswith("preset TikiTakaReRamSBPreset runs once, at lr 0.01 ")
    assert "not at 0.05, 0.1, 0.5" in line
    assert '{ name = "TikiTakaReRamSBPreset", grid = { lr = [0.01, 0.05, 0.1, 0.5] } }' in line
    assert plan_warnings(spec_from_dict(one_rate)) == []


def test_the_hinted_grid_runs_a_preset_at_each_rate_one_labelled_row_each():
    spec = spec_from_dict(
        {
            **FOUR_RATES,
            "devices": [
                "ReRamSB",
                {"name": "TikiTakaReRamSBPreset", "grid": {"lr": [0.01, 0.05, 0.1, 0.5]}},
            ],
        }
    )
    from aimc_plugins.sweep.spec import plan_warnings

    presets = _presets(expand(spec))
    assert [(d, lr) for d, lr, _ in presets] == [
        (f"TikiTakaReRamSBPreset(lr={lr!r})", lr) for lr in (0.01, 0.05, 0.1, 0.5)
    ]
    assert presets[0][2] == _presets(expand(spec_from_dict(FOUR_RATES)))[0][2]  # same run
    assert plan_warnings(spec) == []
    own = {**FOUR_RATES, "devices": [{"name": "TikiTakaReRamSBPreset", "params": {"lr": 0.1}}]}
    assert plan_warnings(spec_from_dict(own)) == []
    assert _presets(expand(spec_from_dict(own)))[0][:2] == ("TikiTakaReRamSBPreset", 0.1)


def test_presets_through_a_selector_are_named_in_one_line():
    from aimc_plugins.sweep.spec import plan_warnings

    spec = spec_from_dict({**FOUR_RATES, "devices": ["@family:agad"]})
    (line,) = plan_warnings(spec)
    assert line.split(" (")[0].endswith("presets") and "and " in line.split(")")[0]
    assert 'name = "@family:agad"' in line  # the entry as written takes the grid


def test_the_warning_is_kept_in_the_plan_and_printed_by_a_dry_run(tmp_path):
    import json
    import warnings

    from click.testing import CliRunner

    from aimc_plugins.api.comparison import plan_comparison
    from aimc_plugins.cli.main import cli
    from aimc_plugins.sweep.planning import PlanWarning

    with pytest.warns(PlanWarning, match="runs once, at lr 0.01"):
        planned = plan_comparison(FOUR_RATES)
    (line,) = planned.warnings
    path = write(
        tmp_path,
        """
        recipe = "digits-mlp"
        seeds = 1
        devices = ["ReRamSB", "TikiTakaReRamSBPreset"]
        optimizers = [{ name = "sgd", grid = { lr = [0.01, 0.05, 0.1, 0.5] } }]
        """,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlanWarning)  # the command prints it, Python does not
        result = CliRunner().invoke(cli, ["compare", str(path), "--dry-run"])
        assert result.exit_code == 0, result.output
        assert f"warning: {line}" in result.output.splitlines()
        listed = CliRunner().invoke(cli, ["compare", str(path), "--dry-run", "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert data["warnings"] == [line]
