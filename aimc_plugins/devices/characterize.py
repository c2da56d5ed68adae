"""Measure a device's pulse response on a real aihwkit tile and compare it with the declared q+-.

The tile is built from the *adapted* config, so this measures the whole chain (adapter + compiled
core), not a re-implementation. One column per weight on a grid across the range; one update of
the whole tile with ``desired_bl = 1`` and no update / bit-length management gives every element
exactly one pulse (a single bit slot cannot hold two), up with ``d = -1`` and down with ``d = +1``
(aihwkit applies ``W -= lr d x^T``). With noise off, every stochastic and device-to-device term is
zeroed in a copy of the config; with noise on, many rows repeat the grid and their mean is compared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from aimc_plugins.devices.adapter import Q_FLOOR
from aimc_plugins.devices.response import ResponseDevice

NOISE_FIELDS = (
    "dw_min_std",
    "dw_min_dtod",
    "w_min_dtod",
    "w_max_dtod",
    "up_down_dtod",
    "write_noise_std",
    "gamma_up_dtod",
    "gamma_down_dtod",
    "pow_gamma_dtod",
    "pow_up_down_dtod",
    "slope_up_dtod",
    "slope_down_dtod",
    "reference_std",
    "diffusion",
    "lifetime",
    "corrupt_devices_prob",
)
NOISY_ROWS = 256


@dataclass(frozen=True)
class Characterization:
    """Measured and declared steps (in units of the declared ``dw_min``) on a weight grid."""

    name: str
    kind: str
    w: np.ndarray
    declared_up: np.ndarray
    declared_down: np.ndarray
    measured_up: np.ndarray
    measured_down: np.ndarray
    spread_up: np.ndarray | None
    spread_down: np.ndarray | None
    max_error: float
    rms_error: float
    resolution: float
    noise: bool

    def summary(self) -> dict[str, object]:
        return {
            "device": self.name,
            "aihwkit_device": self.kind,
            "points": len(self.w),
            "noise": self.noise,
            "max_error": self.max_error,
            "rms_error": self.rms_error,
            "float32_resolution": self.resolution,
        }


def zero_fields(config: Any, names: Iterable[str]) -> Any:
    """A copy of an aihwkit device config with each field in ``names`` that it has set to 0.

    The one place the noise and device-to-device terms of a config are switched off, so that a
    measurement (:func:`quiet`, :mod:`aimc_plugins.kit.fit.generate`, the residual-learning plugin's
    zero shift) sees the mean device; names a family lacks are skipped, not errors, because
    aihwkit's device classes each carry a different subset.
    """
    fields = {f.name for f in dataclasses.fields(config)}
    return dataclasses.replace(config, **{k: 0.0 for k in names if k in fields})


def quiet(config: Any) -> Any:
    """A copy of an aihwkit device config with every noise and variation term at zero."""
    return zero_fields(config, NOISE_FIELDS)


def single_pulse_tile(config: Any, rows: int = 1, columns: int = 1, seed: int = 1) -> Any:
    """An aihwkit ``AnalogTile`` of ``config`` on which one update is at most one pulse per element.

    One bit slot (``desired_bl = 1``) and no update or bit-length management: with a learning
    rate above the device's ``dw_min`` the pulse probability clips at 1, so every update with
    ``|d x| = 1`` fires exactly one pulse (``d = -1`` up, ``d = +1`` down, as aihwkit applies
    ``W -= lr d x^T``). Characterisation, the fit traces and the measured symmetric point all
    read the compiled device through this tile, so they measure the same thing.
    ``seed`` is the config's ``construction_seed`` (the device-to-device draws).
    """
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.tiles import AnalogTile

    rpu = SingleRPUConfig(device=dataclasses.replace(config, construction_seed=seed))
    rpu.update.desired_bl = 1
    rpu.update.update_bl_management = False
    rpu.update.update_management = False
    return AnalogTile(rows, columns, rpu)


def measure_steps(
    config: Any, w: np.ndarray, lr: float, rows: int = 1, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Raw single-pulse steps (weight units) of ``config`` at each ``w``: arrays of shape
    ``(rows, len(w))`` for up and for down pulses. ``lr`` must be at least the config's
    ``dw_min`` so that the pulse probability clips at 1."""
    import torch

    tile = single_pulse_tile(config, rows, len(w), seed)
    start = torch.tensor(np.tile(w, (rows, 1)), dtype=torch.float32)
    x = torch.ones(1, len(w))
    steps = []
    for sign in (-1.0, 1.0):  # d = -1 pulses up, d = +1 down
        torch.manual_seed(seed)
        tile.set_weights(start)
        before = tile.get_weights()[0].double()
        tile.set_learning_rate(lr)
        tile.update(x, torch.full((1, rows), sign))
        steps.append((tile.get_weights()[0].double() - before).numpy())
    up, down = steps
    return up, -down


def characterize(
    response: ResponseDevice,
    config: Any,
    points: int = 101,
    noise: bool = False,
    kind: str = "",
    seed: int = 1,
) -> Characterization:
    """Compare ``config``'s measured single-pulse steps with ``response``'s declared q+-.

    Errors are ``|measured - q| / max(q, 5% of max q)``, both directions pooled (the floor keeps
    the relative error meaningful where soft bounds drive q to 0). ``resolution`` is the part of
    that error float32 weights alone can cause: aihwkit's CPU build simulates in float32 only.
    """
    cfg = config if noise else quiet(config)
    rows = NOISY_ROWS if noise else 1
    step = response.step
    peak = float(max(np.max(response.evaluate(response.grid())[0]), 1.0))
    margin = 2.0 * step * peak  # keep one pulse off the hard bounds, which would clip it
    # set_weights clips to the config's bounds even where a reference device could hold more
    lo, hi = response.w_min, response.w_max
    if getattr(config, "w_min", None) is not None and getattr(config, "w_max", None) is not None:
        lo, hi = max(lo, float(config.w_min)), min(hi, float(config.w_max))
    # the tile stores float32: evaluate q at the weights it really holds
    w = np.linspace(lo + margin, hi - margin, points)
    w = w.astype(np.float32).astype(float)
    declared_up, declared_down = response.evaluate(w)
    native_step = getattr(config, "dw_min", None) or 0.0
    lr = 4.0 * max(step, float(native_step))  # pulse probability clips at 1: one pulse exactly
    raw_up, raw_down = measure_steps(cfg, w, lr, rows, seed)
    up, down = raw_up / step, raw_down / step
    errors, resolution = [], 0.0
    largest = max(abs(response.w_min), abs(response.w_max), abs(lo), abs(hi))
    ulp = float(np.spacing(np.float32(largest)))
    for measured, declared in ((up.mean(0), declared_up), (down.mean(0), declared_down)):
        denominator = np.maximum(declared, Q_FLOOR * float(np.max(np.abs(declared))))
        errors.append(np.abs(measured - declared) / denominator)
        # float32 rounds the stored weight and, on reference devices, the internal w + r: allow
        # two units in the last place of the largest weight the device holds
        resolution = max(resolution, float(np.max(2.0 * ulp / (step * denominator))))
    pooled = np.concatenate(errors)
    return Characterization(
        name=response.name,
        kind=kind or type(config).__name__.removesuffix("Device"),
        w=w,
        declared_up=declared_up,
        declared_down=declared_down,
        measured_up=up.mean(0),
        measured_down=down.mean(0),
        spread_up=up.std(0) if noise else None,
        spread_down=down.std(0) if noise else None,
        max_error=float(pooled.max()),
        rms_error=float(np.sqrt(np.mean(pooled**2))),
        resolution=resolution,
        noise=noise,
    )
