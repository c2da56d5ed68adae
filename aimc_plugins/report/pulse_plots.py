"""The ranked metric against the pulses fired: which algorithm reaches an accuracy with the
fewest writes to its devices.

Learning curves put epochs on the x axis, where every optimizer spends the same data; on a
device that wears out (and spends energy on every pulse) the axis that matters is what
training wrote, and Tiki-Taka's transfers or a residual's extra array can fire several times
the gradient's pulses for the same epoch. Each line is one row (device x optimizer): at each
epoch, the mean over its seeds of the metric against the mean pulses so far (each epoch's
``pulses`` metric, :mod:`aimc_plugins.training.pulses`), on a log axis since rows differ by
orders of magnitude. Rows whose pulses were not counted have no line; the digital baseline
(no device) and the target, where there is one, are horizontal references.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimc_plugins.report.figures import figure_legend, label_panels, save, style
from aimc_plugins.report.plots import is_digital
from aimc_plugins.report.splits import result_runs
from aimc_plugins.training.pulses import PULSES
from aimc_plugins.training.run import DONE, RunOutcome

FIGURE_NAME = "metric_vs_pulses.png"
NOTE = (
    "Per row (device x optimizer), at each epoch: the mean over seeds of the metric against the "
    "mean pulses its runs had fired so far (up + down, every analog array; expected values of "
    "aihwkit's pulse trains), log x axis. Further left at the same height: the same result with "
    "fewer writes. Dashed: the floating-point baseline's final value; dotted: the target. Rows "
    "whose pulses were not counted have no line."
)


@dataclass(frozen=True)
class PulseCurve:
    """One row's mean metric against its mean pulses so far, epoch by epoch."""

    device: str
    optimizer: str
    pulses: tuple[float, ...]
    values: tuple[float, ...]
    n_runs: int


def _counted(outcome: RunOutcome, metric: str) -> bool:
    return bool(outcome.history) and all(PULSES in h and metric in h for h in outcome.history)


def pulse_curves(outcomes: Sequence[RunOutcome], metric: str) -> list[PulseCurve]:
    """Each row's curve from its finished runs whose every epoch carries pulses (tuning trials
    left out); the epochs all its runs trained, where a run stopped early."""
    groups: dict[tuple[str, str], list[RunOutcome]] = defaultdict(list)
    for outcome in result_runs(outcomes):
        if outcome.status == DONE and _counted(outcome, metric):
            groups[(outcome.run.device, outcome.run.shown_optimizer)].append(outcome)
    curves = []
    for (device, optimizer), runs in groups.items():
        length = min(len(o.history) for o in runs)
        pulses = tuple(
            statistics.fmean(float(o.history[i][PULSES]) for o in runs) for i in range(length)
        )
        values = tuple(
            statistics.fmean(float(o.history[i][metric]) for o in runs) for i in range(length)
        )
        curves.append(PulseCurve(device, optimizer, pulses, values, len(runs)))
    return curves


def has_epoch_pulses(outcomes: Sequence[RunOutcome], metric: str) -> bool:
    """Whether some row has per-epoch pulses: the report draws the figure only then."""
    return any(any(p > 0 for p in c.pulses) for c in pulse_curves(outcomes, metric))


def _baseline(outcomes: Sequence[RunOutcome], metric: str) -> float | None:
    values = [
        float(o.final[metric])
        for o in result_runs(outcomes)
        if o.status == DONE and is_digital(o.run) and metric in o.final
    ]
    values = [v for v in values if math.isfinite(v)]
    return statistics.fmean(values) if values else None


def metric_vs_pulses_figure(
    outcomes: Sequence[RunOutcome], metric: str, target: float | None = None
) -> Any:
    """The metric against the pulses fired (:data:`NOTE`): one panel per device with a line
    per optimizer when several optimizers were counted, so the algorithms on one device are
    side by side; one panel with a line per device when one optimizer was."""
    curves = [c for c in pulse_curves(outcomes, metric) if any(p > 0 for p in c.pulses)]
    optimizers = list(dict.fromkeys(c.optimizer for c in curves))
    per_device = len(optimizers) > 1
    panels = list(dict.fromkeys(c.device for c in curves)) if per_device else [""]
    if not panels:
        panels = ["(no counted runs)"]
    labels = optimizers if per_device else list(dict.fromkeys(c.device for c in curves))
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    markers = {label: "osd^v<>"[(i // 10) % 7] for i, label in enumerate(labels)}
    baseline = _baseline(outcomes, metric)
    columns = min(3, len(panels))
    n_rows = math.ceil(len(panels) / columns)
    shown = metric.replace("_", " ")
    with style() as plt:
        fig, axes = plt.subplots(
            n_rows,
            columns,
            figsize=(
                max(4.4 * columns, 6.0),
                3.4 * n_rows + 0.5 + 0.25 * math.ceil(len(labels) / 4),
            ),
            squeeze=False,
            sharey=True,
            layout="constrained",
        )
        for ax, panel in zip(axes.flat, panels, strict=False):
            for curve in curves:
                if per_device and curve.device != panel:
                    continue
                label = curve.optimizer if per_device else curve.device
                points = [(p, v) for p, v in zip(curve.pulses, curve.values, strict=True) if p > 0]
                ax.plot(
                    [p for p, _ in points],
                    [v for _, v in points],
                    marker=markers[label],
                    ms=3,
                    color=colours[label],
                    label=label,
                )
            if baseline is not None:
                ax.axhline(
                    baseline, color="black", linestyle="--", lw=1.0, label="floating point (final)"
                )
            if target is not None:
                ax.axhline(target, color="grey", linestyle=":", lw=1.2, label="target")
            if curves:
                ax.set_xscale("log")
            ax.set_title(panel if per_device else f"{shown} against pulses")
            ax.set_xlabel("pulses fired so far (mean over seeds)")
            ax.grid(alpha=0.3, which="both")
        label_panels(axes, len(panels), f"{shown} (mean over seeds)")
        figure_legend(fig, axes, loc="outside lower center", ncols=4)
    return fig


def plot_metric_vs_pulses(
    outcomes: Sequence[RunOutcome], metric: str, path: Path, target: float | None = None
) -> Path:
    """:func:`metric_vs_pulses_figure` as ``path`` (PNG) and SVG beside it."""
    return save(metric_vs_pulses_figure(outcomes, metric, target), path)
