"""Tiki-Taka v1 and residual learning as a transfer rule (the compiled ``TransferCompound``'s
algorithm, with the whole-matrix transfer as batched reads and writes).

Per mini-batch: the gradient is pulsed into ``P`` at the fixed rate ``alpha``; then, once every
``transfer_every`` mini-batches, ``n_reads_per_transfer`` columns of ``P`` (cycling; 0: all of
them) are read through the transfer periphery and written onto ``W`` with pulses, at the torch
optimizer's learning rate ``beta``: ``W[:, j] += beta * read(P[:, j])``. With ``gamma > 0`` the
network computes with ``W + gamma P`` (residual learning), so the gradient is the one at that
point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aimc_plugins.host.records import TrainingSetup
from aimc_plugins.rules.rule import (
    Array,
    ColumnCycle,
    TransferRule,
    events_due,
    scheduled_writes,
)
from aimc_plugins.rules.setup import rule_setup
from aimc_plugins.training.transfer import describe_transfer, pick_devices

if TYPE_CHECKING:
    from aimc_plugins.rules.arrays import Arrays


class TikiTakaRule(TransferRule):
    """Tiki-Taka v1 (``gamma = 0``) and residual learning (``gamma > 0``) over arrays ``P``
    (gradient) and ``W`` (weight); the optimizer declares them (``P`` at weight ``gamma``)."""

    gradient_array = "P"

    def __init__(
        self, alpha: float, transfer_every: float = 1.0, n_reads_per_transfer: int = 0
    ) -> None:
        self.alpha = alpha
        self.transfer_every = transfer_every
        self.n_reads_per_transfer = n_reads_per_transfer

    def gradient_lr(self, lr: float) -> float:
        return self.alpha

    def start(self, arrays: Arrays) -> None:
        self.cycle = ColumnCycle(arrays.columns)

    def after_update(self, arrays: Arrays) -> None:
        for _ in range(events_due(arrays.step, self.transfer_every)):
            columns = self.cycle.take(self.n_reads_per_transfer)
            arrays.write("W", arrays.lr * arrays.read("P", columns), columns)

    def writes_per_column(self, n_minibatches: int, columns: int) -> float:
        return scheduled_writes(
            n_minibatches, self.transfer_every, self.n_reads_per_transfer, columns
        )

    def describe(self) -> str:
        reads = self.n_reads_per_transfer or "all"
        return f"Tiki-Taka rule ({reads} columns every {self.transfer_every:g} mini-batches)"


def tiki_taka_setup(
    label: str,
    devices: Sequence[Any],
    *,
    residual_device: str,
    alpha: float,
    beta: float,
    gamma: float,
    transfer_every: float,
    n_reads_per_transfer: int,
    residual_transform: Callable[[Any], tuple[Any, str]] | None = None,
) -> TrainingSetup:
    """Tiki-Taka v1 (``gamma = 0``) or residual learning as a rule: arrays ``P`` (on the
    residual device, weight ``gamma``) and ``W`` (main device, weight 1), with the periphery
    aihwkit's ``ttv1`` compound uses (its transfer read and transfer pulses), ``beta`` the torch
    optimizer's learning rate. The same preamble as the compiled version
    (:func:`aimc_plugins.training.transfer.transfer_setup`)."""
    main, residual = pick_devices(devices, residual_device)
    note = ""
    if residual_transform is not None:
        residual, note = residual_transform(residual)
    rule = TikiTakaRule(alpha, transfer_every, n_reads_per_transfer)
    description = describe_transfer(f"{label} (rule)", main, residual)
    return rule_setup(
        rule,
        [Array("P", residual, weight=gamma), Array("W", main, weight=1.0)],
        lr=beta,
        description=f"{description} ({note})" if note else description,
    )
