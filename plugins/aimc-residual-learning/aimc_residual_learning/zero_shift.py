"""Zero-shifted residual devices: move a device's symmetric point to weight 0.

Residual learning converges exactly only when the residual array's response is symmetric at 0,
``G(0) = 0`` (Wu et al., arXiv 2502.06309). Physically this is a reference conductance at the
symmetric point ``w*`` subtracted from each read; mathematically it is the shifted response
``q±(w + w*)`` on the range shifted by ``-w*``. What aihwkit 1.1.0 can express, by family:

- ``SoftBoundsReferenceDevice``, ``PowStepReferenceDevice``: ``subtract_symmetry_point=True``,
  aihwkit's own per-element reference (exact, device-to-device variation included).
- ``PowStepDevice`` and ``PiecewiseStepDevice``: the step depends on ``w`` only through its
  position between the bounds, so shifting both bounds by ``-w*`` is exactly the shifted
  response (for ``PiecewiseStepDevice`` keep ``w_min_dtod = w_max_dtod = 0``, or the table
  stretches with each element's bounds).
- ``SoftBoundsDevice``: the step at ``w`` is ``a± (1 - w / b±)``; the shifted response is again
  soft bounds with bounds ``b± - w*`` and slopes rescaled to ``a± (1 - w*/b±)``, which come
  out equal (that is what ``G(0) = 0`` means), so ``up_down = 0``.
- ``ConstantStepDevice`` / ``IdealDevice`` with ``up_down = 0`` are symmetric everywhere and
  need no shift; with ``up_down != 0`` they have no symmetric point at all.
- ``LinearStepDevice``, ``ExpStepDevice``, ``SoftBoundsPmaxDevice`` and others: the response is
  not a function of the distance to the bounds alone, so no parameter change shifts it exactly;
  :func:`zero_shifted` refuses them (:class:`ZeroShiftError`).

For the shifted families the *mean* device is shifted: device-to-device variation of bounds or
slopes still scatters each element's own symmetric point around 0.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from aimc_plugins import step_scales


class ZeroShiftError(ValueError):
    """The device's family cannot be zero-shifted by changing aihwkit parameters."""


def _soft_bounds_point(device: Any) -> float:
    up_scale, down_scale = step_scales(device.up_down)
    up, down = device.dw_min * up_scale, device.dw_min * down_scale
    return (up - down) / (up / device.w_max - down / device.w_min)


def _response_point(device: Any) -> float:
    """The root of ``G`` of the device's mean response, as
    :mod:`aimc_plugins.devices.config_response`
    derives it (the derivation the tests check against single pulses on aihwkit tiles), found by
    the framework's root finder so that the plugin and ``aimc show`` cannot disagree on w*."""
    import numpy as np

    from aimc_plugins import find_symmetric_point, response_of

    response = response_of(device)

    def asymmetry(w: float) -> float:
        at = np.array([w])
        return float(response.q_down(at)[0] - response.q_up(at)[0])

    return find_symmetric_point(asymmetry, device.w_min, device.w_max)


def symmetric_point(device: Any) -> float:
    """The weight where the mean device's up and down steps are equal (``G(w*) = 0``).

    Raises :class:`ZeroShiftError` for families without a formula here (see the module doc).
    """
    from aihwkit.simulator.configs import (
        ConstantStepDevice,
        IdealDevice,
        PiecewiseStepDevice,
        PowStepDevice,
        SoftBoundsDevice,
        SoftBoundsPmaxDevice,
    )

    if isinstance(device, SoftBoundsPmaxDevice):
        raise ZeroShiftError("SoftBoundsPmaxDevice: no exact zero shift in aihwkit parameters")
    if isinstance(device, SoftBoundsDevice):
        return _soft_bounds_point(device)
    if isinstance(device, (PowStepDevice, PiecewiseStepDevice)):
        return _response_point(device)
    if isinstance(device, (ConstantStepDevice, IdealDevice)) and not getattr(device, "up_down", 0):
        return 0.0
    raise ZeroShiftError(
        f"{type(device).__name__}: no exact zero shift in aihwkit parameters (supported: "
        "SoftBounds, PowStep, PiecewiseStep, their Reference variants, symmetric ConstantStep)"
    )


def zero_shifted(device: Any) -> tuple[Any, str]:
    """A copy of ``device`` whose symmetric point is at 0, and a note of how it was shifted.

    Raises :class:`ZeroShiftError` where aihwkit cannot express the shift (see the module doc).
    """
    from aihwkit.simulator.configs import (
        PiecewiseStepDevice,
        PowStepDevice,
        PowStepReferenceDevice,
        SoftBoundsDevice,
        SoftBoundsReferenceDevice,
    )

    if isinstance(device, (SoftBoundsReferenceDevice, PowStepReferenceDevice)):
        return dataclasses.replace(device, subtract_symmetry_point=True), "reference at w*"
    w_star = symmetric_point(device)
    if abs(w_star) <= 1e-9 * (device.w_max - device.w_min):  # a root found to rounding: 0
        return copy.deepcopy(device), "already symmetric at 0"
    note = f"shifted by {-w_star:+.4g}"
    if isinstance(device, (PowStepDevice, PiecewiseStepDevice)):
        shifted = dataclasses.replace(
            device, w_max=device.w_max - w_star, w_min=device.w_min - w_star
        )
        return shifted, note
    if isinstance(device, SoftBoundsDevice):
        # Both slopes at the new 0 equal a+ (1 - w*/b+) = a- (1 - w*/b-): that is G(0) = 0.
        slope = device.dw_min * step_scales(device.up_down)[0] * (1 - w_star / device.w_max)
        shifted = dataclasses.replace(
            device,
            w_max=device.w_max - w_star,
            w_min=device.w_min - w_star,
            dw_min=slope,
            up_down=0.0,
        )
        return shifted, note
    raise ZeroShiftError(f"{type(device).__name__}: no exact zero shift")  # pragma: no cover


def measured_symmetric_point(device: Any, pulses: int = 4000) -> float:
    """The symmetric point aihwkit's compiled device actually settles at: alternate single up and
    down pulses on a 1x1 tile (noise and variation off) from 0 and average the last half.

    Used by tests to check :func:`zero_shifted` against the simulator rather than against the
    formulas it was written from. The walk from 0 needs about ``|w*| / dw_min`` pulse pairs to
    get there; give ``pulses`` accordingly.
    """
    import torch

    from aimc_plugins import quiet, single_pulse_tile

    # write noise too is off: it is what a read sees, and it would scatter the average
    # (ReRamArrayHfO2: 0.58 dw_min per write).
    quiet_device = quiet(device)
    tile = single_pulse_tile(quiet_device)
    tile.set_weights(torch.zeros(1, 1))
    # With one pulse slot (desired_bl=1) and a learning rate well above the step, every update is
    # exactly one pulse; at lr = dw_min a device whose granularity is not dw_min would pulse
    # only with some probability, and the walk would be noisy.
    tile.set_learning_rate(10 * quiet_device.dw_min)
    x = torch.ones(1, 1)
    trace = []
    for i in range(pulses):
        sign = 1.0 if i % 2 == 0 else -1.0
        tile.update(x, torch.full((1, 1), -sign))  # update subtracts lr * d x^T: -d is up
        trace.append(float(tile.get_weights()[0].flatten()[0]))
    return sum(trace[pulses // 2 :]) / (pulses - pulses // 2)
