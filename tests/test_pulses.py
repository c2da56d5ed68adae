"""Pulse accounting: the counts computed from what aihwkit's update is given match the pulses
its compiled core fires, exactly where the pulse trains are deterministic and in expectation
where they are stochastic; runs carry them into their metrics and the store."""

from __future__ import annotations

import pytest
import torch

from aimc_plugins.kit.testing import deterministic_config, noise_free_device
from aimc_plugins.training.pulse_counter import counting
from aimc_plugins.training.pulse_trains import expected_counts, settings_of
from aimc_plugins.training.pulses import (
    DEVICE_MAX,
    ENDURANCE_USED,
    ENERGY,
    PULSES,
    PULSES_GRADIENT,
    PULSES_TRANSFER,
    TRANSFER_READS,
    ArrayPulses,
    PulseSummary,
)

STEP = 0.001


def far_bounds_device():
    """The noise-free constant-step device with bounds far away: no pulse is ever clipped."""
    device = noise_free_device(STEP)
    device.w_max, device.w_min = 100.0, -100.0
    return device


def train_counted(layer, lr: float, steps: int, batch: int):
    """``steps`` AnalogSGD steps of ``layer`` on random inputs (seeded by the caller), counted:
    the counter."""
    from aihwkit.optim import AnalogSGD

    optimizer = AnalogSGD(layer.parameters(), lr=lr)
    optimizer.regroup_param_groups(layer)
    with counting() as counter:
        for _ in range(steps):
            optimizer.zero_grad()
            layer(torch.randn(batch, layer.in_features)).pow(2).sum().backward()
            optimizer.step()
    return counter


def constant_step_tile(
    pulse_type: str, management: bool = True, fixed_bl: bool = True, lr: float = 0.01
):
    """A compiled tile of a noise-free constant-step device with bounds far away: every pulse
    moves a weight by exactly STEP, so a weight's change over STEP is its net pulse count."""
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.parameters import UpdateParameters
    from aihwkit.simulator.parameters.enums import PulseType
    from aihwkit.simulator.tiles.analog import AnalogTileWithoutPeriphery

    device = far_bounds_device()
    update = UpdateParameters(
        pulse_type=PulseType[pulse_type],
        update_management=management,
        update_bl_management=management,
        fixed_bl=fixed_bl,
    )
    module = AnalogTileWithoutPeriphery(20, 30, SingleRPUConfig(device=device, update=update))
    tile = module.tile
    tile.set_weights(torch.zeros(20, 30))
    tile.set_learning_rate(lr)
    return tile


def counted_net(counter) -> float:
    """The counted up minus down pulses of the counter's one array."""
    (tally,) = counter.tallies.values()
    tally.flush()
    return tally.up - tally.down


def per_device(counter) -> torch.Tensor:
    """The counted pulses (up + down) of the counter's one array, per device."""
    (tally,) = counter.tallies.values()
    return tally.per_device()


@pytest.mark.parametrize("pulse_type", ["DETERMINISTIC_IMPLICIT", "MEAN_COUNT"])
@pytest.mark.parametrize(
    "management, fixed_bl, lr",
    [(True, True, 0.01), (False, True, 0.01), (False, False, 0.05)],
    ids=["managed", "unmanaged", "unmanaged-coarse"],  # coarse: lr > g desired_bl, BL grows
)
def test_deterministic_pulse_trains_are_counted_exactly(
    pulse_type: str, management: bool, fixed_bl: bool, lr: float
) -> None:
    """One direction (x, d > 0: every pulse down) and both directions: the weight change over
    the step is the counted net, device by device, exactly."""
    tile = constant_step_tile(pulse_type, management, fixed_bl, lr)
    generator = torch.Generator().manual_seed(0)
    x, d = torch.rand(64, 30, generator=generator), torch.rand(64, 20, generator=generator)
    with counting() as counter:
        tile.update(x, d, False, False, False, False)
    fired = -torch.round(tile.get_weights().double() / STEP)
    assert torch.equal(per_device(counter), fired)
    (array,) = counter.summary().arrays
    assert array.exact and array.up == 0.0 and array.down == float(fired.sum()) > 1000

    before = tile.get_weights().double()
    x, d = torch.randn(64, 30, generator=generator), torch.randn(64, 20, generator=generator)
    settings = settings_of(tile)
    up, down = expected_counts(x, d, float(tile.get_learning_rate()), settings)
    with counting() as counter:
        tile.update(x, d, False, False, False, False)
    fired = torch.round((tile.get_weights().double() - before) / STEP)
    assert torch.equal(up - down, fired)
    assert counted_net(counter) == float(fired.sum())
    assert float(up.sum()) > 1000 and float(down.sum()) > 1000  # both directions exercised

    # one sample at a time, every device moves one way per update: the sum of |change| over
    # the updates is up + down, device by device, as the tile fired it
    moved = torch.zeros_like(fired)
    with counting() as counter:
        for row in range(x.shape[0]):
            before = tile.get_weights().double()
            tile.update(x[row : row + 1], d[row : row + 1], False, False, False, False)
            moved += torch.round((tile.get_weights().double() - before).abs() / STEP)
    assert torch.equal(per_device(counter), moved)


@pytest.mark.parametrize("pulse_type", ["STOCHASTIC_COMPRESSED", "STOCHASTIC"])
def test_stochastic_pulse_trains_are_counted_in_expectation(pulse_type: str) -> None:
    """Seeded, one direction: the pulses fired are within 3% of the expected total (about
    300k pulses; the spread of the total over seeds is about 0.4%) and within a few standard
    deviations device by device."""
    from aimc_plugins.training.simulator_seed import seed_simulator

    seed_simulator(3)
    tile = constant_step_tile(pulse_type)
    generator = torch.Generator().manual_seed(3)
    x, d = torch.rand(200, 30, generator=generator), torch.rand(200, 20, generator=generator)
    with counting() as counter:
        tile.update(x, d, False, False, False, False)
    fired = -torch.round(tile.get_weights().double() / STEP)
    expected = per_device(counter)
    assert counted_net(counter) == pytest.approx(-float(expected.sum()))
    assert float(fired.sum()) == pytest.approx(float(expected.sum()), rel=0.03)
    spread = (fired - expected).abs() / expected.sqrt()
    assert float(spread.mean()) < 1.5 and float(spread.max()) < 6


def test_a_layer_trained_with_analog_sgd_is_counted_as_its_tile_fires() -> None:
    """Through aihwkit's layer and optimizer (periphery, learning rate per step): the counts
    are what the tile fired, exactly, with deterministic pulse trains."""
    from aihwkit.nn import AnalogLinear
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.parameters.enums import PulseType

    device = far_bounds_device()
    config = SingleRPUConfig(device=device)
    config.update.pulse_type = PulseType.DETERMINISTIC_IMPLICIT
    torch.manual_seed(0)
    layer = AnalogLinear(8, 5, bias=False, rpu_config=config)
    start = layer.get_weights()[0].double()
    counter = train_counted(layer, lr=0.05, steps=5, batch=16)
    fired = torch.round((layer.get_weights()[0].double() - start) / STEP)
    assert counted_net(counter) == float(fired.sum())
    assert torch.all(per_device(counter) >= fired.abs())  # up + down >= |up - down|
    assert float(fired.abs().sum()) > 100


def test_a_rule_counts_gradient_pulses_transfer_writes_and_reads_per_array() -> None:
    """Tiki-Taka as a rule, deterministic: each array's counted net is its change over the
    step; the gradient array's pulses are the gradient's, the other's the transfers', and
    every column read by a transfer is counted."""
    from aihwkit.nn import AnalogLinear

    from aimc_plugins import tiki_taka_setup

    device = far_bounds_device()
    setup = tiki_taka_setup(
        "ttv1",
        [device],
        residual_device="",
        gamma=0.0,
        alpha=0.5,
        beta=0.7,
        transfer_every=1.0,
        n_reads_per_transfer=2,
    )
    torch.manual_seed(0)
    layer = AnalogLinear(6, 4, bias=False, rpu_config=deterministic_config(setup.rpu_config))
    handle = next(layer.analog_tiles()).tile.handle
    starts = {name: handle.weights(name).double() for name in handle.names}
    counter = train_counted(layer, lr=0.3, steps=4, batch=8)
    tallies = {tally.array: tally for tally in counter.tallies.values()}
    assert set(tallies) == {"P", "W"}
    for name, tally in tallies.items():
        fired = torch.round((handle.weights(name).double() - starts[name]) / STEP)
        assert tally.up - tally.down == float(fired.sum()), name
        assert torch.all(tally.per_device() >= fired.abs()), name
    assert tallies["P"].gradient > 0 and tallies["P"].transfer == 0
    assert tallies["W"].transfer > 0 and tallies["W"].gradient == 0
    assert tallies["P"].reads == 4 * 2  # 2 columns read per mini-batch
    summary = counter.summary()
    assert {a.layer for a in summary.arrays} == {"layer 1 (4x6)"}
    assert summary.metrics()[TRANSFER_READS] == 8


def test_a_run_stores_its_counts_in_metrics_history_and_per_array() -> None:
    from aimc_plugins.sweep.spec import plan
    from aimc_plugins.training.run import DONE, run_one

    (run,) = plan("digits-mlp", ["ReRamSB"], ["ttv1"], 1, 2)
    outcome = run_one(run)
    assert outcome.status == DONE, outcome.error
    final = outcome.final
    assert len(outcome.pulses) == 4  # 2 layers x (P, W)
    assert final[PULSES] == pytest.approx(sum(row["total"] for row in outcome.pulses))
    assert final[PULSES] == pytest.approx(final[PULSES_GRADIENT] + final[PULSES_TRANSFER])
    assert final[PULSES_TRANSFER] > final[PULSES_GRADIENT] > 0
    assert final[DEVICE_MAX] == max(row["device_max"] for row in outcome.pulses)
    epochs = [h[PULSES] for h in outcome.history]
    assert 0 < epochs[0] < epochs[1] == pytest.approx(final[PULSES])
    assert ENERGY not in final and ENDURANCE_USED not in final  # ReRamSB declares neither


def test_runs_that_cannot_be_counted_say_why_and_digital_runs_have_no_counts() -> None:
    from aimc_plugins.sweep.spec import plan
    from aimc_plugins.training.run import run_one

    (compound,) = plan("digits-mlp", ["ReRamSB"], ["mp"], 1, 1)
    outcome = run_one(compound)
    assert PULSES not in outcome.final and PULSES not in outcome.history[0]
    assert any("pulses not counted" in note and "MixedPrec" in note for note in outcome.notes)
    (digital,) = plan("digits-mlp", ["ReRamSB"], ["digital"], 1, 1)
    outcome = run_one(digital)
    assert PULSES not in outcome.final and outcome.pulses == ()
    assert not any("pulses" in note for note in outcome.notes)


def test_energy_and_endurance_follow_from_the_counts_where_declared() -> None:
    from aimc_plugins.devices.cost import DeviceCost

    array = ArrayPulses("layer 1 (2x2)", "", "X", 2, 2, up=300.0, down=100.0, gradient=400.0)
    summary = PulseSummary((array,), device_max=250.0, device_p99=240.0)
    assert ENERGY not in summary.metrics()
    cost = DeviceCost(energy_up=2e-12, energy_down=1e-12, endurance=1000.0)
    metrics = PulseSummary((array,), 250.0, 240.0, cost=cost).metrics()
    assert metrics[ENERGY] == pytest.approx(300 * 2e-12 + 100 * 1e-12)
    assert metrics[ENDURANCE_USED] == pytest.approx(0.25)
    assert (
        ENERGY
        not in PulseSummary((array,), 250.0, 240.0, cost=DeviceCost(endurance=10.0)).metrics()
    )


def test_counting_is_off_outside_a_counter() -> None:
    """The wrapper only forwards when no counter is active: nothing is recorded anywhere."""
    tile = constant_step_tile("DETERMINISTIC_IMPLICIT")
    with counting() as counter:
        pass
    tile.update(torch.rand(4, 30), torch.rand(4, 20), False, False, False, False)
    assert counter.tallies == {} and float(tile.get_weights().abs().sum()) > 0


def test_a_transfer_write_counts_each_column_as_a_gradient_update_would() -> None:
    """A rule's writes address one column per input row: counted column by column (no
    product), they give what the general product gives, and count as transfers."""
    from aimc_plugins.training.pulse_counter import transfer_writes

    tile = constant_step_tile("STOCHASTIC_COMPRESSED")
    generator = torch.Generator().manual_seed(1)
    x = torch.eye(30)[torch.tensor([3, 7, 7, 29])]
    d = torch.randn(4, 20, generator=generator)
    up, down = expected_counts(x, d, float(tile.get_learning_rate()), settings_of(tile))
    with counting() as counter:
        with transfer_writes():
            tile.update(x, d, False, False, False, False)
    (tally,) = counter.tallies.values()
    assert torch.allclose(tally.per_device(), up + down, rtol=1e-5, atol=1e-6)
    assert tally.transfer == pytest.approx(float((up + down).sum()), rel=1e-5)
    assert tally.gradient == 0.0 and float((up + down)[:, 7].sum()) > 0


def test_a_diverged_last_epoch_gets_the_runs_total() -> None:
    """The loop records the epoch in which the loss diverged without announcing it: that last
    entry gets the run's total, so pulses to target still have one; an unannounced earlier
    epoch gets nothing rather than a wrong figure."""
    from aimc_plugins.training.pulses import with_pulses

    array = ArrayPulses("layer 1 (2x2)", "", "X", 2, 2, up=100.0, down=50.0, gradient=150.0)
    summary = PulseSummary((array,), 60.0, 55.0, epochs={1: 100.0})
    history = [{"epoch": 1}, {"epoch": 2, "train_loss": float("nan")}]
    assert [h.get(PULSES) for h in with_pulses(history, summary)] == [100.0, 150.0]
    silent = PulseSummary((array,), 60.0, 55.0)  # a recipe that announced no epoch
    assert [h.get(PULSES) for h in with_pulses(history, silent)] == [None, 150.0]


def test_counting_changes_nothing_a_run_computes() -> None:
    """The same run counted and not (--no-pulses): the same metrics, epoch by epoch."""
    from aimc_plugins.sweep.spec import plan
    from aimc_plugins.training.loop import MEASURED_KEYS
    from aimc_plugins.training.pulses import PULSE_METRICS
    from aimc_plugins.training.run import run_one
    from aimc_plugins.training.tracking import Tracking

    (run,) = plan("digits-mlp", ["ReRamSB"], ["sgd"], 1, 2)
    counted = run_one(run)
    plain = run_one(run, tracking=Tracking(count_pulses=False))

    def without(metrics):
        skip = set(PULSE_METRICS) | set(MEASURED_KEYS)
        return {k: v for k, v in metrics.items() if k not in skip}

    assert PULSES in counted.final and PULSES not in plain.final and plain.pulses == ()
    assert without(counted.final) == without(plain.final)
    assert [without(h) for h in counted.history] == [without(h) for h in plain.history]
