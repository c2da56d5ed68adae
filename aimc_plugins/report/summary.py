"""Tables and the report page from a comparison's outcomes: what a researcher puts in a paper.

:func:`write_report` writes, into one folder: ``results.csv`` and ``results.md`` (ranked, n,
mean ± std and the 95% confidence interval of the mean over seeds per device x optimizer, with
letter groups that say which rows the seeds cannot tell apart, and the same in words: which rows
the best is separated from), ``final_metric``, ``learning_curves`` and ``responses`` (the
compared devices' response curves, normalised alike, symmetric points marked) as PNG and SVG,
``metric_vs_<param>`` when the sweep varied a device parameter (:mod:`.grid`),
``metric_vs_pulses`` where the runs' pulses were counted (:mod:`.pulse_plots`; the table then
has a pulses column and the page a device-cost section, :mod:`.device_cost`), ``runs.json``
(every run, for later analysis) and ``report.html``, one self-contained page with all of it and
what was run (:mod:`.provenance`): images embedded as base64, nothing loaded from outside the
file, so it can be mailed or attached as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from aimc_plugins.report import plots, pulse_plots, tuning
from aimc_plugins.report import time_to_target as ttt
from aimc_plugins.report.convergence import row_plateaus, unstable_rows
from aimc_plugins.report.device_cost import row_costs
from aimc_plugins.report.figures import svg_of
from aimc_plugins.report.page import (
    provenance_html,
    target_html,
    tuning_section_html,
    write_html,
)
from aimc_plugins.report.provenance import RunTimes, describe
from aimc_plugins.report.ranking import (
    NO_INTERVAL,
    Row,
    group_letter,
    letter_groups,
    letters_explained,
    ranking_metric,
    separated,
    separation_note,
    separation_summary,
    summarize,
)
from aimc_plugins.report.splits import result_runs, trial_runs
from aimc_plugins.report.stats import interval_method, mean_interval, t_quantile_975
from aimc_plugins.report.theory import TheorySection, build_section
from aimc_plugins.report.theory_page import FIGURE_NAME, plot_theory
from aimc_plugins.report.writers import (
    CSV_COLUMNS,
    TARGET_COLUMN,
    TARGET_CSV_COLUMNS,
    Extras,
    markdown_table,
    provenance_markdown,
    run_notes,
    table_notes,
    target_markdown,
    untuned_trials_note,
    write_csv,
    write_markdown,
    write_runs_json,
)
from aimc_plugins.sweep.convergence import read_record
from aimc_plugins.training.run import RunOutcome

# This module was split into ranking, writers and page; their names stay readable here, where
# plugins, scripts and the tests read them (and a test replaces write_report here).
__all__ = [
    "CSV_COLUMNS",
    "NO_INTERVAL",
    "TARGET_COLUMN",
    "TARGET_CSV_COLUMNS",
    "Extras",
    "Row",
    "group_letter",
    "letter_groups",
    "letters_explained",
    "markdown_table",
    "mean_interval",
    "provenance_html",
    "provenance_markdown",
    "ranking_metric",
    "report_extras",
    "run_notes",
    "separated",
    "separation_note",
    "separation_summary",
    "summarize",
    "t_quantile_975",
    "table_notes",
    "target_html",
    "target_markdown",
    "tuning_section_html",
    "untuned_trials_note",
    "write_csv",
    "write_html",
    "write_markdown",
    "write_report",
    "write_runs_json",
]


def report_extras(
    outcomes: Sequence[RunOutcome],
    metric: str,
    higher_is_better: bool = True,
    folder: Path | None = None,
    target: float | None = None,
) -> Extras:
    """Time to target, tuning and each row's device cost for a report of ``outcomes`` (trials
    included: they are counted, not ranked). The target is ``target`` if given, else the one
    stored in ``folder``'s results store, else a fraction of the digital baseline
    (:func:`~.time_to_target.choose_target`); the tuning record is ``folder/tuning.json``; the
    costs are :func:`~.device_cost.row_costs`."""
    results = result_runs(outcomes)
    explicit = target if target is not None else ttt.explicit_target(folder)
    chosen, why = ttt.choose_target(results, metric, higher_is_better, explicit)
    tuned = tuning.read_tuning(folder)
    record = read_record(folder)
    return Extras(
        target=chosen,
        target_why=why,
        reach=ttt.reaches(results, chosen) if chosen is not None else None,
        tuning=tuned,
        n_trial_runs=len(trial_runs(outcomes)),
        plateaus=row_plateaus(results, metric, higher_is_better, record),
        unstable=frozenset(unstable_rows(results, metric, tuned)),
        costs=row_costs(results),
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
    theory: TheorySection | None = None,
    extras: Extras | None = None,
) -> list[Path]:
    """Every table and figure of a comparison, into ``out``; returns the paths written.

    ``run_times`` (:meth:`~aimc_plugins.sweep.store.ResultsStore.run_times`) gives the sweep's
    name, the title unless ``title`` is given, and when the runs finished. ``folder`` is the
    results folder: its stored time-to-target ``target`` (unless ``target`` is given) and its
    ``tuning.json`` (the tuning section) are read from there. Tuning trials among ``outcomes``
    (validation-split runs) are in no table or figure; the tuning section counts them.
    ``theory`` is the theory-vs-measurement section when the caller has built it already
    (:func:`~.theory.build_section`); otherwise it is built here where it applies. ``extras``
    likewise (:func:`report_extras` of the same arguments), for a caller that needs them too."""
    from aimc_plugins.report import grid

    out.mkdir(parents=True, exist_ok=True)
    extras = extras or report_extras(outcomes, metric, higher_is_better, folder, target)
    every_run, outcomes = list(outcomes), result_runs(outcomes)
    rows = summarize(
        outcomes, metric, higher_is_better, plateaus=extras.plateaus, unstable=extras.unstable
    )
    info = describe(outcomes, run_times, title, metric, higher_is_better)
    shown = metric.replace("_", " ")
    bars = plots.plot_final_bars(rows, out / "final_metric.png")
    grids = [(g, grid.plot_grid(g, out)) for g in grid.grids(outcomes, metric)]
    curves = plots.plot_learning_curves(
        outcomes, metric, out / "learning_curves.png", extras.plateaus
    )
    responses = plots.plot_responses(outcomes, out / "responses.png")
    pulse_images: list[tuple[str, Path, str]] = []
    if pulse_plots.has_epoch_pulses(outcomes, metric):
        target_value = extras.target.value if extras.target is not None else None
        pulse_images.append(
            (
                f"{shown[0].upper()}{shown[1:]} against the pulses fired",
                pulse_plots.plot_metric_vs_pulses(
                    outcomes, metric, out / pulse_plots.FIGURE_NAME, target_value
                ),
                pulse_plots.NOTE,
            )
        )
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
    theory = theory or build_section(outcomes, rows, metric, higher_is_better)
    if theory is not None:
        extras = replace(
            extras, theory=theory, theory_figure=plot_theory(theory, out / FIGURE_NAME)
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
            "Mean over seeds, band: ± one standard deviation; dashed: the floating-point "
            "baseline. A vertical tick marks the epoch where a row stopped improving (on its "
            "validation curve when it trained to convergence); a row still improving at the cap "
            "says so in the legend.",
        ),
        *pulse_images,
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
    if extras.theory_figure is not None:
        pngs.append(extras.theory_figure)
    return [
        write_csv(rows, out / "results.csv", extras.reach),
        write_markdown(
            rows,
            out / "results.md",
            f"{info.title}: {metric}",
            table_notes(rows, outcomes),
            info,
            figures,
            extras,
        ),
        *pngs,
        *(svg_of(png) for png in pngs),
        write_runs_json(every_run, out / "runs.json"),
        write_html(rows, outcomes, images, out / "report.html", info.title, info, extras),
    ]
