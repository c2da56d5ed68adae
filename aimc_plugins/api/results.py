"""A results store as data: runs and per-epoch metrics as pandas tables, and the report.

:func:`load_results` gives one row per run (its configuration, status, final metrics and
duration, the pulses it fired among them), :func:`load_epochs` every per-epoch metric in long
form (one row per run x epoch x metric, the shape ``seaborn`` and ``groupby`` want),
:func:`load_pulses` one row per run x analog array (what each array was written); all read the
``results.sqlite`` that ``aimc compare`` (or :func:`aimc_plugins.compare`) wrote, and the
tables join on ``run_id``. pandas is an optional extra (``pip install
'aimc-plugins[pandas]'``): only these functions need it, and without it they say so.
:func:`write_report` is ``aimc report`` as a function.

Reading never creates a store: a folder without one is a :class:`FileNotFoundError`, since an
empty table would hide a wrong path.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimc_plugins.report import plots, time_to_target, tuning
from aimc_plugins.report import summary as report
from aimc_plugins.report.device_cost import cost_data
from aimc_plugins.report.plain import plain
from aimc_plugins.report.splits import result_runs
from aimc_plugins.report.theory import build_section
from aimc_plugins.report.time_to_target import RowReach
from aimc_plugins.sweep.convergence import Plateau
from aimc_plugins.sweep.store import STORE_NAME, ResultsStore
from aimc_plugins.training.pulses import ArrayPulses
from aimc_plugins.training.run import FINISHED, RunOutcome

if TYPE_CHECKING:
    import pandas as pd

PANDAS_EXTRA = "pandas"
# Final-metric keys that are not metrics: the epoch a run ended at gets a column of its own.
_LAST_EPOCH = "epoch"

RUN_COLUMNS = (
    "run_id",
    "recipe",
    "device",
    "optimizer",
    "seed",
    "epochs",
    "status",
    "duration_s",
    "last_epoch",
    "kind",
    "device_name",
    "optimizer_name",
    "periphery",
    "deterministic",
    "error",
    "split",
    "converged",
    "stop_epoch",
    "cap_epochs",
)
EPOCH_COLUMNS = ("run_id", "device", "optimizer", "seed", "epoch", "metric", "value")
# An array's own ``device`` (aihwkit's device class) is renamed: ``device`` is the compared row's
ARRAY_DEVICE = "array_device"
# One row per run x array: the run, then the fields of ArrayPulses.record()
PULSE_COLUMNS = (
    "run_id",
    "device",
    "optimizer",
    "seed",
    *(ARRAY_DEVICE if f.name == "device" else f.name for f in fields(ArrayPulses)),
    "total",
)


class NoResults(LookupError):
    """A results store that holds no finished run (of the recipe asked for)."""


def _pandas(what: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            f"{what} needs pandas, an optional dependency: pip install "
            f"'aimc-plugins[{PANDAS_EXTRA}]' (or pip install pandas)"
        ) from None
    return pandas


def store_path(folder: str | Path) -> Path:
    """``FOLDER/results.sqlite``, which must exist."""
    path = Path(folder) / STORE_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} holds no {STORE_NAME}: run a comparison into it first (`aimc compare "
            "--out FOLDER`, or aimc_plugins.compare(..., out=FOLDER))"
        )
    return path


def load_outcomes(
    folder: str | Path, *, recipe: str | None = None, trials: bool = False
) -> list[RunOutcome]:
    """Every finished run in ``folder``'s store (of ``recipe`` only, if given), in the order
    they finished. A tuned comparison's trials (runs on the validation split) are left out
    unless ``trials``: they are how settings were chosen, not results. Needs no pandas."""
    with ResultsStore(store_path(folder)) as store:
        outcomes = store.outcomes()
    if not trials:
        outcomes = result_runs(outcomes)
    return [o for o in outcomes if recipe in (None, o.run.recipe)]


def _number(value: Any) -> Any:
    """Metrics as floats (a stored NaN stays NaN); anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(value)


def run_records(
    outcomes: Sequence[RunOutcome], plateaus: Mapping[tuple[str, str], Plateau] | None = None
) -> list[dict[str, Any]]:
    """One plain dict per run, the rows of :func:`load_results` (no pandas needed): the columns
    of :data:`RUN_COLUMNS`, then each final metric by name, then ``params.NAME`` (the
    optimizer's hyper-parameters), ``device_params.NAME`` and ``options.NAME``. ``plateaus``
    (per row: :func:`~aimc_plugins.report.convergence.row_plateaus`) fill ``converged``,
    ``stop_epoch`` and ``cap_epochs`` of the row's test runs (None elsewhere)."""
    records = []
    plateaus = plateaus if plateaus is not None else plateaus_of(outcomes)
    results = {id(outcome) for outcome in result_runs(outcomes)}  # not tuning trials
    for outcome in outcomes:
        run = outcome.run
        final = dict(outcome.final)
        last = final.pop(_LAST_EPOCH, None)
        record: dict[str, Any] = {
            "run_id": run.run_id,
            "recipe": run.recipe,
            "device": run.device,
            "optimizer": run.shown_optimizer,
            "seed": run.seed,
            "epochs": run.epochs,
            "status": outcome.status,
            "duration_s": outcome.duration_s,
            "last_epoch": last if last is not None else math.nan,
            "kind": plots.origin(run),
            "device_name": run.registered_device,
            "optimizer_name": run.optimizer,
            "periphery": run.periphery,
            "deterministic": outcome.versions.get("deterministic", ""),
            "error": outcome.error.strip().splitlines()[-1] if outcome.error.strip() else "",
            "split": run.split,
        }
        found = plateaus.get((run.device, run.shown_optimizer)) if id(outcome) in results else None
        record["converged"] = found.converged if found is not None else None
        record["stop_epoch"] = found.stop_epoch if found is not None else None
        record["cap_epochs"] = found.epochs if found is not None else None
        record.update({key: _number(value) for key, value in sorted(final.items())})
        for prefix, values in (
            ("params", run.params),
            ("device_params", run.device_params),
            ("options", run.options),
        ):
            record.update({f"{prefix}.{k}": v for k, v in sorted(values.items())})
        records.append(record)
    return records


def plateaus_of(
    outcomes: Sequence[RunOutcome], folder: Path | None = None
) -> dict[tuple[str, str], Plateau]:
    """Each row's plateau: from ``folder``'s convergence record where the comparison trained to
    convergence, else from the rows' own curves."""
    from aimc_plugins.report.convergence import row_plateaus
    from aimc_plugins.sweep.convergence import read_record

    results = result_runs(outcomes)
    if not results:
        return {}
    metric, higher = report.ranking_metric(results)
    return row_plateaus(results, metric, higher, read_record(folder))


def runs_frame(
    outcomes: Sequence[RunOutcome], plateaus: Mapping[tuple[str, str], Plateau] | None = None
) -> pd.DataFrame:
    """:func:`load_results` of outcomes already in memory."""
    pandas = _pandas("a table of runs")
    records = run_records(outcomes, plateaus)
    columns = list(RUN_COLUMNS)
    for record in records:  # metrics, then parameters, in order of first appearance
        columns += [key for key in record if key not in columns and "." not in key]
    for record in records:
        columns += [key for key in record if key not in columns]
    frame = pandas.DataFrame.from_records(records, columns=columns)
    return frame.sort_values(["recipe", "device", "optimizer", "seed"], kind="stable").reset_index(
        drop=True
    )


def epoch_records(outcomes: Sequence[RunOutcome]) -> list[dict[str, Any]]:
    """One dict per run x epoch x metric, the rows of :func:`load_epochs`."""
    records = []
    for outcome in outcomes:
        run = outcome.run
        for index, metrics in enumerate(outcome.history, 1):
            epoch = int(metrics.get(_LAST_EPOCH, index))
            for metric, value in sorted(metrics.items()):
                if metric == _LAST_EPOCH:
                    continue
                records.append(
                    {
                        "run_id": run.run_id,
                        "device": run.device,
                        "optimizer": run.shown_optimizer,
                        "seed": run.seed,
                        "epoch": epoch,
                        "metric": metric,
                        "value": _number(value),
                    }
                )
    return records


def epochs_frame(outcomes: Sequence[RunOutcome]) -> pd.DataFrame:
    """:func:`load_epochs` of outcomes already in memory."""
    pandas = _pandas("a table of epochs")
    frame = pandas.DataFrame.from_records(epoch_records(outcomes), columns=list(EPOCH_COLUMNS))
    order = ["device", "optimizer", "seed", "run_id", "metric", "epoch"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


def load_results(
    folder: str | Path, *, recipe: str | None = None, trials: bool = False
) -> pd.DataFrame:
    """The runs in ``folder``'s results store as a pandas DataFrame, one row per run.

    Columns: ``run_id``, ``recipe``, ``device`` and ``optimizer`` (as the report's table names
    them), ``seed``, ``epochs``, ``status`` (``done`` / ``diverged`` / ``failed``),
    ``duration_s``, ``last_epoch``, ``kind`` (aihwkit preset device or config, plugin device,
    digital baseline), ``device_name``, ``optimizer_name``, ``periphery``, ``deterministic``,
    ``error`` (its last line), ``split`` (``test``; ``validation`` for a tuning trial); then
    every final metric by name (``test_accuracy``, ...; NaN where a run failed or diverged);
    then ``params.NAME``, ``device_params.NAME`` and ``options.NAME`` for each
    hyper-parameter (a tuned row's chosen setting among them), device parameter and recipe
    option. Sorted by recipe, device, optimizer and seed. A tuned comparison's trials are left
    out unless ``trials`` (:func:`load_tuning` has them with their fate). ``converged``,
    ``stop_epoch`` and ``cap_epochs`` say whether the run's row converged before its cap and
    at which epoch (from ``convergence.json`` when the comparison trained to convergence, else
    from the row's own curve; None for trials).

    What the run's training fired on its devices is among the final metrics, where its pulses
    were counted: ``pulses`` (up + down, every analog array of every layer), ``pulses_up``,
    ``pulses_down``, ``pulses_gradient`` and ``pulses_transfer`` (by who fired them: the
    gradient updates, a transfer rule's writes), ``transfer_reads`` (columns its transfers
    read), ``pulses_device_max`` and ``pulses_device_p99`` (the pulses of the most-written
    device and the 99th percentile over devices: wear), and where the device declares them
    ``energy_j`` (joules) and ``endurance_used`` (``pulses_device_max`` over its endurance, a
    fraction). They are expected values of aihwkit's stochastic pulse trains (exact for
    deterministic ones). They are NaN for the digital baseline (no device), for runs on
    aihwkit's compiled compounds (Tiki-Taka v2, mixed precision, ... write inside the C++ core:
    such a run has the note "pulses not counted: ..."), for runs whose counting was switched
    off (``aimc compare --no-pulses``) and for runs stored before pulses were counted;
    :func:`load_pulses` has the per-array counts."""
    outcomes = load_outcomes(folder, recipe=recipe, trials=trials)
    return runs_frame(outcomes, plateaus_of(outcomes, Path(folder)))


def load_epochs(
    folder: str | Path, *, recipe: str | None = None, trials: bool = False
) -> pd.DataFrame:
    """Every per-epoch metric of ``folder``'s runs, in long form: columns ``run_id``,
    ``device``, ``optimizer``, ``seed``, ``epoch``, ``metric``, ``value`` (join with
    :func:`load_results` on ``run_id`` for the rest of a run's configuration). Tuning trials
    only with ``trials``. Where a run's pulses were counted, each epoch has the metric
    ``pulses``: the pulses fired on its devices so far, at that epoch's end (expected values;
    no such rows for runs not counted), so a metric can be plotted against the writes it
    took."""
    return epochs_frame(load_outcomes(folder, recipe=recipe, trials=trials))


def pulse_records(outcomes: Sequence[RunOutcome]) -> list[dict[str, Any]]:
    """One dict per run x analog array, the rows of :func:`load_pulses` (no pandas needed):
    the run's ``run_id``, ``device``, ``optimizer`` and ``seed``, then its array's record
    (:meth:`~aimc_plugins.training.pulses.ArrayPulses.record`, whose own ``device`` is
    ``array_device`` here)."""
    records = []
    for outcome in outcomes:
        run = outcome.run
        for array in outcome.pulses:
            record: dict[str, Any] = {
                "run_id": run.run_id,
                "device": run.device,
                "optimizer": run.shown_optimizer,
                "seed": run.seed,
            }
            for key, value in array.items():
                record[ARRAY_DEVICE if key == "device" else key] = value
            records.append(record)
    return records


def pulses_frame(outcomes: Sequence[RunOutcome]) -> pd.DataFrame:
    """:func:`load_pulses` of outcomes already in memory."""
    pandas = _pandas("a table of pulses")
    records = pulse_records(outcomes)
    columns = list(PULSE_COLUMNS)
    for record in records:  # a field a later record adds, kept rather than dropped
        columns += [key for key in record if key not in columns]
    frame = pandas.DataFrame.from_records(records, columns=columns)
    order = ["device", "optimizer", "seed", "run_id"]  # arrays stay in the run's order
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


def load_pulses(
    folder: str | Path, *, recipe: str | None = None, trials: bool = False
) -> pd.DataFrame:
    """What each analog array of ``folder``'s runs was written: one row per run x array.

    Columns: ``run_id``, ``device``, ``optimizer``, ``seed`` (the run, as :func:`load_results`
    names it; join on ``run_id``), then the array's record: ``layer`` (the run's analog tiles
    numbered in the order they were first updated, with their shape), ``array`` (a transfer
    rule's array name such as ``P`` or ``W``; empty for a one-array tile), ``array_device``
    (aihwkit's device class of the array), ``rows``, ``columns``, ``up``, ``down``,
    ``gradient`` and ``transfer`` (``up + down`` split by who fired them), ``reads`` (columns
    the transfers read), ``device_max`` and ``device_p99`` (the most-written device's pulses and
    the 99th percentile over the array's devices), ``counted`` (False where aihwkit's compiled
    compound wrote the array unseen: ``why`` says why, and its counts are 0, not
    measurements), ``exact`` (deterministic pulse trains; otherwise the counts are expected
    values) and ``total`` (``up + down``). A counted run's ``pulses`` in :func:`load_results`
    is the sum of its rows' ``total``. The digital baseline has no rows. Sorted by device,
    optimizer, seed and run, each run's arrays in its order. Tuning trials only with
    ``trials``."""
    return pulses_frame(load_outcomes(folder, recipe=recipe, trials=trials))


TUNING_COLUMNS = ("row", "device", "optimizer", "trial", "state", "epochs", "value", "chosen")


def tuning_records(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per trial of a tuning summary (``tuning.json``): the rows of
    :func:`load_tuning`."""
    records = []
    for row in summary["rows"]:
        for trial in row["trials"]:
            record = {
                "row": row["row"],
                "device": row["device"],
                "optimizer": row["optimizer"],
                "trial": trial["number"],
                "state": trial["state"],
                "epochs": trial["epochs"],
                "value": math.nan if trial["value"] is None else float(trial["value"]),
                "chosen": row["chosen"] is not None and trial["params"] == row["chosen"],
            }
            record.update({f"params.{k}": v for k, v in sorted(trial["params"].items())})
            records.append(record)
    return records


def load_tuning(folder: str | Path) -> pd.DataFrame:
    """How a tuned comparison chose its settings: one row per trial (``row``, ``device``,
    ``optimizer``, ``trial``, ``state`` complete / pruned / failed, ``epochs`` of its last
    rung, ``value`` its validation metric there, ``chosen``, then ``params.NAME``). Raises
    :class:`FileNotFoundError` for a comparison that was not tuned."""
    summary = tuning.read_tuning(Path(folder))
    if summary is None:
        raise FileNotFoundError(f"{folder} holds no tuning.json: that comparison was not tuned")
    pandas = _pandas("a table of tuning trials")
    records = tuning_records(summary)
    columns = list(TUNING_COLUMNS)
    for record in records:
        columns += [key for key in record if key not in columns]
    return pandas.DataFrame.from_records(records, columns=columns)


# -- the report --------------------------------------------------------------------------------


def rows_data(rows: Sequence[report.Row]) -> list[dict[str, Any]]:
    """The ranked table as plain data (what ``--json`` prints): rank, then the CSV's columns,
    with None where a value is undefined (one finished run has no std or interval)."""
    return [
        {"rank": rank, **{k: plain(v) for k, v in asdict(row).items()}}
        for rank, row in enumerate(rows, 1)
    ]


def status_counts(outcomes: Sequence[RunOutcome]) -> dict[str, int]:
    """Runs per status, every status named (0 included) so a script can read any of them;
    tuning trials are not counted (they are not results)."""
    counts = Counter(o.status for o in result_runs(outcomes))
    return {status: counts.get(status, 0) for status in FINISHED}


@dataclass
class Report:
    """What :func:`write_report` wrote and the table it ranked."""

    out: Path
    paths: list[Path]
    metric: str
    higher_is_better: bool
    rows: list[report.Row]
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    time_to_target: dict[str, Any] = field(default_factory=dict)
    tuning: dict[str, Any] | None = None
    theory: dict[str, Any] | None = None
    # What training cost the devices (report.device_cost.cost_data): None where nothing was
    # counted
    device_cost: dict[str, Any] | None = None
    # Time to target per (device, optimizer), for the printed table's column (None: no target).
    reach: dict[tuple[str, str], RowReach] | None = field(default=None, repr=False, compare=False)

    @property
    def html(self) -> Path:
        return self.out / "report.html"

    def table(self) -> str:
        """The ranked table as markdown, as ``aimc report`` prints it: with a column of epochs
        to target when there is a target and one of pulses where some row was counted, as in
        ``results.md``."""
        return report.markdown_table(self.rows, self.reach)

    def target_line(self) -> str:
        """The target the table's last column counts epochs to, in words ("" without one)."""
        target = self.time_to_target.get("target")
        if not target:
            return ""
        return f"target: {target['metric']} {target['value']:.4g} ({self.time_to_target['why']})"

    def data(self) -> dict[str, Any]:
        """Plain data for JSON: out, paths, metric, counts, rows (with their mean ``pulses``,
        ``pulses_device_max`` and ``energy_j``, None where not counted), notes, time to target
        (with pulses to target), what training cost the devices per row (None where no run was
        counted), how each row was tuned (None for a comparison that was not), and the
        theory's predictions beside the measurement (None where the report has no such
        section)."""
        return {
            "out": str(self.out),
            "paths": [str(p) for p in self.paths],
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "counts": self.counts,
            "rows": rows_data(self.rows),
            "notes": self.notes,
            "time_to_target": self.time_to_target,
            "device_cost": self.device_cost,
            "tuning": self.tuning,
            "theory": self.theory,
        }


def report_outcomes(
    outcomes: Sequence[RunOutcome],
    out: str | Path,
    title: str | None = None,
    *,
    store: str | Path | None = None,
) -> Report:
    """Write the report of ``outcomes`` into ``out``: the table ranked by the recipe's metric,
    the figures and ``report.html``. ``store`` (a results folder) supplies the sweep's name, the
    title unless ``title`` is given, and when each run finished."""
    if not outcomes:
        raise NoResults(f"no finished runs to report into {out}")
    metric, higher = report.ranking_metric(outcomes)
    out = Path(out)
    times = None
    folder = Path(store) if store is not None else None
    if folder is not None:
        with ResultsStore(store_path(folder)) as results:
            times = results.run_times(o.run.run_id for o in outcomes)
    extras = report.report_extras(outcomes, metric, higher, folder)  # computed once
    rows = report.summarize(
        outcomes, metric, higher, plateaus=extras.plateaus, unstable=extras.unstable
    )
    theory = build_section(outcomes, rows, metric, higher)  # resolved once, written and returned
    paths = report.write_report(
        outcomes,
        out,
        metric,
        higher,
        title,
        run_times=times,
        folder=folder,
        theory=theory,
        extras=extras,
    )
    return Report(
        out=out,
        paths=list(paths),
        metric=metric,
        higher_is_better=higher,
        rows=rows,
        notes=report.table_notes(rows, outcomes),
        counts=status_counts(outcomes),
        time_to_target=time_to_target.time_to_target_data(outcomes, metric, higher, folder),
        tuning=tuning.tuning_data(folder),
        theory=theory.data() if theory is not None else None,
        device_cost=cost_data(extras.costs, rows) if extras.costs else None,
        reach=extras.reach,
    )


def write_report(
    folder: str | Path,
    out: str | Path | None = None,
    *,
    title: str | None = None,
    recipe: str | None = None,
) -> Report:
    """``aimc report FOLDER`` as a function: the ranked table (markdown, CSV), the figures and
    one self-contained ``report.html`` from ``folder``'s results store, written into ``out``
    (default: ``folder``). Raises :class:`FileNotFoundError` without a store and
    :class:`NoResults` when it holds no finished run (of ``recipe``)."""
    folder = Path(folder)
    outcomes = load_outcomes(folder, recipe=recipe)
    if not outcomes:
        raise NoResults(f"{folder / STORE_NAME} holds no finished runs yet")
    return report_outcomes(outcomes, out if out is not None else folder, title, store=folder)
