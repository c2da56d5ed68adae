"""The host's own subcommands, added through the same ``register_commands`` hook plugins use."""

from __future__ import annotations

import sys

import click

from aimc_plugins.cli import listing
from aimc_plugins.cli.examples import command_examples
from aimc_plugins.cli.options import echo_json, json_option, print_table
from aimc_plugins.host import plugins
from aimc_plugins.host.hookspecs import hookimpl
from aimc_plugins.host.records import as_dict


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="plugins", epilog=command_examples("plugins"))
    @json_option
    def plugins_command(as_json: bool) -> None:
        """List installed plugins, what they provide, every failure, and slow registrations."""
        infos = listing.plugin_infos()
        if as_json:
            echo_json([as_dict(info) for info in infos])
            return
        rows = []
        for i in infos:
            first, *more = i.errors or (", ".join(i.hooks),)
            rows.append((i.name, i.distribution, i.version, i.status, first))
            rows += [("", "", "", "", error) for error in more]  # one line per failure
        print_table(rows, ("name", "distribution", "version", "status", "hooks / error"))
        for message in dict.fromkeys(w for i in infos for w in i.warnings):
            click.echo(f"warning: {message}")
        times = plugins.registration_times()
        for i in infos:
            if i.seconds > listing.SLOW_REGISTRATION_S:
                parts = ", ".join(f"{hook} {s:.1f} s" for hook, s in times[i.name].items())
                click.echo(
                    f"slow: plugin {i.name} took {i.seconds:.1f} s to register ({parts}); "
                    "commands that list or resolve names wait for it once per process"
                )

    @cli.command(name="devices", epilog=command_examples("devices"))
    @json_option
    def devices_command(as_json: bool) -> None:
        """List registered analog devices."""
        records = plugins.registry.devices().values()
        if as_json:
            echo_json([as_dict(r) for r in records])
            return
        rows = []
        for r in records:  # each parameter with its default, as in power's "tau=0.7, g=0.5"
            params = ", ".join(f"{p.name}={p.default!r}" for p in r.parameters)
            rows.append((r.name, r.family, params, r.plugin, r.description))
        print_table(rows, ("name", "family", "parameters", "plugin", "description"))

    @cli.command(name="optimizers", epilog=command_examples("optimizers"))
    @json_option
    def optimizers_command(as_json: bool) -> None:
        """List training algorithms and their hyper-parameters."""
        records = plugins.registry.optimizers().values()
        if as_json:
            echo_json([as_dict(r) for r in records])
            return
        for r in records:
            click.echo(f"{r.name}  ({r.plugin}, devices: {r.n_devices})\n  {r.description}")
            for p in r.parameters:
                click.echo(f"    {p.name} = {p.default!r}  range {p.range}  {p.help}")

    @cli.command(name="presets", epilog=command_examples("presets"))
    @json_option
    def presets_command(as_json: bool) -> None:
        """List preset training configurations (device and algorithm fixed together)."""
        records = plugins.registry.presets().values()
        if as_json:
            echo_json([as_dict(r) for r in records])
            return
        print_table(((r.name, r.family, r.plugin) for r in records), ("name", "family", "plugin"))

    @cli.command(name="recipes", epilog=command_examples("recipes"))
    @json_option
    def recipes_command(as_json: bool) -> None:
        """List training recipes."""
        records = plugins.registry.recipes().values()
        if as_json:
            echo_json([as_dict(r) for r in records])
            return
        print_table(
            ((r.name, r.dataset, r.description) for r in records),
            ("name", "dataset", "description"),
        )

    @cli.command(name="trackers", epilog=command_examples("trackers"))
    @json_option
    def trackers_command(as_json: bool) -> None:
        """List experiment trackers a sweep can send its runs to (--track NAME)."""
        records = plugins.registry.trackers().values()
        if as_json:
            echo_json([as_dict(r) for r in records])
            return
        print_table(
            ((r.name, r.plugin, r.description) for r in records),
            ("name", "plugin", "description"),
        )

    @cli.command(name="doctor", epilog=command_examples("doctor"))
    @json_option
    def doctor_command(as_json: bool) -> None:
        """Check Python, torch and aihwkit (how it was built, CUDA, GPUs), and that aihwkit's
        compiled core really trains."""
        from aimc_plugins.cli.doctor import run_report

        checks, facts = run_report()
        failed = [i for i in listing.plugin_infos() if i.status != "ok"]
        ok = not failed and all(c.ok for c in checks)
        if as_json:  # the same facts and the same exit code
            echo_json(
                {
                    "ok": ok,
                    "checks": [as_dict(check) for check in checks],
                    "aihwkit": as_dict(facts) if facts else None,
                    "failed_plugins": [{"name": i.name, "error": i.error} for i in failed],
                }
            )
            sys.exit(0 if ok else 1)
        for check in checks:
            mark = "ok  " if check.ok else "FAIL"
            click.echo(f"[{mark}] {check.name}: {check.detail}")
            if check.help:
                click.echo(f"       {check.help}")
        for info in failed:
            click.echo(f"[FAIL] plugin {info.name}: {info.error}")
        if not ok:
            sys.exit(1)
