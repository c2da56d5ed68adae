"""Statistics of a handful of seeds: the mean, its spread and its 95% confidence interval.

Kept apart from the tables and figures so that every part of the report (the ranked table, the
bars, the metric-against-parameter figure) computes its intervals in one way."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

# Student's t quantile t(0.975, df) for df = 1..30 (two-sided 95%), to four decimals. A table
# instead of scipy keeps the report free of a heavy import for the few values a sweep needs.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """t(0.975, df): the factor a 95% interval of a mean of ``df + 1`` values puts on its
    standard error. Tabled up to 30 degrees of freedom; beyond, the Cornish-Fisher expansion
    around the normal quantile, which is within 1e-4 of the exact value there."""
    if df < 1:
        raise ValueError(f"a t quantile needs at least 1 degree of freedom, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z, v = _Z975, float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def mean_interval(values: Sequence[float]) -> tuple[float, float, float, float]:
    """(mean, std, ci_low, ci_high) of ``values``: sample standard deviation and the 95%
    confidence interval of the mean, Student t with n - 1 degrees of freedom, because a
    handful of seeds is far too few for the normal approximation. With one value there is no
    spread to estimate: std and the interval are NaN (not 0, which would claim certainty)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    std = statistics.stdev(values)
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half
