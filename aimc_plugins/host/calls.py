"""Calling a hook one plugin at a time, so that one plugin's exception stops only that plugin.

Every hook goes through pluggy: for each implementation, in pluggy's own call order
(``tryfirst`` first, ``trylast`` last), the host calls a
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

``AIMC_TRACE_PLUGINS=1`` prints every hook call (hook, plugin, duration) to stderr
(:func:`trace_calls`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aimc_plugins.host.manager import (
    PluginFailure,
    contained,
    failure_of,
    pm,
    record_failure,
    timings,
)


def is_wrapper(impl: Any) -> bool:
    return bool(impl.wrapper or impl.hookwrapper)


_trace_started: list[float] = []  # a stack: a hook may call another hook


def _trace_before(hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    _trace_started.append(time.perf_counter())


def _trace_after(
    outcome: Any, hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """One stderr line per hook call, as ``DATASETTE_TRACE_PLUGINS`` does for datasette."""
    ms = (time.perf_counter() - _trace_started.pop()) * 1000
    called = [i.plugin_name for i in hook_impls if not is_wrapper(i)]
    wrappers = [i.plugin_name for i in hook_impls if is_wrapper(i)]
    line = f"aimc trace: {hook_name} plugin={','.join(called) or '-'} {ms:.1f} ms"
    if wrappers:
        line += f" wrapped-by={','.join(wrappers)}"
    if outcome.exception is not None:
        line += f" raised {type(outcome.exception).__name__}: {outcome.exception}"
    print(line, file=sys.stderr, flush=True)


def trace_calls() -> Callable[[], None]:
    """Print each hook call to stderr from now on; returns the function that stops it."""
    return pm.add_hookcall_monitoring(_trace_before, _trace_after)


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


def call_each(
    hook_name: str, call: Callable[[str, Any], None]
) -> list[tuple[Any, PluginFailure | None]]:
    """Call ``hook_name`` through pluggy once per plugin, in pluggy's call order, each call
    keeping that plugin and the hook wrappers (see the module docstring).

    ``call(plugin_name, caller)`` makes the call. Returns (hookimpl, its failure or None) in call
    order; failures are also recorded in :data:`~aimc_plugins.host.manager.failures`, timings in
    :data:`~aimc_plugins.host.manager.timings`.
    """
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    wrappers = [i for i in impls if is_wrapper(i)]
    outcomes: list[tuple[Any, PluginFailure | None]] = []
    for impl in reversed(impls):  # pluggy calls the list from its end
        if is_wrapper(impl):
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
                if not contained(exc):
                    raise
                culprit = _culprit(exc, [impl, *wrappers]) or impl
                failure = record_failure(culprit.plugin_name, exc, hook=hook_name)
                if culprit is impl:
                    outcomes.append((impl, failure))
                    break
                wrappers.remove(culprit)  # reported once; call the plugin again without it
        timings.setdefault(impl.plugin_name, {})[hook_name] = time.perf_counter() - started
    return outcomes


def call_plugin(hook_name: str, plugin_name: str, **kwargs: Any) -> PluginFailure | None:
    """Call ``hook_name`` on plugin ``plugin_name`` only (with every hook wrapper, through pluggy
    as any hook). Everything short of an interrupt is contained and returned as a failure naming
    the plugin (or the wrapper) that raised; it is not recorded, the caller decides how often to
    report it. ``None``: the call went through, or the plugin does not implement the hook."""
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    mine = [i for i in impls if i.plugin_name == plugin_name and not is_wrapper(i)]
    if not mine:
        return None
    wrappers = [i for i in impls if is_wrapper(i)]
    kept = {id(i.plugin) for i in (*mine, *wrappers)}
    others = [i.plugin for i in impls if id(i.plugin) not in kept]
    try:
        pm.subset_hook_caller(hook_name, others)(**kwargs)
    except BaseException as exc:
        if not contained(exc):
            raise
        culprit = _culprit(exc, [*mine, *wrappers]) or mine[0]
        return failure_of(culprit.plugin_name, exc, hook=hook_name)
    return None
