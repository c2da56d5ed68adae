"""The host's own subcommands, added through the same ``register_commands`` hook plugins use."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click

from aimc_plugins import plugins
from aimc_plugins.hookspecs import hookimpl


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """Left-aligned plain-text columns; the last column is allowed to run long."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    click.echo(line.format(*headers))
    for row in rows:
        click.echo(line.format(*row))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def parse_params(items: Sequence[str]) -> dict[str, str]:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--param")
        params[key.strip()] = value.strip()
    return params


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="plugins")
    @json_option
    def plugins_command(as_json: bool) -> None:
        """List installed plugins, what they provide, every failure, and slow registrations."""
        infos = plugins.plugin_infos()
        if as_json:
            echo_json([info.to_dict() for info in infos])
            return
        rows = []
        for i in infos:
            first, *more = i.errors or (", ".join(i.hooks),)
            rows.append((i.name, i.distribution, i.version, i.status, first))
            rows += [("", "", "", "", error) for error in more]  # one line per failure
        print_table(rows, ("name", "distribution", "version", "status", "hooks / error"))
        times = plugins.registration_times()
        for i in infos:
            if i.seconds > plugins.SLOW_REGISTRATION_S:
                parts = ", ".join(f"{hook} {s:.1f} s" for hook, s in times[i.name].items())
                click.echo(
                    f"slow: plugin {i.name} took {i.seconds:.1f} s to register ({parts}); "
                    "commands that list or resolve names wait for it once per process"
                )

    @cli.command(name="devices")
    @json_option
    def devices_command(as_json: bool) -> None:
        """List registered analog devices."""
        records = plugins.devices().values()
        if as_json:
            echo_json([r.to_dict() for r in records])
            return
        print_table(
            ((r.name, r.family, r.plugin, r.description) for r in records),
            ("name", "family", "plugin", "description"),
        )

    @cli.command(name="optimizers")
    @json_option
    def optimizers_command(as_json: bool) -> None:
        """List training algorithms and their hyper-parameters."""
        records = plugins.optimizers().values()
        if as_json:
            echo_json([r.to_dict() for r in records])
            return
        for r in records:
            click.echo(f"{r.name}  ({r.plugin}, devices: {r.n_devices})\n  {r.description}")
            for p in r.parameters:
                click.echo(f"    {p.name} = {p.default!r}  range {p.range}  {p.help}")

    @cli.command(name="presets")
    @json_option
    def presets_command(as_json: bool) -> None:
        """List preset training configurations (device and algorithm fixed together)."""
        records = plugins.presets().values()
        if as_json:
            echo_json([r.to_dict() for r in records])
            return
        print_table(((r.name, r.family, r.plugin) for r in records), ("name", "family", "plugin"))

    @cli.command(name="recipes")
    @json_option
    def recipes_command(as_json: bool) -> None:
        """List training recipes."""
        records = plugins.recipes().values()
        if as_json:
            echo_json([r.to_dict() for r in records])
            return
        print_table(
            ((r.name, r.dataset, r.description) for r in records),
            ("name", "dataset", "description"),
        )

    @cli.command(name="doctor")
    @json_option
    def doctor_command(as_json: bool) -> None:
        """Check Python, torch and aihwkit (how it was built, CUDA, GPUs), and that aihwkit's
        compiled core really trains."""
        from aimc_plugins.doctor import run_report

        checks, facts = run_report()
        if as_json:
            infos = [i.to_dict() for i in plugins.plugin_infos() if i.status != "ok"]
            echo_json(
                {
                    "checks": [c.to_dict() for c in checks],
                    "aihwkit": facts.to_dict() if facts else None,
                    "failed_plugins": infos,
                }
            )
            if infos or not all(c.ok for c in checks):
                sys.exit(1)
            return
        for check in checks:
            mark = "ok  " if check.ok else "FAIL"
            click.echo(f"[{mark}] {check.name}: {check.detail}")
            if check.help:
                click.echo(f"       {check.help}")
        failed = [i for i in plugins.plugin_infos() if i.status != "ok"]
        for info in failed:
            click.echo(f"[FAIL] plugin {info.name}: {info.error}")
        if failed or not all(c.ok for c in checks):
            sys.exit(1)
