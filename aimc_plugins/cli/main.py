"""The ``aimc`` command line. Its subcommands come from plugins, the built-in ones included."""

from __future__ import annotations

import click

from aimc_plugins.host import manager, plugins
from aimc_plugins.host.calls import call_each
from aimc_plugins.host.version import VERSION


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=VERSION, package_name="aimc-plugins")
def cli() -> None:
    """Train neural networks on analog in-memory hardware with pluggable devices and optimizers,
    on aihwkit's compiled simulator."""


def add_commands(group: click.Group) -> None:
    """Let each plugin add CLI subcommands; a raising plugin is recorded and skipped."""
    plugins.load_plugins()
    manager.failures[:] = [f for f in manager.failures if f.hook != "register_commands"]
    call_each("register_commands", lambda _name, caller: caller(cli=group))


add_commands(cli)


def main() -> None:
    cli()
