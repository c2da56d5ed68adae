"""Time to target beside the final value, the way the MLCommons AlgoPerf benchmark scores
training algorithms: per run, the first epoch at which the ranked metric reached a target, with
the training samples seen and the training time at that epoch.

A final value alone compares runs stopped wherever the budget ended, often mid-way up their
learning curves; how soon each row gets to a fixed level is the other half of "which algorithm
trains better". The target is the comparison's own when it set one (a spec's ``target``, kept
in the results store as the meta value ``target``), otherwise :data:`BASELINE_FRACTION` of the
digital baseline's mean final value (divided by it for a metric where lower is better); without
either there is no target, and the report says why instead of inventing one.

Per row, the number of epochs to target is the median over its runs, a run that never reached
the target counting as infinitely slow (AlgoPerf's rule), so the median is "not reached" when
half the runs or more did not; ``k/n reached`` says how many did. Samples and time are the
medians the same way, where the runs recorded them (the training loop's ``train_samples`` and
``train_time_s`` per epoch); other recipes give the epoch only. So are the pulses the devices
fired until then (each epoch's ``pulses`` so far, :mod:`aimc_plugins.training.pulses`), where
the runs were counted: reaching a level with fewer writes wears the devices less. Failed runs
(an error, not a result) are left out; diverged runs count as not reached.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimc_plugins.report.device_cost import compact
from aimc_plugins.report.figures import figure_legend, label_panels, save, style
from aimc_plugins.report.plain import plain
from aimc_plugins.report.splits import result_runs
from aimc_plugins.training.loop import SAMPLES_KEY, TIME_KEY
from aimc_plugins.training.pulses import PULSES
from aimc_plugins.training.run import DONE, FAILED, RunOutcome

BASELINE_FRACTION = 0.95
DIGITAL_OPTIMIZER = "digital"
TARGET_META = "target"  # the results store's meta key for a comparison's explicit target
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class Target:
    """The level runs must reach: ``value`` of ``metric``, and in words how it was chosen."""

    metric: str
    value: float
    higher_is_better: bool
    source: str  # "spec" or "baseline"
    how: str

    def reached(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        return value >= self.value if self.higher_is_better else value <= self.value


@dataclass(frozen=True)
class Reach:
    """Where one run first reached the target (None fields: it never did, or did not record)."""

    run_id: str
    seed: int
    epoch: int | None
    samples: float | None = None
    time_s: float | None = None
    trained_epochs: int = 0  # how far the run trained: the figure's lines run to there
    trained_samples: float | None = None
    # Pulses fired until the target (so far at that epoch), and over the whole run: None where
    # the run's pulses were not counted (the digital baseline, aihwkit's compiled compounds)
    pulses: float | None = None
    trained_pulses: float | None = None

    @property
    def reached(self) -> bool:
        return self.epoch is not None


@dataclass(frozen=True)
class RowReach:
    """One device x optimizer row: its runs' reaches and their medians (inf: not reached)."""

    device: str
    optimizer: str
    runs: tuple[Reach, ...]

    @property
    def n_reached(self) -> int:
        return sum(r.reached for r in self.runs)

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    def _median(self, values: Sequence[float | None]) -> float:
        if not values:
            return math.nan
        return statistics.median(math.inf if v is None else float(v) for v in values)

    @property
    def epochs(self) -> float:
        return self._median([r.epoch for r in self.runs])

    @property
    def samples(self) -> float:
        """Median training samples at the target; NaN where a run reached it unrecorded."""
        if any(r.reached and r.samples is None for r in self.runs):
            return math.nan
        return self._median([r.samples for r in self.runs])

    @property
    def time_s(self) -> float:
        if any(r.reached and r.time_s is None for r in self.runs):
            return math.nan
        return self._median([r.time_s for r in self.runs])

    @property
    def counted(self) -> bool:
        """Whether every run's pulses were counted (and there is a run)."""
        return bool(self.runs) and all(r.trained_pulses is not None for r in self.runs)

    @property
    def pulses(self) -> float:
        """Median pulses fired until the target (inf: not reached); NaN where a run's pulses
        were not counted."""
        if not self.counted or any(r.reached and r.pulses is None for r in self.runs):
            return math.nan
        return self._median([r.pulses for r in self.runs])

    def formatted(self) -> str:
        """The table's cell: ``3 (3/3 reached)``, ``not reached (1/3 reached)``."""
        if not self.runs:
            return "—"
        share = f"{self.n_reached}/{self.n_runs} reached"
        epochs = self.epochs
        if math.isinf(epochs):
            return f"{NOT_REACHED} ({share})"
        return f"{epochs:g} ({share})"


def explicit_target(folder: Path | None) -> float | None:
    """The comparison's own target, kept in ``folder``'s results store by ``aimc compare``
    (a spec's ``target``); None without a store or a target."""
    if folder is None:
        return None
    from aimc_plugins.sweep.store import STORE_NAME, ResultsStore

    path = Path(folder) / STORE_NAME
    if not path.is_file():
        return None
    with ResultsStore(path) as store:
        value = store.get_meta(TARGET_META)
    if isinstance(value, dict):  # {"value": 0.8, ...}: a target kept with more about it
        value = value.get("value")
    return None if value is None else float(value)


def choose_target(
    outcomes: Sequence[RunOutcome],
    metric: str,
    higher_is_better: bool = True,
    explicit: float | None = None,
    fraction: float = BASELINE_FRACTION,
) -> tuple[Target | None, str]:
    """(target, why): the explicit target if given, else ``fraction`` of the digital baseline's
    mean final value (its best row, when several); (None, the reason) without either."""
    if explicit is not None:
        how = f"{metric} {explicit:g}, the comparison's own target (its spec's `target`)"
        return Target(metric, float(explicit), higher_is_better, "spec", how), how
    by_row: dict[str, list[float]] = defaultdict(list)
    for outcome in outcomes:
        run = outcome.run
        if run.optimizer == DIGITAL_OPTIMIZER and outcome.status == DONE:
            value = float(outcome.final.get(metric, math.nan))
            if math.isfinite(value):
                by_row[run.label].append(value)
    if not by_row:
        return None, (
            "No time to target: the comparison set no `target` and has no finished digital "
            "baseline to take one from."
        )
    means = {label: statistics.fmean(values) for label, values in by_row.items()}
    pick = max if higher_is_better else min
    label = pick(means, key=lambda key: means[key])
    base = means[label]
    value = base * fraction if higher_is_better else base / fraction
    relation = f"{fraction:g} x" if higher_is_better else f"1/{fraction:g} x"
    how = (
        f"{metric} {value:.4g}: {relation} the digital baseline's mean final value "
        f"({label}, {base:.4g} over {len(by_row[label])} runs), as the comparison set no "
        "`target` of its own"
    )
    return Target(metric, value, higher_is_better, "baseline", how), how


def first_reach(outcome: RunOutcome, target: Target) -> Reach:
    """The first epoch of ``outcome``'s history at which the metric reached ``target``, with
    the samples and training time recorded at that epoch (None where the recipe records none)."""
    run = outcome.run
    last = outcome.history[-1] if outcome.history else {}
    trained = int(last.get("epoch", len(outcome.history)))
    trained_samples = None if last.get(SAMPLES_KEY) is None else float(last[SAMPLES_KEY])
    trained_pulses = _number(last.get(PULSES))
    for index, metrics in enumerate(outcome.history, 1):
        if target.reached(float(metrics.get(target.metric, math.nan))):
            return Reach(
                run.run_id,
                run.seed,
                int(metrics.get("epoch", index)),
                _number(metrics.get(SAMPLES_KEY)),
                _number(metrics.get(TIME_KEY)),
                trained,
                trained_samples,
                _number(metrics.get(PULSES)),
                trained_pulses,
            )
    return Reach(
        run.run_id, run.seed, None, None, None, trained, trained_samples, None, trained_pulses
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def reaches(outcomes: Sequence[RunOutcome], target: Target) -> dict[tuple[str, str], RowReach]:
    """(device, optimizer) -> the row's reaches, as the ranked table names its rows. Failed
    runs are left out; diverged ones count as not reached."""
    runs: dict[tuple[str, str], list[Reach]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status == FAILED:
            continue
        key = (outcome.run.device, outcome.run.shown_optimizer)
        runs[key].append(first_reach(outcome, target))
    return {key: RowReach(*key, tuple(found)) for key, found in runs.items()}


def duration_text(seconds: float) -> str:
    if not math.isfinite(seconds):
        return NOT_REACHED if math.isinf(seconds) else "not recorded"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def samples_text(samples: float) -> str:
    if not math.isfinite(samples):
        return NOT_REACHED if math.isinf(samples) else "not recorded"
    return f"{samples:,.0f}"


def pulses_text(row: RowReach, why: str = "not counted") -> str:
    """The pulses cell: ``1.2e6``, ``not reached``, or where the row's runs were not counted
    ``why`` (``not counted``; ``—`` for the digital baseline, which fires none)."""
    if not row.counted:
        return why
    pulses = row.pulses
    return NOT_REACHED if math.isinf(pulses) else compact(pulses)


DETAIL_HEAD = (
    "device",
    "optimizer",
    "epochs to target (median)",
    "training samples (median)",
    "training time (median)",
    "runs reached",
)
PULSES_HEAD = "pulses (median)"


def has_pulses(found: dict[tuple[str, str], RowReach] | None) -> bool:
    """Whether some row's runs were counted: the detail table then has a pulses column."""
    return found is not None and any(row.counted for row in found.values())


def detail_head(with_pulses: bool = False) -> tuple[str, ...]:
    """:data:`DETAIL_HEAD`, with the pulses column before ``runs reached`` when
    ``with_pulses``."""
    if not with_pulses:
        return DETAIL_HEAD
    return (*DETAIL_HEAD[:-1], PULSES_HEAD, DETAIL_HEAD[-1])


def detail_rows(
    rows: Sequence[Any], found: dict[tuple[str, str], RowReach], with_pulses: bool = False
) -> list[tuple[str, ...]]:
    """Cells of the time-to-target table, in the ranked table's order (``rows`` are its rows),
    matching :func:`detail_head` (``with_pulses``: the pulses fired until the target)."""
    cells: list[tuple[str, ...]] = []
    for row in rows:
        reach = found.get((row.device, row.optimizer))
        if reach is None or not reach.runs:
            continue
        epochs = reach.epochs
        # a ranked row knows why its pulses are missing: a note where they were not counted
        why = "not counted" if getattr(row, "pulses_note", "") else "—"
        pulses = (pulses_text(reach, why),) if with_pulses else ()
        cells.append(
            (
                row.device,
                row.optimizer,
                NOT_REACHED if math.isinf(epochs) else f"{epochs:g}",
                samples_text(reach.samples),
                duration_text(reach.time_s),
                *pulses,
                f"{reach.n_reached}/{reach.n_runs}",
            )
        )
    return cells


RULE = (
    "Per run: the first epoch at which the metric reached the target, with the training samples "
    "seen and the training time at that epoch (AlgoPerf's time to target), and the pulses fired "
    "on the devices until then where they were counted. Per row: the median "
    "over its runs, a run that never reached the target counting as infinitely slow, so a row "
    "whose runs reached it in fewer than half is 'not reached'; failed runs are left out, "
    "diverged ones did not reach it."
)


def _x_of(reach: Reach, by_samples: bool) -> float | None:
    return reach.samples if by_samples else (None if reach.epoch is None else float(reach.epoch))


def _end_of(reach: Reach, by_samples: bool) -> float | None:
    return reach.trained_samples if by_samples else float(reach.trained_epochs)


def _draw(ax: Any, row: RowReach, by_samples: bool, right: float, **line: Any) -> None:
    """One row's share of runs at the target as a step line from 0 to ``right``."""
    xs = sorted(x for r in row.runs if (x := _x_of(r, by_samples)) is not None)
    steps_x = [0.0, *xs, right]
    steps_y = [0.0, *(i / row.n_runs for i in range(1, len(xs) + 1))]
    steps_y.append(steps_y[-1])
    ax.step(steps_x, steps_y, where="post", **line)


def reach_figure(found: dict[tuple[str, str], RowReach], target: Target) -> Any:
    """The share of each row's runs that have reached the target against training samples (or
    epochs, where some run recorded no samples), up to the end of training: one panel per
    optimizer, one step line per device, the digital baseline dashed in every panel. A line
    that climbs early and to 1 is a row that trains fast and reliably; one that stays at 0
    never got there within the budget."""
    rows = [r for r in found.values() if r.runs]
    runs = [r for row in rows for r in row.runs]
    by_samples = bool(runs) and all(r.trained_samples is not None for r in runs)
    baselines = [r for r in rows if r.optimizer == DIGITAL_OPTIMIZER]
    analog = [r for r in rows if r.optimizer != DIGITAL_OPTIMIZER] or baselines
    if analog is baselines:
        baselines = []
    optimizers = list(dict.fromkeys(r.optimizer for r in analog)) or ["(no runs)"]
    devices = list(dict.fromkeys(r.device for r in analog))
    palette = [f"C{i}" for i in range(10)]
    dashes = ["-", "--", "-.", ":"]
    styles = {
        d: {"color": palette[i % 10], "linestyle": dashes[(i // 10) % 4]}
        for i, d in enumerate(devices)
    }
    ends = [x for r in runs if (x := _end_of(r, by_samples)) is not None]
    right = max(ends) if ends else 1.0
    columns = min(3, len(optimizers))
    n_rows = math.ceil(len(optimizers) / columns)
    legend_rows = math.ceil((len(devices) + len(baselines)) / 3)
    with style() as plt:
        fig, axes = plt.subplots(
            n_rows,
            columns,
            figsize=(max(4.2 * columns + 0.4, 6.0), 3.2 * n_rows + 0.9 + 0.25 * legend_rows),
            squeeze=False,
            sharey=True,
            layout="constrained",
        )
        for ax, optimizer in zip(axes.flat, optimizers, strict=False):
            for row in analog:
                if row.optimizer == optimizer:
                    _draw(ax, row, by_samples, right, label=row.device, **styles[row.device])
            for row in baselines:
                label = f"{row.device} ({row.optimizer})"
                _draw(ax, row, by_samples, right, color="black", linestyle="--", label=label)
            ax.set_title(optimizer)
            ax.set_xlabel("training samples" if by_samples else "epoch")
            ax.set_xlim(0, right * 1.04)  # a step at the last epoch stays visible
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.3)
        label_panels(axes, len(optimizers), "share of runs at target")
        figure_legend(fig, axes, loc="outside lower center", ncols=3)
        fig.suptitle(f"Runs that reached {target.metric.replace('_', ' ')} {target.value:.4g}")
    return fig


def plot_reach(found: dict[tuple[str, str], RowReach], target: Target, path: Path) -> Path:
    """:func:`reach_figure` as ``path`` (PNG) and SVG beside it."""
    return save(reach_figure(found, target), path)


def time_to_target_data(
    outcomes: Sequence[RunOutcome],
    metric: str,
    higher_is_better: bool = True,
    folder: Path | None = None,
    explicit: float | None = None,
) -> dict[str, Any]:
    """Time to target as plain JSON-able data (for ``--json`` and ``load_results``): the target
    (None, and ``why``, when there is none), and per row the median epochs, samples, training
    time and pulses to target (None: not reached, or not recorded or counted) with
    ``n_reached`` / ``n_runs`` and every run's own reach. ``folder`` is the results folder
    whose stored target is used, unless ``explicit`` gives one; validation-split runs (tuning
    trials) are left out."""
    tested = result_runs(outcomes)
    if explicit is None:
        explicit = explicit_target(folder)
    target, why = choose_target(tested, metric, higher_is_better, explicit)
    if target is None:
        return {"target": None, "why": why, "rows": []}
    rows = []
    for reach in reaches(tested, target).values():
        rows.append(
            {
                "device": reach.device,
                "optimizer": reach.optimizer,
                "epochs_to_target": plain(reach.epochs),
                "samples_to_target": plain(reach.samples),
                "time_to_target_s": plain(reach.time_s),
                "pulses_to_target": plain(reach.pulses),
                "n_reached": reach.n_reached,
                "n_runs": reach.n_runs,
                "runs": [
                    {
                        "run_id": r.run_id,
                        "seed": r.seed,
                        "epoch": r.epoch,
                        "samples": r.samples,
                        "time_s": r.time_s,
                        "pulses": r.pulses,
                    }
                    for r in reach.runs
                ],
            }
        )
    return {
        "target": {
            "metric": target.metric,
            "value": target.value,
            "higher_is_better": target.higher_is_better,
            "source": target.source,
        },
        "why": target.how,
        "rows": rows,
    }
