"""One training loop for every classification recipe: analog layers through aihwkit, digital
layers through torch, metrics per epoch, and divergence detected rather than propagated."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from aimc_plugins.records import RunConfig, RunResult, TrainingSetup

Batches = Callable[[], "torch.utils.data.DataLoader"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
    model: nn.Module, loader: torch.utils.data.DataLoader, device: str
) -> dict[str, float]:
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
    return {"test_loss": loss_sum / total, "test_accuracy": correct / total}


def train_classifier(
    model: nn.Module,
    train_loader: torch.utils.data.DataLoader,
    test_loader: torch.utils.data.DataLoader,
    config: RunConfig,
    epochs: int,
    description: str = "",
) -> RunResult:
    """Train with cross-entropy; stop early and report NaN metrics if the loss diverges."""
    from tqdm.auto import tqdm

    device = config.device
    model = to_analog(model, config.setup).to(device)
    optimizer = make_optimizer(model, config.setup)
    loss_fn = nn.CrossEntropyLoss()
    history: list[dict[str, float]] = []
    for epoch in range(1, epochs + 1):
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
        train_loss = loss_sum / seen
        if not math.isfinite(train_loss):
            history.append({"epoch": epoch, "train_loss": math.nan, "test_accuracy": math.nan})
            return RunResult(tuple(history), dict(history[-1]))
        metrics = {"epoch": epoch, "train_loss": train_loss, **evaluate(model, test_loader, device)}
        history.append(metrics)
    return RunResult(tuple(history), dict(history[-1]))
