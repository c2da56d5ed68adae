"""Counting a run's pulses while it trains, on the CPU as on CUDA.

Every pulse aihwkit fires for an update issued from Python goes through one method: the compiled
tile's ``update`` (``rpu_base.tiles.AnalogTile``, and its CUDA twin), whoever calls it: aihwkit's
``AnalogSGD`` for a layer's gradient, a transfer rule's writes
(:meth:`aimc_plugins.rules.arrays.Arrays.write`), aihwkit's own Python transfer tiles. While a
:class:`PulseCounter` is active (:func:`counting`), that method is wrapped once per process
(:func:`install`) to hand the counter what the compiled tile is given, the inputs, the errors and
the tile's learning rate, before the tile fires; the counter turns them into expected counts per
device (:mod:`aimc_plugins.training.pulse_trains`: their pulse trains, or exact counts for
deterministic ones). Outside a counter the
wrapper only forwards, so nothing else changes, and nothing a run computes depends on counting.

Why there and not in the training loop: it is the one place that sees every pulse source with
the values aihwkit actually uses (after the periphery's mapping scales, with the tile's own
learning rate), for every recipe, including those with their own loop.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from aimc_plugins.devices.cost import DeviceCost
from aimc_plugins.training.pulse_trains import (
    UpdateSettings,
    as_rows,
    exact_counts,
    settings_of,
    trains,
)
from aimc_plugins.training.pulses import PULSES, WEAR_PERCENTILE, ArrayPulses, PulseSummary

GRADIENT, TRANSFER = "gradient", "transfer"

_active: contextvars.ContextVar[PulseCounter | None] = contextvars.ContextVar(
    "aimc_pulse_counter", default=None
)
_source: contextvars.ContextVar[str] = contextvars.ContextVar("aimc_pulse_source", default=GRADIENT)
_INSTALLED = "_aimc_pulse_counting"
_INSTALL_LOCK = threading.Lock()


# Samples of pulse trains held before their per-device counts are formed: one product over
# many samples costs far less than one per mini-batch (benchmarks/pulse_overhead.py).
FLUSH_SAMPLES = 1024


@dataclass
class Tally:
    """One compiled tile's counts so far (one analog array).

    Totals (up, down, by source) are summed at every update; the per-device matrix, needed only
    for the wear figures, is formed from the pulse trains held in ``pending``, many updates at
    a time.
    """

    tile: Any  # held, so that its id is not reused while the run counts
    settings: UpdateSettings
    layer: int  # groups the arrays of one layer (a rule tile's arrays share it)
    rows: int
    columns: int
    array: str = ""
    up: float = 0.0
    down: float = 0.0
    gradient: float = 0.0
    transfer: float = 0.0
    reads: int = 0
    why: str = ""
    devices: Tensor | None = None  # pulses per device (up + down), as of the last flush
    pending: list[tuple[Tensor, Tensor, float]] = field(default_factory=list)
    pending_samples: int = 0

    def add(self, up: float, down: float, source: str) -> None:
        self.up += up
        self.down += down
        if source == TRANSFER:
            self.transfer += up + down
        else:
            self.gradient += up + down

    def add_update(self, x: Tensor, d: Tensor, lr: float, source: str) -> None:
        """Count one stochastic update (its input and error rows, ``(samples, columns)`` and
        ``(samples, rows)``). A transfer write's rows are one-hot (each addresses one column):
        counted at once, column by column; a gradient update's are kept and counted with many
        others (:meth:`flush`), since the pulse trains' arithmetic costs per call, not per
        sample."""
        if source == TRANSFER:
            self.add_one_hot(x, d, lr)
            return
        self.pending.append((x.clone(), d.clone(), lr))
        self.pending_samples += x.shape[0]
        if self.pending_samples >= FLUSH_SAMPLES:
            self.flush()

    def add_one_hot(self, x: Tensor, d: Tensor, lr: float) -> None:
        """Count a write whose input rows each address one column: the pulse trains of that one
        line per sample, added into its column."""
        columns = x.abs().argmax(dim=1)
        signed = x.gather(1, columns[:, None])  # the one non-zero input of each row
        found = trains(signed, d, lr, self.settings)
        up, down = found.totals()
        self.add(up, down, TRANSFER)
        if self.devices is None:
            self.devices = torch.zeros(
                self.rows, self.columns, dtype=torch.float64, device=x.device
            )
        counts = (found.d_lines.abs() * found.x_lines.abs()).T.to(torch.float64)
        self.devices.index_add_(1, columns, counts)

    def add_counts(self, up: Tensor, down: Tensor, source: str) -> None:
        self.add(float(up.sum()), float(down.sum()), source)
        self.accumulate(up + down)

    def accumulate(self, per_device: Tensor) -> None:
        per_device = per_device.to(torch.float64)
        self.devices = per_device if self.devices is None else self.devices + per_device

    def flush(self) -> None:
        """Count the pending gradient updates, all at once."""
        if not self.pending:
            return
        x = torch.cat([x for x, _, _ in self.pending])
        d = torch.cat([d for _, d, _ in self.pending])
        lr = torch.cat(
            [torch.full((x.shape[0],), lr, device=x.device) for x, _, lr in self.pending]
        )
        self.pending, self.pending_samples = [], 0
        found = trains(x, d, lr, self.settings)
        self.add(*found.totals(), GRADIENT)
        self.accumulate(found.d_lines.abs().T @ found.x_lines.abs())

    @property
    def counted(self) -> bool:
        return self.settings.counted and not self.why

    def per_device(self) -> Tensor | None:
        self.flush()
        return self.devices


class PulseCounter:
    """The pulses of the updates made while it is active (:func:`counting`), per compiled tile.

    :meth:`epoch_metrics` (an epoch extra of :mod:`aimc_plugins.training.loop`) keeps the
    total at each epoch's end; :meth:`summary` is the run's record.
    """

    def __init__(self) -> None:
        self.tallies: dict[int, Tally] = {}
        self.groups: dict[int, int] = {}  # id of a rule tile -> its layer's key
        self.epochs: dict[int, float] = {}

    def tally(self, tile: Any) -> Tally:
        found = self.tallies.get(id(tile))
        if found is None:
            found = Tally(tile, settings_of(tile), id(tile), tile.get_d_size(), tile.get_x_size())
            self.tallies[id(tile)] = found
        return found

    def on_update(
        self, tile: Any, x: Tensor, d: Tensor, bias: bool, x_trans: bool, d_trans: bool
    ) -> None:
        """Count one update of ``tile`` (the arguments its ``update`` got)."""
        tally = self.tally(tile)
        if not tally.settings.fires or not tally.counted:
            return
        with torch.no_grad():
            columns = tally.columns - (1 if bias else 0)
            x_rows = as_rows(x.detach(), columns, x_trans)
            if bias:
                x_rows = torch.cat([x_rows, torch.ones_like(x_rows[:, :1])], dim=1)
            d_rows = as_rows(d.detach(), tally.rows, d_trans)
            lr = float(tile.get_learning_rate())
            if lr == 0.0 or x_rows.shape[0] == 0:
                return
            source = _source.get()
            if tally.settings.exact:
                tally.add_counts(*exact_counts(x_rows, d_rows, lr, tally.settings), source)
            else:
                tally.add_update(x_rows, d_rows, lr, source)

    def on_indexed_update(self, tile: Any) -> None:
        """An indexed (convolution) update: its inputs are images, not rows, and are not
        counted."""
        self.tally(tile).why = "indexed convolution updates (aihwkit on CUDA) are not counted"

    def on_read(self, tile: Any, columns: int) -> None:
        """A transfer read ``columns`` columns of ``tile``."""
        self.tally(tile).reads += columns

    def name_arrays(self, owner: object, tiles: dict[str, Any]) -> None:
        """The arrays of one rule tile (``owner``): one layer, each array by its name."""
        layer = self.groups.get(id(owner))
        for name, tile in tiles.items():
            tally = self.tally(tile)
            if layer is None:
                layer = tally.layer
                self.groups[id(owner)] = layer
            tally.layer, tally.array = layer, name

    def total(self) -> float:
        """Every counted pulse so far."""
        for tally in self.tallies.values():
            tally.flush()
        return sum(t.gradient + t.transfer for t in self.tallies.values() if t.counted)

    def epoch_metrics(self, epoch: int) -> dict[str, float]:
        """Keep the total at the end of ``epoch`` and return it as that epoch's
        :data:`~aimc_plugins.training.pulses.PULSES` (nothing while some array that fires cannot
        be counted, or none fired yet)."""
        self.epochs[int(epoch)] = total = self.total()
        firing = [t for t in self.tallies.values() if t.settings.fires]
        if not firing or not all(t.counted for t in firing):
            return {}
        return {PULSES: total}

    def summary(self, cost: DeviceCost | None = None) -> PulseSummary:
        """The run's record: each array's totals and wear, wear over all devices, and the
        totals at each epoch's end. Tiles whose updates fire no pulses (floating point) are
        left out."""
        arrays, devices = [], []
        numbers: dict[int, int] = {}  # layers numbered in the order they were first seen
        for tally in self.tallies.values():
            if tally.settings.fires:
                numbers.setdefault(tally.layer, len(numbers) + 1)
        for tally in sorted(self.tallies.values(), key=lambda t: numbers.get(t.layer, 0)):
            if not tally.settings.fires:
                continue
            per_device = tally.per_device() if tally.counted else None
            values = per_device.flatten().cpu().numpy() if per_device is not None else None
            wear = _wear(values)
            if values is not None:
                devices.append(values)
            arrays.append(
                ArrayPulses(
                    layer=f"layer {numbers[tally.layer]} ({tally.rows}x{tally.columns})",
                    array=tally.array,
                    device=tally.settings.device,
                    rows=tally.rows,
                    columns=tally.columns,
                    up=tally.up,
                    down=tally.down,
                    gradient=tally.gradient,
                    transfer=tally.transfer,
                    reads=tally.reads,
                    device_max=wear[0],
                    device_p99=wear[1],
                    counted=tally.counted,
                    exact=tally.settings.exact,
                    why=tally.why or tally.settings.why,
                )
            )
        overall = _wear(np.concatenate(devices) if devices else None)
        return PulseSummary(tuple(arrays), overall[0], overall[1], dict(self.epochs), cost)


def _wear(per_device: np.ndarray | None) -> tuple[float, float]:
    """``(max, 99th percentile)`` of the pulses per device (of one array, or of all)."""
    if per_device is None or per_device.size == 0:
        return 0.0, 0.0
    return float(per_device.max()), float(np.percentile(per_device, WEAR_PERCENTILE))


def active() -> PulseCounter | None:
    """The counter of the run training in this context, if any."""
    return _active.get()


@contextlib.contextmanager
def counting(counter: PulseCounter | None = None) -> Iterator[PulseCounter]:
    """Count the pulses of the updates made in this context (installing the wrapper first)."""
    install()
    counter = counter if counter is not None else PulseCounter()
    token = _active.set(counter)
    try:
        yield counter
    finally:
        _active.reset(token)


@contextlib.contextmanager
def transfer_writes() -> Iterator[None]:
    """Attribute the pulses of this context to transfers, not to the gradient. Its updates'
    input rows must be one-hot (each addresses one column), as a rule's writes are
    (:meth:`aimc_plugins.rules.arrays.Arrays.write`)."""
    token = _source.set(TRANSFER)
    try:
        yield
    finally:
        _source.reset(token)


def note_read(tile: Any, columns: int) -> None:
    """Tell the active counter (if any) that a transfer read ``columns`` columns of ``tile``."""
    counter = _active.get()
    if counter is not None:
        counter.on_read(tile, columns)


def name_arrays(owner: object, tiles: dict[str, Any]) -> None:
    """Tell the active counter (if any) the names of a rule tile's arrays."""
    counter = _active.get()
    if counter is not None:
        counter.name_arrays(owner, tiles)


def compiled_tile_classes() -> list[type]:
    """aihwkit's compiled analog tile classes in this build (CPU, and CUDA where compiled)."""
    from aihwkit.simulator import rpu_base

    classes = [rpu_base.tiles.AnalogTile]
    if rpu_base.cuda.is_compiled():
        classes.append(rpu_base.cuda.AnalogTile)
    return classes


def install() -> None:
    """Wrap the compiled tiles' ``update`` and ``update_indexed`` (once per process, under a
    lock: runs on threads of one process must not wrap twice, which would count every pulse
    twice) so that an active counter sees each update before it fires; without one they only
    forward."""
    with _INSTALL_LOCK:
        for cls in compiled_tile_classes():
            if cls.__dict__.get(_INSTALLED):
                continue
            _wrap(cls)
            setattr(cls, _INSTALLED, True)


def _wrap(cls: type) -> None:
    update, indexed = cls.update, cls.update_indexed  # type: ignore[attr-defined]

    @functools.wraps(update)
    def counted_update(
        self: Any, x_input: Tensor, d_input: Tensor, *args: Any, **kwargs: Any
    ) -> Any:
        counter = _active.get()
        if counter is not None:
            # The binding's positional order is (bias, x_trans, d_trans), whatever its
            # docstring's argument names say; aihwkit calls it positionally.
            flags = [bool(flag) for flag in args[:3]] + [False] * (3 - len(args[:3]))
            bias = bool(kwargs.get("bias", flags[0]))
            counter.on_update(self, x_input, d_input, bias, x_trans=flags[1], d_trans=flags[2])
        return update(self, x_input, d_input, *args, **kwargs)

    @functools.wraps(indexed)
    def counted_indexed(self: Any, *args: Any, **kwargs: Any) -> Any:
        counter = _active.get()
        if counter is not None:
            counter.on_indexed_update(self)
        return indexed(self, *args, **kwargs)

    cls.update = counted_update  # type: ignore[attr-defined]
    cls.update_indexed = counted_indexed  # type: ignore[attr-defined]
