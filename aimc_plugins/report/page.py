"""The report page: ``report.html``, one self-contained file with the ranked table, the notes,
time to target, what training cost the devices, the figures (embedded as base64, nothing loaded
from outside the file, so it can be mailed or attached as it is), the failed runs, what was run
and how each row was tuned.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path

from aimc_plugins.report import time_to_target as ttt
from aimc_plugins.report import tuning
from aimc_plugins.report.device_cost import cost_html
from aimc_plugins.report.figures import PNG_DPI, svg_of
from aimc_plugins.report.provenance import CONFIGURATION_HEAD, Provenance, describe
from aimc_plugins.report.ranking import (
    Row,
    letters_explained,
    separated,
    separation_summary,
)
from aimc_plugins.report.splits import result_runs
from aimc_plugins.report.stats import interval_method
from aimc_plugins.report.theory_page import FIGURE_NOTE, TITLE, theory_html
from aimc_plugins.report.time_to_target import RowReach
from aimc_plugins.report.writers import (
    Extras,
    cost_columns,
    cost_key,
    table_cells,
    table_head,
    table_notes,
    untuned_trials_note,
)
from aimc_plugins.training.run import DONE, RunOutcome


def _html_table(rows: Sequence[Row], reach: dict[tuple[str, str], RowReach] | None = None) -> str:
    metric = rows[0].metric if rows else ""
    pulses, energy = cost_columns(rows)
    head = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in table_head(metric, reach is not None, pulses=pulses, energy=energy)
    )
    best = next((r for r in rows if not math.isnan(r.mean)), None)

    def row_class(row: Row) -> str:
        if best is None or row is best:
            return "best" if row is best else ""
        if separated(row, best):
            return "separated"
        return "tied" if row.has_interval else ""

    body = "".join(
        f"<tr class='{row_class(row)}'>"
        + "".join(
            f"<td>{html.escape(cell)}</td>"
            for cell in table_cells(rank, row, reach, pulses=pulses, energy=energy)
        )
        + "</tr>"
        for rank, row in enumerate(rows, 1)
    )
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in separation_summary(rows))
    key = cost_key(rows).replace("*", "")
    return (
        f"<table class='results'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "<p class='key'>Bold: the best row and the rows not separated from it; grey: rows the "
        "best is separated from.</p>"
        + (f"<p class='key'>{html.escape(key)}</p>" if key else "")
        + f"<ul class='separation'>{summary}</ul>"
        f"<p>{html.escape(letters_explained(metric))}</p>"
    )


def target_html(rows: Sequence[Row], extras: Extras) -> str:
    """The time-to-target section of the page (or why there is none)."""
    if extras.target is None or extras.reach is None:
        if not extras.target_why:
            return ""
        return f"<h2>Time to target</h2><p>{html.escape(extras.target_why)}</p>"
    with_pulses = ttt.has_pulses(extras.reach)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ttt.detail_head(with_pulses))
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        for cells in ttt.detail_rows(rows, extras.reach, with_pulses)
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


def theory_section_html(extras: Extras) -> str:
    """The theory-vs-measurement section with its scatter figure embedded (empty without)."""
    if extras.theory is None:
        return ""
    figure = ""
    if extras.theory_figure is not None:
        figure = _figures_html([(TITLE, extras.theory_figure, FIGURE_NOTE)], heading="h4")
    return theory_html(extras.theory, figure)


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
    (caption, PNG) or (caption, PNG, note) pairs; ``extras`` adds time to target, what
    training cost the devices, the theory's predictions and how the rows were tuned. Tuning
    trials (validation-split runs) are counted in that section only."""
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
{theory_section_html(extras)}
{cost_html(extras.costs, rows) if extras.costs else ""}
{_notes_html(table_notes(rows, outcomes))}
{_figures_html(images)}
{_problems(outcomes)}
{provenance_html(info)}
{tuning_section_html(extras)}
</body></html>
"""
    path.write_text(page)
    return path
