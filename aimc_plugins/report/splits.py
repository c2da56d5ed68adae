"""Which stored runs are results: a results store holds a comparison's test runs and, when it
was tuned, its tuning trials, which train on part of the training data and are evaluated on the
held-out rest (``PlannedRun.split == "validation"``). Trials chose the settings; they are not
results. Every table and figure of a report reads :func:`result_runs` only, and the tuning
section accounts for :func:`trial_runs`."""

from __future__ import annotations

from collections.abc import Sequence

from aimc_plugins.host.records import VALIDATION_SPLIT
from aimc_plugins.training.run import RunOutcome


def result_runs(outcomes: Sequence[RunOutcome]) -> list[RunOutcome]:
    """``outcomes`` less the tuning trials (validation-split runs), in their order."""
    return [o for o in outcomes if o.run.split != VALIDATION_SPLIT]


def trial_runs(outcomes: Sequence[RunOutcome]) -> list[RunOutcome]:
    """The tuning trials among ``outcomes``: runs evaluated on a validation split."""
    return [o for o in outcomes if o.run.split == VALIDATION_SPLIT]
