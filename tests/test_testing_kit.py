"""The plugin authors' contract checks: they pass good records and catch each kind of mistake
with a message that names the check."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import pytest

from aimc_plugins import Array, Device, Optimizer, Param, TrainingSetup, TransferRule, rule_setup
from aimc_plugins.devices.adapter import Adapted
from aimc_plugins.devices.build import adapted_device
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.host import plugins
from aimc_plugins.kit.testing import (
    ContractError,
    check_device,
    check_fidelity,
    check_learns,
    check_optimizer,
    check_pickles,
)


def soft_up(tau: float, w: np.ndarray) -> np.ndarray:
    return 1.0 - np.asarray(w) / tau


def soft_down(tau: float, w: np.ndarray) -> np.ndarray:
    return 1.0 + np.asarray(w) / tau


def make_soft(tau: float = 0.8, n_states: float = 1000.0) -> ResponseDevice:
    return ResponseDevice("soft", partial(soft_up, tau), partial(soft_down, tau), -tau, tau,
                          n_states=n_states)  # fmt: skip


def make_negative() -> ResponseDevice:
    return ResponseDevice("neg", partial(soft_up, 0.5), partial(soft_down, 0.5), -1.0, 1.0,
                          n_states=1000)  # fmt: skip


GOOD = Device("kit-soft", make_soft, parameters=(Param("tau", 0.8, low=0.1),))


def test_good_response_device_passes_every_check_and_learns():
    report = check_device(GOOD)
    assert report.results["aihwkit_device"] == "SoftBoundsDevice"
    assert report.results["fidelity_max_error"] < 1e-3
    assert report.results["accuracy"] >= 0.3
    assert "accuracy" in str(report)


def test_aihwkit_preset_device_passes_without_training():
    report = check_device(plugins.devices()["EcRam"], train=False)
    assert report.results["fidelity_max_error"] < 1e-3


def test_lambda_factory_fails_the_pickle_check_with_the_fix():
    device = Device("kit-lambda", lambda: make_soft())
    with pytest.raises(ContractError, match=r"'pickles' failed.*functools\.partial"):
        check_device(device, train=False)


def test_nested_factory_fails_the_pickle_check():
    def make():  # nested: the record itself cannot pickle either
        return make_soft()

    with pytest.raises(ContractError, match="pickles"):
        check_pickles(Device("kit-nested", make))
    assert check_pickles(GOOD) == GOOD


def test_invalid_response_fails_validation():
    with pytest.raises(ContractError, match=r"'validation' failed.*q_up positive"):
        check_device(Device("kit-negative", make_negative), train=False)


def test_out_of_range_parameter_is_rejected_before_any_tile_is_built():
    with pytest.raises(ValueError, match="below its valid range"):
        check_device(GOOD, {"tau": 0.01}, train=False)


def test_fidelity_check_catches_a_wrong_adapter(monkeypatch):
    """An adapter that silently doubles the step: what a wrong constant looks like."""
    from aimc_plugins.kit import testing

    def mis_adapted(record, params=None):
        good = adapted_device(record, params)
        doubled = replace(good.device, dw_min=2 * good.device.dw_min)
        return Adapted(doubled, good.kind, good.error, note="broken on purpose")

    monkeypatch.setattr(testing, "adapted_device", mis_adapted)
    with pytest.raises(ContractError, match="adapter fidelity"):
        check_fidelity(Device("kit-broken", make_soft))


def test_a_setup_that_cannot_learn_fails_the_training_check():
    from aimc_plugins.training.periphery import single_device_config
    from aimc_plugins.training.setup import build_device

    frozen = TrainingSetup(single_device_config(build_device("Idealized")), lr=1e-7)
    with pytest.raises(ContractError, match=r"'learns' failed.*chance is 0\.1"):
        check_learns(frozen, "frozen")


def test_builtin_sgd_and_digital_pass_the_optimizer_contract():
    optimizers = plugins.optimizers()
    assert check_optimizer(optimizers["sgd"]).results["accuracy"] >= 0.3
    report = check_optimizer(optimizers["digital"], train=False)
    assert report.results["rpu_config"] == "NoneType"


def not_a_setup(devices, lr):
    return {"lr": lr}


def zero_lr(devices, lr):
    return TrainingSetup(None, lr=0.0)


def digital_for_analog(devices, lr):
    return TrainingSetup(None, lr=lr)


LR = (Param("lr", 0.1, low=0.0, low_inclusive=False),)


@pytest.mark.parametrize(
    ("factory", "n_devices", "check"),
    [
        (not_a_setup, 1, "returns TrainingSetup"),
        (zero_lr, 0, "lr positive"),
        (digital_for_analog, 1, "rpu_config"),
    ],
)
def test_broken_optimizers_fail_the_named_check(factory, n_devices, check):
    broken = Optimizer("kit-broken", factory, parameters=LR, n_devices=n_devices)
    with pytest.raises(ContractError, match=check):
        check_optimizer(broken, train=False)


def test_bad_default_fails():
    bad = Optimizer("kit-bad", digital_for_analog, parameters=(Param("lr", -1.0, low=0.0),))
    with pytest.raises(ContractError, match="default of lr"):
        check_optimizer(bad, train=False)


@pytest.mark.parametrize("name", ["digital", "sgd", "ttv1", "ttv2", "c-ttv2", "agad", "mp"])
def test_builtin_optimizer_records_pickle(name):
    check_pickles(plugins.optimizers()[name], name)


def lambda_response() -> ResponseDevice:
    return ResponseDevice("lam", lambda w: 1 - w, lambda w: 1 + w, -1.0, 1.0, n_states=1000)


def test_lambda_response_fails_the_pickle_check_of_the_response():
    with pytest.raises(ContractError, match=r"'lam-record \(response\)': check 'pickles'"):
        check_device(Device("lam-record", lambda_response), train=False)


# Transfer rules: check_optimizer runs check_rule on a setup built with rule_setup.


class CopyP(TransferRule):
    """A working rule: the gradient goes to P, every mini-batch W += lr * read(P)."""

    gradient_array = "P"

    def after_update(self, arrays):
        arrays.write("W", arrays.lr * arrays.read("P"))


class NoAfterUpdate(TransferRule):
    """Forgot to override after_update."""


class AfterUpdateNotYet(TransferRule):
    def after_update(self, arrays):
        raise NotImplementedError("the transfer is still to be written")


class HoldsALambda(CopyP):
    def __init__(self):
        self.scale = lambda read: 0.5 * read


class KeepsALock(CopyP):
    def start(self, arrays):
        import threading

        self.lock = threading.Lock()  # a lock does not pickle


class StartFails(CopyP):
    def start(self, arrays):
        raise ValueError(f"needs at least 10 columns, got {arrays.columns}")


class MovesNothing(TransferRule):
    gradient_array = "P"

    def gradient_lr(self, lr):
        return 0.0

    def after_update(self, arrays):
        pass


def rule_factory(devices, lr, rule):
    return rule_setup(rule(), [Array("P", devices[0]), Array("W", devices[0], weight=1.0)], lr=lr)


def rule_optimizer(rule) -> Optimizer:
    return Optimizer(
        f"kit-{rule.__name__}", partial(rule_factory, rule=rule), parameters=LR, n_devices=1
    )


def test_a_rule_passes_and_its_description_is_reported():
    report = check_optimizer(rule_optimizer(CopyP), train=False)
    assert report.results["rule"] == "CopyP"
    ttv1 = plugins.optimizers()["ttv1"]
    assert check_optimizer(ttv1, train=False).results["rule"].startswith("Tiki-Taka rule")
    compiled = check_optimizer(ttv1, {"implementation": "compiled"}, train=False)
    assert "rule" not in compiled.results


@pytest.mark.parametrize(
    ("rule", "check"),
    [
        (NoAfterUpdate, r"'after_update implemented' failed: NoAfterUpdate does not override"),
        (AfterUpdateNotYet, r"'after_update implemented' failed.*still to be written"),
        (HoldsALambda, r"\(rule HoldsALambda\)': check 'pickles' failed.*lambda"),
        (KeepsALock, r"'model pickles' failed.*cannot pickle '_thread.lock'"),
        (StartFails, r"'builds a model' failed.*ValueError: needs at least 10 columns"),
        (MovesNothing, r"'one training step' failed: no array moved.*rate 0"),
    ],
)
def test_a_broken_rule_fails_the_named_check(rule, check):
    with pytest.raises(ContractError, match=check):
        check_optimizer(rule_optimizer(rule), train=False)
