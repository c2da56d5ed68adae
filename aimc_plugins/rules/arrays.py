"""The handle a transfer rule acts through: batched reads, pulsed writes and resets of its arrays.

Every operation is one call into aihwkit's compiled tile of the named array, whatever the
number of columns: reading ``k`` columns is one forward pass of a batch of ``k`` one-hot inputs
(each through the array's read periphery, noise and converters included), writing them is one
pulsed update with the same one-hot inputs, which aihwkit applies sample by sample exactly as
its compiled compounds' per-column loop does. Shapes follow the weight matrix: rows are the
layer's outputs, columns its inputs, and a read of ``k`` columns is ``(rows, k)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from aimc_plugins.training import pulse_counter

Columns = Tensor | Sequence[int] | None


class Arrays:
    """The arrays of one analog tile, as a rule sees them (see :mod:`aimc_plugins.rules.rule`).

    ``step`` counts the mini-batches whose gradient was pulsed in (1 on the first
    ``after_update``), ``lr`` is the torch optimizer's learning rate now.
    """

    def __init__(
        self,
        modules: Mapping[str, Any],
        granularities: Mapping[str, float],
        shape: tuple[int, int],
    ) -> None:
        self.modules = dict(modules)  # aihwkit's tile wrappers; .tile is the compiled tile
        self.granularities = dict(granularities)
        self.shape = shape
        self.step = 0
        self.lr = 0.0
        self.identities: dict[str, Tensor] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The arrays' names, in the order the rule declared them."""
        return tuple(self.modules)

    @property
    def rows(self) -> int:
        """The layer's outputs (rows of every array)."""
        return self.shape[0]

    @property
    def columns(self) -> int:
        """The layer's inputs (columns of every array)."""
        return self.shape[1]

    def module(self, name: str) -> Any:
        """aihwkit's tile wrapper of array ``name``."""
        try:
            return self.modules[name]
        except KeyError:
            known = ", ".join(self.modules)
            raise KeyError(f"no array {name!r}; this rule's arrays: {known}") from None

    def tile(self, name: str) -> Any:
        """aihwkit's compiled tile of array ``name`` (for what this handle does not offer).
        Looked up on every call: moving the model to CUDA replaces the compiled tiles."""
        return self.module(name).tile

    def inputs(self, columns: Columns, name: str = "") -> Tensor:
        """The one-hot input rows that address ``columns`` (all of them for ``None``), on the
        device of array ``name`` (the first array's by default)."""
        module = self.module(name) if name else next(iter(self.modules.values()))
        device = str(getattr(module, "device", "cpu"))
        identity = self.identities.get(device)
        if identity is None:
            identity = torch.eye(self.columns, device=device)
            self.identities[device] = identity
        if columns is None:
            return identity
        index = torch.as_tensor(columns, dtype=torch.long, device=identity.device)
        return identity.index_select(0, index)

    def read(self, name: str, columns: Columns = None) -> Tensor:
        """Analog read of ``columns`` of array ``name`` (all for ``None``): ``(rows, k)``,
        through the array's read periphery, so read noise and converters apply."""
        inputs = self.inputs(columns, name)
        tile = self.tile(name)
        pulse_counter.note_read(tile, inputs.shape[0])
        out = tile.forward(inputs, False, False, False, False, False)
        return out.T

    def write(self, name: str, delta: Tensor, columns: Columns = None) -> None:
        """Add ``delta`` (``(rows, k)``, weight units) to ``columns`` of array ``name`` with
        pulses: one pulsed update through the array's write settings, so the change is what the
        device's response and the pulse trains make of it (bounded by ``desired_bl`` pulses per
        element and write). Elements at zero fire no pulses."""
        tile = self.tile(name)
        # aihwkit's update is W <- W - lr * d x^T per input row. With lr one granularity, d is
        # in pulses (-delta / granularity), so pulse trains without update management fire
        # |d| pulses where |d| <= desired_bl, instead of saturating their probabilities.
        step = self.granularity(name)
        tile.set_learning_rate(step)
        d_input = (delta.T / -step).contiguous()
        with pulse_counter.transfer_writes():  # a rule's writes are its transfers
            tile.update(self.inputs(columns, name), d_input, False, False, False, False)

    def pulse(self, name: str, counts: Tensor, columns: Columns = None) -> None:
        """Fire ``counts`` (integers, ``(rows, k)``; the sign is the direction) pulses on
        ``columns`` of array ``name``: a write of ``counts`` times the device's granularity.
        With aihwkit's stochastic pulse trains (its default) the pulses fired match ``counts``
        in expectation, not one by one; a deterministic pulse type in the array's write
        settings (``Array.write`` / ``rule_setup(write=...)``) makes them repeatable."""
        self.write(name, counts * self.granularity(name), columns)

    def reset(self, name: str, columns: Columns = None) -> None:
        """Reset ``columns`` of array ``name`` to the device's reset point (aihwkit's
        ``reset_columns``: its reset value and spread, as the device config sets them)."""
        tile = self.tile(name)
        if columns is None:
            tile.reset_columns(0, self.columns, 1.0)
            return
        for start, count in runs(torch.as_tensor(columns, dtype=torch.long).tolist()):
            tile.reset_columns(start, count, 1.0)

    def granularity(self, name: str) -> float:
        """The weight change of one pulse of array ``name``'s device at its symmetric point
        (aihwkit's weight granularity, ``dw_min`` for most devices)."""
        self.tile(name)
        return self.granularities[name]

    def weights(self, name: str) -> Tensor:
        """The exact weights of array ``name`` (``(rows, columns)``), as the simulator holds
        them: for tests and diagnostics, not a hardware operation (use :meth:`read`)."""
        return self.tile(name).get_weights()


def runs(columns: Sequence[int]) -> list[tuple[int, int]]:
    """``columns`` as (start, count) runs of consecutive indices, in order."""
    found: list[tuple[int, int]] = []
    for column in columns:
        if found and found[-1][0] + found[-1][1] == column:
            found[-1] = (found[-1][0], found[-1][1] + 1)
        else:
            found.append((column, 1))
    return found
