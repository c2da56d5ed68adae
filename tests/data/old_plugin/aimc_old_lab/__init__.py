"""A lab's devices and optimizer, spelt as the host documented them before its layered release:
``aimc_plugins.response``, ``aimc_plugins.transfer`` and record methods."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from aimc_plugins import Device, Optimizer, Param, TrainingSetup, hookimpl
from aimc_plugins.response import ResponseDevice
from aimc_plugins.transfer import ALPHA, BETA, TRANSFER_EVERY, transfer_config


def q_up(steep: float, w_max: float, w: np.ndarray) -> np.ndarray:
    """Up steps shrink along a sigmoid towards the top of the window."""
    return 2.0 / (1.0 + np.exp(steep * np.asarray(w, dtype=float) / w_max))


def q_down(steep: float, w_max: float, w: np.ndarray) -> np.ndarray:
    return 2.0 / (1.0 + np.exp(-steep * np.asarray(w, dtype=float) / w_max))


def make_sigmoid(steep: float, w_max: float, n_states: float) -> ResponseDevice:
    return ResponseDevice(
        name="old-sigmoid",
        q_up=partial(q_up, steep, w_max),
        q_down=partial(q_down, steep, w_max),
        w_min=-w_max,
        w_max=w_max,
        n_states=n_states,
    )


SIGMOID = Device(
    name="old-sigmoid",
    factory=make_sigmoid,
    description="steps follow a sigmoid of the weight",
    family="response: sigmoid",
    parameters=(
        Param("steep", 3.0, "how sharply steps shrink at the window's ends", low=0.1),
        Param("w_max", 0.8, "half-width of the window", low=0.1),
        Param("n_states", 600.0, "states across the window", low=10.0),
    ),
)


def tiki_taka_gamma(
    devices: Sequence[Any], alpha: float, beta: float, transfer_every: float, gamma: float
) -> TrainingSetup:
    """Tiki-Taka whose weight keeps a share gamma of the residual array."""
    config = transfer_config(
        "ttv1", devices[0], devices[1], alpha=alpha, transfer_every=transfer_every, gamma=gamma
    )
    return TrainingSetup(config, lr=beta, description=f"Tiki-Taka, gamma={gamma}")


TIKI_TAKA = Optimizer(
    name="old-tiki-taka",
    factory=tiki_taka_gamma,
    description="Tiki-Taka v1 with the residual's share in the weight as a parameter",
    parameters=(ALPHA, BETA, TRANSFER_EVERY, Param("gamma", 0.5, "share of P in W", low=0.0)),
    n_devices=2,
)


@hookimpl
def register_devices(register: Callable[[Device], None]) -> None:
    register(SIGMOID)


@hookimpl
def register_optimizers(register: Callable[[Optimizer], None]) -> None:
    register(TIKI_TAKA)
