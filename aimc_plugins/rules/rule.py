"""What a transfer-rule plugin writes: its arrays, and what happens after each gradient update.

Tiki-Taka and its descendants differ in *what happens between the arrays*: which array the
gradient is pulsed into, when and how much of one array is read and written onto another,
what digital state sits in between. aihwkit compiles a few such rules into C++ compounds; a
new one used to mean subclassing aihwkit's tiles. Here a rule is a plain Python object:

- it **declares its arrays** (:class:`Array`): a name, an aihwkit device config, and its
  coefficient in the weight the network sees (``W + gamma P`` is ``W`` at 1, ``P`` at gamma);
- it says **which array takes the gradient**, and at what rate (:meth:`TransferRule.gradient_lr`);
- after every gradient update it **acts on the arrays** through an :class:`Arrays` handle
  (:meth:`TransferRule.after_update`): batched analog reads of columns, pulsed writes, resets,
  and digital state kept on the rule itself (torch tensors).

Every read and every pulse runs on aihwkit's compiled tiles, one batched call per array and
event, so a rule in Python costs what the analog operations cost, not a Python loop per column.
The host builds the tiles (:mod:`aimc_plugins.rules.tile`); a plugin never imports aihwkit's tile
classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads when a tile is built, not when a plugin registers a rule
    from torch import Tensor

    from aimc_plugins.rules.arrays import Arrays


@dataclass(frozen=True)
class Array:
    """One analog array of a rule.

    ``device`` is an aihwkit pulsed-device config (what a registered device builds).
    ``weight`` is the array's coefficient in the weight the network computes with,
    ``sum(weight_i * A_i)``; an array at 0 is hidden (only the rule reads it). The network's
    forward and backward passes read every array whose weight is not 0 through the layer's
    periphery (``rpu_config.forward`` / ``backward``), one analog read per array, summed with
    the coefficients.

    ``read`` and ``write`` override the rule's transfer periphery for this array (aihwkit
    ``IOParameters`` / ``UpdateParameters``); ``None`` keeps the defaults given to
    :func:`~aimc_plugins.rules.setup.rule_setup`.
    """

    name: str
    device: Any
    weight: float = 0.0
    read: Any = None
    write: Any = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"array name {self.name!r} must be an identifier (like 'P', 'W0')")
        if not math.isfinite(self.weight):
            raise ValueError(f"array {self.name!r}: weight must be finite, got {self.weight!r}")


class TransferRule:
    """Base class of a transfer rule: subclass it, set the hyper-parameters in ``__init__`` and
    override :meth:`after_update` (and :meth:`start` for digital state).

    One instance is configured by the optimizer's factory; the host gives every analog tile of
    the network its own deep copy, so state set on ``self`` in :meth:`start` is per tile. A rule
    must pickle (sweeps ship configs to worker processes): keep hyper-parameters and torch
    tensors on it, not open files or lambdas.
    """

    gradient_array: str = ""
    """Name of the array the gradient is pulsed into; empty: the first array declared."""

    def gradient_lr(self, lr: float) -> float:
        """Learning rate of the gradient's pulsed update, given the torch optimizer's ``lr``.

        The default is ``lr`` itself (Analog SGD onto the gradient array). Tiki-Taka-style rules
        return a fixed rate (``alpha``) and use ``lr`` for the transfer, as aihwkit does."""
        return lr

    def start(self, arrays: Arrays) -> None:
        """Allocate or clear the rule's digital state; called when a tile is built and whenever
        its weights are set from outside (the network's initial weights). The arrays' shape is
        ``arrays.shape`` (rows = outputs, columns = inputs)."""

    def after_update(self, arrays: Arrays) -> None:
        """Act on the arrays after the gradient of one mini-batch was pulsed in.

        ``arrays.step`` counts the mini-batches so far (1 on the first call) and ``arrays.lr``
        is the torch optimizer's learning rate now (an LR schedule changes it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement after_update(arrays)")

    def describe(self) -> str:
        """One line for logs and tables; defaults to the class name."""
        return type(self).__name__

    def writes_per_column(self, n_minibatches: int, columns: int) -> float | None:
        """How many times a run of ``n_minibatches`` writes each column of the array the
        network relies on most (``W``), for a tile of ``columns`` columns; ``None`` (the
        default): the rule does not say, and no slow-schedule note is made for it. The host
        notes a run whose schedule writes a column fewer than ten times."""
        return None


def scheduled_writes(
    n_minibatches: int, period: float, reads_per_event: int, columns: int
) -> float:
    """Writes per column over ``n_minibatches`` of a schedule of one event every ``period``
    mini-batches, each reading ``reads_per_event`` columns (0 or more than ``columns``: all)."""
    if period <= 0:
        return 0.0
    reads = columns if reads_per_event <= 0 else min(reads_per_event, columns)
    return n_minibatches / period * reads / columns


def events_due(step: int, period: float) -> int:
    """How many events of a schedule with one event every ``period`` mini-batches fall on
    mini-batch ``step`` (1-based). A period below 1 gives several events per mini-batch (0.25:
    four), a period of 2.5 gives events on mini-batches 3, 5, 8, 10, ...; 0 or less: none."""
    if period <= 0 or step <= 0:
        return 0
    return math.floor(step / period + 1e-9) - math.floor((step - 1) / period + 1e-9)


class ColumnCycle:
    """Which columns the next transfer reads, cycling through ``n_columns`` in order.

    ``take(k)`` returns the next ``k`` column indices and advances; for ``k <= 0`` or
    ``k >= n_columns`` it returns ``None`` ("every column, in order", which the
    :class:`~aimc_plugins.rules.arrays.Arrays` methods take without building an index) and stays
    put. The position is part of the rule's state, so keep the cycle on the rule (created in
    :meth:`TransferRule.start`)."""

    def __init__(self, n_columns: int) -> None:
        if n_columns <= 0:
            raise ValueError("a column cycle needs at least one column")
        self.n_columns = n_columns
        self.position = 0

    def take(self, k: int) -> Tensor | None:
        """The next ``k`` columns (``None``: all, in order)."""
        import torch

        if k <= 0 or k >= self.n_columns:
            return None
        columns = (self.position + torch.arange(k)) % self.n_columns
        self.position = (self.position + k) % self.n_columns
        return columns
