"""Whether each row of a table finished training, and whether its seeds agree: the two flags a
ranking needs before it can be read as one.

- **Converged or still improving.** A comparison trained to convergence records each row's
  plateau on its validation curve (``convergence.json``, :mod:`aimc_plugins.sweep.convergence`).
  For any other comparison the same rule reads the row's own mean curve over its seeds: a row
  that improved within its last ``patience`` epochs was *still improving* when training
  stopped, and its rank is a lower bound (an algorithm that needs the second half of a budget
  looks broken when it is merely unfinished).
- **Unstable across seeds.** A setting chosen on one seed can be good on that seed only. A row
  is flagged when its runs' standard deviation exceeds :data:`UNSTABLE_SPREAD` of the metric's
  range (accuracy: 0.1), or of its mean's magnitude for a metric without a range, over its
  final runs or over its tuning's decision seeds. Measured case: Analog SGD on GokmenVlasov,
  chosen at 0.93 on one validation seed, gave 0.12, 0.95 and 0.46 on the test seeds (std 0.42).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from aimc_plugins.report.stats import metric_limits
from aimc_plugins.sweep.convergence import (
    DEFAULT_RULE,
    LOWER_BOUND,
    Convergence,
    Plateau,
    mean_curve,
    plateau,
    recorded_plateaus,
)
from aimc_plugins.training.run import DONE, RunOutcome

UNSTABLE_SPREAD = 0.1
RowKey = tuple[str, str]  # (device, optimizer), as the ranked table names a row


def row_plateaus(
    outcomes: Sequence[RunOutcome],
    metric: str,
    higher_is_better: bool,
    record: Mapping[str, Any] | None = None,
) -> dict[RowKey, Plateau]:
    """Each row's plateau: the convergence record's (validation curve) where it has the row,
    else the rule over the mean curve of the row's finished runs (``source`` "own curve")."""
    recorded = recorded_plateaus(record)
    rule = Convergence(**record["rule"]) if record and "rule" in record else DEFAULT_RULE
    groups: dict[RowKey, list[RunOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.run.device, outcome.run.shown_optimizer), []).append(outcome)
    found: dict[RowKey, Plateau] = {}
    for key, group in groups.items():
        label = group[0].run.label  # convergence.json names rows by their table label
        if label in recorded:
            found[key] = recorded[label]
            continue
        curve = mean_curve([o.history for o in group if o.status == DONE], metric)
        if curve:
            found[key] = plateau(curve, higher_is_better, rule, source="own curve")
    return found


def spread_too_wide(values: Sequence[float], metric: str) -> bool:
    """Whether ``values`` (one per seed) disagree by more than :data:`UNSTABLE_SPREAD` of the
    metric's range (of the mean's magnitude for an unbounded metric)."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return False
    low, high = metric_limits(metric)
    scale = high - low if math.isfinite(high - low) else abs(statistics.fmean(finite))
    return statistics.stdev(finite) > UNSTABLE_SPREAD * scale


def unstable_rows(
    outcomes: Sequence[RunOutcome], metric: str, tuning: Mapping[str, Any] | None = None
) -> set[RowKey]:
    """The rows whose seeds disagree (:func:`spread_too_wide`): over their final runs, or over
    their tuning's decision seeds (``tuning.json``'s ``chosen_seed_values``)."""
    groups: dict[RowKey, list[float]] = {}
    for outcome in outcomes:
        if outcome.status == DONE and metric in outcome.final:
            key = (outcome.run.device, outcome.run.shown_optimizer)
            groups.setdefault(key, []).append(float(outcome.final[metric]))
    flagged = {key for key, values in groups.items() if spread_too_wide(values, metric)}
    if tuning:
        validation = str(tuning.get("metric", metric))
        for row in tuning.get("rows", []):
            values = [v for v in row.get("chosen_seed_values") or [] if v is not None]
            if spread_too_wide(values, validation):
                flagged.add((str(row.get("device")), str(row.get("optimizer"))))
    return flagged


def flag_notes(rows: Sequence[Any]) -> list[str]:
    """The notes under a table that name its flagged rows (rows of
    :class:`~aimc_plugins.report.ranking.Row`)."""
    notes = []
    improving = [r for r in rows if r.converged is False]
    if improving:
        names = "; ".join(
            f"{r.device} / {r.optimizer} ({r.cap_epochs} epochs)" for r in improving
        )
        ranks = (
            "Its rank is a lower bound" if len(improving) == 1 else "Their ranks are lower bounds"
        )
        notes.append(
            f"Still improving at the cap: {names}. {ranks}: raise the epochs cap (with converge "
            "= true each row then stops at its own plateau) before reading the order as a "
            "ranking."
        )
    unstable = [r for r in rows if r.seed_unstable]
    if unstable:
        names = "; ".join(f"{r.device} / {r.optimizer}" for r in unstable)
        notes.append(
            f"Unstable across seeds: {names}. Their seeds' standard deviation exceeds "
            f"{UNSTABLE_SPREAD:g} of the metric's range (or of the mean's magnitude), over the "
            "final runs or the tuning's decision seeds: the setting works on some seeds only, "
            "so the mean hides runs that failed to learn."
        )
    return notes


__all__ = [
    "LOWER_BOUND",
    "UNSTABLE_SPREAD",
    "flag_notes",
    "row_plateaus",
    "spread_too_wide",
    "unstable_rows",
]
