"""What plugins registered, by kind, and the lookups that explain a missing name.

:data:`registry` is typed: ``registry.device(name)`` is a :class:`Device` or a ``KeyError`` that
names the closest known devices and the failed plugins that may have provided it;
``registry.devices()`` is every device by name. The module-level :func:`devices`,
:func:`optimizers`, ... and :func:`lookup` are the same tables under their older spellings.

Precedence on a name clash: ``tryfirst`` over plain over ``trylast``, then the plugin registered
earlier (so built-ins keep their names unless a later plugin asks with ``tryfirst``). The loser is
reported with both plugins named. A device named like a preset training configuration is left
out and reported too, since a device argument with that name means the preset.

Collected records are cached until plugins change (a register or unregister on the plugin
manager, or a reload), so each plugin's registration runs once per process.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from aimc_plugins.host import manager
from aimc_plugins.host.calls import call_each
from aimc_plugins.host.loading import load_plugins
from aimc_plugins.host.manager import LOAD_STAGES, DuplicateNameError, PluginFailure, pm
from aimc_plugins.host.records import Device, Optimizer, Preset, Recipe, Tracker

R = TypeVar("R", Device, Optimizer, Preset, Recipe, Tracker)


@dataclass
class _Collection:
    """One hook's collected records, and what the lookup needs to explain a missing name."""

    records: dict[str, Any] = field(default_factory=dict)
    lost: dict[str, PluginFailure] = field(default_factory=dict)  # names failed plugins gave
    broken: list[PluginFailure] = field(default_factory=list)  # plugins whose hook raised


_cache: dict[str, tuple[int, _Collection]] = {}  # hook -> (generation it was filled in, records)


def _precedence(impl: Any, order: Mapping[str, int]) -> tuple[int, int]:
    rank = 0 if impl.tryfirst else 2 if impl.trylast else 1
    return rank, order.get(impl.plugin_name, len(order))


def _gather(
    hook_name: str, record_type: type[R], shadow: Callable[[], dict[str, Any]] | None
) -> _Collection:
    """Call the hook on every plugin and merge their records by precedence."""
    failures = manager.failures
    failures[:] = [f for f in failures if f.hook != hook_name]  # this collection replaces them
    staged: dict[str, list[R]] = {}

    def call(plugin_name: str, caller: Any) -> None:
        batch: list[R] = []
        staged[plugin_name] = batch

        def register(record: R) -> None:
            if not isinstance(record, record_type):
                raise TypeError(
                    f"{hook_name} expects {record_type.__name__} records, "
                    f"got {type(record).__name__}"
                )
            batch.append(record)

        caller(register=register)

    outcomes = call_each(hook_name, call)
    shadowing = shadow() if shadow is not None else {}
    kind = record_type.__name__.lower()
    order = {name: i for i, (name, _) in enumerate(pm.list_name_plugin())}
    collection = _Collection()
    for impl, failure in sorted(outcomes, key=lambda o: _precedence(o[0], order)):
        plugin_name = impl.plugin_name
        if failure is not None:
            collection.broken.append(failure)
            collection.lost.update(dict.fromkeys((r.name for r in staged[plugin_name]), failure))
            continue
        for record in staged[plugin_name]:
            if record.name in collection.records:
                other = collection.records[record.name].plugin
                clash = DuplicateNameError(
                    f"{kind} {record.name!r} is registered by both plugin {other!r} and plugin "
                    f"{plugin_name!r}; {other!r} takes precedence"
                )
                manager.record_failure(plugin_name, clash, hook=hook_name)
            elif record.name in shadowing:
                clash = DuplicateNameError(
                    f"{kind} {record.name!r} of plugin {plugin_name!r} has the name of preset "
                    f"{record.name!r} of plugin {shadowing[record.name].plugin!r}; that name "
                    f"means the preset, so the {kind} is left out"
                )
                collection.lost[record.name] = manager.record_failure(plugin_name, clash, hook_name)
            else:
                collection.records[record.name] = replace(record, plugin=plugin_name)
    return collection


def _collection(
    hook_name: str, record_type: type[R], shadow: Callable[[], dict[str, Any]] | None = None
) -> _Collection:
    """The hook's records, from the cache when plugins have not changed since it was filled."""
    load_plugins()
    cached = _cache.get(hook_name)
    if cached is not None and cached[0] == manager.generation():
        return cached[1]
    generation = manager.generation()
    collection = _gather(hook_name, record_type, shadow)
    if generation == manager.generation():  # no plugin (un)registered while it ran
        _cache[hook_name] = (generation, collection)
    return collection


@dataclass(frozen=True)
class _Kind(Generic[R]):
    """One kind of record: the hook that registers it and how a user names it."""

    hook: str
    record_type: type[R]
    what: str  # "device": in messages, and `aimc {what}s` lists them
    shadow: Callable[[], dict[str, Any]] | None = None

    def table(self) -> dict[str, R]:
        return dict(_collection(self.hook, self.record_type, self.shadow).records)

    def find(self, name: str) -> R:
        table = self.table()
        if name in table:
            return table[name]
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown {self.what} {name!r}.{hint} See `aimc {self.what}s` for the list."
            + failed_plugins_hint(self.hook, name, self.what)
        )


def failed_plugins_hint(hook_name: str, name: str, what: str) -> str:
    """Why ``name`` may be missing: a failed plugin gave it, or failed before it could."""
    cached = _cache.get(hook_name)
    collection = cached[1] if cached is not None else None
    if collection is not None and name in collection.lost:
        failure = collection.lost[name]
        return (
            f" Plugin {failure.plugin!r} registered a {what} of that name but failed "
            f"({failure.describe()}); see `aimc plugins`."
        )
    suspects = [f for f in manager.failures if f.hook in LOAD_STAGES]
    suspects += collection.broken if collection is not None else []
    if not suspects:
        return ""
    listed = "; ".join(f"{f.plugin!r} ({f.describe()})" for f in suspects)
    return f" Plugins that failed, which may provide it: {listed}. See `aimc plugins`."


_PRESETS: _Kind[Preset] = _Kind("register_presets", Preset, "preset")
_DEVICES: _Kind[Device] = _Kind("register_devices", Device, "device", shadow=_PRESETS.table)
_OPTIMIZERS: _Kind[Optimizer] = _Kind("register_optimizers", Optimizer, "optimizer")
_RECIPES: _Kind[Recipe] = _Kind("register_recipes", Recipe, "recipe")
_TRACKERS: _Kind[Tracker] = _Kind("register_trackers", Tracker, "tracker")


class Registry:
    """Every record plugins registered, by kind: ``registry.device(name)`` finds one (or
    explains why it is missing), ``registry.devices()`` lists them all."""

    def devices(self) -> dict[str, Device]:
        """Registered devices by name; a device named like a preset is left out (and
        reported)."""
        return _DEVICES.table()

    def device(self, name: str) -> Device:
        return _DEVICES.find(name)

    def optimizers(self) -> dict[str, Optimizer]:
        return _OPTIMIZERS.table()

    def optimizer(self, name: str) -> Optimizer:
        return _OPTIMIZERS.find(name)

    def presets(self) -> dict[str, Preset]:
        return _PRESETS.table()

    def preset(self, name: str) -> Preset:
        return _PRESETS.find(name)

    def recipes(self) -> dict[str, Recipe]:
        return _RECIPES.table()

    def recipe(self, name: str) -> Recipe:
        return _RECIPES.find(name)

    def trackers(self) -> dict[str, Tracker]:
        return _TRACKERS.table()

    def tracker(self, name: str) -> Tracker:
        return _TRACKERS.find(name)

    def collect_all(self) -> None:
        """Run every registration hook (what ``aimc plugins`` lists the failures of)."""
        for kind in (_DEVICES, _OPTIMIZERS, _PRESETS, _RECIPES, _TRACKERS):
            kind.table()


registry = Registry()

# The older spellings: functions per kind, and lookup(kind, name, what).
devices = registry.devices
optimizers = registry.optimizers
presets = registry.presets
recipes = registry.recipes
trackers = registry.trackers

_KIND_OF: dict[Callable[[], dict[str, Any]], _Kind[Any]] = {
    devices: _DEVICES,
    optimizers: _OPTIMIZERS,
    presets: _PRESETS,
    recipes: _RECIPES,
    trackers: _TRACKERS,
}


def lookup(kind: Callable[[], dict[str, R]], name: str, what: str) -> R:
    """``registry.device(name)`` and its siblings, spelt with the table function:
    ``lookup(devices, name, "device")``. Prefer :data:`registry`."""
    known = _KIND_OF.get(kind)
    if known is None:
        raise TypeError(f"lookup needs one of the registry's tables, got {kind!r}")
    found: R = known.find(name)
    return found
