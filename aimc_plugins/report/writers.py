"""The comparison's tables as files: ``results.csv`` (ranked rows and, with a target, time to
target), ``results.md`` (the ranked table, notes under it, time to target, what training cost
the devices, how each row was tuned, what was run) and ``runs.json`` (every run, for later
analysis).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aimc_plugins.report import time_to_target as ttt
from aimc_plugins.report import tuning
from aimc_plugins.report.convergence import flag_notes
from aimc_plugins.report.device_cost import NO_DEVICE, NOT_COUNTED, RowCost, cost_markdown
from aimc_plugins.report.figures import svg_of
from aimc_plugins.report.provenance import CONFIGURATION_HEAD, Provenance
from aimc_plugins.report.ranking import (
    Row,
    separation_note,
    separation_summary,
)
from aimc_plugins.report.splits import result_runs
from aimc_plugins.report.theory import TheorySection
from aimc_plugins.report.theory_page import theory_markdown
from aimc_plugins.report.time_to_target import RowReach, Target
from aimc_plugins.report.tuning import TUNING_FILE
from aimc_plugins.report.versions import version_notes
from aimc_plugins.sweep.convergence import Plateau
from aimc_plugins.training.run import FAILED, RunOutcome

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
    "converged",
    "stop_epoch",
    "cap_epochs",
    "convergence_source",
    "seed_unstable",
    "pulses",
    "pulses_device_max",
    "energy_j",
)


TARGET_CSV_COLUMNS = (
    "epochs_to_target",
    "samples_to_target",
    "time_to_target_s",
    "pulses_to_target",
    "n_reached",
    "n_target_runs",
)


def write_csv(
    rows: Sequence[Row], path: Path, reach: dict[tuple[str, str], RowReach] | None = None
) -> Path:
    """The table for further analysis: std, ci_low and ci_high are ``nan`` where one finished
    run gives no spread, and ``group`` / ``tied_for_best`` carry the separation marks. With
    ``reach``, the time-to-target medians follow (``inf``: not reached, ``nan``: not
    recorded or, for pulses, not counted). ``pulses``, ``pulses_device_max`` and ``energy_j``
    are empty where a row's pulses were not counted (or it has no device)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS + (TARGET_CSV_COLUMNS if reach is not None else ()))
        for rank, row in enumerate(rows, 1):
            values = asdict(row)
            cells: list[Any] = [rank, *(values[c] for c in CSV_COLUMNS[1:])]
            if reach is not None:
                found = reach.get((row.device, row.optimizer))
                if found is None:
                    cells += [math.nan, math.nan, math.nan, math.nan, 0, 0]
                else:
                    cells += [found.epochs, found.samples, found.time_s, found.pulses]
                    cells += [found.n_reached, found.n_runs]
            writer.writerow(cells)
    return path


def cost_columns(rows: Sequence[Row]) -> tuple[bool, bool]:
    """(pulses, energy): whether the ranked table shows a pulses column (some row's pulses were
    counted) and an energy column (some row's device declares energy). One column each and no
    more, so the table stays readable: the breakdown is the device-cost section's."""
    return any(r.pulses is not None for r in rows), any(r.energy_j is not None for r in rows)


def table_cells(
    rank: int,
    row: Row,
    reach: dict[tuple[str, str], RowReach] | None = None,
    *,
    pulses: bool = False,
    energy: bool = False,
) -> tuple[str, ...]:
    """The cells of one row, shared by the markdown and HTML tables so they never disagree;
    with ``pulses`` / ``energy`` (:func:`cost_columns`) the row's mean pulses and energy, and
    with ``reach`` (time to target per row) a last cell says how soon the row got there."""
    extra: tuple[str, ...] = ()
    if pulses:
        extra += (row.formatted_pulses(),)
    if energy:
        extra += (row.formatted_energy(),)
    if reach is not None:
        found = reach.get((row.device, row.optimizer))
        extra += (found.formatted() if found is not None else "—",)
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
        row.formatted_convergence(),
        *extra,
    )


TARGET_COLUMN = "epochs to target (median; runs reached)"
CONVERGENCE_COLUMN = "converged"
PULSES_COLUMN = "pulses"
ENERGY_COLUMN = "energy (J)"


def table_head(
    metric: str, with_target: bool = False, *, pulses: bool = False, energy: bool = False
) -> tuple[str, ...]:
    """The column headings matching :func:`table_cells`, shared by the markdown table here and
    the HTML table of :mod:`aimc_plugins.report.page` so the two never disagree; with
    ``pulses`` / ``energy`` the device's cost, with ``with_target`` a last column for time to
    target."""
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
        CONVERGENCE_COLUMN,
        *((PULSES_COLUMN,) if pulses else ()),
        *((ENERGY_COLUMN,) if energy else ()),
        *((TARGET_COLUMN,) if with_target else ()),
    )


def cost_key(rows: Sequence[Row]) -> str:
    """The footnote of the table's pulses column ("" without one): what the numbers are and
    what its marks mean."""
    pulses, energy = cost_columns(rows)
    if not pulses:
        return ""
    marks = []
    if any(r.pulses is None and r.pulses_note for r in rows):
        marks.append(
            f"{NOT_COUNTED}: not counted (aihwkit's compiled compounds write inside the C++ "
            "core; see Device cost)"
        )
    if any(r.formatted_pulses() == NO_DEVICE for r in rows):
        marks.append(
            f"{NO_DEVICE}: no pulses recorded (the digital baseline, or runs whose counting was "
            "switched off)"
        )
    text = (
        "*pulses*: the mean over seeds of the pulses each run fired on its devices (up + down, "
        "every analog array; expected values of aihwkit's stochastic pulse trains)"
    )
    if energy:
        text += "; *energy*: what they cost, where the device declares energy per pulse"
    return text + (". " + "; ".join(marks) if marks else "") + "."


def markdown_table(
    rows: Sequence[Row], reach: dict[tuple[str, str], RowReach] | None = None
) -> str:
    """The ranked table with the note on its intervals and groups under it; with ``reach``
    (:func:`~.time_to_target.reaches`) a column of epochs to target, and where some row's
    pulses were counted a pulses column (:func:`cost_columns`) with its footnote."""
    if not rows:
        return "(no runs)\n"
    pulses, energy = cost_columns(rows)
    align = "|---:|---|---|---|---:|---:|---:|---|---:|---:|---:|---|"
    align += "---:|" * (pulses + energy) + ("---|" if reach is not None else "")
    head = table_head(rows[0].metric, reach is not None, pulses=pulses, energy=energy)
    lines = ["| " + " | ".join(head) + " |", align]
    lines += [
        "| " + " | ".join(table_cells(i, r, reach, pulses=pulses, energy=energy)) + " |"
        for i, r in enumerate(rows, 1)
    ]
    key = cost_key(rows)
    note = separation_note(rows[0].metric) + (f"\n\n{key}" if key else "")
    return "\n".join(lines) + "\n\n" + note + "\n"


def run_notes(outcomes: Sequence[RunOutcome]) -> list[str]:
    """What a reader must know besides the numbers: each configuration's notes (a transfer
    schedule too slow for the budget, ...) once, how many runs do not repeat from their seed
    (``versions["deterministic"]``, written by :func:`aimc_plugins.training.run.run_one`), and
    the aihwkit versions behind the table where they matter (:func:`version_notes`: a table
    mixing versions, presets whose defaults changed between versions)."""
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
    return lines + version_notes(outcomes)


def table_notes(rows: Sequence[Row], outcomes: Sequence[RunOutcome]) -> list[str]:
    """The notes under a ranked table: its flagged rows first (still improving at the cap,
    seeds that disagree: :func:`~.convergence.flag_notes`), then :func:`run_notes`. The
    markdown, the HTML page and ``Report.notes`` all show these."""
    return [*flag_notes(rows), *run_notes(outcomes)]


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
    target, or why there is none, and each row's reach), how the rows were tuned (the
    tuner's record, the number of trial runs in the store, the sensitivity figure), and what
    the theory predicted of the devices (:mod:`.theory`, with its scatter figure), and what
    training cost the devices (:mod:`.device_cost`, per row)."""

    target: Target | None = None
    target_why: str = ""
    reach: dict[tuple[str, str], RowReach] | None = None
    tuning: dict[str, Any] | None = None
    n_trial_runs: int = 0
    sensitivity: Path | None = None
    theory: TheorySection | None = None
    theory_figure: Path | None = None
    # Per row (device, optimizer): whether it converged, and which rows' seeds disagree
    # (aimc_plugins.report.convergence).
    plateaus: dict[tuple[str, str], Plateau] | None = None
    unstable: frozenset[tuple[str, str]] = frozenset()
    costs: dict[tuple[str, str], RowCost] | None = None


def target_markdown(rows: Sequence[Row], extras: Extras) -> str:
    """The time-to-target section: the target and how it was chosen, the rule, the table."""
    if extras.target is None or extras.reach is None:
        return f"## Time to target\n\n{extras.target_why}\n" if extras.target_why else ""
    with_pulses = ttt.has_pulses(extras.reach)
    cells = ttt.detail_rows(rows, extras.reach, with_pulses)
    head = ttt.detail_head(with_pulses)
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
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
    to target and what training cost the devices), the notes, what was run (with how each
    row was tuned) and the figures (as the SVGs beside it, for a paper or a slide), and the
    theory's predictions where ``extras`` carry them."""
    extras = extras or Extras()
    text = f"# {title}\n\n{markdown_table(rows, extras.reach)}"
    summary = separation_summary(rows)
    if summary:
        text += "\n" + "".join(f"- {line}\n" for line in summary)
    section = target_markdown(rows, extras)
    if section:
        text += "\n" + section
    if extras.theory is not None:
        figure = svg_of(extras.theory_figure).name if extras.theory_figure else None
        text += "\n" + theory_markdown(extras.theory, figure)
    cost = cost_markdown(extras.costs, rows) if extras.costs else ""
    if cost:
        text += "\n" + cost
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
