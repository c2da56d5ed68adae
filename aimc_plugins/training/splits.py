"""Validation splits carved from a recipe's training data, so tuning never sees the test split.

A tuned comparison chooses each row's setting on held-out *training* data and reads the test
split only in its final, seeded runs. Recipes call :func:`for_run` with their training and test
sets; for a validation run it returns the training set less a fixed held-out part, and that
part, in place of the test set, which the run then never evaluates. The held-out part is the
same for every run (a fixed permutation, not the run's seed), so trials differ in their
settings only.
"""

from __future__ import annotations

from typing import Any

from aimc_plugins.host.records import SPLITS, VALIDATION_SPLIT, RunConfig

VALIDATION_FRACTION = 0.2
VALIDATION_SEED = 12345  # independent of the recipes' train/test split seeds
VALIDATION_NOTE = (
    f"{VALIDATION_FRACTION:.0%} of the training data, held out with a fixed permutation; "
    "trials train on the other {:.0%}".format(1 - VALIDATION_FRACTION)
)


def metric_prefix(split: str) -> str:
    """``test`` or ``val``: what an evaluation's metric names start with."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    return "val" if split == VALIDATION_SPLIT else "test"


def holdout(dataset: Any, fraction: float = VALIDATION_FRACTION) -> tuple[Any, Any]:
    """``(rest, held_out)`` of a torch ``TensorDataset``: ``fraction`` of it, at least one item,
    chosen by a fixed permutation."""
    import torch
    from torch.utils.data import TensorDataset

    n = len(dataset)
    if n < 2:
        raise ValueError(f"a validation split needs at least 2 training items, got {n}")
    n_held = min(n - 1, max(1, round(n * fraction)))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(VALIDATION_SEED))
    tensors = dataset.tensors
    rest, held = order[n_held:], order[:n_held]
    return TensorDataset(*(t[rest] for t in tensors)), TensorDataset(*(t[held] for t in tensors))


def for_run(config: RunConfig, train: Any, test: Any) -> tuple[Any, Any]:
    """The data a run trains on and the data it is evaluated on: ``(train, test)`` for a test
    run, ``holdout(train)`` for a validation run (whose test set is then never read)."""
    metric_prefix(config.split)  # an unknown split fails here, before training
    if config.split == VALIDATION_SPLIT:
        return holdout(train)
    return train, test
