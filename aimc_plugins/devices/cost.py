"""What a pulse costs a device, when the device says: energy per pulse and endurance.

A :class:`~aimc_plugins.devices.response.ResponseDevice` (or ``aimc fit``) may declare them;
a run on such a device then reports its energy and the share of the endurance its most-written
device used. Nothing is assumed for a device that declares nothing: aihwkit's presets carry no
energy or endurance, and a guessed figure would be worse than none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class CostError(ValueError):
    """An energy or endurance that cannot be used; the message names the field."""


@dataclass(frozen=True)
class DeviceCost:
    """``energy_up`` / ``energy_down``: joules one up / down pulse costs (set both or
    neither: up and down pulses often differ, and one of them alone would leave the other
    pulses free); ``endurance``: pulses a device takes before it fails."""

    energy_up: float | None = None
    energy_down: float | None = None
    endurance: float | None = None

    def __post_init__(self) -> None:
        if (self.energy_up is None) != (self.energy_down is None):
            raise CostError(
                "energy: give energy_up and energy_down (joules per pulse) together, "
                f"not one of them (energy_up={self.energy_up!r}, energy_down={self.energy_down!r})"
            )
        for name in ("energy_up", "energy_down", "endurance"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CostError(f"{name}={value!r} is not a number")
            usable = value > 0 if name == "endurance" else value >= 0
            if not (math.isfinite(value) and usable):
                raise CostError(
                    f"{name}={value!r} must be finite and "
                    + ("positive" if name == "endurance" else "non-negative")
                )

    @property
    def declared(self) -> bool:
        """Whether the device declares anything at all."""
        return self.has_energy or self.endurance is not None

    @property
    def has_energy(self) -> bool:
        return self.energy_up is not None and self.energy_down is not None

    def describe(self) -> str:
        """In words, for listings: what is declared, nothing else."""
        parts = []
        if self.energy_up is not None and self.energy_down is not None:
            parts.append(f"energy up {self.energy_up:g} J, down {self.energy_down:g} J per pulse")
        if self.endurance is not None:
            parts.append(f"endurance {self.endurance:g} pulses")
        return "; ".join(parts) or "nothing declared"

    def energy(self, up: float, down: float) -> float | None:
        """Joules of ``up`` up pulses and ``down`` down pulses; None where undeclared."""
        if self.energy_up is None or self.energy_down is None:
            return None
        return up * self.energy_up + down * self.energy_down

    def endurance_used(self, most_pulses: float) -> float | None:
        """The share of the endurance used by a device that took ``most_pulses``; None where
        undeclared."""
        if self.endurance is None:
            return None
        return most_pulses / self.endurance
