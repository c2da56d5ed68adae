"""The least-squares experiment of Wu et al. (arXiv 2502.06309, Figure 2), at any size.

A linear layer ``W`` (``d_out x d_in``) is fitted to ``y = W_opt x + noise`` by mini-batch SGD on
``f(W) = 1/2 mean ||W x - y||^2``, with ``x ~ N(0, I)`` and ``W_opt ~ N(0, 0.5^2)``. The label
noise makes the stochastic gradient nonzero at the optimum (``Sigma = E|grad f(W*; xi)| > 0``),
which is what turns a device's asymmetry into an error floor for Analog SGD (Theorem 1).
Devices are the paper's asymmetric linear response on ``[-tau, tau]``, built as aihwkit
``SoftBoundsDevice`` with everything but the asymmetry ``c`` switched off (no cycle-to-cycle
noise, no device-to-device variation), and the forward / backward passes are perfect, so that
only the update rule differs between optimizers.

The reported loss is the *excess* loss ``f(W) - f(W*)`` of the weight the layer uses.

Two sizes are defined here: :data:`SMALL` (the repository's quick check) and :data:`AUTHORS`, the
problem of the authors' published least-squares script (50 inputs, 1 output, 100 noiseless
samples, full-batch gradients, weights starting at 1, 1000 steps).
"""

from __future__ import annotations

import copy
import csv
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
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
from aimc_plugins.training.loop import seed_everything


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
    """Excess loss after each recorded step, and the final weight the layer uses."""

    steps: tuple[int, ...]
    losses: tuple[float, ...]
    w: Tensor

    @property
    def final(self) -> float:
        """Mean over the last fifth of the record: one recorded point is one noisy sample."""
        tail = self.losses[-max(len(self.losses) // 5, 1) :]
        return sum(tail) / len(tail)


def train_aihwkit(
    data: Data,
    setup: TrainingSetup,
    n_steps: int,
    seed: int = 0,
    max_bl: int = 8,
    n_points: int = 50,
    w0: float = 0.0,
    device: str = "cpu",
) -> Curve:
    """Train an aihwkit ``AnalogLinear`` (no bias) from ``W = w0`` (every entry) with ``setup``.

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

    steps, losses = [0], [data.loss(current())]
    for step in range(1, n_steps + 1):
        index = data.batch_index(generator)
        xb, yb = (x, y) if index is None else (x[index], y[index])
        optimizer.zero_grad()
        out = layer(xb)
        loss = 0.5 * ((out - yb) ** 2).sum(dim=1).mean()
        loss.backward()
        optimizer.step()
        if step % every == 0 or step == n_steps:
            steps.append(step)
            losses.append(data.loss(current()))
    return Curve(tuple(steps), tuple(losses), current())


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
    far from the optimum after 1000 steps, so it fires up to 8, as many as a gradient update.
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
            "max_pulses": 8,
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


def run_experiment(experiment: Experiment, show_progress: bool = False) -> dict[tuple, Curve]:
    """Every (optimizer, c, seed) run: ``{(optimizer, c, seed): Curve}``."""
    from tqdm.auto import tqdm

    from aimc_plugins.host import plugins

    labelled = experiment.optimizers or default_optimizers(experiment.problem)
    optimizers = {label: optimizer_of(label, params) for label, params in labelled.items()}
    registered = plugins.optimizers()
    missing = [label for label, (name, _) in optimizers.items() if name not in registered]
    if missing:
        warnings.warn(
            f"least squares: optimizers {missing} are not registered and are left out "
            "(rl comes with plugins/aimc-residual-learning)",
            stacklevel=2,
        )
        optimizers = {k: v for k, v in optimizers.items() if k not in missing}
    jobs = [
        (name, c, seed)
        for c in experiment.asymmetries
        for name in optimizers
        for seed in experiment.seeds
    ]
    curves = {}
    for label, c, seed in tqdm(jobs, disable=not show_progress, desc="least squares"):
        name, params = optimizers[label]
        data = make_data(replace(experiment.problem, seed=seed))
        setup = build(name, soft_bounds_device(c, experiment.device), params)
        curves[(label, c, seed)] = train_aihwkit(
            data,
            setup,
            experiment.n_steps,
            seed=seed,
            max_bl=experiment.device.max_bl,
            w0=experiment.w0,
        )
        if experiment.reference and name in REFERENCE_MODELS:
            reference = train_reference(
                data,
                name,
                params,
                c,
                experiment.device.tau,
                experiment.n_steps,
                seed,
                w0=experiment.w0,
            )
            curves[(f"reference {label}", c, seed)] = reference
    return curves


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


def final_table(curves: Mapping[tuple, Curve]) -> list[dict[str, Any]]:
    """One row per (optimizer, c): mean and sample standard deviation of the final excess
    loss over seeds, computed as the comparison report computes it; with one seed the std is
    NaN (no spread was measured), not 0."""
    from aimc_plugins.report.stats import mean_interval

    groups: dict[tuple[str, float], list[float]] = {}
    for (name, c, _seed), curve in curves.items():
        groups.setdefault((name, c), []).append(curve.final)
    rows = []
    for (name, c), finals in groups.items():
        mean, std, _low, _high = mean_interval(finals)
        rows.append({"optimizer": name, "c": c, "final_loss": mean, "std": std, "n": len(finals)})
    return rows


def _cell(row: Mapping[str, Any]) -> str:
    """``mean ± std``; the mean alone for one seed, where ``± 0`` would claim a spread that was
    never measured (the comparison table does the same)."""
    std = float(row["std"])
    if int(row.get("n", 0)) < 2 or math.isnan(std):
        return f"{row['final_loss']:.4g}"
    return f"{row['final_loss']:.4g} ± {std:.2g}"


options_schema = least_squares_options  # the registered recipe's options


def problem_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Recipe options (strings from a command line, say) as typed :class:`Problem` fields."""
    defaults = {f.name: getattr(SMALL.problem, f.name) for f in fields(Problem) if f.name != "seed"}
    typed = {}
    for key, value in options.items():
        if key not in defaults:
            known = ", ".join([*defaults, "steps_per_epoch"])
            raise ValueError(f"least-squares has no option {key!r} (known: {known})")
        typed[key] = type(defaults[key])(value)
    return typed


def run(config: RunConfig) -> RunResult:
    """The registered recipe: train ``config.setup`` on one least-squares problem.

    ``config.options`` may set ``d_in``, ``d_out``, ``n_samples``, ``noise``, ``batch_size`` and
    ``steps_per_epoch`` (default 500); one epoch is ``steps_per_epoch`` SGD steps.
    """
    if config.setup.rpu_config is None:
        raise ValueError("the least-squares recipe trains analog layers only")
    options = dict(config.options)
    steps_per_epoch = int(options.pop("steps_per_epoch", STEPS_PER_EPOCH))
    problem = replace(SMALL.problem, seed=config.seed, **problem_options(options))
    data = make_data(problem)
    epochs = config.epochs or 6
    curve = train_aihwkit(
        data,
        config.setup,
        epochs * steps_per_epoch,
        seed=config.seed,
        n_points=epochs,
        device=config.accelerator,
    )
    history = tuple({"epoch": i, "loss": loss} for i, loss in enumerate(curve.losses[1:], start=1))
    if not all(math.isfinite(h["loss"]) for h in history):
        return RunResult(history, {"epoch": epochs, "loss": math.nan})
    return RunResult(history, dict(history[-1]))


def write_tables(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """The final-loss table as CSV (one row per optimizer and c) and markdown (optimizers x c)."""
    csv_path, md_path = out / "final_loss.csv", out / "final_loss.md"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    cs = sorted({r["c"] for r in rows})
    cell = {(r["optimizer"], r["c"]): r for r in rows}
    lines = [
        "Final excess loss f(W) - f(W*) (mean ± std over seeds; the mean alone where one seed "
        "gives no spread)",
        "",
        "| optimizer | " + " | ".join(f"c = {c:g}" for c in cs) + " |",
        "|---|" + "---|" * len(cs),
    ]
    for name in optimizers:
        values = [cell[(name, c)] for c in cs]
        lines.append(f"| {name} | " + " | ".join(_cell(v) for v in values) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    return [csv_path, md_path]


def plot_curves(curves: Mapping[tuple, Curve], path: Path) -> Path:
    """Excess loss against steps, one log-scale panel per asymmetry, mean over seeds; reference
    (expected-dynamics) curves dashed in their optimizer's colour."""
    from aimc_plugins.report.figures import pyplot

    plt = pyplot()

    cs = sorted({c for _, c, _ in curves})
    names = list(dict.fromkeys(name for name, _, _ in curves))
    colors = [f"C{i}" for i in range(10)]
    fig, axes = plt.subplots(1, len(cs), figsize=(4 * len(cs), 3.4), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], cs, strict=True):
        for name in names:
            runs = [curve for (n, cc, _), curve in curves.items() if n == name and cc == c]
            steps = runs[0].steps
            mean = [sum(r.losses[i] for r in runs) / len(runs) for i in range(len(steps))]
            base = name.removeprefix("reference ")
            style = "--" if name != base else "-"
            ax.plot(steps, mean, style, color=colors[names.index(base) % 10], label=name)
        ax.set_yscale("log")
        ax.set_title(f"c = {c:g}")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("f(W) - f(W*)")
    axes[0][-1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
