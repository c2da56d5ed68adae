"""Response-function devices: a device described by its pulse response q+(w), q-(w) in Python.

One up pulse moves a weight by ``dw_min * q_up(w)``, one down pulse by ``-dw_min * q_down(w)``
(see docs/theory.md). A :class:`ResponseDevice` holds those two vectorised functions with the
working range, the step size and the non-idealities; :mod:`aimc_plugins.devices.adapter` turns it
into
an aihwkit device so that training never calls back into Python per pulse.

Noise conventions follow aihwkit's compiled core, so that the adapted device means what the
record says: cycle-to-cycle noise is *multiplicative* (a step is ``dw_min q(w) (1 + c2c xi)``,
where the paper writes ``dw_min (q(w) + sigma_c xi)``), device-to-device variations are relative
standard deviations, and write noise is in units of ``dw_min``.

A device may also say what a pulse costs it (``energy_up`` / ``energy_down`` in joules per
pulse, ``endurance`` in pulses, :class:`~aimc_plugins.devices.cost.DeviceCost`); a run on it then
reports its energy and the share of the endurance its most-written device used.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from aimc_plugins.devices.cost import CostError, DeviceCost

ResponseFn = Callable[[np.ndarray], np.ndarray]

CHECK_POINTS = 1001  # grid on which q+- are checked: fine enough to catch a sign change
MIN_STATES = 10  # "dw_min small against the range": at least this many steps across it


class ResponseError(ValueError):
    """A response device failed one of its checks; the message names the check (and the w)."""


@dataclass(frozen=True)
class ResponseDevice:
    """A device given by its response functions.

    ``q_up`` / ``q_down`` take and return numpy arrays (vectorised: they are evaluated on grids,
    never per pulse). Give the step either as ``dw_min`` or as ``n_states`` (then
    ``dw_min = (w_max - w_min) / n_states``, the paper's convention).

    ``energy_up`` / ``energy_down`` (joules per up / down pulse; both or neither) and
    ``endurance`` (pulses a device takes before it fails) are optional: what a pulse costs,
    where the device says (:attr:`cost`). They come last, so positional construction of the
    fields before them is unchanged.
    """

    name: str
    q_up: ResponseFn
    q_down: ResponseFn
    w_min: float
    w_max: float
    dw_min: float | None = None
    n_states: float | None = None
    c2c_noise: float = 0.0
    dw_min_dtod: float = 0.0
    bounds_dtod: float = 0.0
    up_down_dtod: float = 0.0
    write_noise: float = 0.0
    citation: str = ""
    table_tolerance: float = 0.01  # PiecewiseStep table error allowed when no native device fits
    # Train on the closest (63-node) table even when it misses table_tolerance; otherwise such a
    # device is refused (aimc_plugins.devices.build.TableError). The error is stored per run.
    allow_table_error: bool = False
    energy_up: float | None = None  # joules per up pulse (with energy_down)
    energy_down: float | None = None  # joules per down pulse (with energy_up)
    endurance: float | None = None  # pulses a device takes before it fails

    @property
    def cost(self) -> DeviceCost | None:
        """What a pulse costs the device, or None where it declares nothing; raises
        :class:`ResponseError` (check ``energy`` or ``endurance``) for a figure that cannot be
        used."""
        check_cost(self)
        if self.energy_up is None and self.energy_down is None and self.endurance is None:
            return None
        return DeviceCost(self.energy_up, self.energy_down, self.endurance)

    @property
    def step(self) -> float:
        """The step size ``dw_min`` (from ``n_states`` when that is what was given)."""
        if self.dw_min is not None:
            return float(self.dw_min)
        if self.n_states is not None and self.n_states > 0:
            return (self.w_max - self.w_min) / float(self.n_states)
        raise ResponseError(f"device {self.name!r}: check 'step' failed: give dw_min or n_states")

    @property
    def span(self) -> float:
        return float(self.w_max - self.w_min)

    def grid(self, points: int = CHECK_POINTS) -> np.ndarray:
        return np.linspace(self.w_min, self.w_max, points)

    def evaluate(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(q_up(w), q_down(w))`` as float arrays of ``w``'s shape."""
        w = np.asarray(w, dtype=float)
        return _call(self, "q_up", self.q_up, w), _call(self, "q_down", self.q_down, w)

    def shifted(self, offset: float) -> ResponseDevice:
        """The device read against a reference at ``offset``: ``q(w + offset)`` on the range
        shifted by ``-offset``. With ``offset = w*`` this is the zero-shifted device residual
        learning needs (docs/theory.md); the adapter re-tabulates or re-matches it."""
        return replace(
            self,
            name=f"{self.name} shifted by {offset:g}",
            q_up=partial(_shifted, self.q_up, offset),
            q_down=partial(_shifted, self.q_down, offset),
            w_min=self.w_min - offset,
            w_max=self.w_max - offset,
        )

    def validated(self) -> ResponseDevice:
        """This device, after every check passes; raises :class:`ResponseError` otherwise."""
        validate(self)
        return self


def _shifted(fn: ResponseFn, offset: float, w: np.ndarray) -> np.ndarray:
    return fn(np.asarray(w, dtype=float) + offset)


def _call(device: ResponseDevice, label: str, fn: ResponseFn, w: np.ndarray) -> np.ndarray:
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.asarray(fn(w), dtype=float)  # non-finite values are checked, not warned
    except Exception as exc:
        raise ResponseError(
            f"device {device.name!r}: check '{label} callable' failed: {type(exc).__name__}: {exc}"
        ) from exc
    if out.shape == ():
        out = np.full_like(w, float(out))  # a constant response written as `lambda w: 1.0`
    if out.shape != w.shape:
        raise ResponseError(
            f"device {device.name!r}: check '{label} vectorised' failed: "
            f"returned shape {out.shape} for input shape {w.shape}"
        )
    return out


def _fail(device: ResponseDevice, check: str, detail: str) -> ResponseError:
    return ResponseError(f"device {device.name!r}: check {check!r} failed: {detail}")


def check_cost(device: ResponseDevice) -> None:
    """The energies (check ``energy``: both or neither, finite, non-negative) and the endurance
    (check ``endurance``: finite, positive), by :class:`~aimc_plugins.devices.cost.DeviceCost`'s
    own rules."""
    checks = (
        ("energy", {"energy_up": device.energy_up, "energy_down": device.energy_down}),
        ("endurance", {"endurance": device.endurance}),
    )
    for check, figures in checks:
        try:
            DeviceCost(**figures)
        except CostError as exc:
            raise _fail(device, check, str(exc).removeprefix(f"{check}: ")) from None


def validate(device: ResponseDevice) -> None:
    """Check the range, the step, the noise, the cost and both responses; the first failure
    raises.

    A response must be finite and strictly positive inside the range. At its *far* bound (the
    upper bound for q+, the lower one for q-) it may reach 0, as soft bounds do: an up pulse at
    ``w_max`` has nowhere to go anyway.
    """
    lo, hi = device.w_min, device.w_max
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise _fail(device, "range finite", f"[{lo}, {hi}]")
    if not lo < hi:
        raise _fail(device, "range ordered", f"w_min={lo} is not below w_max={hi}")
    if not lo <= 0.0 <= hi:
        raise _fail(device, "range contains 0", f"[{lo:g}, {hi:g}]")
    if device.dw_min is not None and device.n_states is not None:
        raise _fail(device, "step", "give dw_min or n_states, not both")
    step = device.step
    if not (math.isfinite(step) and step > 0.0):
        raise _fail(device, "dw_min positive", f"dw_min={step!r}")
    if step > device.span / MIN_STATES:
        raise _fail(
            device,
            "dw_min small",
            f"dw_min={step:g} gives {device.span / step:.3g} states over the range; "
            f"at least {MIN_STATES} are needed",
        )
    if not 0.0 < device.table_tolerance < 1.0:
        raise _fail(device, "table_tolerance", f"{device.table_tolerance!r} is not in (0, 1)")
    for label in ("c2c_noise", "dw_min_dtod", "bounds_dtod", "up_down_dtod", "write_noise"):
        value = getattr(device, label)
        if not (math.isfinite(value) and value >= 0.0):
            raise _fail(device, f"{label} non-negative", f"{label}={value!r}")
    check_cost(device)
    w = device.grid()
    q_up, q_down = device.evaluate(w)
    for label, q, far in (("q_up", q_up, len(w) - 1), ("q_down", q_down, 0)):
        bad = np.flatnonzero(~np.isfinite(q))
        if bad.size:
            i = bad[0]
            raise _fail(device, f"{label} finite", f"{label}({w[i]:.6g}) = {float(q[i])}")
        inside = np.ones_like(q, dtype=bool)
        inside[far] = False  # the far bound may be 0, never negative
        bad = np.flatnonzero((inside & (q <= 0.0)) | (q < 0.0))
        if bad.size:
            i = bad[0]
            raise _fail(device, f"{label} positive", f"{label}({w[i]:.6g}) = {q[i]:.6g}")
