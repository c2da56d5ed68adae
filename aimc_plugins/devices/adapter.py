"""From a :class:`~aimc_plugins.devices.response.ResponseDevice` to an aihwkit pulsed-device config.

Training must run in aihwkit's compiled core, so a Python response is never called per pulse.
A response that is exactly one of aihwkit's native families becomes that device (constant ->
ConstantStep, linear -> SoftBounds or LinearStep, power -> PowStep with its constant folded into
``dw_min``); anything else becomes a PiecewiseStepDevice table with as few nodes as the tolerance
allows, at most 63 (the GPU kernel's limit). A native candidate is accepted only when its derived
response (:mod:`aimc_plugins.devices.config_response`) reproduces the declared one, so a fitting
mistake
can only cost speed (a table instead), never correctness.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from aimc_plugins.devices.config_response import response_of
from aimc_plugins.devices.cost import DeviceCost
from aimc_plugins.devices.response import ResponseDevice

MAX_NODES = 63  # aihwkit's CUDA kernel for PiecewiseStep takes fewer than 64 nodes
TOLERANCE = 0.01  # default table error: 1% of q
Q_FLOOR = 0.05  # errors are relative to max(q(w), Q_FLOOR * max q): see table_error
EXACT = 1e-6  # a native match must reproduce q+- to this relative accuracy
FIT_POINTS = 401
CHECK_POINTS = 4001


class PiecewiseCapWarning(UserWarning):
    """The node cap stopped the table short of the requested tolerance."""


@dataclass(frozen=True)
class Adapted:
    """The aihwkit device a response became, and how faithful the translation is.

    ``error`` is the largest relative difference between the declared q+- and the adapted
    device's (see :func:`table_error`); ``nodes`` is the table size for PiecewiseStep.
    ``tolerance`` is the response's ``table_tolerance`` (infinite for a config given as it is)
    and ``table_note`` the report's line when the error exceeds it (allowed by
    ``allow_table_error``): carried here so a run's record needs no second call of the factory.
    """

    device: Any
    kind: str
    error: float
    nodes: int | None = None
    note: str = ""
    tolerance: float = float("inf")
    table_note: str = ""
    # What a pulse costs the device (energy, endurance), where the device declares it
    cost: DeviceCost | None = None


def table_error(device: ResponseDevice, other: ResponseDevice, points: int = CHECK_POINTS) -> float:
    """Max over the range and both directions of ``|q_other - q| / max(q, Q_FLOOR max q)``, with
    ``q_other`` rescaled to this device's ``dw_min``.

    Relative to q itself, floored at 5% of the peak: near a soft bound q falls to 0, and a
    relative error there would demand infinitely many nodes for a step too small to matter.
    """
    w = device.grid(points)
    ratio = other.step / device.step  # compare steps, not q: a native dw_min may carry a constant
    worst = 0.0
    for mine, theirs in zip(device.evaluate(w), other.evaluate(w), strict=True):
        floor = Q_FLOOR * float(np.max(np.abs(mine)))
        error = np.abs(theirs * ratio - mine) / np.maximum(mine, floor)
        worst = max(worst, float(np.max(error)))
    return worst


def _noise_fields(device: ResponseDevice, native_dw_min: float) -> dict[str, float]:
    """Non-idealities in aihwkit's fields; write noise is rescaled because aihwkit counts it in
    units of the native ``dw_min``, which differs from ours when a constant was folded in."""
    return {
        "dw_min_std": device.c2c_noise,
        "dw_min_dtod": device.dw_min_dtod,
        "w_min_dtod": device.bounds_dtod,
        "w_max_dtod": device.bounds_dtod,
        "up_down_dtod": device.up_down_dtod,
        "write_noise_std": device.write_noise * device.step / native_dw_min,
    }


def _up_down(a_up: float, a_down: float) -> tuple[float, float]:
    """``(dw_min factor, up_down)`` that give up/down scales ``a_up``, ``a_down`` (aihwkit
    shortens only the weaker direction: up_down > 0 shrinks down steps, < 0 shrinks up steps)."""
    top = max(a_up, a_down)
    if a_up >= a_down:
        return top, 1.0 - a_down / top
    return top, a_up / top - 1.0


def _fit_line(w: np.ndarray, q: np.ndarray) -> tuple[float, float] | None:
    slope, intercept = np.polyfit(w, q, 1)
    if np.max(np.abs(slope * w + intercept - q)) > EXACT * np.max(np.abs(q)):
        return None
    return float(slope), float(intercept)


def _native_candidates(device: ResponseDevice) -> list[Any]:
    """aihwkit configs that could be exact for this response (each is verified afterwards)."""
    from aihwkit.simulator.configs import (
        ConstantStepDevice,
        LinearStepDevice,
        PowStepDevice,
        SoftBoundsDevice,
    )

    lo, hi, step = device.w_min, device.w_max, device.step
    w = device.grid(FIT_POINTS)
    q_up, q_down = device.evaluate(w)
    found: list[Any] = []
    up, down = _fit_line(w, q_up), _fit_line(w, q_down)
    if up is not None and down is not None:
        (b_up, a_up), (b_down, a_down) = up, down  # q = a + b w: a is q(0)
        if a_up > 0 and a_down > 0:
            factor, up_down = _up_down(a_up, a_down)
            common = {"w_min": lo, "w_max": hi, "dw_min": step * factor, "up_down": up_down}
            common.update(_noise_fields(device, step * factor))
            if abs(b_up) <= EXACT * a_up and abs(b_down) <= EXACT * a_down:
                if device.write_noise == 0.0:  # ConstantStep has no write noise
                    common.pop("write_noise_std")
                    found.append(ConstantStepDevice(**common))
                else:
                    found.append(LinearStepDevice(gamma_up_dtod=0.0, gamma_down_dtod=0.0, **common))
            scale = max(a_up, a_down)
            if abs(q_up[-1]) <= EXACT * scale and abs(q_down[0]) <= EXACT * scale and lo < 0:
                found.append(SoftBoundsDevice(**common))
            if hi > 0 and lo < 0:
                g_up, g_down = -b_up * hi / a_up, -b_down * lo / a_down
                found.append(
                    LinearStepDevice(
                        gamma_up=g_up,
                        gamma_down=g_down,
                        gamma_up_dtod=0.0,
                        gamma_down_dtod=0.0,
                        allow_increasing=g_up < 0 or g_down < 0,
                        mean_bound_reference=True,
                        mult_noise=True,
                        **common,
                    )
                )
    found += _power_candidate(device, w, q_up, q_down, PowStepDevice)
    return found


def _power_candidate(device: ResponseDevice, w, q_up, q_down, pow_step: type) -> list[Any]:
    """PowStep, when both responses vanish at their far bounds as a power of the distance."""
    scale = float(max(q_up.max(), q_down.max()))
    if abs(q_up[-1]) > EXACT * scale or abs(q_down[0]) > EXACT * scale:
        return []
    span = device.span
    inner = slice(1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fits = []
        for q, dist in ((q_up, (device.w_max - w) / span), (q_down, (w - device.w_min) / span)):
            x, y = np.log(dist[inner]), np.log(q[inner])
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                return []
            gamma, log_amp = np.polyfit(x, y, 1)
            fits.append((float(gamma), float(np.exp(log_amp))))
    (g_up, a_up), (g_down, a_down) = fits
    if g_up <= 0 or g_down <= 0:
        return []
    factor, up_down = _up_down(a_up, a_down)
    gamma, pow_up_down = _up_down(g_up, g_down)
    native_step = device.step * factor
    return [
        pow_step(
            w_min=device.w_min,
            w_max=device.w_max,
            dw_min=native_step,
            up_down=up_down,
            pow_gamma=gamma,
            pow_up_down=pow_up_down,
            pow_gamma_dtod=0.0,
            pow_up_down_dtod=0.0,
            **_noise_fields(device, native_step),
        )
    ]


def match_native(device: ResponseDevice) -> Adapted | None:
    """The first native aihwkit device whose derived response equals this one, if any."""
    for candidate in _native_candidates(device):
        error = table_error(device, response_of(candidate))
        if error <= EXACT * 10:
            kind = type(candidate).__name__.removesuffix("Device")
            return Adapted(candidate, kind, error, note=f"native {kind}")
    return None


def tabulate(
    device: ResponseDevice, tolerance: float = TOLERANCE, max_nodes: int = MAX_NODES
) -> Adapted:
    """A PiecewiseStepDevice with the fewest equally spaced nodes (2 .. ``max_nodes``) whose
    interpolation error is within ``tolerance``; at the cap, the cap's table with a warning."""
    from aihwkit.simulator.configs import PiecewiseStepDevice

    def build(n: int) -> Any:
        nodes = np.linspace(device.w_min, device.w_max, n)
        up, down = device.evaluate(nodes)
        return PiecewiseStepDevice(
            w_min=device.w_min,
            w_max=device.w_max,
            dw_min=device.step,
            up_down=0.0,
            piecewise_up=[float(v) for v in up],
            piecewise_down=[float(v) for v in down],
            **_noise_fields(device, device.step),
        )

    best: tuple[float, int, Any] | None = None
    for n in range(2, max_nodes + 1):
        candidate = build(n)
        error = table_error(device, response_of(candidate))
        if best is None or error < best[0]:
            best = (error, n, candidate)
        if error <= tolerance:
            return Adapted(candidate, "PiecewiseStep", error, n, f"{n} nodes")
    assert best is not None
    error, n, candidate = best
    warnings.warn(
        f"device {device.name!r}: {max_nodes} nodes reach a table error of {error:.3g}, "
        f"above the tolerance {tolerance:g}",
        PiecewiseCapWarning,
        stacklevel=2,
    )
    return Adapted(candidate, "PiecewiseStep", error, n, f"{n} nodes (cap; tolerance not met)")


def adapt(
    device: ResponseDevice,
    tolerance: float = TOLERANCE,
    max_nodes: int = MAX_NODES,
    native: bool = True,
) -> Adapted:
    """The aihwkit device for ``device``: native when exact (unless ``native=False``), else a
    PiecewiseStep table."""
    if native:
        match = match_native(device)
        if match is not None:
            return match
    return tabulate(device, tolerance, max_nodes)
