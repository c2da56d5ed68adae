"""aimc-plugins: a plugin framework around IBM aihwkit for analog in-memory training research.

Plugin authors need only :data:`hookimpl` and the record types::

    from aimc_plugins import hookimpl, Device

    @hookimpl
    def register_devices(register):
        register(Device(name="my-device", factory=make_my_device))
"""

from aimc_plugins.hookspecs import hookimpl
from aimc_plugins.records import (
    Device,
    Optimizer,
    Param,
    ParameterError,
    Preset,
    Recipe,
    RunConfig,
    RunResult,
    TrainingSetup,
)

__all__ = [
    "Device",
    "Optimizer",
    "Param",
    "ParameterError",
    "Preset",
    "Recipe",
    "RunConfig",
    "RunResult",
    "TrainingSetup",
    "hookimpl",
]
