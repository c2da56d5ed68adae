"""The theory's figures over a device type's device-to-device spread, and its update noise.

:func:`aimc_plugins.devices.theory.predict` evaluates the mean device. aihwkit draws every device
of a tile with its own parameters (``dw_min_dtod``, ``up_down_dtod``, ``w_max_dtod``, ... and a
family's slopes), so each device has its own response. The theory's figures then belong to each
device: its own symmetric point, its own ``S_K``, and whether it has a symmetric point inside its
range at all. A constant-step device with a per-device up/down asymmetry has none: each of its
devices drifts to a bound, which the mean device (symmetric on average) hides.

:func:`device_spread` reads the per-device responses off aihwkit's compiled core. It builds a
tile of ``n_devices`` devices with the type's own device-to-device draws (``construction_seed``),
with cycle-to-cycle and write noise switched off. It then sets every device to each weight of a
grid and fires one pulse up and one down. Nothing is re-implemented: whatever family, the steps
are the ones training uses. The update-noise figures are read from the config as given:

- ``c2c``: the relative cycle-to-cycle spread of a step;
- ``write_noise``: in weight units, ``write_noise_std dw_min``;
- ``states``: the range over ``dw_min``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aimc_plugins.devices.characterize import single_pulse_tile, zero_fields

# Per-pulse noise a spread measurement switches off: it wants each device's mean step.
PULSE_NOISE_FIELDS = ("dw_min_std", "write_noise_std", "diffusion", "lifetime")
SPREAD_DEVICES = 512
SPREAD_POINTS = 61
HIGH_PERCENTILE = 90.0


@dataclass(frozen=True)
class Spread:
    """The theory's figures over ``n_devices`` devices of one type, and its update noise.

    - ``floor_fraction``: the share of devices whose ``G`` keeps one sign over their own range.
      They have no symmetric point to settle at and drift to a bound under Analog SGD.
    - ``symmetric_point_*``: the median and the 10th-90th percentiles of the symmetric points of
      the devices that have one.
    - ``s_k_mean`` / ``s_k_high``: the mean and the 90th percentile over devices of each
      device's ``S_K`` on the weights. The response is scaled as the mean device's prediction
      scales it: by ``F`` at the median weight, here the median over the devices.
    - ``c2c``, ``write_noise``, ``states``: the update-noise figures (module docstring).
    """

    device: str
    n_devices: int
    floor_fraction: float
    symmetric_point_median: float | None
    symmetric_point_p10: float | None
    symmetric_point_p90: float | None
    s_k_mean: float
    s_k_high: float
    c2c: float
    write_noise: float
    states: float


def has_variation(config: Any) -> bool:
    """Whether aihwkit draws the devices of ``config`` with any device-to-device variation (a
    non-zero ``*_dtod`` field, or a reference spread): without it every device is the mean
    device, whose figures :func:`~aimc_plugins.devices.theory.predict` computes exactly."""
    if not dataclasses.is_dataclass(config):
        return False
    for item in dataclasses.fields(config):
        if item.name.endswith("_dtod") or item.name == "reference_std":
            value = getattr(config, item.name, 0.0)
            if isinstance(value, (int, float)) and value != 0.0:
                return True
    return False


def noise_figures(config: Any, w_min: float, w_max: float) -> dict[str, float]:
    """The update's noise as ``config`` declares it: ``c2c`` (relative spread of a step),
    ``write_noise`` (weight units) and ``states`` (the range over ``dw_min``)."""
    step = float(getattr(config, "dw_min", 0.0) or 0.0)
    return {
        "c2c": float(getattr(config, "dw_min_std", 0.0) or 0.0),
        "write_noise": float(getattr(config, "write_noise_std", 0.0) or 0.0) * step,
        "states": (w_max - w_min) / step if step > 0 else math.inf,
    }


def per_device_steps(
    config: Any, w: np.ndarray, n_devices: int = SPREAD_DEVICES, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(usable, up, down)``: each device's single-pulse up and down steps at each ``w``
    (weight units, down positive) and whether the point is usable for that device, arrays
    ``(n_devices, len(w))``. A point is usable where the device holds ``w`` with more than its
    largest step to either of its own bounds (aihwkit's ``max_bound`` / ``min_bound``, drawn
    per device): nearer, a pulse is clipped by the bound, and the clipping would read as an
    asymmetry of the response. The devices are aihwkit's draws of ``config`` (seeded by
    ``seed``), with per-pulse noise off."""
    import torch

    quiet = zero_fields(config, PULSE_NOISE_FIELDS)
    tile = single_pulse_tile(quiet, n_devices, 1, seed)
    step = float(getattr(config, "dw_min", 0.0) or 0.0)
    lr = 4.0 * max(step, 1e-6)  # pulse probability clips at 1: one pulse exactly
    tile.set_learning_rate(lr)
    x = torch.ones(1, 1)
    held, up, down = (np.empty((n_devices, len(w))) for _ in range(3))
    for k, value in enumerate(w):
        for sign, out in ((-1.0, up), (1.0, down)):  # d = -1 pulses up, d = +1 down
            tile.set_weights(torch.full((n_devices, 1), float(value)))
            before = tile.get_weights()[0][:, 0].double().numpy()
            tile.update(x, torch.full((1, n_devices), sign))
            after = tile.get_weights()[0][:, 0].double().numpy()
            out[:, k] = sign * (before - after)
            held[:, k] = before
    hidden = tile.get_hidden_parameters()
    upper = hidden["max_bound"][:, 0].double().numpy()[:, None]
    lower = hidden["min_bound"][:, 0].double().numpy()[:, None]
    margin = 1.01 * np.maximum(up, down).max(axis=1, keepdims=True)
    exact = np.abs(held - np.asarray(w)[None, :]) <= 1e-6 * max(float(np.max(np.abs(w))), 1.0)
    usable = exact & (held < upper - margin) & (held > lower + margin)
    return usable, up, down


def device_spread(
    name: str,
    config: Any,
    weights: np.ndarray,
    w_min: float,
    w_max: float,
    n_devices: int = SPREAD_DEVICES,
    points: int = SPREAD_POINTS,
    seed: int = 1,
) -> Spread:
    """The theory's figures of aihwkit device ``config`` over ``n_devices`` of its devices, on
    ``weights`` (device units), the grid spanning the mean device's range ``[w_min, w_max]``."""
    grid = np.linspace(w_min, w_max, points)
    inside, up, down = per_device_steps(config, grid, n_devices, seed)
    big_f = (up + down) / 2.0
    big_g = (down - up) / 2.0
    scale_f = big_f[inside].max() if inside.any() else 1.0
    median_weight = float(np.median(weights))
    at_median = int(np.argmin(np.abs(grid - median_weight)))
    scale = float(np.median(big_f[:, at_median])) or scale_f
    # float32 weights make a step uncertain by a few units in the last place: a G below that, or
    # below 0.1% of the step, is no asymmetry (a symmetric device measured in float32)
    ulp = float(np.spacing(np.float32(max(abs(w_min), abs(w_max)))))
    tolerance = max(1e-3 * scale, 4.0 * ulp)
    w = np.clip(np.asarray(weights, dtype=float).ravel(), w_min, w_max)
    floors, points_found, s_k = [], [], []
    for d in range(n_devices):
        keep = inside[d] & (big_f[d] > 0.0)
        g, f, x = big_g[d][keep], big_f[d][keep], grid[keep]
        if g.size < 2:  # a device whose range the grid barely meets: no figures, not a floor
            continue
        signs = np.sign(np.where(np.abs(g) <= tolerance, 0.0, g))
        if np.all(signs == 0):  # symmetric everywhere
            floors.append(False)
            points_found.append(0.0)
        elif np.all(signs >= 0) or np.all(signs <= 0):
            floors.append(not np.any(signs == 0))
        else:
            floors.append(False)
            # the stable crossing (G rising through 0: below it q+ > q-, above it q- > q+)
            rising = np.flatnonzero(np.diff(signs) > 0)
            change = int(rising[0] if rising.size else np.flatnonzero(np.diff(signs) != 0)[0])
            x0, x1, g0, g1 = x[change], x[change + 1], g[change], g[change + 1]
            points_found.append(float(x0 - g0 * (x1 - x0) / (g1 - g0)) if g1 != g0 else x0)
        figure = g**2 / f / scale
        s_k.append(float(np.max(np.interp(np.clip(w, x[0], x[-1]), x, figure))))
    s_k_values = np.asarray(s_k, dtype=float)
    s_k_values = s_k_values[np.isfinite(s_k_values)]
    found = np.asarray(points_found)
    return Spread(
        device=name,
        n_devices=n_devices,
        floor_fraction=float(np.mean(floors)) if floors else math.nan,
        symmetric_point_median=float(np.median(found)) if found.size else None,
        symmetric_point_p10=float(np.percentile(found, 10)) if found.size else None,
        symmetric_point_p90=float(np.percentile(found, 90)) if found.size else None,
        s_k_mean=float(s_k_values.mean()) if s_k_values.size else math.nan,
        s_k_high=float(np.percentile(s_k_values, HIGH_PERCENTILE)) if s_k_values.size else math.nan,
        **noise_figures(config, w_min, w_max),
    )
