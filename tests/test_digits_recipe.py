"""The digits recipe learns, on analog tiles and in floating point."""

from __future__ import annotations

from aimc_plugins.host import plugins
from aimc_plugins.host.records import RunConfig
from aimc_plugins.training.setup import build_setup


def run(device: str, optimizer: str, epochs: int, seed: int = 0):
    recipe = plugins.recipes()["digits-mlp"]
    setup = build_setup([device], optimizer, {"lr": 0.1})
    return recipe.run(RunConfig(setup=setup, seed=seed, epochs=epochs))


def test_analog_sgd_learns_digits_well_above_chance():
    result = run("Idealized", "sgd", epochs=2)
    assert len(result.history) == 2
    assert result.final["test_accuracy"] > 0.7  # chance is 0.1
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_digital_baseline_learns_and_is_seed_reproducible():
    first = run("Idealized", "digital", epochs=1, seed=3)
    again = run("Idealized", "digital", epochs=1, seed=3)
    assert first.final["test_accuracy"] > 0.7
    assert first.final == again.final


def test_analog_setup_really_uses_aihwkit_tiles():
    from aihwkit.nn import AnalogLinear

    from aimc_plugins.builtin.recipes.digits import build_mlp
    from aimc_plugins.training.loop import to_analog

    model = to_analog(build_mlp(), build_setup(["ReRamSB"], "sgd"))
    layers = [m for m in model.modules() if isinstance(m, AnalogLinear)]
    assert len(layers) == 2
