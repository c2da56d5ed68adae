"""The command line every recipe script in ``recipes/`` shares: one recipe, one device and
optimizer, a few seeds, metrics printed per epoch. It resolves names exactly as ``aimc compare``
does (same run ids, same periphery profiles), so a script run and a sweep run of one
configuration are the same run."""

from __future__ import annotations

import json
from typing import Any

import click


def command(recipe: str) -> click.Command:
    """A click command that trains ``recipe``."""

    @click.command(name=recipe, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--device",
        default="Idealized",
        show_default=True,
        help="Device (`aimc devices`, e.g. 'power(tau=0.7, g=0.5)') or preset config.",
    )
    @click.option("--optimizer", default="sgd", show_default=True, help="See `aimc optimizers`.")
    @click.option(
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Optimizer hyper-parameter; repeat.",
    )
    @click.option(
        "--option",
        "options",
        multiple=True,
        metavar="NAME=VALUE",
        help="Recipe option (see `aimc recipes`); repeat.",
    )
    @click.option("--data-dir", default=None, help="Data folder (the data_dir option).")
    @click.option(
        "--periphery",
        default="aihwkit",
        show_default=True,
        help="Periphery profile: aihwkit, paper or ideal.",
    )
    @click.option("--seeds", default=1, show_default=True, type=click.IntRange(min=1))
    @click.option(
        "--epochs", default=None, type=click.IntRange(min=1), help="[default: the recipe's]"
    )
    @click.option(
        "--accelerator", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True
    )
    @click.option("--json", "as_json", is_flag=True, help="Print each outcome as JSON.")
    def main(
        device: str,
        optimizer: str,
        params: tuple[str, ...],
        options: tuple[str, ...],
        data_dir: str | None,
        periphery: str,
        seeds: int,
        epochs: int | None,
        accelerator: str,
        as_json: bool,
    ) -> None:
        from aimc_plugins.cli.options import parse_params
        from aimc_plugins.sweep.spec import SpecError, check_runs, literal_options, plan
        from aimc_plugins.training import loop as training
        from aimc_plugins.training.run import run_one

        extra: dict[str, Any] = literal_options(parse_params(options))
        if data_dir:
            extra["data_dir"] = data_dir
        try:
            training.check_accelerator(accelerator)
            runs = check_runs(
                plan(
                    recipe,
                    [device],
                    [optimizer],
                    seeds,
                    epochs,
                    parse_params(params),
                    extra,
                    periphery,
                )
            )
        except (SpecError, training.AcceleratorError) as exc:
            raise click.UsageError(str(exc)) from None
        training.set_epoch_callback(
            lambda epoch, n, metrics: click.echo(
                f"  epoch {epoch}/{n}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k != "epoch")
            )
        )
        failed = False
        for run in runs:
            click.echo(f"{run.label}, seed {run.seed} (run {run.run_id})")
            outcome = run_one(run, accelerator=accelerator)
            failed |= outcome.status == "failed"
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "run_id": run.run_id,
                            "status": outcome.status,
                            "final": outcome.final,
                            "error": outcome.error,
                        },
                        default=str,
                    )
                )
            else:
                click.echo(f"  {outcome.status}: {dict(outcome.final)} {outcome.error}".rstrip())
        raise SystemExit(1 if failed else 0)

    return main
