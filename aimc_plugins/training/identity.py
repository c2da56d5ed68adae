"""What one training run is: :class:`PlannedRun`, everything that determines a run, and its
:attr:`~PlannedRun.run_id`, a hash of that configuration. A results store tells a finished run
from a new one by this id, however the sweep that asked for it was written (flags or a spec
file, in any order)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aimc_plugins.host.records import TEST_SPLIT
from aimc_plugins.training.periphery import DEFAULT_PROFILE


class RunKind(StrEnum):
    """What a run trains, decided once by the planner and carried on the run.

    ``preset``: one of aihwkit's preset training configurations (device and algorithm fixed
    together, optimizer ``preset``); ``digital``: an optimizer that takes no device (the
    floating-point baseline); ``device``: a registered device trained by the chosen optimizer.
    A ``StrEnum``, so ``kind == "preset"`` reads as it always did.
    """

    PRESET = "preset"
    DIGITAL = "digital"
    DEVICE = "device"


# The table label of the runs of an optimizer that takes no device: a label only, never a test
# of what a run is (that is :attr:`PlannedRun.kind`).
DIGITAL_LABEL = "floating point"


def device_label(name: str, params: Mapping[str, Any] | None = None) -> str:
    """``name(k=v, ...)`` with parameters in name order: one spelling per device setting."""
    if not params:
        return name
    inner = ", ".join(f"{key}={params[key]!r}" for key in sorted(params))
    return f"{name}({inner})"


@dataclass(frozen=True)
class PlannedRun:
    """One training run of a comparison.

    ``device`` is the *device label* shown in tables (``ReRamSB``, ``power(g=0.5, tau=0.7)``);
    :attr:`registered_device` (``device_name``, or the label when that is empty) and
    ``device_params`` are what is built. ``params`` are the optimizer's hyper-parameters,
    ``options`` the recipe's (data size, batch size, data folder, ...), ``periphery`` the
    periphery profile (:mod:`aimc_plugins.training.periphery`). ``optimizer_label`` names the
    optimizer in tables when a sweep varies its hyper-parameters. ``split`` is what
    the run is evaluated on: ``test``, or ``validation`` for a tuning trial (which then never
    reads the test split).

    ``kind`` (:class:`RunKind`) is written by the planner, which has looked every name up and
    resolved every parameter (``params`` and ``device_params`` hold every value, defaults
    included), so the worker need not decide it again. It is not part of the configuration:
    :meth:`config` and :attr:`run_id` are what they were before it existed, and a run read from
    an older store (``kind`` unset) is classified by
    :func:`aimc_plugins.training.setup.kind_of`.
    """

    recipe: str
    device: str
    optimizer: str
    seed: int
    epochs: int
    params: Mapping[str, Any] = field(default_factory=dict)
    device_name: str = ""
    device_params: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    periphery: str = DEFAULT_PROFILE
    optimizer_label: str = ""
    split: str = TEST_SPLIT
    kind: RunKind | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind is not None and not isinstance(self.kind, RunKind):
            object.__setattr__(self, "kind", RunKind(self.kind))  # read back from JSON

    @property
    def registered_device(self) -> str:
        """The registered name of the device (or preset configuration) this run builds, as
        planned: ``device_name``, or the label when that is empty (for the digital baseline,
        which builds no device, its label)."""
        return self.device_name or self.device

    @property
    def label(self) -> str:
        return f"{self.device} / {self.shown_optimizer}"

    @property
    def shown_optimizer(self) -> str:
        return self.optimizer_label or self.optimizer

    def config(self) -> dict[str, Any]:
        """The whole configuration, as plain JSON-able data (what :attr:`run_id` hashes).

        Labels are left out: renaming a row in a table does not make it a different run. The
        split is written only for validation runs, so test runs keep the ids they always had.
        """
        # the id's "device" is the name as planned; for the digital baseline that is its label
        config = {
            "recipe": self.recipe,
            "device": self.registered_device,
            "device_params": dict(sorted(self.device_params.items())),
            "optimizer": self.optimizer,
            "params": dict(sorted(self.params.items())),
            "seed": self.seed,
            "epochs": self.epochs,
            "options": dict(sorted(self.options.items())),
            "periphery": self.periphery,
        }
        if self.split != TEST_SPLIT:
            config["split"] = self.split
        return config

    def identity(self, **override: Any) -> str:
        """The canonical JSON of :meth:`config` (with ``override`` applied): two runs with the
        same identity train the same thing."""
        config = {**self.config(), **override}
        return json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)

    @property
    def run_id(self) -> str:
        """SHA-256 (first 16 hex digits) of :meth:`identity`."""
        return hashlib.sha256(self.identity().encode()).hexdigest()[:16]
