"""The plugin host in one name: ``from aimc_plugins import plugins`` (or
``from aimc_plugins.host import plugins``) gives loading, the registry and the failures.

The work is split along its seams, each module with one job:

- :mod:`~aimc_plugins.host.manager`: the pluggy manager :data:`pm` and what the host remembers
  per plugin (:data:`failures`, :data:`notices`, distributions, timings);
- :mod:`~aimc_plugins.host.loading`: built-in and entry-point plugins, ``AIMC_PLUGINS``, the host
  version a plugin requires, unknown hooks, entry-point names two distributions share;
- :mod:`~aimc_plugins.host.calls`: calling a hook one plugin at a time, so one plugin's exception
  stops only that plugin, and ``AIMC_TRACE_PLUGINS``;
- :mod:`~aimc_plugins.host.registry`: the typed :data:`registry` (``registry.device(name)``) and
  the lookups that explain a missing name.

Tracker events are delivered by the training layer (:mod:`aimc_plugins.training.tracking`), and
``aimc plugins`` builds its listing in the CLI (:mod:`aimc_plugins.cli.listing`).
"""

from __future__ import annotations

from aimc_plugins.host import hookspecs  # `plugins.hookspecs.hookimpl`, as before the split
from aimc_plugins.host.calls import call_each, call_plugin, is_wrapper
from aimc_plugins.host.loading import (
    BUILTIN_PLUGINS,
    HOST_DISTRIBUTION,
    HostVersionError,
    UnknownHookError,
    distributions,
    load_plugins,
    register,
    registration_times,
    reload_plugins,
    unknown_hooks,
    unregister,
)
from aimc_plugins.host.manager import (
    ENTRY_POINT,
    ENTRY_POINT_GROUP,
    ENV_VAR,
    HOST_VERSION,
    IMPORT,
    LOAD_STAGES,
    TRACE_ENV_VAR,
    UNKNOWN_HOOK,
    DuplicateNameError,
    HostPluginManager,
    PluginFailure,
    PluginNotice,
    failures,
    notices,
    pm,
)
from aimc_plugins.host.registry import (
    Registry,
    devices,
    lookup,
    optimizers,
    presets,
    recipes,
    registry,
    trackers,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT",
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "HOST_DISTRIBUTION",
    "HOST_VERSION",
    "IMPORT",
    "LOAD_STAGES",
    "TRACE_ENV_VAR",
    "UNKNOWN_HOOK",
    "DuplicateNameError",
    "HostPluginManager",
    "HostVersionError",
    "PluginFailure",
    "PluginNotice",
    "Registry",
    "UnknownHookError",
    "call_each",
    "call_plugin",
    "devices",
    "distributions",
    "failures",
    "hookspecs",
    "is_wrapper",
    "load_plugins",
    "lookup",
    "notices",
    "optimizers",
    "pm",
    "presets",
    "recipes",
    "register",
    "registration_times",
    "registry",
    "reload_plugins",
    "trackers",
    "unknown_hooks",
    "unregister",
]
