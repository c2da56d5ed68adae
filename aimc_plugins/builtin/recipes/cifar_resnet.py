"""The paper's fine-tuning experiment: an ImageNet-pretrained ResNet18 on CIFAR-10 with only the
last (classifier) layer analog, batch 128.

It needs two things a fresh machine does not have: the CIFAR-10 data and torchvision's
ImageNet weights for ResNet18. Both are looked for first, and if either is missing the run
fails at once with a message naming each missing item, where it was looked for and how to get
it (``download = true`` lets torchvision fetch both). Nothing is ever downloaded by default,
and never in tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from aimc_plugins.builtin.recipes.options import (
    MissingResourceError,
    data_dir,
    recipe_options,
)
from aimc_plugins.builtin.recipes.schemas import CIFAR_FOLDER, CIFAR_OPTIONS
from aimc_plugins.host.records import TEST_SPLIT, RunConfig, RunResult, TrainingSetup
from aimc_plugins.training.loop import seed_everything, to_analog, train_classifier

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet's, as the weights expect

OPTIONS = CIFAR_OPTIONS


def _weights() -> Any:
    from torchvision.models import ResNet18_Weights

    return ResNet18_Weights.IMAGENET1K_V1


def weights_file() -> Path:
    """Where torchvision keeps (and looks for) the ResNet18 ImageNet weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(_weights().url).name


def missing_resources(options: dict[str, Any]) -> list[str]:
    """Every resource the run needs and cannot find (empty when downloading is allowed)."""
    if options["download"]:
        return []
    missing = []
    root = data_dir(options["data_dir"])
    if not (root / CIFAR_FOLDER).is_dir():
        missing.append(
            f"CIFAR-10: no {root / CIFAR_FOLDER}/ (get it with --option download=true, or unpack "
            f"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz into {root} or into the "
            "folder given by --option data_dir=...)"
        )
    if not weights_file().is_file():
        missing.append(
            f"ResNet18 ImageNet weights: no {weights_file()} (get them with --option "
            f"download=true, or download {_weights().url} to that path; TORCH_HOME moves it)"
        )
    return missing


def _loaders(options: dict[str, Any], seed: int) -> tuple[DataLoader, DataLoader]:
    from torchvision import datasets, transforms

    size = options["image_size"]
    transform = transforms.Compose(
        [transforms.Resize(size), transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    )
    augment = transforms.Compose([transforms.RandomHorizontalFlip(), transform])
    root = str(data_dir(options["data_dir"]))
    train = datasets.CIFAR10(root, train=True, transform=augment, download=options["download"])
    test = datasets.CIFAR10(root, train=False, transform=transform, download=options["download"])
    if options["n_train"]:
        train = Subset(train, range(min(options["n_train"], len(train))))
    if options["n_test"]:
        test = Subset(test, range(min(options["n_test"], len(test))))
    generator = torch.Generator().manual_seed(seed)
    kwargs = {"batch_size": options["batch_size"], "num_workers": options["workers"]}
    return (
        DataLoader(train, shuffle=True, generator=generator, **kwargs),
        DataLoader(test, **kwargs),
    )


def build_resnet18(classes: int = 10) -> nn.Module:
    """ImageNet-pretrained ResNet18 with a fresh ``classes``-way classifier."""
    from torchvision.models import resnet18

    model = resnet18(weights=_weights())
    model.fc = nn.Linear(model.fc.in_features, classes)
    return model


def last_layer_analog(model: nn.Module, setup: TrainingSetup) -> nn.Module:
    """Only the classifier on analog tiles; the convolutional body stays digital."""
    model.fc = to_analog(cast(nn.Module, model.fc), setup)
    return model


def run(config: RunConfig) -> RunResult:
    if config.split != TEST_SPLIT:
        raise ValueError("cifar10-resnet18 offers no validation split (it cannot be tuned yet)")
    options = recipe_options("cifar10-resnet18", OPTIONS, config.options)
    missing = missing_resources(options)
    if missing:
        raise MissingResourceError(
            "cifar10-resnet18 cannot run here; missing:\n  - " + "\n  - ".join(missing)
        )
    seed_everything(config.seed)
    train_loader, test_loader = _loaders(options, config.seed)
    return train_classifier(
        build_resnet18(),
        train_loader,
        test_loader,
        config,
        config.epochs or 5,
        "cifar10-resnet18",
        convert=last_layer_analog,
    )
