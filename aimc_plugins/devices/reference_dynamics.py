"""The paper's expected dynamics in plain PyTorch: a reference to validate aihwkit runs against.

Wu et al. (arXiv 2502.06309) analyse training through the *expected* update of a device,
``U(w, dw) = w + dw q+(w)`` for ``dw >= 0`` and ``w + dw q-(w)`` otherwise: no pulse
quantisation, no cycle-to-cycle noise, no periphery. On a small problem aihwkit's pulsed
simulation should follow these dynamics on average; when it does not, one of the two is wrong.

Everything here works elementwise on tensors of any shape, so one :class:`Response` describes a
whole array of identical devices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from aimc_plugins.devices.diagnostics import find_symmetric_point

Gradient = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Response:
    """A device's response: step factors ``q+(w)`` (up) and ``q-(w)`` (down) on ``[w_min, w_max]``.

    ``shift`` reads the device against a reference conductance at ``shift``: the array stores
    ``w + shift`` and reports ``w``, so the response seen is ``q±(w + shift)`` on the range moved
    by ``-shift``. Shifting by the symmetric point is the zero shift of residual learning.
    """

    q_plus: Callable[[Tensor], Tensor]
    q_minus: Callable[[Tensor], Tensor]
    w_min: float
    w_max: float
    shift: float = 0.0

    def up(self, w: Tensor) -> Tensor:
        return self.q_plus(w + self.shift)

    def down(self, w: Tensor) -> Tensor:
        return self.q_minus(w + self.shift)

    def symmetric_part(self, w: Tensor) -> Tensor:
        """``F(w) = (q-(w) + q+(w)) / 2``."""
        return 0.5 * (self.down(w) + self.up(w))

    def asymmetric_part(self, w: Tensor) -> Tensor:
        """``G(w) = (q-(w) - q+(w)) / 2``; zero at the symmetric point."""
        return 0.5 * (self.down(w) - self.up(w))

    def ratio(self, w: Tensor) -> Tensor:
        """``R(w) = G(w) / F(w)``, the derivative of the implicit penalty ``R_c``."""
        return self.asymmetric_part(w) / self.symmetric_part(w)

    def symmetric_point(self) -> float:
        """``w*`` with ``G(w*) = 0`` on this (possibly shifted) range, found by the project's one
        root finder, :func:`aimc_plugins.devices.diagnostics.find_symmetric_point`."""

        def asymmetry(w: float) -> float:
            return float(self.asymmetric_part(torch.tensor(w, dtype=torch.float64)))

        return find_symmetric_point(asymmetry, self.w_min - self.shift, self.w_max - self.shift)

    def zero_shifted(self) -> Response:
        """The same device read against a reference at its symmetric point: ``G(0) = 0``.

        Only the offset is added here; the point comes from :meth:`symmetric_point`, so the
        zero shift of this torch reference and of
        :func:`aimc_plugins.devices.diagnostics.zero_shifted`
        agree by construction."""
        return dataclasses.replace(self, shift=self.shift + self.symmetric_point())

    def clamp(self, w: Tensor) -> Tensor:
        return w.clamp(self.w_min - self.shift, self.w_max - self.shift)


def asymmetric_linear(c: float, tau: float) -> Response:
    """The paper's linear (soft-bounds) response with asymmetry ``c`` on ``[-tau, tau]``:
    ``q+ = (1 + c)(1 - w/tau)``, ``q- = (1 - c)(1 + w/tau)``, symmetric point ``c tau``."""
    return Response(
        q_plus=lambda w: (1 + c) * (1 - w / tau),
        q_minus=lambda w: (1 - c) * (1 + w / tau),
        w_min=-tau,
        w_max=tau,
    )


def expected_update(w: Tensor, dw: Tensor, response: Response) -> Tensor:
    """``U(w, dw)``: the mean effect of asking a device at ``w`` for a change ``dw``."""
    factor = torch.where(dw >= 0, response.up(w), response.down(w))
    return response.clamp(w + dw * factor)


@dataclass(frozen=True)
class Trajectory:
    """Final arrays and the loss recorded along the way (``losses[i]`` after ``steps[i]``)."""

    w: Tensor
    p: Tensor | None
    steps: tuple[int, ...]
    losses: tuple[float, ...]


def _record_every(n_steps: int, n_points: int) -> int:
    return max(n_steps // max(n_points, 1), 1)


def analog_sgd(
    grad: Gradient,
    loss: Callable[[Tensor], float],
    w0: Tensor,
    lr: float,
    n_steps: int,
    response: Response,
    n_points: int = 50,
) -> Trajectory:
    """Analog SGD in expectation: ``W <- U(W, -lr * grad(W))``.

    ``grad`` may be stochastic (a fresh mini-batch per call); ``loss`` is the full objective.
    """
    w = w0.clone()
    every = _record_every(n_steps, n_points)
    steps, losses = [0], [loss(w)]
    for step in range(1, n_steps + 1):
        w = expected_update(w, -lr * grad(w), response)
        if step % every == 0 or step == n_steps:
            steps.append(step)
            losses.append(loss(w))
    return Trajectory(w, None, tuple(steps), tuple(losses))


def residual_learning(
    grad: Gradient,
    loss: Callable[[Tensor], float],
    w0: Tensor,
    alpha: float,
    beta: float,
    gamma: float,
    n_steps: int,
    main: Response,
    residual: Response,
    n_points: int = 50,
) -> Trajectory:
    """Tiki-Taka / residual learning in expectation (Tiki-Taka v1 is ``gamma = 0``):
    ``P <- U_P(P, -alpha grad(W + gamma P))``, then ``W <- U_W(W, beta P)``.

    The recorded loss is that of ``W + gamma P``, the weight the network computes with (and what
    aihwkit's ``get_weights`` returns for a transfer compound)."""
    w = w0.clone()
    p = torch.zeros_like(w0)
    every = _record_every(n_steps, n_points)
    steps, losses = [0], [loss(w)]
    for step in range(1, n_steps + 1):
        p = expected_update(p, -alpha * grad(w + gamma * p), residual)
        w = expected_update(w, beta * p, main)
        if step % every == 0 or step == n_steps:
            steps.append(step)
            losses.append(loss(w + gamma * p))
    return Trajectory(w, p, tuple(steps), tuple(losses))


def penalised_minimiser(
    grad_f: Gradient,
    sigma: Tensor,
    response: Response,
    w0: Tensor,
    lr: float = 0.05,
    n_steps: int = 20000,
    tol: float = 1e-10,
) -> Tensor:
    """The minimiser of ``f(W) + <Sigma, R_c(W)>`` (Theorem 1's implicit objective of Analog
    SGD), by gradient descent on ``grad_f(W) + Sigma * R(W)``; ``R_c`` itself is never needed.
    """
    w = w0.clone()
    for _ in range(n_steps):
        step = lr * (grad_f(w) + sigma * response.ratio(w))
        w = response.clamp(w - step)
        if float(step.abs().max()) < tol:
            break
    return w
