"""One run of a comparison: its full configuration, its identity, and how it is trained.

A :class:`RunSpec` is everything that determines a training run. Its :attr:`RunSpec.run_id` is a
hash of that configuration, so a results store can tell a finished run from a new one however
the sweep that asked for it was written (flags or a spec file, in any order). Running one spec
(:func:`run_one`) never raises: errors and divergence become :class:`RunOutcome` statuses, so one
bad configuration never stops a sweep.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aimc_plugins import plugins
from aimc_plugins.periphery import DEFAULT_PROFILE, apply_profile
from aimc_plugins.records import RunConfig, TrainingSetup
from aimc_plugins.resolve import (
    DIGITAL_DEVICE,
    PRESET_OPTIMIZER,
    build_setup,
    is_preset,
    optimizer_setup,
)

DONE, FAILED, DIVERGED = "done", "failed", "diverged"
FINISHED = (DONE, FAILED, DIVERGED)


def device_label(name: str, params: Mapping[str, Any] | None = None) -> str:
    """``name(k=v, ...)`` with parameters in name order: one spelling per device setting."""
    if not params:
        return name
    inner = ", ".join(f"{key}={params[key]!r}" for key in sorted(params))
    return f"{name}({inner})"


@dataclass(frozen=True)
class RunSpec:
    """One training run of a comparison.

    ``device`` is the label shown in tables (``ReRamSB``, ``power(g=0.5, tau=0.7)``);
    ``device_name`` and ``device_params`` are what is built. ``params`` are the optimizer's
    hyper-parameters, ``options`` the recipe's (data size, batch size, data folder, ...),
    ``periphery`` the periphery profile (:mod:`aimc_plugins.periphery`). ``optimizer_label``
    names the optimizer in tables when a sweep varies its hyper-parameters.
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

    @property
    def label(self) -> str:
        return f"{self.device} / {self.shown_optimizer}"

    @property
    def shown_optimizer(self) -> str:
        return self.optimizer_label or self.optimizer

    def config(self) -> dict[str, Any]:
        """The whole configuration, as plain JSON-able data (what :attr:`run_id` hashes).

        Labels are left out: renaming a row in a table does not make it a different run.
        """
        return {
            "recipe": self.recipe,
            "device": self.device_name or self.device,
            "device_params": dict(sorted(self.device_params.items())),
            "optimizer": self.optimizer,
            "params": dict(sorted(self.params.items())),
            "seed": self.seed,
            "epochs": self.epochs,
            "options": dict(sorted(self.options.items())),
            "periphery": self.periphery,
        }

    @property
    def run_id(self) -> str:
        """SHA-256 (first 16 hex digits) of the canonical JSON of :meth:`config`."""
        text = json.dumps(self.config(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: status ``done``, ``diverged`` or ``failed``, and what it produced."""

    spec: RunSpec
    status: str
    history: tuple[Mapping[str, float], ...] = ()
    final: Mapping[str, float] = field(default_factory=dict)
    error: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()


def plan(
    recipe: str,
    devices: Sequence[str],
    optimizers: Sequence[str],
    seeds: int | Iterable[int],
    epochs: int | None = None,
    params: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    periphery: str = DEFAULT_PROFILE,
) -> list[RunSpec]:
    """Every combination to run, from command-line style names.

    A preset configuration runs under its own algorithm, however many optimizers are named; an
    optimizer that takes no device (the digital baseline) runs once, not once per device.
    ``params`` go to every optimizer (and ``lr`` to presets).
    """
    from aimc_plugins.sweep.spec import DeviceEntry, OptimizerEntry, SweepSpec, expand

    spec = SweepSpec(
        name="flags",
        recipe=recipe,
        devices=tuple(DeviceEntry.parse(d) for d in devices),
        optimizers=tuple(OptimizerEntry(name=o, params=dict(params or {})) for o in optimizers),
        seeds=tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds),
        epochs=epochs,
        options=dict(options or {}),
        periphery=periphery,
    )
    return expand(spec)


def build_run_setup(spec: RunSpec) -> TrainingSetup:
    """The training setup of one run: devices built with their parameters, the optimizer's
    config around them, and the periphery profile applied last (so every device and
    optimizer sits behind the same periphery)."""
    name = spec.device_name or spec.device
    if spec.optimizer == PRESET_OPTIMIZER or name == DIGITAL_DEVICE:
        devices = [] if name == DIGITAL_DEVICE else [name]
        setup = build_setup(devices, spec.optimizer, spec.params)
    else:
        device = plugins.lookup(plugins.devices, name, "device").build(**spec.device_params)
        record = plugins.lookup(plugins.optimizers, spec.optimizer, "optimizer")
        setup = optimizer_setup(record, [device], spec.params)
    return replace(setup, rpu_config=apply_profile(setup.rpu_config, spec.periphery))


def validate(specs: Sequence[RunSpec]) -> None:
    """Build every distinct setup once, so a bad name or value fails before hours of
    training."""
    seen = set()
    for spec in specs:
        key = json.dumps({**spec.config(), "seed": 0}, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            plugins.lookup(plugins.recipes, spec.recipe, "recipe").check_options(spec.options)
            build_run_setup(spec)


def run_one(spec: RunSpec, show_progress: bool = False, accelerator: str = "cpu") -> RunOutcome:
    """Train one run; errors and divergence become outcomes instead of exceptions."""
    from aimc_plugins.sweep.versions import environment_versions

    start = time.perf_counter()
    versions = environment_versions()
    try:
        recipe = plugins.lookup(plugins.recipes, spec.recipe, "recipe")
        setup = build_run_setup(spec)
        result = recipe.run(
            RunConfig(
                setup=setup,
                seed=spec.seed,
                epochs=spec.epochs,
                device=accelerator,
                show_progress=show_progress,
                options=dict(spec.options),
            )
        )
    except Exception as exc:
        return RunOutcome(
            spec,
            FAILED,
            error="".join(traceback.format_exception_only(exc)).strip(),
            versions=versions,
            duration_s=time.perf_counter() - start,
        )
    versions["deterministic"] = determinism(accelerator)
    final = _plain_metrics(result.final)
    history = tuple(_plain_metrics(h) for h in result.history)
    diverged = any(_not_finite(v) for h in (final, *history) for v in h.values())
    return RunOutcome(
        spec,
        DIVERGED if diverged else DONE,
        history,
        final,
        error="metrics became NaN or infinite (diverged)" if diverged else "",
        versions=versions,
        duration_s=time.perf_counter() - start,
        notes=tuple(getattr(result, "notes", ())),
    )


def determinism(accelerator: str) -> str:
    """``yes`` when this process's runs repeat bitwise from their seed, else ``no: why``
    (stored with every run, so a table built from unseeded runs says so)."""
    from aimc_plugins.simulator_seed import status

    seeded, reason = status()
    if not seeded:
        return f"no: aihwkit's generators are unseeded ({reason})"
    if accelerator != "cpu":
        return "no: aihwkit's CUDA generators are seeded on the device, not from the run's seed"
    return "yes"


def _plain_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers as Python floats (ints kept), so numpy or torch scalars a plugin recipe returns
    store, compare and print like any other metric."""
    plain = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()  # numpy and torch scalars
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, int)):
            value = float(value)
        plain[key] = value
    return plain


def _not_finite(value: Any) -> bool:
    """NaN or infinite, whatever the number type (numpy and torch scalars included)."""
    return isinstance(value, numbers.Real) and not math.isfinite(value)


def run_all(specs: Sequence[RunSpec], show_progress: bool = True) -> list[RunOutcome]:
    """Every spec in turn, in this process (the sweep engine runs them in parallel)."""
    from tqdm.auto import tqdm

    outcomes = []
    bar = tqdm(specs, desc="runs", unit="run", disable=not show_progress)
    for spec in bar:
        bar.set_postfix_str(f"{spec.label} seed {spec.seed}")
        outcomes.append(run_one(spec, show_progress=show_progress))
    return outcomes


__all__ = [
    "DIVERGED",
    "DONE",
    "FAILED",
    "FINISHED",
    "PRESET_OPTIMIZER",
    "RunOutcome",
    "RunSpec",
    "build_run_setup",
    "device_label",
    "is_preset",
    "plan",
    "run_all",
    "run_one",
    "validate",
]
