"""The hooks a plugin may implement.

Every registration hook receives a ``register`` callable and hands it typed records (see
:mod:`aimc_plugins.host.records`). Registering through a callback, rather than returning lists, lets
the host stamp each record with the plugin that gave it and isolate a plugin that raises, so one
broken plugin never hides the others.

The tracker events (``run_started``, ``epoch_ended``, ``run_finished``) are observations: they
reach only the plugin that registered a :class:`~aimc_plugins.host.records.Tracker` the sweep
chose, in the process that trains the run (a pool worker included), and nothing a tracker does,
raising included, changes the run or its stored result (see :mod:`aimc_plugins.training.tracking`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from aimc_plugins.host.records import (
        Device,
        EpochEvent,
        Optimizer,
        Preset,
        Recipe,
        RunEvent,
        Tracker,
    )

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


@hookspec
def register_trackers(register: Callable[[Tracker], None]) -> None:
    """Register experiment trackers: each a :class:`~aimc_plugins.host.records.Tracker`.

    A sweep chooses trackers by name (``--track NAME``, ``track = [NAME]``); only the plugin
    that registered a chosen tracker receives the three event hooks below, with its name.
    """


@hookspec
def run_started(tracker: str, event: RunEvent) -> None:
    """A run of a sweep that chose ``tracker`` starts training (in this process).

    Always followed by :func:`run_finished` for the same ``event.run_id``, whatever happens
    in between (a run that fails while it is set up included).
    """


@hookspec
def epoch_ended(tracker: str, event: EpochEvent) -> None:
    """An epoch of the run ``event.run`` finished, with its metrics; epochs come in order.

    Epochs a recipe does not announce while it trains are delivered from its history before
    :func:`run_finished`, so a tracker sees every epoch the results store keeps.
    """


@hookspec
def run_finished(tracker: str, event: RunEvent) -> None:
    """The run finished: ``event.status`` is ``done``, ``diverged`` or ``failed``, with its
    ``final`` metrics and ``error`` as the results store keeps them. Release per-run resources
    (close files, end a remote run) here."""
