"""Run a comparison from Python: the sweep ``aimc compare`` runs, as one call::

    from aimc_plugins import compare

    results = compare(recipe="digits-mlp", devices=["ReRamSB", "power(g=0.5)"],
                      optimizers=["sgd", "digital"], seeds=3, epochs=2, out="runs/")
    results.frame()          # a pandas DataFrame, one row per run
    results.write_report()   # results.md / .csv, figures, report.html in runs/

The command and this function are the same code, in three steps: :func:`plan_comparison` turns
a spec (a TOML file, a dict of the same shape, a :class:`~aimc_plugins.sweep.spec.SweepSpec`) or
arguments into checked runs; :func:`run_plan` runs those the output folder's store does not hold
yet, under the folder's lock, and returns :class:`Results`; :meth:`Results.write_report` writes
the report. ``aimc compare`` is these calls with its flags' wording, its printing and its exit
codes around them, so a run started here and one started from the shell share their run ids and
resume each other.

Everything that can be wrong with a spec raises :class:`~aimc_plugins.sweep.spec.SpecError` (a
``ValueError``) before any training; another sweep on the same folder raises
:class:`~aimc_plugins.sweep.lock.StoreBusy`.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimc_plugins.api import results as tables
from aimc_plugins.report.tuning import tuning_data
from aimc_plugins.sweep import convergence, endings, engine, execute, lock, tuner
from aimc_plugins.sweep.convergence import Convergence
from aimc_plugins.sweep.engine import ExecutionOptions, pending_runs
from aimc_plugins.sweep.planning import PlanWarning
from aimc_plugins.sweep.spec import (
    DEFAULT_SEEDS,
    SpecError,
    SweepSpec,
    check,
    check_folder_label,
    check_runs,
    check_trackers,
    load_spec,
    plan,
    plan_warnings,
    spec_from_dict,
)
from aimc_plugins.sweep.store import STORE_NAME, ResultsStore
from aimc_plugins.sweep.tuning import TunedRow, TuneError, TuneSettings, rows_of
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.loop import check_accelerator
from aimc_plugins.training.periphery import DEFAULT_PROFILE
from aimc_plugins.training.run import DONE, RunOutcome

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_RECIPE = "digits-mlp"
DEFAULT_OPTIMIZER = "sgd"
FLAGS_NAME = "flags"
DEFAULT_FLAGS_OUT = Path("aimc-compare")  # a comparison given by arguments, not a spec
SPECS_OUT = Path("sweeps")  # a spec's comparison goes to sweeps/NAME[-SCALE]

SpecSource = str | os.PathLike[str] | Mapping[str, Any] | SweepSpec
Seeds = int | Iterable[int]

EXIT_MEANINGS = {
    endings.EXIT_OK: "every run of the sweep is done",
    endings.EXIT_RUNS_FAILED: "some runs failed or diverged",
}


@dataclass(frozen=True)
class Plan:
    """A checked comparison: its name, its runs and the folder it goes to by default."""

    name: str
    runs: tuple[PlannedRun, ...]
    out: Path
    track: tuple[str, ...] = ()  # experiment trackers (observers: not part of any run id)
    tune: TuneSettings | None = None  # tune every row first (sweep.tuning), then run these
    target: float | None = None  # time to target's target (default: from the digital row)
    # what the spec plans that its author may not expect (sweep.planning.plan_warnings): each
    # also warned (PlanWarning) when the plan is made; `aimc compare` prints them
    warnings: tuple[str, ...] = ()
    converge: Convergence | None = None  # epochs is a cap; rows stop where they converged

    @functools.cached_property
    def rows(self) -> list[TunedRow]:
        """The rows a tuning gives the same budget (checked when the plan was made, and kept)."""
        return rows_of(self.runs, self.tune) if self.tune is not None else []

    def done_in(self, out: str | Path, retry_failed: bool = False) -> set[str]:
        """Ids of this plan's runs that ``out``'s store holds as finished, so that running the
        plan there skips them (failed ones are run again with ``retry_failed``)."""
        if not (Path(out) / STORE_NAME).exists():
            return set()
        with ResultsStore.in_folder(out) as store:
            todo = pending_runs(self.runs, store, retry_failed)
        return {r.run_id for r in self.runs} - {r.run_id for r in todo}


def _spec(source: SpecSource, scale: str | None) -> SweepSpec:
    if isinstance(source, SweepSpec):
        return source.scaled(scale)
    if isinstance(source, Mapping):
        return spec_from_dict(source).scaled(scale)
    return load_spec(Path(source), scale)


def _seeds(seeds: Seeds) -> tuple[int, ...]:
    return tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def spec_out(name: str, scale: str | None = None) -> Path:
    """A spec's default output folder, ``sweeps/NAME[-SCALE]``: always one folder directly
    under ``sweeps/``, whatever the spec calls itself (its name and scale are labels, checked
    by :func:`~aimc_plugins.sweep.spec_format.check_folder_label`, never paths)."""
    check_folder_label("spec name", name)
    if scale:
        check_folder_label("scale name", scale)
    out = SPECS_OUT / (name + (f"-{scale}" if scale else ""))
    if out.parent != SPECS_OUT or len(out.parts) != len(SPECS_OUT.parts) + 1:
        raise SpecError(f"spec name {name!r} does not name one folder under {SPECS_OUT}/")
    return out


def plan_comparison(
    spec: SpecSource | None = None,
    *,
    recipe: str | None = None,
    devices: str | Sequence[str] = (),
    optimizers: str | Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    periphery: str | None = None,
    seeds: Seeds | None = None,
    epochs: int | None = None,
    scale: str | None = None,
    name: str | None = None,
    tune: int | None = None,
    converge: bool | Convergence | None = None,
) -> Plan:
    """The checked runs of a comparison, from ``spec`` or from the arguments (not both).

    ``spec``: a TOML file's path, a dict shaped like one, or a ``SweepSpec``; ``seeds`` and
    ``epochs`` override its own, ``scale`` picks one of its ``[scale.NAME]`` tables. Without a
    spec: ``recipe`` (default digits-mlp), ``devices`` (names, ``name(k=v)`` devices, preset
    configs, selectors such as ``@preset-devices``), ``optimizers`` (default sgd), ``params``
    for every optimizer, recipe ``options``, ``periphery``, ``seeds`` (a count or the seeds),
    ``epochs``. ``tune`` (trials per row) tunes every row with that budget before its final
    runs, with the spec's ``[tune]`` settings or the defaults (:mod:`aimc_plugins.sweep.tuning`).
    ``converge`` (``True``, a :class:`~aimc_plugins.sweep.convergence.Convergence`, or
    ``False`` to turn a spec's off) makes ``epochs`` a cap: each row trains until its validation
    metric stops improving (:mod:`aimc_plugins.sweep.convergence`).
    Raises :class:`SpecError` before any training."""
    if spec is not None:
        given = [
            arg
            for arg, value in (
                ("recipe", recipe),
                ("devices", devices),
                ("optimizers", optimizers),
                ("params", params),
                ("options", options),
                ("periphery", periphery),
            )
            if value
        ]
        if given:
            raise SpecError(
                f"{', '.join(given)} cannot be combined with a spec: edit the spec (or give "
                "the arguments without one)"
            )
        loaded = _spec(spec, scale)
        if seeds is not None:
            loaded = replace(loaded, seeds=_seeds(seeds))
        if epochs is not None:
            loaded = replace(loaded, epochs=epochs)
        if name is not None:
            loaded = replace(loaded, name=name)
        out = spec_out(loaded.name, scale)
        settings = _tuning(loaded.tune, tune)
        checked = tuple(check(loaded))
        notes = tuple(plan_warnings(loaded))
        for note in notes:
            warnings.warn(note, PlanWarning, stacklevel=2)
        return _checked(
            Plan(
                loaded.name,
                checked,
                out,
                loaded.track,
                settings,
                loaded.target,
                notes,
                _converging(loaded.converge, converge),
            )
        )
    if scale:
        raise SpecError("a scale needs a spec")
    if not _names(devices):
        raise SpecError("give a spec, or at least one device")
    runs = plan(
        recipe or DEFAULT_RECIPE,
        _names(devices),
        _names(optimizers) or (DEFAULT_OPTIMIZER,),
        seeds if seeds is not None else DEFAULT_SEEDS,
        epochs,
        dict(params or {}),
        dict(options or {}),
        periphery or DEFAULT_PROFILE,
    )
    return _checked(
        Plan(
            name or FLAGS_NAME,
            tuple(check_runs(runs)),
            DEFAULT_FLAGS_OUT,
            tune=_tuning(None, tune),
            converge=_converging(None, converge),
        )
    )


def _converging(spec: Convergence | None, given: bool | Convergence | None) -> Convergence | None:
    """The spec's convergence rule, unless the caller gave one (``True``: the spec's or the
    defaults; ``False``: none)."""
    if given is None:
        return spec
    if isinstance(given, Convergence):
        return given
    return (spec or Convergence()) if given else None


def _tuning(settings: TuneSettings | None, trials: int | None) -> TuneSettings | None:
    """A spec's tuning settings with ``--tune N``'s trials, or the defaults with them."""
    if trials is None:
        return settings
    try:
        return replace(settings, trials=trials) if settings else TuneSettings(trials=trials)
    except TuneError as exc:
        raise SpecError(str(exc).replace("tune.trials", "--tune")) from None


def _checked(planned: Plan) -> Plan:
    """The plan, once its tuning (if any) is known to be possible: a recipe with a validation
    split, a search space for every row's optimizer."""
    try:
        planned.rows  # noqa: B018 - computed for its checks
        if planned.converge is not None and planned.runs:
            convergence.check_recipe(planned.runs[0].recipe)
    except (TuneError, convergence.ConvergenceError) as exc:
        raise SpecError(str(exc)) from None
    return planned


@dataclass
class Results:
    """A comparison's runs as the store holds them after :func:`run_plan`.

    ``outcomes`` are all of the plan's runs in the store, those of earlier calls included;
    ``new`` those this call ran; ``skipped`` how many it found finished already."""

    name: str
    out: Path
    runs: tuple[PlannedRun, ...]
    outcomes: list[RunOutcome]
    new: list[RunOutcome] = field(default_factory=list)
    skipped: int = 0
    backend: str = "none"
    report: tables.Report | None = None
    tuning: Mapping[str, Any] | None = None  # tuning.json's summary, for a tuned comparison
    convergence: Mapping[str, Any] | None = None  # convergence.json, when rows trained to it

    @property
    def store(self) -> Path:
        return self.out / STORE_NAME

    @property
    def counts(self) -> dict[str, int]:
        """Runs per status (done, failed, diverged)."""
        return tables.status_counts(self.outcomes)

    @property
    def problems(self) -> list[RunOutcome]:
        """The runs that failed or diverged."""
        return [o for o in self.outcomes if o.status != DONE]

    def exit_code(self, allow_failures: bool = False) -> int:
        """``aimc compare``'s exit code for this sweep: 0 when every run is done (with
        ``allow_failures``, when some run is), else 1."""
        problems = self.problems
        if problems and (not allow_failures or len(problems) == len(self.outcomes)):
            return endings.EXIT_RUNS_FAILED
        return endings.EXIT_OK

    def frame(self) -> pd.DataFrame:
        """These runs as :func:`~aimc_plugins.api.results.load_results` gives them."""
        return tables.runs_frame(self.outcomes, tables.plateaus_of(self.outcomes, self.out))

    def epochs(self) -> pd.DataFrame:
        """These runs' per-epoch metrics, as :func:`~aimc_plugins.api.results.load_epochs`."""
        return tables.epochs_frame(self.outcomes)

    def pulses(self) -> pd.DataFrame:
        """These runs' per-array pulse counts, as
        :func:`~aimc_plugins.api.results.load_pulses`."""
        return tables.pulses_frame(self.outcomes)

    def write_report(
        self, out: str | Path | None = None, title: str | None = None
    ) -> tables.Report:
        """The report of these runs into ``out`` (default: the comparison's folder)."""
        self.report = tables.report_outcomes(
            self.outcomes, out if out is not None else self.out, title, store=self.out
        )
        return self.report

    def summary(self, allow_failures: bool = False) -> dict[str, Any]:
        """Plain data for scripts (``aimc compare --json``): where, how many of each status,
        the ranked rows with their intervals, the failures and the exit code."""
        code = self.exit_code(allow_failures)
        data: dict[str, Any] = {
            "name": self.name,
            "out": str(self.out),
            "store": str(self.store),
            "planned": len(self.runs),
            "ran": len(self.new),
            "skipped": self.skipped,
            "backend": self.backend,
            "counts": self.counts,
            "exit_code": code,
            "exit_meaning": EXIT_MEANINGS[code],
            "failures": [
                {
                    "run_id": o.run.run_id,
                    "device": o.run.device,
                    "optimizer": o.run.shown_optimizer,
                    "seed": o.run.seed,
                    "status": o.status,
                    "error": o.error.strip().splitlines()[-1] if o.error.strip() else "",
                }
                for o in self.problems
            ],
        }
        if self.tuning is not None:
            data["tuning"] = tuning_data(self.out)
        if self.convergence is not None:
            data["convergence"] = dict(self.convergence)
        if self.report is not None:
            data["report"] = self.report.data()
        return data


def run_plan(
    planned: Plan,
    out: str | Path | None = None,
    *,
    workers: int | None = None,
    dask_local: bool = False,
    scheduler: str | None = None,
    accelerator: str = "cpu",
    retry_failed: bool = False,
    progress: bool = True,
    command: str = "",
    on_start: Callable[[str], None] | None = None,
    track: Sequence[str] = (),
    count_pulses: bool = True,
) -> Results:
    """Run the plan's runs that ``out``'s store does not hold yet (default: the plan's folder),
    each stored as it finishes, while holding the folder's lock.

    ``workers``: processes (default one per core; 0 runs in this process); ``dask_local`` or
    ``scheduler`` (``tcp://HOST:PORT``) run on Dask instead; ``accelerator`` ``cpu`` or
    ``cuda``; ``retry_failed`` runs failed runs again; ``progress`` shows bars on a terminal and
    log lines elsewhere. ``command`` names this sweep to a second one refused the folder;
    ``on_start`` gets one line once the lock is held, before training starts. ``track`` names
    experiment trackers (docs/trackers.md) in addition to the plan's own. ``count_pulses=False``
    trains without counting the pulses every analog run fires (docs/pulses.md: what counting
    costs a step); run ids do not change."""
    if dask_local and scheduler:
        raise ValueError("a local Dask cluster and a scheduler exclude each other")
    check_accelerator(accelerator)  # AcceleratorError, before any lock or training
    out = Path(out) if out is not None else planned.out
    runs = list(planned.runs)
    n_workers = workers if workers is not None else execute.available_cores()
    dask = None
    if dask_local or scheduler:
        dask = execute.DaskTarget(address=scheduler, workers=max(1, n_workers))
    options = ExecutionOptions(
        workers=n_workers,
        dask=dask,
        accelerator=accelerator,
        show_progress=progress,
        retry_failed=retry_failed,
        track=check_trackers((*planned.track, *track)),
        count_pulses=count_pulses,
    )
    endings.note_sweep(out / STORE_NAME, [r.run_id for r in runs])
    tuning = None
    converged: Mapping[str, Any] | None = None
    with lock.StoreLock(out, command=command or f"python: compare {planned.name}"):
        if on_start is not None:
            on_start(
                f"{len(runs)} runs of {runs[0].recipe}, {runs[0].epochs} epochs each"
                + (" at most (trained to convergence)" if planned.converge else "")
                + f" -> {out}/"
                + (f", each row tuned first ({planned.tune.trials} trials)" if planned.tune else "")
            )
        with ResultsStore.in_folder(out) as store:
            store.set_meta("target", planned.target)
            chosen: Mapping[str, Mapping[str, Any] | None] = {}
            if planned.tune is not None:
                tuning = tuner.tune(
                    planned.rows, planned.tune, store, planned.name, options, on_rung=on_start
                )
                runs = list(tuning.final_runs)
                chosen = tuning.chosen
            if planned.converge is not None:
                settled = convergence.settle(
                    runs,
                    chosen,
                    planned.converge,
                    store,
                    planned.name,
                    options,
                    seed=planned.tune.seed if planned.tune is not None else 0,
                    on_start=on_start,
                )
                runs = list(settled.final_runs)
                converged = settled.record
            if planned.tune is not None or planned.converge is not None:
                endings.note_sweep(out / STORE_NAME, [r.run_id for r in runs])
            sweep = engine.run_sweep(runs, store, planned.name, options)
            outcomes = store.outcomes([r.run_id for r in runs])
    return Results(
        name=planned.name,
        out=out,
        runs=tuple(runs),
        outcomes=outcomes,
        new=list(sweep.outcomes),
        skipped=sweep.skipped,
        backend=sweep.backend,
        tuning=tuning.summary if tuning is not None else None,
        convergence=converged,
    )


def compare(
    spec: SpecSource | None = None,
    *,
    recipe: str | None = None,
    devices: str | Sequence[str] = (),
    optimizers: str | Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    periphery: str | None = None,
    seeds: Seeds | None = None,
    epochs: int | None = None,
    scale: str | None = None,
    name: str | None = None,
    tune: int | None = None,
    converge: bool | Convergence | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    dask_local: bool = False,
    scheduler: str | None = None,
    accelerator: str = "cpu",
    retry_failed: bool = False,
    report: bool = True,
    progress: bool = True,
    track: Sequence[str] = (),
    count_pulses: bool = True,
) -> Results:
    """Train a recipe with each device x optimizer over seeds and return the results: what
    ``aimc compare`` does, with the same arguments (see :func:`plan_comparison` for what to
    compare and :func:`run_plan` for how to run it). Runs the store in ``out`` already holds
    are not run again, so calling it twice trains once. ``report`` writes the report into
    ``out`` at the end (:meth:`Results.write_report`).

    ``out`` defaults to ``sweeps/SPEC-NAME`` for a spec and ``aimc-compare`` otherwise."""
    planned = plan_comparison(
        spec,
        recipe=recipe,
        devices=devices,
        optimizers=optimizers,
        params=params,
        options=options,
        periphery=periphery,
        seeds=seeds,
        epochs=epochs,
        scale=scale,
        name=name,
        tune=tune,
        converge=converge,
    )
    results = run_plan(
        planned,
        out,
        workers=workers,
        dask_local=dask_local,
        scheduler=scheduler,
        accelerator=accelerator,
        retry_failed=retry_failed,
        progress=progress,
        track=track,
        count_pulses=count_pulses,
    )
    if report and results.outcomes:
        results.write_report()
    return results
