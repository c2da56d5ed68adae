"""``aimc plugins``: every plugin, loaded or failed, with what it provides and what went wrong.

The listing is the CLI's view of the host's state (:mod:`aimc_plugins.host.manager`): it runs
every registration hook first, so failures of any hook are listed, and charges a plugin for
the shared libraries its registration imports only when they were not already loaded.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from dataclasses import dataclass

from aimc_plugins.host import manager, plugins
from aimc_plugins.host.manager import PluginFailure

SLOW_REGISTRATION_S = 1.0  # `aimc plugins` names plugins whose registration took longer

# Imported before `aimc plugins` times registrations, when already loaded only: listing imports
# neither aihwkit nor torch (the built-in presets are listed from cached metadata), so a plugin
# whose registration imports them is charged for it, being what makes every listing wait.
SHARED_LIBRARIES = ("aihwkit.simulator.presets",)


@dataclass(frozen=True)
class PluginInfo:
    """One row of ``aimc plugins``: ``errors`` holds every failure, ``error`` them joined;
    ``warnings`` what a user should know although the plugin loaded (a shared entry-point
    name)."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    status: str
    error: str = ""
    errors: tuple[str, ...] = ()
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()


def plugin_infos() -> list[PluginInfo]:
    """Every plugin, loaded or failed, with its distribution, version, hooks, every failure, and
    the seconds its registration took."""
    plugins.load_plugins()
    for library in SHARED_LIBRARIES:
        if library.partition(".")[0] in sys.modules:
            with contextlib.suppress(Exception):  # `aimc doctor` reports a broken library
                importlib.import_module(library)
    plugins.registry.collect_all()
    failed: dict[str, list[PluginFailure]] = {}
    for failure in manager.failures:
        failed.setdefault(failure.plugin, []).append(failure)
    noted: dict[str, list[str]] = {}
    for notice in manager.notices:
        noted.setdefault(notice.plugin, []).append(notice.message)
    infos = []
    names = [name for name, _ in plugins.pm.list_name_plugin()]
    names += [name for name in failed if name not in names]
    for name in names:
        dist, version = manager.plugin_distributions.get(name, ("", ""))
        plugin = plugins.pm.get_plugin(name)
        hooks = (
            tuple(sorted(h.name for h in plugins.pm.get_hookcallers(plugin) or ()))
            if plugin is not None
            else ()
        )
        errors = tuple(f.describe() for f in failed.get(name, ()))
        infos.append(
            PluginInfo(
                name,
                dist,
                version,
                hooks,
                status="failed" if errors else "ok",
                error="; ".join(errors),
                errors=errors,
                seconds=sum(manager.timings.get(name, {}).values()),
                warnings=tuple(noted.get(name, ())),
            )
        )
    return infos
