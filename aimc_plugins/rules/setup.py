"""From a configured rule and its arrays to what the host trains with: a ``TrainingSetup``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aimc_plugins.host.records import TrainingSetup
from aimc_plugins.rules.rule import Array, TransferRule


def rule_config(
    rule: TransferRule,
    arrays: Sequence[Array],
    *,
    read: Any = None,
    write: Any = None,
) -> Any:
    """The aihwkit ``UnitCellRPUConfig`` whose tiles run ``rule`` over ``arrays``.

    ``read`` (aihwkit ``IOParameters``) is how hidden arrays are read, by default the
    read of aihwkit's Tiki-Taka compounds (no noise or bound management); ``write``
    (``UpdateParameters``) is how arrays other than the gradient array are pulsed, by default
    aihwkit's ``UpdateParameters()``. The layer's own ``forward``, ``backward`` and ``update``
    (set by a periphery profile) apply to the network's reads and the gradient's pulses.
    """
    from aihwkit.simulator.configs import UnitCellRPUConfig

    from aimc_plugins.rules.tile import RuleCompound, RuleTile, transfer_read

    if not isinstance(rule, TransferRule):
        raise TypeError(f"rule must be a TransferRule, got {type(rule).__name__}")
    arrays = list(arrays)
    if not arrays:
        raise ValueError("a rule needs at least one array")
    names = [array.name for array in arrays]
    if len(set(names)) != len(names):
        raise ValueError(f"array names must differ, got {names}")
    if all(array.weight == 0.0 for array in arrays):
        raise ValueError("at least one array must have a non-zero weight (the network sees it)")
    if rule.gradient_array and rule.gradient_array not in names:
        raise ValueError(
            f"{type(rule).__name__}.gradient_array is {rule.gradient_array!r}, not one of {names}"
        )
    compound = RuleCompound(
        unit_cell_devices=[array.device for array in arrays],
        arrays=arrays,
        rule=rule,
        transfer_forward=read if read is not None else transfer_read(),
    )
    if write is not None:
        compound.transfer_update = write
    return UnitCellRPUConfig(device=compound, tile_class=RuleTile)


def rule_setup(
    rule: TransferRule,
    arrays: Sequence[Array],
    *,
    lr: float,
    description: str = "",
    read: Any = None,
    write: Any = None,
) -> TrainingSetup:
    """What an optimizer factory returns for a rule: its config (:func:`rule_config`) and the
    torch optimizer's learning rate ``lr``, which the rule sees as ``arrays.lr``."""
    config = rule_config(rule, arrays, read=read, write=write)
    text = description or f"{rule.describe()} over {', '.join(a.name for a in arrays)}"
    return TrainingSetup(config, lr=lr, description=text)
