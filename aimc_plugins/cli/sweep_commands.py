"""``aimc compare`` (run a sweep, resumably) and ``aimc report`` (tables and figures from a
results store), added through the same ``register_commands`` hook third-party plugins use."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from aimc_plugins.cli.options import parse_params
from aimc_plugins.host.hookspecs import hookimpl
from aimc_plugins.sweep.endings import EXIT_CODES_HELP, EXIT_RUNS_FAILED, with_endings
from aimc_plugins.sweep.spec import DEFAULT_SEEDS

DEFAULT_FLAGS_OUT = Path("aimc-compare")
SPECS_OUT = Path("sweeps")


def _parse_options(items: tuple[str, ...]) -> dict[str, Any]:
    from aimc_plugins.sweep.spec import literal_options

    return literal_options(parse_params(items))


def _runs_from_spec(
    spec_path: Path,
    scale: str | None,
    seeds: int | None,
    epochs: int | None,
    flags_given: list[str],
) -> tuple[str, list[Any], Path]:
    from dataclasses import replace

    from aimc_plugins.sweep.spec import check, load_spec

    if flags_given:
        raise click.UsageError(
            f"{', '.join(flags_given)} cannot be combined with a spec file: edit the spec "
            "(or use the flags without one)"
        )
    spec = load_spec(spec_path, scale)
    if seeds is not None:
        spec = replace(spec, seeds=tuple(range(seeds)))
    if epochs is not None:
        spec = replace(spec, epochs=epochs)
    return spec.name, check(spec), SPECS_OUT / (spec.name + (f"-{scale}" if scale else ""))


def _runs_from_flags(
    recipe: str | None,
    devices: tuple[str, ...],
    optimizers: tuple[str, ...],
    params: dict[str, Any],
    options: dict[str, Any],
    periphery: str | None,
    seeds: int | None,
    epochs: int | None,
) -> list[Any]:
    from aimc_plugins.sweep.spec import plan

    if not devices:
        raise click.UsageError("give a spec file, or at least one --device")
    runs = plan(
        recipe or "digits-mlp",
        devices,
        optimizers or ("sgd",),
        seeds or DEFAULT_SEEDS,
        epochs,
        params,
        options,
        periphery or "aihwkit",
    )
    from aimc_plugins.sweep.spec import check_runs

    return check_runs(runs)


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="compare", epilog=EXIT_CODES_HELP)
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
        help="A device (`aimc devices`, optionally with parameters: 'power(tau=0.7, g=0.5)') or "
        "a preset config (`aimc presets`); repeat.",
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
    @click.option("--dry-run", is_flag=True, help="List the runs to do and stop.")
    @click.option("--no-report", is_flag=True, help="Run only; `aimc report OUT` later.")
    @click.option(
        "--quiet", is_flag=True, help="No progress (bars on a terminal, else one line per run)."
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
        out: Path | None,
        workers: int | None,
        dask_local: bool,
        scheduler: str | None,
        accelerator: str,
        retry_failed: bool,
        allow_failures: bool,
        dry_run: bool,
        no_report: bool,
        quiet: bool,
    ) -> None:
        """Train a recipe with each device x optimizer over seeds, from a SPEC.toml or flags.

        Finished runs are kept in OUT/results.sqlite and skipped when the same sweep runs again,
        so an interrupted sweep resumes where it stopped. Writes the report (results.csv/.md,
        PNGs, report.html) into OUT at the end. One sweep at a time writes OUT: a second is
        refused, naming the first. Ctrl-C or SIGTERM stops the workers and keeps every finished
        run. Progress: bars on a terminal, else (or with TQDM_DISABLE=1) one log line per run.
        """
        from aimc_plugins.sweep.spec import SpecError

        try:
            if spec_path is not None:
                given = [
                    flag
                    for flag, value in (
                        ("--recipe", recipe),
                        ("--device", devices),
                        ("--optimizer", optimizers),
                        ("--param", params),
                        ("--option", options),
                        ("--periphery", periphery),
                    )
                    if value
                ]
                name, runs, default_out = _runs_from_spec(spec_path, scale, seeds, epochs, given)
            else:
                if scale:
                    raise click.UsageError("--scale needs a spec file")
                name, default_out = "flags", DEFAULT_FLAGS_OUT
                runs = _runs_from_flags(
                    recipe,
                    devices,
                    optimizers,
                    parse_params(params),
                    _parse_options(options),
                    periphery,
                    seeds,
                    epochs,
                )
        except SpecError as exc:
            raise click.UsageError(str(exc)) from None
        out = out or default_out
        _run_and_report(
            name,
            runs,
            out,
            workers,
            dask_local,
            scheduler,
            accelerator,
            retry_failed,
            dry_run,
            no_report,
            quiet,
            allow_failures,
        )

    @cli.command(name="report")
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
    @with_endings
    def report_command(
        folder: Path, out: Path | None, title: str | None, recipe: str | None
    ) -> None:
        """Write the ranked table (markdown, CSV), the figures and one self-contained HTML page
        from the results store in FOLDER."""
        from aimc_plugins.report import summary as report
        from aimc_plugins.sweep.store import STORE_NAME, ResultsStore

        if not (folder / STORE_NAME).exists():
            raise click.UsageError(f"{folder} holds no {STORE_NAME}: run `aimc compare` first")
        with ResultsStore.in_folder(folder) as store:
            outcomes = [o for o in store.outcomes() if recipe in (None, o.run.recipe)]
            times = store.run_times(o.run.run_id for o in outcomes)
        if not outcomes:
            raise click.ClickException(f"{folder / STORE_NAME} holds no finished runs yet")
        metric, higher = report.ranking_metric(outcomes)
        paths = report.write_report(outcomes, out or folder, metric, higher, title, run_times=times)
        click.echo(report.markdown_table(report.summarize(outcomes, metric, higher)))
        for note in report.run_notes(outcomes):
            click.echo(f"note: {note}")
        click.echo("Wrote " + ", ".join(str(p) for p in paths))


def _run_and_report(
    name: str,
    runs: list[Any],
    out: Path,
    workers: int | None,
    dask_local: bool,
    scheduler: str | None,
    accelerator: str,
    retry_failed: bool,
    dry_run: bool,
    no_report: bool,
    quiet: bool,
    allow_failures: bool = False,
) -> None:
    from aimc_plugins.report import summary as report
    from aimc_plugins.sweep import endings, execute, lock
    from aimc_plugins.sweep.engine import ExecutionOptions, pending_runs, run_sweep
    from aimc_plugins.sweep.store import STORE_NAME, ResultsStore
    from aimc_plugins.training.loop import AcceleratorError, check_accelerator

    if dask_local and scheduler:
        raise click.UsageError("--dask-local and --scheduler exclude each other")
    try:
        check_accelerator(accelerator)
    except AcceleratorError as exc:
        raise click.UsageError(str(exc)) from None
    n_workers = workers if workers is not None else execute.available_cores()
    if dry_run:
        done: set[str] = set()
        if (out / STORE_NAME).exists():
            with ResultsStore.in_folder(out) as store:
                done = {r.run_id for r in runs} - {r.run_id for r in pending_runs(runs, store)}
        for run in runs:
            mark = "done" if run.run_id in done else "todo"
            click.echo(f"{run.run_id}  {mark}  {run.label}  seed {run.seed}  {run.epochs} ep")
        click.echo(f"{len(runs)} runs, {len(runs) - len(done)} to do -> {out}/")
        holder = lock.holder_if_locked(out)
        if holder is not None:
            click.echo(f"note: {out} is in use by another sweep: {lock.describe(holder)}")
        return
    dask = None
    if dask_local or scheduler:
        dask = execute.DaskTarget(address=scheduler, workers=max(1, n_workers))
    options = ExecutionOptions(
        workers=n_workers,
        dask=dask,
        accelerator=accelerator,
        show_progress=not quiet,
        retry_failed=retry_failed,
    )
    endings.note_sweep(out / STORE_NAME, [r.run_id for r in runs])
    with lock.StoreLock(out, command=" ".join(sys.argv[1:])):  # StoreBusy: exit 3
        click.echo(f"{len(runs)} runs of {runs[0].recipe}, {runs[0].epochs} epochs each -> {out}/")
        with ResultsStore.in_folder(out) as store:
            result = run_sweep(runs, store, name, options)  # WorkerDied: exit 5
            outcomes = store.outcomes([r.run_id for r in runs])
            times = store.run_times(r.run_id for r in runs)
    click.echo(
        f"{result.skipped} already in {out / STORE_NAME}, {result.ran} run now"
        + (f" ({result.backend})" if result.ran else "")
    )
    for outcome in result.outcomes:
        if outcome.status != "done":
            click.echo(
                f"{outcome.run.label} seed {outcome.run.seed}: {outcome.status} "
                f"{outcome.error.strip()}",
                err=True,
            )
    if not no_report and outcomes:
        metric, higher = report.ranking_metric(outcomes)
        paths = report.write_report(outcomes, out, metric, higher, run_times=times)
        click.echo(report.markdown_table(report.summarize(outcomes, metric, higher)))
        for note in report.run_notes(outcomes):
            click.echo(f"note: {note}")
        click.echo("Wrote " + ", ".join(str(p) for p in paths))
    problems = [o for o in outcomes if o.status != "done"]
    if problems and (not allow_failures or len(problems) == len(outcomes)):
        click.echo(
            f"{len(problems)} of {len(outcomes)} runs failed or diverged (exit "
            f"{EXIT_RUNS_FAILED}; --retry-failed runs them again"
            + (", --allow-failures accepts them)" if len(problems) < len(outcomes) else ")"),
            err=True,
        )
        sys.exit(EXIT_RUNS_FAILED)
