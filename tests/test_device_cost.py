"""A response device's declared cost (energy per pulse, endurance): checked with the response,
kept when the device is shifted, and carried to the adapted device a run trains on."""

from __future__ import annotations

import math
import re
from functools import partial

import numpy as np
import pytest
from test_response import soft_bounds  # the soft-bounds device those tests check

from aimc_plugins import Device, Param
from aimc_plugins.devices.build import adapted_device
from aimc_plugins.devices.cost import DeviceCost
from aimc_plugins.devices.response import ResponseDevice, ResponseError, validate

COST = {"energy_up": 1e-12, "energy_down": 2e-12, "endurance": 1e6}


def test_declared_cost_validates_and_is_returned():
    device = soft_bounds(**COST).validated()
    assert device.cost == DeviceCost(1e-12, 2e-12, 1e6)
    assert device.cost.energy(up=10, down=5) == pytest.approx(10 * 1e-12 + 5 * 2e-12)
    assert device.cost.endurance_used(5e5) == pytest.approx(0.5)


def test_nothing_declared_is_no_cost():
    device = soft_bounds().validated()
    assert device.cost is None


def test_endurance_alone_or_energies_alone_are_a_cost():
    assert soft_bounds(endurance=1e4).validated().cost == DeviceCost(endurance=1e4)
    energies = soft_bounds(energy_up=0.0, energy_down=3e-15).validated().cost
    assert energies == DeviceCost(0.0, 3e-15) and energies.endurance is None


@pytest.mark.parametrize("given", [{"energy_up": 1e-12}, {"energy_down": 1e-12}])
def test_one_energy_alone_is_refused_naming_the_check(given):
    device = soft_bounds(**given)
    with pytest.raises(ResponseError, match=r"device 'sb': check 'energy' failed: give energy_up"):
        validate(device)
    with pytest.raises(ResponseError, match="check 'energy' failed"):
        device.cost  # noqa: B018 - the property checks too


@pytest.mark.parametrize(
    ("given", "check", "figure"),
    [
        ({"energy_up": -1e-12, "energy_down": 1e-12}, "energy", "energy_up=-1e-12"),
        ({"energy_up": 1e-12, "energy_down": math.nan}, "energy", "energy_down=nan"),
        ({"energy_up": math.inf, "energy_down": 1e-12}, "energy", "energy_up=inf"),
        ({"endurance": 0.0}, "endurance", "endurance=0.0"),
        ({"endurance": -5.0}, "endurance", "endurance=-5.0"),
        ({"endurance": math.nan}, "endurance", "endurance=nan"),
        ({"endurance": "1e6"}, "endurance", "endurance='1e6' is not a number"),
    ],
)
def test_unusable_figures_are_refused_naming_the_check(given, check, figure):
    pattern = f"device 'sb': check '{check}' failed: {figure}"
    with pytest.raises(ResponseError, match=re.escape(pattern)):
        validate(soft_bounds(**given))


def test_shifted_device_keeps_the_cost():
    device = soft_bounds(**COST)
    shifted = device.shifted(0.1).validated()
    assert shifted.cost == device.cost
    assert shifted.w_min == pytest.approx(-0.6)  # it did shift


def test_existing_positional_construction_is_unchanged():
    # the cost fields come last: a plugin passing every earlier field by position still works
    device = ResponseDevice(
        "p", np.ones_like, np.ones_like, -1.0, 1.0, 0.01, None, 0.1, 0.0, 0.0, 0.0, 0.0, "cite"
    )
    assert device.citation == "cite" and device.cost is None


# --- the adapted device a run trains on -----------------------------------------------------


def exp_up(g, w):
    return np.expm1(g * (1 - w / 0.6)) / np.expm1(g)


def exp_down(g, w):
    return np.expm1(g * (1 + w / 0.6)) / np.expm1(g)


def make_exp(g: float = 2.0, endurance: float = 1e6) -> ResponseDevice:
    return ResponseDevice(
        "exp",
        partial(exp_up, g),
        partial(exp_down, g),
        -0.6,
        0.6,
        n_states=1000,
        energy_up=1e-12,
        energy_down=2e-12,
        endurance=endurance,
    )


def make_linear(**cost: float) -> ResponseDevice:
    return soft_bounds(**cost)


EXP = Device(
    name="test-exp-cost",
    factory=make_exp,
    parameters=(Param("g", 2.0, low=0.0, low_inclusive=False), Param("endurance", 1e6)),
)


def test_adapted_table_device_carries_the_cost():
    adapted = adapted_device(EXP)
    assert adapted.kind == "PiecewiseStep"
    assert adapted.cost == DeviceCost(1e-12, 2e-12, 1e6)


def test_the_cost_follows_the_parameters_through_the_cache():
    first, again = adapted_device(EXP, {"endurance": 1e5}), adapted_device(EXP, {"endurance": 1e5})
    assert first.cost == again.cost == DeviceCost(1e-12, 2e-12, 1e5)
    assert adapted_device(EXP, {"endurance": 2e5}).cost == DeviceCost(1e-12, 2e-12, 2e5)


def test_adapted_native_match_carries_the_cost():
    record = Device(name="test-sb-cost", factory=partial(make_linear, **COST))
    adapted = adapted_device(record)
    assert adapted.kind != "PiecewiseStep" and adapted.error < 1e-6  # a native aihwkit class
    assert adapted.cost == DeviceCost(**COST)


def test_adapted_response_without_a_cost_carries_none():
    record = Device(name="test-sb-free", factory=make_linear)
    assert adapted_device(record).cost is None


def test_an_unusable_cost_never_reaches_aihwkit():
    record = Device(name="test-sb-bad", factory=partial(make_linear, energy_up=1e-12))
    with pytest.raises(ResponseError, match="check 'energy' failed"):
        adapted_device(record)


def test_aihwkit_config_carries_no_cost():
    from aihwkit.simulator.configs import SoftBoundsDevice

    record = Device(name="test-native", factory=lambda: SoftBoundsDevice(w_min=-0.5, w_max=0.5))
    adapted = adapted_device(record)
    assert adapted.note == "as given" and adapted.cost is None


def test_a_declared_cost_is_described_in_words() -> None:
    cost = DeviceCost(energy_up=1e-12, energy_down=2e-12, endurance=1e6)
    assert cost.describe() == "energy up 1e-12 J, down 2e-12 J per pulse; endurance 1e+06 pulses"
    assert DeviceCost(endurance=5.0).describe() == "endurance 5 pulses"
    assert DeviceCost().describe() == "nothing declared"


def test_aimc_show_prints_a_declared_cost(monkeypatch, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from aimc_plugins.cli import device_commands
    from aimc_plugins.cli.main import cli

    record = Device(name="test-sb-cost", factory=partial(make_linear, **COST))
    monkeypatch.setattr(device_commands, "resolve_device", lambda text: (record, {}))
    shown = CliRunner().invoke(cli, ["show", "test-sb-cost", "--out", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "cost            energy up 1e-12 J, down 2e-12 J per pulse" in shown.output
    data = CliRunner().invoke(cli, ["show", "test-sb-cost", "--json", "--out", str(tmp_path)])
    assert json.loads(data.output)["cost"] == COST
