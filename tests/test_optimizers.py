"""The built-in optimizers: each builds with every registered device, passes its
hyper-parameters into aihwkit's config, rejects bad values, and learns on the digits MLP."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from aimc_plugins import Device, ParameterError, hookimpl
from aimc_plugins.host import plugins
from aimc_plugins.host.records import RunConfig, as_dict
from aimc_plugins.training.setup import build_setup

BUILTIN = ("digital", "sgd", "ttv1", "ttv2", "c-ttv2", "agad", "mp")
ANALOG = BUILTIN[1:]


def one_step(rpu_config: Any) -> torch.Tensor:
    """Build a small analog layer on ``rpu_config`` and take one SGD step; the new weights."""
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    torch.manual_seed(0)
    layer = AnalogLinear(4, 3, bias=False, rpu_config=rpu_config)
    optimizer = AnalogSGD(layer.parameters(), lr=0.1)
    optimizer.regroup_param_groups(layer)
    loss = ((layer(torch.randn(5, 4)) - torch.randn(5, 3)) ** 2).sum()
    loss.backward()
    optimizer.step()
    weights = layer.get_weights()[0]
    assert torch.isfinite(weights).all()
    return weights


def test_all_builtin_optimizers_are_registered_with_schemas() -> None:
    records = plugins.optimizers()
    for name in BUILTIN:
        assert name in records, name
        assert records[name].plugin == "aimc_plugins.builtin.optimizers"
        schema = as_dict(records[name])["parameters"]
        assert schema and all(p["help"] and p["range"] for p in schema)


@pytest.mark.parametrize("optimizer", ANALOG)
def test_builds_and_steps_with_every_registered_device(optimizer: str) -> None:
    """Preset and plugin devices alike: the config builds and aihwkit's compiled core accepts it
    (a tile is made and updated)."""
    devices = plugins.devices()
    assert len(devices) >= 10
    for name in devices:
        setup = build_setup([name], optimizer)
        assert setup.rpu_config is not None, name
        one_step(setup.rpu_config)


SOFT_BOUNDS_PLUGIN_DEVICE = "test-soft-bounds"


class _DevicePlugin:
    @hookimpl
    def register_devices(self, register: Any) -> None:
        from aihwkit.simulator.configs import SoftBoundsDevice

        register(
            Device(
                name=SOFT_BOUNDS_PLUGIN_DEVICE,
                factory=lambda: SoftBoundsDevice(w_max=0.8, w_min=-0.8, dw_min=0.01),
                description="a plugin's device, for tests",
            )
        )


@pytest.fixture
def plugin_device() -> Any:
    plugins.register(_DevicePlugin(), name="test-device-plugin")
    yield SOFT_BOUNDS_PLUGIN_DEVICE
    plugins.unregister("test-device-plugin")


@pytest.mark.parametrize("optimizer", ANALOG)
def test_builds_with_a_plugin_device(optimizer: str, plugin_device: str) -> None:
    from aihwkit.simulator.configs import SoftBoundsDevice

    setup = build_setup([plugin_device], optimizer)
    device = getattr(setup.rpu_config.device, "unit_cell_devices", None)
    main = device[-1] if device else getattr(setup.rpu_config.device, "device", None)
    if main is None:
        main = setup.rpu_config.device
    assert isinstance(main, SoftBoundsDevice) and main.w_max == 0.8
    one_step(setup.rpu_config)


def test_residual_device_may_differ(plugin_device: str) -> None:
    from aihwkit.simulator.configs import SoftBoundsDevice

    setup = build_setup(["Idealized"], "ttv1", {"residual_device": plugin_device})
    residual, main = setup.rpu_config.device.unit_cell_devices
    assert isinstance(residual, SoftBoundsDevice) and residual.w_max == 0.8
    assert type(main).__name__ == "IdealizedPresetDevice"
    one_step(setup.rpu_config)


def test_sgd_and_digital_hyper_parameters() -> None:
    from aihwkit.simulator.configs import SingleRPUConfig

    digital = build_setup(["Idealized"], "digital", {"lr": 0.3})
    assert digital.rpu_config is None and digital.lr == 0.3
    sgd = build_setup(["ReRamSB"], "sgd", {"lr": "0.02"})
    assert isinstance(sgd.rpu_config, SingleRPUConfig) and sgd.lr == 0.02


def test_ttv1_maps_alpha_and_beta_onto_aihwkit() -> None:
    """alpha is fast_lr (fixed); beta is the torch optimizer's lr scaling the transfer."""
    from aihwkit.simulator.configs import TransferCompound

    setup = build_setup(
        ["EcRam"],
        "ttv1",
        {
            "alpha": 0.07,
            "beta": 0.3,
            "transfer_every": 2,
            "n_reads_per_transfer": 4,
            "implementation": "compiled",
        },
    )
    compound = setup.rpu_config.device
    assert type(compound) is TransferCompound
    assert compound.fast_lr == 0.07
    assert setup.lr == 0.3
    assert compound.transfer_lr == 1.0 and compound.scale_transfer_lr
    assert compound.transfer_every == 2.0 and compound.units_in_mbatch
    assert compound.n_reads_per_transfer == 4
    assert compound.gamma == 0.0


@pytest.mark.parametrize("implementation", ["rule", "compiled"])
def test_transfer_roles_measured_in_aihwkit(implementation: str) -> None:
    """One step on a noise-free device: P moves by alpha * grad whatever lr is, and W by
    beta * P (the role swap the parameter help documents), as a rule and compiled."""
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.configs import ConstantStepDevice
    from aihwkit.simulator.parameters import UpdateParameters

    device = ConstantStepDevice(
        dw_min=1e-3, dw_min_dtod=0, dw_min_std=0, up_down_dtod=0, w_max_dtod=0, w_min_dtod=0
    )
    moves = {}
    for alpha, beta in ((0.5, 0.1), (0.5, 0.2), (0.25, 0.1)):
        setup = plugins.optimizers()["ttv1"].build(
            [device],
            alpha=alpha,
            beta=beta,
            n_reads_per_transfer=4,
            implementation=implementation,
        )
        config = setup.rpu_config
        for io in (config.forward, config.backward, config.device.transfer_forward):
            io.is_perfect = True
        exact = UpdateParameters(desired_bl=5000, update_bl_management=False)
        config.update = exact
        config.device.transfer_update = exact
        torch.manual_seed(0)
        layer = AnalogLinear(4, 3, bias=False, rpu_config=config)
        layer.set_weights(torch.zeros(3, 4))
        optimizer = AnalogSGD(layer.parameters(), lr=setup.lr)
        optimizer.regroup_param_groups(layer)
        layer(torch.tensor([[1.0, 0, 0, 0]])).sum().backward()  # grad of column 0 is 1
        optimizer.step()
        tile = next(layer.analog_tiles())
        if implementation == "rule":
            p, w = tile.tile.handle.weights("P"), tile.tile.handle.weights("W")
        else:
            hidden = tile.get_hidden_parameters()
            p, w = hidden["hidden_weights_0"], hidden["hidden_weights_1"]
        p_col, w_col = float(p[:, 0].mean()), float(w[:, 0].mean())
        moves[(alpha, beta)] = (p_col, w_col)
    assert moves[(0.5, 0.1)][0] == pytest.approx(-0.5, abs=0.05)
    assert moves[(0.5, 0.2)][0] == pytest.approx(-0.5, abs=0.05)  # lr does not touch P
    assert moves[(0.25, 0.1)][0] == pytest.approx(-0.25, abs=0.05)
    assert moves[(0.5, 0.1)][1] == pytest.approx(0.1 * -0.5, rel=0.3)  # W += beta P
    assert moves[(0.5, 0.2)][1] == pytest.approx(0.2 * -0.5, rel=0.3)


@pytest.mark.parametrize(
    ("optimizer", "compound_class"),
    [
        ("ttv2", "ChoppedTransferCompound"),
        ("c-ttv2", "ChoppedTransferCompound"),
        ("agad", "DynamicTransferCompound"),
    ],
)
def test_buffered_family_hyper_parameters(optimizer: str, compound_class: str) -> None:
    params = {
        "alpha": 0.2,
        "beta": 0.4,
        "transfer_every": 0.5,
        "threshold": 2.0,
        "momentum": 0.1,
        "forget_buffer": "false",
        "max_pulses": 3,
    }
    if optimizer != "ttv2":
        params["in_chop_prob"] = 0.25
    if optimizer == "agad":
        params["tail_weightening"] = 7.0
    setup = build_setup(["Capacitor"], optimizer, params)
    compound = setup.rpu_config.device
    assert type(compound).__name__ == compound_class
    assert compound.fast_lr == 0.2 and setup.lr == 0.4
    assert compound.transfer_every == 0.5 and compound.units_in_mbatch
    assert compound.buffer_granularity == 2.0
    assert compound.momentum == 0.1
    assert compound.forget_buffer is False
    assert compound.transfer_update.desired_bl == 3
    assert compound.auto_scale is False
    assert compound.in_chop_prob == (0.0 if optimizer == "ttv2" else 0.25)
    if optimizer == "agad":
        assert compound.tail_weightening == 7.0


def test_mixed_precision_hyper_parameters() -> None:
    from aihwkit.simulator.configs import DigitalRankUpdateRPUConfig, MixedPrecisionCompound

    setup = build_setup(
        ["PCM"],
        "mp",
        {"lr": 0.05, "granularity": 0.002, "transfer_every": 3, "n_x_bins": 8, "n_d_bins": 16},
    )
    assert isinstance(setup.rpu_config, DigitalRankUpdateRPUConfig)
    compound = setup.rpu_config.device
    assert isinstance(compound, MixedPrecisionCompound)
    assert setup.lr == 0.05
    assert compound.granularity == 0.002 and compound.transfer_every == 3
    assert compound.n_x_bins == 8 and compound.n_d_bins == 16


@pytest.mark.parametrize(
    ("optimizer", "params", "message"),
    [
        ("ttv1", {"alhpa": 0.1}, "did you mean 'alpha'"),
        ("ttv1", {"beta": 1.5}, "above its valid range"),
        ("ttv1", {"alpha": 0}, "below its valid range"),
        ("ttv1", {"n_reads_per_transfer": "many"}, "not a valid int"),
        ("ttv1", {"residual_device": "NoSuchDevice"}, "unknown device"),
        ("ttv2", {"momentum": 1.0}, "above its valid range"),
        ("c-ttv2", {"in_chop_prob": 2}, "above its valid range"),
        ("agad", {"tail_weightening": 0.5}, "below its valid range"),
        ("mp", {"granularity": -1}, "below its valid range"),
        ("sgd", {"lr": float("nan")}, "must be finite"),
        ("digital", {"momentum": 0.9}, "has no parameter 'momentum'"),
    ],
)
def test_bad_values_are_rejected(optimizer: str, params: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        build_setup(["Idealized"], optimizer, params)


# One device and a few hundred steps (135 mini-batches of 10 per epoch) per optimizer. The
# buffered family fires at most max_pulses pulses per transfer, so it gets a coarse device,
# several transfers per mini-batch and up to 8 pulses each.
BUFFERED_DIGITS = {"alpha": 0.1, "beta": 1.0, "transfer_every": 0.1, "max_pulses": 8}
DIGITS_CASES = [
    ("digital", "Idealized", {}, 1),
    ("sgd", "Idealized", {}, 1),
    ("mp", "Idealized", {}, 1),
    ("ttv1", "Idealized", {}, 1),  # defaults: every column per transfer
    ("ttv2", "Capacitor", BUFFERED_DIGITS, 2),
    ("c-ttv2", "Capacitor", BUFFERED_DIGITS, 2),
    ("agad", "Capacitor", BUFFERED_DIGITS, 2),
]


@pytest.mark.parametrize(("optimizer", "device", "params", "epochs"), DIGITS_CASES)
def test_learns_digits(optimizer: str, device: str, params: dict, epochs: int) -> None:
    from aimc_plugins.builtin.recipes import digits

    setup = build_setup([device], optimizer, params)
    result = digits.run(RunConfig(setup=setup, seed=0, epochs=epochs))
    assert result.final["test_accuracy"] > 0.5, result.final  # chance is 0.1


@pytest.mark.parametrize("optimizer", BUILTIN)
def test_passes_the_plugin_contract(optimizer: str) -> None:
    """Records and built configs pickle (process-pool and Dask sweeps), defaults are valid."""
    from aimc_plugins.kit.testing import check_optimizer

    check_optimizer(plugins.optimizers()[optimizer], train=False)
