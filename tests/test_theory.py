"""The theory's predictions (aimc_plugins.devices.theory) against their closed forms, the
recipe weights they are evaluated on, and ``aimc predict`` end to end (no training)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from aimc_plugins.cli.main import cli
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.devices.theory import predict, ranked, residual_floor
from aimc_plugins.host import plugins
from aimc_plugins.host.records import Recipe
from aimc_plugins.training.initial_weights import (
    NoNetwork,
    in_device_units,
    recipe_weights,
    weight_scaling_omega,
)

TAU = 0.7
RNG = np.random.default_rng(3)
WEIGHTS = RNG.uniform(-0.3, 0.3, size=5000)


def linear(c: float = 0.0, tau: float = TAU) -> ResponseDevice:
    return ResponseDevice(
        f"linear c={c}",
        lambda w: (1 + c) * (1 - w / tau),
        lambda w: (1 - c) * (1 + w / tau),
        -tau,
        tau,
        n_states=1200,
    )


def power(g: float) -> ResponseDevice:
    return ResponseDevice(
        f"power g={g}", lambda w: (1 - w / TAU) ** g, lambda w: (1 + w / TAU) ** g, -TAU, TAU,
        n_states=1200,
    )


def exponential(g: float) -> ResponseDevice:
    def q(sign: float, w: np.ndarray) -> np.ndarray:
        return (np.exp(g * (1 - sign * w / TAU)) - 1) / (np.exp(g) - 1)

    return ResponseDevice(
        f"exp g={g}", lambda w: q(1.0, w), lambda w: q(-1.0, w), -TAU, TAU, n_states=1200
    )


@pytest.mark.parametrize("tau", [0.5, 0.7, 3.5])
def test_symmetric_linear_penalty_is_ridge_over_two_tau(tau):
    # F = 1, G = w / tau: R_c(w) = w^2 / (2 tau), so Sigma <R_c> is Sigma / (2 tau) ||W||^2
    weights = WEIGHTS * tau
    p = predict(linear(tau=tau), weights)
    assert p.penalty_mean == pytest.approx(np.mean(weights**2) / (2 * tau), rel=1e-4)
    assert p.penalty_max == pytest.approx(np.max(weights**2) / (2 * tau), rel=1e-4)
    assert p.penalty_curvature == pytest.approx(1 / tau, rel=1e-3)
    assert p.symmetric_point == 0.0 and p.symmetric_point_offset == 0.0
    assert p.residual_floor is False


@pytest.mark.parametrize("c", [0.0, 0.1, 0.3, -0.2])
def test_linear_s_k_closed_form(c):
    # G / sqrt(F) = (x - c) / sqrt(1 - c x), x = w / tau; the response is scaled to F = 1 at
    # the median weight, F(w) = 1 - c w / tau
    x = WEIGHTS / TAU
    scale = 1 - c * np.median(x)
    p = predict(linear(c), WEIGHTS)
    assert p.step_scale == pytest.approx(scale, rel=1e-9)
    assert p.s_k == pytest.approx(np.max((x - c) ** 2 / (1 - c * x)) / scale, rel=1e-5)
    assert p.s_k_mean == pytest.approx(np.mean((x - c) ** 2 / (1 - c * x)) / scale, rel=1e-4)
    range_max = max((1 - c) ** 2 / (1 - c), (1 + c) ** 2 / (1 + c))
    assert p.s_k_range == pytest.approx(range_max / scale)


@pytest.mark.parametrize("factor", [0.25, 4.0])
def test_s_k_does_not_change_with_a_constant_factor_on_the_response(factor):
    """A constant factor on q+- is a learning rate (tuning absorbs it): S_K must not see it,
    or devices whose steps are declared in different units would be ranked by their units."""
    device = linear(0.2)
    scaled = ResponseDevice(
        "scaled", lambda w: factor * device.q_up(w), lambda w: factor * device.q_down(w),
        -TAU, TAU, n_states=1200,
    )
    plain, other = predict(device, WEIGHTS), predict(scaled, WEIGHTS)
    assert other.step_scale == pytest.approx(factor * plain.step_scale)
    assert other.s_k == pytest.approx(plain.s_k, rel=1e-9)
    assert other.s_k_range == pytest.approx(plain.s_k_range, rel=1e-9)
    assert other.penalty_mean == pytest.approx(plain.penalty_mean, rel=1e-9)


@pytest.mark.parametrize("c", [0.1, 0.3, -0.2])
def test_asymmetric_linear_symmetric_point_is_c_tau(c):
    p = predict(linear(c), WEIGHTS)
    assert p.symmetric_point == pytest.approx(c * TAU, abs=1e-9)
    assert p.symmetric_point_offset == pytest.approx(c, abs=1e-9)
    assert p.residual_floor is True  # off 0 by far more than half a pulse
    assert "off 0" in p.residual_floor_text
    # the penalty vanishes at w* = c tau, not at 0
    at_star = predict(linear(c), [c * TAU])
    assert at_star.penalty_mean == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("make", [power, exponential])
@pytest.mark.parametrize("g", [0.5, 1.0, 2.0])
def test_power_and_exponential_are_symmetric_at_zero(make, g):
    p = predict(make(g), WEIGHTS)
    assert p.symmetric_point == 0.0
    assert p.residual_floor is False


def test_penalty_and_s_k_grow_with_g():
    by_g = [predict(power(g), WEIGHTS) for g in (0.5, 1.0, 2.0)]
    penalties = [p.penalty_mean for p in by_g]
    assert penalties[0] < penalties[1] < penalties[2]
    assert by_g[0].s_k < by_g[1].s_k < by_g[2].s_k
    # near 0, G / sqrt(F) ~ g w / tau: the penalty curvature is g / tau
    assert [p.penalty_curvature for p in by_g] == pytest.approx([g / TAU for g in (0.5, 1, 2)])


def test_ranking_is_by_s_k_lowest_first():
    devices = [exponential(2.0), power(0.5), power(2.0), exponential(1.0), power(1.0)]
    order = [p.device for p in ranked([predict(d, WEIGHTS) for d in devices])]
    # slopes of G / sqrt(F) at 0: 0.5, 1, g e^g / (e^g - 1) = 1.58 for g = 1, 2, 2.31
    assert order == ["power g=0.5", "power g=1.0", "exp g=1.0", "power g=2.0", "exp g=2.0"]


def test_weights_outside_the_range_are_clipped_and_counted():
    p = predict(linear(), [-2.0, 0.0, 0.1, 2.0])
    assert p.clipped_fraction == pytest.approx(0.5)
    assert p.s_k == pytest.approx(1.0)  # clipped onto the bound, where G / sqrt(F) = 1


def test_no_single_symmetric_point_gives_no_penalty():
    one_sided = ResponseDevice(
        "up only", lambda w: np.ones_like(w), lambda w: 2 * np.ones_like(w), -TAU, TAU,
        n_states=1200,
    )
    p = predict(one_sided, WEIGHTS)
    assert p.symmetric_point is None and p.penalty_mean is None
    # G > 0 everywhere: the residual array drifts to the lower bound, a floor for certain
    assert p.residual_floor is True and "drifts to a bound" in p.residual_floor_text
    assert p.s_k == pytest.approx(0.5**2 / 1.5 / 1.5)  # G^2 / F, scaled to F = 1


def test_residual_floor_is_half_a_pulse():
    assert residual_floor(0.4e-3, 1e-3) is False
    assert residual_floor(-0.6e-3, 1e-3) is True
    assert residual_floor(None, 1e-3) is None


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="finite weights"):
        predict(linear(), [])
    with pytest.raises(ValueError, match="finite weights"):
        predict(linear(), [0.0, math.nan])


# -- the weights of a recipe's network ------------------------------------------------------


def test_recipe_weights_are_pytorchs_initialisation():
    weights = recipe_weights(plugins.registry.recipe("mnist-fcn"))
    assert [shape for _, shape in weights.layers] == [(256, 784), (128, 256), (10, 128)]
    assert weights.values.size == 256 * 784 + 128 * 256 + 10 * 128
    # nn.Linear draws U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the widest is the last layer's
    assert np.max(np.abs(weights.values)) <= 1 / math.sqrt(128)
    assert np.max(np.abs(weights.values)) > 0.9 / math.sqrt(128)
    assert weights.omega == 0.0 and "unscaled" in weights.units
    again = recipe_weights(plugins.registry.recipe("mnist-fcn"))
    np.testing.assert_array_equal(weights.values, again.values)  # one fixed draw


def test_weight_scaling_maps_each_layer_onto_omega():
    layers = [np.array([[0.1, -0.2]]), np.array([[0.5, 0.25]])]
    np.testing.assert_allclose(in_device_units(layers, 0.0), [0.1, -0.2, 0.5, 0.25])
    np.testing.assert_allclose(in_device_units(layers, 1.0), [0.5, -1.0, 1.0, 0.5])

    class Mapping:
        weight_scaling_omega = 0.6

    class Config:
        mapping = Mapping()

    assert weight_scaling_omega(Config()) == 0.6
    assert weight_scaling_omega(None) == 0.0


def test_a_recipe_without_a_network_is_refused():
    with pytest.raises(NoNetwork, match="does not declare its network"):
        recipe_weights(Recipe("no-network", run=lambda config: None))  # type: ignore[arg-type]


# -- aimc predict ------------------------------------------------------------------------------


def _predict(*args: str):
    return CliRunner().invoke(cli, ["predict", *args])


def test_predict_json_ranks_the_paper_devices():
    devices = ["power(g=2.0, tau=0.7)", "power(g=0.5, tau=0.7)", "exponential(g=1.0, tau=0.7)"]
    result = _predict(*devices, "--recipe", "digits-mlp", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["recipe"] == "digits-mlp" and data["ranking_scalar"] == "ranking_figure"
    assert "Sigma" in data["ranking"] and "common to every device" in data["ranking"]
    assert "no trained weights" in data["weights_note"]
    (weights,) = data["weights"]
    assert weights["n_weights"] == 64 * 32 + 32 * 10 and weights["weight_scaling_omega"] == 0.0
    predictions = data["predictions"]
    assert [p["rank"] for p in predictions] == [1, 2, 3]
    assert [p["device"] for p in predictions] == [devices[1], devices[2], devices[0]]
    s_k = [p["s_k"] for p in predictions]
    assert s_k == sorted(s_k) and s_k[0] > 0
    for p in predictions:
        assert p["symmetric_point"] == 0.0 and p["residual_floor"] is False
        assert p["w_min"] == pytest.approx(-0.7) and p["n_weights"] == weights["n_weights"]


def test_predict_reads_an_aihwkit_preset_device():
    result = _predict("ReRamES", "Idealized", "--recipe", "digits-mlp", "--json")
    assert result.exit_code == 0, result.output
    by_name = {p["device"]: p for p in json.loads(result.output)["predictions"]}
    assert by_name["Idealized"]["s_k"] == 0.0  # constant step: G = 0 everywhere
    assert by_name["Idealized"]["symmetric_everywhere"] is True
    es = by_name["ReRamES"]
    assert es["symmetric_point"] is not None and es["symmetric_point"] < 0
    assert es["residual_floor"] is True and es["s_k"] > 0
    assert [p["rank"] for p in json.loads(result.output)["predictions"]] == [1, 2]


def test_predict_prints_a_table():
    result = _predict("linear(c=0.2)", "linear(c=0.0)", "--recipe", "digits-mlp")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("rank  device"))
    assert lines[head + 1].split()[1] == "linear(c=0.0)"
    assert "yes: w* = 0.14 is off 0" in lines[head + 2]
    assert "device units = network units" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("no-such-device",), "unknown device 'no-such-device'"),
        (("power(g=",), "cannot parse"),
        (("power(g=0.5)", "--recipe", "no-such-recipe"), "no-such-recipe"),
        (("power(g=0.5)", "--recipe", "cifar10-resnet18"), "does not declare its network"),
    ],
)
def test_predict_bad_input_is_one_clear_line(args, expected):
    result = _predict(*args)
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and expected in error[0], result.output
