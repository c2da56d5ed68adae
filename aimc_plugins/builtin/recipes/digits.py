"""A small analog MLP on scikit-learn's 8x8 digits: offline, quick, and enough to rank devices."""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aimc_plugins.host.records import RunConfig, RunResult, TrainedNetwork
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


# The digital baseline's rate on this recipe: every tuned comparison of it chose 0.715
# (recipes/specs/theory-demo.toml, device-cost.toml, theory-mixed.toml), at its plateau by
# epoch 10.
TRAINED_LR = 0.715
TRAINED_EPOCHS = 10


@functools.cache
def trained_mlp(seed: int = 0) -> TrainedNetwork:
    """The MLP trained in floating point to its plateau (seeded, once per process), with its
    training set: what the theory measures write noise's cost on (``Recipe.trained``). The
    global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        return _train_mlp(seed)


def _train_mlp(seed: int) -> TrainedNetwork:
    torch.manual_seed(seed)
    train, _ = load_digits_tensors()
    model = build_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=TRAINED_LR)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, generator=generator)
    for _ in range(TRAINED_EPOCHS):
        for inputs, targets in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), targets).backward()
            optimizer.step()
    model.eval()
    inputs, targets = train.tensors
    return TrainedNetwork(model, inputs, targets, BATCH_SIZE)


def run(config: RunConfig) -> RunResult:
    seed_everything(config.seed)
    train, test = for_run(config, *load_digits_tensors())
    epochs = config.epochs or 5
    generator = torch.Generator().manual_seed(config.seed)
    train_loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, generator=generator)
    test_loader = DataLoader(test, batch_size=256)
    return train_classifier(build_mlp(), train_loader, test_loader, config, epochs, "digits-mlp")
