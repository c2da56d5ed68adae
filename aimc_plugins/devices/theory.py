"""What the theory predicts of a device from its response alone, before any training.

Wu et al. (arXiv 2502.06309; docs/theory.md, sections 3 and 4) show that Analog SGD behaves like
exact SGD on ``f(W) + <Sigma, R_c(W)>`` and that its error floor grows with
``S_K = mean_k ||G(W_k) / sqrt(F(W_k))||_inf^2`` over the iterates ``W_k``. Both need only the
response (``F``, ``G``, ``R_c`` from :func:`~aimc_plugins.devices.diagnostics.diagnose`) and the
weights the device holds. Without training the iterates are unknown; this module evaluates the
figures on a weight sample the caller supplies (a recipe's initial weights, in device units) and
says so in every record.

Why ``S_K`` ranks devices: the floor is ``Sigma^2``-times ``S_K`` (up to constants), and
``Sigma = E|grad f(W_opt; xi)|`` depends on the loss, the data and the batch, not on the device.
Every device trained on one recipe shares it, so it scales all floors alike and drops out of the
order. The penalty per unit ``Sigma`` (``R_c`` averaged over the weights) is reported beside it,
as the strength of the pull towards the symmetric point.

``S_K`` is made scale-free: a constant factor on ``q+-`` is a learning rate (which tuning
absorbs), yet it multiplies ``G^2 / F``; so the response is first divided by ``F`` at the median
weight (:attr:`Prediction.step_scale`, where the network's weights sit), the same rule for a
plugin's declared response and an aihwkit config's, whatever units their steps are given in.
``R = G / F`` and so the penalty are scale-free already.

For residual learning the prediction is a yes/no: the residual array drifts to its own symmetric
point, so a floor is predicted unless that point is 0 (to within half a pulse, ``dw_min / 2``,
below which no pulse can tell it from 0); a response whose ``G`` keeps one sign over the range
has no symmetric point, drifts to a bound, and has a floor for certain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from aimc_plugins.devices.diagnostics import GRID_POINTS, Diagnostics, diagnose
from aimc_plugins.devices.response import ResponseDevice

RANKING_SCALAR = "S_K"
RANKING_RULE = (
    "Ranked by S_K = max over the weights of (G(w) / sqrt(F(w)))^2 (the response scaled to F = 1 "
    "at the median weight, since a constant factor on q+- is a learning rate), lowest first: the "
    "theory's "
    "error floor of Analog SGD is proportional to Sigma^2 S_K, and Sigma (the gradient noise at "
    "the optimum) belongs to the recipe, not the device, so it is common to every device here "
    "and does not change the order. Lower S_K: lower predicted floor, better final metric. "
    "Where the recipe provides its network trained in floating point, devices are ranked by the "
    "predicted excess loss instead: the asymmetry's floor S_K / (2B) (batch B) plus what the "
    "device's write noise costs that network, measured (docs/theory.md section 10); without "
    "write noise it is the S_K order."
)


@dataclass(frozen=True)
class Prediction:
    """The theory's figures for one device on one weight sample.

    Units: weights, ranges and the symmetric point are in device units (the weight the tile
    stores); ``penalty_*`` are per unit Sigma and so in weight units (``R`` is dimensionless,
    ``R_c`` its integral over w), the penalty itself being ``Sigma * penalty`` in units of the
    loss; ``penalty_curvature`` is ``R'(w*)`` in 1 / weight units (the ridge coefficient of the
    penalty near w*: ``1 / tau`` for the symmetric linear device, ``1 / (tau (1 - c^2))`` with
    asymmetry ``c``); ``s_k*`` are dimensionless, of the response divided by ``step_scale``
    (``F`` at the median weight), so that a constant factor on ``q+-`` (a learning rate) does not
    change them.
    """

    device: str
    w_min: float
    w_max: float
    dw_min: float
    symmetric_point: float | None  # None: no single symmetric point (G = 0 nowhere or twice)
    symmetric_point_offset: float | None  # w* over half the range (linear asymmetric: c)
    symmetric_everywhere: bool
    n_weights: int
    weight_min: float
    weight_max: float
    clipped_fraction: float  # share of the sample outside the range, clipped onto it
    penalty_mean: float | None  # mean of R_c(w) over the weights, per unit Sigma
    penalty_max: float | None  # largest R_c(w) over the weights, per unit Sigma
    penalty_curvature: float | None  # R'(w*)
    s_k: float  # max over the weights of (G / sqrt(F))^2: the ranking scalar
    s_k_mean: float  # mean over the weights of (G / sqrt(F))^2, a typical weight's share
    s_k_range: float  # max over the whole range: the worst case
    residual_floor: bool | None  # as a residual device, unshifted: is a floor predicted?
    step_scale: float = 1.0  # F at the median weight: q+- were divided by it for the S_K figures
    # Over the device-to-device distribution (aimc_plugins.devices.spread), where the aihwkit
    # config was given: each device's S_K, averaged (the ranking figure) and its 90th percentile;
    # the share of devices with no symmetric point in their range (each drifts to a bound)
    s_k_devices: float | None = None
    s_k_devices_high: float | None = None
    floor_fraction: float | None = None
    n_devices: int = 0
    # the 10th and 90th percentiles of the devices' own symmetric points (those that have one)
    symmetric_point_p10: float | None = None
    symmetric_point_p90: float | None = None
    # The update's noise, from the config: relative cycle-to-cycle spread of a step, write noise
    # in weight units, states over the range (docs/theory.md: their floors, measured negligible)
    c2c: float | None = None
    write_noise: float | None = None
    states: float | None = None
    # What write noise costs the recipe's trained network (loss units), and the recipe's batch
    # size, where the recipe provides one (aimc_plugins.training.noise_cost)
    write_noise_loss: float | None = None
    batch_size: int | None = None

    @property
    def excess_loss(self) -> float | None:
        """The predicted excess loss, ``S_K / (2B)`` plus write noise's measured cost; None
        without the recipe's trained network."""
        if self.write_noise_loss is None or not self.batch_size:
            return None
        return self.s_k / (2.0 * self.batch_size) + self.write_noise_loss

    @property
    def ranking_figure(self) -> float:
        """What the order is by: the predicted excess loss where known, else ``S_K``."""
        excess = self.excess_loss
        return excess if excess is not None else self.s_k

    @property
    def s_k_spread(self) -> float:
        """``S_K`` over the device-to-device distribution where it was measured, else the mean
        device's: shown beside the ranking, not ranked by (measured, it did not order held-out
        devices better: docs/theory.md section 10)."""
        return self.s_k_devices if self.s_k_devices is not None else self.s_k

    @property
    def residual_floor_text(self) -> str:
        """In words, for tables: whether residual learning without zero shift has a floor."""
        if self.residual_floor is None:
            return "unknown: several symmetric points"
        if self.residual_floor and self.symmetric_point is None:
            return "yes: no symmetric point in the range, the residual array drifts to a bound"
        if self.residual_floor:
            return f"yes: w* = {self.symmetric_point:.4g} is off 0"
        return "no: w* = 0"

    def data(self) -> dict[str, object]:
        """JSON-ready, with the residual verdict in words beside its flag."""
        return {
            **asdict(self),
            "residual_floor_text": self.residual_floor_text,
            "excess_loss": self.excess_loss,
            "ranking_figure": self.ranking_figure,
        }


def residual_floor(symmetric_point: float | None, dw_min: float) -> bool | None:
    """Whether a residual array whose device settles at ``symmetric_point`` leaves an error
    floor: yes when the point is off 0 by half a pulse or more (closer, no pulse resolves it),
    ``None`` when there is no single point to settle at."""
    if symmetric_point is None:
        return None
    return bool(abs(symmetric_point) >= dw_min / 2.0)


def floor_of(diag: Diagnostics) -> tuple[float | None, bool | None]:
    """``(w*, floor)`` of a residual device from its diagnosis: the point its residual array
    settles at (0 for a symmetric device) and whether that leaves a floor; a ``G`` of one sign
    over the range (no root) drifts the array to a bound, a floor for certain; several roots:
    ``(None, None)``, no single prediction."""
    if diag.symmetric_everywhere:
        return 0.0, False
    point = diag.symmetric_point
    if point is not None:
        return point, residual_floor(point, diag.dw_min)
    return None, (True if not diag.symmetric_points else None)


def _at(diag: Diagnostics, values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A grid quantity of ``diag`` at the weights ``w`` (linear interpolation on the grid)."""
    return np.interp(w, diag.w, values)


def _slope_at(diag: Diagnostics, point: float) -> float:
    """``R'(point)``: the derivative of R on the grid, at ``point``."""
    finite = np.isfinite(diag.R)
    if finite.sum() < 2:
        return math.nan
    slope = np.gradient(np.where(finite, diag.R, 0.0), diag.w)
    return float(np.interp(point, diag.w[finite], slope[finite]))


def predict(
    device: ResponseDevice,
    weights: np.ndarray | Sequence[float],
    points: int = GRID_POINTS,
    config: Any = None,
) -> Prediction:
    """The theory's figures of ``device`` on ``weights`` (any shape, device units).

    With ``config`` (the aihwkit device config a run trains: a preset's, or the adapter's for a
    response device), the figures are also taken over its device-to-device distribution, on
    devices read off aihwkit's own tile (:func:`aimc_plugins.devices.spread.device_spread`),
    and the update-noise figures are read from it.

    Weights outside the device's range are clipped onto it (as a tile clips what is written to
    it) and counted in ``clipped_fraction``. Everything is read off one
    :func:`~aimc_plugins.devices.diagnostics.diagnose` of the device, so the symmetric point and
    ``R_c`` are the same numbers ``aimc show`` prints.
    """
    w = np.asarray(weights, dtype=float).ravel()
    if w.size == 0 or not np.all(np.isfinite(w)):
        raise ValueError(f"device {device.name!r}: a prediction needs finite weights, got {w.size}")
    diag = diagnose(device, points)
    lo, hi = float(diag.w[0]), float(diag.w[-1])
    inside = np.clip(w, lo, hi)
    clipped = float(np.mean((w < lo) | (w > hi)))
    scale = float(np.interp(np.median(inside), diag.w, diag.F))
    if not scale > 0.0:  # the median weight sits where F vanishes: the largest step instead
        scale = float(np.max(diag.F))
    with np.errstate(divide="ignore", invalid="ignore"):
        figure = np.where(diag.F > 0.0, diag.G**2 / diag.F, np.nan) / scale
    finite = np.isfinite(figure)
    at_weights = np.interp(inside, diag.w[finite], figure[finite])
    point, floor = floor_of(diag)
    offset = None if point is None else point / ((hi - lo) / 2.0)
    penalty_mean = penalty_max = curvature = None
    if diag.R_c is not None:
        penalty = _at(diag, diag.R_c, inside)
        penalty_mean, penalty_max = float(penalty.mean()), float(penalty.max())
        curvature = _slope_at(diag, 0.0 if point is None else point)
    spread: dict[str, Any] = {}
    if config is not None:
        from aimc_plugins.devices.spread import device_spread, has_variation, noise_figures

        spread = {"floor_fraction": 0.0, **noise_figures(config, lo, hi)}
        found = None
        if has_variation(config):  # else every device is the mean device, computed exactly
            found = device_spread(device.name, config, inside, lo, hi)
        if found is not None and math.isfinite(found.s_k_mean):
            spread |= {
                "s_k_devices": found.s_k_mean,
                "s_k_devices_high": found.s_k_high,
                "floor_fraction": found.floor_fraction,
                "n_devices": found.n_devices,
                "symmetric_point_p10": found.symmetric_point_p10,
                "symmetric_point_p90": found.symmetric_point_p90,
            }
    return Prediction(
        device=device.name,
        w_min=lo,
        w_max=hi,
        dw_min=diag.dw_min,
        symmetric_point=point,
        symmetric_point_offset=offset,
        symmetric_everywhere=diag.symmetric_everywhere,
        n_weights=int(w.size),
        weight_min=float(w.min()),
        weight_max=float(w.max()),
        clipped_fraction=clipped,
        penalty_mean=penalty_mean,
        penalty_max=penalty_max,
        penalty_curvature=curvature,
        s_k=float(at_weights.max()),
        s_k_mean=float(at_weights.mean()),
        s_k_range=float(np.nanmax(figure)),
        residual_floor=floor,
        step_scale=scale,
        **spread,
    )


def ranked(predictions: Sequence[Prediction]) -> list[Prediction]:
    """``predictions`` in the order the theory predicts for Analog SGD, best first: lowest
    :attr:`~Prediction.ranking_figure` (see :data:`RANKING_RULE`), ties broken by the weaker
    mean penalty."""

    by_excess = bool(predictions) and all(p.excess_loss is not None for p in predictions)

    def key(p: Prediction) -> tuple[float, float]:
        penalty = p.penalty_mean if p.penalty_mean is not None else math.inf
        figure = p.ranking_figure if by_excess else p.s_k  # one figure for all, never mixed
        return (figure, penalty)

    return sorted(predictions, key=key)
