"""``aimc compare`` (run a sweep, resumably) and ``aimc report`` (tables and figures from a
results store), added through the same ``register_commands`` hook third-party plugins use.

Both are the Python API (:mod:`aimc_plugins.api`) with flags, printing and exit codes around
it: what a command does, a notebook can do with the same code."""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aimc_plugins.cli.examples import command_examples
from aimc_plugins.cli.options import echo_json, parse_params
from aimc_plugins.host.hookspecs import hookimpl
from aimc_plugins.sweep.endings import EXIT_CODES_HELP, EXIT_OK, EXIT_RUNS_FAILED, with_endings
from aimc_plugins.sweep.spec import DEFAULT_SEEDS, SpecError, check_trackers

if TYPE_CHECKING:
    from aimc_plugins.api.comparison import Plan
    from aimc_plugins.api.results import Report


def _parse_options(items: tuple[str, ...]) -> dict[str, Any]:
    from aimc_plugins.sweep.spec import literal_options

    return literal_options(parse_params(items))


def _convergence(converge: bool | None, patience: int | None) -> Any:
    """``--converge`` / ``--no-converge`` with ``--patience``, as plan_comparison takes it."""
    from aimc_plugins.sweep.convergence import Convergence

    if patience is None:
        return converge
    if converge is False:
        raise click.UsageError("--patience needs --converge")
    return Convergence(patience=patience)


def _plan(
    spec_path: Path | None,
    scale: str | None,
    seeds: int | None,
    epochs: int | None,
    flags: dict[str, Any],
    tune: int | None = None,
    converge: Any = None,
) -> Plan:
    """The comparison's checked runs (:func:`aimc_plugins.api.comparison.plan_comparison`),
    with errors in terms of the flags."""
    from aimc_plugins.api.comparison import plan_comparison
    from aimc_plugins.sweep.planning import PlanWarning
    from aimc_plugins.sweep.spec import SpecError

    if spec_path is not None:
        given = [flag for flag, value in flags.items() if value]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} cannot be combined with a spec file: edit the spec "
                "(or use the flags without one)"
            )
    elif scale:
        raise click.UsageError("--scale needs a spec file")
    elif not flags["--device"]:
        raise click.UsageError("give a spec file, or at least one --device")
    try:
        if spec_path is not None:
            with warnings.catch_warnings():  # the command prints them: Plan.warnings
                warnings.simplefilter("ignore", PlanWarning)
                return plan_comparison(
                    spec_path,
                    seeds=seeds,
                    epochs=epochs,
                    scale=scale,
                    tune=tune,
                    converge=converge,
                )
        return plan_comparison(
            recipe=flags["--recipe"],
            devices=flags["--device"],
            optimizers=flags["--optimizer"],
            params=parse_params(flags["--param"]),
            options=_parse_options(flags["--option"]),
            periphery=flags["--periphery"],
            seeds=seeds,
            epochs=epochs,
            tune=tune,
            converge=converge,
        )
    except SpecError as exc:
        raise click.UsageError(str(exc)) from None


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="compare", epilog=command_examples("compare", EXIT_CODES_HELP))
    @click.argument(
        "spec_path",
        metavar="[SPEC.toml]",
        required=False,
        type=click.Path(dir_okay=False, path_type=Path),
    )
    @click.option("--recipe", default=None, help="See `aimc recipes` [default: digits-mlp].")
    @click.option(
        "--device",
        "devices",
        multiple=True,
        help="A device (`aimc devices`, optionally with parameters: 'power(tau=0.7, g=0.5)'), "
        "a preset config (`aimc presets`), or a selector: @presets, @preset-devices, "
        "@family:NAME (e.g. @family:TTv2), a quoted glob such as 'ReRam*'; repeat.",
    )
    @click.option(
        "--optimizer",
        "optimizers",
        multiple=True,
        help="See `aimc optimizers`; repeat to compare several [default: sgd].",
    )
    @click.option(
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Optimizer hyper-parameter, e.g. --param lr=0.05; repeat.",
    )
    @click.option(
        "--option",
        "options",
        multiple=True,
        metavar="NAME=VALUE",
        help="Recipe option, e.g. --option n_train=1000 or --option data_dir=~/data; repeat.",
    )
    @click.option(
        "--periphery",
        default=None,
        help="Periphery profile: aihwkit (default), paper or ideal.",
    )
    @click.option(
        "--seeds",
        type=click.IntRange(min=1),
        default=None,
        help="Number of seeds (0, 1, ...) per configuration [default: the spec's, or "
        f"{DEFAULT_SEEDS}; at least 3 for a usable confidence interval].",
    )
    @click.option(
        "--epochs",
        type=click.IntRange(min=1),
        default=None,
        help="Epochs per run [default: the spec's, or the recipe's].",
    )
    @click.option("--scale", default=None, help="A named [scale.NAME] of the spec, e.g. full.")
    @click.option(
        "--tune",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help="Tune every row (device x optimizer, the digital baseline included) with N trials "
        "on a validation split before its seeded test runs: the same budget for every row "
        "(a spec's [tune] table sets the spaces; this overrides its trials).",
    )
    @click.option(
        "--converge/--no-converge",
        default=None,
        help="Make --epochs a cap: each row trains until its validation metric stops improving "
        "(patience 5 epochs, min_delta 0.005 of the best; a spec's [converge] table sets "
        "them), and the table says per row whether it converged. [default: the spec's]",
    )
    @click.option(
        "--patience",
        type=click.IntRange(min=1),
        default=None,
        metavar="EPOCHS",
        help="With --converge: epochs without improvement that count as converged.",
    )
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Output folder (results store + report) [default: sweeps/SPEC-NAME, or "
        "aimc-compare without a spec].",
    )
    @click.option(
        "--workers",
        type=click.IntRange(min=0),
        default=None,
        help="Worker processes; 0 runs in this process [default: one per core, at most one "
        "per run].",
    )
    @click.option("--dask-local", is_flag=True, help="Run on a local Dask cluster (--workers).")
    @click.option(
        "--scheduler", default=None, metavar="tcp://HOST:PORT", help="Join a Dask scheduler."
    )
    @click.option(
        "--accelerator",
        type=click.Choice(["cpu", "cuda"]),
        default="cpu",
        show_default=True,
        help="cuda needs an aihwkit compiled with CUDA and a GPU.",
    )
    @click.option("--retry-failed", is_flag=True, help="Run failed runs again.")
    @click.option(
        "--allow-failures",
        is_flag=True,
        help="Exit 0 although some runs failed or diverged (1 still when every run did).",
    )
    @click.option(
        "--track",
        "track",
        multiple=True,
        metavar="TRACKER",
        help="Send every run's metrics to an experiment tracker a plugin registers, e.g. "
        "--track tensorboard (with the aimc-tensorboard plugin); repeat; added to a spec's "
        "track list. Trackers observe: run ids do not change. See docs/trackers.md.",
    )
    @click.option(
        "--no-pulses",
        is_flag=True,
        help="Do not count the pulses each analog run fires (counting adds about 7% to a small "
        "network's Analog SGD step and 3-4% to a transfer step; docs/pulses.md). Run ids do not "
        "change.",
    )
    @click.option("--dry-run", is_flag=True, help="List the runs to do and stop.")
    @click.option("--no-report", is_flag=True, help="Run only; `aimc report OUT` later.")
    @click.option(
        "--quiet", is_flag=True, help="No progress (bars on a terminal, else one line per run)."
    )
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON object on stdout at the end (counts, ranked rows, report paths, "
        "exit code); other lines go to stderr. With --dry-run: the runs and their state.",
    )
    @with_endings
    def compare_command(
        spec_path: Path | None,
        recipe: str | None,
        devices: tuple[str, ...],
        optimizers: tuple[str, ...],
        params: tuple[str, ...],
        options: tuple[str, ...],
        periphery: str | None,
        seeds: int | None,
        epochs: int | None,
        scale: str | None,
        tune: int | None,
        converge: bool | None,
        patience: int | None,
        out: Path | None,
        workers: int | None,
        dask_local: bool,
        scheduler: str | None,
        accelerator: str,
        retry_failed: bool,
        allow_failures: bool,
        track: tuple[str, ...],
        no_pulses: bool,
        dry_run: bool,
        no_report: bool,
        quiet: bool,
        as_json: bool,
    ) -> None:
        """Train a recipe with each device x optimizer over seeds, from a SPEC.toml or flags.

        Finished runs are kept in OUT/results.sqlite and skipped when the same sweep runs again,
        so an interrupted sweep resumes where it stopped. Writes the report (results.csv/.md,
        PNGs, report.html) into OUT at the end. One sweep at a time writes OUT: a second is
        refused, naming the first. Ctrl-C or SIGTERM stops the workers and keeps every finished
        run. Progress: bars on a terminal, else (or with TQDM_DISABLE=1) one log line per run.
        """
        flags = {
            "--recipe": recipe,
            "--device": devices,
            "--optimizer": optimizers,
            "--param": params,
            "--option": options,
            "--periphery": periphery,
        }
        planned = _plan(
            spec_path, scale, seeds, epochs, flags, tune, _convergence(converge, patience)
        )
        try:
            planned = replace(planned, track=check_trackers((*planned.track, *track)))
        except SpecError as exc:
            raise click.UsageError(str(exc)) from None
        run = _RunFlags(
            workers, dask_local, scheduler, accelerator, retry_failed, no_report, quiet, no_pulses
        )
        _check_execution(run)
        out = out or planned.out
        if dry_run:
            _dry_run(planned, out, retry_failed, as_json)
            return
        for note in planned.warnings:  # said before the sweep starts, not lost under its bars
            click.echo(f"warning: {note}", err=True)
        _run_and_report(planned, out, run, allow_failures, as_json)

    @cli.command(name="report", epilog=command_examples("report"))
    @click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Where to write the report [default: FOLDER].",
    )
    @click.option(
        "--title",
        default=None,
        help="Title of the report page [default: the sweep's name, as stored with its runs].",
    )
    @click.option(
        "--recipe", default=None, help="Only runs of this recipe (a store may hold several)."
    )
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the paths written and the ranked rows (mean, std, 95% CI, group) as JSON.",
    )
    @with_endings
    def report_command(
        folder: Path, out: Path | None, title: str | None, recipe: str | None, as_json: bool
    ) -> None:
        """Write the ranked table (markdown, CSV), the figures and one self-contained HTML page
        from the results store in FOLDER."""
        from aimc_plugins.api.results import NoResults, write_report
        from aimc_plugins.sweep.store import STORE_NAME

        if not (folder / STORE_NAME).exists():
            raise click.UsageError(f"{folder} holds no {STORE_NAME}: run `aimc compare` first")
        try:
            written = write_report(folder, out, title=title, recipe=recipe)
        except NoResults as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            echo_json({"folder": str(folder), **written.data()})
            return
        _echo_report(written)


@dataclass(frozen=True)
class _RunFlags:
    """How ``aimc compare`` was asked to run (the flags that are not the comparison itself)."""

    workers: int | None
    dask_local: bool
    scheduler: str | None
    accelerator: str
    retry_failed: bool
    no_report: bool
    quiet: bool
    no_pulses: bool = False


def _check_execution(flags: _RunFlags) -> None:
    """How to run, checked before anything is listed or run."""
    from aimc_plugins.training.loop import AcceleratorError, check_accelerator

    if flags.dask_local and flags.scheduler:
        raise click.UsageError("--dask-local and --scheduler exclude each other")
    try:
        check_accelerator(flags.accelerator)
    except AcceleratorError as exc:
        raise click.UsageError(str(exc)) from None


def _echo_report(written: Report) -> None:
    click.echo(written.table())
    if written.target_line():
        click.echo(written.target_line())
    for note in written.notes:
        click.echo(f"note: {note}")
    click.echo("Wrote " + ", ".join(str(p) for p in written.paths))


def _dry_run(planned: Plan, out: Path, retry_failed: bool, as_json: bool) -> None:
    from aimc_plugins.sweep import lock

    done = planned.done_in(out, retry_failed)
    holder = lock.holder_if_locked(out)
    todo = len(planned.runs) - len(done)
    if as_json:
        echo_json(
            {
                "name": planned.name,
                "out": str(out),
                "planned": len(planned.runs),
                "todo": todo,
                "busy": lock.describe(holder) if holder is not None else None,
                "warnings": list(planned.warnings),
                "runs": [
                    {
                        "run_id": run.run_id,
                        "state": "done" if run.run_id in done else "todo",
                        "device": run.device,
                        "optimizer": run.shown_optimizer,
                        "seed": run.seed,
                        "epochs": run.epochs,
                    }
                    for run in planned.runs
                ],
            }
        )
        for note in planned.warnings:
            click.echo(f"warning: {note}", err=True)
        return
    for run in planned.runs:
        mark = "done" if run.run_id in done else "todo"
        click.echo(f"{run.run_id}  {mark}  {run.label}  seed {run.seed}  {run.epochs} ep")
    click.echo(f"{len(planned.runs)} runs, {todo} to do -> {out}/")
    if planned.tune is not None:
        click.echo(
            f"tuned first: {planned.tune.trials} trials for each of {len(planned.rows)} rows; "
            "the runs above show the rows' untuned settings, the final runs take each row's "
            "chosen one"
        )
    if planned.converge is not None:
        click.echo(
            f"trained to convergence: {planned.runs[0].epochs} epochs is the cap; each row's "
            f"validation curve ({planned.converge.describe()}) sets its final runs' epochs"
        )
    if holder is not None:
        click.echo(f"note: {out} is in use by another sweep: {lock.describe(holder)}")
    for note in planned.warnings:
        click.echo(f"warning: {note}")


def _run_and_report(
    planned: Plan, out: Path, flags: _RunFlags, allow_failures: bool, as_json: bool
) -> None:
    """Run the plan (:func:`aimc_plugins.api.comparison.run_plan`), say what happened, write
    the report, and exit with the sweep's code. With ``as_json`` stdout holds one JSON object
    and every other line goes to stderr."""
    from aimc_plugins.api.comparison import run_plan

    def say(line: str) -> None:
        click.echo(line, err=as_json)

    results = run_plan(
        planned,
        out,
        workers=flags.workers,
        dask_local=flags.dask_local,
        scheduler=flags.scheduler,
        accelerator=flags.accelerator,  # checked by _check_execution
        retry_failed=flags.retry_failed,
        progress=not flags.quiet,
        command=" ".join(sys.argv[1:]),
        on_start=say,
        count_pulses=not flags.no_pulses,
    )  # StoreBusy: exit 3; StoreError: 4; WorkerDied: 5 (with_endings)
    say(
        f"{results.skipped} already in {results.store}, {len(results.new)} run now"
        + (f" ({results.backend})" if results.new else "")
    )
    for outcome in results.new:
        if outcome.status != "done":
            click.echo(
                f"{outcome.run.label} seed {outcome.run.seed}: {outcome.status} "
                f"{outcome.error.strip()}",
                err=True,
            )
    if not flags.no_report and results.outcomes:
        written = results.write_report()
        if not as_json:
            _echo_report(written)
    code = results.exit_code(allow_failures)
    if as_json:
        echo_json(results.summary(allow_failures))
    if code != EXIT_OK:
        problems = results.problems
        click.echo(
            f"{len(problems)} of {len(results.outcomes)} runs failed or diverged (exit "
            f"{EXIT_RUNS_FAILED}; --retry-failed runs them again"
            + (
                ", --allow-failures accepts them)" if len(problems) < len(results.outcomes) else ")"
            ),
            err=True,
        )
        sys.exit(code)
