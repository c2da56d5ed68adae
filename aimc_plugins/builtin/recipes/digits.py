"""A small analog MLP on scikit-learn's 8x8 digits: offline, quick, and enough to rank devices."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aimc_plugins.host.records import RunConfig, RunResult
from aimc_plugins.training.loop import seed_everything, train_classifier
from aimc_plugins.training.splits import for_run

BATCH_SIZE = 10
HIDDEN = 32
SPLIT_SEED = 0  # the train/test split is the same for every run, so seeds vary training only


def load_digits_tensors(test_fraction: float = 0.25) -> tuple[TensorDataset, TensorDataset]:
    """1797 digits scaled to [0, 1], split once with a fixed seed."""
    from sklearn.datasets import load_digits

    data = load_digits()
    inputs = torch.tensor(data.data / 16.0, dtype=torch.float32)
    targets = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = int(len(targets) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return TensorDataset(inputs[train], targets[train]), TensorDataset(inputs[test], targets[test])


def build_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 10))


def run(config: RunConfig) -> RunResult:
    seed_everything(config.seed)
    train, test = for_run(config, *load_digits_tensors())
    epochs = config.epochs or 5
    generator = torch.Generator().manual_seed(config.seed)
    train_loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, generator=generator)
    test_loader = DataLoader(test, batch_size=256)
    return train_classifier(build_mlp(), train_loader, test_loader, config, epochs, "digits-mlp")
