"""A run's seed determines its numbers: the same run computed twice (in this process, and in a
spawned worker like a sweep's) gives bitwise-identical per-epoch metrics, with aihwkit's
compiled generators (which seed themselves from the clock) seeded through
:mod:`aimc_plugins.training.simulator_seed`."""

from __future__ import annotations

import pytest
import torch

from aimc_plugins.sweep.execute import run_pool
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.loop import repeatable
from aimc_plugins.training.run import DONE, run_one
from aimc_plugins.training.simulator_seed import seed_simulator, status

# Noisy on purpose: cycle-to-cycle noise and device-to-device spread (ReRamSB), and a transfer
# compound whose tiles are copied (ttv1), are where unseeded generators show first.
RUNS = [
    PlannedRun(recipe="digits-mlp", device="ReRamSB", optimizer="sgd", seed=3, epochs=1),
    PlannedRun(
        recipe="digits-mlp",
        device="ReRamSB",
        optimizer="ttv1",
        seed=3,
        epochs=1,
        options={"n_train": 300},
    ),
]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Runs in this process on one thread, as a sweep worker with one core runs them: only such
    runs are recorded as deterministic (several threads may interleave random draws)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _history(spec: PlannedRun) -> tuple:
    outcome = run_one(spec)
    assert outcome.status == DONE, outcome.error
    assert outcome.versions["deterministic"] == "yes"
    return tuple(tuple(sorted(repeatable(epoch).items())) for epoch in outcome.history)


def test_the_clock_of_aihwkits_core_is_rebound() -> None:
    assert seed_simulator(0), status()[1]


def test_same_run_twice_in_one_process_is_bitwise_identical() -> None:
    for spec in RUNS:
        assert _history(spec) == _history(spec), spec.label


def test_a_spawned_worker_computes_the_same_numbers() -> None:
    here = {spec.run_id: _history(spec) for spec in RUNS}
    there = {
        outcome.run.run_id: tuple(tuple(sorted(repeatable(e).items())) for e in outcome.history)
        for outcome in run_pool(RUNS, workers=2, threads=1)
    }
    assert there == here


def test_other_seeds_give_other_numbers() -> None:
    """The seed reaches aihwkit's generators: with the torch seed fixed, two simulator seeds give
    different noisy updates (a patch that froze one stream would pass the tests above)."""
    from aihwkit.nn import AnalogLinear
    from aihwkit.simulator.configs import SingleRPUConfig, SoftBoundsDevice

    def weights_after_updates(simulator_seed: int) -> torch.Tensor:
        torch.manual_seed(0)
        seed_simulator(simulator_seed)
        layer = AnalogLinear(16, 8, rpu_config=SingleRPUConfig(device=SoftBoundsDevice()))
        layer.analog_module.set_learning_rate(0.1)
        x = torch.randn(32, 16)
        for _ in range(10):
            layer(x).sum().backward()
            layer.analog_module.update(x, torch.ones(32, 8))
        return layer.get_weights()[0]

    assert torch.equal(weights_after_updates(1), weights_after_updates(1))
    assert not torch.equal(weights_after_updates(1), weights_after_updates(2))
