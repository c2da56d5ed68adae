"""Tables and the report page from a comparison's outcomes: what a researcher puts in a paper.

:func:`write_report` writes, into one folder: ``results.csv`` and ``results.md`` (ranked, n,
mean ± std and the 95% confidence interval of the mean over seeds per device x optimizer, with
letter groups that say which rows the seeds cannot tell apart, and the same in words: which rows
the best is separated from), ``final_metric``, ``learning_curves`` and ``responses`` (the
compared devices' response curves, normalised alike, symmetric points marked) as PNG and SVG,
``metric_vs_<param>`` when the sweep varied a device parameter (:mod:`.grid`), ``runs.json``
(every run, for later analysis) and ``report.html``, one self-contained page with all of it and
what was run (:mod:`.provenance`): images embedded as base64, nothing loaded from outside the
file, so it can be mailed or attached as it is.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from aimc_plugins.report import plots, tuning
from aimc_plugins.report import time_to_target as ttt
from aimc_plugins.report.figures import PNG_DPI, svg_of
from aimc_plugins.report.provenance import CONFIGURATION_HEAD, Provenance, RunTimes, describe
from aimc_plugins.report.splits import result_runs, trial_runs
from aimc_plugins.report.stats import interval_method, metric_limits
from aimc_plugins.report.stats import mean_interval as mean_interval  # re-exported
from aimc_plugins.report.stats import t_quantile_975 as t_quantile_975
from aimc_plugins.report.time_to_target import RowReach, Target
from aimc_plugins.report.tuning import TUNING_FILE
from aimc_plugins.training.run import DIVERGED, DONE, FAILED, RunOutcome

NO_INTERVAL = "n=1, no interval"


@dataclass(frozen=True)
class Row:
    """Mean, spread and 95% confidence interval over seeds of one device x optimizer, with its
    letter group in the ranking (rows sharing a letter are not separated by their intervals)."""

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
            letters[member] += _letter(index)
    return letters


def _letter(index: int) -> str:
    """a..z, then aa, ab, ... so a sweep with many rows still gets distinct groups."""
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = alphabet[rest] + name
    return name


def summarize(
    outcomes: Sequence[RunOutcome], metric: str, higher_is_better: bool = True
) -> list[Row]:
    """One row per device x optimizer, best first (by mean, in the direction the metric says),
    with letter groups and "tied for best" marks from the 95% intervals, so the order of rows
    the seeds cannot separate is not read as a ranking. Failed and diverged runs count in
    ``n_runs`` but not in the mean, so a configuration that only works on some seeds shows it.
    Intervals stay inside the metric's range (:func:`~.stats.metric_limits`). Tuning trials
    (validation-split runs) are not results and are left out (:func:`~.splits.result_runs`)."""
    groups: dict[tuple[str, str], list[RunOutcome]] = defaultdict(list)
    limits = metric_limits(metric)
    for outcome in result_runs(outcomes):
        groups[(outcome.run.device, outcome.run.shown_optimizer)].append(outcome)
    rows = []
    for (device, optimizer), group in groups.items():
        values = [float(o.final[metric]) for o in group if o.status == DONE and metric in o.final]
        mean, std, ci_low, ci_high = mean_interval(values, limits)
        first = group[0].run
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


CSV_COLUMNS = (
    "rank",
    "device",
    "optimizer",
    "kind",
    "metric",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "group",
    "tied_for_best",
    "n_done",
    "n_runs",
    "n_diverged",
    "n_failed",
)


TARGET_CSV_COLUMNS = (
    "epochs_to_target",
    "samples_to_target",
    "time_to_target_s",
    "n_reached",
    "n_target_runs",
)


def write_csv(
    rows: Sequence[Row], path: Path, reach: dict[tuple[str, str], RowReach] | None = None
) -> Path:
    """The table for further analysis: std, ci_low and ci_high are ``nan`` where one finished
    run gives no spread, and ``group`` / ``tied_for_best`` carry the separation marks. With
    ``reach``, the time-to-target medians follow (``inf``: not reached, ``nan``: not
    recorded)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS + (TARGET_CSV_COLUMNS if reach is not None else ()))
        for rank, row in enumerate(rows, 1):
            values = asdict(row)
            cells: list[Any] = [rank, *(values[c] for c in CSV_COLUMNS[1:])]
            if reach is not None:
                found = reach.get((row.device, row.optimizer))
                if found is None:
                    cells += [math.nan, math.nan, math.nan, 0, 0]
                else:
                    cells += [found.epochs, found.samples, found.time_s]
                    cells += [found.n_reached, found.n_runs]
            writer.writerow(cells)
    return path


def _table_cells(
    rank: int, row: Row, reach: dict[tuple[str, str], RowReach] | None = None
) -> tuple[str, ...]:
    """The cells of one row, shared by the markdown and HTML tables so they never disagree;
    with ``reach`` (time to target per row) a last cell says how soon the row got there."""
    extra: tuple[str, ...] = ()
    if reach is not None:
        found = reach.get((row.device, row.optimizer))
        extra = (found.formatted() if found is not None else "—",)
    return (
        str(rank),
        row.device,
        row.optimizer,
        row.kind,
        str(row.n_done),
        row.formatted(),
        row.formatted_interval(),
        row.formatted_group(),
        f"{row.n_done}/{row.n_runs}",
        str(row.n_diverged),
        str(row.n_failed),
        *extra,
    )


TARGET_COLUMN = "epochs to target (median; runs reached)"


def _table_head(metric: str, with_target: bool = False) -> tuple[str, ...]:
    return (
        "rank",
        "device",
        "optimizer",
        "kind",
        "n",
        f"{metric} (mean ± std)",
        "95% CI of mean",
        "group",
        "runs done",
        "diverged",
        "failed",
        *((TARGET_COLUMN,) if with_target else ()),
    )


def markdown_table(
    rows: Sequence[Row], reach: dict[tuple[str, str], RowReach] | None = None
) -> str:
    """The ranked table with the note on its intervals and groups under it; with ``reach``
    (:func:`~.time_to_target.reaches`) a column of epochs to target."""
    if not rows:
        return "(no runs)\n"
    align = "|---:|---|---|---|---:|---:|---:|---|---:|---:|---:|"
    lines = [
        "| " + " | ".join(_table_head(rows[0].metric, reach is not None)) + " |",
        align + ("---|" if reach is not None else ""),
    ]
    lines += ["| " + " | ".join(_table_cells(i, r, reach)) + " |" for i, r in enumerate(rows, 1)]
    return "\n".join(lines) + "\n\n" + separation_note(rows[0].metric) + "\n"


def run_notes(outcomes: Sequence[RunOutcome]) -> list[str]:
    """What a reader must know besides the numbers: each configuration's notes (a transfer
    schedule too slow for the budget, ...) once, and how many runs do not repeat from their
    seed (``versions["deterministic"]``, written by :func:`aimc_plugins.training.run.run_one`)."""
    notes: dict[str, list[str]] = defaultdict(list)
    outcomes = result_runs(outcomes)
    for outcome in outcomes:
        for note in outcome.notes:
            if note not in notes[outcome.run.label]:
                notes[outcome.run.label].append(note)
    lines = [f"{label}: {note}" for label, items in notes.items() for note in items]
    unseeded = Counter(
        o.versions.get("deterministic", "no: recorded before runs were seeded")
        for o in outcomes
        if o.status != FAILED and o.versions.get("deterministic") != "yes"
    )
    lines += [
        f"{count} run(s) do not repeat from their seed ({why})" for why, count in unseeded.items()
    ]
    return lines


def _markdown_pairs(rows: Sequence[tuple[str, str]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return "\n".join(lines) + "\n"


def provenance_markdown(info: Provenance) -> str:
    """The "what was run" section as markdown tables."""
    configurations = [
        "| " + " | ".join(CONFIGURATION_HEAD) + " |",
        "|" + "---|" * len(CONFIGURATION_HEAD),
        *("| " + " | ".join(row) + " |" for row in info.configurations),
    ]
    return (
        "## What was run\n\n"
        + _markdown_pairs(info.settings)
        + "\n### Configurations\n\n"
        + "\n".join(configurations)
        + "\n\n### Software\n\n"
        + _markdown_pairs(info.software)
        + "\n### Machine and time\n\n"
        + _markdown_pairs((*info.machine, *info.timing))
    )


@dataclass(frozen=True)
class Extras:
    """What a report adds to the table when it knows more than the runs: time to target (the
    target, or why there is none, and each row's reach), and how the rows were tuned (the
    tuner's record, the number of trial runs in the store, the sensitivity figure)."""

    target: Target | None = None
    target_why: str = ""
    reach: dict[tuple[str, str], RowReach] | None = None
    tuning: dict[str, Any] | None = None
    n_trial_runs: int = 0
    sensitivity: Path | None = None


def target_markdown(rows: Sequence[Row], extras: Extras) -> str:
    """The time-to-target section: the target and how it was chosen, the rule, the table."""
    if extras.target is None or extras.reach is None:
        return f"## Time to target\n\n{extras.target_why}\n" if extras.target_why else ""
    cells = ttt.detail_rows(rows, extras.reach)
    lines = ["| " + " | ".join(ttt.DETAIL_HEAD) + " |", "|---|---|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    return (
        f"## Time to target\n\nTarget: {extras.target.how}.\n\n{ttt.RULE}\n\n"
        + "\n".join(lines)
        + "\n"
    )


def untuned_trials_note(extras: Extras) -> str:
    """What the report says of trial runs when no tuning record describes them."""
    if extras.tuning is not None or not extras.n_trial_runs:
        return ""
    return (
        f"{extras.n_trial_runs} runs on the validation split (tuning trials) are stored with "
        f"the results but no {TUNING_FILE} describes them; they are in no table or figure."
    )


def write_markdown(
    rows: Sequence[Row],
    path: Path,
    title: str = "Comparison",
    notes: Sequence[str] = (),
    info: Provenance | None = None,
    figures: Sequence[tuple[str, Path]] = (),
    extras: Extras | None = None,
) -> Path:
    """``results.md``: the ranked table with how to read it (and, with ``extras``, its time
    to target), the notes, what was run (with how each row was tuned) and the figures (as the
    SVGs beside it, for a paper or a slide)."""
    extras = extras or Extras()
    text = f"# {title}\n\n{markdown_table(rows, extras.reach)}"
    summary = separation_summary(rows)
    if summary:
        text += "\n" + "".join(f"- {line}\n" for line in summary)
    section = target_markdown(rows, extras)
    if section:
        text += "\n" + section
    if notes:
        text += "\nNotes:\n\n" + "".join(f"- {note}\n" for note in notes)
    if info is not None:
        text += "\n" + provenance_markdown(info)
    if extras.tuning is not None:
        figure = svg_of(extras.sensitivity).name if extras.sensitivity else None
        text += "\n" + tuning.tuning_markdown(extras.tuning, extras.n_trial_runs, figure)
    elif untuned_trials_note(extras):
        text += "\n" + untuned_trials_note(extras) + "\n"
    if figures:
        text += "\n## Figures\n\n" + "".join(
            f"![{caption}]({svg_of(image).name})\n\n" for caption, image in figures
        )
    path.write_text(text)
    return path


def write_runs_json(outcomes: Sequence[RunOutcome], path: Path) -> Path:
    """Every run with its id, configuration, status, versions and per-epoch history."""
    records = [{"run_id": o.run.run_id, **asdict(o)} for o in outcomes]
    path.write_text(json.dumps(records, indent=1, default=str))
    return path


def _html_table(rows: Sequence[Row], reach: dict[tuple[str, str], RowReach] | None = None) -> str:
    metric = rows[0].metric if rows else ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _table_head(metric, reach is not None))
    best = next((r for r in rows if not math.isnan(r.mean)), None)

    def row_class(row: Row) -> str:
        if best is None or row is best:
            return "best" if row is best else ""
        if separated(row, best):
            return "separated"
        return "tied" if row.has_interval else ""

    body = "".join(
        f"<tr class='{row_class(row)}'>"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in _table_cells(rank, row, reach))
        + "</tr>"
        for rank, row in enumerate(rows, 1)
    )
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in separation_summary(rows))
    return (
        f"<table class='results'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "<p class='key'>Bold: the best row and the rows not separated from it; grey: rows the "
        "best is separated from.</p>"
        f"<ul class='separation'>{summary}</ul>"
        f"<p>{html.escape(letters_explained(metric))}</p>"
    )


def target_html(rows: Sequence[Row], extras: Extras) -> str:
    """The time-to-target section of the page (or why there is none)."""
    if extras.target is None or extras.reach is None:
        if not extras.target_why:
            return ""
        return f"<h2>Time to target</h2><p>{html.escape(extras.target_why)}</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ttt.DETAIL_HEAD)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        for cells in ttt.detail_rows(rows, extras.reach)
    )
    return (
        "<h2 id='target'>Time to target</h2>"
        f"<p>Target: {html.escape(extras.target.how)}.</p><p>{html.escape(ttt.RULE)}</p>"
        f"<table class='target'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def tuning_section_html(extras: Extras) -> str:
    """How each row was tuned, with its sensitivity figure embedded (or, for trial runs no
    tuning record describes, one sentence)."""
    if extras.tuning is None:
        note = untuned_trials_note(extras)
        return f"<p>{html.escape(note)}</p>" if note else ""
    figure = ""
    if extras.sensitivity is not None:
        figure = _figures_html(
            [("Sensitivity to the tuned parameters", extras.sensitivity, tuning.SENSITIVITY_NOTE)],
            heading="h4",
        )
    return tuning.tuning_html(extras.tuning, extras.n_trial_runs, figure)


def _notes_html(notes: Sequence[str]) -> str:
    items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    return f"<h2>Notes</h2><ul>{items}</ul>" if items else ""


def _problems(outcomes: Sequence[RunOutcome]) -> str:
    items = [
        f"<li><b>{html.escape(o.run.label)}</b> seed {o.run.seed}: {o.status} "
        f"<code>{html.escape(o.error.strip().splitlines()[-1] if o.error.strip() else '')}</code>"
        "</li>"
        for o in outcomes
        if o.status != DONE
    ]
    return f"<h2>Failed and diverged runs</h2><ul>{''.join(items)}</ul>" if items else ""


def _pairs_html(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f"<table class='pairs'>{cells}</table>"


def provenance_html(info: Provenance) -> str:
    """The "what was run" section: settings, configurations, software, machine and time."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in CONFIGURATION_HEAD)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in info.configurations
    )
    return (
        "<h2 id='setup'>What was run</h2>"
        + _pairs_html(info.settings)
        + "<h3>Configurations</h3>"
        + f"<table class='configurations'><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        "</table>"
        + "<h3>Software</h3>"
        + _pairs_html(info.software)
        + "<h3>Machine and time</h3>"
        + _pairs_html((*info.machine, *info.timing))
    )


def _png_width_css(image: Path) -> int:
    """The width, in CSS pixels (96 per inch), of a PNG saved at the report's dpi: the page
    shows each figure at the size it was drawn for, where its 10 pt text is 10 pt."""
    data = image.read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return 0
    return round(int.from_bytes(data[16:20], "big") / PNG_DPI * 96)


def _figures_html(
    images: Sequence[tuple[str, Path] | tuple[str, Path, str]], heading: str = "h2"
) -> str:
    parts = []
    for caption, image, *more in images:
        note = more[0] if more else ""
        svg = svg_of(image)
        also = f" Also as {svg.name} beside this page." if svg.exists() else ""
        width = _png_width_css(image)
        size = f" width='{width}'" if width else ""
        encoded = base64.b64encode(image.read_bytes()).decode()
        parts.append(
            f"<figure><{heading}>{html.escape(caption)}</{heading}>"
            f"<img alt='{html.escape(caption)}'{size} src='data:image/png;base64,{encoded}'>"
            f"<figcaption>{html.escape(note + also)}</figcaption></figure>"
        )
    return "".join(parts)


_STYLE = """
body { font-family: sans-serif; max-width: 1250px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th, table.pairs th { background: #eee; }
tr.best td, tr.tied td { font-weight: bold; } tr.separated td { color: #666; }
img { max-width: 100%; height: auto; } figure { margin: 1.5em 0; }
figcaption { color: #333; max-width: 60em; }
"""


def write_html(
    rows: Sequence[Row],
    outcomes: Sequence[RunOutcome],
    images: Sequence[tuple[str, Path] | tuple[str, Path, str]],
    path: Path,
    title: str,
    info: Provenance | None = None,
    extras: Extras | None = None,
) -> Path:
    """One page with what was run, the table and every figure inlined as base64: nothing is
    loaded from outside the file, so it can be mailed or attached as it is. ``images`` are
    (caption, PNG) or (caption, PNG, note) pairs; ``extras`` adds time to target and how the
    rows were tuned. Tuning trials (validation-split runs) are counted in that section only."""
    extras = extras or Extras()
    outcomes = result_runs(outcomes)
    recipes = ", ".join(sorted({o.run.recipe for o in outcomes}))
    info = info or describe(outcomes, title=title)
    metric = rows[0].metric if rows else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(outcomes)} runs of {html.escape(recipes)}; ranked by final {html.escape(metric)}, mean ±
standard deviation over seeds and the 95% confidence interval of the mean (failed and diverged
runs counted apart; intervals: {html.escape(interval_method(metric))}).
<a href="#setup">What was run</a> follows the results.</p>
<h2>Results</h2>
{_html_table(rows, extras.reach)}
{target_html(rows, extras)}
{_notes_html(run_notes(outcomes))}
{_figures_html(images)}
{_problems(outcomes)}
{provenance_html(info)}
{tuning_section_html(extras)}
</body></html>
"""
    path.write_text(page)
    return path


def report_extras(
    outcomes: Sequence[RunOutcome],
    metric: str,
    higher_is_better: bool = True,
    folder: Path | None = None,
    target: float | None = None,
) -> Extras:
    """Time to target and tuning for a report of ``outcomes`` (trials included: they are
    counted, not ranked). The target is ``target`` if given, else the one stored in
    ``folder``'s results store, else a fraction of the digital baseline
    (:func:`~.time_to_target.choose_target`); the tuning record is ``folder/tuning.json``."""
    results = result_runs(outcomes)
    explicit = target if target is not None else ttt.explicit_target(folder)
    chosen, why = ttt.choose_target(results, metric, higher_is_better, explicit)
    return Extras(
        target=chosen,
        target_why=why,
        reach=ttt.reaches(results, chosen) if chosen is not None else None,
        tuning=tuning.read_tuning(folder),
        n_trial_runs=len(trial_runs(outcomes)),
    )


def write_report(
    outcomes: Sequence[RunOutcome],
    out: Path,
    metric: str,
    higher_is_better: bool = True,
    title: str | None = None,
    *,
    run_times: RunTimes | None = None,
    folder: Path | None = None,
    target: float | None = None,
) -> list[Path]:
    """Every table and figure of a comparison, into ``out``; returns the paths written.

    ``run_times`` (:meth:`~aimc_plugins.sweep.store.ResultsStore.run_times`) gives the sweep's
    name, the title unless ``title`` is given, and when the runs finished. ``folder`` is the
    results folder: its stored time-to-target ``target`` (unless ``target`` is given) and its
    ``tuning.json`` (the tuning section) are read from there. Tuning trials among ``outcomes``
    (validation-split runs) are in no table or figure; the tuning section counts them."""
    from aimc_plugins.report import grid

    out.mkdir(parents=True, exist_ok=True)
    extras = report_extras(outcomes, metric, higher_is_better, folder, target)
    every_run, outcomes = list(outcomes), result_runs(outcomes)
    rows = summarize(outcomes, metric, higher_is_better)
    info = describe(outcomes, run_times, title, metric, higher_is_better)
    shown = metric.replace("_", " ")
    bars = plots.plot_final_bars(rows, out / "final_metric.png")
    grids = [(g, grid.plot_grid(g, out)) for g in grid.grids(outcomes, metric)]
    curves = plots.plot_learning_curves(outcomes, metric, out / "learning_curves.png")
    responses = plots.plot_responses(outcomes, out / "responses.png")
    reach_images: list[tuple[str, Path, str]] = []
    if extras.target is not None and extras.reach is not None:
        reach_images.append(
            (
                f"Runs at the target, {shown} {extras.target.value:.4g}",
                ttt.plot_reach(extras.reach, extras.target, out / "time_to_target.png"),
                f"Target: {extras.target.how}. Per row (one panel per optimizer), the share of "
                "its runs that have reached the target against the training samples seen (or "
                "epochs, where a recipe records no samples): early and up to 1 is fast and "
                "reliable; a line that stays at 0 never got there.",
            )
        )
    if extras.tuning is not None and tuning.has_sensitivity(extras.tuning):
        sensitivity = tuning.plot_sensitivity(extras.tuning, out / "tuning_sensitivity.png")
        extras = replace(extras, sensitivity=sensitivity)
    images: list[tuple[str, Path, str]] = [
        (
            f"Final {shown} (error bars: 95% CI of the mean)",
            bars,
            "Bars: mean over seeds, ranked; the letters in brackets are the groups of the "
            f"table (rows sharing a letter are not separated). Intervals: "
            f"{interval_method(metric)}.",
        ),
        *reach_images,
        *(
            (
                f"Final {shown} against {g.parameter}, per optimizer",
                image,
                "One panel per optimizer, one line per device family (and the settings of its "
                "other parameters that differ between its lines); points: mean over seeds, "
                "error bars: 95% CI of the mean; dashed: the floating-point baseline with its "
                "interval shaded.",
            )
            for g, image in grids
        ),
        (
            "Learning curves per optimizer",
            curves,
            "Mean over seeds, band: ± one standard deviation; dashed: the floating-point baseline.",
        ),
        (
            "Device responses",
            responses,
            f"{plots.NORMALISATION[0].upper()}{plots.NORMALISATION[1:]}. Dashed vertical line: "
            "the stable symmetric point w*, where q+(w*) = q-(w*) and Analog SGD drifts; dotted: "
            "an unstable one; shaded: a span where q+ = q- (no single w*). Each panel names "
            "where its curve comes from.",
        ),
    ]
    figures = [(caption, image) for caption, image, _ in images]
    pngs = [image for _, image in figures]
    if extras.sensitivity is not None:
        pngs.append(extras.sensitivity)
    return [
        write_csv(rows, out / "results.csv", extras.reach),
        write_markdown(
            rows,
            out / "results.md",
            f"{info.title}: {metric}",
            run_notes(outcomes),
            info,
            figures,
            extras,
        ),
        *pngs,
        *(svg_of(png) for png in pngs),
        write_runs_json(every_run, out / "runs.json"),
        write_html(rows, outcomes, images, out / "report.html", info.title, info, extras),
    ]


def ranking_metric(outcomes: Sequence[RunOutcome]) -> tuple[str, bool]:
    """The metric (and its direction) of the recipe most of the runs used."""
    from aimc_plugins.host import plugins

    recipes = Counter(o.run.recipe for o in outcomes)
    if recipes:
        record = plugins.recipes().get(recipes.most_common(1)[0][0])
        if record is not None:
            return record.metric, record.higher_is_better
    return "test_accuracy", True
