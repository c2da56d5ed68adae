"""Tables and the report page from a comparison's outcomes: what a researcher puts in a paper.

:func:`write_report` writes, into one folder: ``results.csv`` and ``results.md`` (ranked, mean ±
std over seeds per device x optimizer), ``learning_curves.png`` (a panel per optimizer),
``final_metric.png`` (bars, aihwkit presets beside plugin devices), ``responses.png`` (the
compared devices' response curves), ``runs.json`` (every run, for later analysis) and
``report.html``, one self-contained page with all of it (images embedded as base64, so it can be
mailed or attached as it is).
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from aimc_plugins import plots
from aimc_plugins.compare import DIVERGED, DONE, FAILED, RunOutcome


@dataclass(frozen=True)
class Row:
    """Mean and standard deviation over seeds of one device x optimizer."""

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

    def formatted(self, digits: int = 4) -> str:
        if math.isnan(self.mean):
            return "n/a"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def summarize(
    outcomes: Sequence[RunOutcome], metric: str, higher_is_better: bool = True
) -> list[Row]:
    """One row per device x optimizer, best first. Failed and diverged runs count in ``n_runs``
    but not in the mean, so a configuration that only works on some seeds shows it."""
    groups: dict[tuple[str, str], list[RunOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.spec.device, outcome.spec.shown_optimizer)].append(outcome)
    rows = []
    for (device, optimizer), group in groups.items():
        values = [float(o.final[metric]) for o in group if o.status == DONE and metric in o.final]
        mean = statistics.fmean(values) if values else math.nan
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        first = group[0].spec
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
                plots.device_kind(first.device_name or first.device, first.optimizer),
            )
        )

    def key(row: Row) -> float:
        if math.isnan(row.mean):
            return math.inf
        return -row.mean if higher_is_better else row.mean

    return sorted(rows, key=key)


CSV_COLUMNS = (
    "rank",
    "device",
    "optimizer",
    "kind",
    "metric",
    "mean",
    "std",
    "n_done",
    "n_runs",
    "n_diverged",
    "n_failed",
)


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for rank, row in enumerate(rows, 1):
            values = asdict(row)
            writer.writerow([rank, *(values[c] for c in CSV_COLUMNS[1:])])
    return path


def markdown_table(rows: Sequence[Row]) -> str:
    if not rows:
        return "(no runs)\n"
    metric = rows[0].metric
    lines = [
        f"| rank | device | optimizer | kind | {metric} (mean ± std) | runs done | diverged "
        "| failed |",
        "|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for rank, row in enumerate(rows, 1):
        lines.append(
            f"| {rank} | {row.device} | {row.optimizer} | {row.kind} | {row.formatted()} | "
            f"{row.n_done}/{row.n_runs} | {row.n_diverged} | {row.n_failed} |"
        )
    return "\n".join(lines) + "\n"


def write_markdown(rows: Sequence[Row], path: Path, title: str = "Comparison") -> Path:
    path.write_text(f"# {title}\n\n{markdown_table(rows)}")
    return path


def write_runs_json(outcomes: Sequence[RunOutcome], path: Path) -> Path:
    """Every run with its id, configuration, status, versions and per-epoch history."""
    records = [{"run_id": o.spec.run_id, **asdict(o)} for o in outcomes]
    path.write_text(json.dumps(records, indent=1, default=str))
    return path


def _html_table(rows: Sequence[Row]) -> str:
    head = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in (
            "rank",
            "device",
            "optimizer",
            "kind",
            f"{rows[0].metric if rows else ''}",
            "done",
            "diverged",
            "failed",
        )
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(cell))}</td>"
            for cell in (
                rank,
                row.device,
                row.optimizer,
                row.kind,
                row.formatted(),
                f"{row.n_done}/{row.n_runs}",
                row.n_diverged,
                row.n_failed,
            )
        )
        + "</tr>"
        for rank, row in enumerate(rows, 1)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _problems(outcomes: Sequence[RunOutcome]) -> str:
    items = [
        f"<li><b>{html.escape(o.spec.label)}</b> seed {o.spec.seed}: {o.status} "
        f"<code>{html.escape(o.error.strip().splitlines()[-1] if o.error.strip() else '')}</code>"
        "</li>"
        for o in outcomes
        if o.status != DONE
    ]
    return f"<h2>Failed and diverged runs</h2><ul>{''.join(items)}</ul>" if items else ""


def _versions(outcomes: Sequence[RunOutcome]) -> str:
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome in outcomes:
        for key, value in outcome.versions.items():
            seen[key][value] += 1
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(', '.join(v))}</td></tr>"
        for k, v in sorted(seen.items())
    )
    return f"<h2>Software</h2><table>{rows}</table>" if rows else ""


def write_html(
    rows: Sequence[Row],
    outcomes: Sequence[RunOutcome],
    images: Sequence[tuple[str, Path]],
    path: Path,
    title: str,
) -> Path:
    """One page with the table and every figure inlined as base64: no files beside it needed."""
    figures = "".join(
        f"<h2>{html.escape(caption)}</h2><img alt='{html.escape(caption)}' "
        f"src='data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()}'>"
        for caption, image in images
    )
    recipes = ", ".join(sorted({o.spec.recipe for o in outcomes}))
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1200px; margin: 2em auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; }}
th {{ background: #eee; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(outcomes)} runs of {html.escape(recipes)}; ranked by {
        html.escape(rows[0].metric if rows else "")
    }, mean ± standard deviation over seeds (failed and diverged runs counted apart).</p>
{_html_table(rows)}
{figures}
{_problems(outcomes)}
{_versions(outcomes)}
</body></html>
"""
    path.write_text(page)
    return path


def write_report(
    outcomes: Sequence[RunOutcome],
    out: Path,
    metric: str,
    higher_is_better: bool = True,
    title: str = "Comparison",
) -> list[Path]:
    """Every table and figure of a comparison, into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    rows = summarize(outcomes, metric, higher_is_better)
    curves = plots.plot_learning_curves(outcomes, metric, out / "learning_curves.png")
    bars = plots.plot_final_bars(rows, out / "final_metric.png")
    responses = plots.plot_responses(outcomes, out / "responses.png")
    images = [
        (f"Final {metric.replace('_', ' ')}", bars),
        ("Learning curves per optimizer", curves),
        ("Device responses", responses),
    ]
    return [
        write_csv(rows, out / "results.csv"),
        write_markdown(rows, out / "results.md", f"{title}: {metric}"),
        curves,
        bars,
        responses,
        write_runs_json(outcomes, out / "runs.json"),
        write_html(rows, outcomes, images, out / "report.html", title),
    ]


def ranking_metric(outcomes: Sequence[RunOutcome]) -> tuple[str, bool]:
    """The metric (and its direction) of the recipe most of the runs used."""
    from aimc_plugins import plugins

    recipes = Counter(o.spec.recipe for o in outcomes)
    if recipes:
        record = plugins.recipes().get(recipes.most_common(1)[0][0])
        if record is not None:
            return record.metric, record.higher_is_better
    return "test_accuracy", True
