"""The plugin manager: loads built-in and third-party plugins and collects what they register.

Built-in plugins are modules named in :data:`BUILTIN_PLUGINS` and use the same hooks as third
parties. Third-party plugins are found through the entry-point group ``aimc_plugins``; the
environment variable ``AIMC_PLUGINS`` (comma-separated entry-point or distribution names)
restricts which of them load, and an empty value loads none.

A plugin that fails to import, raises inside a hook, or registers a name another plugin already
took, is recorded in :data:`failures` and reported by name; every other plugin keeps working.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pluggy

from aimc_plugins import hookspecs
from aimc_plugins.records import Device, Optimizer, Preset, Recipe

ENTRY_POINT_GROUP = "aimc_plugins"
ENV_VAR = "AIMC_PLUGINS"

BUILTIN_PLUGINS: tuple[str, ...] = (
    "aimc_plugins.builtin.aihwkit_presets",
    "aimc_plugins.builtin.optimizers",
    "aimc_plugins.builtin.recipes",
    "aimc_plugins.builtin.commands",
    "aimc_plugins.builtin.device_commands",
    "aimc_plugins.builtin.sweep_commands",
    "aimc_plugins.builtin.author_commands",
)


class DuplicateNameError(ValueError):
    """Two plugins registered records of one kind under the same name."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be imported, or raised inside a hook."""

    plugin: str
    error: str
    hook: str = ""
    distribution: str = ""
    traceback: str = ""


@dataclass(frozen=True)
class PluginInfo:
    """One row of ``aimc plugins``."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    status: str
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": list(self.hooks),
            "status": self.status,
            "error": self.error,
        }


pm = pluggy.PluginManager(hookspecs.PROJECT)
pm.add_hookspecs(hookspecs)

failures: list[PluginFailure] = []
_distributions: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)
_loaded = False


def _allowed_third_party() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _record_failure(plugin: str, exc: BaseException, hook: str = "") -> None:
    dist = _distributions.get(plugin, ("", ""))[0]
    failures.append(
        PluginFailure(
            plugin=plugin,
            error=f"{type(exc).__name__}: {exc}",
            hook=hook,
            distribution=dist,
            traceback="".join(traceback.format_exception(exc)),
        )
    )


def load_plugins() -> None:
    """Register built-in plugins and load third-party ones. Safe to call repeatedly."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
        _distributions[module_name] = ("aimc-plugins", _own_version())

    allowed = _allowed_third_party()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else ""
        if allowed is not None and ep.name not in allowed and dist_name not in allowed:
            continue
        if pm.has_plugin(ep.name) or ep.name in _distributions:
            continue  # the same distribution visible twice on sys.path
        _distributions[ep.name] = (dist_name, dist.version if dist is not None else "")
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not stop the others
            _record_failure(ep.name, exc, hook="import")


def reload_plugins() -> None:
    """Forget every plugin and failure, then load again: picks up distributions installed, or a
    changed ``AIMC_PLUGINS``, since the first load."""
    global _loaded
    for name, _ in pm.list_name_plugin():
        pm.unregister(name=name)
    failures.clear()
    _distributions.clear()
    importlib.invalidate_caches()
    _loaded = False
    load_plugins()


def _own_version() -> str:
    try:
        return importlib.metadata.version("aimc-plugins")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


R = TypeVar("R", Device, Optimizer, Preset, Recipe)


def _collect(hook_name: str, record_type: type[R]) -> dict[str, R]:
    """Call ``hook_name`` on each plugin separately, stamping records with their plugin.

    Calling the implementations one by one (rather than through ``pm.hook``) lets a raising
    plugin be reported and skipped while the rest still register.
    """
    load_plugins()
    # Forget earlier failures of this hook so that repeated collection does not pile them up.
    failures[:] = [f for f in failures if f.hook != hook_name]
    records: dict[str, R] = {}
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():  # registration order
        plugin_name = impl.plugin_name
        staged: list[R] = []

        def register(record: R, _staged: list[R] = staged) -> None:
            if not isinstance(record, record_type):
                raise TypeError(
                    f"{hook_name} expects {record_type.__name__} records, "
                    f"got {type(record).__name__}"
                )
            _staged.append(record)

        try:
            impl.function(register)
        except Exception as exc:
            _record_failure(plugin_name, exc, hook=hook_name)
            continue
        for record in staged:
            if record.name in records:
                # The first registration wins; the clash is reported against the later plugin.
                other = records[record.name].plugin
                clash = DuplicateNameError(
                    f"{record_type.__name__.lower()} {record.name!r} is registered by both "
                    f"plugin {other!r} and plugin {plugin_name!r}"
                )
                _record_failure(plugin_name, clash, hook=hook_name)
                continue
            records[record.name] = replace(record, plugin=plugin_name)
    return records


def devices() -> dict[str, Device]:
    return _collect("register_devices", Device)


def optimizers() -> dict[str, Optimizer]:
    return _collect("register_optimizers", Optimizer)


def presets() -> dict[str, Preset]:
    return _collect("register_presets", Preset)


def recipes() -> dict[str, Recipe]:
    return _collect("register_recipes", Recipe)


def add_commands(cli: Any) -> None:
    """Let each plugin add CLI subcommands; a raising plugin is recorded and skipped."""
    load_plugins()
    for impl in pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli)
        except Exception as exc:
            _record_failure(impl.plugin_name, exc, hook="register_commands")


def plugin_infos() -> list[PluginInfo]:
    """Every plugin, loaded or failed, with its distribution, version, hooks and status."""
    load_plugins()
    for collect in (devices, optimizers, presets, recipes):
        collect()
    failed: dict[str, PluginFailure] = {}
    for failure in failures:
        failed.setdefault(failure.plugin, failure)
    infos = []
    names = [name for name, _ in pm.list_name_plugin()]
    names += [name for name in failed if name not in names]
    for name in names:
        dist, version = _distributions.get(name, ("", ""))
        plugin = pm.get_plugin(name)
        hooks = (
            tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
            if plugin is not None
            else ()
        )
        failure = failed.get(name)
        status = "ok" if failure is None else "failed"
        error = (
            ""
            if failure is None
            else (f"{failure.hook}: {failure.error}" if failure.hook else failure.error)
        )
        infos.append(PluginInfo(name, dist, version, hooks, status, error))
    return infos


def register(plugin: object, name: str | None = None) -> str:
    """Register an in-process plugin (a module or object with ``@hookimpl`` functions)."""
    load_plugins()
    registered = pm.register(plugin, name=name)
    assert registered is not None
    return registered


def unregister(name: str) -> None:
    pm.unregister(name=name)
    failures[:] = [f for f in failures if f.plugin != name]


def lookup(kind: Callable[[], dict[str, R]], name: str, what: str) -> R:
    """Find a record by name, or fail with the closest known names."""
    import difflib

    table = kind()
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise KeyError(f"unknown {what} {name!r}.{hint} See `aimc {what}s` for the list.")
