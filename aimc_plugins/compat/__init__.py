"""The previous release's spellings, kept working for one minor release with a warning.

Release 0.1.0 (layered packages) moved the modules into layers and turned the records' methods
into functions, without a deprecation period: plugins written from the README of the day failed
to import. Every spelling that release's documentation showed is restored here, in one place, as
a forward to its new spelling that raises a :class:`DeprecationWarning` naming the new one. They
go in :data:`REMOVED_IN`; CHANGELOG.md lists them under "Deprecated".

Three kinds of forwards, all installed by :func:`install` (the facade calls it on import, so
they exist before any plugin runs):

- **moved modules** (``aimc_plugins.response``): importing the old name warns once and gives
  the new module itself, so classes keep their identity and ``isinstance`` works;
- **renamed names** (``aimc_plugins.device_spec.DeviceSpec``), old attributes of modules that
  became packages (``aimc_plugins.training.schedule_notes``) and names that left
  ``aimc_plugins.host.plugins`` for their layer: each warns where it is used;
- **record methods** (``Device.response()``, ``to_dict()``, ``RunOutcome.spec``): methods that
  call the functions that replaced them.

This is the top layer: it may import every other one, and nothing but the facade imports it.
Everything it forwards to is imported when first used, so ``import aimc_plugins`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from aimc_plugins.host.records import Device, Optimizer, Param, Preset, Recipe, as_dict

REMOVED_IN = "0.3.0"

# old module -> new module (the old module's names are the new one's)
MOVED_MODULES: dict[str, str] = {
    "aimc_plugins.adapter": "aimc_plugins.devices.adapter",
    "aimc_plugins.characterize": "aimc_plugins.devices.characterize",
    "aimc_plugins.diagnostics": "aimc_plugins.devices.diagnostics",
    "aimc_plugins.preset_response": "aimc_plugins.devices.config_response",
    "aimc_plugins.reference_dynamics": "aimc_plugins.devices.reference_dynamics",
    "aimc_plugins.response": "aimc_plugins.devices.response",
    "aimc_plugins.hookspecs": "aimc_plugins.host.hookspecs",
    "aimc_plugins.plugins": "aimc_plugins.host.plugins",
    "aimc_plugins.records": "aimc_plugins.host.records",
    "aimc_plugins.periphery": "aimc_plugins.training.periphery",
    "aimc_plugins.simulator_seed": "aimc_plugins.training.simulator_seed",
    "aimc_plugins.transfer": "aimc_plugins.training.transfer",
    "aimc_plugins.sweep.versions": "aimc_plugins.training.versions",
    "aimc_plugins.figures": "aimc_plugins.report.figures",
    "aimc_plugins.plots": "aimc_plugins.report.plots",
    "aimc_plugins.response_plots": "aimc_plugins.report.response_plots",
    "aimc_plugins.builtin.aihwkit_presets": "aimc_plugins.builtin.presets",
    "aimc_plugins.testing": "aimc_plugins.kit.testing",
    "aimc_plugins.scaffold": "aimc_plugins.kit.scaffold",
    "aimc_plugins.recipes.script": "aimc_plugins.cli.recipe_script",
    "aimc_plugins.doctor": "aimc_plugins.cli.doctor",
}
# old package -> new package: its submodules moved with it (aimc_plugins.fit.recovery)
MOVED_PACKAGES: dict[str, str] = {
    "aimc_plugins.fit": "aimc_plugins.kit.fit",
    "aimc_plugins.recipes": "aimc_plugins.builtin.recipes",
}
# old module -> (the module most of its names moved to, {old name: "new.module:new name"})
RENAMED_MODULES: dict[str, tuple[str, dict[str, str]]] = {
    "aimc_plugins.resolve": (
        "aimc_plugins.training.setup",
        {"is_preset": "aimc_plugins.compat:is_preset"},
    ),
    "aimc_plugins.device_spec": (
        "aimc_plugins.devices.names",
        {
            "DeviceSpec": "aimc_plugins.devices.names:DeviceRef",
            "DeviceSpecError": "aimc_plugins.devices.names:DeviceRefError",
            "parse_device_spec": "aimc_plugins.devices.names:parse_device_ref",
            "device_label": "aimc_plugins.training.identity:device_label",
        },
    ),
    "aimc_plugins.compare": (
        "aimc_plugins.training.run",
        {
            "RunSpec": "aimc_plugins.training.identity:PlannedRun",
            "device_label": "aimc_plugins.training.identity:device_label",
            "plan": "aimc_plugins.sweep.spec:plan",
            "validate": "aimc_plugins.training.setup:validate",
            "build_run_setup": "aimc_plugins.training.setup:setup_for",
        },
    ),
}

_LOOP = "aimc_plugins.training.loop"
_SUMMARY = "aimc_plugins.report.summary"
# module -> {old attribute: "new.module:name"}: names a module had in the previous release
# (the single-file aimc_plugins/training.py and report.py, now packages) or until this one
# (the host's plugins module, before its split).
MOVED_ATTRIBUTES: dict[str, dict[str, str]] = {
    "aimc_plugins.training": {
        name: f"{_LOOP}:{name}"
        for name in (
            "AcceleratorError",
            "check_accelerator",
            "evaluate",
            "layer_inputs",
            "make_optimizer",
            "notify_epoch",
            "schedule_notes",
            "seed_everything",
            "set_epoch_callback",
            "to_analog",
            "train_classifier",
        )
    },
    "aimc_plugins.report": {
        **{
            name: f"{_SUMMARY}:{name}"
            for name in (
                "CSV_COLUMNS",
                "NO_INTERVAL",
                "Row",
                "letter_groups",
                "markdown_table",
                "ranking_metric",
                "run_notes",
                "separated",
                "summarize",
                "write_csv",
                "write_html",
                "write_markdown",
                "write_report",
                "write_runs_json",
            )
        },
        "mean_interval": "aimc_plugins.report.stats:mean_interval",
        "t_quantile_975": "aimc_plugins.report.stats:t_quantile_975",
    },
    # the least-squares experiment's private serial engine became a comparison (0.2.0)
    "aimc_plugins.builtin.recipes.least_squares": {
        name: f"aimc_plugins.api.least_squares:{name}"
        for name in ("run_experiment", "final_table", "write_tables")
    },
    "aimc_plugins.host.plugins": {
        "PluginInfo": "aimc_plugins.cli.listing:PluginInfo",
        "plugin_infos": "aimc_plugins.cli.listing:plugin_infos",
        "SLOW_REGISTRATION_S": "aimc_plugins.cli.listing:SLOW_REGISTRATION_S",
        "SHARED_LIBRARIES": "aimc_plugins.cli.listing:SHARED_LIBRARIES",
        "add_commands": "aimc_plugins.cli.main:add_commands",
        "choose_trackers": "aimc_plugins.training.tracking:choose_trackers",
        "call_tracker": "aimc_plugins.training.tracking:call_tracker",
        "TRACKER_EVENTS": "aimc_plugins.training.tracking:TRACKER_EVENTS",
    },
}

# What to tell instead of a module path where the facade has the name.
_FACADE_NAMES = (
    "ResponseDevice",
    "check_device",
    "check_optimizer",
    "diagnose",
    "find_symmetric_point",
    "build_device",
    "build_setup",
    "DeviceRef",
    "parse_device_ref",
    "PlannedRun",
    "RunOutcome",
    "plan",
    "run_one",
    "response_of",
    "measure_steps",
    "single_pulse_tile",
    "quiet",
    "preset_device_classes",
)


def deprecated(old: str, new: str) -> None:
    """Warn that ``old`` is deprecated in favour of ``new``, at the caller's caller."""
    warnings.warn(
        f"{old} is deprecated and will be removed in aimc-plugins {REMOVED_IN}; use {new}",
        DeprecationWarning,
        stacklevel=3,
    )


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


_ADVICE = {
    "aimc_plugins.compat:is_preset": "aimc_plugins.training.setup.device_kind(name) == 'preset'"
}


def _spelling(target: str) -> str:
    if target in _ADVICE:
        return _ADVICE[target]
    module, _, name = target.partition(":")
    if name in _FACADE_NAMES:
        return f"`from aimc_plugins import {name}` ({module}.{name})"
    return f"{module}.{name}"


def _attribute_forwarder(owner: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that forwards the names in ``table``, with a warning each use."""

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {owner!r} has no attribute {name!r}")
        deprecated(f"{owner}.{name}", _spelling(target))
        return _resolve(target)

    return __getattr__


class _RenamedModule(ModuleType):
    """An old module whose names moved to several places: renamed ones warn where they are
    used, the rest come from its main successor."""

    def __init__(self, name: str, main: str, renamed: Mapping[str, str]) -> None:
        super().__init__(name, f"Deprecated: use {main}.")
        self._main = main
        self._renamed = dict(renamed)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        target = self._renamed.get(name)
        if target is not None:
            deprecated(f"{self.__name__}.{name}", _spelling(target))
            return _resolve(target)
        return getattr(importlib.import_module(self._main), name)

    def __dir__(self) -> list[str]:
        return sorted({*dir(importlib.import_module(self._main)), *self._renamed})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """An old module named like a function of the facade (``aimc_plugins.compare``): once
        it is imported, the import system binds the module to the facade's attribute, so calls
        of the function reach it here and go on to the function."""
        target = _CALLABLE_AS.get(self.__name__)
        if target is None:
            raise TypeError(f"module {self.__name__!r} is not callable")
        return _resolve(target)(*args, **kwargs)


# Old modules whose name is also a function of the facade: what calling them means.
_CALLABLE_AS = {"aimc_plugins.compare": "aimc_plugins.api.comparison:compare"}


def _new_name(fullname: str) -> str | None:
    if fullname in MOVED_MODULES:
        return MOVED_MODULES[fullname]
    for old, new in MOVED_PACKAGES.items():
        if fullname == old or fullname.startswith(old + "."):
            return new + fullname.removeprefix(old)
    return None


class _Loader(importlib.abc.Loader):
    """Loads an old module name: the new module itself, or a :class:`_RenamedModule`."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        if spec.name in RENAMED_MODULES:
            main, renamed = RENAMED_MODULES[spec.name]
            return _RenamedModule(spec.name, main, renamed)
        return None  # a plain placeholder, replaced in exec_module

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__
        if name in RENAMED_MODULES:
            main = RENAMED_MODULES[name][0]
            deprecated(f"module {name}", f"{main} (renamed names warn when used)")
            return
        new = _new_name(name)
        assert new is not None
        deprecated(f"module {name}", new)
        # the import system hands out what sys.modules holds after exec_module: the new module
        sys.modules[name] = importlib.import_module(new)


class _PatchingLoader(importlib.abc.Loader):
    """A module's own loader, followed by the deprecated spellings that belong on it."""

    def __init__(self, loader: Any, patch: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, ...: the real loader's
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the old module names, and wraps the loaders of modules that get old spellings."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in RENAMED_MODULES or _new_name(fullname) is not None:
            return importlib.util.spec_from_loader(fullname, _Loader())
        patch = _PATCHES.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def is_preset(name: str) -> bool:
    """Whether ``name`` is a preset training configuration (``aimc_plugins.resolve.is_preset``
    of the previous release)."""
    from aimc_plugins.training.setup import device_kind

    return device_kind(name) == "preset"


# --- record methods ------------------------------------------------------------------------


def _device_build(self: Device, **params: Any) -> Any:
    deprecated("Device.build(**params)", "aimc_plugins.device_config(device, params)")
    from aimc_plugins.devices.build import device_config

    return device_config(self, params)


def _device_adapted(self: Device, **params: Any) -> Any:
    deprecated("Device.adapted(**params)", "aimc_plugins.adapted_device(device, params)")
    from aimc_plugins.devices.build import adapted_device

    return adapted_device(self, params)


def _device_response(self: Device, **params: Any) -> Any:
    deprecated("Device.response(**params)", "aimc_plugins.device_response(device, params)")
    from aimc_plugins.devices.build import device_response

    return device_response(self, params)


def _to_dict(self: Any) -> dict[str, Any]:
    deprecated(f"{type(self).__name__}.to_dict()", "aimc_plugins.as_dict(record)")
    return as_dict(self)


def _outcome_spec(self: Any) -> Any:
    deprecated("RunOutcome.spec", "RunOutcome.run (a PlannedRun, formerly RunSpec)")
    return self.run


def _patch_run(module: ModuleType) -> None:
    module.RunOutcome.spec = property(_outcome_spec)


def _patch_listing(module: ModuleType) -> None:
    module.PluginInfo.to_dict = _to_dict


def _attributes_of(name: str) -> Callable[[ModuleType], None]:
    def patch(module: ModuleType) -> None:
        module.__getattr__ = _attribute_forwarder(name, MOVED_ATTRIBUTES[name])  # type: ignore[method-assign]

    return patch


_PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "aimc_plugins.training.run": _patch_run,
    "aimc_plugins.cli.listing": _patch_listing,
    **{name: _attributes_of(name) for name in MOVED_ATTRIBUTES},
}

_installed = False


def install() -> None:
    """Make every deprecated spelling work (once per process; the facade calls this)."""
    global _installed
    if _installed:
        return
    _installed = True
    Device.build = _device_build  # type: ignore[attr-defined]
    Device.adapted = _device_adapted  # type: ignore[attr-defined]
    Device.response = _device_response  # type: ignore[attr-defined]
    for record in (Param, Device, Optimizer, Preset, Recipe):
        record.to_dict = _to_dict  # type: ignore[union-attr]
    sys.meta_path.insert(0, _Finder())
    for name, patch in _PATCHES.items():  # modules imported before the finder was in place
        if name in sys.modules:
            patch(sys.modules[name])
