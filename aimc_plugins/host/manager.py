"""The plugin manager and what the host remembers about each plugin.

One :data:`pm` per process holds every plugin; :data:`failures` lists what went wrong while
plugins loaded or registered, :data:`notices` what a user should know although nothing failed
(two distributions sharing an entry-point name, say). Loading (:mod:`.loading`), isolated calls
(:mod:`.calls`) and the registry (:mod:`.registry`) all read and write this state, so it lives
below them, in one place.

Collected records are cached by the registry; :data:`pm` bumps :func:`generation` whenever a
plugin is registered or unregistered, so a cache filled before a change is never used after it
(code that registers on :data:`pm` directly, as the sweep workers do, is covered too).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

import pluggy

from aimc_plugins.host import hookspecs

ENTRY_POINT_GROUP = "aimc_plugins"
ENV_VAR = "AIMC_PLUGINS"
TRACE_ENV_VAR = "AIMC_TRACE_PLUGINS"

# Failures of a plugin as a whole (it never got to register anything), as opposed to a hook's.
IMPORT = "import"
ENTRY_POINT = "entry point"
HOST_VERSION = "host version"
UNKNOWN_HOOK = "hooks"
LOAD_STAGES = (IMPORT, ENTRY_POINT, HOST_VERSION, UNKNOWN_HOOK)


class DuplicateNameError(ValueError):
    """Two plugins registered records of one kind under the same name."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, or raised inside a hook."""

    plugin: str
    error: str
    hook: str = ""
    distribution: str = ""
    traceback: str = ""

    def describe(self) -> str:
        return f"{self.hook}: {self.error}" if self.hook else self.error


@dataclass(frozen=True)
class PluginNotice:
    """Something a user should know about a plugin that still loaded (a shared entry-point
    name, say): listed by ``aimc plugins`` as a warning, never as a failure."""

    plugin: str
    message: str


failures: list[PluginFailure] = []
notices: list[PluginNotice] = []
plugin_distributions: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)
timings: dict[str, dict[str, float]] = {}  # plugin name -> hook (or "import") -> seconds
_generation = 0


def generation() -> int:
    """A counter bumped whenever plugins change: a registry cache filled under another
    generation is stale."""
    return _generation


def invalidate() -> None:
    global _generation
    _generation += 1


def forget(name: str) -> None:
    """Drop what is remembered about plugin ``name`` (it was unregistered)."""
    failures[:] = [f for f in failures if f.plugin != name]
    notices[:] = [n for n in notices if n.plugin != name]
    timings.pop(name, None)


def clear() -> None:
    """Forget every plugin's failures, notices, distribution and timings (a full reload)."""
    failures.clear()
    notices.clear()
    plugin_distributions.clear()
    timings.clear()
    invalidate()


class HostPluginManager(pluggy.PluginManager):
    """pluggy's manager that invalidates the collected records whenever its plugins change."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        try:
            hash(plugin)
        except TypeError:
            # pluggy's per-plugin callers keep plugins in sets; fail here, by name, not later.
            raise TypeError(f"plugin {name or plugin!r} must be hashable") from None
        registered = super().register(plugin, name=name)
        invalidate()
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        name = name if name is not None else self.get_name(plugin)
        removed = super().unregister(plugin=plugin, name=name)
        if name is not None:
            forget(name)
        invalidate()
        return removed


pm = HostPluginManager(hookspecs.PROJECT)
pm.add_hookspecs(hookspecs)


def contained(exc: BaseException) -> bool:
    """Whether a plugin's exception is reported (everything but an interrupt) or propagated."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(KeyboardInterrupt) is None
    return not isinstance(exc, KeyboardInterrupt)


def failure_of(plugin: str, exc: BaseException, hook: str = "", error: str = "") -> PluginFailure:
    """``exc`` as a failure of ``plugin`` (not yet recorded); ``error`` replaces the default
    ``Type: message`` where the host wrote the message itself."""
    return PluginFailure(
        plugin=plugin,
        error=error or f"{type(exc).__name__}: {exc}",
        hook=hook,
        distribution=plugin_distributions.get(plugin, ("", ""))[0],
        traceback="".join(traceback.format_exception(exc)),
    )


def record_failure(
    plugin: str, exc: BaseException, hook: str = "", error: str = ""
) -> PluginFailure:
    """Record ``exc`` as a failure of ``plugin`` in :data:`failures` and return it."""
    failure = failure_of(plugin, exc, hook, error)
    failures.append(failure)
    return failure
