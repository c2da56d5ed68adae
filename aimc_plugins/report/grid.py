"""The final metric against a device parameter, when a sweep varied one: the shape of a paper's
table (for example accuracy against the asymmetry g of power and exponential responses, under
Analog SGD and Tiki-Taka).

A parameter counts as varied when it takes two or more numeric values within one device family
(the same device name, e.g. ``power(g=0.5, tau=0.7)`` and ``power(g=2.0, tau=0.7)``). The figure
has one panel per optimizer and one line per device family and setting of its other parameters,
so ``exponential(g=1.0, tau=0.7)`` beside a power-device grid in g appears as its own point; the
digital baseline, when the sweep has one, is drawn as a horizontal reference in every panel.
"""

from __future__ import annotations

import math
import numbers
import re
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimc_plugins.report.figures import figure_legend, label_panels, save, style
from aimc_plugins.report.stats import mean_interval, metric_limits
from aimc_plugins.training.identity import RunKind
from aimc_plugins.training.run import DONE, RunOutcome
from aimc_plugins.training.setup import kind_of


@dataclass(frozen=True)
class Point:
    """Mean and 95% interval over the seeds of one parameter value (NaN interval for n = 1)."""

    x: float
    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class Line:
    """One device family (and setting of its other parameters) under one optimizer."""

    optimizer: str
    label: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Grid:
    """Every line of one varied parameter, and the digital baselines to draw beside them."""

    parameter: str
    metric: str
    lines: tuple[Line, ...]
    baselines: tuple[tuple[str, Point], ...] = ()

    @property
    def optimizers(self) -> list[str]:
        return list(dict.fromkeys(line.optimizer for line in self.lines))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _analog(outcome: RunOutcome) -> bool:
    return kind_of(outcome.run) == RunKind.DEVICE


def varied_parameters(outcomes: Sequence[RunOutcome]) -> list[str]:
    """Numeric device parameters that take two or more values within one device family, in
    the order they first appear."""
    values: dict[tuple[str, str], set[float]] = defaultdict(set)
    order: dict[str, None] = {}
    for outcome in outcomes:
        if not _analog(outcome):
            continue
        run = outcome.run
        for key, value in run.device_params.items():
            number = _number(value)
            if number is not None:
                values[(run.registered_device, key)].add(number)
                order.setdefault(key, None)
    varied = {key for (_, key), seen in values.items() if len(seen) > 1}
    return [key for key in order if key in varied]


def _point(x: float, values: Sequence[float], metric: str = "") -> Point:
    mean, _std, low, high = mean_interval(values, metric_limits(metric))
    return Point(x, mean, low, high, len(values))


Setting = tuple[tuple[str, str], ...]  # a family's other parameters, as (name, repr) pairs


def setting_labels(settings: dict[str, set[Setting]]) -> dict[tuple[str, Setting], str]:
    """(family, setting) -> its legend label: the family's name and, in brackets, only the
    parameters whose values differ between that family's lines. A family's defaults (every
    device parameter a spec resolves, ``n_states=1200.0, dw_min_dtod=0.0, ...``) are the same
    on all its lines and say nothing about which line is which, so they are left out."""
    labels = {}
    for family, seen in settings.items():
        values: dict[str, set[str]] = defaultdict(set)
        for setting in seen:
            for key, value in setting:
                values[key].add(value)
        keys = {key for key, vals in values.items() if len(vals) > 1}
        keys |= {key for setting in seen for key in values if key not in dict(setting)}
        for setting in seen:
            given = dict(setting)
            shown = [f"{k}={given.get(k, 'unset')}" for k in sorted(keys)]
            labels[(family, setting)] = family + (f" ({', '.join(shown)})" if shown else "")
    return labels


def parameter_grid(outcomes: Sequence[RunOutcome], parameter: str, metric: str) -> Grid:
    """The lines of ``parameter``: every finished analog run whose device has it as a number,
    grouped by optimizer, device family and the values of the family's other parameters
    (labelled by those that differ between the family's lines, :func:`setting_labels`)."""
    finals: dict[tuple[str, str, Setting], dict[float, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    settings: dict[str, set[Setting]] = defaultdict(set)
    baseline: dict[str, list[float]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status != DONE or metric not in outcome.final:
            continue
        run, value = outcome.run, float(outcome.final[metric])
        if kind_of(run) == RunKind.DIGITAL:
            baseline[run.shown_optimizer].append(value)
            continue
        x = _number(run.device_params.get(parameter)) if _analog(outcome) else None
        if x is None:
            continue
        setting = tuple(
            sorted((k, repr(v)) for k, v in run.device_params.items() if k != parameter)
        )
        family = run.registered_device
        settings[family].add(setting)
        finals[(run.shown_optimizer, family, setting)][x].append(value)
    labels = setting_labels(settings)
    lines = tuple(
        Line(
            optimizer,
            labels[(family, setting)],
            tuple(_point(x, by_x[x], metric) for x in sorted(by_x)),
        )
        for (optimizer, family, setting), by_x in finals.items()
    )
    return Grid(
        parameter,
        metric,
        lines,
        tuple((name, _point(math.nan, values, metric)) for name, values in baseline.items()),
    )


def grids(outcomes: Sequence[RunOutcome], metric: str) -> list[Grid]:
    """One :class:`Grid` per varied device parameter (none when the sweep varied none)."""
    return [parameter_grid(outcomes, p, metric) for p in varied_parameters(outcomes)]


def file_stem(parameter: str) -> str:
    """``metric_vs_<parameter>``, with the parameter made safe for a file name."""
    return "metric_vs_" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", parameter).strip("_") or "parameter")


def _error(point: Point) -> tuple[float, float]:
    if math.isnan(point.ci_low) or math.isnan(point.ci_high):
        return 0.0, 0.0
    return point.mean - point.ci_low, point.ci_high - point.mean


# Legend geometry at 10 pt: the width of an average character and of a marker, its gap and the
# column spacing, in inches. Estimates, generous ones, so that the legend is laid out to fit
# the figure's width instead of running off both edges.
_CHAR_IN = 0.085
_ENTRY_IN = 0.9


def legend_layout(labels: Sequence[str], width: float, most: int = 3) -> tuple[int, int]:
    """(columns, characters per line) for a legend of ``labels`` under a figure ``width``
    inches wide: as many columns (up to ``most``) as fit side by side, and labels wrapped to
    the width of one column when even one column cannot hold the longest."""
    longest = max((len(label) for label in labels), default=1)
    columns = max(1, min(most, len(labels) or 1, int(width // (_CHAR_IN * longest + _ENTRY_IN))))
    chars = max(12, int((width / columns - _ENTRY_IN) / _CHAR_IN))
    return columns, chars


def grid_figure(grid: Grid) -> Any:
    """The figure of ``grid`` (a panel per optimizer), laid out with its legend below the
    panels, outside the data."""
    optimizers = grid.optimizers or ["(no finished runs)"]
    columns = min(3, len(optimizers))
    rows = math.ceil(len(optimizers) / columns)
    labels = list(dict.fromkeys(line.label for line in grid.lines))
    width = 4.2 * columns
    names = [*labels, *(f"{name} (floating point)" for name, _ in grid.baselines)]
    legend_columns, chars = legend_layout(names, width)
    shown = {name: textwrap.fill(name, chars) for name in names}
    # Each legend row is as tall as its most wrapped entry (10 pt lines, about 0.2 inch).
    legend_lines = sum(
        max(shown[name].count("\n") + 1 for name in names[start : start + legend_columns])
        for start in range(0, len(names), legend_columns)
    )
    with style() as plt:
        fig, axes = plt.subplots(
            rows,
            columns,
            figsize=(width, 3.4 * rows + 0.9 + 0.2 * legend_lines),
            squeeze=False,
            sharey=True,
            layout="constrained",
        )
        colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
        markers = {label: "osD^v<>ph*"[i % 10] for i, label in enumerate(labels)}
        xs = sorted({p.x for line in grid.lines for p in line.points})
        metric = grid.metric.replace("_", " ")
        for ax, optimizer in zip(axes.flat, optimizers, strict=False):
            for line in grid.lines:
                if line.optimizer != optimizer:
                    continue
                below, above = zip(*(_error(p) for p in line.points), strict=True)
                ax.errorbar(
                    [p.x for p in line.points],
                    [p.mean for p in line.points],
                    yerr=[below, above],
                    color=colours[line.label],
                    marker=markers[line.label],
                    capsize=3,
                    label=shown[line.label],
                )
            for name, point in grid.baselines:
                ax.axhline(
                    point.mean,
                    color="black",
                    linestyle="--",
                    linewidth=1.2,
                    label=shown[f"{name} (floating point)"],
                )
                if not math.isnan(point.ci_low):
                    ax.axhspan(point.ci_low, point.ci_high, color="grey", alpha=0.15, linewidth=0)
            ax.set_title(optimizer)
            ax.set_xlabel(grid.parameter)
            if xs:
                ax.set_xticks(xs, [f"{x:g}" for x in xs])
            ax.grid(alpha=0.3)
        label_panels(axes, len(optimizers), f"final {metric}")
        figure_legend(
            fig,
            axes,
            loc="outside lower center",
            ncols=legend_columns,
            title="mean over seeds; error bars: 95% CI of the mean",
        )
        fig.suptitle(f"Final {metric} against {grid.parameter}")
    return fig


def plot_grid(grid: Grid, folder: Path) -> Path:
    """``folder/metric_vs_<parameter>.png`` (and ``.svg``); returns the PNG's path."""
    return save(grid_figure(grid), Path(folder) / f"{file_stem(grid.parameter)}.png")
