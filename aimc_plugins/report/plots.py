"""The figures of a comparison report: learning curves, final-metric bars, device responses.

Each function draws one PNG from finished runs and returns its path; matplotlib runs headless
(Agg) so reports build on servers and in worker-less CI alike.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aimc_plugins.devices.build import device_config, device_response
from aimc_plugins.report.figures import pyplot
from aimc_plugins.training.run import DONE, RunOutcome
from aimc_plugins.training.setup import DIGITAL_DEVICE, PRESET_OPTIMIZER

# Row kinds, in the colours the bar chart uses: aihwkit's presets beside plugin devices.
KIND_COLOURS = {
    "digital baseline": "#7f7f7f",
    "aihwkit preset config": "#1f77b4",
    "aihwkit preset device": "#17becf",
    "plugin device": "#d62728",
}


def device_kind(device_name: str, optimizer: str) -> str:
    """Where a compared device comes from: aihwkit (preset device or preset config), a plugin,
    or none (the digital baseline)."""
    from aimc_plugins.host import plugins

    if device_name == DIGITAL_DEVICE:
        return "digital baseline"
    if optimizer == PRESET_OPTIMIZER:
        return "aihwkit preset config"
    record = plugins.devices().get(device_name)
    if record is not None and record.plugin.endswith("builtin.presets"):
        return "aihwkit preset device"
    return "plugin device"


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


def plot_learning_curves(outcomes: Sequence[RunOutcome], metric: str, path: Path) -> Path:
    """One panel per optimizer, one line per device (mean over seeds, band of ± one standard
    deviation); the digital baseline is drawn dashed in every panel as the reference."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    groups = _curves(outcomes, metric)
    baseline = {k: v for k, v in groups.items() if k[1] == DIGITAL_DEVICE}
    optimizers = (
        sorted({opt for opt, dev in groups if dev != DIGITAL_DEVICE})
        or sorted({opt for opt, _ in groups})
        or ["(no finished runs)"]
    )
    columns = min(3, len(optimizers))
    rows = math.ceil(len(optimizers) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(6.5 * columns, 4.2 * rows), squeeze=False, sharey=True
    )
    for ax, optimizer in zip(axes.flat, optimizers, strict=False):
        for (opt, device), curves in sorted(groups.items()):
            if opt != optimizer or device == DIGITAL_DEVICE:
                continue
            epochs, mean, std = _mean_std(curves)
            ax.plot(epochs, mean, marker="o", ms=3, label=device)
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
        for (opt, _), curves in sorted(baseline.items()):
            epochs, mean, _std = _mean_std(curves)
            ax.plot(epochs, mean, "k--", marker="x", lw=1.2, label=f"{opt} (digital)")
        ax.set_title(optimizer)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="x-small")
    for ax in list(axes.flat)[len(optimizers) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_final_bars(rows: Sequence[Any], path: Path) -> Path:
    """The final metric of every device x optimizer (mean over seeds, ranked), coloured by where
    the device comes from, so aihwkit's presets and plugin devices stand side by side.

    Error bars are the 95% confidence interval of the mean (``ci_low`` / ``ci_high`` of the
    report's rows), not the standard deviation: overlapping bars then read as "not separated",
    the same rule as the table's letter groups, which each label carries in brackets. A row with
    one finished run has no interval and is drawn without a bar, labelled n=1."""
    plt = pyplot()
    shown = [r for r in rows if not math.isnan(r.mean)]
    height = max(2.5, 0.32 * len(shown) + 1.2)
    fig, ax = plt.subplots(figsize=(8, height))
    labels = [f"{r.device} / {r.optimizer} {_group_label(r)}" for r in shown]
    colours = [KIND_COLOURS.get(r.kind, "#2ca02c") for r in shown]
    positions = list(range(len(shown)))[::-1]
    below = [_finite_or_zero(r.mean - getattr(r, "ci_low", math.nan)) for r in shown]
    above = [_finite_or_zero(getattr(r, "ci_high", math.nan) - r.mean) for r in shown]
    ax.barh(positions, [r.mean for r in shown], xerr=[below, above], capsize=3, color=colours)
    ax.set_yticks(positions, labels, fontsize="small")
    ax.set_xlabel(
        f"final {shown[0].metric.replace('_', ' ')} (mean over seeds; error bars: 95% CI of the "
        "mean)"
        if shown
        else "no finished runs"
    )
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    kinds = [k for k in KIND_COLOURS if any(r.kind == k for r in shown)]
    if kinds:
        ax.legend(
            handles=[Patch(color=KIND_COLOURS[k], label=k) for k in kinds], fontsize="x-small"
        )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _finite_or_zero(value: float) -> float:
    """An error-bar length matplotlib can draw: no bar where a row has no interval."""
    return value if math.isfinite(value) else 0.0


def _group_label(row: Any) -> str:
    """``[a]``-style letter group of a report row, or ``[n=1]`` where it has no interval."""
    group = getattr(row, "group", "")
    if getattr(row, "n_done", 0) < 2:
        return "[n=1]"
    return f"[{group}]" if group else ""


def _declared_response(name: str, params: Mapping[str, Any]) -> tuple[Any, Any, Any] | None:
    """(w, q_up, q_down) from the device's own response (``Device.response``), when the
    device record offers it and it has a closed form."""
    from aimc_plugins.host import plugins

    record = plugins.devices().get(name)
    if record is None or not hasattr(record, "response"):
        return None
    try:
        response = device_response(record, params)
        w = response.grid(201)
        q_up, q_down = response.evaluate(w)
    except Exception:
        return None
    return w, q_up, q_down


def _measured_response(rpu_device: Any) -> tuple[Any, Any, Any]:
    """(w, q_up, q_down) measured in aihwkit's simulator: pulse one noise-free element from
    w_min to w_max and back, and read the step of each pulse relative to the smallest step.
    Works for any pulsed device, including ones with no closed form."""
    import numpy as np
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.utils.visualization import compute_pulse_response, get_tile_for_plotting

    config = SingleRPUConfig(device=rpu_device)
    binding = config.device.as_bindings(config.runtime.data_type)
    span = float(binding.w_max - binding.w_min)
    n = int(min(3000, max(50, round(span / max(binding.calc_weight_granularity(), 1e-9)) * 2)))
    tile = get_tile_for_plotting(config, 1, noise_free=True)
    trace = compute_pulse_response(tile, np.concatenate([np.ones(n), -np.ones(n)]))[:, 0, 0]
    trace = np.concatenate([[float(binding.w_min)], trace])
    steps = np.diff(trace)
    scale = float(np.abs(steps[steps != 0]).max()) if np.any(steps != 0) else 1.0
    up_w, up_q = trace[:n], steps[:n] / scale
    down_w, down_q = trace[n:-1], -steps[n:] / scale
    return (up_w, down_w), up_q, down_q


def _closed_form(rpu_device: Any) -> tuple[Any, Any, Any] | None:
    """(w, q_up, q_down) of an aihwkit device from its parameters, where the project's
    :mod:`aimc_plugins.devices.config_response` knows the device's closed form."""
    try:
        from aimc_plugins.devices.config_response import response_of

        response = response_of(rpu_device)
        w = response.grid(201)
        q_up, q_down = response.evaluate(w)
    except Exception:
        return None
    return w, q_up, q_down


def _unit_device(name: str, params: Mapping[str, Any], optimizer: str) -> Any:
    """The aihwkit pulsed device behind a compared device (a preset config's first array)."""
    from aimc_plugins.host import plugins

    if optimizer == PRESET_OPTIMIZER:
        device = plugins.presets()[name].factory().device
    else:
        device = device_config(plugins.lookup(plugins.devices, name, "device"), params)
    while hasattr(device, "unit_cell_devices"):
        device = device.unit_cell_devices[0]
    return device


def plot_responses(outcomes: Sequence[RunOutcome], path: Path) -> Path:
    """The response q+ (up) and q- (down) of every compared device against the weight, one
    panel per device: declared by the device where it can say, measured in the simulator
    otherwise (normalised to the largest step)."""
    plt = pyplot()
    devices: dict[str, tuple[str, Mapping[str, Any], str]] = {}
    for outcome in outcomes:
        spec = outcome.run
        if spec.device != DIGITAL_DEVICE:
            name = spec.device_name or spec.device
            devices.setdefault(spec.device, (name, spec.device_params, spec.optimizer))
    labels = sorted(devices) or ["(no analog devices)"]
    columns = min(4, len(labels))
    rows = math.ceil(len(labels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.9 * rows), squeeze=False)
    for ax, label in zip(axes.flat, labels, strict=False):
        ax.set_title(label, fontsize="small")
        if label not in devices:
            continue
        name, params, optimizer = devices[label]
        curve = None if optimizer == PRESET_OPTIMIZER else _declared_response(name, params)
        source = "declared"
        try:
            if curve is None and optimizer == PRESET_OPTIMIZER:
                curve = _closed_form(_unit_device(name, params, optimizer))
            if curve is None:
                curve, source = (
                    _measured_response(_unit_device(name, params, optimizer)),
                    "measured",
                )
        except Exception as exc:
            ax.text(
                0.5,
                0.5,
                f"no response:\n{exc}"[:120],
                ha="center",
                va="center",
                fontsize=7,
                transform=ax.transAxes,
                wrap=True,
            )
            continue
        w, q_up, q_down = curve
        w_up, w_down = w if isinstance(w, tuple) else (w, w)
        ax.plot(w_up, q_up, label="q+ (up)")
        ax.plot(w_down, q_down, label="q- (down)")
        ax.set_xlabel("w")
        ax.set_ylabel(f"q ({source})", fontsize="small")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="xx-small")
    for ax in list(axes.flat)[len(labels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
