"""The report of issue 17: intervals inside the metric's range, time to target, how each row was
tuned (from ``tuning.json``, the fixture ``tests/data/tuning.json``), and tuning trials kept out
of every result. Outcomes are fabricated (no training), so these tests take seconds."""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
from pathlib import Path

import pytest

from aimc_plugins.builtin.recipes import least_squares as ls
from aimc_plugins.host.records import VALIDATION_SPLIT
from aimc_plugins.report import stats, tuning
from aimc_plugins.report import summary as report
from aimc_plugins.report import time_to_target as ttt
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.loop import SAMPLES_KEY, TIME_KEY
from aimc_plugins.training.run import DIVERGED, DONE, FAILED, RunOutcome

FIXTURE = Path(__file__).parent / "data" / "tuning.json"
DIGITAL = ("floating point", "digital")


def run_of(device: str, optimizer: str, seed: int, split: str = "test") -> PlannedRun:
    name = "" if device == "floating point" else device
    return PlannedRun("mnist-fcn", device, optimizer, seed, 4, device_name=name, split=split)


def finished(run, curve, metric="test_accuracy", status=DONE, samples=True):
    """A run whose metric follows ``curve`` per epoch; 1000 samples and 2 s per epoch."""
    history = []
    for epoch, value in enumerate(curve, 1):
        metrics = {"epoch": epoch, metric: value}
        if samples:
            metrics |= {SAMPLES_KEY: 1000 * epoch, TIME_KEY: 2.0 * epoch}
        history.append(metrics)
    final = {metric: curve[-1] if status == DONE else math.nan}
    return RunOutcome(run, status, tuple(history), final, duration_s=10.0)


def comparison(split_trials: bool = False) -> list[RunOutcome]:
    """Digital 0.90 at epoch 4 (target 0.855 by default); power/sgd reaches 0.86 at epoch 2
    on seed 0, epoch 3 on seed 1, never on seed 2; ReRamSB/sgd never (0.5)."""
    outcomes = [finished(run_of(*DIGITAL, s), [0.6, 0.8, 0.88, 0.90 + 0.002 * s]) for s in range(3)]
    outcomes += [
        finished(run_of("power", "sgd", 0), [0.5, 0.86, 0.87, 0.87]),
        finished(run_of("power", "sgd", 1), [0.5, 0.8, 0.86, 0.87]),
        finished(run_of("power", "sgd", 2), [0.5, 0.8, 0.84, 0.85]),
    ]
    outcomes += [finished(run_of("ReRamSB", "sgd", s), [0.3, 0.4, 0.5, 0.5]) for s in range(3)]
    if split_trials:  # trials that would top the table if they were read as results
        outcomes += [
            finished(run_of("ReRamSB", "sgd", s, VALIDATION_SPLIT), [0.99] * 4) for s in range(2)
        ]
    return outcomes


# --- 1. intervals inside the metric's range -------------------------------------------------


def test_an_accuracy_interval_stays_in_0_1_and_a_loss_interval_above_0():
    mean, _std, low, high = stats.mean_interval([0.1, 0.9], stats.metric_limits("test_accuracy"))
    assert mean == pytest.approx(0.5) and (low, high) == (0.0, 1.0)  # t alone: [-4.6, 5.6]
    _, _, low, high = stats.mean_interval([0.01, 0.5], stats.metric_limits("loss"))
    assert low == 0.0 and high > 0.5
    _, _, low, _ = stats.mean_interval([0.01, 0.5], stats.metric_limits("energy"))
    assert low < 0  # not a bounded metric: the plain t interval
    assert stats.t_quantile_975(1) == pytest.approx(12.7062, abs=1e-4)  # scipy's


def test_the_method_is_said_where_the_table_is(tmp_path):
    assert stats.interval_method("val_accuracy").endswith("limited to [0, 1]")
    assert stats.interval_method("train_loss").endswith("limited to [0, inf)")
    assert "limited" not in stats.interval_method("energy")
    outcomes = [finished(run_of("power", "sgd", s), [0.1 + 0.8 * s]) for s in range(2)]
    report.write_report(outcomes, tmp_path, "test_accuracy")
    row = report.summarize(outcomes, "test_accuracy")[0]
    assert (row.ci_low, row.ci_high) == (0.0, 1.0)
    for name in ("results.md", "report.html"):
        assert (
            "Student t with n - 1 degrees of freedom, limited to [0, 1]"
            in (tmp_path / name).read_text()
        )


def test_limiting_intervals_never_changes_which_rows_are_separated():
    """Two intervals that overlap beyond the range both reach its edge (their means lie inside
    it), so they overlap there too: the letters are those of the unlimited intervals."""
    rng = random.Random(1)
    for _ in range(300):
        a, b = sorted(rng.uniform(0, 1) for _ in range(2)), sorted(rng.uniform(0, 1) for _ in "ab")
        halves = rng.uniform(0, 1.5), rng.uniform(0, 1.5)
        spans = [(m - h, m + h) for m, h in zip((a[0], b[1]), halves, strict=True)]
        clipped = [(max(lo, 0.0), min(hi, 1.0)) for lo, hi in spans]
        rows = [
            report.Row("d", "o", "test_accuracy", m, 0.1, 3, 3, ci_low=lo, ci_high=hi)
            for m, (lo, hi) in zip((a[0], b[1]), spans, strict=True)
        ]
        limited = [
            report.Row("d", "o", "test_accuracy", m, 0.1, 3, 3, ci_low=lo, ci_high=hi)
            for m, (lo, hi) in zip((a[0], b[1]), clipped, strict=True)
        ]
        assert report.separated(*rows) == report.separated(*limited)


def test_the_least_squares_table_gives_one_seed_no_spread(tmp_path):
    curves = {
        ("sgd", 0.1, 0): ls.Curve((0, 1), (1.0, 0.5), None),
        ("rl", 0.1, 0): ls.Curve((0, 1), (1.0, 0.2), None),
        ("rl", 0.1, 1): ls.Curve((0, 1), (1.0, 0.4), None),
    }
    rows = ls.final_table(curves)
    sgd = next(r for r in rows if r["optimizer"] == "sgd")
    assert sgd["n"] == 1 and math.isnan(sgd["std"])
    ls.write_tables(rows, tmp_path)
    table = (tmp_path / "final_loss.md").read_text()
    assert "| sgd | 0.5 |" in table and "± 0 " not in table and "± 0|" not in table
    assert "| rl | 0.3 ± 0.14 |" in table


# --- 4. time to target ----------------------------------------------------------------------


def test_time_to_target_by_default_from_the_digital_baseline():
    outcomes = comparison()
    target, why = ttt.choose_target(outcomes, "test_accuracy")
    assert target is not None and target.source == "baseline"
    assert target.value == pytest.approx(0.95 * 0.902)
    assert "0.95 x the digital baseline" in why
    found = ttt.reaches(outcomes, target)
    power = found[("power", "sgd")]
    assert [r.epoch for r in power.runs] == [2, 3, None]
    assert [r.samples for r in power.runs] == [2000, 3000, None]
    assert power.epochs == 3 and power.samples == 3000 and power.time_s == 6.0
    assert power.formatted() == "3 (2/3 reached)"
    reram = found[("ReRamSB", "sgd")]
    assert reram.n_reached == 0 and reram.formatted() == "not reached (0/3 reached)"


def test_a_lower_is_better_metric_divides_by_the_fraction():
    outcomes = [finished(run_of(*DIGITAL, 0), [2.0, 1.0], metric="loss")]
    target, _ = ttt.choose_target(outcomes, "loss", higher_is_better=False)
    assert target is not None and target.value == pytest.approx(1.0 / 0.95)
    assert target.reached(1.0) and not target.reached(1.1)


def test_failed_runs_are_left_out_and_diverged_ones_did_not_reach():
    outcomes = [
        finished(run_of("power", "sgd", 0), [0.9]),
        finished(run_of("power", "sgd", 1), [math.nan], status=DIVERGED),
        finished(run_of("power", "sgd", 2), [0.9], status=FAILED),
    ]
    target, _ = ttt.choose_target(outcomes, "test_accuracy", explicit=0.8)
    assert target is not None and target.source == "spec"
    row = ttt.reaches(outcomes, target)[("power", "sgd")]
    assert (row.n_reached, row.n_runs) == (1, 2)


def test_without_samples_the_epoch_is_given_alone():
    outcomes = [finished(run_of("power", "sgd", 0), [0.5, 0.9], samples=False)]
    target, _ = ttt.choose_target(outcomes, "test_accuracy", explicit=0.8)
    assert target is not None
    row = ttt.reaches(outcomes, target)[("power", "sgd")]
    assert row.epochs == 2 and math.isnan(row.samples) and math.isnan(row.time_s)
    cells = ttt.detail_rows(report.summarize(outcomes, "test_accuracy"), {("power", "sgd"): row})
    assert cells[0][3:5] == ("not recorded", "not recorded")


def test_the_report_shows_the_column_table_and_figure_with_the_stored_target(tmp_path):
    outcomes = comparison()
    with ResultsStore.in_folder(tmp_path) as store:
        for outcome in outcomes:
            store.record(outcome, "t")
        store.set_meta(ttt.TARGET_META, 0.85)
    out = tmp_path / "report"
    paths = report.write_report(outcomes, out, "test_accuracy", folder=tmp_path)
    assert out / "time_to_target.png" in paths
    markdown = (out / "results.md").read_text()
    assert report.TARGET_COLUMN in markdown
    assert "Target: test_accuracy 0.85, the comparison's own target" in markdown
    # power/sgd reaches 0.85 at epochs 2, 3 and 4: median 3
    assert "| power | sgd | 3 | 3,000 | 6.0 s | 3/3 |" in markdown
    assert "not reached (0/3 reached)" in (out / "report.html").read_text()
    with (out / "results.csv").open() as handle:
        rows = {r["device"]: r for r in csv.DictReader(handle)}
    assert float(rows["power"]["epochs_to_target"]) == 3 and rows["ReRamSB"]["n_reached"] == "0"
    assert rows["ReRamSB"]["epochs_to_target"] == "inf"
    data = ttt.time_to_target_data(outcomes, "test_accuracy", folder=tmp_path)
    assert data["target"]["value"] == 0.85 and data["target"]["source"] == "spec"
    by_row = {(r["device"], r["optimizer"]): r for r in data["rows"]}
    assert by_row[("ReRamSB", "sgd")]["epochs_to_target"] is None
    assert by_row[("power", "sgd")]["samples_to_target"] == 3000
    json.dumps(data, allow_nan=False)  # plain JSON: no NaN, no infinity


def test_the_printed_table_has_the_time_to_target_column_too(tmp_path):
    """`aimc report` prints Report.table(): the same column as results.md, and the target."""
    from click.testing import CliRunner

    from aimc_plugins.api.results import report_outcomes
    from aimc_plugins.cli.main import cli

    with ResultsStore.in_folder(tmp_path) as store:
        for outcome in comparison():
            store.record(outcome, "t")
        store.set_meta(ttt.TARGET_META, 0.85)
    written = report_outcomes(comparison(), tmp_path / "report", store=tmp_path)
    assert report.TARGET_COLUMN in written.table()
    (power,) = [line for line in written.table().splitlines() if "| power | sgd |" in line]
    assert power.endswith("| 3 (3/3 reached) |")  # epochs 2, 3 and 4: median 3
    assert written.target_line().startswith("target: test_accuracy 0.85 (")
    printed = CliRunner().invoke(cli, ["report", str(tmp_path), "--out", str(tmp_path / "r2")])
    assert printed.exit_code == 0, printed.output
    assert report.TARGET_COLUMN in printed.output and "target: test_accuracy 0.85" in printed.output
    untargeted = [o for o in comparison() if o.run.optimizer != "digital"]
    plain_report = report_outcomes(untargeted, tmp_path / "plain")
    assert report.TARGET_COLUMN not in plain_report.table() and plain_report.target_line() == ""


def test_without_target_or_baseline_the_report_says_why(tmp_path):
    outcomes = [o for o in comparison() if o.run.optimizer != "digital"]
    report.write_report(outcomes, tmp_path, "test_accuracy")
    assert not (tmp_path / "time_to_target.png").exists()
    markdown = (tmp_path / "results.md").read_text()
    assert report.TARGET_COLUMN not in markdown
    assert "No time to target: the comparison set no `target`" in markdown
    data = ttt.time_to_target_data(outcomes, "test_accuracy")
    assert data["target"] is None and data["why"].startswith("No time to target")


def test_the_reach_figure_has_a_panel_per_optimizer(tmp_path):
    outcomes = comparison()
    target, _ = ttt.choose_target(outcomes, "test_accuracy")
    assert target is not None
    fig = ttt.reach_figure(ttt.reaches(outcomes, target), target)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["sgd"]  # the digital baseline is the dashed reference in every panel
    assert fig.axes[0].get_xlabel() == "training samples"


# --- 5. how each row was tuned --------------------------------------------------------------


@pytest.fixture
def tuned_folder(tmp_path):
    """A results folder with test runs, two stored trial runs and the fixture tuning.json."""
    with ResultsStore.in_folder(tmp_path) as store:
        for outcome in comparison(split_trials=True):
            store.record(outcome, "t")
    shutil.copy(FIXTURE, tmp_path / tuning.TUNING_FILE)
    return tmp_path


def test_no_tuning_file_no_section(tmp_path):
    assert tuning.read_tuning(tmp_path) is None and tuning.tuning_data(tmp_path) is None
    report.write_report(comparison(), tmp_path, "test_accuracy", folder=tmp_path)
    assert tuning.SECTION not in (tmp_path / "results.md").read_text()


def test_a_broken_tuning_file_is_an_error_not_a_missing_section(tmp_path):
    (tmp_path / tuning.TUNING_FILE).write_text("{not json")
    with pytest.raises(tuning.TuningFileError, match="cannot be read"):
        tuning.read_tuning(tmp_path)


def test_the_section_gives_budget_split_space_and_chosen_settings(tuned_folder):
    record = tuning.read_tuning(tuned_folder)
    assert record is not None
    text = tuning.tuning_markdown(record, n_trial_runs=2)
    assert "8 trials per row x 5 rows = 40 trials of up to 5 epochs; 110 epochs trained" in text
    assert "20% of the training data" in text and "QMCSampler" in text
    assert "successive halving" in text
    assert "| tiki-taka | lr in [0.01, 1] (log); alpha in [0.01, 0.5] | " in text
    assert "n_reads_per_transfer=64 | 2 |" in text
    assert "| power(g=0.5, tau=0.7) / tiki-taka | lr=0.09, alpha=0.434 |" in text
    assert "none (every trial failed) | n/a |" in text
    assert "2 runs on the validation split are stored" in text


def test_a_row_decided_by_the_tie_break_alone_is_said_to_be_undecided(tuned_folder):
    record = tuning.read_tuning(tuned_folder)
    assert record is not None
    assert "Undecided" not in tuning.tuning_markdown(record)
    record["rows"][0]["tied_rungs"] = [1, 2]
    name = record["rows"][0]["row"]
    text = tuning.tuning_markdown(record)
    assert f"- **Undecided:** {name}: at rung 1, 2 every trial reached the same" in text
    assert text.count("Undecided") == 1
    assert "Undecided:</strong> " + name in tuning.tuning_html(record)


def test_the_sensitivity_figure_has_a_panel_per_optimizer_and_parameter(tuned_folder, tmp_path):
    record = tuning.read_tuning(tuned_folder)
    assert record is not None and tuning.has_sensitivity(record)
    fig = tuning.sensitivity_figure(record)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [
        "digital: lr",
        "sgd: lr",
        "tiki-taka: lr",
        "tiki-taka: alpha",
    ]
    assert [ax.get_xscale() for ax in visible] == ["log", "log", "log", "linear"]
    # pruned trials hollow, completed filled
    faces = {
        str(line.get_markerfacecolor())
        for line in visible[1].get_lines()
        if line.get_markersize() == 6
    }
    assert "none" in faces and len(faces) >= 2
    path = tuning.plot_sensitivity(record, tmp_path / "sens.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_tuning_data_is_plain_json_with_the_chosen_settings(tuned_folder):
    data = tuning.tuning_data(tuned_folder)
    assert data is not None
    json.dumps(data, allow_nan=False)
    rows = {r["row"]: r for r in data["rows"]}
    assert rows["floating point / digital"]["chosen"] == {"lr": 0.4885}
    assert rows["power(g=2.0, tau=0.7) / sgd"]["chosen"] is None
    assert rows["power(g=0.5, tau=0.7) / tiki-taka"]["n_trials"] == 8
    assert data["budget"]["trials"] == 40 and data["metric"] == "val_accuracy"


# --- 6. trials are not results --------------------------------------------------------------


def test_trials_are_in_no_table_or_figure_and_the_tuning_section_counts_them(tuned_folder):
    with ResultsStore.in_folder(tuned_folder) as store:
        outcomes = store.outcomes()
    assert sum(o.run.split == VALIDATION_SPLIT for o in outcomes) == 2
    out = tuned_folder / "report"
    paths = report.write_report(outcomes, out, "test_accuracy", folder=tuned_folder)
    rows = report.summarize(outcomes, "test_accuracy")
    reram = next(r for r in rows if r.device == "ReRamSB")
    assert (reram.n_runs, reram.mean) == (3, pytest.approx(0.5))  # trials (0.99) left out
    assert rows[0].device == "floating point"
    assert out / "tuning_sensitivity.png" in paths
    markdown = (out / "results.md").read_text()
    assert "## What was run" in markdown and f"### {tuning.SECTION}" in markdown
    assert markdown.index("## What was run") < markdown.index(tuning.SECTION)
    assert "2 runs on the validation split are stored" in markdown
    page = (out / "report.html").read_text()
    assert tuning.SECTION in page and page.index("id='setup'") < page.index("id='tuning'")
    assert "0.9900" not in page and "0.9900" not in markdown
    runs = json.loads((out / "runs.json").read_text())
    assert len(runs) == len(outcomes)  # every run, trials included, for later analysis


def test_trials_without_a_tuning_file_are_still_said_to_be_left_out(tmp_path):
    outcomes = comparison(split_trials=True)
    report.write_report(outcomes, tmp_path, "test_accuracy")
    markdown = (tmp_path / "results.md").read_text()
    assert "2 runs on the validation split (tuning trials) are stored" in markdown
    assert all(r.n_runs == 3 for r in report.summarize(outcomes, "test_accuracy"))


def test_a_setting_chosen_at_the_edge_of_its_space_is_said_to_be_possibly_undertuned():
    from aimc_plugins.report.tuning import edge_notes, tuning_markdown

    def row(chosen: dict, space: dict) -> dict:
        return {"row": "dev / sgd", "optimizer": "sgd", "chosen": chosen, "space": space}

    log_space = {"lr": {"low": 0.01, "high": 3.0, "log": True}}
    tuning = {
        "rows": [
            row({"lr": 0.0133}, log_space),  # 5% of the log range above the low bound
            row({"lr": 0.2}, log_space),  # inside
            row({"lr": 2.9}, {"lr": {"low": 0.0, "high": 3.0}}),  # linear, at the top
        ]
    }
    notes = edge_notes(tuning)
    assert len(notes) == 2
    assert "lr = 0.0133 was chosen at the lower edge of its space [0.01, 3] (log)" in notes[0]
    assert "upper edge" in notes[1] and "[tune.space.sgd]" in notes[1]
    assert "**At the edge:**" in tuning_markdown(tuning)
    assert edge_notes({"rows": [row({"lr": 0.2}, log_space)]}) == []


def test_an_edge_that_is_the_parameters_own_limit_is_not_to_be_widened():
    from aimc_plugins.report.tuning import edge_notes

    row = {
        "row": "dev / mtrl",
        "optimizer": "mtrl",
        "chosen": {"period_growth": 1.05},
        "space": {"period_growth": {"low": 1.0, "high": 5.0}},  # 1 is period_growth's minimum
    }
    (note,) = edge_notes({"rows": [row]})
    assert "the parameter's own limit" in note and "tune.space" not in note
