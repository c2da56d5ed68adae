"""Write noise's cost, measured on a recipe's trained network, in the theory's ranking."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aimc_plugins.cli.main import cli
from aimc_plugins.host import plugins
from aimc_plugins.training.noise_cost import write_noise_loss


@pytest.fixture(scope="module")
def trained():
    build = plugins.registry.recipe("digits-mlp").trained
    assert build is not None  # the digits recipe provides its trained network
    return build()


def test_the_digits_recipe_provides_its_network_trained_to_a_low_loss(trained) -> None:
    import torch

    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(trained.model(trained.inputs), trained.targets)
    assert float(loss) < 0.2 and trained.batch_size == 10
    assert plugins.registry.recipe("digits-mlp").trained() is trained  # trained once


def test_write_noise_costs_more_the_larger_it_is_and_nothing_without(trained) -> None:
    losses = [write_noise_loss(trained, sigma) for sigma in (0.0, 0.02, 0.1, 0.3)]
    assert losses[0] == 0.0 and 0.0 < losses[1] < losses[2] < losses[3]
    write_noise_loss.cache_clear()
    assert write_noise_loss(trained, 0.1) == losses[2]  # seeded: the same figure, recomputed
    assert trained.model.training is False  # left in the mode it was given in
    assert write_noise_loss(trained, float("nan")) == 0.0


def test_predict_ranks_by_the_excess_loss_write_noise_included() -> None:
    """ReRamSB has a smaller S_K than power(g=1.5, tau=0.7), but writes with a noise of 0.11
    in weight units: by the predicted excess loss it ranks after it (as measured: 0.78 against
    0.80 on theory-mixed); a device without write noise keeps its S_K order."""
    devices = ["ReRamSB", "power(g=1.5, tau=0.7)", "power(g=0.5, tau=0.7)"]
    result = CliRunner().invoke(cli, ["predict", *devices, "--recipe", "digits-mlp", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    order = [p["device"] for p in data["predictions"]]
    assert order == ["power(g=0.5, tau=0.7)", "power(g=1.5, tau=0.7)", "ReRamSB"]
    by_name = {p["device"]: p for p in data["predictions"]}
    sb, power = by_name["ReRamSB"], by_name["power(g=1.5, tau=0.7)"]
    assert sb["s_k"] < power["s_k"] and sb["write_noise_loss"] > 0.01
    assert power["write_noise_loss"] == 0.0
    assert power["excess_loss"] == pytest.approx(power["s_k"] / 20)
    assert "write noise" in data["ranking"]


def test_without_a_trained_network_the_order_is_by_s_k() -> None:
    result = CliRunner().invoke(
        cli, ["predict", "ReRamSB", "power(g=1.5, tau=0.7)", "--recipe", "mnist-fcn", "--json"]
    )
    assert result.exit_code == 0, result.output
    predictions = json.loads(result.output)["predictions"]
    assert [p["device"] for p in predictions] == ["ReRamSB", "power(g=1.5, tau=0.7)"]
    assert all(p["excess_loss"] is None for p in predictions)
