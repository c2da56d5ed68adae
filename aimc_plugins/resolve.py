"""From names on a command line (or in a spec) to a ready :class:`TrainingSetup`.

One place resolves a device name, a preset name and an optimizer with its hyper-parameters, so
the CLI, the comparison and the recipes' scripts agree on what a name means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aimc_plugins import plugins
from aimc_plugins.records import LR_DEFAULT, Optimizer, Param, TrainingSetup, resolve_params

PRESET_OPTIMIZER = "preset"
DIGITAL_DEVICE = "floating point"  # the device column of an optimizer that takes no device


def is_preset(name: str) -> bool:
    return name in plugins.presets()


def build_device(name: str) -> Any:
    """The aihwkit device config a device spec stands for: a registered name, optionally with
    parameters, ``power(tau=0.7, g=0.5)`` (parsed without eval; see
    :mod:`aimc_plugins.device_spec`). Unknown names and parameters fail with the closest one."""
    from aimc_plugins.device_spec import parse_device_spec

    spec = parse_device_spec(name)
    return plugins.lookup(plugins.devices, spec.name, "device").build(**spec.params)


def build_setup(
    devices: Sequence[str], optimizer: str, params: Mapping[str, Any] | None = None
) -> TrainingSetup:
    """Resolve devices and an optimizer to a training setup.

    A preset training configuration named as the (single) device is used as it is: it fixes its
    own algorithm, so the optimizer must be ``preset`` or ``sgd`` (the default choice on a
    command line) and only ``lr`` may be given.
    """
    params = dict(params or {})
    if len(devices) == 1 and is_preset(devices[0]):
        if optimizer not in (PRESET_OPTIMIZER, "sgd"):
            raise ValueError(
                f"{devices[0]!r} is a preset training configuration with its own algorithm; "
                f"it cannot be trained with optimizer {optimizer!r}"
            )
        preset = plugins.presets()[devices[0]]
        lr_param = Param("lr", LR_DEFAULT, low=0.0, low_inclusive=False)
        lr = resolve_params(f"preset {preset.name!r}", (lr_param,), params)["lr"]
        return TrainingSetup(rpu_config=preset.factory(), lr=lr, description=preset.description)
    record = plugins.lookup(plugins.optimizers, optimizer, "optimizer")
    if record.n_devices == 0:
        return record.build([], **params)
    return optimizer_setup(record, [build_device(name) for name in devices], params)


def optimizer_setup(
    record: Optimizer, built: Sequence[Any], params: Mapping[str, Any]
) -> TrainingSetup:
    """``record`` built around aihwkit device configs; one device serves every array."""
    built = list(built)
    if record.n_devices and len(built) < record.n_devices:
        if len(built) == 1:
            built = built * record.n_devices  # one device for every array
        else:
            raise ValueError(
                f"optimizer {record.name!r} takes {record.n_devices} devices, got {len(built)}"
            )
    return record.build(built, **params)
