"""Diagnostics of known responses against their closed forms (docs/theory.md)."""

from __future__ import annotations

import numpy as np
import pytest

from aimc_plugins.devices.diagnostics import describe, diagnose
from aimc_plugins.devices.response import ResponseDevice

TAU = 0.7


def device(q_up, q_down, w_min=-TAU, w_max=TAU, n_states=1200) -> ResponseDevice:
    return ResponseDevice("t", q_up, q_down, w_min, w_max, n_states=n_states)


@pytest.mark.parametrize("c", [0.0, 0.1, 0.3, -0.2])
def test_asymmetric_linear_symmetric_point_is_c_tau(c):
    diag = diagnose(device(lambda w: (1 + c) * (1 - w / TAU), lambda w: (1 - c) * (1 + w / TAU)))
    x = diag.w / TAU
    np.testing.assert_allclose(diag.F, 1 - c * x, atol=1e-12)
    np.testing.assert_allclose(diag.G, x - c, atol=1e-12)
    assert diag.symmetric_points == pytest.approx((c * TAU,), abs=1e-9)
    assert diag.stable_points == diag.symmetric_points
    assert diag.symmetric_point == pytest.approx(c * TAU, abs=1e-9)


def test_linear_penalty_is_l2_over_two_tau():
    # R = G / F = w / tau for the symmetric linear response, so R_c = w^2 / (2 tau)
    diag = diagnose(device(lambda w: 1 - w / TAU, lambda w: 1 + w / TAU))
    np.testing.assert_allclose(diag.R_c, diag.w**2 / (2 * TAU), atol=1e-6)
    assert diag.asymmetry == pytest.approx(1.0)  # |G| / sqrt(F) = 1 at the bounds
    assert diag.n_states == pytest.approx(1200)
    assert diag.dw_min == pytest.approx(2 * TAU / 1200)


@pytest.mark.parametrize("g", [0.5, 2.0])
def test_power_response(g):
    diag = diagnose(device(lambda w: (1 - w / TAU) ** g, lambda w: (1 + w / TAU) ** g))
    x = diag.w / TAU
    np.testing.assert_allclose(diag.F, ((1 + x) ** g + (1 - x) ** g) / 2, atol=1e-12)
    np.testing.assert_allclose(diag.G, ((1 + x) ** g - (1 - x) ** g) / 2, atol=1e-12)
    assert diag.symmetric_points == pytest.approx((0.0,), abs=1e-9)
    figure = np.abs(diag.G) / np.sqrt(diag.F)
    assert diag.asymmetry == pytest.approx(np.nanmax(figure))


def test_no_symmetric_point_is_reported_as_none():
    diag = diagnose(device(lambda w: np.ones_like(w), lambda w: 2 * np.ones_like(w)))
    assert diag.symmetric_points == () and diag.symmetric_point is None
    assert diag.R_c is None
    assert any("none in the range" in line for line in describe(diag))


def test_several_symmetric_points_are_reported_with_their_stability():
    # G = -0.2 sin(3 pi w / tau): roots at every multiple of tau/3, alternating stability
    diag = diagnose(
        device(
            lambda w: 1 + 0.2 * np.sin(3 * np.pi * w / TAU),
            lambda w: 1 - 0.2 * np.sin(3 * np.pi * w / TAU),
        )
    )
    inner = [r for r in diag.symmetric_points if abs(r) < TAU * 0.99]
    thirds = [k * TAU / 3 for k in (-2, -1, 0, 1, 2)]
    assert inner == pytest.approx(thirds, abs=1e-3)
    # G rises through zero (stable) at +-tau/3, falls through it (unstable) at 0, +-2 tau/3
    assert [r for r in diag.stable_points if abs(r) < TAU * 0.99] == pytest.approx(
        [-TAU / 3, TAU / 3], abs=1e-3
    )
    assert diag.symmetric_point is None
    assert any("several roots" in line for line in describe(diag))


def test_symmetric_device_is_symmetric_everywhere():
    diag = diagnose(device(lambda w: np.ones_like(w), lambda w: np.ones_like(w)))
    assert diag.symmetric_everywhere
    np.testing.assert_allclose(diag.R_c, 0.0)
    assert diag.asymmetry == 0.0


def test_zero_shifted_linear_device_is_symmetric_at_zero_and_still_native():
    from aimc_plugins.devices.adapter import adapt
    from aimc_plugins.devices.diagnostics import zero_shifted

    c = 0.2
    base = device(lambda w: (1 + c) * (1 - w / TAU), lambda w: (1 - c) * (1 + w / TAU))
    shifted = zero_shifted(base).validated()
    assert (shifted.w_min, shifted.w_max) == pytest.approx((-TAU - c * TAU, TAU - c * TAU))
    assert diagnose(shifted).symmetric_point == pytest.approx(0.0, abs=1e-6)
    up, down = shifted.evaluate(np.array([0.0]))
    assert up[0] == pytest.approx(down[0])  # G(0) = 0
    adapted = adapt(shifted)
    assert adapted.kind == "SoftBounds" and adapted.device.w_max == pytest.approx(TAU * (1 - c))


def test_zero_shift_needs_a_symmetric_point():
    from aimc_plugins.devices.diagnostics import zero_shifted

    with pytest.raises(ValueError, match="no single symmetric point"):
        zero_shifted(device(lambda w: np.ones_like(w), lambda w: 2 * np.ones_like(w)))


def test_find_symmetric_point_is_the_root_of_a_monotone_asymmetric_part():
    """Bisection on G = w / tau - c (the asymmetric linear family) lands on c tau, also where G
    is only piecewise linear (a table) and where it falls rather than rises."""
    from aimc_plugins.devices.diagnostics import find_symmetric_point

    c = 0.3
    assert find_symmetric_point(lambda w: w / TAU - c, -TAU, TAU) == pytest.approx(c * TAU)
    table = ([-TAU, -0.2, 0.5, TAU], [-1.0, -0.1, 0.6, 0.9])  # root at -0.2 + 0.1 * 0.7 / 0.7
    g = lambda w: float(np.interp(w, *table))  # noqa: E731
    assert find_symmetric_point(g, -TAU, TAU) == pytest.approx(-0.1, abs=1e-12)
    assert find_symmetric_point(lambda w: c - w / TAU, -TAU, TAU) == pytest.approx(c * TAU)
