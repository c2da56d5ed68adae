"""The "Theory vs measurement" section as markdown, as HTML and as a scatter figure (the
section's content is :class:`aimc_plugins.report.theory.TheorySection`)."""

from __future__ import annotations

import html
import math
from pathlib import Path

from aimc_plugins.devices.theory import RANKING_RULE
from aimc_plugins.report.figures import save, style
from aimc_plugins.report.theory import RESAMPLES, TheorySection

FIGURE_NAME = "theory_vs_measurement.png"
TITLE = "Theory vs measurement"
SGD_HEAD = ("device", "optimizer", "S_K (predicted; lower: better)", "measured mean", "n")
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
    "One point per device trained with Analog SGD: S_K over the recipe's initial weights "
    "(the theory's floor is proportional to it) against the measured mean, error bars the 95% "
    "CI of the mean. The theory predicts the metric to worsen as S_K grows."
)


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g}"


def _floor(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "no")


def sgd_cells(section: TheorySection) -> list[tuple[str, ...]]:
    """One row of cells per Analog SGD device, shared by markdown and HTML."""
    return [
        (
            p.device,
            p.optimizer,
            _num(p.s_k) if p.prediction is not None else p.reason,
            _num(p.measured),
            str(p.n_done),
        )
        for p in section.points
    ]


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
        f"Correlation: Spearman's rho between the predicted score (-S_K, or S_K for a metric "
        f"where lower is better) and the measured mean ({direction} is better), so rho = 1 is "
        "the predicted order exactly; p: one-sided permutation test (rho > 0), exact over "
        "every pairing for up to 8 devices, beyond that drawn from "
        f"{RESAMPLES:,} random pairings with a fixed seed (no p below 1/{RESAMPLES + 1:,}).",
    ]


def theory_markdown(section: TheorySection, figure: str | None = None) -> str:
    """The section in markdown, with the figure (an SVG name beside the file) if given."""
    lines = [f"## {TITLE}", "", *(f"{line}\n" for line in _intro(section))]
    if section.points:
        lines += ["### Analog SGD", ""]
        lines += ["| " + " | ".join(SGD_HEAD) + " |", "|---|---|---:|---:|---:|"]
        lines += ["| " + " | ".join(c) + " |" for c in sgd_cells(section)]
        lines += [""] + [f"- {c.optimizer}: {c.verdict}" for c in section.correlations] + [""]
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


def _html_table(head: tuple[str, ...], cells: list[tuple[str, ...]]) -> str:
    top = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells
    )
    return f"<table class='theory'><thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>"


def theory_html(section: TheorySection, figure_html: str = "") -> str:
    """The section as HTML; ``figure_html`` is the embedded scatter figure."""
    parts = [f"<h2 id='theory'>{TITLE}</h2>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in _intro(section)]
    if section.points:
        parts.append("<h3>Analog SGD</h3>")
        parts.append(_html_table(SGD_HEAD, sgd_cells(section)))
        items = "".join(
            f"<li>{html.escape(c.optimizer)}: {html.escape(c.verdict)}</li>"
            for c in section.correlations
        )
        parts.append(f"<ul>{items}</ul>{figure_html}")
    if section.residual:
        parts.append("<h3>Tiki-Taka and residual learning</h3>")
        parts.append(_html_table(RESIDUAL_HEAD, residual_cells(section)))
        parts.append(f"<p>{html.escape(section.residual_summary)}</p>")
    if section.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in section.notes)
        parts.append(f"<ul>{items}</ul>")
    return "".join(parts)


def plot_theory(section: TheorySection, path: Path) -> Path | None:
    """Predicted S_K against the measured mean, one point per Analog SGD device with a
    prediction; ``None`` when there is no such point."""
    points = [p for p in section.points if p.s_k is not None and not math.isnan(p.measured)]
    if not points:
        return None
    with style() as plt:
        fig, ax = plt.subplots(figsize=(6.0, 4.2), layout="constrained")
        for optimizer in dict.fromkeys(p.optimizer for p in points):
            mine = [p for p in points if p.optimizer == optimizer]
            x = [p.s_k or 0.0 for p in mine]
            y = [p.measured for p in mine]
            low = [0.0 if math.isnan(p.ci_low) else p.measured - p.ci_low for p in mine]
            high = [0.0 if math.isnan(p.ci_high) else p.ci_high - p.measured for p in mine]
            ax.errorbar(x, y, yerr=[low, high], fmt="o", capsize=3, label=optimizer)
            for p in mine:
                ax.annotate(
                    p.device, (p.s_k or 0.0, p.measured), textcoords="offset points",
                    xytext=(4, 4), fontsize=9,
                )
        ax.margins(x=0.25, y=0.1)  # room for the labels right of the points
        verdicts = "; ".join(c.verdict.split(":")[0] for c in section.correlations)
        ax.set_title(verdicts or "too few devices for a correlation", fontsize=10)
        ax.set_xlabel("S_K over the initial weights (predicted floor; lower: better)")
        ax.set_ylabel(f"measured {section.metric.replace('_', ' ')}")
        if len({p.optimizer for p in points}) > 1:
            ax.legend(loc="best")
        return save(fig, path)
