"""Commands for plugin authors: ``aimc new-plugin`` (a ready distribution) and ``aimc fit``
(a response-function device fitted to measured pulse data)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from aimc_plugins.cli.examples import command_examples
from aimc_plugins.host.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(
        name="new-plugin",
        short_help="A ready plugin distribution: entry point, examples, a test.",
        epilog=command_examples("new-plugin"),
    )
    @click.argument("name")
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="Folder in which the distribution's folder is created.",
    )
    @click.option("--force", is_flag=True, help="Overwrite the generated files if present.")
    def new_plugin_command(name: str, out: Path, force: bool) -> None:
        """Write a plugin distribution NAME (e.g. my-lab-devices): pyproject.toml with the
        aimc_plugins entry point, an example device and optimizer, a test using the contract
        checks of aimc_plugins.kit.testing, and a README. `pip install -e` it and it appears in
        `aimc plugins`."""
        from aimc_plugins.kit.scaffold import ScaffoldError, new_plugin, plugin_names

        try:
            target = new_plugin(name, out, force=force)
        except ScaffoldError as exc:
            raise click.UsageError(str(exc)) from None
        names = plugin_names(name)
        click.echo(f"Wrote {target}")
        click.echo(f"  device    {names.device}\n  optimizer {names.optimizer}")
        click.echo(f"  optimizer {names.rule_optimizer} (a transfer rule: rule.py)")
        click.echo(f"Next: pip install -e {target} && aimc plugins && pytest {target}/tests")

    @cli.command(name="fit", epilog=command_examples("fit"))
    @click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--name", required=True, help="Name of the fitted device (and its plugin).")
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder for the plugin distribution and the plot [default: ./NAME].",
    )
    @click.option(
        "--module",
        "module_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write only a plugin module (a .py file) here instead of a distribution.",
    )
    @click.option("--g-ref", type=float, default=None, help="Conductance that maps to w = 0.")
    @click.option("--g-scale", type=float, default=None, help="Conductance that is one unit of w.")
    @click.option("--bins", default=80, show_default=True, type=click.IntRange(min=4))
    @click.option(
        "--bandwidth",
        default=0.04,
        show_default=True,
        type=click.FloatRange(min=0.001, max=0.5),
        help="Smoothing kernel width, as a fraction of the range.",
    )
    @click.option("--nodes", default=41, show_default=True, type=click.IntRange(2, 63))
    @click.option(
        "--trim",
        default=0.01,
        show_default=True,
        type=click.FloatRange(0.0, 0.2),
        help="Fraction of the observed range dropped at each end (steps clipped by the bounds).",
    )
    @click.option(
        "--allow-wrong-way",
        is_flag=True,
        help="Fit even where pulses move the weight the wrong way over part of the range (the "
        "device really behaves so); refused otherwise.",
    )
    @click.option(
        "--energy-up",
        type=click.FloatRange(min=0.0),
        default=None,
        metavar="J",
        help="Optional: energy of one up pulse, in joules (give --energy-down with it). A run "
        "on the device then reports its energy.",
    )
    @click.option(
        "--energy-down",
        type=click.FloatRange(min=0.0),
        default=None,
        metavar="J",
        help="Optional: energy of one down pulse, in joules (give --energy-up with it).",
    )
    @click.option(
        "--endurance",
        type=click.FloatRange(min=0.0, min_open=True),
        default=None,
        metavar="PULSES",
        help="Optional: pulses a device takes before it fails. A run on the device then "
        "reports the share of it its most-written device used.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the fit summary as JSON.")
    def fit_command(
        data: Path,
        name: str,
        out: Path | None,
        module_path: Path | None,
        g_ref: float | None,
        g_scale: float | None,
        bins: int,
        bandwidth: float,
        nodes: int,
        trim: float,
        allow_wrong_way: bool,
        energy_up: float | None,
        energy_down: float | None,
        endurance: float | None,
        as_json: bool,
    ) -> None:
        """Fit a response-function device to measured pulse traces in DATA (CSV) and write it
        as a plugin.

        \b
        DATA has a header and one row per read, taken after each pulse:
          device       device id (optional; without it, one device)
          pulse        index of the pulse in that device's trace (the first row: initial read)
          direction    up / down (also + / -, +1 / -1, potentiation / depression, set / reset)
          weight       the read as a weight, OR
          conductance  the read as a conductance: w = (G - G_ref) / G_scale; by default the
                       observed window maps to [-1, 1] (G_ref its middle, G_scale half its
                       width); --g-ref / --g-scale fix the mapping.

        \b
        Fitted: q+(w), q-(w) from binned mean steps against the weight before the pulse,
        smoothed (local linear, Gaussian kernel); dw_min with F(0) = 1; cycle-to-cycle noise
        from the spread of steps about each device's mean; device-to-device spread of the step
        size and of up/down when the file holds several devices. Writes a distribution
        (pyproject, module with the table, contract test, README) or, with --module, only the
        module; and a PNG of data against fit.

        Pulses that move the weight the wrong way (up pulses lowering it, down pulses raising
        it) are refused, everywhere or over part of the range, with the stretch and its pulses
        named; --allow-wrong-way fits such a device anyway, q held at its floor there.

        What a pulse costs is not in the traces: --energy-up / --energy-down (joules per
        pulse, both or neither) and --endurance (pulses) declare it, and the plugin's device
        carries it; without them the device declares no cost.
        """
        from aimc_plugins.devices.cost import CostError, DeviceCost
        from aimc_plugins.kit.fit import FitError, FitOptions, TraceError, fit_steps, read_traces
        from aimc_plugins.kit.fit.emit import report_lines, write_distribution, write_module
        from aimc_plugins.kit.fit.plot import plot_fit
        from aimc_plugins.kit.scaffold import ScaffoldError, plugin_names

        if (energy_up is None) != (energy_down is None):
            raise click.UsageError(
                "--energy-up and --energy-down go together: give both (joules per up / down "
                "pulse) or neither"
            )
        try:
            cost = DeviceCost(energy_up, energy_down, endurance)
        except CostError as exc:
            raise click.UsageError(str(exc)) from None
        try:
            names = plugin_names(name)
            steps = read_traces(data).steps(g_ref, g_scale)
            options = FitOptions(bins=bins, bandwidth=bandwidth, nodes=nodes, trim=trim)
            fit = fit_steps(steps, names.dist, options, allow_wrong_way=allow_wrong_way)
            if cost.declared:
                fit = replace(fit, cost=cost)
        except (TraceError, FitError, ScaffoldError) as exc:
            raise click.UsageError(str(exc)) from None
        if module_path is not None:
            plot = plot_fit(fit, steps, module_path.with_suffix(".png"))
            written = write_module(fit, module_path, source=data.name)
        else:
            folder = out if out is not None else Path(names.dist)
            plot = plot_fit(fit, steps, folder / f"{names.module}-fit.png")
            written = write_distribution(fit, folder, source=data.name, plot=plot)
        if as_json:
            summary = {**fit.summary(), "written": str(written), "plot": str(plot)}
            click.echo(json.dumps(summary, indent=2, default=float))
            return
        click.echo(f"device         {fit.name}  ({steps.mapping})")
        for line in report_lines(fit):
            click.echo(line)
        click.echo(f"Wrote {written}\nWrote {plot}")

    @cli.command(
        name="traces",
        short_help="Pulse traces of a device on a tile, as CSV for `aimc fit`.",
        epilog=command_examples("traces"),
    )
    @click.argument("device")
    @click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--devices", default=256, show_default=True, type=click.IntRange(min=1))
    @click.option("--ramps", default=8, show_default=True, type=click.IntRange(min=1))
    @click.option("--pulses", default=100, show_default=True, type=click.IntRange(min=1))
    @click.option(
        "--c2c/--no-c2c", default=True, show_default=True, help="Keep cycle-to-cycle noise."
    )
    @click.option(
        "--dtod/--no-dtod",
        default=True,
        show_default=True,
        help="Keep device-to-device variation (each tile element is one device).",
    )
    @click.option("--seed", default=0, show_default=True, type=int)
    def traces_command(
        device: str,
        out: Path,
        devices: int,
        ramps: int,
        pulses: int,
        c2c: bool,
        dtod: bool,
        seed: int,
    ) -> None:
        """Pulse DEVICE (any device spec, e.g. ReRamSB or "power(g=2)") on an aihwkit tile and
        write its traces as CSV in the format `aimc fit` reads: every element starts at a random
        weight and gets alternating ramps of PULSES up and PULSES down pulses, read after each.
        Write noise is left out (it is a read disturbance, not a step)."""
        from aimc_plugins.kit.fit import write_traces
        from aimc_plugins.kit.fit.generate import measurement_config, pulse_traces
        from aimc_plugins.training.setup import build_device

        try:
            config = build_device(device)
        except (KeyError, ValueError) as exc:
            raise click.UsageError(str(exc.args[0]) if exc.args else str(exc)) from None
        config = measurement_config(config, c2c=c2c, dtod=dtod)
        traces = pulse_traces(config, devices, ramps, pulses, seed=seed)
        path = write_traces(traces, out)
        click.echo(f"Wrote {path}: {devices} device(s) x {ramps * pulses} pulses")
