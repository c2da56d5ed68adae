"""Two-array (transfer) training configs with the paper's hyper-parameter names.

Tiki-Taka and its descendants keep a *residual* (gradient, "fast") array ``P`` next to the main
(weight, "slow") array ``W``: gradients are pulsed into ``P``, and ``P`` is transferred into ``W``
now and then. Wu et al. (arXiv 2502.06309) name the rates ``alpha`` (gradient onto ``P``) and
``beta`` (transfer ``P -> W``), and ``gamma`` the weight of ``P`` in the weight the network sees,
``W + gamma P``.

aihwkit 1.1.0 names them differently, and swaps the role of the optimizer's learning rate.
Checked on these machines (one ``AnalogLinear`` step with a noise-free ConstantStep device):

- ``TransferCompound.fast_lr > 0`` fixes the learning rate onto ``P`` (``P -= fast_lr * grad``),
  whatever the torch optimizer's ``lr`` is. So ``alpha`` is ``fast_lr``.
- The optimizer's ``lr`` then only scales the transfer: with ``scale_transfer_lr=True`` a column
  read from ``P`` is written onto ``W`` with rate ``transfer_lr * lr``. We set ``transfer_lr=1``
  and hand ``beta`` to the optimizer as its ``lr``, so a torch LR scheduler still scales what it
  scales in aihwkit (the transfer), and ``beta`` means what the paper means.
- ``gamma`` is aihwkit's ``gamma``: the forward / backward weight is ``gamma * P + W``.

One difference from the paper's formulas is structural: aihwkit transfers ``n_reads_per_transfer``
columns of ``P`` every ``transfer_every`` mini-batches (cycling through the columns), while the
paper writes all of ``P`` every step. Per element, the transfer rate per mini-batch is
``beta * n_reads_per_transfer / (n_columns * transfer_every)``; set ``n_reads_per_transfer`` to
the layer's input size to match the paper exactly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aimc_plugins.host.records import (
    FAST_RATE_SEARCH,
    RATE_SEARCH,
    Param,
    ParameterError,
    TrainingSetup,
)
from aimc_plugins.training.setup import build_device

ALPHA = Param(
    "alpha",
    0.05,
    "learning rate of the gradient onto the residual array P (aihwkit's fast_lr; fixed, "
    "not scaled by the torch optimizer's lr)",
    low=0.0,
    low_inclusive=False,
    search=FAST_RATE_SEARCH,
)
BETA = Param(
    "beta",
    0.1,
    "transfer rate P -> W. aihwkit 1.1.0 applies it as the torch optimizer's lr "
    "(scale_transfer_lr=True, transfer_lr=1), so an LR schedule scales the transfer",
    low=0.0,
    low_inclusive=False,
    high=1.0,
    search=RATE_SEARCH,
)
TRANSFER_EVERY = Param(
    "transfer_every",
    1.0,
    "transfer once every this many mini-batches (aihwkit transfer_every, units_in_mbatch=True); "
    "below 1, several transfers per mini-batch (aihwkit rounds to whole mat-vecs)",
    low=0.0,
    low_inclusive=False,
)
ALL_COLUMNS = 1 << 24
"""What ``n_reads_per_transfer = 0`` is handed to aihwkit as: more columns than any tile has.
aihwkit 1.1.0's compiled ``TransferCompound`` reads ``min(n_reads_per_transfer, columns)``
columns per transfer (measured: 100 reads on a 4-column tile write each column once), so one
shared config transfers every column of every tile, whatever each layer's width."""

N_READS = Param(
    "n_reads_per_transfer",
    0,
    "columns of P read and written onto W per transfer, cycling through the columns; 0: all "
    "of the tile's columns, the paper's whole-matrix transfer, so the per-element transfer "
    "rate beta / transfer_every does not depend on the layer's width",
    low=0,
)


def aihwkit_reads(n_reads_per_transfer: int) -> int:
    """``n_reads_per_transfer`` as aihwkit's compiled transfer compound takes it (0: all)."""
    return ALL_COLUMNS if n_reads_per_transfer <= 0 else int(n_reads_per_transfer)


IMPLEMENTATION = Param(
    "implementation",
    "rule",
    "'rule': the algorithm as a transfer rule over aihwkit's compiled tiles (aimc_plugins.rules); "
    "'compiled': aihwkit's compiled compound of the same algorithm, to compare the two",
    choices=("rule", "compiled"),
)

RESIDUAL_DEVICE = Param(
    "residual_device",
    "",
    "registered device (see `aimc devices`) of the residual array P; empty: the main array's",
)
BUFFER_THRESHOLD = Param(
    "threshold",
    1.0,
    "digital buffer threshold, in units of the residual device's granularity (aihwkit "
    "buffer_granularity): a pulse is fired on W when |H| crosses it",
    low=0.0,
    low_inclusive=False,
)
MOMENTUM = Param(
    "momentum",
    0.0,
    "fraction of the buffer kept after a pulse (aihwkit momentum)",
    low=0.0,
    high=1.0,
    high_inclusive=False,
)
FORGET_BUFFER = Param(
    "forget_buffer",
    True,
    "after a pulse, reset the buffer to momentum (True) or subtract the pulse (False)",
)
MAX_PULSES = Param(
    "max_pulses",
    1,
    "most pulses one buffer transfer fires on an element of W (aihwkit transfer_update."
    "desired_bl); the paper's TTv2 / RLv2 fire one",
    low=1,
)
CHOP_PROB = Param(
    "in_chop_prob",
    0.1,
    "probability of flipping an input chopper after each column read (aihwkit in_chop_prob)",
    low=0.0,
    high=1.0,
)


def pick_devices(devices: Sequence[Any], residual_device: str) -> tuple[Any, Any]:
    """The main and residual device configs, as independent copies.

    ``residual_device`` (a registered device name) wins over a second device given by the caller;
    without either, the residual array uses the main array's device. Copies, because aihwkit
    configs are mutable and one device object may have been passed for both arrays.
    """
    if not devices:
        raise ValueError("a transfer optimizer needs at least one device")
    main = copy.deepcopy(devices[0])
    if residual_device:
        try:
            residual = build_device(residual_device)
        except KeyError as exc:
            raise ParameterError(f"residual_device: {exc.args[0]}") from None
    else:
        residual = copy.deepcopy(devices[1] if len(devices) > 1 else devices[0])
    return main, residual


def transfer_config(
    algorithm: str,
    main: Any,
    residual: Any,
    *,
    alpha: float,
    transfer_every: float,
    **fields: Any,
) -> Any:
    """A ``UnitCellRPUConfig`` for one of aihwkit's transfer algorithms (``ttv1``, ``ttv2``,
    ``c-ttv2``, ``agad``) with the residual array on ``residual`` and the main one on ``main``.

    Starts from aihwkit's own ``build_config`` (so each algorithm keeps the read / pulse settings
    aihwkit chose for its transfer), then sets the rates explicitly. ``fields`` are further
    compound attributes; an unknown one is an error, never silently ignored.
    """
    from aihwkit.simulator.configs import build_config

    config = build_config(algorithm, main)
    compound = config.device
    compound.unit_cell_devices = [residual, main]
    values = {
        "fast_lr": alpha,
        "transfer_lr": 1.0,
        "scale_transfer_lr": True,
        "transfer_every": float(transfer_every),
        "units_in_mbatch": True,
        **fields,
    }
    if hasattr(compound, "scale_fast_lr"):
        # aihwkit >= 1.2 multiplies fast_lr by the optimizer's lr unless told not to (1.1.0 has
        # no such field and never does): keep alpha the absolute rate onto P on both.
        values = {"scale_fast_lr": False, **values}
    for name, value in values.items():
        if not hasattr(compound, name):
            raise AttributeError(f"{type(compound).__name__} has no field {name!r}")
        setattr(compound, name, value)
    return config


def describe_transfer(name: str, main: Any, residual: Any) -> str:
    """``ttv1: W on SoftBounds, P on PowStep`` (device classes, for tables and logs)."""
    main_name, residual_name = type(main).__name__, type(residual).__name__
    return f"{name}: W on {main_name}, P on {residual_name}"


def transfer_setup(
    algorithm: str,
    devices: Sequence[Any],
    *,
    residual_device: str,
    alpha: float,
    beta: float,
    transfer_every: float,
    label: str = "",
    residual_transform: Callable[[Any], tuple[Any, str]] | None = None,
    **fields: Any,
) -> TrainingSetup:
    """The whole preamble of a transfer optimizer in one call: main and residual devices picked
    (:func:`pick_devices`), the residual optionally transformed (``residual_transform`` returns
    the new device and a note for the description, e.g. a zero shift), the compound configured
    (:func:`transfer_config`) and the learning rate ``beta`` handed to the torch optimizer."""
    main, residual = pick_devices(devices, residual_device)
    note = ""
    if residual_transform is not None:
        residual, note = residual_transform(residual)
    config = transfer_config(
        algorithm, main, residual, alpha=alpha, transfer_every=transfer_every, **fields
    )
    description = describe_transfer(label or algorithm, main, residual)
    if note:
        description = f"{description} ({note})"
    return TrainingSetup(config, lr=beta, description=description)


MIN_WRITES_PER_COLUMN = 10.0
"""Below this many transfers per column of ``W`` over a run, a transfer optimizer is judged too
slow for the run's budget. Measured (docs/transfer-defaults.md): ttv1 with one read per
mini-batch writes each column of digits-mlp's 64-column layer ~2 times an epoch and reached 0.20
after one epoch and 0.59 after three (~6 writes), where Analog SGD reached 0.82 and 0.92; with
32 reads (~67 writes an epoch) it matched Analog SGD."""


@dataclass(frozen=True)
class TransferWrites:
    """How often a run's transfer schedule writes each column of ``W``.

    ``per_tile`` maps a tile's column count to the writes each of its columns gets over the
    run; ``writes_per_column`` is the fewest (the widest tile's). ``note`` is empty when every
    tile gets at least ``MIN_WRITES_PER_COLUMN`` writes, else one line for a results table.
    """

    writes_per_column: float
    per_tile: dict[int, float]
    note: str


def tile_columns(layer_inputs: Sequence[int], max_input_size: int) -> list[int]:
    """Columns per tile of layers with these input sizes: aihwkit splits a layer wider than
    ``max_input_size`` (``rpu_config.mapping``; 0: never) into equal tiles (784 -> 2 x 392)."""
    columns = []
    for size in layer_inputs:
        n_tiles = math.ceil(size / max_input_size) if max_input_size > 0 else 1
        columns.append(math.ceil(size / max(n_tiles, 1)))
    return columns


def transfer_writes(
    rpu_config: Any,
    layer_inputs: Sequence[int],
    n_minibatches: int,
    batch_size: int | None = None,
    threshold: float = MIN_WRITES_PER_COLUMN,
) -> TransferWrites | None:
    """How many times each column of ``W`` gets a transfer in a run of ``n_minibatches``, for a
    model whose analog layers have ``layer_inputs`` inputs; ``None`` if ``rpu_config`` has no
    transfer compound (Analog SGD, mixed precision, digital).

    Why: aihwkit's transfer compounds write ``n_reads_per_transfer`` columns of ``P`` onto ``W``
    per transfer, one transfer every ``transfer_every`` mini-batches, so a wide tile's columns
    are written rarely. A preset tuned for a long run may then barely move ``W`` in a short
    recipe, and its row in a results table says "slow schedule", not "bad algorithm". Applies
    to any config, aihwkit presets included: the chopped compounds read one column per
    transfer whatever ``n_reads_per_transfer`` says; ``n_reads_per_transfer <= 0`` (RLv2) and
    values above the column count read every column. With ``units_in_mbatch`` and a
    ``batch_size``, a fractional ``transfer_every`` is rounded to whole mat-vecs as aihwkit
    does; without ``units_in_mbatch``, ``transfer_every`` counts mat-vecs and ``batch_size`` is
    needed (assumed 1 when not given).
    """
    from aihwkit.simulator.configs.compounds import ChoppedTransferCompound, TransferCompound

    compound = getattr(rpu_config, "device", None)
    if hasattr(getattr(compound, "rule", None), "writes_per_column"):  # a transfer rule's config
        return rule_writes(compound, layer_inputs, n_minibatches, rpu_config, threshold)
    if not isinstance(compound, TransferCompound):
        return None
    every = float(compound.transfer_every)
    batch = max(int(batch_size or 1), 1)
    if every <= 0:
        per_batch = 0.0
    elif compound.units_in_mbatch and batch_size is None:
        per_batch = 1.0 / every
    else:
        matvecs = every * batch if compound.units_in_mbatch else every
        per_batch = batch / max(round(matvecs), 1)
    reads = int(compound.n_reads_per_transfer)
    if isinstance(compound, ChoppedTransferCompound) and type(compound).__module__.startswith(
        "aihwkit."
    ):
        reads = 1  # aihwkit's compiled chopped transfer: exactly one read per transfer
    per_tile: dict[int, float] = {}
    for columns in layer_columns(rpu_config, layer_inputs):
        read = columns if reads <= 0 else min(reads, columns)
        per_tile[columns] = n_minibatches * per_batch * read / columns

    def schedule(widest: int) -> str:
        read = "all" if reads <= 0 else min(reads, widest)
        return f"{read} column(s) per transfer, {per_batch:.3g} transfers per mini-batch"

    return writes_of(per_tile, n_minibatches, threshold, schedule)


def rule_writes(
    compound: Any,
    layer_inputs: Sequence[int],
    n_minibatches: int,
    rpu_config: Any,
    threshold: float = MIN_WRITES_PER_COLUMN,
) -> TransferWrites | None:
    """:func:`transfer_writes` for a transfer rule: the rule says how often it writes each
    column (:meth:`~aimc_plugins.rules.rule.TransferRule.writes_per_column`); ``None`` when it
    does not."""
    per_tile: dict[int, float] = {}
    for columns in layer_columns(rpu_config, layer_inputs):
        writes = compound.rule.writes_per_column(n_minibatches, columns)
        if writes is None:
            return None
        per_tile[columns] = float(writes)
    if not per_tile:
        return None
    return writes_of(per_tile, n_minibatches, threshold, lambda _: compound.rule.describe())


def layer_columns(rpu_config: Any, layer_inputs: Sequence[int]) -> list[int]:
    """Columns per tile of these layers under ``rpu_config``'s mapping (:func:`tile_columns`)."""
    mapping = getattr(rpu_config, "mapping", None)
    max_input = int(getattr(mapping, "max_input_size", 0) or 0)
    return tile_columns(layer_inputs, max_input)


def writes_of(
    per_tile: dict[int, float],
    n_minibatches: int,
    threshold: float,
    schedule: Callable[[int], str],
) -> TransferWrites:
    """The :class:`TransferWrites` of ``per_tile`` (writes per column by tile width), with a
    note naming the widest tile and its ``schedule`` when it is written too rarely."""
    fewest = min(per_tile.values()) if per_tile else math.inf
    note = ""
    if fewest < threshold:
        widest = max(per_tile, key=lambda c: (-per_tile[c], c))
        note = (
            f"slow transfer schedule: each column of W is written {fewest:.1f} times in "
            f"{n_minibatches} mini-batches ({widest}-column tile, {schedule(widest)}); "
            f"below {threshold:g} W barely moves. Raise n_reads_per_transfer, lower "
            "transfer_every, or train longer"
        )
    return TransferWrites(fewest, per_tile, note)
