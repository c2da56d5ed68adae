"""Residual learning and RLv2 (Wu et al., arXiv 2502.06309) as aimc optimizers.

- ``rl``: Tiki-Taka with mixing weight ``gamma > 0`` (the network sees ``W + gamma P``) and a
  zero-shifted residual device, on aihwkit's compiled ``TransferCompound``.
- ``rlv2``: a decaying digital buffer between ``P`` and ``W`` and gradients at ``W + gamma P``,
  a transfer rule in Python over aihwkit's compiled tiles (:mod:`aimc_residual_learning.rlv2`).

Both name rates as the paper does and map them as the host's transfer family does (see
:mod:`aimc_plugins.training.transfer`): ``alpha`` is aihwkit's ``fast_lr``, ``beta`` is handed to
the
torch optimizer as its ``lr``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from aimc_plugins import (
    ALPHA,
    BETA,
    MAX_PULSES,
    N_READS,
    RESIDUAL_DEVICE,
    TRANSFER_EVERY,
    Optimizer,
    Param,
    ParameterError,
    TrainingSetup,
    aihwkit_reads,
    describe_transfer,
    hookimpl,
    pick_devices,
    transfer_setup,
)
from aimc_residual_learning.zero_shift import ZeroShiftError, zero_shifted

GAMMA = Param(
    "gamma",
    0.4,
    "weight of the residual array in the weight the network sees, W + gamma P (aihwkit gamma)",
    low=0.0,
    low_inclusive=False,
)
ZERO_SHIFT = Param(
    "zero_shift",
    "auto",
    "move the residual device's symmetric point to 0: 'require' fails for devices aihwkit "
    "cannot shift exactly, 'auto' then uses the device unshifted, 'off' never shifts",
    choices=("auto", "require", "off"),
)
RLV2_THRESHOLD = Param(
    "threshold",
    1.0,
    "a pulse is fired on W when |H| reaches this many of W's granularity (dw_min)",
    low=0.0,
    low_inclusive=False,
)
BUFFER_DECAY = Param(
    "buffer_decay",
    True,
    "decay the buffer, H <- (1 - beta) H + beta P (RLv2); False integrates it as TTv2 does",
)


def shift_residual(residual: Any, zero_shift: str) -> tuple[Any, str]:
    """The residual device after the requested zero shift, and a note for the description."""
    if zero_shift == "off":
        return residual, "unshifted"
    try:
        return zero_shifted(residual)
    except ZeroShiftError as exc:
        if zero_shift == "require":
            raise ParameterError(f"zero_shift='require': {exc}") from None
        return residual, "unshifted: no exact zero shift"


def _rl(
    devices: Sequence[Any],
    alpha: float,
    beta: float,
    gamma: float,
    transfer_every: float,
    n_reads_per_transfer: int,
    residual_device: str,
    zero_shift: str,
) -> TrainingSetup:
    return transfer_setup(
        "ttv1",
        devices,
        residual_device=residual_device,
        alpha=alpha,
        beta=beta,
        transfer_every=transfer_every,
        label="rl",
        residual_transform=functools.partial(shift_residual, zero_shift=zero_shift),
        n_reads_per_transfer=aihwkit_reads(n_reads_per_transfer),
        gamma=gamma,
    )


def rlv2_config(
    main: Any,
    residual: Any,
    *,
    alpha: float,
    gamma: float,
    transfer_every: float,
    n_reads_per_transfer: int,
    threshold: float,
    max_pulses: int,
    buffer_decay: bool,
) -> Any:
    """The ``UnitCellRPUConfig`` of RLv2: an :class:`RLv2Compound` read by :class:`RLv2Tile`.

    The main and residual reads keep aihwkit's default periphery; the transfer read of ``P`` is
    the one aihwkit's ``ttv2`` uses (no noise or bound management, so a read is not rescaled).
    """
    from aihwkit.simulator.configs import UnitCellRPUConfig
    from aihwkit.simulator.parameters import IOParameters, UpdateParameters
    from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType

    from aimc_residual_learning.rlv2 import RLv2Compound, RLv2Tile

    compound = RLv2Compound(
        unit_cell_devices=[residual, main],
        fast_lr=alpha,
        gamma=gamma,
        transfer_every=transfer_every,
        n_reads_per_transfer=n_reads_per_transfer,
        buffer_granularity=threshold,
        buffer_decay=buffer_decay,
        transfer_forward=IOParameters(
            noise_management=NoiseManagementType.NONE, bound_management=BoundManagementType.NONE
        ),
        transfer_update=UpdateParameters(
            desired_bl=max_pulses, update_bl_management=False, update_management=False
        ),
    )
    return UnitCellRPUConfig(device=compound, tile_class=RLv2Tile)


def _rlv2(
    devices: Sequence[Any],
    alpha: float,
    beta: float,
    gamma: float,
    transfer_every: float,
    n_reads_per_transfer: int,
    threshold: float,
    max_pulses: int,
    buffer_decay: bool,
    residual_device: str,
    zero_shift: str,
) -> TrainingSetup:
    main, residual = pick_devices(devices, residual_device)
    residual, note = shift_residual(residual, zero_shift)
    config = rlv2_config(
        main,
        residual,
        alpha=alpha,
        gamma=gamma,
        transfer_every=transfer_every,
        n_reads_per_transfer=n_reads_per_transfer,
        threshold=threshold,
        max_pulses=max_pulses,
        buffer_decay=buffer_decay,
    )
    return TrainingSetup(
        config, lr=beta, description=f"{describe_transfer('rlv2', main, residual)} ({note})"
    )


RLV2_N_READS = Param(
    N_READS.name,
    0,
    "columns of P read into the buffer per transfer event, cycling; 0: all of them every event, "
    "as in the paper",
    low=0,
)
RLV2_MAX_PULSES = Param(
    MAX_PULSES.name,
    8,
    "most pulses one transfer event fires on an element of W. The paper fires one; at one "
    "pulse per event W lagged far behind P on digits and least squares (see "
    "docs/transfer-defaults.md), 8 keeps up with Analog SGD on the Idealized device",
    low=1,
)
RLV2_BETA = Param(
    BETA.name,
    0.1,
    "rate of the decaying buffer, H <- (1 - beta) H + beta P: a filter rate, not a transfer "
    "rate (W moves by single pulses). Handed to the torch optimizer as its lr, as aihwkit's "
    "transfer compounds do",
    low=0.0,
    low_inclusive=False,
    high=1.0,
    search=BETA.search,  # tuned over the transfer rate's range
)


@hookimpl
def register_optimizers(register: Callable[[Optimizer], None]) -> None:
    register(
        Optimizer(
            name="rl",
            factory=_rl,
            description="Residual learning: Tiki-Taka (aihwkit TransferCompound) with gradients "
            "at W + gamma P and the residual device zero-shifted (reference at its symmetric "
            "point), so the bias of an asymmetric response cancels. beta is the torch "
            "optimizer's lr (aihwkit 1.1.0's role swap); alpha is fast_lr.",
            parameters=(
                ALPHA,
                BETA,
                GAMMA,
                TRANSFER_EVERY,
                N_READS,
                RESIDUAL_DEVICE,
                ZERO_SHIFT,
            ),
            n_devices=2,
        )
    )
    register(
        Optimizer(
            name="rlv2",
            factory=_rlv2,
            description="RLv2: decaying digital buffer H <- (1 - beta) H + beta (P + read "
            "noise), one pulse on W when |H| crosses dw_min, gradients at W + gamma P. A "
            "transfer rule in Python over aihwkit's compiled tiles (TorchTransferTile).",
            parameters=(
                ALPHA,
                RLV2_BETA,
                Param(GAMMA.name, 0.4, GAMMA.help, low=0.0),
                TRANSFER_EVERY,
                RLV2_N_READS,
                RLV2_THRESHOLD,
                RLV2_MAX_PULSES,
                BUFFER_DECAY,
                RESIDUAL_DEVICE,
                ZERO_SHIFT,
            ),
            n_devices=2,
        )
    )
