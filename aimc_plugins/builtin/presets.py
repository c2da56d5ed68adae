"""aihwkit's preset devices and preset training configurations, found by introspection.

Nothing here lists aihwkit's presets by name: a later aihwkit that adds presets adds them here too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aimc_plugins.host.hookspecs import hookimpl
from aimc_plugins.host.records import Device, Preset

DEVICE_SUFFIX = "PresetDevice"

# Most specific compound first: ChoppedTransferCompound subclasses BufferedTransferCompound, which
# subclasses TransferCompound, and DynamicTransferCompound subclasses ChoppedTransferCompound.
_COMPOUND_FAMILIES = (
    ("DynamicTransferCompound", "AGAD"),
    ("ChoppedTransferCompound", "c-TTv2"),
    ("BufferedTransferCompound", "TTv2"),
    ("TransferCompound", "Tiki-Taka"),
)


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _preset_classes() -> list[tuple[str, type]]:
    from aihwkit.simulator import presets

    return sorted(
        (name, obj)
        for name, obj in vars(presets).items()
        if inspect.isclass(obj) and not name.startswith("_")
    )


def preset_device_classes() -> dict[str, type]:
    """Preset pulsed devices, keyed by their short name (``ReRamSBPresetDevice`` -> ``ReRamSB``)."""
    from aihwkit.simulator.configs.devices import PulsedDevice

    return {
        name.removesuffix(DEVICE_SUFFIX): cls
        for name, cls in _preset_classes()
        if issubclass(cls, PulsedDevice) and name.endswith(DEVICE_SUFFIX)
    }


def preset_config_classes() -> dict[str, type]:
    """Preset RPU configs meant for training (inference presets are left out)."""
    from aihwkit.simulator.configs import (
        DigitalRankUpdateRPUConfig,
        SingleRPUConfig,
        UnitCellRPUConfig,
    )

    training = (SingleRPUConfig, UnitCellRPUConfig, DigitalRankUpdateRPUConfig)
    return {name: cls for name, cls in _preset_classes() if issubclass(cls, training)}


def config_family(rpu_config: Any) -> str:
    """The training family of an aihwkit RPU config, named as the literature names it."""
    from aihwkit.simulator.configs import DigitalRankUpdateRPUConfig, SingleRPUConfig

    if isinstance(rpu_config, DigitalRankUpdateRPUConfig):
        return "mixed precision"
    if isinstance(rpu_config, SingleRPUConfig):
        return "single-device SGD"
    compound_mro = {klass.__name__ for klass in type(rpu_config.device).__mro__}
    if "OneSidedUnitCell" in compound_mro:
        # One weight as a differential pair (G+ - G-) updated by plain SGD, as aihwkit's PCM
        # preset does: still Analog SGD, not a multi-device scheme.
        return "single-device SGD"
    for class_name, family in _COMPOUND_FAMILIES:
        if class_name in compound_mro:
            if family == "c-TTv2" and not _chops(rpu_config.device):
                return "TTv2"  # aihwkit's TTv2 presets are chopped compounds with chopping off
            return family
    return "multi-device"


def _chops(compound: Any) -> bool:
    return bool(getattr(compound, "in_chop_prob", 0.0) or getattr(compound, "out_chop_prob", 0.0))


def _device_family(cls: type) -> str:
    """The native device model a preset device parametrises (e.g. ``SoftBounds``)."""
    from aihwkit.simulator.configs.devices import PulsedDevice

    for base in cls.__mro__[1:]:
        if issubclass(base, PulsedDevice) and not base.__name__.endswith(DEVICE_SUFFIX):
            return base.__name__.removesuffix("Device")
    return ""


@hookimpl
def register_devices(register: Callable[[Device], None]) -> None:
    for name, cls in preset_device_classes().items():
        register(
            Device(
                name=name,
                factory=cls,
                description=_summary(cls),
                family=f"aihwkit preset ({_device_family(cls)})",
            )
        )


@hookimpl
def register_presets(register: Callable[[Preset], None]) -> None:
    for name, cls in preset_config_classes().items():
        register(
            Preset(
                name=name,
                factory=cls,
                description=_summary(cls),
                family=config_family(cls()),
            )
        )
