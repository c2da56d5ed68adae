"""ResponseDevice validation: each failed check is named, with the w where it failed."""

from __future__ import annotations

import numpy as np
import pytest

from aimc_plugins.devices.response import ResponseDevice, ResponseError, validate


def soft_bounds(**overrides) -> ResponseDevice:
    fields = dict(
        name="sb",
        q_up=lambda w: 1.0 - w / 0.5,
        q_down=lambda w: 1.0 + w / 0.5,
        w_min=-0.5,
        w_max=0.5,
        n_states=500,
    )
    fields.update(overrides)
    return ResponseDevice(**fields)


def test_soft_bounds_pass_although_q_reaches_zero_at_the_far_bound():
    device = soft_bounds().validated()
    assert device.step == pytest.approx(1.0 / 500)


def test_constant_written_as_scalar_is_broadcast():
    device = soft_bounds(q_up=lambda w: 1.0, q_down=lambda w: 2.0)
    up, down = device.evaluate(np.array([-0.1, 0.0, 0.3]))
    assert up.tolist() == [1.0, 1.0, 1.0] and down.tolist() == [2.0, 2.0, 2.0]


def test_zero_at_the_near_bound_is_rejected_with_its_w():
    # q_up vanishing at w_min: an up pulse there would not move the weight
    device = soft_bounds(q_up=lambda w: (w + 0.5) * 2.0)
    with pytest.raises(ResponseError, match=r"'q_up positive' failed: q_up\(-0\.5\) = 0"):
        validate(device)


def test_negative_inside_the_range_is_rejected_with_its_w():
    device = soft_bounds(q_down=lambda w: 1.0 - 4.0 * w)  # negative for w > 0.25
    with pytest.raises(ResponseError, match=r"'q_down positive' failed: q_down\(0\.25\d*\)"):
        validate(device)


def test_non_finite_response_is_rejected():
    device = soft_bounds(q_up=lambda w: 1.0 / w)  # inf at w = 0
    with pytest.raises(ResponseError, match=r"'q_up finite' failed: q_up\(0\) = inf"):
        validate(device)


def test_range_must_contain_zero():
    with pytest.raises(ResponseError, match="'range contains 0' failed"):
        validate(soft_bounds(w_min=0.1, w_max=0.5))


def test_range_must_be_ordered():
    with pytest.raises(ResponseError, match="'range ordered' failed"):
        validate(soft_bounds(w_min=0.5, w_max=-0.5))


@pytest.mark.parametrize("dw_min", [0.0, -1e-3])
def test_dw_min_must_be_positive(dw_min):
    with pytest.raises(ResponseError, match="'dw_min positive' failed"):
        validate(soft_bounds(n_states=None, dw_min=dw_min))


def test_dw_min_must_be_small_against_the_range():
    with pytest.raises(ResponseError, match=r"'dw_min small' failed: dw_min=0\.5 gives 2 states"):
        validate(soft_bounds(n_states=None, dw_min=0.5))


def test_step_given_twice_or_never():
    with pytest.raises(ResponseError, match="not both"):
        validate(soft_bounds(dw_min=1e-3))
    with pytest.raises(ResponseError, match="give dw_min or n_states"):
        validate(soft_bounds(n_states=None))


def test_response_must_be_vectorised():
    device = soft_bounds(q_up=lambda w: np.ones(3))
    with pytest.raises(ResponseError, match="'q_up vectorised' failed"):
        validate(device)


def test_a_raising_response_is_reported_as_such():
    def broken(w):
        raise RuntimeError("boom")

    with pytest.raises(ResponseError, match="'q_down callable' failed: RuntimeError: boom"):
        validate(soft_bounds(q_down=broken))


def test_negative_noise_is_rejected():
    with pytest.raises(ResponseError, match="'c2c_noise non-negative' failed"):
        validate(soft_bounds(c2c_noise=-0.1))
