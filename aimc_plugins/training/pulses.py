"""What a run's training fired on the devices: its pulse counts, as records and metrics.

:mod:`aimc_plugins.training.pulse_counter` counts the pulses while a run trains (from what
aihwkit's update is given: :mod:`aimc_plugins.training.pulse_trains`); this module holds what it
found, torch-free, so the store, the report and the data API read it without loading torch.

A run's final metrics carry the totals under the names below (so ``load_results`` has them as
columns), each epoch's metrics carry :data:`PULSES` (the total so far, for the metric-vs-pulses
figure and pulses to target), and :meth:`PulseSummary.rows` are the per-array details the
store keeps beside the run (``load_pulses``).

Counts are **expected values** where aihwkit's pulse trains are stochastic (its default) and
exact where they are deterministic; a run on aihwkit's compiled compounds (Tiki-Taka's
transfer compound, mixed precision, vectors of devices) writes inside the C++ core, which the
CPU build does not count: such a run gets no pulse metrics, and a note saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aimc_plugins.devices.cost import DeviceCost

# Final metrics (totals over the run, every analog array of every layer)
PULSES = "pulses"  # up + down; also in each epoch's metrics, the total so far
PULSES_UP = "pulses_up"
PULSES_DOWN = "pulses_down"
PULSES_GRADIENT = "pulses_gradient"  # fired by the gradient updates
PULSES_TRANSFER = "pulses_transfer"  # fired by transfer writes (transfer rules)
TRANSFER_READS = "transfer_reads"  # columns read by transfers
DEVICE_MAX = "pulses_device_max"  # pulses of the most-written device (wear)
DEVICE_P99 = "pulses_device_p99"  # the 99th percentile over devices
ENERGY = "energy_j"  # joules, where the device declares energy per pulse
ENDURANCE_USED = "endurance_used"  # DEVICE_MAX / the device's endurance, where declared
PULSE_METRICS = (
    PULSES,
    PULSES_UP,
    PULSES_DOWN,
    PULSES_GRADIENT,
    PULSES_TRANSFER,
    TRANSFER_READS,
    DEVICE_MAX,
    DEVICE_P99,
    ENERGY,
    ENDURANCE_USED,
)
WEAR_PERCENTILE = 99.0


@dataclass(frozen=True)
class ArrayPulses:
    """One analog array's counts over a run: one compiled aihwkit tile (a layer's tile, or one
    array of a transfer rule's tile).

    ``layer`` numbers the run's analog tiles in the order they were first updated (with the
    tile's shape), ``array`` is the rule's array name (empty for a one-array tile).
    ``gradient`` and ``transfer`` split ``up + down`` by who fired them. ``counted`` is False
    where the pulses could not be seen (``why`` says why); ``exact`` is True for deterministic
    pulse trains, whose counts are not expected values.
    """

    layer: str
    array: str
    device: str
    rows: int
    columns: int
    up: float = 0.0
    down: float = 0.0
    gradient: float = 0.0
    transfer: float = 0.0
    reads: int = 0
    device_max: float = 0.0
    device_p99: float = 0.0
    counted: bool = True
    exact: bool = False
    why: str = ""

    @property
    def total(self) -> float:
        return self.up + self.down

    def record(self) -> dict[str, Any]:
        """The plain dict the store keeps (and ``load_pulses`` shows)."""
        return {**asdict(self), "total": self.total}


@dataclass(frozen=True)
class PulseSummary:
    """A run's pulse counts: every array's, the wear over all devices, and the total at the end
    of each epoch. ``cost`` is what the run's device declares (energy, endurance), if it does."""

    arrays: tuple[ArrayPulses, ...] = ()
    device_max: float = 0.0
    device_p99: float = 0.0
    epochs: Mapping[int, float] = field(default_factory=dict)
    cost: DeviceCost | None = None
    cost_note: str = ""  # why a declared cost was not applied (arrays on other devices)

    @property
    def counted(self) -> bool:
        """Whether every array that fired was counted (and there was one)."""
        return bool(self.arrays) and all(array.counted for array in self.arrays)

    def total(self, attribute: str) -> float:
        return float(sum(getattr(array, attribute) for array in self.arrays))

    def metrics(self) -> dict[str, float]:
        """The final metrics this summary adds to a run (none when not :attr:`counted`)."""
        if not self.counted:
            return {}
        up, down = self.total("up"), self.total("down")
        found: dict[str, float] = {
            PULSES: up + down,
            PULSES_UP: up,
            PULSES_DOWN: down,
            PULSES_GRADIENT: self.total("gradient"),
            PULSES_TRANSFER: self.total("transfer"),
            TRANSFER_READS: self.total("reads"),
            DEVICE_MAX: self.device_max,
            DEVICE_P99: self.device_p99,
        }
        if self.cost is not None:
            energy = self.cost.energy(up, down)
            used = self.cost.endurance_used(self.device_max)
            if energy is not None:
                found[ENERGY] = energy
            if used is not None:
                found[ENDURANCE_USED] = used
        return found

    def epoch_metrics(self, epoch: int, last: bool = False) -> dict[str, float]:
        """What epoch ``epoch``'s metrics gain: :data:`PULSES` so far, where counted. The run's
        ``last`` epoch past every announced one (an epoch in which the loss diverged, which the
        loop records without announcing) gets the run's total."""
        if not self.counted:
            return {}
        if epoch in self.epochs:
            return {PULSES: float(self.epochs[epoch])}
        if last and epoch > max(self.epochs, default=0):
            return {PULSES: self.total("up") + self.total("down")}
        return {}

    def notes(self) -> tuple[str, ...]:
        """The run's notes: why its pulses were not counted, if they were not."""
        reasons = dict.fromkeys(array.why for array in self.arrays if not array.counted)
        notes = tuple(f"pulses not counted: {why}" for why in reasons if why)
        return notes + ((self.cost_note,) if self.cost_note and self.counted else ())

    def rows(self) -> tuple[dict[str, Any], ...]:
        """Per-array records, for the store."""
        return tuple(array.record() for array in self.arrays)


def with_pulses(
    history: Sequence[Mapping[str, Any]], summary: PulseSummary
) -> tuple[dict[str, Any], ...]:
    """``history`` with each epoch's :data:`PULSES` so far (by its ``epoch`` key), as new
    dicts."""
    merged = []
    for index, metrics in enumerate(history, 1):
        epoch = int(metrics.get("epoch", index))
        merged.append({**metrics, **summary.epoch_metrics(epoch, last=index == len(history))})
    return tuple(merged)
