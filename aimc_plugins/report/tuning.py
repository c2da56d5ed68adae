"""How each row was tuned: the section of a report on a tuned comparison, read from the
``tuning.json`` the tuner writes beside ``results.sqlite``.

A ranking is only as fair as the tuning behind each row, so the report states it: the budget
(trials x epochs, the training time they took), the validation split the settings were chosen
on, the sampler and the pruner, the search space per optimizer and the chosen setting of every
row with its validation value; and a sensitivity figure (the validation metric against each
tuned parameter, per optimizer), where an algorithm whose metric collapses a little away from
its best setting shows as fragile. A comparison without ``tuning.json`` was not tuned and gets
no section.

The file's shape (written by the tuner, read only here)::

    {"metric": "val_accuracy", "higher_is_better": true, "validation": "...",
     "trials_per_row": 8, "seed": 0, "sampler": "...", "pruner": "...", "epochs": 5,
     "rows": [{"row": "D / O", "device": "D", "optimizer": "O",
               "space": {"lr": {"low": 0.01, "high": 1.0, "log": true}}, "fixed": {...},
               "chosen": {"lr": 0.31} | null, "chosen_value": 0.83,
               "trials": [{"number": 0, "params": {...}, "state": "complete|pruned|running",
                           "epochs": 5, "value": 0.80, "run_ids": [...]}],
               "epochs_trained": 26, "train_time_s": 123.4}],
     "budget": {"trials": 80, "epochs_trained": 260, "train_time_s": 2400.0}}

A trial's ``value`` is the validation metric at the last rung it trained to (``epochs``).
"""

from __future__ import annotations

import html
import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aimc_plugins.report.figures import save, style
from aimc_plugins.report.tables import html_table, md_table
from aimc_plugins.report.time_to_target import duration_text
from aimc_plugins.sweep.tuner import SUMMARY_NAME

TUNING_FILE = SUMMARY_NAME  # what the tuner writes beside results.sqlite
COMPLETE, PRUNED, RUNNING = "complete", "pruned", "running"
SECTION = "How each row was tuned"


class TuningFileError(ValueError):
    """A ``tuning.json`` that is not what the tuner writes."""


def read_tuning(folder: Path | None) -> dict[str, Any] | None:
    """``folder/tuning.json`` as data, or None when the comparison was not tuned (no file).
    Raises :class:`TuningFileError` for a file that is not a tuning record, since a report that
    silently dropped the section would hide how its rows were tuned."""
    if folder is None:
        return None
    path = Path(folder) / TUNING_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise TuningFileError(f"{path} cannot be read as JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise TuningFileError(f"{path} is not a tuning record: it has no list of rows")
    return data


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _value(value: Any) -> str:
    number = _number(value)
    return f"{number:.4g}" if number is not None else str(value)


def _setting(params: Mapping[str, Any] | None) -> str:
    if params is None:
        return "none (every trial failed)"
    return ", ".join(f"{k}={_value(v)}" for k, v in params.items()) or "defaults"


def _range(spec: Any) -> str:
    """``[0.01, 1] (log)``, ``one of a, b``: a search range in words."""
    if isinstance(spec, Mapping):
        if "choices" in spec:
            return "one of " + ", ".join(_value(c) for c in spec["choices"])
        low, high = spec.get("low"), spec.get("high")
        scale = " (log)" if spec.get("log") else ""
        step = f", step {_value(spec['step'])}" if spec.get("step") else ""
        return f"[{_value(low)}, {_value(high)}]{scale}{step}"
    return str(spec)


def _states(row: Mapping[str, Any]) -> dict[str, int]:
    counts = {COMPLETE: 0, PRUNED: 0, "other": 0}
    for trial in row.get("trials", []):
        state = trial.get("state")
        counts[state if state in (COMPLETE, PRUNED) else "other"] += 1
    return counts


def _direction(tuning: Mapping[str, Any]) -> str:
    return "higher is better" if tuning.get("higher_is_better", True) else "lower is better"


def settings(tuning: Mapping[str, Any], n_trial_runs: int | None = None) -> list[tuple[str, str]]:
    """The section's key facts as (name, value) pairs: what was selected on, the budget, the
    sampler and pruner, and the trial runs of the store (``n_trial_runs``) it accounts for."""
    budget = tuning.get("budget", {})
    rows = tuning.get("rows", [])
    per_row = tuning.get("trials_per_row")
    trials = budget.get("trials", sum(len(r.get("trials", [])) for r in rows))
    epochs = tuning.get("epochs")
    budget_text = (
        f"{per_row} trials per row x {len(rows)} rows = {trials} trials of up to {epochs} epochs; "
        f"{budget.get('epochs_trained', '?')} epochs trained, "
        f"{duration_text(float(budget.get('train_time_s', math.nan)))} of training"
    )
    pairs = [
        (
            "selected on",
            f"{tuning.get('metric', '?')} ({_direction(tuning)}), at each trial's last rung",
        ),
        ("validation split", str(tuning.get("validation", "not recorded"))),
        ("budget (equal per row)", budget_text),
        ("sampler", str(tuning.get("sampler", "not recorded"))),
        ("pruner", str(tuning.get("pruner", "not recorded"))),
        ("seed", str(tuning.get("seed", "not recorded"))),
    ]
    if not n_trial_runs:  # a report of the results alone: count the trials tuning.json names
        n_trial_runs = len(
            {i for row in rows for trial in row.get("trials", []) for i in trial.get("run_ids", [])}
        )
    if n_trial_runs:
        pairs.append(
            (
                "trial runs",
                f"{n_trial_runs} runs on the validation split are stored with the results; "
                "they chose the settings and are in no table or figure of results, which come "
                "from each row's chosen setting run on the test split",
            )
        )
    return pairs


SPACE_HEAD = ("optimizer", "searched", "fixed", "rows")


def search_spaces(tuning: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """One line per optimizer and distinct search space (a spec may narrow it per row)."""
    seen: dict[tuple[str, str, str], int] = {}
    for row in tuning.get("rows", []):
        space = row.get("space", {})
        searched = "; ".join(f"{k} in {_range(v)}" for k, v in space.items()) or "nothing"
        fixed = _setting(row.get("fixed") or {}) if row.get("fixed") else "—"
        key = (str(row.get("optimizer", "?")), searched, fixed)
        seen[key] = seen.get(key, 0) + 1
    return [(*key, str(count)) for key, count in seen.items()]


def chosen_head(tuning: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        "row",
        "chosen setting",
        shown_metric(tuning),
        "trials complete / pruned / other",
        "epochs trained",
        "training time",
    )


def chosen_rows(tuning: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Per row: its chosen setting, that setting's validation value, its trials and cost."""
    lines: list[tuple[str, ...]] = []
    for row in tuning.get("rows", []):
        counts = _states(row)
        value = _number(row.get("chosen_value"))
        lines.append(
            (
                str(row.get("row", f"{row.get('device')} / {row.get('optimizer')}")),
                _setting(row.get("chosen")),
                "n/a" if value is None or row.get("chosen") is None else f"{value:.4f}",
                f"{counts[COMPLETE]} / {counts[PRUNED]} / {counts['other']}",
                str(row.get("epochs_trained", "?")),
                duration_text(float(row.get("train_time_s", math.nan))),
            )
        )
    return lines


def tied_notes(tuning: Mapping[str, Any]) -> list[str]:
    """One line per row whose trials, at some rung, all reached the same validation value: its
    choice there was made by the tie-break alone, and the reader should know it."""
    notes = []
    for row in tuning.get("rows", []):
        levels = row.get("tied_rungs") or []
        if levels:
            name = str(row.get("row", f"{row.get('device')} / {row.get('optimizer')}"))
            which = ", ".join(str(level) for level in levels)
            notes.append(
                f"{name}: at rung {which} every trial reached the same "
                f"{shown_metric(tuning)}, so the metric did not choose (the validation loss "
                "did); its setting is a guess among equals, e.g. all at chance: give the first "
                "rung more epochs (min_epochs) or the row more trials."
            )
    return notes


EDGE = 0.08
"""A chosen value within this fraction of its range (on the range's own scale) from a bound is
"at the edge": the best setting may lie outside the space, so the row may be under-tuned."""


def edge_position(value: float, spec: Mapping[str, Any]) -> float | None:
    """Where ``value`` lies in a numeric search range, 0 at ``low`` and 1 at ``high`` (on a log
    scale for a log range); ``None`` for a categorical or degenerate range."""
    low, high = _number(spec.get("low")), _number(spec.get("high"))
    if low is None or high is None or high <= low or "choices" in spec:
        return None
    if spec.get("log"):
        if low <= 0 or value <= 0:
            return None
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def valid_limit(optimizer: str, parameter: str, side: str) -> float | None:
    """The registered optimizer's own bound of ``parameter`` on ``side`` (``lower`` or
    ``upper``), or ``None`` (no bound, or the optimizer is not installed here)."""
    from aimc_plugins.host import plugins

    record = plugins.optimizers().get(optimizer)
    params = {p.name: p for p in record.parameters} if record is not None else {}
    param = params.get(parameter)
    if param is None:
        return None
    bound = param.low if side == "lower" else param.high
    return None if bound is None else float(bound)


def edge_notes(tuning: Mapping[str, Any]) -> list[str]:
    """One line per row and parameter whose chosen value lies at the edge of its search space.

    Why: a row tuned over a space that is too narrow for it (a coarse device wanting a smaller
    rate than the default space offers) is compared at a setting the tuner could not improve,
    not at its best; the table then ranks the space, not the algorithm. Measured: on 10- and
    16-state devices four rows chose their rate at the lower bound of the default spaces
    (recipes/specs/limited-states.toml)."""
    notes = []
    for row in tuning.get("rows", []):
        chosen, space = row.get("chosen") or {}, row.get("space") or {}
        name = str(row.get("row", f"{row.get('device')} / {row.get('optimizer')}"))
        for parameter, spec in sorted(space.items()):
            value = _number(chosen.get(parameter))
            position = None if value is None else edge_position(value, spec)
            if position is None or EDGE < position < 1.0 - EDGE:
                continue
            side = "lower" if position <= EDGE else "upper"
            bound = spec.get("low") if side == "lower" else spec.get("high")
            limit = valid_limit(str(row.get("optimizer")), parameter, side)
            if limit is not None and _number(bound) == limit:
                advice = (
                    "that bound is the parameter's own limit, so the space cannot be widened "
                    "there: the row is as tuned as the parameter allows."
                )
            else:
                advice = (
                    "the best setting may lie beyond it, so the row may be under-tuned: widen "
                    f"[tune.space.{row.get('optimizer')}] and tune again."
                )
            notes.append(
                f"{name}: {parameter} = {_value(value)} was chosen at the {side} edge of its "
                f"space {_range(spec)}; {advice}"
            )
    return notes


SENSITIVITY_NOTE = (
    "Each point is one trial: its validation metric against the value it tried, one panel per "
    "optimizer and tuned parameter, one marker per device. Filled: the trial trained its full "
    "budget; hollow: pruned, drawn at the last rung it reached (fewer epochs, so lower than it "
    "would have ended); ringed: the chosen setting. A row whose points fall steeply away from "
    "its best is fragile: its result depends on finding a narrow setting."
)


def tuning_markdown(
    tuning: Mapping[str, Any], n_trial_runs: int | None = None, figure: str | None = None
) -> str:
    """The section as markdown; ``figure`` is the sensitivity figure's file name beside it."""
    text = f"### {SECTION}\n\n" + md_table(("", ""), settings(tuning, n_trial_runs))
    text += "\nSearch space per optimizer:\n\n" + md_table(SPACE_HEAD, search_spaces(tuning))
    text += "\nChosen setting per row:\n\n" + md_table(chosen_head(tuning), chosen_rows(tuning))
    tied, edges = tied_notes(tuning), edge_notes(tuning)
    if tied or edges:
        text += "\n" + "".join(f"- **Undecided:** {note}\n" for note in tied)
        text += "".join(f"- **At the edge:** {note}\n" for note in edges)
    if figure:
        text += f"\n![Sensitivity to the tuned parameters]({figure})\n\n{SENSITIVITY_NOTE}\n"
    return text


def tuning_html(
    tuning: Mapping[str, Any], n_trial_runs: int | None = None, figure_html: str = ""
) -> str:
    """The section as HTML; ``figure_html`` is the embedded sensitivity figure."""
    pairs = "".join(
        f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in settings(tuning, n_trial_runs)
    )
    return (
        f"<h3 id='tuning'>{SECTION}</h3><table class='pairs'>{pairs}</table>"
        "<h4>Search space per optimizer</h4>"
        + html_table(SPACE_HEAD, search_spaces(tuning), "tuning-space")
        + "<h4>Chosen setting per row</h4>"
        + html_table(chosen_head(tuning), chosen_rows(tuning), "tuning-chosen")
        + "".join(
            f"<p class='note'><strong>Undecided:</strong> {html.escape(n)}</p>"
            for n in tied_notes(tuning)
        )
        + "".join(
            f"<p class='note'><strong>At the edge:</strong> {html.escape(n)}</p>"
            for n in edge_notes(tuning)
        )
        + figure_html
    )


def _panels(tuning: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(optimizer, its tuned parameters) in the order the rows name them."""
    found: dict[str, dict[str, None]] = {}
    for row in tuning.get("rows", []):
        params = found.setdefault(str(row.get("optimizer", "?")), {})
        for name in row.get("space", {}):
            params.setdefault(name, None)
    return [(opt, list(params)) for opt, params in found.items() if params]


def _log_scale(tuning: Mapping[str, Any], optimizer: str, parameter: str) -> bool:
    return any(
        isinstance(spec := row.get("space", {}).get(parameter), Mapping) and bool(spec.get("log"))
        for row in tuning.get("rows", [])
        if row.get("optimizer") == optimizer
    )


def shown_metric(tuning: Mapping[str, Any]) -> str:
    """``val_accuracy`` as "validation accuracy" (``loss`` as "validation loss"): the name of
    the trials' metric in the section's table and on the figure's axis."""
    metric = str(tuning.get("metric", "metric")).removeprefix("val_")
    return "validation " + metric.replace("_", " ")


def has_sensitivity(tuning: Mapping[str, Any]) -> bool:
    """Whether there is anything to draw: a tuned parameter and a trial with a value."""
    return bool(_panels(tuning)) and any(
        _number(t.get("value")) is not None
        for row in tuning.get("rows", [])
        for t in row.get("trials", [])
    )


def sensitivity_figure(tuning: Mapping[str, Any]) -> Any:
    """The validation metric of every trial against each tuned parameter: a row of panels per
    optimizer, a panel per parameter (log x for a log range), a marker and colour per device;
    filled for trials that completed, hollow for pruned ones at their last rung, a black ring
    on the chosen setting (see :data:`SENSITIVITY_NOTE`)."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    panels = _panels(tuning) or [("(nothing tuned)", ["-"])]
    devices = list(dict.fromkeys(str(r.get("device", "?")) for r in tuning.get("rows", [])))
    colours = {d: f"C{i % 10}" for i, d in enumerate(devices)}
    markers = {d: "osD^v<>ph*"[i % 10] for i, d in enumerate(devices)}
    columns = max(len(params) for _, params in panels)
    metric = shown_metric(tuning)
    legend_rows = math.ceil((len(devices) + 3) / 3)
    with style() as plt:
        fig, axes = plt.subplots(
            len(panels),
            columns,
            figsize=(max(3.6 * columns, 7.5), 2.9 * len(panels) + 0.9 + 0.25 * legend_rows),
            squeeze=False,
            sharey=True,
            layout="constrained",
        )
        for (optimizer, params), axes_row in zip(panels, axes, strict=True):
            for ax, parameter in zip(axes_row, params, strict=False):
                categories: dict[str, int] = {}

                def position(value: Any, categories: dict[str, int] = categories) -> float:
                    number = _number(value)
                    if number is not None:
                        return number
                    return float(categories.setdefault(str(value), len(categories)))

                for row in tuning.get("rows", []):
                    if row.get("optimizer") != optimizer:
                        continue
                    device = str(row.get("device", "?"))
                    for trial in row.get("trials", []):
                        value = _number(trial.get("value"))
                        params_tried = trial.get("params", {})
                        if value is None or parameter not in params_tried:
                            continue
                        pruned = trial.get("state") != COMPLETE
                        ax.plot(
                            position(params_tried[parameter]),
                            value,
                            linestyle="none",
                            marker=markers[device],
                            markersize=6,
                            color=colours[device],
                            markerfacecolor="none" if pruned else colours[device],
                            alpha=0.85,
                        )
                    chosen = row.get("chosen") or {}
                    chosen_value = _number(row.get("chosen_value"))
                    if parameter in chosen and chosen_value is not None:
                        ax.plot(
                            position(chosen[parameter]),
                            chosen_value,
                            linestyle="none",
                            marker="o",
                            markersize=13,
                            markerfacecolor="none",
                            markeredgecolor="black",
                            markeredgewidth=1.3,
                        )
                if categories:
                    ax.set_xticks(list(categories.values()), list(categories))
                elif _log_scale(tuning, optimizer, parameter):
                    ax.set_xscale("log")
                    # 1, 2, 5 per decade as plain numbers (0.02, not 2 x 10^-2): readable on a
                    # range shorter than a decade, and no minor labels running into each other.
                    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                    ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_title(f"{optimizer}: {parameter}")
                ax.set_xlabel(parameter)
                ax.grid(alpha=0.3)
            for ax in axes_row[len(params) :]:
                ax.set_visible(False)
            axes_row[0].set_ylabel(metric)
        handles = [
            Line2D([], [], linestyle="none", marker=markers[d], color=colours[d], label=d)
            for d in devices
        ]
        handles += [
            Line2D([], [], linestyle="none", marker="o", color="grey", label="completed"),
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                color="grey",
                markerfacecolor="none",
                label="pruned (at its last rung)",
            ),
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=11,
                markerfacecolor="none",
                markeredgecolor="black",
                label="chosen setting",
            ),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)))
        fig.suptitle(f"{metric[0].upper()}{metric[1:]} of every tuning trial")
    return fig


def plot_sensitivity(tuning: Mapping[str, Any], path: Path) -> Path:
    """:func:`sensitivity_figure` as ``path`` (PNG) and SVG beside it."""
    return save(sensitivity_figure(tuning), path)


def tuning_data(folder: Path | None) -> dict[str, Any] | None:
    """How the comparison in ``folder`` was tuned, as plain JSON-able data for ``--json`` and
    ``load_results``: the selection metric, validation split, sampler, pruner and budget, and
    per row its search space, fixed values, chosen setting (None: every trial failed) with its
    validation value, and its trial counts. None when the comparison was not tuned."""
    tuning = read_tuning(folder)
    if tuning is None:
        return None
    keys = (
        "metric", "higher_is_better", "validation", "trials_per_row", "seed", "sampler",
        "pruner", "epochs", "budget",
    )  # fmt: skip
    rows = []
    for row in tuning.get("rows", []):
        counts = _states(row)
        rows.append(
            {
                **{k: row.get(k) for k in ("row", "device", "optimizer", "space", "fixed")},
                "chosen": row.get("chosen"),
                "chosen_value": row.get("chosen_value"),
                "n_trials": len(row.get("trials", [])),
                "n_complete": counts[COMPLETE],
                "n_pruned": counts[PRUNED],
                "epochs_trained": row.get("epochs_trained"),
                "train_time_s": row.get("train_time_s"),
            }
        )
    return {**{k: tuning.get(k) for k in keys}, "rows": rows}
