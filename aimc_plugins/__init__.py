"""aimc-plugins: a plugin framework around IBM aihwkit for analog in-memory training research.

This module is the public API: plugins, recipes, notebooks and the documentation import from
here, and everything named in ``__all__`` keeps its meaning across releases. Deeper modules
may change. Plugin authors need only :data:`hookimpl` and the record types::

    from aimc_plugins import hookimpl, Device

    @hookimpl
    def register_devices(register):
        register(Device(name="my-device", factory=make_my_device))

The records and ``hookimpl`` load at once (they need only pluggy); everything else loads on
first use, so ``import aimc_plugins`` and the listing commands stay fast (torch and aihwkit
take seconds to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aimc_plugins import app as _app
from aimc_plugins import compat as _compat
from aimc_plugins.host.hookspecs import hookimpl
from aimc_plugins.host.records import (
    Device,
    EpochEvent,
    Optimizer,
    Param,
    ParameterError,
    Preset,
    Recipe,
    RunConfig,
    RunEvent,
    RunResult,
    SearchRange,
    Tracker,
    TrainedNetwork,
    TrainingSetup,
    as_dict,
)
from aimc_plugins.host.version import VERSION

# Composed first: every other module reads the application's parts from host.composition.
_app.install()

__version__ = VERSION  # this release; CHANGELOG.md says what each release changed

# The previous release's spellings (aimc_plugins.response, Device.response(), ...), forwarded
# with a DeprecationWarning until aimc-plugins 0.3.0: see aimc_plugins/compat and CHANGELOG.md.
_compat.install()

# name -> module that defines it (loaded on first attribute access)
_LAZY: dict[str, str] = {
    "plugins": "aimc_plugins.host.plugins",
    # devices
    "ResponseDevice": "aimc_plugins.devices.response",
    "ResponseError": "aimc_plugins.devices.response",
    "response_of": "aimc_plugins.devices.config_response",
    "step_scales": "aimc_plugins.devices.config_response",
    "UnsupportedDevice": "aimc_plugins.devices.config_response",
    "diagnose": "aimc_plugins.devices.diagnostics",
    "find_symmetric_point": "aimc_plugins.devices.diagnostics",
    "characterize": "aimc_plugins.devices.characterize",
    "measure_steps": "aimc_plugins.devices.characterize",
    "quiet": "aimc_plugins.devices.characterize",
    "single_pulse_tile": "aimc_plugins.devices.characterize",
    "DeviceRef": "aimc_plugins.devices.names",
    "DeviceConfigError": "aimc_plugins.devices.sanity",
    "TableError": "aimc_plugins.devices.build",
    "adapted_device": "aimc_plugins.devices.build",
    "device_config": "aimc_plugins.devices.build",
    "device_response": "aimc_plugins.devices.build",
    "parse_device_ref": "aimc_plugins.devices.names",
    # training
    "build_device": "aimc_plugins.training.setup",
    "build_setup": "aimc_plugins.training.setup",
    "seed_everything": "aimc_plugins.training.loop",
    "train_classifier": "aimc_plugins.training.loop",
    "to_analog": "aimc_plugins.training.loop",
    "PlannedRun": "aimc_plugins.training.identity",
    "RunOutcome": "aimc_plugins.training.run",
    "run_one": "aimc_plugins.training.run",
    "ALPHA": "aimc_plugins.training.transfer",
    "BETA": "aimc_plugins.training.transfer",
    "MAX_PULSES": "aimc_plugins.training.transfer",
    "N_READS": "aimc_plugins.training.transfer",
    "RESIDUAL_DEVICE": "aimc_plugins.training.transfer",
    "TRANSFER_EVERY": "aimc_plugins.training.transfer",
    "aihwkit_reads": "aimc_plugins.training.transfer",
    "describe_transfer": "aimc_plugins.training.transfer",
    "pick_devices": "aimc_plugins.training.transfer",
    "transfer_config": "aimc_plugins.training.transfer",
    "transfer_setup": "aimc_plugins.training.transfer",
    "IMPLEMENTATION": "aimc_plugins.training.transfer",
    # transfer rules: Tiki-Taka variants in Python over aihwkit's compiled tiles
    "Array": "aimc_plugins.rules.rule",
    "Arrays": "aimc_plugins.rules.arrays",
    "ColumnCycle": "aimc_plugins.rules.rule",
    "TransferRule": "aimc_plugins.rules.rule",
    "events_due": "aimc_plugins.rules.rule",
    "scheduled_writes": "aimc_plugins.rules.rule",
    "rule_config": "aimc_plugins.rules.setup",
    "rule_setup": "aimc_plugins.rules.setup",
    "TikiTakaRule": "aimc_plugins.rules.tiki_taka",
    "tiki_taka_setup": "aimc_plugins.rules.tiki_taka",
    # sweeps
    "SweepSpec": "aimc_plugins.sweep.spec",
    "load_spec": "aimc_plugins.sweep.spec",
    "plan": "aimc_plugins.sweep.spec",
    "expand_selector": "aimc_plugins.sweep.spec",
    # the Python API: comparisons and their results as data
    "compare": "aimc_plugins.api.comparison",
    "plan_comparison": "aimc_plugins.api.comparison",
    "Results": "aimc_plugins.api.comparison",
    "load_results": "aimc_plugins.api.results",
    "load_epochs": "aimc_plugins.api.results",
    "load_pulses": "aimc_plugins.api.results",
    "load_outcomes": "aimc_plugins.api.results",
    "load_tuning": "aimc_plugins.api.results",
    "write_report": "aimc_plugins.api.results",
    # author's kit
    "check_device": "aimc_plugins.kit.testing",
    "check_optimizer": "aimc_plugins.kit.testing",
    "table_device": "aimc_plugins.kit.fit",
    "preset_device_classes": "aimc_plugins.builtin.presets",
}

if TYPE_CHECKING:  # the lazy names, for type checkers and editors
    from aimc_plugins.api.comparison import Results, compare, plan_comparison
    from aimc_plugins.api.results import (
        load_epochs,
        load_outcomes,
        load_pulses,
        load_results,
        load_tuning,
        write_report,
    )
    from aimc_plugins.builtin.presets import preset_device_classes
    from aimc_plugins.devices.build import (
        TableError,
        adapted_device,
        device_config,
        device_response,
    )
    from aimc_plugins.devices.characterize import (
        characterize,
        measure_steps,
        quiet,
        single_pulse_tile,
    )
    from aimc_plugins.devices.config_response import UnsupportedDevice, response_of, step_scales
    from aimc_plugins.devices.diagnostics import diagnose, find_symmetric_point
    from aimc_plugins.devices.names import DeviceRef, parse_device_ref
    from aimc_plugins.devices.response import ResponseDevice, ResponseError
    from aimc_plugins.devices.sanity import DeviceConfigError
    from aimc_plugins.host import plugins
    from aimc_plugins.kit.fit import table_device
    from aimc_plugins.kit.testing import check_device, check_optimizer
    from aimc_plugins.rules.arrays import Arrays
    from aimc_plugins.rules.rule import (
        Array,
        ColumnCycle,
        TransferRule,
        events_due,
        scheduled_writes,
    )
    from aimc_plugins.rules.setup import rule_config, rule_setup
    from aimc_plugins.rules.tiki_taka import TikiTakaRule, tiki_taka_setup
    from aimc_plugins.sweep.spec import SweepSpec, expand_selector, load_spec, plan
    from aimc_plugins.training.identity import PlannedRun
    from aimc_plugins.training.loop import seed_everything, to_analog, train_classifier
    from aimc_plugins.training.run import RunOutcome, run_one
    from aimc_plugins.training.setup import build_device, build_setup
    from aimc_plugins.training.transfer import (
        ALPHA,
        BETA,
        IMPLEMENTATION,
        MAX_PULSES,
        N_READS,
        RESIDUAL_DEVICE,
        TRANSFER_EVERY,
        aihwkit_reads,
        describe_transfer,
        pick_devices,
        transfer_config,
        transfer_setup,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aimc_plugins' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if module.endswith("." + name) else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [  # noqa: RUF022 -- __version__ first, then sorted
    "__version__",
    "ALPHA",
    "BETA",
    "IMPLEMENTATION",
    "MAX_PULSES",
    "N_READS",
    "RESIDUAL_DEVICE",
    "TRANSFER_EVERY",
    "Array",
    "Arrays",
    "ColumnCycle",
    "Device",
    "DeviceConfigError",
    "DeviceRef",
    "EpochEvent",
    "Optimizer",
    "Param",
    "ParameterError",
    "PlannedRun",
    "Preset",
    "Recipe",
    "ResponseDevice",
    "ResponseError",
    "Results",
    "RunConfig",
    "RunEvent",
    "RunOutcome",
    "RunResult",
    "SearchRange",
    "SweepSpec",
    "TableError",
    "TikiTakaRule",
    "Tracker",
    "TrainedNetwork",
    "TrainingSetup",
    "TransferRule",
    "UnsupportedDevice",
    "adapted_device",
    "aihwkit_reads",
    "as_dict",
    "build_device",
    "build_setup",
    "characterize",
    "check_device",
    "check_optimizer",
    "compare",
    "describe_transfer",
    "device_config",
    "device_response",
    "diagnose",
    "events_due",
    "expand_selector",
    "find_symmetric_point",
    "hookimpl",
    "load_epochs",
    "load_outcomes",
    "load_pulses",
    "load_results",
    "load_spec",
    "load_tuning",
    "measure_steps",
    "parse_device_ref",
    "pick_devices",
    "plan",
    "plan_comparison",
    "plugins",
    "preset_device_classes",
    "quiet",
    "response_of",
    "rule_config",
    "rule_setup",
    "run_one",
    "scheduled_writes",
    "seed_everything",
    "single_pulse_tile",
    "step_scales",
    "table_device",
    "tiki_taka_setup",
    "to_analog",
    "train_classifier",
    "transfer_config",
    "transfer_setup",
    "write_report",
]
