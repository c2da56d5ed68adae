"""Theory vs measurement: the report's comparison of what the theory predicts from each
device's response (:mod:`aimc_plugins.devices.theory`) with what the runs measured.

Analog SGD rows: each device's predicted score (``S_K`` over the recipe's initial weights in
device units, oriented like the metric: ``-S_K`` where higher is better, since accuracy falls as
``S_K`` grows, and ``S_K`` for a loss, which rises with it; so the score rises with the metric
the theory predicts) beside its measured mean, and Spearman's rank correlation between them
with its ``n`` and a one-sided permutation p-value (the alternative the theory states: a
positive correlation). scipy's ``permutation_test`` enumerates every pairing when there are
fewer than its resample count (n <= 8: exact), else draws them with a fixed ``random_state``
(a Monte Carlo p-value, ``(hits + 1) / (draws + 1)``), so a report written twice says the same.
With n devices no p-value falls below ``1 / n!``; the verdict says so rather than reading a
small n as evidence against the theory.

Tiki-Taka / residual learning rows (``ttv1``, ``rl``, ``rlv2``): the prediction is a yes/no,
"floor" when the residual array's device (as the run built it, zero shift included) has its
symmetric point off 0. Each row's devices are resolved once, from what the planned run records
(registered name and parameters, the optimizer's parameters), through the same builder that
trained it; a device whose response cannot be derived is listed with the reason, never dropped.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aimc_plugins.devices.theory import RANKING_RULE, Prediction, ranked
from aimc_plugins.report.plain import plain
from aimc_plugins.report.ranking import Row
from aimc_plugins.report.splits import result_runs
from aimc_plugins.report.theory_devices import ResidualPoint, Resolver
from aimc_plugins.training.run import RunOutcome

ANALOG_SGD = "sgd"
TRANSFER_OPTIMIZERS = ("ttv1", "rl", "rlv2")
MIN_DEVICES = 3
RESAMPLES = 50_000  # exact up to 8 devices (8! = 40320 pairings), drawn beyond
RANDOM_STATE = 0
ALPHA = 0.05


@dataclass(frozen=True)
class DevicePoint:
    """One Analog SGD row: its measured mean and, where derivable, its prediction."""

    device: str
    optimizer: str
    measured: float
    ci_low: float
    ci_high: float
    n_done: int
    prediction: Prediction | None = None
    reason: str = ""  # why there is no prediction

    @property
    def s_k(self) -> float | None:
        """The figure the device is ranked by (the predicted excess loss where the recipe
        provides a trained network, else S_K)."""
        return None if self.prediction is None else self.prediction.ranking_figure

    @property
    def s_k_alone(self) -> float | None:
        """The response's S_K, without the write noise's cost."""
        return None if self.prediction is None else self.prediction.s_k

    @property
    def s_k_spread(self) -> float | None:
        """S_K over the device-to-device distribution: shown, and correlated, beside."""
        return None if self.prediction is None else self.prediction.s_k_spread


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho between predicted score and measured mean over ``n`` devices, and the
    one-sided permutation p-value of rho this large under no association."""

    optimizer: str
    n: int
    rho: float
    p: float
    exact: bool
    verdict: str
    # rho by S_K over the device-to-device distribution: what the spread would do to the order
    spread_rho: float = math.nan
    # rho by the response's S_K alone: what the write noise's measured cost adds to the order
    s_k_rho: float = math.nan


@dataclass(frozen=True)
class TheorySection:
    """Everything the report's "Theory vs measurement" section shows."""

    metric: str
    higher_is_better: bool
    weights: str  # where the weights came from and in which units
    points: tuple[DevicePoint, ...] = ()
    correlations: tuple[Correlation, ...] = ()
    residual: tuple[ResidualPoint, ...] = ()
    residual_summary: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def data(self) -> dict[str, Any]:
        """Plain data for JSON (``Report.data()['theory']``): NaN and infinities as None."""
        return plain(asdict(self)) | {"ranking": RANKING_RULE}


def score(s_k: float, higher_is_better: bool) -> float:
    """The predicted score of a device, oriented like the metric: it rises where the theory
    predicts the metric to rise (``-S_K`` for an accuracy, ``S_K`` for a loss)."""
    return -s_k if higher_is_better else s_k


def smallest_p(n: int) -> float:
    """The smallest one-sided permutation p-value ``n`` untied pairs can give: ``1 / n!``."""
    return 1.0 / math.factorial(n)


def rank_correlation(scores: Sequence[float], measured: Sequence[float]) -> float:
    """Spearman's rho alone (NaN where either side has no order)."""
    from scipy import stats

    if len(set(scores)) < 2 or len(set(measured)) < 2:
        return math.nan
    return float(stats.spearmanr(scores, measured).statistic)


def correlate(scores: Sequence[float], measured: Sequence[float]) -> tuple[float, float, bool]:
    """``(rho, p, exact)``: Spearman's rho and its one-sided permutation p-value (alternative:
    rho > 0), exact when every pairing is enumerated."""
    import numpy as np
    from scipy import stats

    score_ranks = stats.rankdata(scores)
    centred = score_ranks - score_ranks.mean()

    def statistic(y: Any, axis: int = -1) -> Any:
        # Spearman's rho is Pearson's r of the ranks; the scores' ranks are fixed, so only the
        # permuted sample is ranked, all pairings at once (scipy's spearmanr per pairing took
        # seconds a report)
        ranks = stats.rankdata(y, axis=axis)
        ranks = ranks - ranks.mean(axis=axis, keepdims=True)
        return (ranks * centred).sum(axis=axis) / np.sqrt(
            (ranks**2).sum(axis=axis) * (centred**2).sum()
        )

    if len(set(scores)) < 2 or len(set(measured)) < 2:  # no order to correlate
        return math.nan, math.nan, True
    rho = float(stats.spearmanr(scores, measured).statistic)
    # one sample, its order permuted against the fixed scores: n! pairings in all (handing
    # scipy both samples would permute both, (n!)^2, and leave the exact range at n <= 4)
    result = stats.permutation_test(
        (list(measured),),
        statistic,
        permutation_type="pairings",
        vectorized=True,
        alternative="greater",
        n_resamples=RESAMPLES,
        random_state=RANDOM_STATE,
    )
    exact = math.factorial(len(scores)) <= RESAMPLES
    return rho, float(result.pvalue), exact


def drawn_floor() -> float:
    """The smallest p-value a drawn (not enumerated) test can give: ``1 / (draws + 1)``, what
    scipy reports when no drawn pairing reaches the observed rho."""
    return 1.0 / (RESAMPLES + 1)


def drawn_bound() -> float:
    """Where no draw reached rho, the exact p-value is below ``3 / draws`` with 95% confidence
    (the rule of three: ``(1 - 3/N)^N ~ e^-3 ~ 0.05``); the drawn p itself is an estimate, not
    a bound."""
    return 3.0 / RESAMPLES


def verdict(n: int, rho: float, p: float, exact: bool = True) -> str:
    """The result in words, as measured (a failed prediction is said to fail). A drawn p-value
    says so, and one at the draws' resolution says it is a bound, not a value."""
    if math.isnan(rho):
        return f"n = {n}: the predicted scores or the measured values are all equal, no order"
    head = f"rho = {rho:.2f}, n = {n}, p = {p:.2g}"
    if not exact:
        head += f" (from {RESAMPLES:,} random pairings of the {n}! possible"
        if p <= drawn_floor() * (1 + 1e-9):
            head += (
                f", none of which reached rho: a Monte Carlo estimate at the draws' resolution; "
                f"the exact p is below {drawn_bound():.1g} with 95% confidence"
            )
        head += ")"
    if p < ALPHA:
        return f"{head}: the measured ordering follows the predicted one"
    floor = smallest_p(n)
    if floor >= ALPHA:
        return (
            f"{head}: not significant, and cannot be with n = {n} (the smallest possible p is "
            f"1/{n}! = {floor:.2g}); more devices are needed to test the ordering"
        )
    if rho <= 0:
        return f"{head}: the ordering is not predicted here (the measured order runs against it)"
    return f"{head}: the ordering is not predicted here"


def predicted_order(group: Sequence[DevicePoint]) -> list[DevicePoint]:
    """One label's devices in the order the theory predicts (``ranked``: lowest S_K first, as
    ``aimc predict`` lists them), so the measured column reads down the prediction; devices
    without a prediction last, in their own order."""
    with_prediction = {id(p.prediction): p for p in group if p.prediction is not None}
    order = ranked([p.prediction for p in group if p.prediction is not None])
    return [with_prediction[id(q)] for q in order] + [p for p in group if p.prediction is None]


def _sgd_groups(outcomes: Sequence[RunOutcome]) -> dict[str, dict[str, RunOutcome]]:
    """Analog SGD runs: per shown optimizer (a sweep may vary sgd's settings), the first run of
    each device row."""
    groups: dict[str, dict[str, RunOutcome]] = defaultdict(dict)
    for outcome in outcomes:
        if outcome.run.optimizer == ANALOG_SGD:
            groups[outcome.run.shown_optimizer].setdefault(outcome.run.device, outcome)
    return groups


def _transfer_rows(outcomes: Sequence[RunOutcome]) -> dict[tuple[str, str], RunOutcome]:
    rows: dict[tuple[str, str], RunOutcome] = {}
    for outcome in outcomes:
        if outcome.run.optimizer in TRANSFER_OPTIMIZERS:
            rows.setdefault((outcome.run.device, outcome.run.shown_optimizer), outcome)
    return rows


def applies(outcomes: Sequence[RunOutcome]) -> bool:
    """Whether a report of ``outcomes`` gets the section: Analog SGD on at least
    :data:`MIN_DEVICES` devices (under one optimizer label), or any Tiki-Taka / residual rows."""
    outcomes = result_runs(outcomes)
    groups = _sgd_groups(outcomes)
    return any(len(g) >= MIN_DEVICES for g in groups.values()) or bool(_transfer_rows(outcomes))


def build_section(
    outcomes: Sequence[RunOutcome], rows: Sequence[Row], metric: str, higher_is_better: bool
) -> TheorySection | None:
    """The section for a report of ``outcomes`` ranked into ``rows``, or ``None`` where it does
    not apply (:func:`applies`)."""
    if not applies(outcomes):
        return None
    outcomes = result_runs(outcomes)
    by_row = {(r.device, r.optimizer): r for r in rows}
    resolver = Resolver()
    points: list[DevicePoint] = []
    correlations: list[Correlation] = []
    for label, devices in _sgd_groups(outcomes).items():
        if len(devices) < MIN_DEVICES:
            continue
        group = []
        for device, outcome in devices.items():
            row = by_row[(device, label)]
            prediction, reason = resolver.prediction(outcome.run)
            group.append(
                DevicePoint(
                    device,
                    label,
                    row.mean,
                    row.ci_low,
                    row.ci_high,
                    row.n_done,
                    prediction,
                    reason,
                )
            )
        points += predicted_order(group)
        usable = [p for p in group if p.s_k is not None and not math.isnan(p.measured)]
        if len(usable) < MIN_DEVICES:
            continue
        # one figure for every device of the group: the excess loss where all have one, else S_K
        by_excess = all(
            p.prediction is not None and p.prediction.excess_loss is not None for p in usable
        )
        figures = [(p.s_k if by_excess else p.s_k_alone) or 0.0 for p in usable]
        scores = [score(figure, higher_is_better) for figure in figures]
        measured = [p.measured for p in usable]
        rho, p_value, exact = correlate(scores, measured)
        verdict_text = verdict(len(usable), rho, p_value, exact)
        spread = [score(p.s_k_spread or 0.0, higher_is_better) for p in usable]
        spread_rho = rank_correlation(spread, measured)
        alone = [score(p.s_k_alone or 0.0, higher_is_better) for p in usable]
        s_k_rho = rank_correlation(alone, measured)
        correlations.append(
            Correlation(label, len(usable), rho, p_value, exact, verdict_text, spread_rho, s_k_rho)
        )
    residual = [
        resolver.residual(outcome.run, by_row[key].mean, by_row[key].n_done, by_row[key].std)
        for key, outcome in _transfer_rows(outcomes).items()
    ]
    return TheorySection(
        metric=metric,
        higher_is_better=higher_is_better,
        weights=resolver.weights_text(),
        points=tuple(points),
        correlations=tuple(correlations),
        residual=tuple(residual),
        residual_summary=residual_summary(residual, higher_is_better),
        notes=tuple(resolver.notes),
    )


def residual_summary(points: Sequence[ResidualPoint], higher_is_better: bool) -> str:
    """Whether the rows predicted to have no floor measured better than those predicted to
    have one, in words: device by device where one device has both kinds of row (a zero shift
    on and off), else over the groups; with one kind only, that there is nothing to compare."""
    if not points:
        return ""
    gamma_zero = ""
    if any(p.gamma == 0.0 and p.floor is False for p in points):
        gamma_zero = (
            " Rows with gamma = 0 (Tiki-Taka v1): the exact-convergence result is for gamma > 0, "
            "so their 'no' rules out only the residual device's floor."
        )
    paired = _paired_floors(points, higher_is_better)
    return (paired or _compare_floors(points, higher_is_better)) + gamma_zero


def _welch_p(a: ResidualPoint, b: ResidualPoint) -> float:
    """Two-sided Welch t-test of two rows' means from their seeds' mean, std and count (NaN
    where a row has fewer than two runs or no spread to test against)."""
    from scipy import stats

    if min(a.n_done, b.n_done) < 2 or math.isnan(a.std) or math.isnan(b.std):
        return math.nan
    if a.std == 0.0 and b.std == 0.0:  # no spread measured: nothing to test the difference by
        return math.nan
    result = stats.ttest_ind_from_stats(
        a.measured, a.std, a.n_done, b.measured, b.std, b.n_done, equal_var=False
    )
    return float(result.pvalue)


def _paired_floors(points: Sequence[ResidualPoint], higher_is_better: bool) -> str:
    """The like-for-like test of the floor: on one device and one algorithm (and one gamma), a
    row whose residual device is predicted to leave a floor (no zero shift) against one
    predicted not to (zero-shifted), each at its own setting (tuned alike, where tuned). Only
    rows of the same algorithm pair (``rl`` with ``rl`` unshifted, never with ``ttv1``); a row
    left without its like, or a third of a kind, is named, not silently dropped. Empty where no
    pair exists."""
    by_key: dict[tuple[str, str, float | None], dict[bool, list[ResidualPoint]]] = defaultdict(
        lambda: {True: [], False: []}
    )
    for p in points:
        if p.floor is not None and not math.isnan(p.measured):
            by_key[(p.device, p.algorithm or p.optimizer, p.gamma)][p.floor].append(p)
    pairs = [(k[False][0], k[True][0]) for k in by_key.values() if k[False] and k[True]]
    if not pairs:
        return ""
    paired = {id(p) for pair in pairs for p in pair}
    unpaired = [
        f"{p.device} / {p.optimizer}"
        for kinds in by_key.values()
        if kinds[False] and kinds[True]
        for p in kinds[False] + kinds[True]
        if id(p) not in paired
    ]
    sign = 1.0 if higher_is_better else -1.0
    lines = []
    counts = {"as": 0, "as, separated": 0, "against": 0, "against, separated": 0, "equal": 0}
    for free, floor in pairs:
        gain = sign * (free.measured - floor.measured)
        p_value = _welch_p(free, floor)
        separated = not math.isnan(p_value) and p_value < ALPHA
        if gain == 0.0:
            counts["equal"] += 1
        else:
            way = "as" if gain > 0 else "against"
            counts[way] += 1
            counts[f"{way}, separated"] += separated
        lines.append(
            f"{free.device}: {free.optimizer} {free.measured:.4g} (no floor) vs {floor.optimizer} "
            f"{floor.measured:.4g} (floor), difference {free.measured - floor.measured:+.3g}, "
            f"Welch p = {p_value:.2g}"
        )
    head = (
        f"Same device and algorithm with and without a predicted floor ({len(pairs)} pair(s); "
        "within a pair the device, the algorithm and the budget are the same, the residual "
        "device's symmetric point and so each row's tuned setting differ): the row without a floor "
        f"measured better on {counts['as']} ({counts['as, separated']} separated by the seeds, "
        f"Welch's t-test p < {ALPHA}) and worse on {counts['against']} "
        f"({counts['against, separated']} separated)"
        + (f", equal on {counts['equal']}" if counts["equal"] else "")
        + ". "
    )
    if counts["as, separated"] and not counts["against, separated"]:
        tail = "Where the seeds separate a pair, it goes as predicted."
    elif counts["against, separated"] and not counts["as, separated"]:
        tail = "Where the seeds separate a pair, it goes against the prediction."
    elif counts["as, separated"]:
        tail = "The separated pairs go both ways: the prediction holds on some devices only."
    else:
        tail = "No pair is separated by the seeds: no evidence either way at this size."
    extra = (
        f" Rows of the same device and algorithm beyond the first pair, not compared: "
        f"{', '.join(unpaired)}."
        if unpaired
        else ""
    )
    return head + tail + " Per device: " + "; ".join(lines) + "." + extra


def _compare_floors(points: Sequence[ResidualPoint], higher_is_better: bool) -> str:
    groups: dict[bool, list[float]] = {True: [], False: []}
    for p in points:
        if p.floor is not None and not math.isnan(p.measured):
            groups[p.floor].append(p.measured)
    floor, free = groups[True], groups[False]
    if not floor or not free:
        kind = "a floor" if floor else "no floor" if free else "nothing (no symmetric point)"
        return (
            f"Every row with a prediction predicts {kind}: the measurement cannot confirm or "
            "refute the floor's dependence on the residual device's symmetric point here."
        )
    mean_floor, mean_free = sum(floor) / len(floor), sum(free) / len(free)
    better = mean_free > mean_floor if higher_is_better else mean_free < mean_floor
    return (
        f"Rows predicted without a floor: mean {mean_free:.4g} over {len(free)}; with a floor: "
        f"mean {mean_floor:.4g} over {len(floor)} (different devices, so the devices differ "
        "besides the prediction; a row with and one without a zero shift on one device would "
        "compare like for like). "
        + (
            "The rows without a predicted floor measured better, as predicted."
            if better
            else "The rows without a predicted floor did not measure better: not as predicted."
        )
    )
