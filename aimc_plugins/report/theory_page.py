"""The "Theory vs measurement" section as markdown, as HTML and as a scatter figure (the
section's content is :class:`aimc_plugins.report.theory.TheorySection`)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from aimc_plugins.devices.theory import RANKING_RULE
from aimc_plugins.report.figures import save, style
from aimc_plugins.report.tables import html_table
from aimc_plugins.report.theory import (
    RESAMPLES,
    Correlation,
    TheorySection,
    drawn_bound,
    drawn_floor,
)

FIGURE_NAME = "theory_vs_measurement.png"
TITLE = "Theory vs measurement"
SGD_HEAD = (
    "device",
    "optimizer",
    "predicted (lower: better)",
    "S_K",
    "write noise's loss",
    "S_K over devices",
    "devices without w*",
    "measured mean",
    "n",
)
SGD_ALIGN = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
NOISE_NOTE = (
    "predicted: S_K / (2B) + write noise's loss, the excess loss the theory predicts, where "
    "the recipe provides its network trained in floating point (else S_K); write noise's loss: "
    "the training loss that network gains with every weight perturbed by the device's write "
    "noise (docs/theory.md section 10). S_K over devices: each of 512 devices aihwkit draws "
    "for a tile gets its own S_K, averaged ('same': no device-to-device variation); devices "
    "without w*: the share whose G keeps one sign over their range, so that Analog SGD drifts "
    "them to a bound. Those two are shown, not ranked by: on held-out devices they did not "
    "order them better."
)
RESIDUAL_HEAD = (
    "device",
    "optimizer",
    "gamma",
    "zero_shift",
    "residual device",
    "residual w*",
    "floor predicted",
    "measured mean",
    "n",
)
FIGURE_NOTE = (
    "One point per device trained with Analog SGD: the predicted figure (the excess loss "
    "S_K / (2B) + write noise's loss where the recipe provides its trained network, else S_K "
    "over the recipe's initial weights) against the measured mean, error bars the 95% CI of "
    "the mean; colour and marker: the response family, label: the device's parameters. The "
    "theory predicts the metric to worsen as the figure grows."
)


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g}"


def _floor(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "no")


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def sgd_cells(section: TheorySection) -> list[tuple[str, ...]]:
    """One row of cells per Analog SGD device, shared by markdown and HTML."""
    rows = []
    for p in section.points:
        found = p.prediction
        if found is None:
            figures: tuple[str, ...] = (p.reason, "", "", "", "")
        else:
            figures = (
                _num(p.s_k),
                _num(found.s_k),
                _num(found.write_noise_loss),
                _num(found.s_k_devices) if found.s_k_devices is not None else "same",
                _share(found.floor_fraction),
            )
        rows.append((p.device, p.optimizer, *figures, _num(p.measured), str(p.n_done)))
    return rows


def correlation_line(correlation: Correlation) -> str:
    """One correlation's line, with what S_K alone (without write noise's cost) and S_K over
    the device-to-device spread would give."""
    text = f"{correlation.optimizer}: {correlation.verdict}".rstrip(".") + "."
    if not math.isnan(correlation.s_k_rho) and correlation.s_k_rho != correlation.rho:
        text += f" By S_K alone: rho = {correlation.s_k_rho:.2f}."
    if not math.isnan(correlation.spread_rho):
        text += (
            f" By S_K over the devices (shown, not ranked by): rho = {correlation.spread_rho:.2f}."
        )
    return text


def residual_cells(section: TheorySection) -> list[tuple[str, ...]]:
    """One row of cells per Tiki-Taka / residual-learning row."""
    return [
        (
            p.device,
            p.optimizer,
            _num(p.gamma),
            p.zero_shift,
            p.residual or "—",
            _num(p.symmetric_point),
            _floor(p.floor) if not p.reason else p.reason,
            _num(p.measured),
            str(p.n_done),
        )
        for p in section.residual
    ]


def _intro(section: TheorySection) -> list[str]:
    direction = "higher" if section.higher_is_better else "lower"
    return [
        "What the theory (docs/theory.md, docs/predict.md) predicts from each device's response "
        "alone, beside what was measured. " + RANKING_RULE,
        f"Weights: {section.weights}",
        "Correlation: Spearman's rho between the predicted score (minus the predicted figure, "
        "or the figure for a metric where lower is better) and the measured mean "
        f"({direction} is better), so rho = 1 is "
        "the predicted order exactly; p: one-sided permutation test (rho > 0), exact over "
        "every pairing for up to 8 devices, beyond that drawn from "
        f"{RESAMPLES:,} random pairings with a fixed seed (no p below 1/{RESAMPLES + 1:,}).",
    ]


def theory_markdown(section: TheorySection, figure: str | None = None) -> str:
    """The section in markdown, with the figure (an SVG name beside the file) if given."""
    lines = [f"## {TITLE}", "", *(f"{line}\n" for line in _intro(section))]
    if section.points:
        lines += ["### Analog SGD", ""]
        lines += ["| " + " | ".join(SGD_HEAD) + " |", SGD_ALIGN]
        lines += ["| " + " | ".join(c) + " |" for c in sgd_cells(section)]
        lines += [""] + [f"- {correlation_line(c)}" for c in section.correlations] + [""]
        lines += [NOISE_NOTE, ""]
        if figure:
            lines += [f"![{TITLE}]({figure})", ""]
    if section.residual:
        lines += ["### Tiki-Taka and residual learning", ""]
        align = "|---|---|---:|---|---|---:|---|---:|---:|"
        lines += ["| " + " | ".join(RESIDUAL_HEAD) + " |", align]
        lines += ["| " + " | ".join(c) + " |" for c in residual_cells(section)]
        lines += ["", section.residual_summary, ""]
    lines += [f"- {note}" for note in section.notes]
    return "\n".join(lines).rstrip() + "\n"


def theory_html(section: TheorySection, figure_html: str = "") -> str:
    """The section as HTML; ``figure_html`` is the embedded scatter figure."""
    parts = [f"<h2 id='theory'>{TITLE}</h2>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in _intro(section)]
    if section.points:
        parts.append("<h3>Analog SGD</h3>")
        parts.append(html_table(SGD_HEAD, sgd_cells(section), "theory"))
        items = "".join(
            f"<li>{html.escape(correlation_line(c))}</li>" for c in section.correlations
        )
        parts.append(f"<ul>{items}</ul><p>{html.escape(NOISE_NOTE)}</p>{figure_html}")
    if section.residual:
        parts.append("<h3>Tiki-Taka and residual learning</h3>")
        parts.append(html_table(RESIDUAL_HEAD, residual_cells(section), "theory"))
        parts.append(f"<p>{html.escape(section.residual_summary)}</p>")
    if section.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in section.notes)
        parts.append(f"<ul>{items}</ul>")
    return "".join(parts)


def _family(device: str) -> str:
    """The family a device label names (``power(g=2, tau=0.7)`` -> ``power``)."""
    return device.split("(", 1)[0].strip() or device


def _parameters(device: str) -> str:
    """The label's parameters alone (the family is in the legend): ``g=2, tau=0.7``."""
    inside = device.partition("(")[2].rstrip(")")
    return inside or device


def _place_labels(ax: Any, fig: Any, items: list[tuple[float, float, str]], size: float) -> None:
    """Each label beside its point at the first of a few offsets whose box overlaps no label
    placed before it (boxes estimated from the text length): neighbouring devices with nearly
    equal S_K and accuracy otherwise print over each other."""
    scale = fig.dpi / 72.0
    width_per_char, height = 0.55 * size * scale, 1.2 * size * scale
    offsets = [(4, 3), (4, -11), (-4, 3), (-4, -11), (4, 12), (4, -20)]
    placed: list[tuple[float, float, float, float]] = []
    frame = ax.get_window_extent()
    for x, y, text in sorted(items, key=lambda item: (-item[1], item[0])):
        px, py = ax.transData.transform((x, y))
        width = width_per_char * len(text)
        chosen = offsets[0]
        for dx, dy in offsets:
            left = px + dx * scale - (width if dx < 0 else 0.0)
            box = (left, py + dy * scale, left + width, py + dy * scale + height)
            inside = frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1]
            if inside and not any(
                box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed
            ):
                chosen = (dx, dy)
                break
        dx, dy = chosen
        left = px + dx * scale - (width if dx < 0 else 0.0)
        placed.append((left, py + dy * scale, left + width, py + dy * scale + height))
        ax.annotate(
            text,
            (x, y),
            textcoords="offset points",
            xytext=(dx, dy),
            ha="right" if dx < 0 else "left",
            fontsize=size,
        )


def _title(correlation: Any) -> str:
    """``sgd: rho = 0.94, n = 13, p = 0.0012``; a drawn p says so, and where no draw reached
    rho, the 95% bound on the exact p (the drawn value is only the draws' resolution)."""
    if math.isnan(correlation.rho):
        return f"{correlation.optimizer}: n = {correlation.n}, no order to correlate"
    head = f"{correlation.optimizer}: rho = {correlation.rho:.2f}, n = {correlation.n}, "
    if correlation.exact:
        return head + f"p = {correlation.p:.2g}"
    if correlation.p <= drawn_floor() * (1 + 1e-9):
        return head + f"p < {drawn_bound():.1g} (Monte Carlo, 95%)"
    return head + f"p = {correlation.p:.2g} (Monte Carlo)"


def plot_theory(section: TheorySection, path: Path) -> Path | None:
    """Predicted S_K against the measured mean, one point per Analog SGD device with a
    prediction, one panel per Analog SGD label (a sweep may vary its settings), colour and
    marker by response family; ``None`` when there is no such point."""
    points = [p for p in section.points if p.s_k is not None and not math.isnan(p.measured)]
    if not points:
        return None
    labels = list(dict.fromkeys(p.optimizer for p in points))
    families = list(dict.fromkeys(_family(p.device) for p in points))
    markers = "osD^vP*Xh<>p"
    titles = {c.optimizer: _title(c) for c in section.correlations}
    with style() as plt:
        fig, axes = plt.subplots(
            1, len(labels), figsize=(6.4 * len(labels), 4.6), layout="constrained", squeeze=False
        )
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for ax, label in zip(axes[0], labels, strict=True):
            mine = [p for p in points if p.optimizer == label]
            for index, family in enumerate(families):
                group = [p for p in mine if _family(p.device) == family]
                if not group:
                    continue
                low = [0.0 if math.isnan(p.ci_low) else p.measured - p.ci_low for p in group]
                high = [0.0 if math.isnan(p.ci_high) else p.ci_high - p.measured for p in group]
                ax.errorbar(
                    [p.s_k or 0.0 for p in group],
                    [p.measured for p in group],
                    yerr=[low, high],
                    fmt=markers[index % len(markers)],
                    color=colours[index % len(colours)],
                    capsize=3,
                    label=family,
                )
            ax.margins(x=0.2, y=0.12)  # room for the labels beside the points
            ax.set_title(titles.get(label, f"{label}: too few devices for a correlation"))
            ax.set_xlabel("predicted figure: excess loss, or S_K (lower: better)")
            ax.set_ylabel(f"measured {section.metric.replace('_', ' ')}")
            fig.canvas.draw()  # fixes the limits, so label boxes can be placed in pixels
            items = [(p.s_k or 0.0, p.measured, _parameters(p.device)) for p in mine]
            _place_labels(ax, fig, items, size=7.5)
            if len(families) > 1:
                ax.legend(title="response family", loc="best", fontsize=8, title_fontsize=8)
        return save(fig, path)
