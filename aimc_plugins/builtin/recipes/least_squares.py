"""The least-squares experiment of Wu et al. (arXiv 2502.06309, Figure 2), at any size.

A linear layer ``W`` (``d_out x d_in``) is fitted to ``y = W_opt x + noise`` by mini-batch SGD on
``f(W) = 1/2 mean ||W x - y||^2``, with ``x ~ N(0, I)`` and ``W_opt ~ N(0, 0.5^2)``. The label
noise makes the stochastic gradient nonzero at the optimum (``Sigma = E|grad f(W*; xi)| > 0``),
which is what turns a device's asymmetry into an error floor for Analog SGD (Theorem 1).
Devices are the paper's asymmetric linear response on ``[-tau, tau]``, built as aihwkit
``SoftBoundsDevice`` with everything but the asymmetry ``c`` switched off (no cycle-to-cycle
noise, no device-to-device variation), and the forward / backward passes are perfect, so that
only the update rule differs between optimizers.

The reported loss is the *excess* loss ``f(W) - f(W*)`` of the weight the layer uses; beside it
each record keeps the excess loss of the weight *averaged* over the last fifth of the steps so
far (``averaged_loss``), which locates Analog SGD's limit point rather than one noisy iterate
around it (what :mod:`~aimc_plugins.builtin.recipes.least_squares_theory` predicts).

Two sizes are defined here: :data:`SMALL` (the repository's quick check) and :data:`AUTHORS`, the
problem of the authors' published least-squares script (50 inputs, 1 output, 100 noiseless
samples, full-batch gradients, weights starting at 1, 1000 steps).

This module is the recipe and the experiment's definition only. An :class:`Experiment` (each
optimizer at each asymmetry ``c``, over seeds) is a sweep spec (:func:`experiment_spec`): the
device is the registered :data:`DEVICE` with parameters ``c``, ``tau``, ``dw_min`` (or any
registered devices the experiment names in ``devices``), so its runs go through the normal
engine and report, with a results store, resume, workers and ranked tables
(:mod:`aimc_plugins.api.least_squares` runs it; ``recipes/least_squares.py`` draws the paper's
figure from it).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch
from torch import Tensor

from aimc_plugins.builtin.recipes.schemas import (
    SMALL_PROBLEM,
    STEPS_PER_EPOCH,
    W_OPT_STD,
    least_squares_options,
)
from aimc_plugins.host.records import RunConfig, RunResult, TrainingSetup
from aimc_plugins.training.loop import notify_epoch, seed_everything


@dataclass(frozen=True)
class Problem:
    """Sizes and noise of one least-squares problem; the paper's Figure 2 is ``d_in=50,
    d_out=100`` (the defaults). ``batch_size >= n_samples`` means full-batch gradients (every
    sample each step, no sampling noise), as in the authors' script."""

    d_in: int = 50
    d_out: int = 100
    n_samples: int = 1000
    noise: float = 0.5
    batch_size: int = 1
    w_opt_std: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class LeastSquaresDevice:
    """The paper's device: range ``[-tau, tau]``, step ``dw_min`` at the symmetric point, and at
    most ``max_bl`` pulses per update."""

    tau: float = 3.5
    dw_min: float = 1e-4
    max_bl: int = 8


@dataclass
class Data:
    """A sampled problem with its exact minimiser ``w_star`` and minimum ``f_star``."""

    x: Tensor
    y: Tensor
    w_opt: Tensor
    w_star: Tensor
    f_star: float
    batch_size: int

    def objective(self, w: Tensor) -> float:
        residual = self.x @ w.T - self.y
        return 0.5 * float((residual**2).sum(dim=1).mean())

    def loss(self, w: Tensor) -> float:
        """Excess loss ``f(W) - f(W*)`` (never negative up to rounding)."""
        return max(self.objective(w) - self.f_star, 0.0)

    def gradient(self, w: Tensor, index: Tensor | None = None) -> Tensor:
        """``grad f`` on the samples ``index`` (all of them when ``None``)."""
        x, y = (self.x, self.y) if index is None else (self.x[index], self.y[index])
        return (x @ w.T - y).T @ x / len(x)

    def batch_index(self, generator: torch.Generator) -> Tensor | None:
        """The next mini-batch's sample indices (with replacement); ``None`` (all samples) when
        the batch is the whole data set, so that full-batch runs see the exact gradient."""
        if self.batch_size >= len(self.x):
            return None
        return torch.randint(len(self.x), (self.batch_size,), generator=generator)

    def sampler(self, seed: int) -> Any:
        """A stochastic gradient: each call draws a fresh mini-batch."""
        generator = torch.Generator().manual_seed(seed)

        def grad(w: Tensor) -> Tensor:
            return self.gradient(w, self.batch_index(generator))

        return grad

    def gradient_noise(self, w: Tensor, n_batches: int = 2000, seed: int = 12345) -> Tensor:
        """``Sigma = E|grad f(W; xi)|`` over mini-batches, elementwise (Monte Carlo)."""
        draw = self.sampler(seed)
        return sum(draw(w).abs() for _ in range(n_batches)) / n_batches


def make_data(problem: Problem) -> Data:
    generator = torch.Generator().manual_seed(problem.seed)
    x = torch.randn(problem.n_samples, problem.d_in, generator=generator, dtype=torch.float64)
    w_opt = problem.w_opt_std * torch.randn(
        problem.d_out, problem.d_in, generator=generator, dtype=torch.float64
    )
    noise = problem.noise * torch.randn(
        problem.n_samples, problem.d_out, generator=generator, dtype=torch.float64
    )
    y = x @ w_opt.T + noise
    w_star = torch.linalg.lstsq(x, y).solution.T
    data = Data(x, y, w_opt, w_star, 0.0, problem.batch_size)
    data.f_star = data.objective(w_star)
    return data


def soft_bounds_device(c: float, spec: LeastSquaresDevice) -> Any:
    """aihwkit's ``SoftBoundsDevice`` with the paper's asymmetric linear response
    ``q+ = (1+c)(1 - w/tau)``, ``q- = (1-c)(1 + w/tau)`` (steps ``dw_min q±``): ``c`` here is
    always the *paper's* asymmetry.

    aihwkit 1.1.0's compiled core keeps ``dw_min`` for the up direction and scales the down
    direction by ``1 - up_down`` (measured; its docstring says ``1 ± up_down``), hence
    ``dw_min (1 + c)`` and ``up_down = 2c / (1 + c)``. Conversely an aihwkit device with
    ``up_down = u`` is the paper's device at ``c = u / (2 - u)`` (docs/optimizers.md).
    """
    from aihwkit.simulator.configs import SoftBoundsDevice

    return SoftBoundsDevice(
        w_max=spec.tau,
        w_min=-spec.tau,
        dw_min=spec.dw_min * (1 + c),
        up_down=2 * c / (1 + c),
        dw_min_dtod=0.0,
        dw_min_std=0.0,
        up_down_dtod=0.0,
        w_max_dtod=0.0,
        w_min_dtod=0.0,
    )


def _ideal_periphery(rpu_config: Any, max_bl: int) -> Any:
    """Perfect reads, at most ``max_bl`` pulses per gradient update (the paper's setting)."""
    config = copy.deepcopy(rpu_config)
    config.forward.is_perfect = True
    config.backward.is_perfect = True
    config.update.desired_bl = max_bl
    transfer_forward = getattr(config.device, "transfer_forward", None)
    if transfer_forward is not None:
        transfer_forward.is_perfect = True
    return config


@dataclass(frozen=True)
class Curve:
    """Excess loss after each recorded step, and the final weight the layer uses (``None`` for
    a curve read back from a results store, which keeps the losses only).

    ``averaged`` is, at each recorded step, the excess loss of the *mean* weight over the last
    fifth of the steps so far (:func:`tail_mean`), and ``w_mean`` that mean at the end: the
    iterate fluctuates around Analog SGD's limit point, and only the mean locates the point
    itself (what docs/theory.md's prediction is compared with). Empty / ``None`` for a curve
    that does not have it (the reference dynamics, a store written before it was recorded).
    """

    steps: tuple[int, ...]
    losses: tuple[float, ...]
    w: Tensor | None
    averaged: tuple[float, ...] = ()
    w_mean: Tensor | None = None

    @property
    def final(self) -> float:
        """Mean over the last fifth of the record: one recorded point is one noisy sample."""
        tail = self.losses[-max(len(self.losses) // 5, 1) :]
        return sum(tail) / len(tail)

    @property
    def final_averaged(self) -> float:
        """Excess loss of the mean weight over the last fifth of the run (NaN when not
        recorded)."""
        return self.averaged[-1] if self.averaged else math.nan


SAMPLES_PER_RECORD = 10  # weights read per record interval for the tail mean


def tail_mean(interval_means: list[Tensor]) -> Tensor:
    """The mean weight over the last fifth of the record intervals so far (at least one), the
    same tail :attr:`Curve.final` averages losses over."""
    tail = interval_means[-max(len(interval_means) // 5, 1) :]
    return torch.stack(tail).mean(dim=0)


def train_aihwkit(
    data: Data,
    setup: TrainingSetup,
    n_steps: int,
    seed: int = 0,
    max_bl: int = 8,
    n_points: int = 50,
    w0: float = 0.0,
    device: str = "cpu",
    on_point: Callable[[int, float], None] | None = None,
) -> Curve:
    """Train an aihwkit ``AnalogLinear`` (no bias) from ``W = w0`` (every entry) with ``setup``.

    ``on_point(index, loss)`` is called at each recorded point (1, 2, ...), as it is recorded:
    the recipe announces its epochs with it, so trackers and the run's pulse counts see them.

    A start away from the device's symmetric point (the authors use ``w0 = 1``) is what exposes
    the bias of Analog SGD and of an unshifted residual device. For the two-array optimizers
    ``set_weights`` puts the start on ``W`` and clears ``P``, so the network starts at ``w0``.
    """
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    seed_everything(seed)
    d_out, d_in = data.w_opt.shape
    layer = AnalogLinear(
        d_in, d_out, bias=False, rpu_config=_ideal_periphery(setup.rpu_config, max_bl)
    )
    layer.set_weights(torch.full((d_out, d_in), float(w0)))
    if device != "cpu":
        layer = layer.to(device)  # tiles move with the module; get_weights() stays on the CPU
    optimizer = AnalogSGD(layer.parameters(), lr=setup.lr)
    optimizer.regroup_param_groups(layer)
    x, y = data.x.float().to(device), data.y.float().to(device)
    generator = torch.Generator().manual_seed(seed)
    every = max(n_steps // n_points, 1)

    def current() -> Tensor:
        return layer.get_weights()[0].double()

    start = current()
    steps, losses, averaged = [0], [data.loss(start)], [data.loss(start)]
    stride = max(every // SAMPLES_PER_RECORD, 1)  # reading weights every step would cost time
    interval_means: list[Tensor] = []
    total, count = torch.zeros_like(start), 0
    for step in range(1, n_steps + 1):
        index = data.batch_index(generator)
        xb, yb = (x, y) if index is None else (x[index], y[index])
        optimizer.zero_grad()
        out = layer(xb)
        loss = 0.5 * ((out - yb) ** 2).sum(dim=1).mean()
        loss.backward()
        optimizer.step()
        if step % stride == 0:
            total, count = total + current(), count + 1
        if step % every == 0 or step == n_steps:
            w = current()
            interval_means.append(total / count if count else w)
            total, count = torch.zeros_like(start), 0
            steps.append(step)
            losses.append(data.loss(w))
            averaged.append(data.loss(tail_mean(interval_means)))
            if on_point is not None:
                on_point(len(steps) - 1, losses[-1])
    w_mean = tail_mean(interval_means) if interval_means else start
    return Curve(tuple(steps), tuple(losses), current(), tuple(averaged), w_mean)


@dataclass(frozen=True)
class Experiment:
    """The Figure 2 comparison: each optimizer (with its hyper-parameters) at each asymmetry.

    ``optimizers`` maps a label (the table's row name) to hyper-parameters; a label that is not
    a registered optimizer names it under the reserved key ``"optimizer"``, so one optimizer can
    appear with two settings (``"rl (no shift)": {"optimizer": "rl", "zero_shift": "off"}``).
    Empty means :func:`default_optimizers`.
    """

    problem: Problem = field(default_factory=Problem)
    device: LeastSquaresDevice = field(default_factory=LeastSquaresDevice)
    asymmetries: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    n_steps: int = 20000
    seeds: tuple[int, ...] = (0,)
    optimizers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reference: bool = False
    """Also run the expected (pure-torch) dynamics of each optimizer, as ``reference <name>``."""
    w0: float = 0.0
    """Every weight's start value (the paper's ``W_0``)."""
    devices: tuple[Mapping[str, Any], ...] = ()
    """Sweep-spec device entries (``{"name": ..., "params": {...}, "grid": {...}}``, any
    registered device) trained instead of :data:`DEVICE` over ``asymmetries``; empty (the
    paper's figure) leaves the spec, and so every run id, as it was."""


def default_optimizers(problem: Problem) -> dict[str, dict[str, Any]]:
    """Analog SGD, Tiki-Taka, residual learning and RLv2 with matched rates.

    The transfer reads every column each step, as the paper's whole-matrix transfer does. For
    the two-array methods the linearised dynamics ``P' = P - alpha grad(W + gamma P)``,
    ``W' = W + beta P`` are a damped oscillator with damping ratio
    ``gamma / 2 * sqrt(alpha * lambda / beta)`` (``lambda`` a curvature of ``f``, about 1 here):
    ``beta = alpha * gamma^2 / 4`` makes it critically damped. An underdamped choice (large
    ``beta``) rings and leaves a much higher noise floor.

    Every hyper-parameter is explicit (the plugins' defaults of the time these tables were
    measured), so that a change of a default does not move the documented results.
    """
    transfer = {
        "n_reads_per_transfer": problem.d_in,
        "transfer_every": 1.0,
        "residual_device": "",
    }
    return {
        "sgd": {"lr": 0.01},
        "ttv1": {"alpha": 0.01, "beta": 0.0025, **transfer},
        "rl": {"alpha": 0.01, "beta": 0.0025, "gamma": 1.0, "zero_shift": "auto", **transfer},
        # RLv2's buffer beta is a filter rate, not a transfer rate: W moves one pulse at a time.
        "rlv2": {
            "alpha": 0.02,
            "beta": 0.1,
            "gamma": 2.0,
            "transfer_every": 1.0,
            "n_reads_per_transfer": 0,
            "threshold": 1.0,
            "max_pulses": 1,
            "buffer_decay": True,
            "residual_device": "",
            "zero_shift": "auto",
        },
    }


SMALL = Experiment(
    problem=Problem(**SMALL_PROBLEM, w_opt_std=W_OPT_STD),
    device=LeastSquaresDevice(tau=3.5, dw_min=1e-3, max_bl=8),
    n_steps=4000,
)


def authors_optimizers(lr: float = 0.8, gamma: float = 0.4) -> dict[str, dict[str, Any]]:
    """The authors' script's optimizers, every hyper-parameter explicit so that a change of a
    plugin's defaults cannot move the published comparison.

    ``lr = alpha = beta``; the transfer reads all 50 columns every step (the paper's
    whole-matrix transfer). Residual learning runs with the residual device zero-shifted
    (``require``: fail rather than silently run unshifted) and, as an ablation, unshifted.
    RLv2's ``W`` moves only by buffer pulses: one per transfer (its earlier default) leaves it
    far from the optimum after 1000 steps, so an event fires the buffer's whole pulses (up to
    1000). Before 0.2.0 a bug made every crossing fire the cap (8 then); with the pulses the
    buffer holds, a cap of 8 left the loss at 0.3 of its start, 1000 reaches 0.
    """
    transfer = {"transfer_every": 1.0, "n_reads_per_transfer": 50, "residual_device": ""}
    rl = {"alpha": lr, "beta": lr, "gamma": gamma, **transfer}
    return {
        "sgd": {"lr": lr},
        "ttv1": {"alpha": lr, "beta": lr, **transfer},
        "rl": {**rl, "zero_shift": "require"},
        "rl (no shift)": {"optimizer": "rl", **rl, "zero_shift": "off"},
        "rlv2": {
            "alpha": lr,
            "beta": lr,
            "gamma": gamma,
            "transfer_every": 1.0,
            "n_reads_per_transfer": 0,
            "threshold": 1.0,
            "max_pulses": 1000,
            "buffer_decay": True,
            "residual_device": "",
            "zero_shift": "require",
        },
    }


AUTHORS = Experiment(
    problem=Problem(d_in=50, d_out=1, n_samples=100, noise=0.0, batch_size=100, w_opt_std=0.5),
    device=LeastSquaresDevice(tau=3.5, dw_min=1e-4, max_bl=8),
    n_steps=1000,
    seeds=(0, 1, 2),
    optimizers=authors_optimizers(),
    w0=1.0,
)
"""The authors' published least-squares script: 50 inputs, 1 output, 100 noiseless samples
(full batch), ``tau = 3.5``, ``dw_min = 1e-4``, at most 8 pulses per update,
``lr = alpha = beta = 0.8``, ``gamma = 0.4``, 1000 steps from ``W_0 = 1``. ``W_opt``'s scale
(0.5) is this repository's choice."""


DEVICE = "least-squares-device"  # the registered name of the paper's asymmetric linear device
N_POINTS = 50  # loss records per run (epochs), as the figure draws them


def device_factory(c: float = 0.0, tau: float = 3.5, dw_min: float = 1e-3) -> Any:
    """The registered :data:`DEVICE`: :func:`soft_bounds_device` at asymmetry ``c``."""
    return soft_bounds_device(c, LeastSquaresDevice(tau=tau, dw_min=dw_min))


def schedule(n_steps: int) -> tuple[int, int]:
    """``(epochs, steps_per_epoch)`` that record :data:`N_POINTS` points over ``n_steps`` SGD
    steps (fewer when there are fewer steps); ``n_steps`` is rounded down to a multiple of the
    record interval."""
    steps_per_epoch = max(n_steps // N_POINTS, 1)
    return max(n_steps // steps_per_epoch, 1), steps_per_epoch


def experiment_spec(
    experiment: Experiment, optimizers: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The sweep spec (as a dict) an experiment stands for: the least-squares recipe with the
    problem as options, :data:`DEVICE` over the asymmetries (or the experiment's own
    ``devices``), one optimizer entry per label (``optimizers``: by default the experiment's,
    see :class:`Experiment`), its seeds."""
    labelled = optimizers if optimizers is not None else experiment_optimizers(experiment)
    epochs, steps_per_epoch = schedule(experiment.n_steps)
    problem = {f.name: getattr(experiment.problem, f.name) for f in fields(Problem)}
    problem.pop("seed")  # each run's seed is the problem's
    entries = []
    for label, params in labelled.items():
        name, rest = optimizer_of(label, params)
        entry: dict[str, Any] = {"name": name, "params": rest}
        if label != name:
            entry["label"] = label
        entries.append(entry)
    device = experiment.device
    return {
        "name": "least-squares",
        "recipe": "least-squares",
        "seeds": list(experiment.seeds),
        "epochs": epochs,
        "options": {
            **problem,
            "steps_per_epoch": steps_per_epoch,
            "max_bl": device.max_bl,
            "w0": experiment.w0,
        },
        "devices": [dict(entry) for entry in experiment.devices]
        or [
            {
                "name": DEVICE,
                "params": {"tau": device.tau, "dw_min": device.dw_min},
                "grid": {"c": list(experiment.asymmetries)},
            }
        ],
        "optimizers": entries,
    }


def experiment_optimizers(experiment: Experiment) -> dict[str, dict[str, Any]]:
    """The experiment's optimizer labels and settings (:func:`default_optimizers` when it names
    none)."""
    labelled = experiment.optimizers or default_optimizers(experiment.problem)
    return {label: dict(params) for label, params in labelled.items()}


def optimizer_of(label: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The registered optimizer a table label stands for, and its hyper-parameters without the
    reserved ``"optimizer"`` key (see :class:`Experiment`)."""
    rest = dict(params)
    return str(rest.pop("optimizer", label)), rest


def build(optimizer: str, device: Any, params: Mapping[str, Any]) -> TrainingSetup:
    """An optimizer's setup for one (unregistered) aihwkit device, through the plugin registry."""
    from aimc_plugins.host import plugins

    record = plugins.lookup(plugins.optimizers, optimizer, "optimizer")
    return record.build([device], **params)


REFERENCE_MODELS = ("sgd", "ttv1", "rl")  # RLv2's buffer has no expected-dynamics model here


def train_reference(
    data: Data,
    optimizer: str,
    params: Mapping[str, Any],
    c: float,
    tau: float,
    n_steps: int,
    seed: int = 0,
    w0: float = 0.0,
) -> Curve:
    """The expected dynamics of ``sgd``, ``ttv1`` or ``rl`` (residual device zero-shifted unless
    ``zero_shift`` is ``"off"``) with the hyper-parameters the aihwkit run gets, from ``W = w0``;
    the paper's whole-matrix transfer every step."""
    from aimc_plugins.devices import reference_dynamics as rd

    response = rd.asymmetric_linear(c, tau)
    start = torch.full_like(data.w_star, float(w0))
    grad = data.sampler(seed)
    gamma = 0.0
    if optimizer == "sgd":
        run = rd.analog_sgd(grad, data.loss, start, params["lr"], n_steps, response)
    elif optimizer in ("ttv1", "rl"):
        gamma = params["gamma"] if optimizer == "rl" else 0.0
        shifted = optimizer == "rl" and params.get("zero_shift", "auto") != "off"
        residual = response.zero_shifted() if shifted else response
        run = rd.residual_learning(
            grad,
            data.loss,
            start,
            params["alpha"],
            params["beta"],
            gamma,
            n_steps,
            response,
            residual,
        )
    else:
        raise ValueError(f"no reference dynamics for optimizer {optimizer!r}")
    w = run.w if run.p is None else run.w + gamma * run.p
    return Curve(run.steps, run.losses, w)


options_schema = least_squares_options  # the registered recipe's options
AVERAGED = "averaged_loss"
"""The history key of :attr:`Curve.averaged`: excess loss of the tail-mean weight (the metric
stays ``loss``, the iterate's, as the comparison report ranks it)."""


def problem_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Recipe options (strings from a command line, say) as typed :class:`Problem` fields."""
    defaults = {f.name: getattr(SMALL.problem, f.name) for f in fields(Problem) if f.name != "seed"}
    typed = {}
    for key, value in options.items():
        if key not in defaults:
            known = ", ".join([*defaults, "steps_per_epoch", "max_bl", "w0"])
            raise ValueError(f"least-squares has no option {key!r} (known: {known})")
        typed[key] = type(defaults[key])(value)
    return typed


def run(config: RunConfig) -> RunResult:
    """The registered recipe: train ``config.setup`` on one least-squares problem.

    ``config.options`` may set ``d_in``, ``d_out``, ``n_samples``, ``noise``, ``batch_size``,
    ``w_opt_std``, ``steps_per_epoch`` (default 500; one epoch is that many SGD steps),
    ``max_bl`` (pulses per update, default 8) and ``w0`` (every weight's start, default 0).
    Each epoch's record holds ``loss`` (the metric) and :data:`AVERAGED`.
    """
    if config.setup.rpu_config is None:
        raise ValueError("the least-squares recipe trains analog layers only")
    options = dict(config.options)
    steps_per_epoch = int(options.pop("steps_per_epoch", STEPS_PER_EPOCH))
    max_bl = int(options.pop("max_bl", SMALL.device.max_bl))
    w0 = float(options.pop("w0", 0.0))
    problem = replace(SMALL.problem, seed=config.seed, **problem_options(options))
    data = make_data(problem)
    epochs = config.epochs or 6
    curve = train_aihwkit(
        data,
        config.setup,
        epochs * steps_per_epoch,
        seed=config.seed,
        max_bl=max_bl,
        n_points=epochs,
        w0=w0,
        device=config.accelerator,
        on_point=lambda epoch, loss: notify_epoch(epoch, epochs, {"epoch": epoch, "loss": loss}),
    )
    history = tuple(
        {"epoch": i, "loss": loss, AVERAGED: averaged}
        for i, (loss, averaged) in enumerate(
            zip(curve.losses[1:], curve.averaged[1:], strict=True), start=1
        )
    )
    if not all(math.isfinite(h["loss"]) for h in history):
        return RunResult(history, {"epoch": epochs, "loss": math.nan})
    return RunResult(history, dict(history[-1]))
