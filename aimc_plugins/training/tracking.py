"""Sending a run's events to the experiment trackers its sweep chose (TensorBoard, MLflow, ...).

A sweep names its trackers (``--track NAME``, ``track = [NAME]`` in a spec); :class:`Tracking`
carries those names, the sweep's name and its output folder to wherever the run trains (a pool
worker, a Dask worker, this process) beside the run, and :func:`tracked` delivers, in that
process:

``run_started`` -> ``epoch_ended`` for each epoch, in order -> ``run_finished``

to the plugin that registered each chosen tracker
(:func:`call_tracker`). Epochs reach the trackers as the recipe
announces them (:func:`aimc_plugins.training.loop.notify_epoch`), so a tracker shows a run while
it trains; epochs a recipe never announced (its own loop, or the
epoch in which the loss diverged) are delivered from the run's history before ``run_finished``,
so a tracker ends with every epoch the results store keeps, with the same numbers.

Why the events are delivered where the run trains, not in the sweep's parent: a tracker may
want the live model or process (memory, a profiler), and per-epoch events from every worker would
otherwise cross a queue the parent must drain. Why trackers are not part of a run's identity:
they observe, so choosing one never makes a finished run run again.

Isolation: a tracker that raises is reported on stderr (the ``logging`` warning of this module),
once per plugin and run, and keeps receiving the run's later events (so it can still close what
it opened); its failure never changes the run, its status or its stored result. An interrupt
(Ctrl-C) still interrupts: the trackers then get ``run_finished`` with status
:data:`STOPPED`, and the run is not stored.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import numbers
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from aimc_plugins.host import plugins
from aimc_plugins.host.calls import call_plugin
from aimc_plugins.host.manager import PluginFailure
from aimc_plugins.host.records import EpochEvent, RunEvent, Tracker
from aimc_plugins.host.registry import failed_plugins_hint
from aimc_plugins.training.identity import PlannedRun

log = logging.getLogger(__name__)

STOPPED = "stopped"  # the status trackers see for a run interrupted by Ctrl-C or a signal
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
    known = plugins.registry.trackers()
    chosen: list[Tracker] = []
    for name in dict.fromkeys(names):
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            listed = ", ".join(sorted(known)) or "none are installed"
            why = failed_plugins_hint("register_trackers", name, "tracker")
            raise ValueError(f"unknown tracker {name!r}.{hint} Known trackers: {listed}.{why}")
        tracker = known[name]
        plugin = plugins.pm.get_plugin(tracker.plugin)
        callers = plugins.pm.get_hookcallers(plugin) if plugin is not None else None
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
    hook wrapper), passing ``tracker=tracker.name``.

    Everything short of an interrupt is contained and returned as a failure naming the plugin
    (or the wrapper) that raised; it is not added to the host's failures, which list plugins
    that failed to load or register, and the caller decides how often to report it.
    """
    return call_plugin(hook_name, tracker.plugin, tracker=tracker.name, **kwargs)


@dataclass(frozen=True)
class Tracking:
    """Which trackers observe a sweep's runs (names, checked by
    :func:`choose_trackers` before the sweep starts), the sweep's
    name, its output folder (where file-writing trackers put their files), and whether the runs'
    pulses are counted (:mod:`aimc_plugins.training.pulse_counter`; an observation too, so it is
    not part of any run's id)."""

    trackers: tuple[str, ...] = ()
    sweep: str = ""
    out_dir: str = ""
    count_pulses: bool = True


class _Finished(Protocol):
    """What :func:`tracked` reads of a finished run (a
    :class:`~aimc_plugins.training.run.RunOutcome`)."""

    @property
    def status(self) -> str: ...
    @property
    def history(self) -> tuple[Mapping[str, Any], ...]: ...
    @property
    def final(self) -> Mapping[str, Any]: ...
    @property
    def error(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def notes(self) -> tuple[str, ...]: ...


def plain_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers as Python floats (ints kept), so numpy or torch scalars a plugin recipe returns
    store, compare and print like any other metric (and trackers get what the store keeps)."""
    plain = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()  # numpy and torch scalars
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, int)):
            value = float(value)
        plain[key] = value
    return plain


def run_event(run: PlannedRun, tracking: Tracking) -> RunEvent:
    """The event of ``run`` starting, as trackers receive it."""
    return RunEvent(
        run_id=run.run_id,
        label=run.label,
        device=run.device,
        optimizer=run.shown_optimizer,
        seed=run.seed,
        epochs=run.epochs,
        config=run.config(),
        sweep=tracking.sweep,
        out_dir=tracking.out_dir,
    )


@dataclass
class _Session:
    """The trackers of one run, the epochs they have seen, and the plugins already reported."""

    chosen: Sequence[Tracker]
    event: RunEvent
    delivered: set[int] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)

    def send(self, hook: str, event: RunEvent | EpochEvent) -> None:
        for tracker in self.chosen:
            failure = call_tracker(hook, tracker, event=event)
            if failure is None or failure.plugin in self.reported:
                continue
            self.reported.add(failure.plugin)
            detail = f"\n{failure.traceback}" if _tracing() else ""
            log.warning(
                "tracker %r (plugin %r) raised in %s for run %s (%s, seed %s): %s. The run goes "
                "on, unchanged; later errors of this plugin in this run are not shown.%s",
                tracker.name,
                failure.plugin,
                hook,
                self.event.run_id,
                self.event.label,
                self.event.seed,
                failure.error,
                detail,
            )

    def epoch(self, epoch: int, epochs: int, metrics: Mapping[str, Any]) -> None:
        number = int(metrics.get("epoch", epoch))
        self.delivered.add(number)
        try:
            plain = plain_metrics(metrics)
        except Exception:  # a metric no number: the store will say so, not this listener
            plain = dict(metrics)
        event = EpochEvent(self.event, number, epochs, plain)
        self.send("epoch_ended", event)

    def finish(self, outcome: _Finished) -> None:
        for index, metrics in enumerate(outcome.history, 1):
            number = int(metrics.get("epoch", index))
            if number not in self.delivered:
                self.epoch(number, self.event.epochs, metrics)
        finished = replace(
            self.event,
            status=outcome.status,
            final=dict(outcome.final),
            error=outcome.error,
            duration_s=outcome.duration_s,
            notes=tuple(outcome.notes),
        )
        self.send("run_finished", finished)


def _tracing() -> bool:
    return os.environ.get(plugins.TRACE_ENV_VAR, "") not in ("", "0")


def _resolve(names: Sequence[str], event: RunEvent) -> list[Tracker]:
    """The chosen trackers as this process knows them: a name its plugins lack (a plugin that
    failed to load in a worker) is reported once and left out, and the run goes on."""
    known = plugins.registry.trackers()
    missing = [name for name in names if name not in known]
    if missing:
        log.warning(
            "tracker %s is not registered in this process (pid %d); run %s (%s, seed %s) goes on "
            "untracked by it. See `aimc plugins`.",
            ", ".join(map(repr, missing)),
            os.getpid(),
            event.run_id,
            event.label,
            event.seed,
        )
    return [known[name] for name in dict.fromkeys(names) if name in known]


@contextlib.contextmanager
def tracked(run: PlannedRun, tracking: Tracking | None) -> Iterator[_Session | None]:
    """Deliver ``run``'s events to the chosen trackers while the body trains it.

    Sends ``run_started`` on entry and forwards every epoch the recipe announces; the body
    calls ``session.finish(outcome)`` with the finished run. Leaving on an exception (an
    interrupt) sends ``run_finished`` with status :data:`STOPPED` and re-raises. Yields
    ``None`` when no tracker is chosen.
    """
    if tracking is None or not tracking.trackers:
        yield None
        return
    from aimc_plugins.training import loop

    event = run_event(run, tracking)
    session = _Session(_resolve(tracking.trackers, event), event)
    session.send("run_started", event)
    try:
        with loop.epoch_listener(session.epoch):
            yield session
    except BaseException as exc:
        stopped = replace(event, status=STOPPED, error=f"stopped by {type(exc).__name__}")
        session.send("run_finished", stopped)
        raise
