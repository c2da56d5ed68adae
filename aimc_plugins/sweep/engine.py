"""The sweep loop: skip what the store already holds, run the rest, store each as it finishes.

Resuming is nothing more than this: a run's id is the hash of its configuration, the store
holds the ids of finished runs, and only the others are submitted. A sweep killed at any moment
therefore loses exactly the runs that were in flight; a sweep stopped by a signal or a store
error also stops its workers (:mod:`.endings`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from aimc_plugins.sweep import endings, execute, runlog
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import DIVERGED, DONE, FINISHED, RunOutcome
from aimc_plugins.training.tracking import Tracking, choose_trackers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionOptions:
    """How to run: ``workers`` processes (0: in this process), or Dask when ``dask`` is set."""

    workers: int = 1
    threads: int | None = None  # torch threads per pool worker; None: cores // workers
    dask: execute.DaskTarget | None = None
    accelerator: str = "cpu"
    show_progress: bool = True
    retry_failed: bool = False
    progress: str = "auto"  # bars, lines or off; auto: bars on a terminal, else lines
    track: tuple[str, ...] = ()  # trackers that observe the runs (plugins.trackers()); not ids
    count_pulses: bool = True  # count every run's pulses (training/pulse_counter.py); not ids


@dataclass
class SweepReport:
    """What one call of :func:`run_sweep` did."""

    planned: int
    skipped: int
    backend: str
    outcomes: list[RunOutcome] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return len(self.outcomes)


def pending_runs(
    runs: Sequence[PlannedRun], store: ResultsStore, retry_failed: bool = False
) -> list[PlannedRun]:
    """The runs the store does not hold as finished (failed ones too, with ``retry_failed``)."""
    finished = store.finished_ids((DONE, DIVERGED) if retry_failed else FINISHED)
    return [run for run in runs if run.run_id not in finished]


def _backend(
    todo: Sequence[PlannedRun],
    options: ExecutionOptions,
    progress: runlog.Progress,
    tracking: Tracking | None = None,
) -> tuple[str, Iterator[RunOutcome]]:
    if options.dask is not None:
        where = options.dask.address or f"local cluster of {options.dask.workers}"
        dask = execute.run_dask(todo, options.dask, options.accelerator, tracking)
        return f"dask ({where})", dask
    _, unreachable = execute.in_process_plugins()
    workers = min(options.workers, len(todo))
    if workers >= 1 and unreachable:
        log.warning(
            "plugins %s were registered in this process as objects, which worker processes "
            "cannot import: running in this process instead",
            ", ".join(unreachable),
        )
        workers = 0
    if workers == 0:
        return "this process", execute.run_serial(
            todo, options.accelerator, progress.epoch, tracking
        )
    threads = options.threads or execute.threads_per_worker(workers)
    return (
        f"process pool ({workers} workers x {threads} torch threads)",
        execute.run_pool(todo, workers, options.accelerator, progress.epoch, threads, tracking),
    )


def run_sweep(
    runs: Sequence[PlannedRun],
    store: ResultsStore,
    sweep: str = "",
    options: ExecutionOptions | None = None,
) -> SweepReport:
    """Run every run the store does not hold yet; store each outcome as soon as it arrives.

    Unknown trackers in ``options.track`` raise :class:`ValueError` before anything runs."""
    options = options or ExecutionOptions()
    chosen = choose_trackers(options.track)
    tracking = Tracking(
        tuple(t.name for t in chosen), sweep, str(store.path.parent), options.count_pulses
    )
    todo = pending_runs(runs, store, options.retry_failed)
    report = SweepReport(planned=len(runs), skipped=len(runs) - len(todo), backend="none")
    if not todo:
        return report
    mode = options.progress if options.show_progress else "off"
    progress = runlog.progress_for(list(todo), report.skipped, mode)
    report.backend, outcomes = _backend(todo, options, progress, tracking)
    try:
        for outcome in outcomes:
            with endings.deferred_signals():  # a run finished is a run kept
                store.record(outcome, sweep)
            report.outcomes.append(outcome)
            progress.finished(outcome)
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:  # stopped early: the backend stops its workers now
            close()
        progress.close()
    return report
