"""Statistics of a handful of seeds: the mean, its spread and its 95% confidence interval.

Kept apart from the tables and figures so that every part of the report (the ranked table, the
bars, the metric-against-parameter figure, the least-squares script's table) computes its
intervals in one way. The t quantile is scipy's (installed with aihwkit), not a table of ours.

An interval never leaves the metric's range: a mean accuracy of two seeds can have a Student t
interval of [-0.56, 1.69], which says nothing more than [0, 1] and reads as nonsense. The
interval shown is the t interval intersected with the metric's natural range
(:func:`metric_limits`). Its coverage is unchanged (the true mean lies inside the range, so
whenever the t interval holds it, so does the intersection), and so is the separation of two
rows: two intervals overlap outside the range only if both reach past its edge, so they
overlap at the edge too.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

UNBOUNDED = (-math.inf, math.inf)
UNIT = (0.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)


def t_quantile_975(df: int) -> float:
    """t(0.975, df): the factor a 95% interval of a mean of ``df + 1`` values puts on its
    standard error (scipy's Student t, exact at every ``df``)."""
    if df < 1:
        raise ValueError(f"a t quantile needs at least 1 degree of freedom, got {df}")
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def metric_limits(metric: str) -> tuple[float, float]:
    """The natural range of a metric, read from its name: accuracies lie in [0, 1], losses in
    [0, inf), anything else is not limited. The name is all a report knows of a metric; the
    recipes name theirs ``test_accuracy``, ``val_accuracy``, ``loss``, ``train_loss``."""
    name = metric.lower()
    if "accuracy" in name:
        return UNIT
    if "loss" in name:
        return NON_NEGATIVE
    return UNBOUNDED


def _bound(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:g}"


def interval_method(metric: str) -> str:
    """How the report's 95% interval of ``metric`` is computed, in the words its tables use:
    "Student t with n - 1 degrees of freedom, limited to [0, 1]"."""
    low, high = metric_limits(metric)
    method = "Student t with n - 1 degrees of freedom"
    if (low, high) == UNBOUNDED:
        return method
    closing = ")" if math.isinf(high) else "]"
    return f"{method}, limited to [{_bound(low)}, {_bound(high)}{closing}"


def mean_interval(
    values: Sequence[float], limits: tuple[float, float] = UNBOUNDED
) -> tuple[float, float, float, float]:
    """(mean, std, ci_low, ci_high) of ``values``: sample standard deviation and the 95%
    confidence interval of the mean, Student t with n - 1 degrees of freedom (a handful of seeds
    is far too few for the normal approximation), intersected with ``limits``, the metric's
    range (:func:`metric_limits`). With one value there is no spread to estimate: std and the
    interval are NaN (not 0, which would claim certainty)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    std = statistics.stdev(values)
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    low, high = limits
    return mean, std, max(mean - half, low), min(mean + half, high)
