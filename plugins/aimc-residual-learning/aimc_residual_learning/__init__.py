"""Residual learning, RLv2 (Wu et al., arXiv 2502.06309) and multi-tile residual learning
(Li et al., arXiv 2510.02516) as aimc optimizers, written with aimc's public transfer-rule API.

- ``rl``: Tiki-Taka with mixing weight ``gamma > 0`` (the network sees ``W + gamma P``) and a
  zero-shifted residual device: aimc's Tiki-Taka rule, or (``implementation='compiled'``)
  aihwkit's compiled ``TransferCompound``.
- ``rlv2``: a decaying digital buffer between ``P`` and ``W`` and gradients at ``W + gamma P``
  (:class:`aimc_residual_learning.rules.RLv2Rule`).
- ``mtrl``: ``N`` tiles composed as ``sum_n gamma^n W_n``, each learning the residual of the
  tiles before it on its own timescale (:class:`aimc_residual_learning.rules.MultiTileRule`).

Both name rates as the paper does and map them as the host's transfer family does (see
:mod:`aimc_plugins.training.transfer`): ``alpha`` is aihwkit's ``fast_lr``, ``beta`` is handed to
the
torch optimizer as its ``lr``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from aimc_plugins import (
    ALPHA,
    BETA,
    IMPLEMENTATION,
    MAX_PULSES,
    N_READS,
    RESIDUAL_DEVICE,
    TRANSFER_EVERY,
    Array,
    Optimizer,
    Param,
    ParameterError,
    SearchRange,
    TrainingSetup,
    aihwkit_reads,
    describe_transfer,
    hookimpl,
    pick_devices,
    rule_setup,
    tiki_taka_setup,
    transfer_config,
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
    implementation: str,
) -> TrainingSetup:
    shift = functools.partial(shift_residual, zero_shift=zero_shift)
    if implementation == "rule":
        return tiki_taka_setup(
            "rl",
            devices,
            residual_device=residual_device,
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            transfer_every=transfer_every,
            n_reads_per_transfer=n_reads_per_transfer,
            residual_transform=shift,
        )
    return transfer_setup(
        "ttv1",
        devices,
        residual_device=residual_device,
        alpha=alpha,
        beta=beta,
        transfer_every=transfer_every,
        label="rl",
        residual_transform=shift,
        n_reads_per_transfer=aihwkit_reads(n_reads_per_transfer),
        gamma=gamma,
    )


def rlv2_config(main: Any, residual: Any, **settings: Any) -> Any:
    """Deprecated (until 0.3.0): the ``UnitCellRPUConfig`` of RLv2 on the earlier
    aihwkit-subclassing tile (:mod:`aimc_residual_learning.rlv2`). ``rlv2`` now runs
    :class:`~aimc_residual_learning.rules.RLv2Rule`; use :func:`rlv2_setup`."""
    import warnings

    warnings.warn(
        "aimc_residual_learning.rlv2_config is deprecated and goes in 0.3.0: rlv2 is a transfer "
        "rule now (aimc_residual_learning.rlv2_setup / rules.RLv2Rule)",
        DeprecationWarning,
        stacklevel=2,
    )
    from aimc_residual_learning.rlv2 import legacy_rlv2_config

    return legacy_rlv2_config(main, residual, **settings)


def rlv2_setup(
    main: Any,
    residual: Any,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    transfer_every: float,
    n_reads_per_transfer: int,
    threshold: float,
    max_pulses: int,
    buffer_decay: bool,
    description: str = "",
) -> TrainingSetup:
    """RLv2 as a rule over ``P`` (on ``residual``, weight ``gamma``) and ``W`` (on ``main``).

    The network's reads keep the layer's periphery; the transfer read of ``P`` (when
    ``gamma = 0``, else the network's read) and the pulses on ``W`` are the ones aihwkit's
    ``ttv2`` uses: no noise or bound management on the read, and whole pulses without update
    management, at most ``max_pulses`` per element and event.
    """
    from aihwkit.simulator.parameters import UpdateParameters

    from aimc_residual_learning.rules import RLv2Rule  # torch: loaded when a run is built

    rule = RLv2Rule(
        alpha, transfer_every, n_reads_per_transfer, threshold, max_pulses, buffer_decay
    )
    return rule_setup(
        rule,
        [Array("P", residual, weight=gamma), Array("W", main, weight=1.0)],
        lr=beta,
        description=description,
        # At most max_pulses per element and event; the pulse train is as long as the largest
        # count of the event (bit-line management), not max_pulses: a fixed train of 1000 slots
        # for every element cost 30x a whole step (benchmarks/rule_step_time.py).
        write=UpdateParameters(
            desired_bl=max_pulses, update_bl_management=True, update_management=False
        ),
    )


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
    return rlv2_setup(
        main,
        residual,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        transfer_every=transfer_every,
        n_reads_per_transfer=n_reads_per_transfer,
        threshold=threshold,
        max_pulses=max_pulses,
        buffer_decay=buffer_decay,
        description=f"{describe_transfer('rlv2', main, residual)} ({note})",
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
    1000,
    "most pulses one transfer event fires on an element of W: the buffer's whole pulses, "
    "trunc(H / threshold), up to this many. The paper fires one; 1000 lets an event write what "
    "the buffer holds, as the buffered family's default does. Measured after the 0.2.0 fix "
    "(docs/optimizers.md): on digits (Idealized, 2 epochs) 0.93 against 0.86 at 8; on the "
    "authors' least squares the loss reaches 0 where 8 leaves it at 0.3 of its start",
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


def multi_tile_setup(
    devices: Sequence[Any],
    alpha: float,
    beta: float,
    tiles: int,
    gamma: float,
    transfer_every: float,
    period_growth: float,
    rate_growth: float,
    n_reads_per_transfer: int,
    implementation: str,
) -> TrainingSetup:
    """``tiles`` arrays on copies of the main device, ``W_n`` at weight ``gamma**n``; the
    transfers use the periphery of aihwkit's ``ttv1`` (its transfer read and pulses), as the
    paper's code does. ``implementation='compiled'``: aihwkit's ``TransferCompound`` with
    ``tiles`` devices chained (gradient tile first), the same algorithm in C++."""
    main, _ = pick_devices(devices, "")
    description = f"mtrl: {tiles} tiles on {type(main).__name__}, gamma {gamma:g}"
    if implementation == "compiled":
        if tiles < 2:
            raise ParameterError("implementation='compiled' needs at least 2 tiles")
        periods = [transfer_every * period_growth**k for k in range(tiles)]
        config = transfer_config(
            "ttv1",
            main,
            copy.deepcopy(main),
            alpha=alpha,
            transfer_every=transfer_every,
            n_reads_per_transfer=aihwkit_reads(n_reads_per_transfer),
            gamma_vec=[gamma ** (tiles - 1 - i) for i in range(tiles)],
            transfer_every_vec=periods,  # one per device, the last unused (aihwkit's shape)
            transfer_lr_vec=[rate_growth**k for k in range(tiles)],
        )
        config.device.unit_cell_devices = [copy.deepcopy(main) for _ in range(tiles)]
        return TrainingSetup(config, lr=beta, description=f"{description} (compiled)")
    from aimc_residual_learning.rules import MultiTileRule, tile_names

    rule = MultiTileRule(
        alpha, tiles, transfer_every, period_growth, rate_growth, n_reads_per_transfer
    )
    arrays = [
        Array(name, copy.deepcopy(main), weight=gamma**n)
        for n, name in enumerate(tile_names(tiles))
    ]
    return rule_setup(rule, arrays, lr=beta, description=description)


TILES = Param(
    "tiles",
    4,
    "number of tiles N; the network sees sum_n gamma^n W_n, the gradient goes to the last. "
    "1 is Analog SGD, 2 residual learning without a zero shift",
    low=1,
    high=8,
)
TILE_GAMMA = Param(
    "gamma",
    0.5,
    "scale between consecutive tiles (W_n weighs gamma^n). The paper: about 1 / (number of "
    "device states), slightly above; 0.5 on 4 states, 0.1 on 16",
    low=0.0,
    low_inclusive=False,
    high=1.0,
    high_inclusive=False,
    search=SearchRange(0.05, 0.7, log=True),
)
TILE_TRANSFER_EVERY = Param(
    "transfer_every",
    1.0,
    "mini-batches between transfers from the gradient tile to the next; link k (upwards) "
    "transfers every transfer_every * period_growth^k",
    low=0.0,
    low_inclusive=False,
    search=SearchRange(0.5, 8.0, log=True),
)
PERIOD_GROWTH = Param(
    "period_growth",
    5.0,
    "each tile above the gradient tile is written this many times less often than the one "
    "below (its own, slower timescale; the paper's code: 5 on LeNet, 2 on ResNets). 5 beat 2 "
    "on least squares at 3 tiles and more, and on digits (docs/optimizers.md)",
    low=1.0,
    search=SearchRange(1.0, 5.0),
)
MTRL_BETA = replace(
    BETA,
    default=0.03,
    help="transfer rate of the first link (gradient tile -> the next), handed to the torch "
    "optimizer as its lr. The whole-matrix transfer every mini-batch at 0.1 diverged on least "
    "squares and fell apart on a 16-state device; 0.03 with period_growth 5 reached 0.89-0.91 "
    "on digits (Idealized, 3 epochs) and 0.71-0.81 on 16 states (docs/optimizers.md)",
)
RATE_GROWTH = Param(
    "rate_growth",
    1.2,
    "transfer rate of link k is beta * rate_growth^k (the paper's code: 1.2)",
    low=0.0,
    low_inclusive=False,
)
MTRL_N_READS = Param(
    N_READS.name,
    0,
    "columns read and written per transfer event, cycling; 0: all of them (the paper's code "
    "reads one)",
    low=0,
)


@hookimpl
def register_optimizers(register: Callable[[Optimizer], None]) -> None:
    register(
        Optimizer(
            name="rl",
            factory=_rl,
            description="Residual learning: Tiki-Taka (a transfer rule; implementation="
            "'compiled': aihwkit's TransferCompound) with gradients at W + gamma P and the "
            "residual device zero-shifted (reference at its symmetric point), so the bias of "
            "an asymmetric response cancels. beta is the torch "
            "optimizer's lr (aihwkit 1.1.0's role swap); alpha is fast_lr.",
            parameters=(
                ALPHA,
                BETA,
                GAMMA,
                TRANSFER_EVERY,
                N_READS,
                RESIDUAL_DEVICE,
                ZERO_SHIFT,
                IMPLEMENTATION,
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
            "transfer rule over aihwkit's compiled tiles.",
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
    register(
        Optimizer(
            name="mtrl",
            factory=multi_tile_setup,
            description="Multi-tile residual learning (Li et al., arXiv 2510.02516): N tiles, "
            "the network sees sum_n gamma^n W_n; the gradient is pulsed into the last tile at "
            "alpha and each tile is transferred into the one above on a slower timescale, so "
            "every tile learns the residual the tiles above it leave. For devices with few "
            "states. A transfer rule over aihwkit's compiled tiles.",
            parameters=(
                ALPHA,
                MTRL_BETA,
                TILES,
                TILE_GAMMA,
                TILE_TRANSFER_EVERY,
                PERIOD_GROWTH,
                RATE_GROWTH,
                MTRL_N_READS,
                IMPLEMENTATION,
            ),
            n_devices=1,
        )
    )
