"""The plugin manager: loads built-in and third-party plugins and collects what they register.

Built-in plugins are modules named in :data:`BUILTIN_PLUGINS` and use the same hooks as third
parties. Third-party plugins are found through the entry-point group ``aimc_plugins``; the
environment variable ``AIMC_PLUGINS`` (comma-separated entry-point or distribution names)
restricts which of them load, and an empty value loads none. ``AIMC_TRACE_PLUGINS=1`` prints
every hook call (hook, plugin, duration) to stderr.

How hooks are called
--------------------
Every hook goes through pluggy, one plugin at a time: for each implementation, in pluggy's own
call order (``tryfirst`` first, ``trylast`` last), the host calls a
:meth:`~pluggy.PluginManager.subset_hook_caller` that keeps only that plugin and every hook
wrapper. So pluggy's ordering, hook wrappers and ``add_hookcall_monitoring`` all work, while an
exception stops only the plugin that raised: it is reported by name, with hook and error, and the
next plugin is called. (One ``pm.hook`` call for everyone could not give that: pluggy stops at
the first exception, and its monitoring could not time plugins separately.) An exception raised
by a wrapper is told apart by its traceback, reported against the wrapper, and the wrapper is
left out of the calls that follow.

Everything short of an interrupt is contained: ``SystemExit`` (a stray ``sys.exit()``),
``GeneratorExit`` and exception groups of those count as plugin failures like any ``Exception``,
because one plugin must never end every command. ``KeyboardInterrupt`` (alone or in a group)
still propagates, so Ctrl-C interrupts.

Precedence on a name clash: ``tryfirst`` over plain over ``trylast``, then the plugin registered
earlier (so built-ins keep their names unless a later plugin asks with ``tryfirst``). The loser is
reported with both plugins named. A device named like a preset training configuration is left
out and reported too, since a device argument with that name means the preset.

Tracker events (``run_started``, ``epoch_ended``, ``run_finished``) go the same way, but only to
the plugin that registered the tracker a sweep chose (:func:`call_tracker`); a raising tracker is
returned as a :class:`PluginFailure` for the caller to report, never raised into the run.

Collected records are cached until plugins change (a register or unregister on :data:`pm`, or
:func:`reload_plugins`), so each plugin's registration runs once per process;
:func:`registration_times` says how long each took.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import importlib.metadata
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import pluggy

from aimc_plugins.host import hookspecs
from aimc_plugins.host.records import Device, Optimizer, Preset, Recipe, Tracker

ENTRY_POINT_GROUP = "aimc_plugins"
ENV_VAR = "AIMC_PLUGINS"
TRACE_ENV_VAR = "AIMC_TRACE_PLUGINS"
SLOW_REGISTRATION_S = 1.0  # `aimc plugins` names plugins whose registration took longer

BUILTIN_PLUGINS: tuple[str, ...] = (
    "aimc_plugins.builtin.presets",
    "aimc_plugins.builtin.optimizers",
    "aimc_plugins.builtin.recipes",
    "aimc_plugins.cli.commands",
    "aimc_plugins.cli.device_commands",
    "aimc_plugins.cli.sweep_commands",
    "aimc_plugins.cli.author_commands",
)

# Failures of a plugin as a whole (it never got to register anything), as opposed to a hook's.
IMPORT = "import"
ENTRY_POINT = "entry point"
LOAD_STAGES = (IMPORT, ENTRY_POINT)

# Imported before `aimc plugins` times registrations, when already loaded only: listing imports
# neither aihwkit nor torch (the built-in presets are listed from cached metadata), so a plugin
# whose registration imports them is charged for it, being what makes every listing wait.
SHARED_LIBRARIES = ("aihwkit.simulator.presets",)


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

    def describe(self) -> str:
        return f"{self.hook}: {self.error}" if self.hook else self.error


@dataclass(frozen=True)
class PluginInfo:
    """One row of ``aimc plugins``: ``errors`` holds every failure, ``error`` them joined."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    status: str
    error: str = ""
    errors: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass
class _Collection:
    """One hook's collected records, and what the lookup needs to explain a missing name."""

    records: dict[str, Any] = field(default_factory=dict)
    lost: dict[str, PluginFailure] = field(default_factory=dict)  # names failed plugins gave
    broken: list[PluginFailure] = field(default_factory=list)  # plugins whose hook raised


class HostPluginManager(pluggy.PluginManager):
    """pluggy's manager that drops the collected records whenever its plugins change.

    Invalidating here, rather than in :func:`register`, also covers code that registers on
    :data:`pm` directly (the sweep workers do).
    """

    def register(self, plugin: object, name: str | None = None) -> str | None:
        try:
            hash(plugin)
        except TypeError:
            # pluggy's per-plugin callers keep plugins in sets; fail here, by name, not later.
            raise TypeError(f"plugin {name or plugin!r} must be hashable") from None
        registered = super().register(plugin, name=name)
        _invalidate()
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        name = name if name is not None else self.get_name(plugin)
        removed = super().unregister(plugin=plugin, name=name)
        if name is not None:
            _forget(name)
        _invalidate()
        return removed


pm = HostPluginManager(hookspecs.PROJECT)
pm.add_hookspecs(hookspecs)

failures: list[PluginFailure] = []
_distributions: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)
_timings: dict[str, dict[str, float]] = {}  # plugin name -> hook (or "import") -> seconds
_cache: dict[str, _Collection] = {}
_generation = 0  # bumped whenever plugins change, so a collection racing a change is not kept
_loaded = False
_untrace: Callable[[], None] | None = None


def _invalidate() -> None:
    global _generation
    _generation += 1
    _cache.clear()


def _forget(name: str) -> None:
    failures[:] = [f for f in failures if f.plugin != name]
    _timings.pop(name, None)


def distributions() -> dict[str, tuple[str, str]]:
    """Plugin name -> (distribution, version) for built-in and entry-point plugins; a plugin
    registered by code in this process is absent."""
    load_plugins()
    return dict(_distributions)


def registration_times() -> dict[str, dict[str, float]]:
    """Seconds each plugin took, per hook (``import`` for loading it), in this process."""
    return {name: dict(hooks) for name, hooks in _timings.items()}


def _allowed_third_party() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _contained(exc: BaseException) -> bool:
    """Whether a plugin's exception is reported (everything but an interrupt) or propagated."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(KeyboardInterrupt) is None
    return not isinstance(exc, KeyboardInterrupt)


def _record_failure(plugin: str, exc: BaseException, hook: str = "") -> PluginFailure:
    failure = PluginFailure(
        plugin=plugin,
        error=f"{type(exc).__name__}: {exc}",
        hook=hook,
        distribution=_distributions.get(plugin, ("", ""))[0],
        traceback="".join(traceback.format_exception(exc)),
    )
    failures.append(failure)
    return failure


def _timed_import(name: str, load: Callable[[], object]) -> None:
    started = time.perf_counter()
    try:
        pm.register(load(), name=name)
    except BaseException as exc:  # a broken plugin must not stop the others
        if not _contained(exc):
            raise
        _record_failure(name, exc, hook=IMPORT)
    finally:
        _timings.setdefault(name, {})[IMPORT] = time.perf_counter() - started


def load_plugins() -> None:
    """Register built-in plugins and load third-party ones. Safe to call repeatedly."""
    global _loaded, _untrace
    if _loaded:
        return
    _loaded = True
    if os.environ.get(TRACE_ENV_VAR, "") not in ("", "0") and _untrace is None:
        _untrace = pm.add_hookcall_monitoring(_trace_before, _trace_after)
    for module_name in BUILTIN_PLUGINS:
        _distributions[module_name] = ("aimc-plugins", _own_version())
        _timed_import(module_name, functools.partial(importlib.import_module, module_name))

    allowed = _allowed_third_party()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else ""
        version = dist.version if dist is not None else ""
        if allowed is not None and ep.name not in allowed and dist_name not in allowed:
            continue
        owner = _distributions.get(ep.name)
        if owner is None and pm.has_plugin(ep.name):
            owner = ("in-process code", "")
        if owner is not None:
            if owner[0] != dist_name:  # else the same distribution, visible twice on sys.path
                _report_entry_point_clash(ep.name, dist_name, version, owner[0])
            continue
        _distributions[ep.name] = (dist_name, version)
        _timed_import(ep.name, ep.load)


def _report_entry_point_clash(name: str, dist_name: str, version: str, owner: str) -> None:
    """Report an entry point whose name another distribution took: pluggy keys plugins by name,
    so it cannot load too. It is listed as ``NAME (DISTRIBUTION)``."""
    listed = f"{name} ({dist_name})"
    _distributions[listed] = (dist_name, version)
    clash = DuplicateNameError(
        f"entry point {name!r} of distribution {dist_name!r} is not loaded: distribution "
        f"{owner!r} took that plugin name; one of them must rename its entry point"
    )
    _record_failure(listed, clash, hook=ENTRY_POINT)


def reload_plugins() -> None:
    """Forget every plugin and failure, then load again: picks up distributions installed, or a
    changed ``AIMC_PLUGINS`` or ``AIMC_TRACE_PLUGINS``, since the first load."""
    global _loaded, _untrace
    for name, _ in pm.list_name_plugin():
        pm.unregister(name=name)
    failures.clear()
    _distributions.clear()
    _timings.clear()
    _invalidate()
    if _untrace is not None:
        _untrace()
        _untrace = None
    importlib.invalidate_caches()
    _loaded = False
    load_plugins()


def _own_version() -> str:
    try:
        return importlib.metadata.version("aimc-plugins")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _is_wrapper(impl: Any) -> bool:
    return bool(impl.wrapper or impl.hookwrapper)


_trace_started: list[float] = []  # a stack: a hook may call another hook


def _trace_before(hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    _trace_started.append(time.perf_counter())


def _trace_after(
    outcome: Any, hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """One stderr line per hook call, as ``DATASETTE_TRACE_PLUGINS`` does for datasette."""
    ms = (time.perf_counter() - _trace_started.pop()) * 1000
    called = [i.plugin_name for i in hook_impls if not _is_wrapper(i)]
    wrappers = [i.plugin_name for i in hook_impls if _is_wrapper(i)]
    line = f"aimc trace: {hook_name} plugin={','.join(called) or '-'} {ms:.1f} ms"
    if wrappers:
        line += f" wrapped-by={','.join(wrappers)}"
    if outcome.exception is not None:
        line += f" raised {type(outcome.exception).__name__}: {outcome.exception}"
    print(line, file=sys.stderr, flush=True)


def _culprit(exc: BaseException, impls: Sequence[Any]) -> Any | None:
    """The implementation whose code raised ``exc``: the innermost of their frames in its
    traceback (a wrapper that re-raises a plugin's exception leaves that plugin innermost)."""
    by_code = {getattr(i.function, "__code__", None): i for i in impls}
    found = None
    tb = exc.__traceback__
    while tb is not None:
        found = by_code.get(tb.tb_frame.f_code, found)
        tb = tb.tb_next
    return found


def _call_each(
    hook_name: str, call: Callable[[str, Any], None]
) -> list[tuple[Any, PluginFailure | None]]:
    """Call ``hook_name`` through pluggy once per plugin, in pluggy's call order, each call
    keeping that plugin and the hook wrappers (see the module docstring).

    ``call(plugin_name, caller)`` makes the call. Returns (hookimpl, its failure or None) in call
    order; failures are also recorded in :data:`failures`, timings in :func:`registration_times`.
    """
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    wrappers = [i for i in impls if _is_wrapper(i)]
    outcomes: list[tuple[Any, PluginFailure | None]] = []
    for impl in reversed(impls):  # pluggy calls the list from its end
        if _is_wrapper(impl):
            continue
        started = time.perf_counter()
        while True:
            kept = {id(impl.plugin), *(id(w.plugin) for w in wrappers)}
            others = [i.plugin for i in impls if id(i.plugin) not in kept]
            try:
                call(impl.plugin_name, pm.subset_hook_caller(hook_name, others))
                outcomes.append((impl, None))
                break
            except BaseException as exc:
                if not _contained(exc):
                    raise
                culprit = _culprit(exc, [impl, *wrappers]) or impl
                failure = _record_failure(culprit.plugin_name, exc, hook=hook_name)
                if culprit is impl:
                    outcomes.append((impl, failure))
                    break
                wrappers.remove(culprit)  # reported once; call the plugin again without it
        _timings.setdefault(impl.plugin_name, {})[hook_name] = time.perf_counter() - started
    return outcomes


R = TypeVar("R", Device, Optimizer, Preset, Recipe, Tracker)


def _precedence(impl: Any, order: Mapping[str, int]) -> tuple[int, int]:
    rank = 0 if impl.tryfirst else 2 if impl.trylast else 1
    return rank, order.get(impl.plugin_name, len(order))


def _gather(
    hook_name: str, record_type: type[R], shadowed_by: Callable[[], dict[str, Any]] | None
) -> _Collection:
    """Call the hook on every plugin and merge their records by precedence."""
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

    outcomes = _call_each(hook_name, call)
    shadow = shadowed_by() if shadowed_by is not None else {}
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
                _record_failure(plugin_name, clash, hook=hook_name)
            elif record.name in shadow:
                clash = DuplicateNameError(
                    f"{kind} {record.name!r} of plugin {plugin_name!r} has the name of preset "
                    f"{record.name!r} of plugin {shadow[record.name].plugin!r}; that name means "
                    f"the preset, so the {kind} is left out"
                )
                collection.lost[record.name] = _record_failure(plugin_name, clash, hook_name)
            else:
                collection.records[record.name] = replace(record, plugin=plugin_name)
    return collection


def _collect(
    hook_name: str,
    record_type: type[R],
    shadowed_by: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, R]:
    """The hook's records, from the cache when plugins have not changed since it was filled."""
    load_plugins()
    collection = _cache.get(hook_name)
    if collection is None:
        generation = _generation
        collection = _gather(hook_name, record_type, shadowed_by)
        if generation == _generation:  # no plugin (un)registered while it ran
            _cache[hook_name] = collection
    return dict(collection.records)


def devices() -> dict[str, Device]:
    """Registered devices by name; a device named like a preset is left out (and reported)."""
    return _collect("register_devices", Device, shadowed_by=presets)


def optimizers() -> dict[str, Optimizer]:
    return _collect("register_optimizers", Optimizer)


def presets() -> dict[str, Preset]:
    return _collect("register_presets", Preset)


def recipes() -> dict[str, Recipe]:
    return _collect("register_recipes", Recipe)


def trackers() -> dict[str, Tracker]:
    return _collect("register_trackers", Tracker)


_HOOK_OF: dict[Callable[[], dict[str, Any]], str] = {
    devices: "register_devices",
    optimizers: "register_optimizers",
    presets: "register_presets",
    recipes: "register_recipes",
    trackers: "register_trackers",
}

TRACKER_EVENTS = ("run_started", "epoch_ended", "run_finished")


def choose_trackers(names: Sequence[str]) -> tuple[Tracker, ...]:
    """The trackers a sweep chose, each once, in the order given; checked before any training.

    Raises :class:`ValueError` for an unknown name (with the closest and every known name, and
    the failed plugins that may have provided it), for a tracker whose plugin implements none of
    the event hooks, and when a tracker's own ``check()`` fails (a package missing, say).
    """
    if isinstance(names, str):  # one name, not its letters
        names = (names,)
    if not names:
        return ()
    known = trackers()
    chosen: list[Tracker] = []
    for name in dict.fromkeys(names):
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            listed = ", ".join(sorted(known)) or "none are installed"
            raise ValueError(
                f"unknown tracker {name!r}.{hint} Known trackers: {listed}."
                + _failed_plugins_hint(trackers, name, "tracker")
            )
        tracker = known[name]
        plugin = pm.get_plugin(tracker.plugin)
        callers = pm.get_hookcallers(plugin) if plugin is not None else None
        hooks = {caller.name for caller in callers or ()}
        if not hooks & set(TRACKER_EVENTS):
            raise ValueError(
                f"tracker {name!r} of plugin {tracker.plugin!r} implements none of the event "
                f"hooks {', '.join(TRACKER_EVENTS)}: it would receive nothing"
            )
        if tracker.check is not None:
            try:
                tracker.check()
            except Exception as exc:
                raise ValueError(
                    f"tracker {name!r} (plugin {tracker.plugin!r}) cannot run here: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
        chosen.append(tracker)
    return tuple(chosen)


def call_tracker(hook_name: str, tracker: Tracker, **kwargs: Any) -> PluginFailure | None:
    """Call one tracker event hook on the plugin that registered ``tracker`` only (with every
    hook wrapper, through pluggy as any hook), passing ``tracker=tracker.name``.

    Everything short of an interrupt is contained and returned as a failure naming the plugin
    (or the wrapper) that raised; it is not added to :data:`failures`, which lists plugins that
    failed to load or register, and the caller decides how often to report it.
    """
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    mine = [i for i in impls if i.plugin_name == tracker.plugin and not _is_wrapper(i)]
    if not mine:
        return None
    wrappers = [i for i in impls if _is_wrapper(i)]
    kept = {id(i.plugin) for i in (*mine, *wrappers)}
    others = [i.plugin for i in impls if id(i.plugin) not in kept]
    try:
        pm.subset_hook_caller(hook_name, others)(tracker=tracker.name, **kwargs)
    except BaseException as exc:
        if not _contained(exc):
            raise
        culprit = _culprit(exc, [*mine, *wrappers]) or mine[0]
        return PluginFailure(
            plugin=culprit.plugin_name,
            error=f"{type(exc).__name__}: {exc}",
            hook=hook_name,
            distribution=_distributions.get(culprit.plugin_name, ("", ""))[0],
            traceback="".join(traceback.format_exception(exc)),
        )
    return None


def add_commands(cli: Any) -> None:
    """Let each plugin add CLI subcommands; a raising plugin is recorded and skipped."""
    load_plugins()
    failures[:] = [f for f in failures if f.hook != "register_commands"]
    _call_each("register_commands", lambda _name, caller: caller(cli=cli))


def plugin_infos() -> list[PluginInfo]:
    """Every plugin, loaded or failed, with its distribution, version, hooks, every failure, and
    the seconds its registration took."""
    load_plugins()
    for library in SHARED_LIBRARIES:
        if library.partition(".")[0] in sys.modules:
            with contextlib.suppress(Exception):  # `aimc doctor` reports a broken library
                importlib.import_module(library)
    for collect in (devices, optimizers, presets, recipes):
        collect()
    trackers()  # its registration failures are listed too
    failed: dict[str, list[PluginFailure]] = {}
    for failure in failures:
        failed.setdefault(failure.plugin, []).append(failure)
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
                seconds=sum(_timings.get(name, {}).values()),
            )
        )
    return infos


def register(plugin: object, name: str | None = None) -> str:
    """Register an in-process plugin (a module or object with ``@hookimpl`` functions)."""
    load_plugins()
    registered = pm.register(plugin, name=name)
    assert registered is not None
    return registered


def unregister(name: str) -> None:
    pm.unregister(name=name)
    _forget(name)  # also a plugin that failed to import, which pm never held


def _failed_plugins_hint(kind: Callable[[], dict[str, Any]], name: str, what: str) -> str:
    """Why ``name`` may be missing: a failed plugin gave it, or failed before it could."""
    collection = _cache.get(_HOOK_OF.get(kind, ""))
    if collection is not None and name in collection.lost:
        failure = collection.lost[name]
        return (
            f" Plugin {failure.plugin!r} registered a {what} of that name but failed "
            f"({failure.describe()}); see `aimc plugins`."
        )
    suspects = [f for f in failures if f.hook in LOAD_STAGES]
    suspects += collection.broken if collection is not None else []
    if not suspects:
        return ""
    listed = "; ".join(f"{f.plugin!r} ({f.describe()})" for f in suspects)
    return f" Plugins that failed, which may provide it: {listed}. See `aimc plugins`."


def lookup(kind: Callable[[], dict[str, R]], name: str, what: str) -> R:
    """Find a record by name, or fail with the closest known names and the failed plugins that
    may have provided it."""
    table = kind()
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise KeyError(
        f"unknown {what} {name!r}.{hint} See `aimc {what}s` for the list."
        + _failed_plugins_hint(kind, name, what)
    )
