"""Built-in training algorithms on aihwkit's compiled compounds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aimc_plugins.hookspecs import hookimpl
from aimc_plugins.records import LR_DEFAULT, Optimizer, Param, TrainingSetup

LR = Param(
    "lr", LR_DEFAULT, "learning rate of the torch optimizer (alpha)", low=0.0, low_inclusive=False
)


def _digital(devices: Sequence[Any], lr: float) -> TrainingSetup:
    return TrainingSetup(rpu_config=None, lr=lr, description="floating point")


def _analog_sgd(devices: Sequence[Any], lr: float) -> TrainingSetup:
    from aimc_plugins.periphery import single_device_config

    return TrainingSetup(
        rpu_config=single_device_config(devices[0]),
        lr=lr,
        description=f"Analog SGD on {type(devices[0]).__name__}",
    )


@hookimpl
def register_optimizers(register: Callable[[Optimizer], None]) -> None:
    register(
        Optimizer(
            name="digital",
            factory=_digital,
            description="Floating-point SGD, no analog tiles: the baseline every device is "
            "measured against. Ignores the device.",
            parameters=(LR,),
            n_devices=0,
        )
    )
    register(
        Optimizer(
            name="sgd",
            factory=_analog_sgd,
            description="Analog SGD: every update is pulsed straight into one device array "
            "(aihwkit SingleRPUConfig). Biased towards the device's symmetric point when the "
            "response is asymmetric.",
            parameters=(LR,),
        )
    )
