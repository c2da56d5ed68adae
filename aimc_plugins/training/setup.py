"""From names (on a command line, in a sweep spec, or in a planned run) to a ready
:class:`~aimc_plugins.host.records.TrainingSetup`.

Every name a device column can hold means one of three things (:class:`RunKind`): a preset
training configuration (device and algorithm fixed together by aihwkit), the floating-point
baseline (an optimizer that takes no device), or a registered device trained by the chosen
optimizer. The planner decides it once and writes it on the run; :func:`resolve` turns a planned
run into everything its training needs, once, so the worker never looks a name up twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aimc_plugins.devices.adapter import Adapted
from aimc_plugins.devices.build import adapted_device, adapted_resolved
from aimc_plugins.devices.names import parse_device_ref
from aimc_plugins.host import composition, plugins
from aimc_plugins.host.records import (
    LR_DEFAULT,
    Optimizer,
    Param,
    Recipe,
    TrainingSetup,
    resolve_params,
)
from aimc_plugins.training.identity import DIGITAL_LABEL, RunKind
from aimc_plugins.training.periphery import apply_profile

if TYPE_CHECKING:
    from aimc_plugins.training.identity import PlannedRun

PRESET_OPTIMIZER = "preset"
DIGITAL_DEVICE = DIGITAL_LABEL  # the older name of the digital baseline's table label

DeviceKind = RunKind  # the older name of the one kind enum


def device_kind(name: str) -> RunKind:
    """What a device name stands for: a preset configuration or a registered device. (The
    digital baseline is an optimizer that takes no device, not a name: see :func:`kind_of`.)"""
    if name in plugins.registry.presets():
        return RunKind.PRESET
    return RunKind.DEVICE


def optimizer_names() -> list[str]:
    """The optimizers a run may name here (registered by the host's plugins)."""
    return list(plugins.registry.optimizers())


def kind_of(run: PlannedRun) -> RunKind:
    """The run's kind: as the planner wrote it, or, for a run built by hand or read from an
    older store, decided the way the planner decides it (the optimizer first: ``preset`` runs a
    preset configuration, an optimizer without devices is the digital baseline)."""
    if run.kind is not None:
        return run.kind
    if run.optimizer == PRESET_OPTIMIZER:
        return RunKind.PRESET
    if plugins.registry.optimizer(run.optimizer).n_devices == 0:
        return RunKind.DIGITAL
    return device_kind(run.registered_device)


def build_device(text: str) -> Any:
    """The aihwkit device config a device reference stands for: a registered name, optionally
    with parameters, ``power(tau=0.7, g=0.5)`` (parsed without eval; see
    :mod:`aimc_plugins.devices.names`). Unknown names and parameters fail with the closest one."""
    ref = parse_device_ref(text)
    return adapted_device(plugins.registry.device(ref.name), ref.params).device


# A preset configuration's one parameter: the learning rate handed to the torch optimizer.
PRESET_LR = Param("lr", LR_DEFAULT, "learning rate", low=0.0, low_inclusive=False)


def resolved_by_planner(run: PlannedRun, schema: Sequence[Param], given: Mapping[str, Any]) -> bool:
    """Whether ``given`` (a run's ``params`` or ``device_params``) is what the planner resolved
    against ``schema``: the run was planned (its kind is written) and names every parameter of
    the schema, no other. Such values are handed down as they are; a run built by hand or read
    from an older store is resolved here, as before."""
    return run.kind is not None and set(given) == {p.name for p in schema}


def build_setup(
    devices: Sequence[str], optimizer: str, params: Mapping[str, Any] | None = None
) -> TrainingSetup:
    """Resolve device references and an optimizer to a training setup.

    A preset training configuration named as the (single) device is used as it is: it fixes its
    own algorithm, so the optimizer must be ``preset`` or the application's default optimizer
    (what a command line passes when none is named) and only ``lr`` may be given.
    """
    params = dict(params or {})
    if len(devices) == 1 and device_kind(devices[0]) == RunKind.PRESET:
        return _preset_setup(devices[0], optimizer, params, resolved=False)
    record = plugins.registry.optimizer(optimizer)
    if record.n_devices == 0:
        return record.build([], **params)
    return optimizer_setup(record, [build_device(name) for name in devices], params)


@dataclass(frozen=True)
class ResolvedRun:
    """A planned run turned, once, into what its training needs: the recipe record, the
    training setup (periphery applied) and, for a device run, how the device reached aihwkit
    (:class:`~aimc_plugins.devices.adapter.Adapted`, which carries its table error, tolerance
    and note). Built by :func:`resolve`; nothing downstream looks a name up again."""

    run: PlannedRun
    kind: RunKind
    recipe: Recipe
    setup: TrainingSetup
    adapted: Adapted | None = None

    @property
    def table_note(self) -> str:
        """The report's note on a device trained on a table outside its tolerance, else ``""``."""
        return self.adapted.table_note if self.adapted is not None else ""


def resolve(run: PlannedRun) -> ResolvedRun:
    """Look up and build everything ``run`` names, once: its recipe, its device (adapted, from
    the per-process cache of :func:`~aimc_plugins.devices.build.adapted_device`), the
    optimizer's config around it, and the periphery profile applied last (so every device and
    optimizer sits behind the same periphery).

    Parameters the planner resolved (:func:`resolved_by_planner`) are handed to the factories as
    they are: the planner checked them once, and the run's path does not climb back through
    :meth:`Optimizer.build <aimc_plugins.host.records.Optimizer.build>` or
    :func:`~aimc_plugins.host.records.resolve_params` to check them again."""
    kind = kind_of(run)
    recipe = plugins.registry.recipe(run.recipe)
    adapted = None
    if kind == RunKind.PRESET:
        planned = resolved_by_planner(run, (PRESET_LR,), run.params)
        setup = _preset_setup(run.registered_device, run.optimizer, run.params, resolved=planned)
    else:
        record = plugins.registry.optimizer(run.optimizer)
        planned = resolved_by_planner(run, record.parameters, run.params)
        built = []
        if kind == RunKind.DEVICE:
            device = plugins.registry.device(run.registered_device)
            if resolved_by_planner(run, device.parameters, run.device_params):
                adapted = adapted_resolved(device, run.device_params)
            else:
                adapted = adapted_device(device, run.device_params)
            built = [adapted.device]
        setup = optimizer_setup(record, built, run.params, resolved=planned)
    setup = replace(setup, rpu_config=apply_profile(setup.rpu_config, run.periphery))
    return ResolvedRun(run, kind, recipe, setup, adapted)


def setup_for(run: PlannedRun) -> TrainingSetup:
    """The training setup of one planned run (:func:`resolve`'s ``setup``)."""
    return resolve(run).setup


def _preset_setup(
    name: str, optimizer: str, params: Mapping[str, Any], resolved: bool
) -> TrainingSetup:
    if optimizer not in (PRESET_OPTIMIZER, composition.current.default_optimizer):
        raise ValueError(
            f"{name!r} is a preset training configuration with its own algorithm; "
            f"it cannot be trained with optimizer {optimizer!r}"
        )
    preset = plugins.registry.preset(name)
    if not resolved:
        params = resolve_params(f"preset {preset.name!r}", (PRESET_LR,), params)
    return TrainingSetup(
        rpu_config=preset.factory(), lr=params["lr"], description=preset.description
    )


def optimizer_setup(
    record: Optimizer, built: Sequence[Any], params: Mapping[str, Any], resolved: bool = False
) -> TrainingSetup:
    """``record`` built around aihwkit device configs; one device serves every array. With
    ``resolved``, ``params`` are already resolved against the optimizer's schema (a planned
    run's) and go to its factory as they are; otherwise :meth:`Optimizer.build` resolves them."""
    built = list(built)
    if record.n_devices and len(built) < record.n_devices:
        if len(built) == 1:
            built = built * record.n_devices  # one device for every array
        else:
            raise ValueError(
                f"optimizer {record.name!r} takes {record.n_devices} devices, got {len(built)}"
            )
    if resolved:
        return record.factory(built, **params)
    return record.build(built, **params)


def validate(runs: Sequence[PlannedRun]) -> None:
    """Build every distinct setup once, so a bad name or value fails before hours of
    training."""
    seen = set()
    for run in runs:
        key = run.identity(seed=0)
        if key not in seen:
            seen.add(key)
            plugins.registry.recipe(run.recipe).check_options(run.options)
            resolve(run)
