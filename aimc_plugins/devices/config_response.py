"""The mean response q+(w), q-(w) of an aihwkit pulsed-device config, derived from its parameters.

Each formula restates what aihwkit's compiled ``update_once`` does for that device class, for the
mean device (device-to-device draws at zero, no cycle-to-cycle noise), in units of the config's
``dw_min``. ``PulsedDevice.up_down`` shortens one direction only: ``up_down > 0`` scales the down
step by ``1 - up_down``, ``up_down < 0`` the up step by ``1 + up_down``. The tests check every
formula against single pulses on a real tile (:mod:`aimc_plugins.devices.characterize`), so this
module
is also how the adapter verifies that a native match is exact.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from aimc_plugins.devices.response import ResponseDevice


class UnsupportedDevice(TypeError):
    """No response derivation exists for this aihwkit device class."""


def step_scales(up_down: float) -> tuple[float, float]:
    """Up and down step relative to ``dw_min`` for aihwkit's ``up_down``, as the compiled core
    applies it (only the smaller direction shrinks; see the module doc)."""
    up_down = float(up_down)
    return 1.0 + min(up_down, 0.0), 1.0 - max(up_down, 0.0)


def _scales(device: Any) -> tuple[float, float]:
    return step_scales(device.up_down)


def _constant(value: float, w: np.ndarray) -> np.ndarray:
    return np.full_like(np.asarray(w, dtype=float), value)


def _linear(scale: float, gamma: float, w_ref: float, shift: float, w: np.ndarray) -> np.ndarray:
    """``scale * (1 - gamma * (w + shift) / w_ref)``: LinearStep's and soft bounds' step."""
    return scale * (1.0 - gamma * (np.asarray(w, dtype=float) + shift) / w_ref)


def _power(scale: float, gamma: float, anchor: float, sign: float, span: float, shift: float, w):
    """``scale * (sign * (anchor - w - shift) / span) ** gamma``: PowStep's step."""
    base = np.clip(sign * (anchor - np.asarray(w, dtype=float) - shift) / span, 0.0, None)
    return scale * base**gamma


def _exp(scale: float, amp: float, gamma: float, a: float, b: float, span: float, sign: float, w):
    """``scale * max(1 - A exp(sign * gamma * z), 0)``, ``z = 2 a w / span + b``: ExpStep's step."""
    z = 2.0 * np.asarray(w, dtype=float) / span * a + b
    return scale * np.maximum(1.0 - amp * np.exp(sign * gamma * z), 0.0)


def _table(scale: float, nodes: tuple[float, ...], lo: float, hi: float, w) -> np.ndarray:
    grid = np.linspace(lo, hi, len(nodes))
    return scale * np.interp(np.asarray(w, dtype=float), grid, np.asarray(nodes, dtype=float))


def _linear_step(device: Any, gamma_up: float, gamma_down: float, shift: float = 0.0):
    s_up, s_down = _scales(device)
    off = float(device.reverse_offset)
    ref_up = device.w_min - off if device.reverse_up else device.w_max
    ref_down = device.w_max + off if device.reverse_down else device.w_min
    return partial(_linear, s_up, gamma_up, ref_up, shift), partial(
        _linear, s_down, gamma_down, ref_down, shift
    )


def _soft_bounds_pmax(device: Any) -> Any:
    """SoftBoundsPmax is SoftBounds under another parametrisation (as its ``as_bindings`` does)."""
    from aihwkit.simulator.configs.devices import SoftBoundsDevice

    params = {
        k: v
        for k, v in vars(device).items()
        if k in SoftBoundsDevice.__dataclass_fields__ and v is not None
    }
    b_factor = (device.range_max - device.range_min) / (1 - np.exp(-device.p_max * device.alpha))
    params.update(
        w_min=device.range_min,
        w_max=device.range_min + b_factor,
        dw_min=b_factor * device.alpha,
        up_down=1 + 2 * device.range_min / b_factor,
    )
    return SoftBoundsDevice(**params)


def response_of(device: Any, name: str = "") -> ResponseDevice:
    """The mean response of an aihwkit pulsed-device config as an (unvalidated) ResponseDevice.

    Unvalidated, because aihwkit's own presets need not satisfy this project's admissibility
    checks (PCM's range starts at 0, for one); diagnostics still apply to them.
    """
    from aihwkit.simulator.configs import devices as d

    name = name or type(device).__name__
    if isinstance(device, d.SoftBoundsPmaxDevice):
        device = _soft_bounds_pmax(device)
    lo, hi = float(device.w_min), float(device.w_max)
    span = hi - lo
    s_up, s_down = _scales(device)
    shift = 0.0
    if isinstance(device, d.SoftBoundsReferenceDevice):
        shift = float(device.reference_mean)
        if device.subtract_symmetry_point:
            shift += (s_up - s_down) / (s_up / hi - s_down / lo)
        q_up = partial(_linear, s_up, 1.0, hi, shift)
        q_down = partial(_linear, s_down, 1.0, lo, shift)
    elif isinstance(device, d.SoftBoundsDevice):
        q_up, q_down = _linear_step(device, 1.0, 1.0)
    elif isinstance(device, d.LinearStepDevice):
        g_up, g_down = float(device.gamma_up), float(device.gamma_down)
        if not device.allow_increasing:
            g_up, g_down = abs(g_up), abs(g_down)
        q_up, q_down = _linear_step(device, g_up, g_down)
    elif isinstance(device, (d.PowStepDevice, d.PowStepReferenceDevice)):
        if isinstance(device, d.PowStepReferenceDevice):
            if device.subtract_symmetry_point:
                raise UnsupportedDevice(
                    "PowStepReference with subtract_symmetry_point estimates its reference "
                    "numerically per device; no closed form"
                )
            shift = float(device.reference_mean)
        gamma, bias = float(device.pow_gamma), float(device.pow_up_down)
        g_up, g_down = gamma * (1.0 + min(bias, 0.0)), gamma * (1.0 - max(bias, 0.0))
        q_up = partial(_power, s_up, g_up, hi, 1.0, span, shift)
        q_down = partial(_power, s_down, g_down, lo, -1.0, span, shift)
    elif isinstance(device, d.ExpStepDevice):
        a, b = float(device.a), float(device.b)
        q_up = partial(_exp, s_up, float(device.A_up), float(device.gamma_up), a, b, span, 1.0)
        q_down = partial(
            _exp, s_down, float(device.A_down), float(device.gamma_down), a, b, span, -1.0
        )
    elif isinstance(device, d.PiecewiseStepDevice):
        up, down = tuple(device.piecewise_up), tuple(device.piecewise_down)
        q_up = partial(_table, s_up, up, lo, hi)
        q_down = partial(_table, s_down, down, lo, hi)
    elif type(device) is d.ConstantStepDevice or isinstance(device, d.ConstantStepDevice):
        q_up, q_down = partial(_constant, s_up), partial(_constant, s_down)
    else:
        raise UnsupportedDevice(f"no response derivation for {type(device).__name__}")
    return ResponseDevice(
        name=name,
        q_up=q_up,
        q_down=q_down,
        w_min=lo - shift,
        w_max=hi - shift,
        dw_min=float(device.dw_min),
        c2c_noise=float(device.dw_min_std),
        dw_min_dtod=float(device.dw_min_dtod),
        bounds_dtod=max(float(device.w_min_dtod), float(device.w_max_dtod)),
        up_down_dtod=float(device.up_down_dtod),
        write_noise=float(getattr(device, "write_noise_std", 0.0) or 0.0),
        citation=f"aihwkit {type(device).__name__}",
    )
