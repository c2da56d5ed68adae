"""Tables and the report page from a comparison's outcomes: what a researcher puts in a paper.

:func:`write_report` writes, into one folder: ``results.csv`` and ``results.md`` (ranked, n,
mean ± std and the 95% confidence interval of the mean over seeds per device x optimizer, with
letter groups that say which rows the seeds cannot tell apart), ``learning_curves.png`` (a
panel per optimizer), ``final_metric.png`` (bars with 95% intervals, aihwkit presets beside
plugin devices), ``responses.png`` (the compared devices' response curves), ``runs.json`` (every
run, for later analysis) and ``report.html``, one self-contained page with all of it (images
embedded as base64, so it can be mailed or attached as it is).
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from aimc_plugins.report import plots
from aimc_plugins.training.run import DIVERGED, DONE, FAILED, RunOutcome

# Student's t quantile t(0.975, df) for df = 1..30 (two-sided 95%), to four decimals. A table
# instead of scipy keeps the report free of a heavy import for the few values a sweep needs.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959963984540054

NO_INTERVAL = "n=1, no interval"


def t_quantile_975(df: int) -> float:
    """t(0.975, df): the factor a 95% interval of a mean of ``df + 1`` values puts on its
    standard error. Tabled up to 30 degrees of freedom; beyond, the Cornish-Fisher expansion
    around the normal quantile, which is within 1e-4 of the exact value there."""
    if df < 1:
        raise ValueError(f"a t quantile needs at least 1 degree of freedom, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z, v = _Z975, float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def mean_interval(values: Sequence[float]) -> tuple[float, float, float, float]:
    """(mean, std, ci_low, ci_high) of ``values``: sample standard deviation and the 95%
    confidence interval of the mean, Student t with n - 1 degrees of freedom, because a
    handful of seeds is far too few for the normal approximation. With one value there is no
    spread to estimate: std and the interval are NaN (not 0, which would claim certainty)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    std = statistics.stdev(values)
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


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
    ``n_runs`` but not in the mean, so a configuration that only works on some seeds shows it."""
    groups: dict[tuple[str, str], list[RunOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.run.device, outcome.run.shown_optimizer)].append(outcome)
    rows = []
    for (device, optimizer), group in groups.items():
        values = [float(o.final[metric]) for o in group if o.status == DONE and metric in o.final]
        mean, std, ci_low, ci_high = mean_interval(values)
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
                plots.device_kind(first.device_name or first.device, first.optimizer),
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


SEPARATION_NOTE = (
    "Rows that share a letter in *group* have overlapping 95% confidence intervals of the mean "
    "(Student t, n-1 degrees of freedom), so the seeds do not separate them and their order is "
    "not a ranking; rows not separated from the best are marked *tied for best*, and a row with "
    "one finished run has no interval and is separated from none."
)


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


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    """The table for further analysis: std, ci_low and ci_high are ``nan`` where one finished
    run gives no spread, and ``group`` / ``tied_for_best`` carry the separation marks."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for rank, row in enumerate(rows, 1):
            values = asdict(row)
            writer.writerow([rank, *(values[c] for c in CSV_COLUMNS[1:])])
    return path


def _table_cells(rank: int, row: Row) -> tuple[str, ...]:
    """The cells of one row, shared by the markdown and HTML tables so they never disagree."""
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
    )


def _table_head(metric: str) -> tuple[str, ...]:
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
    )


def markdown_table(rows: Sequence[Row]) -> str:
    """The ranked table with the one-sentence note on how to read its groups under it."""
    if not rows:
        return "(no runs)\n"
    lines = [
        "| " + " | ".join(_table_head(rows[0].metric)) + " |",
        "|---:|---|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(_table_cells(i, r)) + " |" for i, r in enumerate(rows, 1)]
    return "\n".join(lines) + "\n\n" + SEPARATION_NOTE + "\n"


def run_notes(outcomes: Sequence[RunOutcome]) -> list[str]:
    """What a reader must know besides the numbers: each configuration's notes (a transfer
    schedule too slow for the budget, ...) once, and how many runs do not repeat from their
    seed (``versions["deterministic"]``, written by :func:`aimc_plugins.training.run.run_one`)."""
    notes: dict[str, list[str]] = defaultdict(list)
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


def write_markdown(
    rows: Sequence[Row], path: Path, title: str = "Comparison", notes: Sequence[str] = ()
) -> Path:
    text = f"# {title}\n\n{markdown_table(rows)}"
    if notes:
        text += "\nNotes:\n\n" + "".join(f"- {note}\n" for note in notes)
    path.write_text(text)
    return path


def write_runs_json(outcomes: Sequence[RunOutcome], path: Path) -> Path:
    """Every run with its id, configuration, status, versions and per-epoch history."""
    records = [{"run_id": o.run.run_id, **asdict(o)} for o in outcomes]
    path.write_text(json.dumps(records, indent=1, default=str))
    return path


def _html_table(rows: Sequence[Row]) -> str:
    head = "".join(
        f"<th>{html.escape(h)}</th>" for h in _table_head(rows[0].metric if rows else "")
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in _table_cells(rank, row))
        + "</tr>"
        for rank, row in enumerate(rows, 1)
    )
    note = html.escape(SEPARATION_NOTE).replace("*", "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><p>{note}</p>"


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
    recipes = ", ".join(sorted({o.run.recipe for o in outcomes}))
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
    }, mean ± standard deviation over seeds and the 95% confidence interval of the mean
(failed and diverged runs counted apart).</p>
{_html_table(rows)}
{_notes_html(run_notes(outcomes))}
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
        (f"Final {metric.replace('_', ' ')} (error bars: 95% CI of the mean)", bars),
        ("Learning curves per optimizer", curves),
        ("Device responses", responses),
    ]
    return [
        write_csv(rows, out / "results.csv"),
        write_markdown(rows, out / "results.md", f"{title}: {metric}", run_notes(outcomes)),
        curves,
        bars,
        responses,
        write_runs_json(outcomes, out / "runs.json"),
        write_html(rows, outcomes, images, out / "report.html", title),
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
