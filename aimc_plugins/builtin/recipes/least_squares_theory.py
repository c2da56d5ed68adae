"""Predict, before training, where Analog SGD ends on a least-squares problem and at what loss.

Wu et al. (arXiv 2502.06309; docs/theory.md, sections 3 and 8) show that Analog SGD behaves like
SGD on ``f(W) + <Sigma, R_c(W)>`` with ``Sigma = E|grad f(W*; xi)|`` taken at the minimiser of
``f``. Minimising that objective gives a *predicted limit point* and its excess loss
``f(W_pred) - f(W*)``, the *predicted floor*, from the data and the device's mean response alone.
This module computes:

- :func:`predict`: the theorem's prediction (``Sigma`` at ``W*``), and a self-consistent
  refinement that evaluates ``Sigma`` at the limit point itself. The theorem is first order in
  the bias; the exact stationarity condition of the expected dynamics at small rate is
  ``grad f(W) + E|grad f(W; xi)| R(W) = 0``, whose ``Sigma`` is taken where the iterates are. At
  large asymmetry the two differ (the table in docs/theory.md shows by how much), so both are
  reported rather than the refinement silently replacing the theorem.
- the *iterate's* floor: the limit point's excess loss plus the stationary spread of
  constant-rate SGD around it (``lr/4 sum F Var(grad)``) and of the pulse trains
  (``step/4 sum F Sigma``). This is standard small-rate SGD analysis, not the paper's result; the
  recipe's ``loss`` is the iterate's, so it is what a user reads off a curve.
- :func:`diagnose_assumptions`: how far a setting is from the theorem's assumptions (pulses per
  update, updates clipped by the pulse budget, weights near a bound, steps per relaxation time),
  measured on the same data, so a failed prediction can be traced to the assumption it breaks.

The response used is the one aihwkit runs: the registered device adapted exactly as a sweep
adapts it, then derived back from the aihwkit config
(:func:`aimc_plugins.devices.config_response.response_of`), so a PiecewiseStep table's error or
a constant folded into ``dw_min`` is in the prediction too. Gradient statistics are exact
expectations over the data set for single-sample batches (the benchmark's setting) and Monte
Carlo otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor

from aimc_plugins.builtin.recipes.least_squares import Data
from aimc_plugins.devices import reference_dynamics as rd
from aimc_plugins.devices.build import adapted_device
from aimc_plugins.devices.config_response import response_of
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.host import plugins

MONTE_CARLO_BATCHES = 4000  # mini-batches drawn for Sigma when batches hold several samples
SELF_CONSISTENT_ROUNDS = 30
SELF_CONSISTENT_TOL = 1e-7  # max change of W between rounds that counts as converged


class NotConverged(RuntimeError):
    """The minimiser of the implicit objective did not settle (its stationarity residual stayed
    above the tolerance): a prediction from it would be a guess."""


@dataclass(frozen=True)
class DeviceModel:
    """The mean device a run trains: its response ``q+-`` relative to the aihwkit config's
    ``dw_min`` (so a request ``dw`` moves the weight by ``dw q+-(w)`` on average, as the
    compiled core applies it) and that ``step``, one pulse's nominal size."""

    response: rd.Response
    step: float
    name: str = ""


def _numpy_q(q: Callable[[np.ndarray], np.ndarray], w: Tensor) -> Tensor:
    return torch.as_tensor(np.asarray(q(w.detach().cpu().numpy()), dtype=float), dtype=w.dtype)


def model_of(device: ResponseDevice) -> DeviceModel:
    """A :class:`~aimc_plugins.devices.response.ResponseDevice` as a torch response."""
    response = rd.Response(
        q_plus=partial(_numpy_q, device.q_up),
        q_minus=partial(_numpy_q, device.q_down),
        w_min=float(device.w_min),
        w_max=float(device.w_max),
    )
    return DeviceModel(response, device.step, device.name)


def device_model(name: str, params: Mapping[str, Any] | None = None) -> DeviceModel:
    """The mean device aihwkit trains for registered device ``name`` at ``params``: adapted by
    :func:`~aimc_plugins.devices.build.adapted_device` (the sweep's own path, cached) and read
    back from the aihwkit config, never from the plugin's declared formula."""
    config = adapted_device(plugins.registry.device(name), params or {}).device
    return model_of(response_of(config, name))


def gradient_moments(data: Data, w: Tensor, seed: int = 12345) -> tuple[Tensor, Tensor]:
    """``(E|g|, Var g)`` of the stochastic gradient ``g = grad f(W; xi)`` at ``w``, elementwise.

    With one sample per batch (drawn uniformly, as :meth:`Data.batch_index` draws) both are exact
    means over the data set; with ``b`` samples the variance is the per-sample one over ``b`` and
    ``E|g|`` is estimated from :data:`MONTE_CARLO_BATCHES` draws. A full batch has no noise."""
    residual = data.x @ w.T - data.y  # (n, d_out)
    n = len(data.x)
    per_sample_mean = residual.T @ data.x / n
    second = (residual**2).T @ data.x**2 / n
    variance = (second - per_sample_mean**2).clamp(min=0.0)
    if data.batch_size >= n:
        return torch.zeros_like(w), torch.zeros_like(w)
    if data.batch_size == 1:
        return residual.abs().T @ data.x.abs() / n, variance
    return data.gradient_noise(w, MONTE_CARLO_BATCHES, seed), variance / data.batch_size


def minimise(
    data: Data, sigma: Tensor, response: rd.Response, w0: Tensor, tol: float = 1e-9
) -> Tensor:
    """The minimiser of ``f + <sigma, R_c>`` by :func:`reference_dynamics.penalised_minimiser`
    (gradient descent on ``grad f + sigma R``), with a step set from the curvature so that it
    converges for steep responses too, and a check that it did."""
    n = len(data.x)
    curvature = float(torch.linalg.eigvalsh(data.x.T @ data.x / n).max())
    grid = torch.linspace(response.w_min, response.w_max, 2001, dtype=torch.float64)
    ratio = response.ratio(grid[1:-1])
    steepness = float((ratio.diff().abs() / grid.diff()[0]).max())
    lr = 0.9 / (curvature + float(sigma.max()) * steepness)
    w = rd.penalised_minimiser(data.gradient, sigma, response, w0, lr=lr, n_steps=200000, tol=tol)
    residual = data.gradient(w) + sigma * response.ratio(w)
    inside = (w > response.w_min + 1e-9) & (w < response.w_max - 1e-9)
    worst = float(residual[inside].abs().max()) if bool(inside.any()) else 0.0
    if worst > 1e3 * tol / lr:
        raise NotConverged(f"implicit objective: stationarity residual {worst:.3g} after descent")
    return w


def ridge(data: Data, sigma: Tensor, tau: float) -> Tensor:
    """Closed form of the symmetric linear case: ``f + sum sigma w^2 / (2 tau)`` is ridge
    regression with one penalty per weight, solved row by row (each output's weights see their
    own ``sigma / tau`` on the diagonal)."""
    n = len(data.x)
    gram = data.x.T @ data.x / n
    target = data.y.T @ data.x / n  # (d_out, d_in)
    rows = [
        torch.linalg.solve(gram + torch.diag(sigma[i] / tau), target[i]) for i in range(len(sigma))
    ]
    return torch.stack(rows)


@dataclass(frozen=True)
class Prediction:
    """What the implicit-objective theorem predicts for one problem and device.

    ``floor`` is ``f(W_pred) - f(W*)`` with ``Sigma`` at ``W*`` (the theorem);
    ``self_consistent_floor`` the same with ``Sigma`` at the limit point;
    ``noise_floor`` the stationary excess of the iterate around the limit point (SGD's and the
    pulse trains' spread), so that ``iterate_floor`` is what the recipe's ``loss`` should read.
    """

    sigma: Tensor
    w_pred: Tensor
    floor: float
    w_self_consistent: Tensor
    self_consistent_floor: float
    noise_floor: float

    @property
    def iterate_floor(self) -> float:
        return self.self_consistent_floor + self.noise_floor


def noise_floor(data: Data, model: DeviceModel, w: Tensor, lr: float) -> float:
    """Stationary excess loss of constant-rate Analog SGD around ``w`` (first order in ``lr``).

    For ``W <- W - lr D (H (W - W_lim) + noise)`` with ``D = diag F`` the stationary excess is
    ``tr(D^-1 V) / (4 lr)`` for per-step update covariance ``V``. SGD's noise gives
    ``V = lr^2 D S D`` (``S = Var g``); a pulse train of ``n`` pulses with ``E n = lr|g| / step``
    adds about ``E n (step F)^2`` (Poisson count; aihwkit's Bernoulli slots give a little less).
    """
    sigma, variance = gradient_moments(data, w)
    f = model.response.symmetric_part(w)
    return float((lr * f * variance).sum() / 4 + (model.step * f * sigma).sum() / 4)


def predict(data: Data, model: DeviceModel, lr: float) -> Prediction:
    """The theorem's limit point and floor for ``data`` on ``model`` at rate ``lr``, and the
    self-consistent refinement (``Sigma`` re-evaluated at the limit point until it settles)."""
    sigma, _ = gradient_moments(data, data.w_star)
    w_pred = minimise(data, sigma, model.response, data.w_star)
    w = w_pred
    for _ in range(SELF_CONSISTENT_ROUNDS):
        moved = minimise(data, gradient_moments(data, w)[0], model.response, w)
        change = float((moved - w).abs().max())
        w = moved
        if change < SELF_CONSISTENT_TOL:
            break
    else:
        raise NotConverged("self-consistent Sigma did not settle")
    return Prediction(
        sigma=sigma,
        w_pred=w_pred,
        floor=data.loss(w_pred),
        w_self_consistent=w,
        self_consistent_floor=data.loss(w),
        noise_floor=noise_floor(data, model, w, lr),
    )


@dataclass(frozen=True)
class Assumptions:
    """How closely one setting meets the theorem's assumptions, at the predicted limit point.

    - ``pulses``: mean pulses one gradient update asks of a weight (``lr E|g| / step``); below 1
      most updates are smaller than one pulse and only happen by chance (quantisation).
    - ``clipped``: fraction of updates whose largest request exceeds ``max_bl`` pulses, so that
      aihwkit's update management truncates it (the pulse-budget assumption).
    - ``bound``: largest ``|W_pred|`` as a fraction of the way to the nearer bound (1: at it).
    - ``relaxations``: training steps per slowest relaxation time ``1 / (lr min F lambda_min)``
      of the linearised dynamics; a few means the run has not reached its floor.
    - ``sigma_growth``: mean ``Sigma`` at the limit point over mean ``Sigma`` at ``W*``, minus 1:
      how wrong the theorem's first-order choice of ``Sigma`` at ``W*`` is for this setting
      (the gap between its floor and the self-consistent one grows with it).
    """

    pulses: float
    clipped: float
    bound: float
    relaxations: float
    sigma_growth: float


def diagnose_assumptions(
    data: Data, model: DeviceModel, prediction: Prediction, lr: float, max_bl: int, n_steps: int
) -> Assumptions:
    w = prediction.w_self_consistent
    sigma, _ = gradient_moments(data, w)
    pulses = float((lr * sigma).mean()) / model.step
    # aihwkit updates per sample (x, d) with d the output error of the mean loss: d / batch
    residual = (data.x @ w.T - data.y) / max(min(data.batch_size, len(data.x)), 1)
    request = lr * data.x.abs().max(dim=1).values * residual.abs().max(dim=1).values
    clipped = float((request > max_bl * model.step).double().mean())
    response = model.response
    centre = 0.5 * (response.w_min + response.w_max)
    half = 0.5 * (response.w_max - response.w_min)
    bound = float(((w - centre).abs() / half).max())
    n = len(data.x)
    lowest = float(torch.linalg.eigvalsh(data.x.T @ data.x / n).min())
    f_min = float(response.symmetric_part(w).min())
    relaxations = n_steps * lr * f_min * lowest
    sigma_growth = float(sigma.mean() / prediction.sigma.mean()) - 1.0
    return Assumptions(pulses, clipped, bound, relaxations, sigma_growth)
