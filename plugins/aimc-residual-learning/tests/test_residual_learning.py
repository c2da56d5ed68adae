"""rl and rlv2: registration, configs, zero shift measured on aihwkit, RLv2's transfer rule
inspected step by step, and learning."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from aimc_residual_learning.rules import RLv2Rule
from aimc_residual_learning.zero_shift import (
    ZeroShiftError,
    measured_symmetric_point,
    symmetric_point,
    zero_shifted,
)
from click.testing import CliRunner

from aimc_plugins import Device, ParameterError, hookimpl
from aimc_plugins.host import plugins
from aimc_plugins.host.records import RunConfig
from aimc_plugins.training.setup import build_setup

ALL_NINE = ("digital", "sgd", "ttv1", "ttv2", "c-ttv2", "agad", "mp", "rl", "rlv2")


def test_cli_lists_all_nine_optimizers_with_schemas() -> None:
    from aimc_plugins.cli.main import cli

    result = CliRunner().invoke(cli, ["optimizers", "--json"], catch_exceptions=False)
    listed = {record["name"]: record for record in json.loads(result.output)}
    assert set(ALL_NINE) <= set(listed)
    assert listed["rl"]["plugin"] == "residual_learning"
    schema = {p["name"]: p for p in listed["rlv2"]["parameters"]}
    assert schema["beta"]["range"] == "(0, 1]"
    assert schema["zero_shift"]["range"] == "{auto, require, off}"
    assert all(p["help"] for r in listed.values() for p in r["parameters"])


# --- zero shift -------------------------------------------------------------------------------


def _devices() -> dict[str, Any]:
    from aihwkit.simulator.configs import PiecewiseStepDevice, PowStepDevice, SoftBoundsDevice

    return {
        "soft bounds c=0.3": SoftBoundsDevice(w_max=1, w_min=-1, dw_min=0.01, up_down=0.3),
        "soft bounds c=-0.2": SoftBoundsDevice(w_max=0.8, w_min=-1.2, dw_min=0.01, up_down=-0.2),
        "pow step": PowStepDevice(
            w_max=1, w_min=-1, dw_min=0.01, up_down=0.2, pow_gamma=2.0, pow_gamma_dtod=0.0
        ),
        # pow_up_down: aihwkit's core shortens only one exponent (not gamma (1 +- b) both ways)
        "pow step, exponent bias": PowStepDevice(
            w_max=1,
            w_min=-1,
            dw_min=0.01,
            up_down=-0.1,
            pow_gamma=2.5,
            pow_gamma_dtod=0.0,
            pow_up_down=0.3,
            pow_up_down_dtod=0.0,
        ),
        "piecewise": PiecewiseStepDevice(
            w_max=1,
            w_min=-1,
            dw_min=0.01,
            piecewise_up=[1.6, 1.3, 1.0, 0.7, 0.4],
            piecewise_down=[0.2, 0.5, 0.8, 1.1, 1.4],
            w_min_dtod=0.0,
            w_max_dtod=0.0,
        ),
    }


@pytest.mark.parametrize("name", list(_devices()))
def test_zero_shift_moves_the_simulated_symmetric_point_to_zero(name: str) -> None:
    device = _devices()[name]
    before = measured_symmetric_point(device)
    assert symmetric_point(device) == pytest.approx(before, abs=0.01)  # formula == simulator
    assert abs(before) > 0.05
    shifted, note = zero_shifted(device)
    assert "shifted" in note
    assert abs(measured_symmetric_point(shifted)) < 0.01


def test_reference_devices_subtract_their_symmetric_point() -> None:
    from aihwkit.simulator.configs import SoftBoundsReferenceDevice

    device = SoftBoundsReferenceDevice(w_max=1, w_min=-1, dw_min=0.01, up_down=0.3)
    assert abs(measured_symmetric_point(device)) > 0.1
    shifted, note = zero_shifted(device)
    assert shifted.subtract_symmetry_point and note == "reference at w*"
    assert abs(measured_symmetric_point(shifted)) < 0.01


def test_families_without_an_exact_shift_are_refused_or_left_alone() -> None:
    from aihwkit.simulator.configs import ConstantStepDevice, LinearStepDevice

    with pytest.raises(ZeroShiftError, match="LinearStepDevice"):
        zero_shifted(LinearStepDevice())
    with pytest.raises(ZeroShiftError):
        zero_shifted(ConstantStepDevice(up_down=0.1))
    assert zero_shifted(ConstantStepDevice(up_down=0.0))[1] == "already symmetric at 0"
    # the optimizer: 'auto' trains unshifted, 'require' refuses
    assert "unshifted" in build_setup(["Capacitor"], "rl").description
    with pytest.raises(ParameterError, match="zero_shift='require'"):
        build_setup(["Capacitor"], "rl", {"zero_shift": "require"})


def test_rl_zero_shifts_every_registered_device_it_can() -> None:
    """Across presets and plugin devices: whatever rl's 'auto' shift did, the residual device
    aihwkit simulates has its symmetric point at 0 (measured), unless it says it could not."""
    shifted = 0
    for name in plugins.devices():
        setup = build_setup([name], "rl")
        if "unshifted" in setup.description:
            continue
        residual = setup.rpu_config.device.unit_cell_devices[0]
        span = residual.w_max - residual.w_min
        assert abs(measured_symmetric_point(residual, pulses=1000)) < 0.01 * span, name
        shifted += 1
    assert shifted >= 5


# --- building and configs ---------------------------------------------------------------------


def one_step(rpu_config: Any) -> torch.Tensor:
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    torch.manual_seed(0)
    layer = AnalogLinear(4, 3, bias=False, rpu_config=rpu_config)
    optimizer = AnalogSGD(layer.parameters(), lr=0.1)
    optimizer.regroup_param_groups(layer)
    ((layer(torch.randn(5, 4)) - torch.randn(5, 3)) ** 2).sum().backward()
    optimizer.step()
    weights = layer.get_weights()[0]
    assert torch.isfinite(weights).all()
    return weights


@pytest.mark.parametrize("optimizer", ["rl", "rlv2"])
def test_builds_and_steps_with_every_registered_device(optimizer: str) -> None:
    for name in plugins.devices():
        one_step(build_setup([name], optimizer).rpu_config)


class _DevicePlugin:
    @hookimpl
    def register_devices(self, register: Any) -> None:
        from aihwkit.simulator.configs import SoftBoundsDevice

        register(
            Device(
                name="rl-test-soft-bounds",
                factory=lambda: SoftBoundsDevice(w_max=1.0, w_min=-1.0, dw_min=0.01, up_down=0.3),
            )
        )


@pytest.fixture
def plugin_device() -> Any:
    plugins.register(_DevicePlugin(), name="rl-test-device-plugin")
    yield "rl-test-soft-bounds"
    plugins.unregister("rl-test-device-plugin")


def test_rl_config_carries_the_hyper_parameters(plugin_device: str) -> None:
    from aihwkit.simulator.configs import TransferCompound

    setup = build_setup(
        ["ReRamSB"],
        "rl",
        {
            "alpha": 0.03,
            "beta": 0.2,
            "gamma": 0.7,
            "transfer_every": 2,
            "n_reads_per_transfer": 3,
            "residual_device": plugin_device,
            "implementation": "compiled",
        },
    )
    compound = setup.rpu_config.device
    assert type(compound) is TransferCompound
    assert compound.fast_lr == 0.03 and setup.lr == 0.2 and compound.gamma == 0.7
    assert compound.transfer_every == 2.0 and compound.n_reads_per_transfer == 3
    residual, main = compound.unit_cell_devices
    assert type(main).__name__ == "ReRamSBPresetDevice"
    # the plugin's soft-bounds device, zero-shifted: bounds moved by -w*, symmetric steps
    assert residual.up_down == 0.0 and residual.w_max == pytest.approx(1 - 0.3 / 1.7)
    one_step(setup.rpu_config)


def test_rl_zero_shifts_a_reference_residual_device() -> None:
    residual = build_setup(["ReRamSB"], "rl").rpu_config.device.unit_cell_devices[0]
    assert residual.subtract_symmetry_point is True
    off = build_setup(["ReRamSB"], "rl", {"zero_shift": "off"})
    assert off.rpu_config.device.unit_cell_devices[0].subtract_symmetry_point is False


def test_rlv2_setup_carries_the_hyper_parameters() -> None:
    from aimc_plugins.rules.tile import RuleCompound, RuleTile

    setup = build_setup(
        ["EcRam"],
        "rlv2",
        {
            "alpha": 0.02,
            "beta": 0.3,
            "gamma": 0.0,
            "transfer_every": 0.5,
            "n_reads_per_transfer": 2,
            "threshold": 1.5,
            "max_pulses": 2,
            "buffer_decay": "false",
        },
    )
    config = setup.rpu_config
    assert config.tile_class is RuleTile
    compound = config.device
    assert isinstance(compound, RuleCompound) and isinstance(compound.rule, RLv2Rule)
    rule = compound.rule
    assert rule.alpha == 0.02 and setup.lr == 0.3 and compound.gamma == 0.0
    assert rule.transfer_every == 0.5 and rule.n_reads_per_transfer == 2
    assert rule.threshold == 1.5 and compound.transfer_update.desired_bl == 2
    assert rule.buffer_decay is False


@pytest.mark.parametrize(
    ("optimizer", "params", "message"),
    [
        ("rl", {"gamma": 0}, "below its valid range"),
        ("rl", {"zero_shift": "maybe"}, "not one of"),
        ("rlv2", {"beta": 2}, "above its valid range"),
        ("rlv2", {"buffer_decay": "sometimes"}, "not a valid bool"),
        ("rlv2", {"residual_device": "Nope"}, "unknown device"),
        ("rlv2", {"gama": 0.1}, "did you mean 'gamma'"),
    ],
)
def test_bad_values_are_rejected(optimizer: str, params: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        build_setup(["Idealized"], optimizer, params)


# --- RLv2's transfer rule ---------------------------------------------------------------------


def _device() -> Any:
    from aihwkit.simulator.configs import ConstantStepDevice

    return ConstantStepDevice(
        dw_min=0.01, dw_min_dtod=0, dw_min_std=0, up_down_dtod=0, w_max_dtod=0, w_min_dtod=0
    )


def _rlv2_tile(beta: float, gamma: float = 0.0, decay: bool = True) -> tuple[Any, Any]:
    """A 3x4 RLv2 layer on a noise-free ConstantStep device (dw_min 0.01), perfect reads:
    the layer and its rule tile (``.rule``, ``.handle`` the arrays)."""
    from aihwkit.nn import AnalogLinear
    from aimc_residual_learning import rlv2_setup

    config = rlv2_setup(
        _device(),
        _device(),
        alpha=0.1,
        beta=beta,
        gamma=gamma,
        transfer_every=1.0,
        n_reads_per_transfer=4,
        threshold=1.0,
        max_pulses=1,
        buffer_decay=decay,
    ).rpu_config
    for io in (config.forward, config.backward, config.device.transfer_forward):
        io.is_perfect = True
    layer = AnalogLinear(4, 3, bias=False, rpu_config=config)
    sim = next(layer.analog_tiles()).tile
    sim.set_learning_rate(beta)
    sim.set_weights(torch.zeros(3, 4))
    return layer, sim


def _set_p(sim: Any, p: torch.Tensor) -> None:
    sim.handle.tile("P").set_weights(p)


def _transfer_only(sim: Any) -> None:
    """One update with a zero gradient: P stays, the transfer runs."""
    sim.update(torch.zeros(1, 4), torch.zeros(1, 3))


def test_rlv2_buffer_decays_towards_p() -> None:
    _, sim = _rlv2_tile(beta=0.2)
    p = torch.full((3, 4), 0.004)  # below one pulse (0.01): no pulse ever fires
    _set_p(sim, p)
    for k in range(1, 31):
        _transfer_only(sim)
        expected = 0.004 * (1 - 0.8**k)
        assert torch.allclose(sim.rule.buffer, torch.full((3, 4), expected), atol=1e-6), k
    assert torch.equal(sim.get_weights(), torch.zeros(3, 4))


def test_without_decay_the_buffer_integrates_and_fires() -> None:
    _, sim = _rlv2_tile(beta=0.2, decay=False)
    _set_p(sim, torch.full((3, 4), 0.004))
    for _ in range(12):
        _transfer_only(sim)
    # H grows by 0.0008 per transfer: one pulse of 0.01 at transfer 13 at the earliest
    assert torch.equal(sim.get_weights(), torch.zeros(3, 4))
    for _ in range(2):
        _transfer_only(sim)
    assert torch.allclose(sim.get_weights(), torch.full((3, 4), 0.01), atol=1e-6)


def test_rlv2_fires_one_pulse_and_subtracts_it() -> None:
    _, sim = _rlv2_tile(beta=0.5)
    p = torch.tensor([[0.05, -0.05, 0.0, 0.012]] * 3)
    _set_p(sim, p)
    _transfer_only(sim)  # H = 0.5 P = [0.025, -0.025, 0, 0.006]
    w = sim.get_weights()
    assert torch.allclose(w[0], torch.tensor([0.01, -0.01, 0.0, 0.0]), atol=1e-6)
    buffer = sim.rule.buffer[0]
    assert torch.allclose(buffer, torch.tensor([0.015, -0.015, 0.0, 0.006]), atol=1e-6)


def test_rlv2_reads_w_plus_gamma_p() -> None:
    layer, sim = _rlv2_tile(beta=0.1, gamma=0.5)
    w = torch.arange(12.0).reshape(3, 4) / 100
    p = torch.ones(3, 4) / 10
    sim.set_weights(w)
    _set_p(sim, p)
    x = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
    assert torch.allclose(layer(x), x @ (w + 0.5 * p).T, atol=1e-5)
    assert torch.allclose(sim.get_weights(), w + 0.5 * p, atol=1e-6)
    sim.set_weights(w)  # sets W and clears P: the network computes with exactly w
    assert torch.allclose(layer(x), x @ w.T, atol=1e-5)


# --- learning ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("optimizer", "device", "params"),
    [
        ("rl", "Idealized", {}),  # defaults: every column per transfer
        ("rlv2", "Capacitor", {}),
    ],
)
def test_learns_digits(optimizer: str, device: str, params: dict) -> None:
    from aimc_plugins.builtin.recipes import digits

    setup = build_setup([device], optimizer, params)
    result = digits.run(RunConfig(setup=setup, seed=0, epochs=1))
    assert result.final["test_accuracy"] > 0.5, result.final


@pytest.mark.parametrize("optimizer", ["rl", "rlv2", "mtrl"])
def test_passes_the_plugin_contract(optimizer: str) -> None:
    """Pickling of record and config (RLv2's tile class included), defaults, and learning with
    the defaults on the contract's reference device."""
    from aimc_plugins.kit.testing import check_optimizer

    report = check_optimizer(plugins.optimizers()[optimizer])
    assert report.results["accuracy"] > 0.3
