"""The paper's response families, each a factory of
:class:`~aimc_plugins.devices.response.ResponseDevice`.

The responses are module-level functions bound with :func:`functools.partial`, so a device
pickles (to a worker process, say) as plain data. All live on ``[-tau, tau]`` with
``dw_min = 2 tau / n_states``; docs/theory.md states the formulas.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from aimc_plugins import Param, ResponseDevice

CITATION = (
    "Wu, Xiao, Gokmen, Fagbohungbe, Chen: Analog In-memory Training on General Non-ideal "
    "Resistive Elements: The Impact of Response Functions, NeurIPS 2025 (arXiv 2502.06309)"
)


def linear_up(c: float, tau: float, w: np.ndarray) -> np.ndarray:
    return (1.0 + c) * (1.0 - np.asarray(w, dtype=float) / tau)


def linear_down(c: float, tau: float, w: np.ndarray) -> np.ndarray:
    return (1.0 - c) * (1.0 + np.asarray(w, dtype=float) / tau)


def power_response(sign: float, g: float, tau: float, w: np.ndarray) -> np.ndarray:
    """``(1 - sign w / tau) ** g``; sign +1 is q+, -1 is q-."""
    return np.clip(1.0 - sign * np.asarray(w, dtype=float) / tau, 0.0, None) ** g


def exp_response(sign: float, g: float, tau: float, w: np.ndarray) -> np.ndarray:
    """``(exp(g (1 - sign w / tau)) - 1) / (exp(g) - 1)``, with expm1 for small g."""
    return np.expm1(g * (1.0 - sign * np.asarray(w, dtype=float) / tau)) / np.expm1(g)


def _device(name: str, q_up, q_down, tau: float, n_states: float, **noise: float) -> ResponseDevice:
    return ResponseDevice(
        name=name,
        q_up=q_up,
        q_down=q_down,
        w_min=-tau,
        w_max=tau,
        n_states=n_states,
        c2c_noise=noise["noise"],
        dw_min_dtod=noise["dw_min_dtod"],
        bounds_dtod=noise["bounds_dtod"],
        up_down_dtod=noise["up_down_dtod"],
        write_noise=noise["write_noise"],
        citation=CITATION,
    )


def make_linear(tau: float, c: float, n_states: float, **noise: float) -> ResponseDevice:
    """Linear (soft-bounds) response with asymmetry c: symmetric point ``c * tau``."""
    return _device(
        "linear", partial(linear_up, c, tau), partial(linear_down, c, tau), tau, n_states, **noise
    )


def make_power(tau: float, g: float, n_states: float, **noise: float) -> ResponseDevice:
    """Power response ``q+- = (1 -+ w/tau)^g``."""
    return _device(
        "power",
        partial(power_response, 1.0, g, tau),
        partial(power_response, -1.0, g, tau),
        tau,
        n_states,
        **noise,
    )


def make_exponential(tau: float, g: float, n_states: float, **noise: float) -> ResponseDevice:
    """Exponential response ``q+- = (exp(g (1 -+ w/tau)) - 1) / (exp(g) - 1)``."""
    return _device(
        "exponential",
        partial(exp_response, 1.0, g, tau),
        partial(exp_response, -1.0, g, tau),
        tau,
        n_states,
        **noise,
    )


def noise_params() -> tuple[Param, ...]:
    """Non-ideality parameters every family shares (defaults: an ideal device)."""
    return (
        Param("noise", 0.0, "cycle-to-cycle noise, relative std of a step", low=0.0, high=5.0),
        Param("dw_min_dtod", 0.0, "device-to-device std of the step size", low=0.0, high=1.0),
        Param("bounds_dtod", 0.0, "device-to-device std of the bounds", low=0.0, high=1.0),
        Param("up_down_dtod", 0.0, "device-to-device std of up/down asymmetry", low=0.0, high=1.0),
        Param("write_noise", 0.0, "write noise, in units of dw_min", low=0.0),
    )


def tau_param(default: float) -> Param:
    return Param(
        "tau", default, "half-width of the range [-tau, tau]", low=0.0, low_inclusive=False
    )


def states_param(default: float) -> Param:
    return Param("n_states", default, "number of states: dw_min = 2 tau / n_states", low=10.0)


def g_param(default: float) -> Param:
    return Param("g", default, "shape exponent", low=0.0, low_inclusive=False, high=20.0)


def c_param(default: float) -> Param:
    return Param(
        "c",
        default,
        "asymmetry: q+ = (1+c)(1 - w/tau), q- = (1-c)(1 + w/tau)",
        low=-1.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )
