"""From names (on a command line, in a sweep spec, or in a planned run) to a ready
:class:`~aimc_plugins.host.records.TrainingSetup`.

Every name a device column can hold means one of three things, and :func:`device_kind` is the
one place that decides which: a preset training configuration (device and algorithm fixed
together by aihwkit), the floating-point baseline, or a registered device trained by the chosen
optimizer. The CLI, the sweep planner and the training of one run all ask it, so they agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from aimc_plugins.devices.build import device_config
from aimc_plugins.devices.names import parse_device_ref
from aimc_plugins.host import plugins
from aimc_plugins.host.records import LR_DEFAULT, Optimizer, Param, TrainingSetup, resolve_params
from aimc_plugins.training.periphery import apply_profile

if TYPE_CHECKING:
    from aimc_plugins.training.identity import PlannedRun

PRESET_OPTIMIZER = "preset"
DIGITAL_DEVICE = "floating point"  # the device column of an optimizer that takes no device

DeviceKind = Literal["preset", "digital", "device"]


def device_kind(name: str) -> DeviceKind:
    """What a device column's name stands for (see the module docstring)."""
    if name == DIGITAL_DEVICE:
        return "digital"
    if name in plugins.registry.presets():
        return "preset"
    return "device"


def build_device(text: str) -> Any:
    """The aihwkit device config a device reference stands for: a registered name, optionally
    with parameters, ``power(tau=0.7, g=0.5)`` (parsed without eval; see
    :mod:`aimc_plugins.devices.names`). Unknown names and parameters fail with the closest one."""
    ref = parse_device_ref(text)
    return device_config(plugins.registry.device(ref.name), ref.params)


def build_setup(
    devices: Sequence[str], optimizer: str, params: Mapping[str, Any] | None = None
) -> TrainingSetup:
    """Resolve device references and an optimizer to a training setup.

    A preset training configuration named as the (single) device is used as it is: it fixes its
    own algorithm, so the optimizer must be ``preset`` or ``sgd`` (the default choice on a
    command line) and only ``lr`` may be given.
    """
    params = dict(params or {})
    if len(devices) == 1 and device_kind(devices[0]) == "preset":
        return _preset_setup(devices[0], optimizer, params)
    record = plugins.registry.optimizer(optimizer)
    if record.n_devices == 0:
        return record.build([], **params)
    return optimizer_setup(record, [build_device(name) for name in devices], params)


def setup_for(run: PlannedRun) -> TrainingSetup:
    """The training setup of one planned run: its device built with its parameters, the
    optimizer's config around it, and the periphery profile applied last (so every device and
    optimizer sits behind the same periphery)."""
    name = run.device_name or run.device
    kind = device_kind(name)
    if kind == "preset" or run.optimizer == PRESET_OPTIMIZER:
        setup = _preset_setup(name, run.optimizer, dict(run.params))
    elif kind == "digital":
        setup = plugins.registry.optimizer(run.optimizer).build(
            [], **run.params
        )
    else:
        device = device_config(plugins.registry.device(name), run.device_params)
        record = plugins.registry.optimizer(run.optimizer)
        setup = optimizer_setup(record, [device], run.params)
    return replace(setup, rpu_config=apply_profile(setup.rpu_config, run.periphery))


def _preset_setup(name: str, optimizer: str, params: dict[str, Any]) -> TrainingSetup:
    if optimizer not in (PRESET_OPTIMIZER, "sgd"):
        raise ValueError(
            f"{name!r} is a preset training configuration with its own algorithm; "
            f"it cannot be trained with optimizer {optimizer!r}"
        )
    preset = plugins.registry.preset(name)
    lr_param = Param("lr", LR_DEFAULT, low=0.0, low_inclusive=False)
    lr = resolve_params(f"preset {preset.name!r}", (lr_param,), params)["lr"]
    return TrainingSetup(rpu_config=preset.factory(), lr=lr, description=preset.description)


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


def validate(runs: Sequence[PlannedRun]) -> None:
    """Build every distinct setup once, so a bad name or value fails before hours of
    training."""
    seen = set()
    for run in runs:
        key = run.identity(seed=0)
        if key not in seen:
            seen.add(key)
            plugins.registry.recipe(run.recipe).check_options(run.options)
            setup_for(run)
