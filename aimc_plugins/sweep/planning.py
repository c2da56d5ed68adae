"""Planning: from a sweep spec to the planned runs it stands for, counted before they are
expanded and checked before any training.

:func:`expand` decides everything about each run once, here: its kind (preset, digital, device),
its device and optimizer parameters resolved with their defaults, its labels; the worker that
trains it only builds what the run says (:func:`aimc_plugins.training.setup.resolve`).
:func:`plan` is the same from command-line style names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from aimc_plugins.host import plugins
from aimc_plugins.host.records import LR_DEFAULT, resolve_params
from aimc_plugins.sweep.selectors import device_entries
from aimc_plugins.sweep.spec_format import (
    DeviceEntry,
    Entry,
    OptimizerEntry,
    SpecError,
    SweepSpec,
    check_trackers,
    literal,
)
from aimc_plugins.training.identity import DIGITAL_LABEL, PlannedRun, RunKind, device_label
from aimc_plugins.training.periphery import DEFAULT_PROFILE
from aimc_plugins.training.setup import PRESET_LR, PRESET_OPTIMIZER, device_kind, validate

# A spec's grids multiply: refuse before expanding (each run is hashed and checked) rather than
# sit silent for minutes, even under --dry-run.
MAX_RUNS = 100_000


def count_runs(spec: SweepSpec) -> tuple[int, str]:
    """How many runs ``spec`` stands for (before merging settings that coincide), and what
    multiplies to it, without expanding a single grid: products of lengths only."""

    def size(entry: Entry) -> int:
        return math.prod(len(values) for values in entry.grid.values())

    def factors(where: str, entries: Sequence[Entry]) -> list[str]:
        return [
            f"{where}[{i}].grid " + " x ".join(f"{k} {len(v)}" for k, v in e.grid.items())
            for i, e in enumerate(entries)
            if len(e.grid) and size(e) > 1
        ]

    known = plugins.optimizers()
    digital = [e for e in spec.optimizers if e.name in known and known[e.name].n_devices == 0]
    n_digital = sum(size(e) for e in digital)  # runs once, not once per device
    n_analog = sum(size(e) for e in spec.optimizers) - n_digital
    n_pairs = n_digital
    for entry in spec.devices:
        n_pairs += size(entry) * (1 if device_kind(entry.name) == RunKind.PRESET else n_analog)
    total = n_pairs * len(spec.seeds)
    parts = factors("devices", spec.devices) + factors("optimizers", spec.optimizers)
    parts.append(f"{len(spec.seeds)} seeds")
    return total, "; ".join(parts)


def _check_size(spec: SweepSpec) -> None:
    total, why = count_runs(spec)
    if total > MAX_RUNS:
        raise SpecError(
            f"the spec stands for {total:,} runs, above the limit of {MAX_RUNS:,} ({why}); "
            "shrink a grid or split the sweep"
        )


def _optimizer_settings(spec: SweepSpec) -> list[tuple[str, dict[str, Any], str]]:
    """(name, given params, label) for every optimizer setting; labels tell settings of one
    optimizer apart when there are several."""
    settings = []
    for entry in spec.optimizers:
        for given in entry.settings():
            varied = {k: given[k] for k in entry.grid}
            label = entry.label or entry.name
            if entry.label and varied:
                label = device_label(entry.label, varied)
            settings.append((entry.name, given, label))
    counts: dict[str, int] = {}
    for _, _, label in settings:
        counts[label] = counts.get(label, 0) + 1
    return [
        (name, given, device_label(label, given) if counts[label] > 1 else label)
        for name, given, label in settings
    ]


class _Pair(NamedTuple):
    """One device x optimizer setting of a spec, before seeds: what a planned run is made of."""

    kind: RunKind
    label: str
    name: str
    device_params: dict[str, Any]
    optimizer: str
    params: dict[str, Any]
    optimizer_label: str


def expand(spec: SweepSpec) -> list[PlannedRun]:
    """Every run the spec stands for, each once (two entries naming one configuration give one
    run). Raises :class:`SpecError` on unknown names or invalid values, and on a spec of more
    than :data:`MAX_RUNS` runs (counted first)."""
    _check_size(spec)
    try:
        recipe = plugins.lookup(plugins.recipes, spec.recipe, "recipe")
        optimizers = plugins.optimizers()
        epochs = spec.epochs or recipe.default_epochs
        settings = _optimizer_settings(spec)
        pairs: list[_Pair] = []
        for name, given, label in settings:
            record = plugins.lookup(plugins.optimizers, name, "optimizer")
            if record.n_devices == 0:
                params = resolve_params(f"optimizer {name!r}", record.parameters, given)
                pairs.append(
                    _Pair(RunKind.DIGITAL, DIGITAL_LABEL, DIGITAL_LABEL, {}, name, params, label)
                )
        preset_lr = next((g["lr"] for _, g, _ in settings if "lr" in g), None)
        for index, entry in device_entries(spec.devices):
            for device_params in entry.settings():
                pairs += _device_runs(entry, device_params, settings, optimizers, preset_lr, index)
    except KeyError as exc:
        raise SpecError(str(exc.args[0]) if exc.args else str(exc)) from None
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    runs: dict[str, PlannedRun] = {}
    for kind, label, name, device_params, optimizer, params, optimizer_label in pairs:
        for seed in spec.seeds:
            run = PlannedRun(
                recipe=recipe.name,
                device=label,
                optimizer=optimizer,
                seed=seed,
                epochs=epochs,
                params=params,
                device_name=name,
                device_params=device_params,
                options=dict(spec.options),
                periphery=spec.periphery,
                optimizer_label=optimizer_label if optimizer_label != optimizer else "",
                kind=kind,  # decided here, once; not part of the run's id
            )
            runs.setdefault(run.run_id, run)
    return list(runs.values())


def _device_runs(
    entry: DeviceEntry,
    given: dict[str, Any],
    settings: list[tuple[str, dict[str, Any], str]],
    optimizers: Mapping[str, Any],
    preset_lr: Any,
    index: int,
) -> list[_Pair]:
    if device_kind(entry.name) == RunKind.PRESET:
        extra = set(given) - {"lr"}
        if extra:
            raise SpecError(
                f"devices[{index}]: {entry.name!r} is a preset configuration; only lr may be "
                f"given, not {sorted(extra)}"
            )
        lr = given.get("lr", preset_lr)
        # explicit, resolved and checked here as every parameter is: part of the run id
        lr = float(LR_DEFAULT) if lr is None else lr
        params = resolve_params(f"preset {entry.name!r}", (PRESET_LR,), {"lr": lr})
        # a grid over lr is one row per rate, each labelled with it (a single lr keeps the
        # plain name, the label such a row always had)
        varied = {key: given[key] for key in entry.grid}
        label = device_label(entry.label or entry.name, varied)
        return [_Pair(RunKind.PRESET, label, entry.name, {}, PRESET_OPTIMIZER, params, "")]
    device = plugins.lookup(plugins.devices, entry.name, "device")
    # Always resolved, defaults included: "power" and "power(g=0.5)" (g's default) are one run.
    device_params = resolve_params(f"device {entry.name!r}", device.parameters, given)
    label = device_label(entry.label or entry.name, given)
    runs = []
    for name, opt_given, opt_label in settings:
        record = optimizers[name]
        if record.n_devices == 0:
            continue
        params = resolve_params(f"optimizer {name!r}", record.parameters, opt_given)
        pair = _Pair(RunKind.DEVICE, label, entry.name, device_params, name, params, opt_label)
        runs.append(pair)
    return runs


class PlanWarning(UserWarning):
    """Something a spec plans that its author may not expect (it still plans it): a preset
    that runs at one of several learning rates the spec gives, say. :func:`plan_warnings`
    says what; ``plan_comparison`` warns with it and keeps it in the plan."""


def plan_warnings(spec: SweepSpec) -> list[str]:
    """One line for each thing ``spec`` plans silently that its author may not expect.

    Today one: the optimizers give several learning rates and a preset configuration does not
    give its own. A preset runs under its own algorithm, once, at the first ``lr`` the
    optimizer entries give (run ids of existing specs depend on it, so it stays so); the other
    rates do not reach it, and nothing in the table would say so. The line names the presets,
    the rate they took, the others, and how to give a preset several (a ``grid`` on its entry,
    one row per rate)."""
    settings = _optimizer_settings(spec)
    rates = list(dict.fromkeys(repr(g["lr"]) for _, g, _ in settings if "lr" in g))
    if len(rates) < 2:
        return []
    silent: dict[str, str] = {}  # preset name -> the entry it came from, as written
    for index, entry in device_entries(spec.devices):
        if device_kind(entry.name) != RunKind.PRESET:
            continue
        if "lr" in entry.params or "lr" in entry.grid:
            continue
        silent.setdefault(entry.name, spec.devices[index].name)
    if not silent:
        return []
    names = list(silent)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    which = f"preset {names[0]}" if len(names) == 1 else f"{len(names)} presets ({shown})"
    example = next(iter(silent.values()))
    return [
        f"{which} {'runs' if len(names) == 1 else 'run'} once, at lr {rates[0]} (the first lr "
        f"the optimizers give), not at {', '.join(rates[1:])}: a preset runs under its own "
        f"algorithm; to run it at each, give its entry a grid, "
        f'{{ name = "{example}", grid = {{ lr = [{", ".join(rates)}] }} }}'
    ]


def literal_options(raw: Mapping[str, str]) -> dict[str, Any]:
    """Command-line ``NAME=VALUE`` strings read as Python literals (``"1000"`` -> ``1000``), so
    that a flag and the same value in a TOML spec give the same run id."""
    return {key: literal(value) for key, value in raw.items()}


def check_runs(runs: list[PlannedRun]) -> list[PlannedRun]:
    """Build every distinct setup of ``runs`` once; a bad name or value raises
    :class:`SpecError` before any training."""
    try:
        validate(runs)
    except KeyError as exc:
        raise SpecError(str(exc.args[0]) if exc.args else str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise SpecError(str(exc)) from None
    return runs


def check(spec: SweepSpec) -> list[PlannedRun]:
    """Expand the spec and check every run: everything that can be checked before training."""
    check_trackers(spec.track)
    return check_runs(expand(spec))


def plan(
    recipe: str,
    devices: Sequence[str],
    optimizers: Sequence[str],
    seeds: int | Iterable[int],
    epochs: int | None = None,
    params: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    periphery: str = DEFAULT_PROFILE,
) -> list[PlannedRun]:
    """Every combination to run, from command-line style names.

    A preset configuration runs under its own algorithm, however many optimizers are named; an
    optimizer that takes no device (the digital baseline) runs once, not once per device.
    ``params`` go to every optimizer (and ``lr`` to presets).
    """
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
