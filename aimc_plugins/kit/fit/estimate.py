"""Fit a response-function device to single-pulse steps.

The steps of each direction are binned by the weight before the pulse; the bin means are
smoothed by a kernel-weighted local linear regression (a Gaussian kernel, each bin weighted by
its count), which follows any smooth shape without assuming a family and, unlike a moving
average, is not biased at the ends of the range. The smoothed mean steps at the table nodes
are the fitted ``dw_min q+(w)`` and ``dw_min q-(w)``; ``dw_min`` is chosen so that
``F(0) = (q+(0) + q-(0)) / 2 = 1``, the convention of the paper's families.

Noise follows aihwkit's multiplicative convention (:mod:`aimc_plugins.devices.response`):

- cycle-to-cycle: every step's residual from its device's own mean,
  ``c2c^2 = sum r^2 / sum (a_d m(w))^2``;
- device-to-device: each device's least-squares scale ``a_d`` of the population mean ``m(w)``,
  per direction. The spread of ``(a_up + a_down) / 2`` is ``dw_min_dtod`` and the spread of
  ``log(a_up / a_down)`` is ``up_down_dtod``, both after subtracting the spread the finite
  number of noisy steps alone would cause. A spread of the bounds is not separated from these.

All spread is attributed to the device: read noise in the measurement inflates ``c2c``.

Pulses that move the weight the wrong way are refused, not fitted: everywhere (swapped labels,
:func:`_check_directions`) and over part of the range (:func:`wrong_way_stretches`: an up
response such as ``0.03 (0.3 - w)``, which lowers the weight above 0.3). A fitted ``q`` is a
magnitude and is kept above a floor, so a wrong-way stretch would otherwise become a device that
barely moves there, without a word. The rule reads the smoothed mean step, not single steps, so
measurement noise does not trip it: a stretch of the range is wrong-way when, over at least the
kernel's width (``bandwidth``), the smoothed mean step has the wrong sign by more than
:data:`WRONG_WAY_Z` of its standard errors and by more than :data:`WRONG_WAY_FLOOR` of the
largest mean step, and at least two bins of enough steps there have a wrong-way mean. One wild
step inflates its bin's standard error with its mean, so it moves neither test. A device that
really behaves so is fitted with ``allow_wrong_way=True`` (``aimc fit --allow-wrong-way``); the
fit then records the stretches in :attr:`FittedResponse.notes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from aimc_plugins.devices.cost import DeviceCost
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.kit.fit.traces import Steps

Q_FLOOR = 1e-3  # fitted q is kept at least this fraction of its peak inside the range
MAX_NODES = 63  # aihwkit's PiecewiseStep limit
# A wrong-way stretch: the smoothed mean step of the wrong sign by more than this many of its
# standard errors, and by more than this fraction of the largest mean step (noise-free data has
# standard errors near 0; a smoothing wiggle next to a bound is not a device moving backwards).
WRONG_WAY_Z = 3.0
WRONG_WAY_FLOOR = 0.02
WRONG_WAY_BINS = 2  # bins (of at least min_count steps) with a wrong-way mean inside the stretch


class FitError(ValueError):
    """The data cannot give a response device (too few steps, range without 0, ...)."""


@dataclass(frozen=True)
class FitOptions:
    """How the fit bins, smooths and tabulates.

    ``bandwidth`` is the kernel's standard deviation as a fraction of the fitted range: wide
    enough to average noisy steps, narrow against the curvature of a response (a soft bound
    is linear and loses nothing; a steep exponential wants 0.03 or less). ``trim`` drops that
    fraction of the observed range at each end, where steps are clipped by the hard bounds.
    """

    bins: int = 80
    bandwidth: float = 0.04
    nodes: int = 41
    min_count: int = 20
    trim: float = 0.01


@dataclass(frozen=True)
class Binned:
    """Mean step and its standard error per weight bin, one direction (weight units)."""

    centers: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class FittedResponse:
    """The fitted table, the noise figures and how well the table explains the data.

    ``cost`` is what a pulse costs the device (energy, endurance) where the user declares it
    (``aimc fit --energy-up/--energy-down/--endurance``): it is not fitted from the traces.
    """

    name: str
    nodes: np.ndarray
    q_up: np.ndarray
    q_down: np.ndarray
    dw_min: float
    c2c_noise: float
    dw_min_dtod: float
    up_down_dtod: float
    n_devices: int
    n_steps: int
    mapping: str
    binned_up: Binned
    binned_down: Binned
    se_up: np.ndarray  # standard error of q_up at the nodes (units of dw_min, as q)
    se_down: np.ndarray
    quality: dict[str, float] = field(default_factory=dict)
    # wrong-way stretches fitted anyway (allow_wrong_way): q is held at its floor there
    notes: tuple[str, ...] = ()
    cost: DeviceCost | None = None

    @property
    def w_min(self) -> float:
        return float(self.nodes[0])

    @property
    def w_max(self) -> float:
        return float(self.nodes[-1])

    def response_device(self) -> ResponseDevice:
        """The fitted device, q+- linearly interpolated between the table's nodes."""
        return table_device(
            self.name,
            tuple(self.nodes),
            tuple(self.q_up),
            tuple(self.q_down),
            self.dw_min,
            c2c_noise=self.c2c_noise,
            dw_min_dtod=self.dw_min_dtod,
            up_down_dtod=self.up_down_dtod,
            **self.cost_fields(),
        )

    def cost_fields(self) -> dict[str, float]:
        """The declared cost as :class:`ResponseDevice` keyword arguments (empty when none)."""
        if self.cost is None:
            return {}
        figures = {
            "energy_up": self.cost.energy_up,
            "energy_down": self.cost.energy_down,
            "endurance": self.cost.endurance,
        }
        return {name: float(value) for name, value in figures.items() if value is not None}

    def summary(self) -> dict[str, object]:
        return {
            "device": self.name,
            "range": [self.w_min, self.w_max],
            "dw_min": self.dw_min,
            "n_states": (self.w_max - self.w_min) / self.dw_min,
            "c2c_noise": self.c2c_noise,
            "dw_min_dtod": self.dw_min_dtod,
            "up_down_dtod": self.up_down_dtod,
            "devices": self.n_devices,
            "steps": self.n_steps,
            "mapping": self.mapping,
            **self.quality,
            **({"wrong_way": list(self.notes)} if self.notes else {}),
            **self.cost_fields(),
        }


def interpolated(nodes: tuple[float, ...], values: tuple[float, ...], w: np.ndarray) -> np.ndarray:
    """A response given as a table: linear between nodes, constant beyond the ends."""
    return np.interp(np.asarray(w, dtype=float), nodes, values)


def table_device(
    name: str,
    nodes: tuple[float, ...],
    q_up: tuple[float, ...],
    q_down: tuple[float, ...],
    dw_min: float,
    *,
    c2c_noise: float = 0.0,
    dw_min_dtod: float = 0.0,
    up_down_dtod: float = 0.0,
    energy_up: float | None = None,
    energy_down: float | None = None,
    endurance: float | None = None,
) -> ResponseDevice:
    """A :class:`ResponseDevice` from a table (picklable: the functions are partials).

    ``energy_up`` / ``energy_down`` (joules per pulse, both or neither) and ``endurance``
    (pulses) are the device's declared cost, as on :class:`ResponseDevice`."""
    return ResponseDevice(
        name=name,
        q_up=partial(interpolated, tuple(nodes), tuple(q_up)),
        q_down=partial(interpolated, tuple(nodes), tuple(q_down)),
        w_min=float(nodes[0]),
        w_max=float(nodes[-1]),
        dw_min=float(dw_min),
        c2c_noise=c2c_noise,
        dw_min_dtod=dw_min_dtod,
        up_down_dtod=up_down_dtod,
        energy_up=energy_up,
        energy_down=energy_down,
        endurance=endurance,
    )


def bin_steps(w: np.ndarray, dw: np.ndarray, edges: np.ndarray) -> Binned:
    """Count, mean and standard error of ``dw`` in each bin of ``w``."""
    index = np.clip(np.digitize(w, edges) - 1, 0, len(edges) - 2)
    inside = (w >= edges[0]) & (w <= edges[-1])
    n_bins = len(edges) - 1
    count = np.bincount(index[inside], minlength=n_bins).astype(float)
    total = np.bincount(index[inside], weights=dw[inside], minlength=n_bins)
    squares = np.bincount(index[inside], weights=dw[inside] ** 2, minlength=n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
        var = (squares - count * mean**2) / np.maximum(count - 1, 1)
        se = np.sqrt(np.clip(var, 0, None) / count)
    return Binned((edges[1:] + edges[:-1]) / 2, mean, se, count)


def smooth(
    binned: Binned, at: np.ndarray, bandwidth: float, min_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Local linear regression of the bin means at ``at`` (Gaussian kernel, count-weighted), and
    its standard error from the bins' own standard errors (the estimate is linear in them)."""
    use = binned.count >= min_count
    x, y, n, se = binned.centers[use], binned.mean[use], binned.count[use], binned.se[use]
    se = np.nan_to_num(se)
    out, err = np.empty(len(at)), np.empty(len(at))
    for i, x0 in enumerate(at):
        k = n * np.exp(-0.5 * ((x - x0) / bandwidth) ** 2)
        s0, s1, s2 = k.sum(), (k * (x - x0)).sum(), (k * (x - x0) ** 2).sum()
        det = s0 * s2 - s1 * s1
        if det > 1e-12 * s0 * s0:
            weights = k * (s2 - s1 * (x - x0)) / det
        else:
            weights = k / s0
        out[i] = float(weights @ y)
        err[i] = float(np.sqrt(np.sum(weights**2 * se**2)))
    return out, err


def _fit_range(up: Steps, down: Steps, options: FitOptions) -> tuple[float, float]:
    """Where both directions were measured: a table beyond one direction's data would be an
    extrapolation, so the range is the overlap, less ``trim`` at each end."""
    lo = max(float(np.quantile(up.w, 0.001)), float(np.quantile(down.w, 0.001)))
    hi = min(float(np.quantile(up.w, 0.999)), float(np.quantile(down.w, 0.999)))
    if not lo < hi:
        raise FitError("the up and down steps were measured on disjoint weight ranges")
    cut = options.trim * (hi - lo)
    lo, hi = lo + cut, hi - cut
    if not lo < 0.0 < hi:
        raise FitError(
            f"the measured weights span [{lo:.4g}, {hi:.4g}], which does not contain 0; "
            "give conductances with a reference (--g-ref) that puts 0 inside the window"
        )
    return lo, hi


def _device_scales(steps: Steps, mean_of) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-device least-squares scale of the population mean, its sampling variance (from the
    residuals), and the residuals of every step from its device's scaled mean."""
    m = mean_of(steps.w)
    n_dev = len(steps.devices)
    mm = np.bincount(steps.device, weights=m * m, minlength=n_dev)
    sm = np.bincount(steps.device, weights=steps.dw * m, minlength=n_dev)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(mm > 0, sm / mm, np.nan)
    residual = steps.dw - np.nan_to_num(scale)[steps.device] * m
    r2 = np.bincount(steps.device, weights=residual**2, minlength=n_dev)
    m4 = np.bincount(steps.device, weights=m**4, minlength=n_dev)
    expected = np.nan_to_num(scale)[steps.device] ** 2 * m * m
    ex = np.bincount(steps.device, weights=expected, minlength=n_dev)
    with np.errstate(divide="ignore", invalid="ignore"):
        c2c2 = np.where(ex > 0, r2 / ex, np.nan)  # per device: relative noise variance
        sampling = c2c2 * scale**2 * m4 / mm**2  # var of the LS scale under multiplicative noise
    return scale, sampling, residual


def _spread(values: np.ndarray, sampling: np.ndarray) -> float:
    """Standard deviation of ``values`` beyond what sampling noise alone explains."""
    ok = np.isfinite(values) & np.isfinite(sampling)
    if ok.sum() < 3:
        return 0.0
    excess = float(np.var(values[ok], ddof=1) - np.mean(sampling[ok]))
    return math.sqrt(excess) if excess > 0 else 0.0


def _check_directions(
    up: Steps, down: Steps, nodes: np.ndarray, tables: dict[int, np.ndarray]
) -> None:
    """Up pulses must move the weight up and down pulses down, on average and at w = 0: data
    with swapped labels would otherwise be fitted into a device clipped to its floor, without a
    word. Also device by device: when most devices' up (down) pulses move their weight the wrong
    way over the whole trace, a few devices with large steps can still bring the pooled mean out
    right (a sign or column mix-up in part of the data), and the fit would be of neither."""
    for sign, part, label in ((1, up, "up"), (-1, down, "down")):
        wrong, measured = _wrong_way_devices(part, sign)
        if measured and 2 * wrong > measured:
            raise FitError(
                f"{label} pulses move the weight the wrong way over the whole trace of {wrong} of "
                f"{measured} devices: check the direction and value columns (a sign or column "
                "mix-up?)"
            )
    for sign, part, label in ((1, up, "up"), (-1, down, "down")):
        mean = float(np.mean(part.dw))
        at_zero = float(np.interp(0.0, nodes, tables[sign]))
        if mean * sign <= 0 or at_zero <= 0:
            where = (
                f"{mean:+.3g} on average" if mean * sign <= 0 else f"{sign * at_zero:+.3g} at w = 0"
            )
            raise FitError(
                f"{label} pulses move the weight the wrong way ({where} per pulse): check the "
                "direction column (are up and down swapped?)"
            )


def _wrong_way_devices(part: Steps, sign: int, min_steps: int = 10) -> tuple[int, int]:
    """(devices whose net change over their ``sign`` steps has the wrong sign, devices with at
    least ``min_steps`` such steps): a handful of steps is noise, not a direction."""
    counts = np.bincount(part.device, minlength=len(part.devices))
    net = np.bincount(part.device, weights=part.dw, minlength=len(part.devices))
    measured = counts >= min_steps
    return int(np.count_nonzero(measured & (net * sign < 0))), int(np.count_nonzero(measured))


@dataclass(frozen=True)
class WrongWay:
    """A stretch of the range over which one direction's pulses move the weight the wrong way
    (:func:`wrong_way_stretches`)."""

    direction: int  # +1: up pulses lower the weight; -1: down pulses raise it
    low: float
    high: float
    step: float  # the smoothed mean step furthest the wrong way (weight units, as measured)
    at: float  # where
    n_pulses: int  # pulses of that direction whose weight before lies in the stretch
    pulses: str  # the first few of them, as "device d3 pulses 41-45"

    def describe(self) -> str:
        label = "up" if self.direction == 1 else "down"
        verb = "lower" if self.direction == 1 else "raise"
        return (
            f"{label} pulses {verb} the weight for w in [{self.low:.3g}, {self.high:.3g}] "
            f"(mean step {self.step:+.3g} per pulse at w = {self.at:.3g}; {self.n_pulses} "
            f"{label} pulses start there: {self.pulses})"
        )


def _pulse_rows(part: Steps, keep: np.ndarray, shown: int = 3) -> str:
    """The first ``shown`` runs of consecutive pulse indices among the steps ``keep`` selects,
    per device, as a reader finds them in the file: ``device d3 pulses 41-45``."""
    if part.pulse is None:
        return "steps given without pulse indices"
    device, pulse = part.device[keep], part.pulse[keep]
    order = np.lexsort((pulse, device))
    device, pulse = device[order], pulse[order]
    breaks = np.flatnonzero((np.diff(device) != 0) | (np.diff(pulse) != 1)) + 1
    starts, ends = np.r_[0, breaks], np.r_[breaks, len(pulse)] - 1
    runs = []
    for first, last in zip(starts[:shown], ends[:shown], strict=True):
        span = f"pulse {pulse[first]}" if first == last else f"pulses {pulse[first]}-{pulse[last]}"
        runs.append(f"device {part.devices[int(device[first])]} {span}")
    return ", ".join(runs) + (", ..." if len(starts) > shown else "")


def wrong_way_stretches(
    part: Steps,
    sign: int,
    binned: Binned,
    table: np.ndarray,
    error: np.ndarray,
    nodes: np.ndarray,
    peak: float,
    bandwidth: float,
    min_count: int,
) -> list[WrongWay]:
    """Where the ``sign`` pulses (+1 up, -1 down) move the weight the wrong way over part of
    the range: runs of table nodes whose smoothed mean magnitude ``table`` (``sign`` times the
    step) is below ``-max(WRONG_WAY_Z * error, WRONG_WAY_FLOOR * peak)``, at least
    ``bandwidth`` wide, holding at least :data:`WRONG_WAY_BINS` bins of ``min_count`` steps or
    more whose mean is wrong-way (the rule in the module docstring)."""
    wrong = table < -np.maximum(WRONG_WAY_Z * error, WRONG_WAY_FLOOR * peak)
    found = []
    i = 0
    while i < len(wrong):
        if not wrong[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(wrong) and wrong[j + 1]:
            j += 1
        low, high = float(nodes[i]), float(nodes[j])
        enough = binned.count >= min_count
        inside = (binned.centers >= low) & (binned.centers <= high) & enough
        if high - low >= bandwidth and np.count_nonzero(inside & (binned.mean < 0)) >= (
            WRONG_WAY_BINS
        ):
            worst = i + int(np.argmin(table[i : j + 1]))
            keep = (part.w >= low) & (part.w <= high)
            found.append(
                WrongWay(
                    direction=sign,
                    low=low,
                    high=high,
                    step=float(sign * table[worst]),
                    at=float(nodes[worst]),
                    n_pulses=int(np.count_nonzero(keep)),
                    pulses=_pulse_rows(part, keep),
                )
            )
        i = j + 1
    return found


def fit_steps(
    steps: Steps, name: str, options: FitOptions | None = None, *, allow_wrong_way: bool = False
) -> FittedResponse:
    """Fit q+-(w), ``dw_min``, cycle-to-cycle noise and device-to-device spread to ``steps``.

    Pulses that move the weight the wrong way over part of the range are refused with a
    :class:`FitError` naming the stretch and its pulses, unless ``allow_wrong_way`` (the device
    really behaves so): the fit then holds q at its floor there and says so in ``notes``."""
    options = options or FitOptions()
    if not 2 <= options.nodes <= MAX_NODES:
        raise FitError(f"nodes={options.nodes}: aihwkit's tables take 2 to {MAX_NODES}")
    up, down = steps.select(1), steps.select(-1)
    if len(up) < options.min_count * 4 or len(down) < options.min_count * 4:
        raise FitError(f"too few steps: {len(up)} up and {len(down)} down")
    lo, hi = _fit_range(up, down, options)
    edges = np.linspace(lo, hi, options.bins + 1)
    bandwidth = options.bandwidth * (hi - lo)
    nodes = np.linspace(lo, hi, options.nodes)
    binned, tables, errors = {}, {}, {}
    for sign, part in ((1, up), (-1, down)):
        dw = part.dw * sign  # down steps as positive magnitudes
        binned[sign] = bin_steps(part.w, dw, edges)
        if np.count_nonzero(binned[sign].count >= options.min_count) < 3:
            raise FitError("fewer than 3 bins hold enough steps; use fewer --bins")
        tables[sign], errors[sign] = smooth(binned[sign], nodes, bandwidth, options.min_count)
    _check_directions(up, down, nodes, tables)
    largest = max(float(np.max(tables[1])), float(np.max(tables[-1])))
    stretches = [
        stretch
        for sign, part in ((1, up), (-1, down))
        for stretch in wrong_way_stretches(
            part,
            sign,
            binned[sign],
            tables[sign],
            errors[sign],
            nodes,
            largest,
            bandwidth,
            options.min_count,
        )
    ]
    if stretches and not allow_wrong_way:
        raise FitError(
            "; ".join(s.describe() for s in stretches)
            + ": the fit would hold q at its floor there. Check the direction labels and the "
            "weight mapping, or pass --allow-wrong-way (allow_wrong_way=True) if the device "
            "really behaves so"
        )
    dw_min = float((np.interp(0.0, nodes, tables[1]) + np.interp(0.0, nodes, tables[-1])) / 2)
    if not dw_min > 0:
        raise FitError(f"the mean step at w = 0 is {dw_min:.3g}: not a device that moves up/down")
    q = {s: tables[s] / dw_min for s in tables}
    peak = max(q[1].max(), q[-1].max())
    q_up, q_down = np.clip(q[1], Q_FLOOR * peak, None), np.clip(q[-1], Q_FLOOR * peak, None)

    scales, c2c_parts, quality = {}, [], {}
    for sign, part in ((1, up), (-1, down)):
        table = tables[sign]
        inside = (part.w >= lo) & (part.w <= hi)
        kept = part.subset(inside)
        magnitudes = replace(kept, dw=kept.dw * sign)
        scales[sign] = _device_scales(magnitudes, partial(np.interp, xp=nodes, fp=table))
        m = np.interp(magnitudes.w, nodes, table)
        expected = (np.nan_to_num(scales[sign][0])[magnitudes.device] * m) ** 2
        c2c_parts.append((float(np.sum(scales[sign][2] ** 2)), float(np.sum(expected))))
        b = binned[sign]
        use = b.count >= options.min_count
        fitted = np.interp(b.centers[use], nodes, table)
        label = "up" if sign == 1 else "down"
        quality[f"rms_residual_{label}"] = float(
            np.sqrt(np.mean((b.mean[use] - fitted) ** 2)) / (dw_min * peak)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (b.mean[use] - fitted) / b.se[use]
        quality[f"chi2_per_bin_{label}"] = float(np.nanmean(z[np.isfinite(z)] ** 2))
        quality[f"max_standard_error_{label}"] = float(np.max(errors[sign]) / (dw_min * peak))
    c2c = math.sqrt(sum(r for r, _ in c2c_parts) / sum(e for _, e in c2c_parts))
    (a_up, v_up, _), (a_down, v_down, _) = scales[1], scales[-1]
    n_dev = len(steps.devices)
    dtod = up_down = 0.0
    if n_dev >= 3:
        mean_scale = float(np.nanmean((a_up + a_down) / 2))
        dtod = _spread((a_up + a_down) / 2, (v_up + v_down) / 4) / mean_scale
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.log(a_up / a_down)
            log_var = v_up / a_up**2 + v_down / a_down**2
        up_down = _spread(log_ratio, log_var)
    return FittedResponse(
        name=name,
        nodes=nodes,
        q_up=q_up,
        q_down=q_down,
        dw_min=dw_min,
        c2c_noise=c2c,
        dw_min_dtod=dtod,
        up_down_dtod=up_down,
        n_devices=n_dev,
        n_steps=len(steps),
        mapping=steps.mapping,
        binned_up=binned[1],
        binned_down=binned[-1],
        se_up=errors[1] / dw_min,
        se_down=errors[-1] / dw_min,
        quality=quality,
        notes=tuple(f"{s.describe()}, fitted anyway (allow_wrong_way)" for s in stretches),
    )
