"""Ranking a comparison's rows: per device x optimizer, n, mean ± std and the 95% confidence
interval of the mean over seeds (:mod:`.stats`), and letter groups that say which rows the seeds
cannot tell apart, in letters and in words. Statistics only: the writers
(:mod:`.writers`) and the page (:mod:`.page`) lay these rows out.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from aimc_plugins.report import plots
from aimc_plugins.report.device_cost import NO_DEVICE, NO_RUNS, NOT_COUNTED, compact, row_cost
from aimc_plugins.report.splits import result_runs
from aimc_plugins.report.stats import interval_method, mean_interval, metric_limits
from aimc_plugins.sweep.convergence import Plateau
from aimc_plugins.training.pulses import DEVICE_MAX, ENERGY, PULSES
from aimc_plugins.training.run import DIVERGED, DONE, FAILED, RunOutcome

NO_INTERVAL = "n=1, no interval"


@dataclass(frozen=True)
class Row:
    """Mean, spread and 95% confidence interval over seeds of one device x optimizer, with its
    letter group in the ranking (rows sharing a letter are not separated by their intervals),
    and what its training cost the device: the mean pulses over its finished runs (``--json``
    and ``results.csv`` carry them as these fields)."""

    device: str
    optimizer: str
    metric: str
    mean: float
    std: float
    n_done: int
    n_runs: int
    n_diverged: int = 0
    n_failed: int = 0
    kind: str = ""
    ci_low: float = math.nan
    ci_high: float = math.nan
    group: str = ""
    tied_for_best: bool = False
    # Whether training finished (aimc_plugins.report.convergence): None where unknown.
    converged: bool | None = None
    stop_epoch: int | None = None  # the epoch its metric last improved (the plateau's start)
    cap_epochs: int | None = None  # the epochs it could train (the cap)
    convergence_source: str = ""  # "validation" (trained to convergence) or "own curve"
    seed_unstable: bool = False  # its seeds disagree (report.convergence.spread_too_wide)
    # What training cost the device (aimc_plugins.report.device_cost): means over the finished
    # runs, None where they were not counted (pulses_note says why) or fired none (digital).
    pulses: float | None = None
    pulses_device_max: float | None = None
    energy_j: float | None = None  # only where the device declares energy for every run
    pulses_note: str = ""

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.ci_low) or math.isnan(self.ci_high))

    def formatted(self, digits: int = 4) -> str:
        """Mean ± std; a single run shows its value alone, since ``± 0`` would claim a spread
        of zero that was never measured."""
        if math.isnan(self.mean):
            return "n/a"
        if self.n_done < 2 or math.isnan(self.std):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"

    def formatted_interval(self, digits: int = 4) -> str:
        if math.isnan(self.mean):
            return "n/a"
        if not self.has_interval:
            return NO_INTERVAL
        return f"[{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]"

    def formatted_convergence(self) -> str:
        """``epoch 12 of 30``, ``still improving at 30`` (or ``—`` where unknown), and
        ``seeds disagree`` for an unstable row."""
        if self.converged is None:
            text = "—"
        elif self.converged:
            text = f"epoch {self.stop_epoch} of {self.cap_epochs}"
        else:
            text = f"still improving at {self.cap_epochs}"
        return f"{text}; seeds disagree" if self.seed_unstable else text

    def formatted_pulses(self) -> str:
        """The table's pulses cell: ``4.3e6``; ``n/c`` where they could not be counted,
        ``—`` where none were recorded (the digital baseline, counting switched off), ``n/a``
        without a finished run."""
        if self.pulses is not None:
            return compact(self.pulses)
        if self.pulses_note:
            return NOT_COUNTED
        return NO_RUNS if self.n_done == 0 else NO_DEVICE

    def formatted_energy(self) -> str:
        """The energy cell (joules), ``—`` where the device declares none."""
        return compact(self.energy_j) if self.energy_j is not None else NO_DEVICE

    def formatted_group(self) -> str:
        if math.isnan(self.mean):
            return "—"
        label = self.group if self.has_interval else "n=1, not separated"
        return f"{label}, tied for best" if self.tied_for_best else label


def separated(a: Row, b: Row) -> bool:
    """Whether the seeds tell two rows apart: both have a 95% interval and the intervals do not
    overlap. A row without an interval (one finished run) is separated from nothing, because
    its spread is unknown, so ranking it above or below another row would be reading noise."""
    if not (a.has_interval and b.has_interval):
        return False
    return a.ci_high < b.ci_low or b.ci_high < a.ci_low


def letter_groups(rows: Sequence[Row]) -> list[str]:
    """A compact letter display of ``rows`` (best first): rows that share a letter have
    overlapping intervals (not separated); rows with no letter in common are separated.

    Each letter is one maximal set of intervals with a point in common. Two intervals overlap
    exactly when some point lies in both, so they then share that point's letter; letters are
    handed out in rank order, so ``a`` always holds the best row. Rows without an interval get
    no letter (see :func:`separated`)."""
    spans = {i: (r.ci_low, r.ci_high) for i, r in enumerate(rows) if r.has_interval}
    # Every maximal set of closed intervals with a common point holds that point at its
    # largest lower end, so the lower ends are the only points to look at.
    candidates = {
        frozenset(j for j, (low, high) in spans.items() if low <= point <= high)
        for point, _ in spans.values()
    }
    maximal = [c for c in candidates if not any(c < other for other in candidates)]
    maximal.sort(key=lambda members: sorted(members))
    letters = [""] * len(rows)
    for index, members in enumerate(maximal):
        for member in members:
            letters[member] += group_letter(index)
    return letters


def group_letter(index: int) -> str:
    """a..z, then aa, ab, ... so a sweep with many rows still gets distinct groups."""
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = alphabet[rest] + name
    return name


def summarize(
    outcomes: Sequence[RunOutcome],
    metric: str,
    higher_is_better: bool = True,
    *,
    plateaus: Mapping[tuple[str, str], Plateau] | None = None,
    unstable: Collection[tuple[str, str]] = (),
) -> list[Row]:
    """One row per device x optimizer, best first (by mean, in the direction the metric says),
    with letter groups and "tied for best" marks from the 95% intervals, so the order of rows
    the seeds cannot separate is not read as a ranking. Failed and diverged runs count in
    ``n_runs`` but not in the mean, so a configuration that only works on some seeds shows it.
    Intervals stay inside the metric's range (:func:`~.stats.metric_limits`). Tuning trials
    (validation-split runs) are not results and are left out (:func:`~.splits.result_runs`).
    ``plateaus`` (:func:`~.convergence.row_plateaus`) say per row whether it converged;
    ``unstable`` names the rows whose seeds disagree. Each row's pulses, wear and energy are
    :func:`~.device_cost.row_cost`'s means over the same finished runs."""
    groups: dict[tuple[str, str], list[RunOutcome]] = defaultdict(list)
    limits = metric_limits(metric)
    for outcome in result_runs(outcomes):
        groups[(outcome.run.device, outcome.run.shown_optimizer)].append(outcome)
    rows = []
    for (device, optimizer), group in groups.items():
        values = [float(o.final[metric]) for o in group if o.status == DONE and metric in o.final]
        mean, std, ci_low, ci_high = mean_interval(values, limits)
        first = group[0].run
        found = (plateaus or {}).get((device, optimizer))
        cost = row_cost(device, optimizer, group)
        rows.append(
            Row(
                device,
                optimizer,
                metric,
                mean,
                std,
                len(values),
                len(group),
                sum(o.status == DIVERGED for o in group),
                sum(o.status == FAILED for o in group),
                plots.origin(first),
                ci_low,
                ci_high,
                converged=found.converged if found is not None else None,
                stop_epoch=found.stop_epoch if found is not None else None,
                cap_epochs=found.epochs if found is not None else None,
                convergence_source=found.source if found is not None else "",
                seed_unstable=(device, optimizer) in unstable,
                pulses=cost.mean(PULSES),
                pulses_device_max=cost.mean(DEVICE_MAX),
                energy_j=cost.mean(ENERGY),
                pulses_note="" if cost.counted else cost.why,
            )
        )

    def key(row: Row) -> float:
        if math.isnan(row.mean):
            return math.inf
        return -row.mean if higher_is_better else row.mean

    rows.sort(key=key)
    letters = letter_groups(rows)
    best = rows[0] if rows else None
    tied = [
        best is not None and not math.isnan(r.mean) and (r is best or not separated(r, best))
        for r in rows
    ]
    # "tied for best" only says something when more than one row holds it.
    mark = sum(tied) > 1
    return [
        replace(row, group=letter, tied_for_best=mark and is_tied)
        for row, letter, is_tied in zip(rows, letters, tied, strict=True)
    ]


def separation_note(metric: str) -> str:
    """The sentence under the table: how its intervals are computed (the method, with the
    metric's range they are limited to) and how to read its letter groups."""
    return (
        f"95% confidence intervals of the mean: {interval_method(metric)}. Rows that share a "
        "letter in *group* have overlapping intervals, so the seeds do not separate them and "
        "their order is not a ranking; rows not separated from the best are marked *tied for "
        "best*, and a row with one finished run has no interval and is separated from none."
    )


def letters_explained(metric: str) -> str:
    """The longer reading of the group column, for the HTML page."""
    return (
        "How to read the group column: each letter names a set of rows whose 95% confidence "
        "intervals of the mean all share a common value. Two rows that share a letter are not "
        "separated: their intervals overlap, so these seeds cannot tell which is better, and "
        "their order in the table is not a ranking. Two rows with no letter in common are "
        "separated: their intervals do not overlap, a stricter test than a 5% t-test of the "
        "difference. The letter a always holds the best row; a row with one finished run has no "
        f"interval and no letter, and is separated from nothing. The intervals: "
        f"{interval_method(metric)} (limiting an interval to the metric's range changes "
        "neither its coverage nor which rows are separated)."
    )


def separation_summary(rows: Sequence[Row]) -> list[str]:
    """In plain sentences: the best row, the rows separated from it (the seeds say it is
    better than them) and the rows that are not (they may be as good)."""
    shown = [r for r in rows if not math.isnan(r.mean)]
    if not shown:
        return []
    best, others = shown[0], shown[1:]

    def names(selected: Sequence[Row]) -> str:
        return "; ".join(f"{r.device} / {r.optimizer}" for r in selected) or "none"

    lines = [
        f"Best: {best.device} / {best.optimizer}, {best.metric} {best.formatted()} "
        f"(95% CI {best.formatted_interval()})."
    ]
    if not best.has_interval:
        return [*lines, "It has one finished run and no interval: nothing is separated from it."]
    apart = [r for r in others if separated(r, best)]
    tied = [r for r in others if r.has_interval and not separated(r, best)]
    single = [r for r in others if not r.has_interval]
    lines.append(
        f"Separated from the best (intervals do not overlap; the best is better): {names(apart)}."
    )
    lines.append(f"Not separated from the best (intervals overlap; may be as good): {names(tied)}.")
    if single:
        lines.append(f"One finished run, no interval, not compared: {names(single)}.")
    return lines


def ranking_metric(outcomes: Sequence[RunOutcome]) -> tuple[str, bool]:
    """The metric (and its direction) of the recipe most of the runs used."""
    from aimc_plugins.host import plugins

    recipes = Counter(o.run.recipe for o in outcomes)
    if recipes:
        record = plugins.recipes().get(recipes.most_common(1)[0][0])
        if record is not None:
            return record.metric, record.higher_is_better
    return "test_accuracy", True
