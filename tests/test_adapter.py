"""The adapter picks the exact native aihwkit device where one exists, a minimal PiecewiseStep
table otherwise, and says how faithful the translation is."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from aimc_plugins.devices.adapter import (
    MAX_NODES,
    PiecewiseCapWarning,
    adapt,
    tabulate,
)
from aimc_plugins.devices.response import ResponseDevice

TAU = 0.7
STEP = 2 * TAU / 1200


def device(q_up, q_down, **kw) -> ResponseDevice:
    return ResponseDevice("t", q_up, q_down, -TAU, TAU, n_states=1200, **kw)


def exponential(g: float) -> ResponseDevice:
    return device(
        lambda w: np.expm1(g * (1 - w / TAU)) / np.expm1(g),
        lambda w: np.expm1(g * (1 + w / TAU)) / np.expm1(g),
    )


def test_constant_becomes_constant_step_with_up_down():
    adapted = adapt(device(lambda w: 1.0, lambda w: 0.8, c2c_noise=0.1))
    d = adapted.device
    assert adapted.kind == "ConstantStep"
    assert d.dw_min == pytest.approx(STEP) and d.up_down == pytest.approx(0.2)
    assert d.dw_min_std == 0.1 and d.dw_min_dtod == 0.0 and d.up_down_dtod == 0.0
    assert d.w_min_dtod == 0.0 and d.w_max_dtod == 0.0
    assert adapted.error < 1e-9


def test_constant_with_write_noise_needs_linear_step():
    adapted = adapt(device(lambda w: 1.0, lambda w: 1.0, write_noise=0.5))
    assert adapted.kind == "LinearStep"
    assert adapted.device.gamma_up == pytest.approx(0.0, abs=1e-9)
    assert adapted.device.write_noise_std == pytest.approx(0.5)


@pytest.mark.parametrize("c", [0.0, 0.2, -0.3])
def test_asymmetric_linear_becomes_soft_bounds(c):
    adapted = adapt(
        device(
            lambda w: (1 + c) * (1 - w / TAU),
            lambda w: (1 - c) * (1 + w / TAU),
            bounds_dtod=0.05,
            dw_min_dtod=0.1,
            up_down_dtod=0.02,
        )
    )
    d = adapted.device
    assert adapted.kind == "SoftBounds"
    assert (d.w_min, d.w_max) == (-TAU, TAU)
    # aihwkit shortens only the weaker direction, so the stronger one carries dw_min
    assert d.dw_min == pytest.approx(STEP * (1 + abs(c)))
    expected = 1 - (1 - c) / (1 + c) if c >= 0 else (1 + c) / (1 - c) - 1
    assert d.up_down == pytest.approx(expected)
    assert (d.w_min_dtod, d.w_max_dtod, d.dw_min_dtod, d.up_down_dtod) == (0.05, 0.05, 0.1, 0.02)


def test_linear_without_soft_bounds_becomes_linear_step():
    adapted = adapt(device(lambda w: 1 - 0.5 * w / TAU, lambda w: 1 + 0.25 * w / TAU))
    d = adapted.device
    assert adapted.kind == "LinearStep"
    assert d.gamma_up == pytest.approx(0.5) and d.gamma_down == pytest.approx(0.25)
    assert d.gamma_up_dtod == 0.0 and d.gamma_down_dtod == 0.0 and d.mean_bound_reference


@pytest.mark.parametrize("g", [0.5, 2.0, 3.0])
def test_power_becomes_pow_step_with_the_constant_in_dw_min(g):
    adapted = adapt(
        device(lambda w: (1 - w / TAU) ** g, lambda w: (1 + w / TAU) ** g, write_noise=1.0)
    )
    d = adapted.device
    assert adapted.kind == "PowStep"
    # PowStep's q+ = ((w_max - w) / (w_max - w_min))^g = 2^-g (1 - w/tau)^g
    assert d.pow_gamma == pytest.approx(g) and d.pow_up_down == pytest.approx(0.0, abs=1e-9)
    assert d.dw_min == pytest.approx(STEP * 2**g)
    assert d.pow_gamma_dtod == 0.0 and d.pow_up_down_dtod == 0.0
    # write noise is counted in aihwkit's dw_min, so it is rescaled to keep its absolute size
    assert d.write_noise_std * d.dw_min == pytest.approx(1.0 * STEP)


def test_power_with_different_exponents_uses_pow_up_down():
    adapted = adapt(device(lambda w: (1 - w / TAU) ** 2, lambda w: (1 + w / TAU) ** 1.5))
    d = adapted.device
    assert adapted.kind == "PowStep"
    assert d.pow_gamma == pytest.approx(2.0)
    assert d.pow_gamma * (1 - d.pow_up_down) == pytest.approx(1.5)


def test_near_miss_of_a_native_family_is_tabulated():
    adapted = adapt(device(lambda w: 1 - w / TAU + 1e-3 * np.sin(9 * w), lambda w: 1 + w / TAU))
    assert adapted.kind == "PiecewiseStep"


@pytest.mark.parametrize("g", [0.5, 1.0, 2.0])
def test_piecewise_uses_the_fewest_nodes_within_tolerance(g):
    response = exponential(g)
    adapted = adapt(response)
    assert adapted.kind == "PiecewiseStep"
    assert adapted.error <= 0.01
    assert adapted.nodes is not None and 2 < adapted.nodes <= MAX_NODES
    d = adapted.device
    assert len(d.piecewise_up) == len(d.piecewise_down) == adapted.nodes
    assert d.w_min_dtod == 0.0 and d.w_max_dtod == 0.0 and d.up_down == 0.0
    assert d.dw_min == pytest.approx(STEP)
    # one node fewer misses the tolerance: the table is minimal
    with pytest.warns(PiecewiseCapWarning):
        fewer = tabulate(response, tolerance=0.01, max_nodes=adapted.nodes - 1)
    assert fewer.error > 0.01
    # and the reported error is the real one: measured on an aihwkit tile of the adapted config
    # (one pulse per element, noise off) against the exponential formula written out here
    measured = _measured_error(d, g)
    # to 1e-3 (about a tenth of the error): float32 weights and a coarser grid than the adapter's
    assert measured == pytest.approx(adapted.error, abs=1e-3)


def _measured_error(config, g: float) -> float:
    """Max relative error of single-pulse steps measured on a tile of ``config`` against
    ``q+- = expm1(g (1 -+ w / tau)) / expm1(g)``, floored at 5% of the peak as the adapter is."""
    from aimc_plugins.devices.characterize import measure_steps, quiet

    w = np.linspace(-TAU + 2 * STEP, TAU - 2 * STEP, 401).astype(np.float32).astype(float)
    up, down = measure_steps(quiet(config), w, lr=4 * STEP)
    worst = 0.0
    for steps, sign in ((up[0], -1.0), (down[0], 1.0)):
        q = np.expm1(g * (1 + sign * w / TAU)) / np.expm1(g)
        floor = 0.05 * np.expm1(2 * g) / np.expm1(g)  # 5% of q's peak, at the far bound
        worst = max(worst, float(np.max(np.abs(steps / STEP - q) / np.maximum(q, floor))))
    return worst


def test_tighter_tolerance_needs_more_nodes():
    loose = tabulate(exponential(2.0), tolerance=0.01)
    tight = tabulate(exponential(2.0), tolerance=0.002)
    assert tight.nodes > loose.nodes and tight.error <= 0.002


def test_cap_warns_and_reports_the_achieved_error():
    sqrt_response = device(lambda w: (1 - w / TAU) ** 0.5, lambda w: (1 + w / TAU) ** 0.5)
    with pytest.warns(PiecewiseCapWarning, match="63 nodes reach a table error of"):
        adapted = adapt(sqrt_response, native=False)
    assert adapted.kind == "PiecewiseStep" and adapted.nodes == MAX_NODES
    assert adapted.error > 0.01
    assert "tolerance not met" in adapted.note


def test_within_tolerance_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", PiecewiseCapWarning)
        adapt(exponential(1.0))
