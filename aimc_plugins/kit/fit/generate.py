"""Pulse traces from aihwkit devices: the "measurement" ``aimc fit`` is tested on.

Each element of a real aihwkit tile is one device (with its own device-to-device draws, if the
config has any); every element starts at a random weight across the range and then receives
alternating ramps of up and down pulses, one pulse per update, read after each. The tile is the
one :mod:`aimc_plugins.devices.characterize` builds for single pulses (bit length 1, no update
management), so the traces are what aihwkit's compiled core does, not a re-implementation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aimc_plugins.devices.characterize import NOISE_FIELDS, single_pulse_tile, zero_fields
from aimc_plugins.devices.config_response import response_of
from aimc_plugins.kit.fit.traces import Traces

C2C_FIELDS = ("dw_min_std",)
WRITE_NOISE_FIELDS = ("write_noise_std",)
# everything in NOISE_FIELDS that is neither cycle-to-cycle nor write noise: per-device draws,
# plus drift-like terms (diffusion, lifetime, corruption) that are not part of a pulse response
DTOD_FIELDS = tuple(f for f in NOISE_FIELDS if f not in C2C_FIELDS + WRITE_NOISE_FIELDS)


def measurement_config(
    config: Any, c2c: bool = True, dtod: bool = True, write_noise: bool = False
) -> Any:
    """A copy of ``config`` with the chosen non-idealities zeroed (drift terms always are)."""
    off = [] if c2c else list(C2C_FIELDS)
    off += [] if write_noise else list(WRITE_NOISE_FIELDS)
    off += [f for f in DTOD_FIELDS if not dtod or f in ("diffusion", "lifetime")]
    off.append("corrupt_devices_prob")
    return zero_fields(config, off)


def pulse_traces(
    config: Any,
    devices: int = 1024,
    ramps: int = 8,
    pulses_per_ramp: int = 100,
    seed: int = 0,
) -> Traces:
    """Traces of ``devices`` elements of a tile of ``config`` (used as given: zero what should
    not be measured with :func:`measurement_config`). Ramps alternate up and down (half the
    devices start with up, half with down); every
    element starts uniformly at random inside the device's range."""
    import torch

    response = response_of(config)
    lo, hi = max(response.w_min, float(config.w_min)), min(response.w_max, float(config.w_max))
    columns = int(np.ceil(np.sqrt(devices)))
    rows = int(np.ceil(devices / columns))
    tile = single_pulse_tile(config, rows, columns, seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    tile.set_weights(torch.tensor(rng.uniform(lo, hi, (rows, columns)), dtype=torch.float32))
    tile.set_learning_rate(4.0 * float(config.dw_min))  # pulse probability clips at 1: one pulse
    x = torch.ones(1, columns)
    # half the rows start with an up ramp, half with a down ramp, so that both directions are
    # measured everywhere, also where one direction's steps are too small to get back
    first = np.where(np.arange(rows) % 2 == 0, 1, -1)
    reads = [tile.get_weights()[0].numpy().ravel().copy()]
    signs = [np.zeros(rows, dtype=np.int8)]
    for ramp in range(ramps):
        row_sign = first if ramp % 2 == 0 else -first
        d = torch.tensor(-row_sign[None, :], dtype=torch.float32)  # aihwkit: W -= lr d x^T
        for _ in range(pulses_per_ramp):
            tile.update(x, d)
            reads.append(tile.get_weights()[0].numpy().ravel().copy())
            signs.append(row_sign.astype(np.int8))
    values = np.stack(reads)[:, :devices]  # (reads, devices), row-major: device = r * cols + c
    direction = np.repeat(np.stack(signs), columns, axis=1)[:, :devices]
    n_reads = values.shape[0]
    return Traces(
        device=np.repeat(np.arange(devices), n_reads),
        pulse=np.tile(np.arange(n_reads), devices),
        direction=direction.T.ravel(),
        value=values.T.ravel().astype(float),
        devices=tuple(f"d{i}" for i in range(devices)),
    )
