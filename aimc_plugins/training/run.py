"""Training one planned run (:mod:`aimc_plugins.training.identity`) into a
:class:`RunOutcome`.

Running one (:func:`run_one`) never raises: errors and divergence become :class:`RunOutcome`
statuses, so one
bad configuration never stops a sweep. The trackers a sweep chose observe the run where it trains
(:mod:`aimc_plugins.training.tracking`), and nothing they do changes its outcome.
"""

from __future__ import annotations

import math
import numbers
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aimc_plugins.host.records import RunConfig
from aimc_plugins.training.identity import PlannedRun, RunKind
from aimc_plugins.training.pulses import PulseSummary, with_pulses
from aimc_plugins.training.setup import ResolvedRun, resolve
from aimc_plugins.training.tracking import Tracking, plain_metrics, tracked

DONE, FAILED, DIVERGED = "done", "failed", "diverged"
FINISHED = (DONE, FAILED, DIVERGED)


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: status ``done``, ``diverged`` or ``failed``, and what it produced."""

    run: PlannedRun
    status: str
    history: tuple[Mapping[str, float], ...] = ()
    final: Mapping[str, float] = field(default_factory=dict)
    error: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()
    # Per-array pulse counts (aimc_plugins.training.pulses.ArrayPulses.record), where counted
    pulses: tuple[Mapping[str, Any], ...] = ()


def run_one(
    run: PlannedRun,
    show_progress: bool = False,
    accelerator: str = "cpu",
    tracking: Tracking | None = None,
) -> RunOutcome:
    """Train one run; errors and divergence become outcomes instead of exceptions. With
    ``tracking``, its chosen trackers receive the run's events here, where it trains, and its
    ``count_pulses`` (default: counted) says whether the run's pulses are counted."""
    count = tracking.count_pulses if tracking is not None else True
    with tracked(run, tracking) as session:
        outcome = _train_one(run, show_progress, accelerator, count)
        if session is not None:
            session.finish(outcome)
    return outcome


def _train_one(
    run: PlannedRun, show_progress: bool, accelerator: str, count_pulses: bool = True
) -> RunOutcome:
    from aimc_plugins.training import determinism
    from aimc_plugins.training.versions import environment_versions

    start = time.perf_counter()
    versions = environment_versions()
    try:
        resolved = resolve(run)  # every lookup and build of this run, once
        _record_table_error(resolved, versions)
        config = RunConfig(
            setup=resolved.setup,
            seed=run.seed,
            epochs=run.epochs,
            accelerator=accelerator,
            show_progress=show_progress,
            options=dict(run.options),
            split=run.split,
        )
        with determinism.watch() as seeding:
            if resolved.setup.rpu_config is None or not count_pulses:  # digital: no pulses
                result, pulses = resolved.recipe.run(config), PulseSummary()
            else:
                result, pulses = counted(resolved, config)
    except Exception as exc:
        return RunOutcome(
            run,
            FAILED,
            error="".join(traceback.format_exception_only(exc)).strip(),
            versions=versions,
            duration_s=time.perf_counter() - start,
        )
    versions["deterministic"] = determinism.verdict(seeding, accelerator)
    final = plain_metrics(result.final)
    history = tuple(plain_metrics(h) for h in result.history)
    diverged = any(_not_finite(v) for h in (final, *history) for v in h.values())
    table_note = resolved.table_note
    return RunOutcome(
        run,
        DIVERGED if diverged else DONE,
        with_pulses(history, pulses),
        {**final, **pulses.metrics()},
        error="metrics became NaN or infinite (diverged)" if diverged else "",
        versions=versions,
        duration_s=time.perf_counter() - start,
        notes=tuple(getattr(result, "notes", ()))
        + ((table_note,) if table_note else ())
        + pulses.notes(),
        pulses=pulses.rows(),
    )


def counted(resolved: ResolvedRun, config: RunConfig) -> tuple[Any, PulseSummary]:
    """Train ``config`` with its recipe while counting its pulses
    (:mod:`aimc_plugins.training.pulse_counter`): the recipe's result and the counts, with
    the energy and endurance its device declares."""
    from aimc_plugins.training import loop, pulse_counter

    with pulse_counter.counting() as counter, loop.epoch_extras(counter.epoch_metrics):
        result = resolved.recipe.run(config)
    cost = resolved.adapted.cost if resolved.adapted is not None else None
    summary = counter.summary(cost)
    other = resolved.run.params.get("residual_device")
    if cost is not None and other:  # some arrays are another device: its cost is not known
        summary = replace(
            summary,
            cost=None,
            cost_note=(
                f"energy and endurance not computed: the residual array is device {other!r}, "
                "whose cost the run's device does not declare"
            ),
        )
    return result, summary


def _record_table_error(run: PlannedRun | ResolvedRun, versions: dict[str, str]) -> str:
    """Store how faithfully the device reached aihwkit (``versions["table_error"]``, the
    adapter's measured step error: 0 for native devices) and return the report's note where it
    exceeds the device's tolerance (allowed only by ``allow_table_error``), else ``""``. The
    adaptation carries both, so nothing is built again; a planned run is resolved first."""
    resolved = run if isinstance(run, ResolvedRun) else resolve(run)
    if resolved.kind == RunKind.DEVICE and resolved.adapted is not None:
        versions["table_error"] = f"{resolved.adapted.error:.3g}"
    return resolved.table_note


def determinism(accelerator: str) -> str:
    """The older, process-wide answer (whether this process *can* seed aihwkit's generators);
    a run's own record is :func:`aimc_plugins.training.determinism.verdict`."""
    from aimc_plugins.training import determinism as facts

    return facts.process_verdict(accelerator)


def _not_finite(value: Any) -> bool:
    """NaN or infinite, whatever the number type (numpy and torch scalars included)."""
    return isinstance(value, numbers.Real) and not math.isfinite(value)
