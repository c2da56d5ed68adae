"""The figures of a comparison report: learning curves, final-metric bars, device responses.

Each ``*_figure`` function builds one matplotlib figure from finished runs in the report's style
(:mod:`.figures`: 10 pt text, constrained layout, legends outside the data); each ``plot_*``
saves it as PNG and SVG and returns the PNG's path. matplotlib runs headless (Agg) so reports
build on servers and in worker-less CI alike.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimc_plugins.devices.build import device_config, device_response, made
from aimc_plugins.report.figures import figure_legend, label_panels, save, style
from aimc_plugins.report.stats import metric_limits
from aimc_plugins.training.identity import PlannedRun, RunKind
from aimc_plugins.training.run import DONE, RunOutcome
from aimc_plugins.training.setup import PRESET_OPTIMIZER

# Row kinds, in the colours the bar chart uses: aihwkit's presets beside plugin devices.
KIND_COLOURS = {
    "digital baseline": "#7f7f7f",
    "aihwkit preset config": "#1f77b4",
    "aihwkit preset device": "#17becf",
    "plugin device": "#d62728",
}


def origin(run: PlannedRun) -> str:
    """Where a compared row's device comes from, in the report's words (:data:`KIND_COLOURS`):
    the run's :class:`~aimc_plugins.training.identity.RunKind`, with a device split into
    aihwkit's preset devices (those of the plugin the application names for them) and plugin
    devices."""
    from aimc_plugins.host import composition, plugins
    from aimc_plugins.training.setup import kind_of

    kind = kind_of(run)
    if kind == RunKind.DIGITAL:
        return "digital baseline"
    if kind == RunKind.PRESET:
        return "aihwkit preset config"
    record = plugins.registry.devices().get(run.registered_device)
    if record is not None and record.plugin == composition.current.presets_plugin:
        return "aihwkit preset device"
    return "plugin device"


def is_digital(run: PlannedRun) -> bool:
    """Whether ``run`` is the digital baseline (decided by its kind, not by its label)."""
    from aimc_plugins.training.setup import kind_of

    return kind_of(run) == RunKind.DIGITAL


def _curves(
    outcomes: Sequence[RunOutcome], metric: str
) -> dict[tuple[str, str], list[list[float]]]:
    groups: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status == DONE:
            curve = [float(h.get(metric, math.nan)) for h in outcome.history]
            groups[(outcome.run.shown_optimizer, outcome.run.device)].append(curve)
    return groups


def _mean_std(curves: list[list[float]]) -> tuple[Any, Any, Any]:
    import numpy as np

    length = min(len(c) for c in curves)
    values = np.array([c[:length] for c in curves], dtype=float)
    return np.arange(1, length + 1), values.mean(axis=0), values.std(axis=0)


def _device_styles(devices: Sequence[str]) -> dict[str, dict[str, Any]]:
    """A colour (and, past 20 devices, a line style) per device, the same in every panel, so a
    device is one legend entry however many optimizers it ran under."""
    palette = [f"C{i}" for i in range(10)] if len(devices) <= 10 else _tab20()
    dashes = ["-", "--", "-.", ":"]
    return {
        device: {
            "color": palette[i % len(palette)],
            "linestyle": dashes[(i // len(palette)) % len(dashes)],
        }
        for i, device in enumerate(devices)
    }


def _tab20() -> list[Any]:
    from matplotlib import colormaps

    tab20 = colormaps["tab20"]
    return [tab20(i) for i in range(tab20.N)]


LEGEND_BESIDE = 16  # legends up to this many entries go right of the panels, longer ones below


def learning_curves_figure(
    outcomes: Sequence[RunOutcome],
    metric: str,
    plateaus: Mapping[tuple[str, str], Any] | None = None,
) -> Any:
    """One panel per optimizer, one line per device (mean over seeds, band of ± one standard
    deviation); the digital baseline is drawn dashed in every panel as the reference. One legend
    for all panels (a device has one colour and line style in all of them), outside the panels,
    right of them or, past :data:`LEGEND_BESIDE` entries, below: it hides no curve."""
    from matplotlib.ticker import MaxNLocator

    groups = _curves(outcomes, metric)
    digital = {o.run.device for o in outcomes if is_digital(o.run)}  # the baseline's labels
    baseline = {k: v for k, v in groups.items() if k[1] in digital}
    optimizers = (
        sorted({opt for opt, dev in groups if dev not in digital})
        or sorted({opt for opt, _ in groups})
        or ["(no finished runs)"]
    )
    devices = sorted({dev for _, dev in groups if dev not in digital})
    styles = _device_styles(devices)
    entries = len(devices) + len(baseline)
    columns = min(3, len(optimizers))
    rows = math.ceil(len(optimizers) / columns)
    # A short legend beside the panels; a long one below them, in columns (at least three).
    beside = entries <= LEGEND_BESIDE
    width = 4.6 * columns if beside else max(4.6 * columns, 9.9)
    legend_columns = 1 if beside else max(1, int(width // 3.3))
    if beside:
        size = (width + 2.8, max(3.6 * rows, 0.24 * entries + 0.8))
    else:
        size = (width, 3.6 * rows + 0.24 * math.ceil(entries / legend_columns) + 0.6)
    with style() as plt:
        fig, axes = plt.subplots(
            rows, columns, figsize=size, squeeze=False, sharey=True, layout="constrained"
        )
        for ax, optimizer in zip(axes.flat, optimizers, strict=False):
            for (opt, device), curves in sorted(groups.items()):
                if opt != optimizer or device in digital:
                    continue
                epochs, mean, std = _mean_std(curves)
                found = (plateaus or {}).get((device, opt))
                shown = device
                if found is not None and not found.converged:
                    shown = f"{device} (still improving)"
                ax.plot(epochs, mean, marker="o", ms=3, label=shown, **styles[device])
                if found is not None and found.converged and found.stop_epoch <= len(mean):
                    # the plateau: where the row's (validation or own) curve stopped improving
                    ax.plot(
                        [found.stop_epoch],
                        [mean[found.stop_epoch - 1]],
                        marker="|",
                        ms=14,
                        mew=2,
                        color=styles[device]["color"],
                    )
                low, high = metric_limits(metric)  # a band, like an interval, stays in range
                ax.fill_between(
                    epochs,
                    (mean - std).clip(low, high),
                    (mean + std).clip(low, high),
                    alpha=0.15,
                    color=styles[device]["color"],
                )
            for (opt, _), curves in sorted(baseline.items()):
                epochs, mean, _std = _mean_std(curves)
                ax.plot(epochs, mean, "k--", marker="x", lw=1.2, label=f"{opt} (floating point)")
            ax.set_title(optimizer)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        label_panels(axes, len(optimizers), f"{metric.replace('_', ' ')} (mean ± std over seeds)")
        figure_legend(
            fig,
            axes,
            loc="outside right upper" if beside else "outside lower center",
            ncols=legend_columns,
        )
    return fig


def plot_learning_curves(
    outcomes: Sequence[RunOutcome],
    metric: str,
    path: Path,
    plateaus: Mapping[tuple[str, str], Any] | None = None,
) -> Path:
    """:func:`learning_curves_figure` as ``path`` (PNG) and SVG beside it; with ``plateaus``
    (:func:`~.convergence.row_plateaus`) a tick marks where each converged row stopped
    improving, and rows still improving at the cap say so in the legend."""
    return save(learning_curves_figure(outcomes, metric, plateaus), path)


def final_bars_figure(rows: Sequence[Any]) -> Any:
    """The final metric of every device x optimizer (mean over seeds, ranked), coloured by where
    the device comes from, so aihwkit's presets and plugin devices stand side by side.

    Error bars are the 95% confidence interval of the mean (``ci_low`` / ``ci_high`` of the
    report's rows), not the standard deviation: overlapping bars then read as "not separated",
    the same rule as the table's letter groups, which each label carries in brackets. A row with
    one finished run has no interval and is drawn without a bar, labelled n=1. The legend of
    colours sits below the axes, where it covers no bar."""
    shown = [r for r in rows if not math.isnan(r.mean)]
    height = max(2.8, 0.3 * len(shown) + 1.6)
    with style() as plt:
        fig, ax = plt.subplots(figsize=(8, height), layout="constrained")
        labels = [f"{r.device} / {r.optimizer} {_group_label(r)}" for r in shown]
        colours = [KIND_COLOURS.get(r.kind, "#2ca02c") for r in shown]
        positions = list(range(len(shown)))[::-1]
        below = [_finite_or_zero(r.mean - getattr(r, "ci_low", math.nan)) for r in shown]
        above = [_finite_or_zero(getattr(r, "ci_high", math.nan) - r.mean) for r in shown]
        ax.barh(positions, [r.mean for r in shown], xerr=[below, above], capsize=3, color=colours)
        ax.set_yticks(positions, labels)
        ax.set_ylim(-0.6, len(shown) - 0.4)
        ax.set_xlabel(
            f"final {shown[0].metric.replace('_', ' ')}, mean over seeds\n"
            "error bars: 95% CI of the mean\n[letters]: groups the seeds do not separate"
            if shown
            else "no finished runs"
        )
        ax.grid(axis="x", alpha=0.3)
        from matplotlib.patches import Patch

        kinds = [k for k in KIND_COLOURS if any(r.kind == k for r in shown)]
        if kinds:
            fig.legend(
                handles=[Patch(color=KIND_COLOURS[k], label=k) for k in kinds],
                loc="outside lower center",
                ncols=min(2, len(kinds)),
            )
    return fig


def plot_final_bars(rows: Sequence[Any], path: Path) -> Path:
    """:func:`final_bars_figure` as ``path`` (PNG) and SVG beside it."""
    return save(final_bars_figure(rows), path)


def _finite_or_zero(value: float) -> float:
    """An error-bar length matplotlib can draw: no bar where a row has no interval."""
    return value if math.isfinite(value) else 0.0


def _group_label(row: Any) -> str:
    """``[a]``-style letter group of a report row, or ``[n=1]`` where it has no interval."""
    group = getattr(row, "group", "")
    if getattr(row, "n_done", 0) < 2:
        return "[n=1]"
    return f"[{group}]" if group else ""


# The one normalisation of every response panel, whatever the curve's source: the text the figure
# and the report's caption give.
NORMALISATION = (
    "q+ and q- of each device divided by that device's largest step over its range (the "
    "largest of q+ and q- is 1), the same rule for every panel, whether the response is "
    "declared by its plugin, derived from the aihwkit device's parameters or measured in "
    "aihwkit's simulator"
)
SYMMETRIC_ZERO = 1e-3  # |G| below this fraction of the largest step counts as q+ = q-


@dataclass(frozen=True)
class ResponseCurve:
    """q+ (on ``w_up``) and q- (on ``w_down``) of one device, normalised to its largest step,
    with where the two cross: the symmetric points w* (stable ones among them: G = (q- - q+)/2
    rises through 0 there, so Analog SGD drifts to them), or the span where they coincide."""

    w_up: Any
    q_up: Any
    w_down: Any
    q_down: Any
    source: str
    symmetric_points: tuple[float, ...] = ()
    stable_points: tuple[float, ...] = ()
    symmetric_span: tuple[float, float] | None = None


def symmetric_points(
    w: Any, q_up: Any, q_down: Any, zero: float = SYMMETRIC_ZERO
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, float] | None]:
    """(roots of G, the stable ones, the span where G vanishes) of a sampled response.

    A sign change of G is refined by bisection on the interpolated G
    (:func:`~aimc_plugins.devices.diagnostics.find_symmetric_point`, the project's root finder
    for a single symmetric point), also across a narrow run of |G| below ``zero`` times the
    largest step; a run that covers a tenth of the range or more is a span (no single w*), as
    for a symmetric device that only clips at its bounds."""
    import numpy as np

    from aimc_plugins.devices.diagnostics import find_symmetric_point

    w, up, down = (np.asarray(x, dtype=float) for x in (w, q_up, q_down))
    g = (down - up) / 2
    scale = float(max(np.abs(up).max(initial=0.0), np.abs(down).max(initial=0.0))) or 1.0
    signs = np.where(np.abs(g) <= zero * scale, 0.0, np.sign(g))
    nonzero = np.flatnonzero(signs)
    if len(nonzero) == 0:
        return (), (), (float(w[0]), float(w[-1]))
    roots: list[float] = []
    stable: list[float] = []
    span = None
    # a run of zeros before the first or after the last nonzero G touches a bound: no crossing
    for i, j in itertools.pairwise(nonzero):
        if j - i > 1 and (w[j - 1] - w[i + 1]) >= 0.1 * (w[-1] - w[0]):
            span = (float(w[i + 1]), float(w[j - 1]))
            continue
        if signs[i] == signs[j]:
            continue
        # G changes sign between w[i] and w[j] (with near-zeros between): bisect the sampled G
        root = find_symmetric_point(
            lambda x: float(np.interp(x, w, g)), float(w[i]), float(w[j]), steps=60
        )
        root = 0.0 if abs(root) < 1e-9 * float(w[-1] - w[0]) else root  # bisection's 1e-17
        roots.append(root)
        if signs[i] < 0:
            stable.append(root)
    return tuple(roots), tuple(stable), span


def _from_response(response: Any, source: str) -> ResponseCurve:
    w = response.grid(401)
    q_up, q_down = response.evaluate(w)
    return _normalised(w, q_up, w, q_down, source)


def _normalised(w_up: Any, q_up: Any, w_down: Any, q_down: Any, source: str) -> ResponseCurve:
    import numpy as np

    w_up, q_up, w_down, q_down = (np.asarray(x, dtype=float) for x in (w_up, q_up, w_down, q_down))
    scale = float(max(np.abs(q_up).max(initial=0.0), np.abs(q_down).max(initial=0.0))) or 1.0
    q_up, q_down = q_up / scale, q_down / scale
    # G on the weights both traces cover (a measured trace may not reach both bounds)
    low = max(w_up.min(), w_down.min())
    high = min(w_up.max(), w_down.max())
    roots: tuple[float, ...] = ()
    stable: tuple[float, ...] = ()
    span = None
    if high > low:
        grid = np.linspace(low, high, 801)
        up_order, down_order = np.argsort(w_up), np.argsort(w_down)
        on_up = np.interp(grid, w_up[up_order], q_up[up_order])
        on_down = np.interp(grid, w_down[down_order], q_down[down_order])
        roots, stable, span = symmetric_points(grid, on_up, on_down)
    return ResponseCurve(w_up, q_up, w_down, q_down, source, roots, stable, span)


def _measured_response(rpu_device: Any) -> ResponseCurve:
    """Measured in aihwkit's simulator: pulse one noise-free element from w_min to w_max and
    back, and read the step of each pulse. Works for any pulsed device, including ones with no
    closed form. The device is made quiet first (every noise and device-to-device term at 0):
    aihwkit's ``noise_free`` tile drops the pulse noise but still draws the element's own
    bounds and slopes from its clock-seeded generator, so the measured curve (and its symmetric
    point) changed from one call to the next instead of being the mean device's."""
    import numpy as np
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.utils.visualization import compute_pulse_response, get_tile_for_plotting

    from aimc_plugins.devices.characterize import quiet

    config = SingleRPUConfig(device=quiet(rpu_device))
    binding = config.device.as_bindings(config.runtime.data_type)
    span = float(binding.w_max - binding.w_min)
    n = int(min(3000, max(50, round(span / max(binding.calc_weight_granularity(), 1e-9)) * 2)))
    tile = get_tile_for_plotting(config, 1, noise_free=True)
    trace = compute_pulse_response(tile, np.concatenate([np.ones(n), -np.ones(n)]))[:, 0, 0]
    trace = np.concatenate([[float(binding.w_min)], trace])
    steps = np.diff(trace)
    return _normalised(trace[:n], steps[:n], trace[n:-1], -steps[n:], "measured")


def _unit_device(name: str, params: Mapping[str, Any], optimizer: str) -> Any:
    """The aihwkit pulsed device behind a compared device (a preset config's first array)."""
    from aimc_plugins.host import plugins

    if optimizer == PRESET_OPTIMIZER:
        device = plugins.presets()[name].factory().device
    else:
        device = device_config(plugins.lookup(plugins.devices, name, "device"), params)
    while True:  # a unit cell's first device; a mixed-precision compound's analog device
        if hasattr(device, "unit_cell_devices"):
            device = device.unit_cell_devices[0]
        elif type(device).__name__ == "MixedPrecisionCompound":
            device = device.device
        else:
            return device


def response_curve(name: str, params: Mapping[str, Any], optimizer: str) -> ResponseCurve:
    """The response of a compared device: declared by its plugin (a response device), else the
    closed form of its aihwkit parameters, else measured in the simulator."""
    from aimc_plugins.devices.config_response import response_of
    from aimc_plugins.devices.response import ResponseDevice
    from aimc_plugins.host import plugins

    try:
        if optimizer == PRESET_OPTIMIZER:
            return _from_response(
                response_of(_unit_device(name, params, optimizer), name), "aihwkit params"
            )
        record = plugins.lookup(plugins.devices, name, "device")
        declared = isinstance(made(record, params), ResponseDevice)
        return _from_response(
            device_response(record, params), "declared" if declared else "aihwkit params"
        )
    except Exception:
        return _measured_response(_unit_device(name, params, optimizer))


def mark_symmetric_points(
    ax: Any, curve_points: tuple[float, ...], stable: tuple[float, ...]
) -> None:
    """A vertical line at each symmetric point w*: dashed where stable, dotted where not."""
    for root in curve_points:
        is_stable = root in stable
        ax.axvline(
            root,
            color="black",
            linestyle="--" if is_stable else ":",
            linewidth=1,
            label="w* (stable symmetric point)" if is_stable else "w* (unstable)",
        )


def responses_figure(outcomes: Sequence[RunOutcome]) -> Any:
    """The response q+ (up) and q- (down) of every compared device against the weight, one
    panel per device, all normalised alike (:data:`NORMALISATION`), each symmetric point
    marked and labelled with its value; one legend for all panels, below them."""
    devices: dict[str, tuple[str, Mapping[str, Any], str]] = {}
    for outcome in outcomes:
        run = outcome.run
        if not is_digital(run):
            built = (run.registered_device, run.device_params, run.optimizer)
            devices.setdefault(run.device, built)
    labels = sorted(devices) or ["(no analog devices)"]
    columns = min(4, len(labels))
    rows = math.ceil(len(labels) / columns)
    with style() as plt:
        fig, axes = plt.subplots(
            rows,
            columns,
            figsize=(3.4 * columns, 2.9 * rows + 0.8),
            squeeze=False,
            layout="constrained",
        )
        for ax, label in zip(axes.flat, labels, strict=False):
            ax.set_title(label)
            if label not in devices:
                continue
            try:
                curve = response_curve(*devices[label])
            except Exception as exc:
                why = textwrap.fill(f"no response: {exc}", 30, max_lines=4)
                note = ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
                note.set_in_layout(False)  # a long message must not squeeze the other panels
                continue
            where = ", ".join(f"w*={root:.2g}" for root in curve.symmetric_points)
            if curve.symmetric_span is not None:
                where = where or "q+ = q- on a span"
            ax.set_title(f"{label}\n({curve.source}" + (f"; {where})" if where else ")"))
            ax.plot(curve.w_up, curve.q_up, color="C0", label="q+ (up)")
            ax.plot(curve.w_down, curve.q_down, color="C1", label="q- (down)")
            mark_symmetric_points(ax, curve.symmetric_points, curve.stable_points)
            if curve.symmetric_span is not None:
                ax.axvspan(
                    *curve.symmetric_span,
                    color="grey",
                    alpha=0.15,
                    linewidth=0,
                    label="q+ = q- (no single w*)",
                )
            ax.set_xlabel("w")
            ax.set_ylim(0, 1.05)
            ax.grid(alpha=0.3)
        label_panels(axes, len(labels), "step / largest step")
        figure_legend(fig, axes, loc="outside lower center", ncols=4)
    return fig


def plot_responses(outcomes: Sequence[RunOutcome], path: Path) -> Path:
    """:func:`responses_figure` as ``path`` (PNG) and SVG beside it."""
    return save(responses_figure(outcomes), path)
