"""Run every device x optimizer x seed of a comparison and keep each run's learning curve."""

from __future__ import annotations

import math
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aimc_plugins import plugins
from aimc_plugins.records import RunConfig
from aimc_plugins.resolve import DIGITAL_DEVICE, PRESET_OPTIMIZER, build_setup, is_preset


@dataclass(frozen=True)
class RunSpec:
    """One training run of a comparison."""

    recipe: str
    device: str
    optimizer: str
    seed: int
    epochs: int
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.device} / {self.optimizer}"


@dataclass(frozen=True)
class RunOutcome:
    spec: RunSpec
    status: str  # "done", "diverged" or "failed"
    history: tuple[Mapping[str, float], ...] = ()
    final: Mapping[str, float] = field(default_factory=dict)
    error: str = ""


def plan(
    recipe: str,
    devices: Sequence[str],
    optimizers: Sequence[str],
    seeds: int | Iterable[int],
    epochs: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[RunSpec]:
    """Every combination to run. A preset configuration runs under its own algorithm, however
    many optimizers are named; an optimizer that takes no device (the digital baseline) runs
    once, not once per device."""
    record = plugins.lookup(plugins.recipes, recipe, "recipe")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    n_epochs = epochs or record.default_epochs
    known = plugins.optimizers()
    pairs: list[tuple[str, str]] = []
    for optimizer in optimizers:
        if optimizer in known and known[optimizer].n_devices == 0:
            pairs.append((DIGITAL_DEVICE, optimizer))  # ignores devices: run it once
    for device in devices:
        if is_preset(device):
            pairs.append((device, PRESET_OPTIMIZER))
            continue
        pairs += [(device, o) for o in optimizers if not (o in known and known[o].n_devices == 0)]
    return [
        RunSpec(record.name, device, optimizer, seed, n_epochs, dict(params or {}))
        for device, optimizer in pairs
        for seed in seed_list
    ]


def validate(specs: Sequence[RunSpec]) -> None:
    """Build every setup once, so a bad name or value fails before hours of training."""
    for spec in {
        (s.device, s.optimizer, tuple(sorted(s.params.items()))): s for s in specs
    }.values():
        build_setup([spec.device], spec.optimizer, spec.params)


def run_one(spec: RunSpec, show_progress: bool = False) -> RunOutcome:
    """Train one run; errors and divergence become outcomes instead of exceptions."""
    recipe = plugins.recipes()[spec.recipe]
    try:
        setup = build_setup([spec.device], spec.optimizer, spec.params)
        result = recipe.run(
            RunConfig(setup=setup, seed=spec.seed, epochs=spec.epochs, show_progress=show_progress)
        )
    except Exception as exc:
        return RunOutcome(spec, "failed", error="".join(traceback.format_exception_only(exc)))
    final = dict(result.final)
    status = "diverged" if any(_is_nan(v) for v in final.values()) else "done"
    return RunOutcome(spec, status, tuple(result.history), final)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def run_all(specs: Sequence[RunSpec], show_progress: bool = True) -> list[RunOutcome]:
    from tqdm.auto import tqdm

    outcomes = []
    bar = tqdm(specs, desc="runs", unit="run", disable=not show_progress)
    for spec in bar:
        bar.set_postfix_str(f"{spec.label} seed {spec.seed}")
        outcomes.append(run_one(spec, show_progress=show_progress))
    return outcomes
