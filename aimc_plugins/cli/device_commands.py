"""``aimc show`` and ``aimc characterize``: a device's theory diagnostics and its measured fidelity.

Both take a device spec (``power(tau=0.7, g=0.5)`` or a plain name) and work alike for response
devices from plugins and for aihwkit's own devices, whose response is derived from their
parameters.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from aimc_plugins.cli.examples import command_examples
from aimc_plugins.devices.build import adapted_device, device_response
from aimc_plugins.host import plugins
from aimc_plugins.host.hookspecs import hookimpl

DEFAULT_OUT = Path("aimc-devices")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_") or "device"


def resolve_device(spec_text: str) -> tuple[Any, dict[str, Any]]:
    """The device record and parameters a spec names; a bad spec is a usage error."""
    from aimc_plugins.devices.names import DeviceRefError, parse_device_ref

    try:
        spec = parse_device_ref(spec_text)
        record = plugins.registry.device(spec.name)
    except (DeviceRefError, KeyError) as exc:
        raise click.UsageError(str(exc.args[0]) if exc.args else str(exc)) from None
    return record, spec.params


def adapt_device(
    record: Any, params: dict[str, Any], need_table: bool = True
) -> tuple[Any, Any, list[str]]:
    """Response, adapted device and any adapter warnings (shown, not raised).

    With ``need_table=False`` (``aimc show``: the theory needs only the declared response) a
    table too far from the response is reported as a note and the adapted device is ``None``,
    so the device that training refuses can still be inspected."""
    from aimc_plugins.devices.build import TableError
    from aimc_plugins.devices.config_response import UnsupportedDevice
    from aimc_plugins.devices.response import ResponseError
    from aimc_plugins.devices.sanity import DeviceConfigError
    from aimc_plugins.host.records import ParameterError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            response = device_response(record, params)
            refused = ""
            try:
                adapted = adapted_device(record, params)
            except TableError as exc:
                if need_table:
                    raise
                adapted, refused = None, f"training refuses this device: {exc}"
    except (ParameterError, ResponseError, UnsupportedDevice, DeviceConfigError, TableError) as exc:
        raise click.UsageError(str(exc)) from None
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return response, adapted, notes + ([refused] if refused else [])


def _adapter_line(adapted: Any) -> str:
    if adapted is None:
        return "aihwkit device  none (see the warning below)"
    return (
        f"aihwkit device  {adapted.kind} ({adapted.note}); "
        f"max step error vs declared {adapted.error:.3g}"
    )


out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder for the PNG.",
)


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(
        name="show",
        short_help="A device's theory: F, G, symmetric point, R_c; a PNG.",
        epilog=command_examples("show"),
    )
    @click.argument("device")
    @out_option
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def show_command(device: str, out: Path, as_json: bool) -> None:
        """Theory diagnostics of DEVICE (e.g. "power(tau=0.7, g=0.5)" or ReRamSB): F, G, the
        symmetric point, R_c, states, asymmetry; writes a PNG of q+, q-, F and G."""
        from aimc_plugins.devices.diagnostics import describe, diagnose
        from aimc_plugins.report.response_plots import plot_diagnostics
        from aimc_plugins.training.identity import device_label

        record, params = resolve_device(device)
        response, adapted, notes = adapt_device(record, params, need_table=False)
        diag = diagnose(response)
        path = plot_diagnostics(
            diag, out / f"{_slug(device)}-response.png", device_label(record.name, params)
        )
        if as_json:
            summary = {
                **diag.summary(),
                "aihwkit_device": adapted.kind if adapted else None,
                "adapter_error": adapted.error if adapted else None,
                "nodes": adapted.nodes if adapted else None,
                "cost": asdict(response.cost) if response.cost is not None else None,
                "warnings": notes,
                "plot": str(path),
            }
            click.echo(json.dumps(summary, indent=2, default=float))
            return
        for line in describe(diag):
            click.echo(line)
        click.echo(_adapter_line(adapted))
        if response.citation:
            click.echo(f"source          {response.citation}")
        if response.cost is not None:
            click.echo(f"cost            {response.cost.describe()}")
        for note in notes:
            click.echo(f"warning         {note}", err=True)
        click.echo(f"Wrote {path}")

    @cli.command(name="characterize", epilog=command_examples("characterize"))
    @click.argument("device")
    @click.option("--points", default=101, show_default=True, type=click.IntRange(min=3))
    @click.option(
        "--noise", is_flag=True, help="Keep cycle-to-cycle noise and device-to-device variation."
    )
    @out_option
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def characterize_command(
        device: str, points: int, noise: bool, out: Path, as_json: bool
    ) -> None:
        """Single pulses on a real aihwkit tile across DEVICE's range, compared with its declared
        q+-: max and RMS error relative to dw_min * q; writes a PNG."""
        from aimc_plugins.devices.characterize import characterize
        from aimc_plugins.report.response_plots import plot_characterization

        record, params = resolve_device(device)
        response, adapted, notes = adapt_device(record, params)
        result = characterize(response, adapted.device, points, noise, kind=adapted.kind)
        path = plot_characterization(result, out / f"{_slug(device)}-fidelity.png")
        if as_json:
            click.echo(
                json.dumps({**result.summary(), "warnings": notes, "plot": str(path)}, indent=2)
            )
            return
        click.echo(f"device          {response.name} ({device})")
        click.echo(_adapter_line(adapted))
        click.echo(
            f"measured        {points} weights, one pulse each way, noise "
            f"{'on (mean of rows)' if noise else 'off'}"
        )
        click.echo(
            f"fidelity        max error {result.max_error:.3g}, RMS {result.rms_error:.3g} "
            f"(of dw_min * q; float32 alone allows {result.resolution:.2g})"
        )
        for note in notes:
            click.echo(f"warning         {note}", err=True)
        click.echo(f"Wrote {path}")
