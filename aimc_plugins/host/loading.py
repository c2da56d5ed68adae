"""Loading plugins: the built-in ones, third-party entry points, and the checks each passes.

Built-in plugins are the modules the application names (:mod:`aimc_plugins.host.composition`,
filled by :mod:`aimc_plugins.app`) and use the same hooks as third parties. Third-party
plugins are found through the entry-point group ``aimc_plugins``; the environment variable
``AIMC_PLUGINS`` (comma-separated entry-point, distribution or qualified plugin names)
restricts which of them load, and an empty value loads none.
``AIMC_TRACE_PLUGINS=1`` prints every hook call (hook, plugin, duration) to stderr.

A third-party plugin is refused, and listed as failed with one line saying why, when:

- its distribution requires a host version this host is not (``Requires-Dist: aimc-plugins
  >=0.2,<0.3`` in its metadata, as pip writes it from ``dependencies``): it is not imported, so
  a plugin written for another release never runs half-way against this one;
- it implements a hook no specification declares (a misspelt ``register_device``): it is
  unregistered, and the failure names the hook and the closest known one, because a misspelt
  hook would otherwise register nothing, silently. A hook marked ``optionalhook=True`` is the
  plugin's own decision (a hook of a newer host, say) and is accepted, as pluggy does.

Two distributions whose entry points share a name are two plugins: both load, each under the
name qualified by its distribution (``NAME (DISTRIBUTION)``), and a notice names the clash. Only
two registrations of one device or optimizer name are a conflict (see :mod:`.registry`).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import logging
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from aimc_plugins.host import calls, composition, manager
from aimc_plugins.host.manager import (
    ENTRY_POINT_GROUP,
    ENV_VAR,
    HOST_VERSION,
    IMPORT,
    TRACE_ENV_VAR,
    UNKNOWN_HOOK,
    PluginNotice,
    contained,
    pm,
    record_failure,
)
from aimc_plugins.host.version import VERSION

HOST_DISTRIBUTION = "aimc-plugins"



def builtin_plugins() -> tuple[str, ...]:
    """The modules loaded as built-in plugins: named by the application that composed this
    host (:mod:`aimc_plugins.app`), since the host is the bottom layer and may not name them."""
    return composition.current.builtin_plugins


# The older spelling; the facade composes the application before any module is imported, so
# this is the application's list.
BUILTIN_PLUGINS: tuple[str, ...] = builtin_plugins()

log = logging.getLogger("aimc_plugins.plugins")

_loaded = False
_untrace: Callable[[], None] | None = None


class UnknownHookError(ValueError):
    """A plugin implements a hook that no specification declares."""


class HostVersionError(RuntimeError):
    """A plugin's distribution requires a host version this host is not."""


def _tell(message: str) -> None:
    """One line on stderr (through :mod:`logging`) when a plugin is refused or renamed, once:
    in the process the user started, not again in every sweep worker that loads plugins."""
    if multiprocessing.parent_process() is None:
        log.warning("aimc: %s", message)


def _allowed_third_party() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def unknown_hooks(plugin: object) -> list[str]:
    """The hooks ``plugin`` implements that no specification declares (``optionalhook``
    implementations excepted), each with the closest known name when there is one."""
    known = [name for name, caller in vars(pm.hook).items() if getattr(caller, "spec", None)]
    found = []
    for caller in pm.get_hookcallers(plugin) or ():
        if caller.spec is not None:
            continue
        impls = [i for i in caller.get_hookimpls() if i.plugin is plugin]
        if all(i.optionalhook for i in impls):
            continue
        close = difflib.get_close_matches(caller.name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known hooks: {', '.join(known)})"
        found.append(f"unknown hook {caller.name!r}{hint}")
    return found


def _register_checked(name: str, plugin: object) -> None:
    """Register ``plugin``, then refuse it if it implements an unknown hook."""
    pm.register(plugin, name=name)
    problems = unknown_hooks(plugin)
    if problems:
        pm.unregister(name=name)
        raise UnknownHookError("; ".join(problems))


def _noting_deprecations(name: str, load: Callable[[], object]) -> object:
    """``load()``, noting each deprecated spelling the plugin uses while it is imported, so
    ``aimc plugins`` can tell its author before the spelling goes; the warnings themselves are
    issued again afterwards, from the plugin's own lines, for Python's filters to handle."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plugin = load()
    for item in caught:
        if issubclass(item.category, DeprecationWarning) and "aimc-plugins" in str(item.message):
            note = PluginNotice(name, f"plugin {name!r} uses a deprecated spelling: {item.message}")
            if note not in manager.notices:
                manager.notices.append(note)
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return plugin


def _timed_import(name: str, load: Callable[[], object], third_party: bool = True) -> None:
    started = time.perf_counter()
    try:
        plugin = _noting_deprecations(name, load) if third_party else load()
        _register_checked(name, plugin)
    except BaseException as exc:  # a broken plugin must not stop the others
        if not contained(exc):
            raise
        if isinstance(exc, UnknownHookError):
            record_failure(name, exc, hook=UNKNOWN_HOOK, error=str(exc))
            _tell(f"plugin {name!r} is not loaded: {exc}")
        else:
            record_failure(name, exc, hook=IMPORT)
    finally:
        manager.timings.setdefault(name, {})[IMPORT] = time.perf_counter() - started


def host_requirements(dist: Any) -> list[Requirement]:
    """What ``dist``'s metadata requires of this host (``Requires-Dist: aimc-plugins ...``
    that applies without extras)."""
    found = []
    for text in getattr(dist, "requires", None) or ():
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue  # pip would have refused it; not this host's to judge
        if canonicalize_name(requirement.name) != HOST_DISTRIBUTION:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        found.append(requirement)
    return found


def check_host_version(dist_name: str, requirements: Iterable[Requirement]) -> str:
    """Why this host cannot load ``dist_name`` (empty: it can)."""
    for requirement in requirements:
        if not requirement.specifier.contains(VERSION, prereleases=True):
            return (
                f"{dist_name} requires {HOST_DISTRIBUTION}{requirement.specifier}, this host is "
                f"{VERSION}: install a release of {dist_name} made for {VERSION}, or "
                f"{HOST_DISTRIBUTION}{requirement.specifier}"
            )
    return ""


def _qualified(name: str, dist_name: str) -> str:
    return f"{name} ({dist_name})"


def _third_party() -> list[tuple[str, Any, str, str, Any]]:
    """(plugin name, entry point, distribution, version, distribution object) to load, in
    entry-point order; an entry-point name that several distributions use is qualified by each
    distribution and a notice names the clash."""
    by_name: dict[str, dict[str, tuple[Any, str, Any]]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else ""
        version = dist.version if dist is not None else ""
        # the same distribution visible twice on sys.path is one plugin: the first one wins
        by_name.setdefault(ep.name, {}).setdefault(dist_name, (ep, version, dist))
    found = []
    for name, owners in by_name.items():
        taken = manager.plugin_distributions.get(name)
        if taken is None and pm.has_plugin(name):
            taken = ("in-process code", "")
        shared = len(owners) > 1 or taken is not None
        for dist_name, (ep, version, dist) in owners.items():
            found.append(
                (_qualified(name, dist_name) if shared else name, ep, dist_name, version, dist)
            )
        if shared:
            holders = [*([taken[0]] if taken is not None else []), *sorted(owners)]
            message = (
                f"entry point {name!r} is used by {', '.join(map(repr, holders))}: each loads "
                f"as {name!r} qualified by its distribution "
                f"({', '.join(repr(_qualified(name, d)) for d in sorted(owners))})"
            )
            for dist_name in owners:
                manager.notices.append(PluginNotice(_qualified(name, dist_name), message))
            _tell(message)
    return found


def load_plugins() -> None:
    """Register built-in plugins and load third-party ones. Safe to call repeatedly."""
    global _loaded, _untrace
    if _loaded:
        return
    _loaded = True
    if os.environ.get(TRACE_ENV_VAR, "") not in ("", "0") and _untrace is None:
        _untrace = calls.trace_calls()
    for module_name in builtin_plugins():
        manager.plugin_distributions[module_name] = (HOST_DISTRIBUTION, VERSION)
        _timed_import(
            module_name,
            functools.partial(importlib.import_module, module_name),
            third_party=False,
        )

    allowed = _allowed_third_party()
    for name, ep, dist_name, version, dist in _third_party():
        if allowed is not None and not {name, ep.name, dist_name} & allowed:
            continue
        manager.plugin_distributions[name] = (dist_name, version)
        refused = check_host_version(dist_name, host_requirements(dist))
        if refused:
            record_failure(name, HostVersionError(refused), hook=HOST_VERSION, error=refused)
            _tell(f"plugin {name!r} is not loaded: {refused}")
            continue
        _timed_import(name, ep.load)


def reload_plugins() -> None:
    """Forget every plugin and failure, then load again: picks up distributions installed, or a
    changed ``AIMC_PLUGINS`` or ``AIMC_TRACE_PLUGINS``, since the first load."""
    global _loaded, _untrace
    for name, _ in pm.list_name_plugin():
        pm.unregister(name=name)
    manager.clear()
    if _untrace is not None:
        _untrace()
        _untrace = None
    importlib.invalidate_caches()
    _loaded = False
    load_plugins()


def register(plugin: object, name: str | None = None) -> str:
    """Register an in-process plugin (a module or object with ``@hookimpl`` functions).

    Raises :class:`UnknownHookError` (naming the hook and the closest known one) for a plugin
    that implements a hook no specification declares; it is then not registered."""
    load_plugins()
    registered = pm.register(plugin, name=name)
    assert registered is not None
    problems = unknown_hooks(plugin)
    if problems:
        pm.unregister(name=registered)
        raise UnknownHookError(f"plugin {registered!r}: {'; '.join(problems)}")
    return registered


def unregister(name: str) -> None:
    pm.unregister(name=name)
    manager.forget(name)  # also a plugin that failed to import, which pm never held


def distributions() -> dict[str, tuple[str, str]]:
    """Plugin name -> (distribution, version) for built-in and entry-point plugins; a plugin
    registered by code in this process is absent."""
    load_plugins()
    return dict(manager.plugin_distributions)


def registration_times() -> dict[str, dict[str, float]]:
    """Seconds each plugin took, per hook (``import`` for loading it), in this process."""
    return {name: dict(hooks) for name, hooks in manager.timings.items()}
