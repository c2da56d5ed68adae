"""A test plugin: a recipe whose learning curves are a formula of the learning rate, so tuning
and convergence can be tested on known curves in milliseconds.

With ``u`` the learning rate's place on a log scale between 0.003 and 3 (0 to 1), the metric
rises from 0.1 towards a ceiling ``0.9 - 0.4 u`` at the rate ``0.05 + u`` per epoch: a high
rate starts fast and ends low, a low one starts slowly and ends higher. Settings with ``u`` in
``unstable`` (a pair of bounds) gain ``swing`` on even seeds and lose twice as much on odd
ones: good on the seed that tunes, worse on average.
"""

from __future__ import annotations

import math

from aimc_plugins import Param, Recipe, RunConfig, RunResult, hookimpl
from aimc_plugins.training import loop as training

RECIPE = "fake-curves"
LOW, HIGH = 0.003, 3.0
OPTIONS = (
    Param("unstable", (), "bounds (low, high) of u whose value depends on the seed's parity"),
    Param("swing", 0.3, "how far an unstable setting moves with the seed"),
)


def place(lr: float) -> float:
    """The learning rate's place between LOW and HIGH on a log scale, 0 to 1."""
    return (math.log(lr) - math.log(LOW)) / (math.log(HIGH) - math.log(LOW))


def value(lr: float, epoch: int, seed: int = 0, unstable=(), swing: float = 0.3) -> float:
    """The metric after ``epoch`` epochs at learning rate ``lr`` on ``seed``."""
    u = place(lr)
    ceiling, rate = 0.9 - 0.4 * u, 0.05 + u
    out = 0.1 + (ceiling - 0.1) * (1 - math.exp(-rate * epoch)) + 0.001 * seed
    if unstable and unstable[0] <= u <= unstable[1]:
        out += swing if seed % 2 == 0 else -2 * swing
    return min(1.0, max(0.0, out))


def run(config: RunConfig) -> RunResult:
    options = dict(config.options)
    prefix = "val" if config.split == "validation" else "test"
    history = []
    for epoch in range(1, config.epochs + 1):
        metric = value(
            config.setup.lr,
            epoch,
            config.seed,
            tuple(options.get("unstable", ())),
            float(options.get("swing", 0.3)),
        )
        metrics = {
            "epoch": epoch,
            "train_loss": 1.0 - metric,
            f"{prefix}_accuracy": metric,
            f"{prefix}_loss": 1.0 - metric,
        }
        history.append(metrics)
        training.notify_epoch(epoch, config.epochs, metrics)
    return RunResult(tuple(history), dict(history[-1]))


@hookimpl
def register_recipes(register):
    register(
        Recipe(
            name=RECIPE,
            run=run,
            description="learning curves given by a formula of the learning rate",
            default_epochs=8,
            options=OPTIONS,
            validation="formula: the same curve on either split",
        )
    )
