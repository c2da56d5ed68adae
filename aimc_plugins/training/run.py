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
from dataclasses import dataclass, field
from typing import Any

from aimc_plugins.host import plugins
from aimc_plugins.host.records import RunConfig
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.setup import setup_for
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


def run_one(
    run: PlannedRun,
    show_progress: bool = False,
    accelerator: str = "cpu",
    tracking: Tracking | None = None,
) -> RunOutcome:
    """Train one run; errors and divergence become outcomes instead of exceptions. With
    ``tracking``, its chosen trackers receive the run's events here, where it trains."""
    with tracked(run, tracking) as session:
        outcome = _train_one(run, show_progress, accelerator)
        if session is not None:
            session.finish(outcome)
    return outcome


def _train_one(run: PlannedRun, show_progress: bool, accelerator: str) -> RunOutcome:
    from aimc_plugins.training.versions import environment_versions

    start = time.perf_counter()
    versions = environment_versions()
    try:
        recipe = plugins.lookup(plugins.recipes, run.recipe, "recipe")
        setup = setup_for(run)
        table_note = _record_table_error(run, versions)
        result = recipe.run(
            RunConfig(
                setup=setup,
                seed=run.seed,
                epochs=run.epochs,
                device=accelerator,
                show_progress=show_progress,
                options=dict(run.options),
                split=run.split,
            )
        )
    except Exception as exc:
        return RunOutcome(
            run,
            FAILED,
            error="".join(traceback.format_exception_only(exc)).strip(),
            versions=versions,
            duration_s=time.perf_counter() - start,
        )
    versions["deterministic"] = determinism(accelerator)
    final = plain_metrics(result.final)
    history = tuple(plain_metrics(h) for h in result.history)
    diverged = any(_not_finite(v) for h in (final, *history) for v in h.values())
    return RunOutcome(
        run,
        DIVERGED if diverged else DONE,
        history,
        final,
        error="metrics became NaN or infinite (diverged)" if diverged else "",
        versions=versions,
        duration_s=time.perf_counter() - start,
        notes=tuple(getattr(result, "notes", ())) + ((table_note,) if table_note else ()),
    )


def _record_table_error(run: PlannedRun, versions: dict[str, str]) -> str:
    """Store how faithfully the device reached aihwkit (``versions["table_error"]``, the
    adapter's measured step error: 0 for native devices) and return a note for the report where
    it exceeds the device's tolerance (allowed only by ``allow_table_error``)."""
    from aimc_plugins.devices.build import table_fidelity
    from aimc_plugins.training.setup import device_kind

    name = run.device_name or run.device
    if device_kind(name) != "device":
        return ""
    record = plugins.lookup(plugins.devices, name, "device")
    error, note = table_fidelity(record, run.device_params)  # cached: adapted once per process
    versions["table_error"] = f"{error:.3g}"
    return note


def determinism(accelerator: str) -> str:
    """``yes`` when this process's runs repeat bitwise from their seed, else ``no: why``
    (stored with every run, so a table built from unseeded runs says so)."""
    from aimc_plugins.training.simulator_seed import status

    seeded, reason = status()
    if not seeded:
        return f"no: aihwkit's generators are unseeded ({reason})"
    if accelerator != "cpu":
        return "no: aihwkit's CUDA generators are seeded on the device, not from the run's seed"
    return "yes"


def _not_finite(value: Any) -> bool:
    """NaN or infinite, whatever the number type (numpy and torch scalars included)."""
    return isinstance(value, numbers.Real) and not math.isfinite(value)
