"""Commands for plugin authors: ``aimc new-plugin`` (a ready distribution) and ``aimc fit``
(a response-function device fitted to measured pulse data)."""

from __future__ import annotations

from pathlib import Path

import click

from aimc_plugins.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="new-plugin")
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
        checks of aimc_plugins.testing, and a README. `pip install -e` it and it appears in
        `aimc plugins`."""
        from aimc_plugins.scaffold import ScaffoldError, new_plugin, plugin_names

        try:
            target = new_plugin(name, out, force=force)
        except ScaffoldError as exc:
            raise click.UsageError(str(exc)) from None
        names = plugin_names(name)
        click.echo(f"Wrote {target}")
        click.echo(f"  device    {names.device}\n  optimizer {names.optimizer}")
        click.echo(f"Next: pip install -e {target} && aimc plugins && pytest {target}/tests")
