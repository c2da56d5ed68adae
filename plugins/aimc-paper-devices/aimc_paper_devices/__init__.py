"""aimc-paper-devices: the response families of Wu et al. (NeurIPS 2025) as aimc-plugins devices.

Each family is registered once under its own name (``linear``, ``power``, ``exponential``) with
every parameter open, and again under named instances that fix the paper's settings, so that a
comparison can say ``paper-mnist-power-g0.5`` instead of repeating numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aimc_paper_devices.families import (
    c_param,
    g_param,
    make_exponential,
    make_linear,
    make_power,
    noise_params,
    states_param,
    tau_param,
)
from aimc_plugins import Device, hookimpl

PAPER_STATES = 1200.0
LS_TAU = 3.5
LS_STATES = 2 * LS_TAU / 1e-4  # least squares: dw_min = 1e-4


def _family(name: str, maker: Callable[..., Any], description: str, **defaults: float) -> Device:
    shape = []
    if "c" in defaults:
        shape.append(c_param(defaults["c"]))
    if "g" in defaults:
        shape.append(g_param(defaults["g"]))
    return Device(
        name=name,
        factory=maker,
        description=description,
        family=f"response: {maker.__name__.removeprefix('make_')}",
        parameters=(
            tau_param(defaults["tau"]),
            *shape,
            states_param(defaults["n_states"]),
            *noise_params(),
        ),
    )


def paper_devices() -> list[Device]:
    """The three families and the paper's named settings."""
    devices = [
        _family(
            "linear",
            make_linear,
            "Linear response with asymmetry c (soft bounds at +-tau; symmetric point c tau).",
            tau=0.7,
            c=0.0,
            n_states=PAPER_STATES,
        ),
        _family(
            "power",
            make_power,
            "Power response q+- = (1 -+ w/tau)^g.",
            tau=0.7,
            g=0.5,
            n_states=PAPER_STATES,
        ),
        _family(
            "exponential",
            make_exponential,
            "Exponential response q+- = (exp(g(1 -+ w/tau)) - 1) / (exp(g) - 1).",
            tau=0.7,
            g=1.0,
            n_states=PAPER_STATES,
        ),
    ]
    for c in (0.0, 0.1, 0.2, 0.3):
        devices.append(
            _family(
                f"paper-ls-linear-c{c:g}",
                make_linear,
                f"Least-squares setting: linear, tau 3.5, dw_min 1e-4, asymmetry c = {c:g}.",
                tau=LS_TAU,
                c=c,
                n_states=LS_STATES,
            )
        )
    for family, maker in (("power", make_power), ("exp", make_exponential)):
        for g in (0.5, 1.0, 2.0):
            devices.append(
                _family(
                    f"paper-mnist-{family}-g{g:g}",
                    maker,
                    f"MNIST setting: {family} response, g = {g:g}, tau 0.7, 1200 states.",
                    tau=0.7,
                    g=g,
                    n_states=PAPER_STATES,
                )
            )
    devices.append(
        _family(
            "paper-cifar-power",
            make_power,
            "CIFAR fine-tuning setting: power response, g = 3, tau 0.1, 1200 states.",
            tau=0.1,
            g=3.0,
            n_states=PAPER_STATES,
        )
    )
    return devices


@hookimpl
def register_devices(register: Callable[[Device], None]) -> None:
    for device in paper_devices():
        register(device)
