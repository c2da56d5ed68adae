"""How well the fit recovers a known device: pulse it, fit the traces, compare.

Before trusting a fit of lab data, fit synthetic traces of a device whose response is known
and similar to yours, at the same data size and noise: the recovered error is what to expect.
The tests use this on aihwkit's presets; ``python -m aimc_plugins.kit.fit.recovery`` prints the
table the tolerances in ``tests/test_fit.py`` and ``docs/fit-a-device.md`` were set from.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

from aimc_plugins.devices.config_response import response_of
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.kit.fit.estimate import FitOptions, FittedResponse, fit_steps
from aimc_plugins.kit.fit.generate import measurement_config, pulse_traces

INNER = 0.9  # compared over this central fraction of the fitted range


@dataclass(frozen=True)
class StepError:
    """One direction: |fitted - true| step and the fit's standard error on a grid, both as
    fractions of the true peak step."""

    w: np.ndarray
    error: np.ndarray
    se: np.ndarray


def step_errors(
    fit: FittedResponse, truth: ResponseDevice, inner: float = INNER
) -> tuple[StepError, StepError]:
    """Up and down step errors of ``fit`` against ``truth`` over the inner part of the fit's
    range (steps, not q: the two may normalise dw_min differently)."""
    centre, half = (fit.w_min + fit.w_max) / 2, (fit.w_max - fit.w_min) / 2 * inner
    w = np.linspace(centre - half, centre + half, 801)
    true_up, true_down = truth.evaluate(w)
    peak = truth.step * max(float(true_up.max()), float(true_down.max()))
    out = []
    for q, se, q_true in ((fit.q_up, fit.se_up, true_up), (fit.q_down, fit.se_down, true_down)):
        fitted = fit.dw_min * np.interp(w, fit.nodes, q)
        error = np.abs(fitted - truth.step * q_true) / peak
        out.append(StepError(w, error, fit.dw_min * np.interp(w, fit.nodes, se) / peak))
    return out[0], out[1]


def recover(
    config: Any,
    name: str = "",
    c2c: bool = True,
    dtod: bool = False,
    devices: int = 1024,
    ramps: int = 8,
    pulses_per_ramp: int = 100,
    seed: int = 0,
    options: FitOptions | None = None,
) -> tuple[FittedResponse, tuple[StepError, StepError]]:
    """Pulse ``config`` (with the chosen noise), fit the traces, compare with its response."""
    measured = measurement_config(config, c2c=c2c, dtod=dtod)
    traces = pulse_traces(measured, devices, ramps, pulses_per_ramp, seed=seed)
    fit = fit_steps(traces.steps(), name or type(config).__name__, options)
    return fit, step_errors(fit, response_of(config))


def main(argv: list[str] | None = None) -> None:
    from aimc_plugins.builtin.presets import preset_device_classes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="aihwkit preset devices (default: all usable)")
    parser.add_argument("--devices", type=int, default=1024)
    parser.add_argument("--no-c2c", action="store_true")
    parser.add_argument("--dtod", action="store_true")
    args = parser.parse_args(argv)
    classes = preset_device_classes()
    # PCM's range [0, 2] holds no 0 (a one-sided device); the ReRamArray presets have 4 and 21
    # states, too few for a response to mean anything
    names = args.presets or [n for n in sorted(classes) if n != "PCM" and "Array" not in n]
    print("preset          max_error  max_se   c2c (true)       dw_min_dtod (true)")
    for name in names:
        config = classes[name]()
        fit, errors = recover(config, name, not args.no_c2c, args.dtod, args.devices)
        worst = max(float(e.error.max()) for e in errors)
        se = max(float(e.se.max()) for e in errors)
        print(
            f"{name:15s} {worst:8.4f}  {se:7.4f}  {fit.c2c_noise:6.3f} ({config.dw_min_std:5.2f})"
            f"  {fit.dw_min_dtod:6.3f} ({config.dw_min_dtod:4.2f})"
        )


if __name__ == "__main__":
    main()
