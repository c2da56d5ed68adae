"""The shipped MNIST spec shows the paper's result: strongly asymmetric responses (g >= 1) leave
Analog SGD near chance while Tiki-Taka and residual learning train, and with g = 0.5 both learn.

The slow test runs the spec at its default size (3 seeds, about 10 minutes on 2 cores) and
asserts that ordering with margins; the quick one runs the spec's own settings at its ``smoke``
scale (one seed, power g = 2, Analog SGD against residual learning) inside ``make test``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import pytest

from aimc_plugins.sweep.execute import run_pool, run_serial
from aimc_plugins.sweep.spec import expand, load_spec
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import DONE, RunOutcome

SPEC = Path(__file__).resolve().parents[1] / "recipes" / "specs" / "paper-mnist.toml"
CHANCE = 0.1


def _finals(outcomes: list[RunOutcome]) -> dict[tuple[float, str, str], list[float]]:
    """(g, family, optimizer) -> final accuracies, every run checked to have finished."""
    finals: dict[tuple[float, str, str], list[float]] = defaultdict(list)
    for outcome in outcomes:
        assert outcome.status == DONE, (outcome.run.label, outcome.error)
        spec = outcome.run
        key = (spec.device_params.get("g", 0.0), spec.device_name, spec.optimizer)
        finals[key].append(outcome.final["test_accuracy"])
    return finals


def test_smoke_scale_separates_residual_learning_from_analog_sgd_at_g_2() -> None:
    runs: list[PlannedRun] = [
        run
        for run in expand(load_spec(SPEC, scale="smoke"))
        if run.device_name == "power" and run.device_params["g"] == 2.0
        if run.optimizer in ("sgd", "rl")
    ]
    assert len(runs) == 2
    finals = _finals(list(run_serial(runs)))
    sgd, rl = finals[(2.0, "power", "sgd")][0], finals[(2.0, "power", "rl")][0]
    assert sgd < CHANCE + 0.06, sgd
    assert rl > sgd + 0.15, (rl, sgd)


@pytest.mark.slow
def test_default_size_shows_the_papers_ordering_over_three_seeds() -> None:
    runs = expand(load_spec(SPEC))
    assert {run.seed for run in runs} == {0, 1, 2}
    finals = {k: statistics.mean(v) for k, v in _finals(list(run_pool(runs, 2))).items()}
    for g, family in ((2.0, "power"), (1.0, "exponential")):
        sgd = finals[(g, family, "sgd")]
        assert sgd < CHANCE + 0.2, (family, g, sgd)
        for transfer in ("ttv1", "rl"):
            assert finals[(g, family, transfer)] > sgd + 0.4, (family, g, transfer, finals)
    for optimizer in ("sgd", "ttv1", "rl"):
        assert finals[(0.5, "power", optimizer)] > CHANCE + 0.2, (optimizer, finals)
