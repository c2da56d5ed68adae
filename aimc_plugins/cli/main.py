"""The ``aimc`` command line. Its subcommands come from plugins, the built-in ones included."""

from __future__ import annotations

import click

from aimc_plugins.host import plugins


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aimc-plugins")
def cli() -> None:
    """Train neural networks on analog in-memory hardware with pluggable devices and optimizers,
    on aihwkit's compiled simulator."""


plugins.add_commands(cli)


def main() -> None:
    cli()
