"""One training loop for every classification recipe: analog layers through aihwkit, digital
layers through torch, metrics per epoch, and divergence detected rather than propagated."""

from __future__ import annotations

import contextlib
import contextvars
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from aimc_plugins.host.records import RunConfig, RunResult, TrainingSetup
from aimc_plugins.training.simulator_seed import seed_simulator

Batches = Callable[[], "torch.utils.data.DataLoader"]
EpochCallback = Callable[[int, int, dict[str, float]], None]
EpochExtras = Callable[[int], Mapping[str, float]]

_epoch_callback: EpochCallback | None = None
# The listeners of the run being trained (its trackers, training.tracking; its pulse counter):
# per run, not per process, and a context variable so that runs trained on threads of one
# process (Dask) never mix their epochs.
_run_listeners: contextvars.ContextVar[tuple[EpochCallback, ...]] = contextvars.ContextVar(
    "aimc_run_epoch_listeners", default=()
)
# What the run's own bookkeeping adds to each announced epoch (its pulses so far), before any
# listener sees it, so that trackers receive what the results store will keep.
_run_extras: contextvars.ContextVar[tuple[EpochExtras, ...]] = contextvars.ContextVar(
    "aimc_run_epoch_extras", default=()
)


def set_epoch_callback(callback: EpochCallback | None) -> None:
    """Call ``callback(epoch, epochs, metrics)`` after every epoch of every run in this process.

    A module-level hook rather than a :class:`RunConfig` field: progress reporting is a concern
    of the process running the loop (a sweep worker forwards it to the parent's progress bars),
    not part of a run's configuration, and must not change its hash.
    """
    global _epoch_callback
    _epoch_callback = callback


def notify_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
    """Tell this process's epoch callback (if any) that an epoch finished. Recipes with their
    own loop call this; :func:`train_classifier` does it for the others."""
    extras = _run_extras.get()
    if extras:
        metrics = dict(metrics)
        for extra in extras:
            metrics.update(extra(int(metrics.get("epoch", epoch))))
    if _epoch_callback is not None:
        _epoch_callback(epoch, epochs, metrics)
    for listener in _run_listeners.get():
        listener(epoch, epochs, metrics)


@contextlib.contextmanager
def epoch_extras(extra: EpochExtras) -> Iterator[None]:
    """Add ``extra(epoch)``'s metrics to each epoch announced in this context before its
    listeners see it (the run's pulses so far: :mod:`aimc_plugins.training.pulse_counter`).
    The recipe's own history is not changed; the run adds the same numbers to it when it ends."""
    token = _run_extras.set((*_run_extras.get(), extra))
    try:
        yield
    finally:
        _run_extras.reset(token)


@contextlib.contextmanager
def epoch_listener(listener: EpochCallback) -> Iterator[None]:
    """Also call ``listener(epoch, epochs, metrics)`` for the epochs announced in this context
    (the run :func:`aimc_plugins.training.run.run_one` trains), after the listeners of the
    contexts around it; it must not raise."""
    token = _run_listeners.set((*_run_listeners.get(), listener))
    try:
        yield
    finally:
        _run_listeners.reset(token)


class AcceleratorError(RuntimeError):
    """The requested accelerator cannot run analog layers here."""


def check_accelerator(name: str) -> str:
    """``"cpu"`` or ``"cuda"``, checked: analog layers on a GPU need an aihwkit compiled with
    CUDA *and* a visible GPU; say which one is missing rather than failing deep in a layer."""
    if name == "cpu":
        return name
    if name != "cuda":
        raise AcceleratorError(f"unknown accelerator {name!r}: use 'cpu' or 'cuda'")
    from aihwkit.simulator import rpu_base

    if not rpu_base.cuda.is_compiled():
        raise AcceleratorError(
            "--accelerator cuda: this aihwkit was compiled without CUDA (the PyPI wheel of "
            "aihwkit 1.1.0 is CPU-only). Build aihwkit from source with CUDA on a machine "
            "with the CUDA toolkit (scripts/build-aihwkit.sh --cuda; docs/install.md), or run "
            "with --accelerator cpu."
        )
    if not torch.cuda.is_available():
        raise AcceleratorError(
            "--accelerator cuda: aihwkit has CUDA support but torch sees no GPU here "
            "(check nvidia-smi and CUDA_VISIBLE_DEVICES), or run with --accelerator cpu."
        )
    return name


def seed_everything(seed: int) -> bool:
    """Seed Python, numpy, torch and aihwkit's compiled generators; call it before building
    analog layers. Returns whether aihwkit's generators could be seeded (see
    :mod:`aimc_plugins.training.simulator_seed`): without that, analog runs do not repeat
    bitwise."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed_simulator(seed)


def to_analog(model: nn.Module, setup: TrainingSetup) -> nn.Module:
    """Map every linear and convolution layer onto aihwkit tiles built from ``setup.rpu_config``;
    a digital setup (``rpu_config is None``) leaves the model untouched."""
    if setup.rpu_config is None:
        return model
    from aihwkit.nn.conversion import convert_to_analog

    return convert_to_analog(model, setup.rpu_config)


def make_optimizer(model: nn.Module, setup: TrainingSetup) -> torch.optim.Optimizer:
    if setup.rpu_config is None:
        return torch.optim.SGD(model.parameters(), lr=setup.lr)
    from aihwkit.optim import AnalogSGD

    optimizer = AnalogSGD(model.parameters(), lr=setup.lr)
    optimizer.regroup_param_groups(model)
    return optimizer


def evaluate(
    model: nn.Module, loader: torch.utils.data.DataLoader, device: str, prefix: str = "test"
) -> dict[str, float]:
    """Mean cross-entropy and accuracy on ``loader``, named ``{prefix}_loss`` and
    ``{prefix}_accuracy`` (``val_...`` for a validation split)."""
    model.eval()
    correct = total = 0
    loss_sum = 0.0
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            logits = model(inputs)
            loss_sum += float(loss_fn(logits, targets))
            correct += int((logits.argmax(dim=1) == targets).sum())
            total += len(targets)
    model.train()
    return {f"{prefix}_loss": loss_sum / total, f"{prefix}_accuracy": correct / total}


def layer_inputs(model: nn.Module) -> list[int]:
    """Input size (columns of the weight matrix) of every linear and convolution layer."""
    sizes = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            sizes.append(module.in_features)
        elif isinstance(module, nn.Conv2d):
            sizes.append(module.in_channels // module.groups * math.prod(module.kernel_size))
    return sizes


def schedule_notes(
    model: nn.Module, setup: TrainingSetup, n_minibatches: int, batch_size: int | None
) -> tuple[str, ...]:
    """A note when the setup's transfer schedule writes each column of ``W`` too rarely in
    this run for the algorithm to show what it can do
    (:func:`aimc_plugins.training.transfer.transfer_writes`): aihwkit's transfer presets are
    tuned for long runs, and a results table must say so rather than let a short recipe rank
    them as broken."""
    if setup.rpu_config is None:
        return ()
    from aimc_plugins.training.transfer import transfer_writes

    writes = transfer_writes(setup.rpu_config, layer_inputs(model), n_minibatches, batch_size)
    return (writes.note,) if writes is not None and writes.note else ()


# Per-epoch bookkeeping beside the metrics: training samples seen so far (deterministic) and
# training seconds so far (measured; evaluation excluded). Time to target reads both; checks of
# bitwise repetition leave out the measured one.
SAMPLES_KEY = "train_samples"
TIME_KEY = "train_time_s"
MEASURED_KEYS = (TIME_KEY,)


def train_classifier(
    model: nn.Module,
    train_loader: torch.utils.data.DataLoader,
    test_loader: torch.utils.data.DataLoader,
    config: RunConfig,
    epochs: int,
    description: str = "",
    convert: Callable[[nn.Module, TrainingSetup], nn.Module] | None = None,
) -> RunResult:
    """Train with cross-entropy; stop early and report NaN metrics if the loss diverges.

    ``test_loader`` is the split the run is evaluated on: the test set, or for a validation run
    (``config.split``) the held-out part of the training data, reported as ``val_*`` metrics
    (:func:`aimc_plugins.training.splits.for_run` chooses). ``convert`` maps the model onto
    analog tiles (default :func:`to_analog`: every linear and convolution layer); a recipe that
    keeps some layers digital passes its own.
    """
    from tqdm.auto import tqdm

    from aimc_plugins.training.splits import metric_prefix

    prefix = metric_prefix(config.split)
    device = config.accelerator
    notes = schedule_notes(model, config.setup, epochs * len(train_loader), train_loader.batch_size)
    model = (convert or to_analog)(model, config.setup).to(device)
    optimizer = make_optimizer(model, config.setup)
    loss_fn = nn.CrossEntropyLoss()
    history: list[dict[str, float]] = []
    samples, train_time = 0, 0.0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        loss_sum, seen = 0.0, 0
        batches = tqdm(
            train_loader,
            desc=f"{description} epoch {epoch}/{epochs}".strip(),
            leave=False,
            disable=not config.show_progress,
        )
        for inputs, targets in batches:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(targets)
            seen += len(targets)
        train_time += time.perf_counter() - started
        samples += seen
        train_loss = loss_sum / seen
        if not math.isfinite(train_loss):
            history.append({"epoch": epoch, "train_loss": math.nan, f"{prefix}_accuracy": math.nan})
            return RunResult(tuple(history), dict(history[-1]), notes)
        metrics = {
            "epoch": epoch,
            "train_loss": train_loss,
            **evaluate(model, test_loader, device, prefix),
            SAMPLES_KEY: samples,
            TIME_KEY: round(train_time, 4),
        }
        history.append(metrics)
        notify_epoch(epoch, epochs, metrics)
    return RunResult(tuple(history), repeatable(history[-1]), notes)


def repeatable(metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` without the measured keys (:data:`MEASURED_KEYS`): what repeats bitwise from
    a run's seed. A run's final metrics are these."""
    return {key: value for key, value in metrics.items() if key not in MEASURED_KEYS}
