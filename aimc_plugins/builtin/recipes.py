"""The recipes that ship with the host."""

from __future__ import annotations

from collections.abc import Callable

from aimc_plugins.hookspecs import hookimpl
from aimc_plugins.records import Recipe, RunConfig, RunResult


def _digits_mlp(config: RunConfig) -> RunResult:
    from aimc_plugins.recipes import digits

    return digits.run(config)


@hookimpl
def register_recipes(register: Callable[[Recipe], None]) -> None:
    register(
        Recipe(
            name="digits-mlp",
            run=_digits_mlp,
            description="MLP 64-32-10 (tanh, batch 10) on scikit-learn's 8x8 digits, all "
            "layers analog; offline and quick.",
            dataset="sklearn digits (1797 images, 75/25 split)",
            default_epochs=5,
        )
    )
