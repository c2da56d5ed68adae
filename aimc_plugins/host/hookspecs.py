"""The hooks a plugin may implement.

Every hook receives a ``register`` callable and hands it typed records (see
:mod:`aimc_plugins.host.records`). Registering through a callback, rather than returning lists, lets
the host stamp each record with the plugin that gave it and isolate a plugin that raises, so one
broken plugin never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from aimc_plugins.host.records import Device, Optimizer, Preset, Recipe

PROJECT = "aimc"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_devices(register: Callable[[Device], None]) -> None:
    """Register analog devices: each a :class:`~aimc_plugins.host.records.Device`.

    A device describes how one resistive element responds to pulses. Its factory returns an
    aihwkit pulsed-device config, or a :class:`~aimc_plugins.devices.response.ResponseDevice` (q+-
    in
    Python) that the host adapts to one, so training runs in aihwkit's compiled core.
    """


@hookspec
def register_optimizers(register: Callable[[Optimizer], None]) -> None:
    """Register training algorithms: each a :class:`~aimc_plugins.host.records.Optimizer`.

    An optimizer turns one or more devices and hyper-parameters into an aihwkit RPU
    configuration plus the learning rate the torch optimizer uses.
    """


@hookspec
def register_presets(register: Callable[[Preset], None]) -> None:
    """Register complete training configurations: each a :class:`~aimc_plugins.host.records.Preset`.

    A preset fixes device and algorithm together (as aihwkit's ``*Preset`` RPU configs do) and is
    compared as it is, without a separate optimizer.
    """


@hookspec
def register_recipes(register: Callable[[Recipe], None]) -> None:
    """Register training recipes (network + dataset + loop): each a
    :class:`~aimc_plugins.host.records.Recipe`."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``aimc`` command-line interface.

    ``cli`` is the top-level click group; add commands with ``@cli.command()``.
    """
