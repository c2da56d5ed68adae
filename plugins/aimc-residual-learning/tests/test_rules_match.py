"""rl, rlv2 and mtrl as transfer rules reproduce their counterparts value for value: aihwkit's
compiled TransferCompound (rl, and mtrl as its chain of devices) and the earlier RLv2 tile
(rlv2, which aihwkit does not compile), with perfect reads and deterministic pulse trains."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from aimc_plugins.host import plugins
from aimc_plugins.kit.testing import deterministic_config, noise_free_device


def build(optimizer: str, **params: Any) -> Any:
    setup = plugins.optimizers()[optimizer].build([noise_free_device()], **params)
    return deterministic_config(setup.rpu_config)


def side_by_side(reference: Any, rule: Any, lr: float, steps: int) -> Iterator[tuple[Any, Any]]:
    """Both layers from the same weights (on the slowest array), the same batches."""
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    torch.manual_seed(0)
    layers = [AnalogLinear(6, 4, bias=False, rpu_config=c) for c in (reference, rule)]
    start = torch.rand(4, 6) * 0.4 - 0.2
    for layer in layers:
        layer.set_weights(start)
    optimizers = []
    for layer in layers:
        optimizer = AnalogSGD(layer.parameters(), lr=lr)
        optimizer.regroup_param_groups(layer)
        optimizers.append(optimizer)
    inputs, targets = torch.rand(3, 6), torch.rand(3, 4)
    for _ in range(steps):
        for layer, optimizer in zip(layers, optimizers, strict=True):
            optimizer.zero_grad()
            ((layer(inputs) - targets) ** 2).sum().backward()
            optimizer.step()
        yield layers[0], layers[1]


def compiled_arrays(layer: Any) -> list[torch.Tensor]:
    """aihwkit's compound arrays, gradient array first."""
    hidden = next(layer.analog_tiles()).get_hidden_parameters()
    return [v.clone() for k, v in hidden.items() if k.startswith("hidden_weights_")]


def test_rl_rule_is_the_compiled_transfer_compound() -> None:
    settings = dict(alpha=0.5, beta=0.7, gamma=0.3)
    compiled = build("rl", implementation="compiled", **settings)
    rule = build("rl", **settings)
    for reference, layer in side_by_side(compiled, rule, lr=0.7, steps=4):
        p, w = compiled_arrays(reference)
        arrays = next(layer.analog_tiles()).tile.handle
        assert torch.allclose(arrays.weights("P"), p, atol=1e-6)
        assert torch.allclose(arrays.weights("W"), w, atol=1e-6)
    assert float(p.abs().max()) > 0.1


@pytest.mark.parametrize("tiles", [2, 3])
def test_mtrl_rule_is_the_compiled_chain(tiles: int) -> None:
    """Multi-tile residual learning = aihwkit's TransferCompound with ``tiles`` devices,
    gamma_vec gamma^(N-1-i), transfer_every_vec and transfer_lr_vec growing per link."""
    settings = dict(alpha=0.5, beta=0.7, tiles=tiles, gamma=0.5, transfer_every=1.0)
    compiled = build("mtrl", implementation="compiled", **settings)
    rule = build("mtrl", **settings)
    for reference, layer in side_by_side(compiled, rule, lr=0.7, steps=6):
        arrays = next(layer.analog_tiles()).tile.handle
        for index, values in enumerate(compiled_arrays(reference)):
            assert torch.allclose(arrays.weights(f"W{tiles - 1 - index}"), values, atol=1e-6)
        assert torch.allclose(layer.get_weights()[0], reference.get_weights()[0], atol=1e-6)
    assert float(arrays.weights("W1").abs().max()) > 0.05  # transfers reached the upper tile


@pytest.mark.parametrize("gamma", [0.0, 0.4])
def test_rlv2_rule_is_the_earlier_rlv2_tile(gamma: float) -> None:
    from aimc_residual_learning.rlv2 import legacy_rlv2_config

    settings = dict(
        alpha=0.5,
        gamma=gamma,
        transfer_every=1.0,
        n_reads_per_transfer=4,
        threshold=1.0,
        max_pulses=8,
        buffer_decay=True,
    )
    rule = build("rlv2", beta=0.3, **settings)
    legacy = legacy_rlv2_config(noise_free_device(), noise_free_device(), **settings)
    # the same pulse settings for W's writes (the rule's train is as long as the event's
    # largest count, 0.2.0), so that what is compared is the transfer rule
    legacy.device.transfer_update = copy.deepcopy(rule.device.transfer_update)
    legacy = deterministic_config(legacy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for reference, layer in side_by_side(legacy, rule, lr=0.3, steps=6):
            sim = next(reference.analog_tiles()).tile
            arrays = next(layer.analog_tiles()).tile.handle
            assert torch.allclose(arrays.weights("P"), sim.grad_tile.tile.get_weights(), atol=1e-6)
            assert torch.allclose(
                arrays.weights("W"), sim.weight_tile.tile.get_weights(), atol=1e-6
            )
            rule_buffer = next(layer.analog_tiles()).tile.rule.buffer
            assert torch.allclose(rule_buffer, sim.buffer(), atol=1e-6)
    assert float(sim.weight_tile.tile.get_weights().abs().max()) > 0.0


def test_rlv2_fires_what_the_buffer_holds_under_analog_sgd() -> None:
    """AnalogSGD sets the learning rate of every analog tile it finds, inner ones included;
    the earlier RLv2 tile's W then fired max_pulses on every crossing. The rule sets the write's
    rate itself: W moves by trunc(beta P / dw_min) pulses, at most max_pulses."""
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    config = build(
        "rlv2",
        alpha=0.5,
        beta=0.3,
        gamma=0.0,
        n_reads_per_transfer=0,
        max_pulses=8,
    )
    from aihwkit.simulator.parameters.enums import PulseType

    # exact writes: deterministic pulse trains without update management are not (8 pulses
    # requested fire 3), float writes of whole pulses are
    config.device.transfer_update.pulse_type = PulseType.NONE
    torch.manual_seed(0)
    layer = AnalogLinear(6, 4, bias=False, rpu_config=config)
    arrays = next(layer.analog_tiles()).tile.handle
    start = arrays.weights("W")
    optimizer = AnalogSGD(layer.parameters(), lr=0.3)
    optimizer.regroup_param_groups(layer)
    ((layer(torch.rand(3, 6)) - torch.rand(3, 4)) ** 2).sum().backward()
    optimizer.step()
    expected = torch.trunc(0.3 * arrays.weights("P") / 0.001).clamp(-8, 8)
    assert (expected.abs() < 8).any() and (expected != 0).any()  # not all saturated or idle
    assert torch.allclose((arrays.weights("W") - start) / 0.001, expected, atol=1e-3)
