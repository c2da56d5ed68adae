"""What a device factory returned, checked before anything trains on it.

A plugin's factory may return an aihwkit pulsed-device config "as given". aihwkit accepts
impossible parameters silently (a NaN ``dw_min`` trains to chance with status ``done``) or fails
deep inside a run (``lr should be positive``); and a factory may return something that is not a
device at all. :func:`check_made` and :func:`check_native` stop both in the devices layer, so
training, ``aimc show``, ``characterize`` and ``traces`` all fail the same way: one
:class:`DeviceConfigError` line that names the device and the failing check.

The native check ends with a few single pulses on a real aihwkit tile (up must move up, down
must move down). It costs a tile construction (milliseconds), so its verdict is cached per
config (its full ``repr``, i.e. every field) for the life of the process: a sweep pays once per
distinct device, not once per run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from aimc_plugins.devices.response import ResponseDevice

PROBE_POINTS = (0.25, 0.5, 0.75)  # where in [w_min, w_max] single pulses are tried
_verdicts: dict[str, str] = {}  # repr(config) -> "" (passed) or the error message
_MAX_VERDICTS = 1024


class DeviceConfigError(ValueError):
    """A device factory returned something aihwkit cannot train as the device it claims."""


def _fail(name: str, check: str, detail: str) -> DeviceConfigError:
    return DeviceConfigError(f"device {name!r}: check {check!r} failed: {detail}")


def check_made(made: Any, name: str) -> Any:
    """``made`` if it is a :class:`ResponseDevice` or an aihwkit ``PulsedDevice`` config."""
    if isinstance(made, ResponseDevice):
        return made
    from aihwkit.simulator.configs.devices import PulsedDevice

    if not isinstance(made, PulsedDevice):
        shown = repr(made)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise _fail(
            name,
            "factory returns a device",
            f"got {type(made).__name__} ({shown}), not a ResponseDevice or an aihwkit "
            "PulsedDevice config",
        )
    return made


def check_native(config: Any, name: str) -> Any:
    """``config`` after its fields and a few single pulses on a tile pass; raises
    :class:`DeviceConfigError` naming the first failing check. Cached per config."""
    key = f"{type(config).__module__}.{type(config).__qualname__}:{config!r}"
    verdict = _verdicts.get(key)
    if verdict is None:
        try:
            _check_fields(config)
            _check_pulses(config)
            verdict = ""
        except _Failed as failed:
            verdict = f"check {failed.check!r} failed: {failed.detail}"
        if len(_verdicts) >= _MAX_VERDICTS:
            _verdicts.clear()
        _verdicts[key] = verdict
    if verdict:
        raise DeviceConfigError(f"device {name!r}: {verdict}")
    return config


class _Failed(Exception):
    def __init__(self, check: str, detail: str) -> None:
        super().__init__(check, detail)
        self.check, self.detail = check, detail


def _number(config: Any, field: str) -> float | None:
    value = getattr(config, field, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _check_fields(config: Any) -> None:
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if isinstance(value, float) and math.isnan(value):
            raise _Failed(f"{item.name} is a number", f"{item.name}=nan")
    dw_min = _number(config, "dw_min")
    if dw_min is not None and not (math.isfinite(dw_min) and dw_min > 0.0):
        raise _Failed("dw_min positive", f"dw_min={dw_min!r}")
    w_min, w_max = _number(config, "w_min"), _number(config, "w_max")
    if w_min is not None and w_max is not None:
        if not (math.isfinite(w_min) and math.isfinite(w_max)):
            raise _Failed("range finite", f"w_min={w_min!r}, w_max={w_max!r}")
        if not w_min < w_max:
            raise _Failed("range non-empty", f"w_min={w_min!r} is not below w_max={w_max!r}")
        if dw_min is not None and dw_min >= w_max - w_min:
            raise _Failed(
                "dw_min below the range",
                f"dw_min={dw_min:g} is not smaller than w_max - w_min = {w_max - w_min:g}",
            )


def _check_pulses(config: Any) -> None:
    """One up and one down pulse at a few weights inside the range, noise off."""
    import numpy as np

    from aimc_plugins.devices.characterize import measure_steps, quiet

    w_min, w_max = float(getattr(config, "w_min", -1.0)), float(getattr(config, "w_max", 1.0))
    w = np.array([w_min + f * (w_max - w_min) for f in PROBE_POINTS])
    w = w.astype(np.float32).astype(float)
    dw_min = float(getattr(config, "dw_min", 0.001))
    try:
        up, down = measure_steps(quiet(config), w, lr=4.0 * dw_min)
    except Exception as exc:  # aihwkit's own refusal, whatever its type
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise _Failed("pulses on an aihwkit tile", f"{type(exc).__name__}: {message}") from None
    for label, steps in (("up pulse moves up", up[0]), ("down pulse moves down", down[0])):
        bad = np.flatnonzero(~(np.isfinite(steps) & (steps > 0.0)))
        if bad.size:
            i = bad[0]
            moved = float(steps[i]) if label.startswith("up") else -float(steps[i])
            raise _Failed(label, f"at w={w[i]:.4g} one pulse changed the weight by {moved:.3g}")
