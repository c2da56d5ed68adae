"""Contract checks that plugin authors call from their own tests.

A third-party device or optimizer has to survive everything the host will do with it: the host
validates it, adapts it to aihwkit, trains with it, and ships its records to process-pool and
Dask workers by pickling them. Each ``check_*`` function here exercises one of those paths on the
author's record and raises :class:`ContractError` (an ``AssertionError``, so pytest shows it as a
test failure) naming the check that failed and how to fix it::

    from aimc_plugins.kit.testing import check_device, check_optimizer

    def test_my_device():
        check_device(my_device_record)

    def test_my_optimizer():
        check_optimizer(my_optimizer_record)

Both return a :class:`ContractReport` with what was measured (fidelity error, accuracy), so a
test can assert more than the contract asks.
"""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aimc_plugins.devices.build import adapted_device, device_config, device_response
from aimc_plugins.host.records import Device, Optimizer, RunConfig, TrainingSetup

TRAIN_RECIPE = "digits-mlp"
TRAIN_EPOCHS = 1
# Chance on digits is 0.1. One epoch of Analog SGD on an ordinary device reaches 0.6-0.9
# (ReRamSB 0.55, Idealized 0.85, power g=0.5 0.8 measured); 0.3 says "it learns" without
# failing a device that is merely poor, which is the author's finding to make, not a bug.
MIN_ACCURACY = 0.3
FIDELITY_SLACK = 1e-5  # beyond the adapter's own error and float32 rounding
REFERENCE_DEVICE = "Idealized"  # aihwkit's near-ideal preset: optimizers are checked on it


class ContractError(AssertionError):
    """A plugin record broke the host's contract; the message names the check."""


@dataclass
class ContractReport:
    """What the checks measured, check by check (name -> figure or note)."""

    name: str
    results: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"contract checks for {self.name!r}:"]
        lines += [f"  {key}: {value}" for key, value in self.results.items()]
        return "\n".join(lines)


def _fail(name: str, check: str, detail: str) -> ContractError:
    return ContractError(f"{name!r}: check {check!r} failed: {detail}")


def check_pickles(obj: Any, what: str = "") -> Any:
    """``obj`` survives ``pickle`` (a sweep sends records and configs to worker processes).

    The usual cause of failure is a ``lambda`` or a function defined inside another function
    as a factory or response: use a module-level function, bound with ``functools.partial``.
    """
    label = what or type(obj).__name__
    try:
        return pickle.loads(pickle.dumps(obj))
    except Exception as exc:
        raise _fail(
            label,
            "pickles",
            f"{type(exc).__name__}: {exc}. Process and Dask workers receive records by "
            "pickle: use module-level functions (bound with functools.partial), not lambdas "
            "or nested functions",
        ) from exc


def check_device_record(device: Device) -> None:
    """The record is a :class:`Device` with a name, a callable factory and unique parameters."""
    if not isinstance(device, Device):
        raise _fail(str(device), "record type", f"expected Device, got {type(device).__name__}")
    if not device.name or "(" in device.name or ")" in device.name:
        raise _fail(device.name, "name", "must be non-empty and free of parentheses")
    if not callable(device.factory):
        raise _fail(device.name, "factory callable", repr(device.factory))
    names = [p.name for p in device.parameters]
    if len(set(names)) != len(names):
        raise _fail(device.name, "parameters unique", f"{names}")


def check_response(device: Device, params: Mapping[str, Any] | None = None) -> Any:
    """The factory's product validates (a response device) or is a response aihwkit can derive;
    returns the (validated) response."""
    from aimc_plugins.devices.config_response import UnsupportedDevice
    from aimc_plugins.devices.response import ResponseError

    try:
        return device_response(device, params)
    except ResponseError as exc:
        raise _fail(device.name, "validation", str(exc)) from exc
    except UnsupportedDevice as exc:
        raise _fail(device.name, "response derivable", str(exc)) from exc


def check_fidelity(
    device: Device, params: Mapping[str, Any] | None = None, points: int = 61
) -> float:
    """Single pulses on a real aihwkit tile built from the adapted config reproduce the declared
    response: to the adapter's own table error plus float32 resolution. Returns the max error.

    This measures the whole chain (factory, adapter, compiled core), so a mistake anywhere in it,
    a wrong sign, a constant folded twice, shows up here and not as a puzzling training curve.
    """
    from aimc_plugins.devices.characterize import characterize

    params = dict(params or {})
    response = check_response(device, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a node-cap warning is judged by the error below
        adapted = adapted_device(device, params)
    result = characterize(response, adapted.device, points=points, kind=adapted.kind)
    allowed = adapted.error * 1.05 + result.resolution + FIDELITY_SLACK
    if not result.max_error <= allowed:
        raise _fail(
            device.name,
            "adapter fidelity",
            f"measured steps differ from the declared response by {result.max_error:.3g} "
            f"(of dw_min q); allowed {allowed:.3g} (adapter {adapted.kind}, {adapted.note})",
        )
    return result.max_error


def check_learns(
    setup: TrainingSetup,
    name: str,
    epochs: int = TRAIN_EPOCHS,
    min_accuracy: float = MIN_ACCURACY,
    seed: int = 0,
) -> float:
    """A short run of the digits recipe with ``setup`` reaches ``min_accuracy``; returns it."""
    from aimc_plugins.host import plugins

    recipe = plugins.registry.recipe(TRAIN_RECIPE)
    result = recipe.run(RunConfig(setup=setup, seed=seed, epochs=epochs))
    accuracy = float(result.final.get("test_accuracy", math.nan))
    if not accuracy >= min_accuracy:  # NaN (diverged) fails too
        raise _fail(
            name,
            "learns",
            f"{TRAIN_RECIPE} test accuracy {accuracy:.3f} after {epochs} epoch(s), "
            f"below {min_accuracy} (chance is 0.1)",
        )
    return accuracy


def check_device(
    device: Device,
    params: Mapping[str, Any] | None = None,
    *,
    train: bool = True,
    epochs: int = TRAIN_EPOCHS,
    min_accuracy: float = MIN_ACCURACY,
    lr: float = 0.1,
) -> ContractReport:
    """Every check a device plugin must pass: record, pickling (record and built config),
    validation, adapter fidelity on a real tile, and (``train=True``) that Analog SGD with it
    learns digits. ``params`` are device parameters, as in ``name(k=v)``."""
    from aimc_plugins.training.periphery import single_device_config

    params = dict(params or {})
    report = ContractReport(device.name)
    check_device_record(device)
    check_pickles(device, f"{device.name} (Device record)")
    response = check_response(device, params)
    check_pickles(response, f"{device.name} (response)")
    report.results["response"] = type(response).__name__
    built = device_config(device, params)
    check_pickles(built, f"{device.name} (built aihwkit config)")
    report.results["aihwkit_device"] = type(built).__name__
    report.results["fidelity_max_error"] = check_fidelity(device, params)
    if train:
        setup = TrainingSetup(single_device_config(built), lr=lr, description="check_device")
        report.results["accuracy"] = check_learns(setup, device.name, epochs, min_accuracy)
    return report


def check_optimizer(
    optimizer: Optimizer,
    params: Mapping[str, Any] | None = None,
    devices: Sequence[Any] | None = None,
    *,
    train: bool = True,
    epochs: int = TRAIN_EPOCHS,
    min_accuracy: float = MIN_ACCURACY,
) -> ContractReport:
    """Every check an optimizer plugin must pass: record, pickling (record and RPU config), the
    default hyper-parameters valid, a :class:`TrainingSetup` with a positive finite lr, and
    (``train=True``) that it learns digits. ``devices`` are aihwkit device configs; by default
    aihwkit's near-ideal ``Idealized`` preset, once per array the optimizer needs.

    A setup built with :func:`~aimc_plugins.rules.setup.rule_setup` (a transfer rule) also
    passes :func:`check_rule`; ``results["rule"]`` is the rule's ``describe()``."""
    from aimc_plugins.training.setup import build_device

    name = optimizer.name
    report = ContractReport(name)
    if not isinstance(optimizer, Optimizer):
        raise _fail(str(optimizer), "record type", f"expected Optimizer, got {type(optimizer)}")
    if not callable(optimizer.factory):
        raise _fail(name, "factory callable", repr(optimizer.factory))
    if optimizer.n_devices < 0:
        raise _fail(name, "n_devices", f"{optimizer.n_devices} is negative")
    for param in optimizer.parameters:
        try:
            param.coerce(param.default)
        except ValueError as exc:
            raise _fail(name, f"default of {param.name}", str(exc)) from exc
    check_pickles(optimizer, f"{name} (Optimizer record)")
    if devices is None:
        devices = [build_device(REFERENCE_DEVICE)] * optimizer.n_devices
    setup = optimizer.build(list(devices), **dict(params or {}))
    if not isinstance(setup, TrainingSetup):
        raise _fail(name, "returns TrainingSetup", f"got {type(setup).__name__}")
    if not (math.isfinite(setup.lr) and setup.lr > 0):
        raise _fail(name, "lr positive", f"lr={setup.lr!r}")
    if setup.rpu_config is None and optimizer.n_devices > 0:
        raise _fail(name, "rpu_config", "None (digital) although the optimizer takes devices")
    rule = rule_of(setup)
    if rule is not None:  # checked before the setup, so a failure names the rule
        report.results["rule"] = check_rule(setup, name)
    check_pickles(setup, f"{name} (TrainingSetup)")
    report.results["rpu_config"] = type(setup.rpu_config).__name__
    if train:
        report.results["accuracy"] = check_learns(setup, name, epochs, min_accuracy)
    return report


def rule_of(setup: TrainingSetup) -> Any:
    """The transfer rule of ``setup`` (its ``rpu_config.device`` is a rule compound, as
    :func:`~aimc_plugins.rules.setup.rule_setup` builds it), or ``None``."""
    if setup.rpu_config is None:
        return None
    from aimc_plugins.rules.tile import RuleCompound

    device = getattr(setup.rpu_config, "device", None)
    return device.rule if isinstance(device, RuleCompound) else None


def check_rule(setup: TrainingSetup, name: str = "rule") -> str:
    """The transfer rule of ``setup`` survives what the host does with it; returns its
    ``describe()``.

    Checked in order, each failure a :class:`ContractError` naming the check: the rule is a
    :class:`~aimc_plugins.rules.rule.TransferRule` (``rule type``) that overrides
    ``after_update`` (``after_update implemented``); it pickles and deep-copies (the host gives
    every tile its own deep copy, sweeps pickle configs); a two-layer model builds with it
    (``builds a model``: the rule's ``start`` runs per tile); one training step runs the rule and
    moves an array (``one training step``; an ``after_update`` that raises
    ``NotImplementedError`` fails ``after_update implemented``); the trained model deep-copies
    and pickles with the rule's state (``model pickles``) and the copy trains on.
    """
    import copy

    from aimc_plugins.rules.rule import TransferRule

    rule = rule_of(setup)
    if not isinstance(rule, TransferRule):
        raise _fail(name, "rule type", f"expected a TransferRule, got {type(rule).__name__}")
    kind = type(rule).__name__
    label = f"{name} (rule {kind})"
    if type(rule).after_update is TransferRule.after_update:
        raise _fail(
            label,
            "after_update implemented",
            f"{kind} does not override TransferRule.after_update(arrays), so it never acts on "
            "its arrays after a gradient update",
        )
    try:
        text = str(rule.describe())
    except Exception as exc:
        raise _fail(label, "describe", f"{type(exc).__name__}: {exc}") from exc
    check_pickles(rule, label)
    try:
        copy.deepcopy(rule)
    except Exception as exc:
        raise _fail(
            label,
            "deep-copies",
            f"{type(exc).__name__}: {exc}. Every analog tile gets its own deep copy of the "
            "rule: keep hyper-parameters and torch tensors on it",
        ) from exc
    model = _rule_model(setup, label)
    _rule_step(model, setup, label)
    for how, clone_of in (("deep-copies", copy.deepcopy), ("pickles", _pickled)):
        try:
            clone = clone_of(model)
        except Exception as exc:
            raise _fail(
                label,
                "model pickles",
                f"a trained model {how.replace('-', ' ')}: {type(exc).__name__}: {exc}. "
                "Keep the rule's state as torch tensors or plain values (no open files, "
                "locks or compiled objects of its own)",
            ) from exc
        for mine, theirs in zip(_rule_tiles(model), _rule_tiles(clone), strict=True):
            if not bool((mine.get_weights() == theirs.get_weights()).all()):
                raise _fail(label, "model pickles", f"the {how} model's weights differ")
        _rule_step(clone, setup, f"{label}, {how} model")
    return text


def _pickled(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj))


def _rule_tiles(model: Any) -> list[Any]:
    """The rule simulator tiles of a model, one per analog layer."""
    from aimc_plugins.rules.tile import RuleSimulatorTile

    found = [tile.tile for tile in model.analog_tiles()]
    return [tile for tile in found if isinstance(tile, RuleSimulatorTile)]


def _rule_model(setup: TrainingSetup, label: str) -> Any:
    import torch

    from aimc_plugins.training.loop import to_analog

    network = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    try:
        return to_analog(network, setup)
    except Exception as exc:
        raise _fail(
            label,
            "builds a model",
            f"building analog layers (the rule's start(arrays) runs per tile) raised "
            f"{type(exc).__name__}: {exc}",
        ) from exc


def _rule_step(model: Any, setup: TrainingSetup, label: str) -> None:
    """One mini-batch of a least-squares step: it must run the rule and move some array."""
    import torch

    from aimc_plugins.training.loop import make_optimizer

    tiles = _rule_tiles(model)
    before = [
        {array: tile.handle.weights(array).clone() for array in tile.handle.names} for tile in tiles
    ]
    steps = [tile.handle.step for tile in tiles]
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(8, 6, generator=generator)
    optimizer = make_optimizer(model, setup)
    optimizer.zero_grad()
    ((model(inputs) - 1.0) ** 2).sum().backward()
    try:
        optimizer.step()
    except NotImplementedError as exc:
        raise _fail(
            label,
            "after_update implemented",
            f"one training step raised NotImplementedError: {exc}",
        ) from exc
    except Exception as exc:
        raise _fail(
            label,
            "one training step",
            f"the rule's gradient update or after_update(arrays) raised "
            f"{type(exc).__name__}: {exc}",
        ) from exc
    for tile, old, step in zip(tiles, before, steps, strict=True):
        if tile.handle.step != step + 1:
            raise _fail(label, "one training step", "the step did not reach the rule's tile")
        moved = [name for name, w in old.items() if not torch.equal(w, tile.handle.weights(name))]
        if not moved:
            raise _fail(
                label,
                "one training step",
                f"no array moved in one step (gradient array {tile.gradient_name!r} at rate "
                f"{tile.rule.gradient_lr(setup.lr):g}): the gradient's pulses or the rule's "
                "writes never reach the arrays",
            )


def noise_free_device(dw_min: float = 0.001) -> Any:
    """A constant-step aihwkit device without any variation between pulses or devices: one
    pulse moves it by exactly ``dw_min``, within [-1, 1]. With :func:`deterministic_config`,
    the setting in which a rule can be compared with a compiled compound value for value."""
    from aihwkit.simulator.configs.devices import ConstantStepDevice

    return ConstantStepDevice(
        dw_min=dw_min,
        dw_min_dtod=0.0,
        dw_min_std=0.0,
        w_max_dtod=0.0,
        w_min_dtod=0.0,
        up_down_dtod=0.0,
        up_down=0.0,
        w_max=1.0,
        w_min=-1.0,
    )


def deterministic_config(rpu_config: Any) -> Any:
    """A copy of a transfer config (a rule's or an aihwkit compound's) with perfect reads and
    deterministic pulse trains (aihwkit's ``DETERMINISTIC_IMPLICIT``) for the gradient and the
    transfer writes, so that two implementations of one algorithm can be compared exactly."""
    import copy

    from aihwkit.simulator.parameters.enums import PulseType

    config = copy.deepcopy(rpu_config)
    config.forward.is_perfect = True
    config.backward.is_perfect = True
    config.update.pulse_type = PulseType.DETERMINISTIC_IMPLICIT
    config.device.transfer_forward.is_perfect = True
    config.device.transfer_update.pulse_type = PulseType.DETERMINISTIC_IMPLICIT
    return config
