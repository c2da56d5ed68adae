"""A Device record whose factory returns a ResponseDevice: built into aihwkit, its response
available for `show` / `characterize`, invalid responses stopped before training."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from aimc_plugins import Device, Param
from aimc_plugins.devices.build import adapted_device, device_config, device_response
from aimc_plugins.devices.response import ResponseDevice, ResponseError


def exp_up(g, w):
    return np.expm1(g * (1 - w / 0.6)) / np.expm1(g)


def exp_down(g, w):
    return np.expm1(g * (1 + w / 0.6)) / np.expm1(g)


def make(g: float = 2.0, tolerance: float = 0.01, w_min: float = -0.6) -> ResponseDevice:
    return ResponseDevice(
        "exp",
        partial(exp_up, g),
        partial(exp_down, g),
        w_min,
        0.6,
        n_states=1000,
        table_tolerance=tolerance,
    )


RECORD = Device(
    name="test-exp",
    factory=make,
    parameters=(
        Param("g", 2.0, low=0.0, low_inclusive=False),
        Param("tolerance", 0.01),
        Param("w_min", -0.6),
    ),
)


def test_build_adapts_to_aihwkit():
    built = device_config(RECORD)
    assert type(built).__name__ == "PiecewiseStepDevice"
    assert built.dw_min == pytest.approx(1.2 / 1000)


def test_table_tolerance_of_the_device_is_used():
    loose, tight = adapted_device(RECORD), adapted_device(RECORD, {"tolerance": 0.001})
    assert tight.nodes > loose.nodes and tight.error <= 0.001


def test_response_is_the_plugins_own():
    response = device_response(RECORD, {"g": 1.0})
    np.testing.assert_allclose(response.evaluate(np.array([0.0]))[0], [1.0])


def test_invalid_response_never_reaches_aihwkit():
    with pytest.raises(ResponseError, match="range contains 0"):
        device_config(RECORD, {"w_min": 0.1})


def test_aihwkit_config_passes_through_and_has_a_derived_response():
    from aihwkit.simulator.configs import SoftBoundsDevice

    record = Device(name="sb", factory=lambda: SoftBoundsDevice(w_min=-0.5, w_max=0.5))
    assert adapted_device(record).note == "as given" and adapted_device(record).error == 0.0
    response = device_response(record)
    up, down = response.evaluate(np.array([0.25]))
    assert up[0] == pytest.approx(0.5) and down[0] == pytest.approx(1.5)
