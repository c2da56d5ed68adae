"""How many pulses one update of aihwkit's compiled tile fires, computed from what it is given.

aihwkit's CPU core does not count pulses (``get_pulse_counters()`` is empty there), but its
pulsed update is a known function of its inputs. For each sample of a mini-batch (an input row
``x``, an error row ``d``, the tile's learning rate ``lr`` and its weight granularity ``g``) it
chooses a bit length ``BL`` and two scales ``A`` (for ``d``) and ``B`` (for ``x``), with update
management and bit-line management as its ``UpdateParameters`` say
(``PulsedUpdateMetaParameter::performUpdateManagement``):

- ``BL = desired_bl``, ``A = B = sqrt(lr / (g BL))``; without ``fixed_bl`` and bit-line
  management, ``BL = ceil(lr / g)`` and ``A = B = 1`` when ``g desired_bl < lr``;
- bit-line management: ``BL = min(ceil(k), desired_bl)`` with
  ``k = lr max|x| um_grad_scale max|d| / g``, and ``A = B = sqrt(lr / (g BL))``;
- update management: ``A *= sqrt(max|x| / d_val)``, ``B *= sqrt(d_val / max|x|)``, where
  ``d_val = um_grad_scale max|d|``, shrunk by ``desired_bl / k`` when ``k > desired_bl``;
- a sample whose ``x`` or ``d`` is all zero fires nothing.

Line ``j`` of ``x`` then fires in each of the ``BL`` slots with probability
``p_j = min(1, B |x_j|)``, line ``i`` of ``d`` with ``q_i = min(1, A |d_i|)``, independently
(``StochasticCompressed`` and ``Stochastic`` pulse trains), and device ``(i, j)`` gets one pulse
per coincidence: ``BL q_i p_j`` pulses **in expectation**. The direction is down where
``x_j d_i lr > 0`` (gradient descent), up otherwise. ``MeanCount`` and ``DeterministicImplicit``
pulse trains fire rounded counts, deterministically: those are **exact**.

Pulse trains with no pulses (``PulseType.NONE`` and ``NONE_WITH_DEVICE``: a floating-point
update) fire nothing. A compiled *compound* (Tiki-Taka's transfer compound, mixed precision, a
vector of devices) updates inside the C++ core, where its internal writes cannot be seen from
Python: :func:`settings_of` says so (``counted = False``) instead of guessing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

# aihwkit's PulseType names (the bindings' enum .name)
STOCHASTIC = ("StochasticCompressed", "Stochastic")
EXACT = ("MeanCount", "DeterministicImplicit")
NO_PULSES = ("None", "NoneWithDevice")

_GRANULARITY = re.compile(r"granularity \(calc\.\):\s*([-+0-9.eE]+)")
_DEVICE = re.compile(r"\[(.*)\]\(\d+,\s*\d+\)\s*$")


@dataclass(frozen=True)
class UpdateSettings:
    """What decides the pulses of one compiled tile's update: its ``UpdateParameters`` and its
    device's weight granularity, read from the tile itself (:func:`settings_of`).

    ``counted`` is False where this model cannot see the pulses (``why`` says which device):
    a compiled compound, whose internal writes happen in the C++ core.
    """

    device: str
    pulse_type: str
    granularity: float
    desired_bl: int = 31
    fixed_bl: bool = True
    update_management: bool = True
    update_bl_management: bool = True
    um_grad_scale: float = 1.0
    res: float = 0.0
    x_res_implicit: float = 0.0
    d_res_implicit: float = 0.0
    sto_round: bool = False
    counted: bool = True
    why: str = ""

    @property
    def fires(self) -> bool:
        """Whether updates of this tile fire pulses at all (not a floating-point update)."""
        return self.pulse_type not in NO_PULSES

    @property
    def exact(self) -> bool:
        """Whether the counts are exact (deterministic pulse trains without stochastic
        rounding), not expected values."""
        return self.pulse_type in EXACT and not self.sto_round


def settings_of(tile: Any) -> UpdateSettings:
    """The update settings of aihwkit's compiled tile ``tile`` (``rpu_base.tiles.AnalogTile``),
    from its meta parameters and its own description (``get_info``: the device's name and the
    weight granularity it computed)."""
    update = tile.get_meta_parameters().update
    info = tile.get_info()
    brief = tile.get_brief_info().strip()
    found = _DEVICE.search(brief)
    device = found.group(1) if found else brief
    pulse_type = getattr(update.pulse_type, "name", str(update.pulse_type))
    granularity = _GRANULARITY.search(info)
    compound = any(mark in device for mark in ("(", "[", ":"))
    why = ""
    if compound:
        why = (
            f"aihwkit's compiled compound {device.split('(')[0].split('[')[0]} writes its arrays "
            "inside the C++ core, where the CPU build counts no pulses"
        )
    elif granularity is None:
        why = f"device {device} reports no weight granularity"
    return UpdateSettings(
        device=device,
        pulse_type=pulse_type,
        granularity=float(granularity.group(1)) if granularity else math.nan,
        desired_bl=int(update.desired_bl),
        fixed_bl=bool(update.fixed_bl),
        update_management=bool(update.update_management),
        update_bl_management=bool(update.update_bl_management),
        um_grad_scale=float(update.um_grad_scale),
        res=float(update.res),
        x_res_implicit=float(update.x_res_implicit),
        d_res_implicit=float(update.d_res_implicit),
        sto_round=bool(update.sto_round),
        counted=not why,
        why=why,
    )


def as_rows(values: Tensor, size: int, transposed: bool) -> Tensor:
    """A tile input (``[..., size]``, or ``[size, ...]`` when ``transposed``) as
    ``(samples, size)``: the samples aihwkit updates with, one by one."""
    if transposed:
        values = values.movedim(0, -1)
    return values.reshape(-1, size)


def discretized(values: Tensor, res: float) -> Tensor:
    """aihwkit's ``getDiscretizedValue`` without stochastic rounding (in expectation the same):
    ``rint(v / res) res`` for ``res > 0``."""
    return values if res <= 0.0 else torch.round(values / res) * res


def scales(
    x: Tensor,
    d: Tensor,
    lr: float | Tensor,
    settings: UpdateSettings,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor, Tensor]:
    """Per sample: the bit length ``BL`` and the scales ``A`` (of ``d``) and ``B`` (of ``x``),
    as aihwkit's update management chooses them (module docstring), in ``dtype`` (float32, the
    core's own precision, where counts are rounded and must match it exactly). ``lr`` is the
    learning rate's magnitude, one for all samples or one per sample (samples of several
    updates counted together). ``BL`` is 0 for a sample that fires nothing."""
    samples, device = x.shape[0], x.device

    def full(value: float) -> Tensor:
        return torch.full((samples,), value, dtype=dtype, device=device)

    g, bl = settings.granularity, settings.desired_bl
    lr_t = lr.to(dtype) if isinstance(lr, Tensor) else full(lr)
    g_t = full(g)
    length = full(float(bl))
    a = torch.sqrt(lr_t / (g_t * length))
    if not (settings.fixed_bl or settings.update_bl_management):
        coarse = g * bl < lr_t  # a step longer than desired_bl pulses: BL grows instead
        length = torch.where(coarse, torch.clamp(torch.ceil(lr_t / g_t), min=1.0), length)
        a = torch.where(coarse, 1.0, a)
    b = a.clone()
    if not (settings.update_management or settings.update_bl_management):
        return length, a, b
    x_max = x.abs().amax(dim=1).to(dtype)
    d_max = d.abs().amax(dim=1).to(dtype)
    silent = (x_max == 0) | (d_max == 0)
    x_val = torch.where(silent, 1.0, x_max)
    d_val = torch.where(silent, 1.0, settings.um_grad_scale * d_max)
    k = lr_t * x_val * d_val / g_t
    if settings.update_bl_management:
        length = torch.clamp(torch.ceil(k), max=float(bl))
        a = torch.sqrt(lr_t / (g_t * length))
        b = a.clone()
    if settings.update_management:
        d_val = torch.where(k > bl, d_val * bl / k, d_val)
        a = a * torch.sqrt(x_val / d_val)
        b = b * torch.sqrt(d_val / x_val)
    length = torch.where(silent, 0.0, length)
    return length, a, b


@dataclass(frozen=True)
class Trains:
    """One stochastic update's pulse trains, as probabilities: per sample ``s``, the lines of
    ``d`` (``(samples, rows)``) and of ``x`` (``(samples, columns)``), each ``sqrt(BL_s)`` times
    the line's firing probability and signed by the direction it pulls in (``x``'s sign, and
    ``d``'s times ``lr``'s). Device ``(i, j)`` expects ``sum_s |d_si| |x_sj|`` pulses, down where
    the product of the signed lines is positive."""

    d_lines: Tensor
    x_lines: Tensor

    def totals(self) -> tuple[float, float]:
        """``(up, down)`` summed over every device, without forming the matrix: per sample the
        row sums of each sign multiply."""
        d_up = self.d_lines.clamp(min=0).sum(dim=1)
        d_down = (-self.d_lines).clamp(min=0).sum(dim=1)
        x_up = self.x_lines.clamp(min=0).sum(dim=1)
        x_down = (-self.x_lines).clamp(min=0).sum(dim=1)
        down = float((d_up * x_up + d_down * x_down).sum())
        up = float((d_up * x_down + d_down * x_up).sum())
        return up, down

    def per_device(self) -> tuple[Tensor, Tensor]:
        """``(up, down)`` per device, ``(rows, columns)``."""
        total = self.d_lines.abs().T @ self.x_lines.abs()
        net = self.d_lines.T @ self.x_lines
        return torch.clamp((total - net) / 2, min=0.0), torch.clamp((total + net) / 2, min=0.0)


def trains(x: Tensor, d: Tensor, lr: float | Tensor, settings: UpdateSettings) -> Trains:
    """The pulse trains one stochastic update draws from (module docstring), in float32 (the
    core's precision; its draws are what make a count uncertain, not the last digits). ``lr``:
    one learning rate, or one per sample (several updates' samples at once)."""
    x32, d32 = x.to(torch.float32), d.to(torch.float32)
    magnitude = lr.abs() if isinstance(lr, Tensor) else abs(lr)
    length, a, b = scales(x32, d32, magnitude, settings, torch.float32)
    root = torch.sqrt(length)[:, None]
    if settings.res > 0.0:
        p = torch.clamp(discretized(b[:, None] * x32.abs(), settings.res), max=1.0)
        q = torch.clamp(discretized(a[:, None] * d32.abs(), settings.res), max=1.0)
        p, q = p * torch.sign(x32), q * torch.sign(d32)
    else:  # sign(v) min(1, s |v|) in one pass
        p = torch.clamp(b[:, None] * x32, -1.0, 1.0)
        q = torch.clamp(a[:, None] * d32, -1.0, 1.0)
    # down where x d lr > 0 (W <- W - lr d x^T)
    if isinstance(lr, Tensor):
        direction = torch.where(lr < 0, -1.0, 1.0).to(torch.float32)[:, None]
    else:
        direction = torch.tensor(math.copysign(1.0, lr))
    return Trains(q * (root * direction), p * root)


def expected_counts(
    x: Tensor, d: Tensor, lr: float, settings: UpdateSettings
) -> tuple[Tensor, Tensor]:
    """``(up, down)``: the pulses one update fires on each device, ``(rows, columns)`` in
    float64, for inputs ``x`` ``(samples, columns)`` and errors ``d`` ``(samples, rows)``.
    Expected values for stochastic pulse trains, exact for deterministic ones (module
    docstring); zero for a floating-point update."""
    rows, columns = d.shape[1], x.shape[1]
    zeros = torch.zeros(rows, columns, dtype=torch.float64, device=x.device)
    if lr == 0.0 or not settings.fires or x.shape[0] == 0:
        return zeros, zeros.clone()
    if settings.exact:
        return exact_counts(x, d, lr, settings)
    up, down = trains(x, d, lr, settings).per_device()
    return up.to(torch.float64), down.to(torch.float64)


def exact_counts(
    x: Tensor,
    d: Tensor,
    lr: float,
    settings: UpdateSettings,
) -> tuple[Tensor, Tensor]:
    """The deterministic pulse trains' counts, sample by sample as aihwkit rounds them:
    ``MeanCount`` rounds each line's count ``rint(BL p)`` and then the coincidences,
    ``DeterministicImplicit`` rounds ``BL q p`` on the ``x_res_implicit`` / ``d_res_implicit``
    grid. In float32, as the core computes them, so that the rounding matches it."""
    x32, d32 = x.to(torch.float32), d.to(torch.float32)
    length, a, b = scales(x32, d32, abs(lr), settings, torch.float32)
    if settings.pulse_type == "MeanCount":
        p = discretized(b[:, None] * x32.abs(), settings.res)
        q = discretized(a[:, None] * d32.abs(), settings.res)
        bl = length[:, None]
        p_count = torch.clamp(torch.round(bl * p), min=0.0, max=None)
        p_count = torch.minimum(p_count, bl)
        q_count = torch.minimum(torch.clamp(torch.round(bl * q), min=0.0), bl)
        safe = torch.where(length > 0, length, 1.0)[:, None]
        per_sample = torch.round((q_count / safe)[:, :, None] * p_count[:, None, :])
    else:
        p = torch.clamp(discretized(b[:, None] * x32.abs(), settings.x_res_implicit), 0.0, 1.0)
        q = torch.clamp(discretized(a[:, None] * d32.abs(), settings.d_res_implicit), 0.0, 1.0)
        per_sample = torch.round((q * length[:, None])[:, :, None] * p[:, None, :])
    per_sample = (per_sample * (length > 0)[:, None, None]).to(torch.float64)
    # aihwkit's dense bit-line maker negates both x and d for a negative rate, so the direction
    # of a coincidence does not depend on the rate's sign here
    sign = torch.sign(d32)[:, :, None] * torch.sign(x32)[:, None, :]
    down = (per_sample * (sign > 0)).sum(dim=0)
    up = (per_sample * (sign < 0)).sum(dim=0)
    return up, down
