"""The transfer-rule API: rules reproduce aihwkit's compiled compounds, and a plugin's own rule
trains, pickles and passes the optimizer contract without importing aihwkit's tiles."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from aimc_plugins import (
    Array,
    Arrays,
    ColumnCycle,
    Optimizer,
    Param,
    TransferRule,
    build_device,
    check_optimizer,
    events_due,
    rule_config,
    rule_setup,
    tiki_taka_setup,
    transfer_setup,
)
from aimc_plugins.kit.testing import deterministic_config, noise_free_device


def compiled_arrays(layer) -> list[torch.Tensor]:
    """The arrays of aihwkit's compiled compound, gradient array first."""
    hidden = next(layer.analog_tiles()).get_hidden_parameters()
    return [value.clone() for key, value in hidden.items() if key.startswith("hidden_weights_")]


def set_compiled_weights(layer, weights: torch.Tensor) -> None:
    """All of ``weights`` on the compound's last (slow) array, the others 0, as a rule does."""
    tile = next(layer.analog_tiles())
    hidden = tile.get_hidden_parameters()
    keys = [key for key in hidden if key.startswith("hidden_weights_")]
    for key in keys:
        hidden[key] = torch.zeros_like(weights)
    hidden[keys[-1]] = weights.clone()
    tile.set_hidden_parameters(hidden)


def rule_arrays(layer) -> Arrays:
    return next(layer.analog_tiles()).tile.handle


def train_side_by_side(compiled_config, rule_config_, lr: float, steps: int):
    """Both layers from the same weights, the same batches: yields after every step."""
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    torch.manual_seed(0)
    compiled = AnalogLinear(6, 4, bias=False, rpu_config=compiled_config)
    rule = AnalogLinear(6, 4, bias=False, rpu_config=rule_config_)
    start = torch.rand(4, 6) * 0.4 - 0.2
    set_compiled_weights(compiled, start)
    rule.set_weights(start)
    optimizers = []
    for layer in (compiled, rule):
        optimizer = AnalogSGD(layer.parameters(), lr=lr)
        optimizer.regroup_param_groups(layer)
        optimizers.append(optimizer)
    inputs, targets = torch.rand(3, 6), torch.rand(3, 4)
    for _ in range(steps):
        for layer, optimizer in zip((compiled, rule), optimizers, strict=True):
            optimizer.zero_grad()
            ((layer(inputs) - targets) ** 2).sum().backward()
            optimizer.step()
        yield compiled, rule


@pytest.mark.parametrize(("gamma", "n_reads"), [(0.0, 0), (0.3, 0), (0.0, 4)])
def test_tiki_taka_rule_is_aihwkit_transfer_compound(gamma: float, n_reads: int) -> None:
    """Tiki-Taka v1 (gamma 0) and residual learning (gamma 0.3), whole-matrix and partial
    transfers (4 of 6 columns, cycling): the rule's P and W equal the compiled compound's."""
    from aimc_plugins import aihwkit_reads

    settings = dict(residual_device="", alpha=0.5, beta=0.7, transfer_every=1.0)
    compiled = transfer_setup(
        "ttv1",
        [noise_free_device()],
        gamma=gamma,
        n_reads_per_transfer=aihwkit_reads(n_reads),
        **settings,
    )
    rule = tiki_taka_setup(
        "ttv1", [noise_free_device()], gamma=gamma, n_reads_per_transfer=n_reads, **settings
    )
    moved = 0.0
    for compiled_layer, rule_layer in train_side_by_side(
        deterministic_config(compiled.rpu_config),
        deterministic_config(rule.rpu_config),
        lr=0.7,
        steps=4,
    ):
        p_compiled, w_compiled = compiled_arrays(compiled_layer)
        arrays = rule_arrays(rule_layer)
        assert torch.allclose(arrays.weights("P"), p_compiled, atol=1e-6)
        assert torch.allclose(arrays.weights("W"), w_compiled, atol=1e-6)
        assert torch.allclose(rule_layer.get_weights()[0], compiled_layer.get_weights()[0])
        moved = max(moved, float(p_compiled.abs().max()))
    assert moved > 0.1  # the arrays moved: the comparison is not of two idle layers


def test_ttv1_runs_as_a_rule_and_compiled_on_request() -> None:
    from aihwkit.simulator.configs import TransferCompound

    from aimc_plugins import build_setup
    from aimc_plugins.rules.tile import RuleCompound

    assert isinstance(build_setup(["EcRam"], "ttv1", {}).rpu_config.device, RuleCompound)
    compiled = build_setup(["EcRam"], "ttv1", {"implementation": "compiled"})
    assert type(compiled.rpu_config.device) is TransferCompound


def test_schedule_and_column_helpers() -> None:
    assert [events_due(step, 1.0) for step in range(1, 5)] == [1, 1, 1, 1]
    assert [events_due(step, 2.5) for step in range(1, 11)] == [0, 0, 1, 0, 1, 0, 0, 1, 0, 1]
    assert events_due(3, 0.25) == 4
    assert events_due(5, 0.0) == 0
    cycle = ColumnCycle(6)
    assert cycle.take(4).tolist() == [0, 1, 2, 3]
    assert cycle.take(4).tolist() == [4, 5, 0, 1]  # aihwkit's order (measured)
    assert cycle.take(0) is None and cycle.take(6) is None  # all columns, no index built


class DecayingTransfer(TransferRule):
    """A new variant in a few lines: P is transferred into W and then decays by ``keep``."""

    gradient_array = "P"

    def __init__(self, alpha: float, keep: float) -> None:
        self.alpha = alpha
        self.keep = keep

    def gradient_lr(self, lr: float) -> float:
        return self.alpha

    def start(self, arrays: Arrays) -> None:
        self.transfers = 0

    def after_update(self, arrays: Arrays) -> None:
        read = arrays.read("P")
        arrays.write("W", arrays.lr * read)
        arrays.write("P", (self.keep - 1.0) * read)
        self.transfers += 1


def decaying_setup(devices, alpha: float, beta: float, keep: float):
    main, residual = copy.deepcopy(devices[0]), copy.deepcopy(devices[0])
    return rule_setup(
        DecayingTransfer(alpha, keep),
        [Array("P", residual), Array("W", main, weight=1.0)],
        lr=beta,
    )


DECAYING = Optimizer(
    name="decaying-transfer",
    factory=decaying_setup,
    parameters=(
        Param("alpha", 0.1, "rate onto P", low=0.0, low_inclusive=False),
        Param("beta", 0.2, "transfer rate", low=0.0, low_inclusive=False),
        Param("keep", 0.5, "fraction of P kept after a transfer", low=0.0, high=1.0),
    ),
)


def test_a_plugin_rule_trains_pickles_and_passes_the_contract() -> None:
    """The done-when of the transfer-rule API: a rule written against the public names only."""
    report = check_optimizer(DECAYING)
    assert report.results["accuracy"] > 0.3
    from aimc_plugins.training.loop import to_analog

    setup = DECAYING.build([build_device("Idealized")])
    model = to_analog(torch.nn.Sequential(torch.nn.Linear(5, 3)), setup)
    model(torch.rand(2, 5)).sum().backward()
    clone = pickle.loads(pickle.dumps(model))
    inputs = torch.rand(4, 5)
    assert torch.allclose(clone[0].get_weights()[0], model[0].get_weights()[0])
    # the unpickled tile's rule acts on its own arrays
    arrays = next(clone[0].analog_tiles()).tile.handle
    assert arrays.weights("W").shape == (3, 5) and clone(inputs).shape == (4, 3)


def test_every_tile_has_its_own_rule_state() -> None:
    from aimc_plugins.training.loop import make_optimizer, to_analog

    setup = DECAYING.build([build_device("Idealized")])
    model = to_analog(torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Linear(4, 3)), setup)
    optimizer = make_optimizer(model, setup)
    model(torch.rand(2, 5)).sum().backward()
    optimizer.step()
    rules = [layer.analog_module.tile.rule for layer in model]
    assert rules[0] is not rules[1] and [rule.transfers for rule in rules] == [1, 1]
    assert setup.rpu_config.device.rule.__dict__.get("transfers") is None  # the prototype


def test_reads_and_writes_address_the_columns_given() -> None:
    setup = rule_setup(
        DecayingTransfer(0.1, 1.0),
        [Array("P", noise_free_device()), Array("W", noise_free_device(), weight=1.0)],
        lr=0.1,
    )
    from aimc_plugins.training.loop import to_analog

    layer = to_analog(torch.nn.Sequential(torch.nn.Linear(5, 3, bias=False)), setup)[0]
    arrays = rule_arrays(layer)
    before = arrays.weights("W")
    arrays.write("W", torch.full((3, 2), 0.01), [1, 3])
    change = arrays.weights("W") - before
    assert (change != 0).any(dim=0).tolist() == [False, True, False, True, False]
    assert torch.allclose(change[:, [1, 3]], torch.full((3, 2), 0.01), atol=2e-3)
    arrays.pulse("P", torch.full((3, 1), 3.0), [4])  # P starts at 0; three pulses of 0.001
    assert torch.allclose(arrays.weights("P")[:, 4], torch.full((3,), 0.003), atol=1.5e-3)
    assert arrays.read("P", [4]).shape == (3, 1)
    with pytest.raises(KeyError, match="this rule's arrays: P, W"):
        arrays.read("Q")


def test_bad_rule_declarations_are_refused_with_the_reason() -> None:
    device = noise_free_device()
    rule = DecayingTransfer(0.1, 0.5)
    with pytest.raises(ValueError, match="non-zero weight"):
        rule_config(rule, [Array("P", device), Array("W", device)])
    with pytest.raises(ValueError, match="must differ"):
        rule_config(rule, [Array("P", device), Array("P", device, weight=1.0)])
    with pytest.raises(ValueError, match="gradient_array is 'P'"):
        rule_config(rule, [Array("A", device), Array("W", device, weight=1.0)])
    with pytest.raises(TypeError, match="TransferRule"):
        rule_config(object(), [Array("W", device, weight=1.0)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="identifier"):
        Array("not a name", device)


def test_each_arrays_post_update_step_runs_once_per_mini_batch() -> None:
    """aihwkit's AnalogSGD calls the post-update step (decay, diffusion) of every analog tile
    it finds, the arrays' own tiles included: the rule tile must not call it again."""
    from aimc_plugins.training.loop import make_optimizer, to_analog

    setup = DECAYING.build([build_device("Idealized")])
    model = to_analog(torch.nn.Sequential(torch.nn.Linear(5, 3)), setup)
    calls: list[str] = []
    handle = next(model[0].analog_tiles()).tile.handle
    for name, module in handle.modules.items():
        original = module.post_update_step

        def counted(original=original, name=name) -> None:
            calls.append(name)
            original()

        module.post_update_step = counted
    optimizer = make_optimizer(model, setup)
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.rand(2, 5)).sum().backward()
        optimizer.step()
    assert sorted(calls) == ["P", "P", "W", "W"]


def test_the_initial_weights_never_go_to_the_gradient_array() -> None:
    """Residual learning at gamma >= 1 sees P at least as much as W; still W holds the initial
    weights and P starts at 0, as in aihwkit's compounds."""
    setup = tiki_taka_setup(
        "rl",
        [noise_free_device()],
        residual_device="",
        alpha=0.1,
        beta=0.1,
        gamma=2.0,
        transfer_every=1.0,
        n_reads_per_transfer=0,
    )
    from aimc_plugins.training.loop import to_analog

    layer = to_analog(torch.nn.Sequential(torch.nn.Linear(4, 3, bias=False)), setup)[0]
    weights = torch.rand(3, 4) * 0.4 - 0.2
    layer.set_weights(weights)
    arrays = rule_arrays(layer)
    assert torch.equal(arrays.weights("P"), torch.zeros(3, 4))
    assert torch.allclose(arrays.weights("W"), weights, atol=1e-6)


def test_a_layer_with_analog_bias_is_refused_when_built() -> None:
    from aihwkit.exceptions import ConfigError
    from aihwkit.nn import AnalogLinear

    config = DECAYING.build([noise_free_device()]).rpu_config
    config.mapping.digital_bias = False
    with pytest.raises(ConfigError, match="digital_bias"):
        AnalogLinear(4, 3, bias=True, rpu_config=config)
    AnalogLinear(4, 3, bias=False, rpu_config=config)  # no bias at all: fine
