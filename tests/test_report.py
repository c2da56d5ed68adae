"""Reports: the ranked table, the figures and the self-contained HTML page, from a store."""

from __future__ import annotations

import csv
import math

import pytest
import sweep_fake_plugin
from click.testing import CliRunner

from aimc_plugins.cli.main import cli
from aimc_plugins.host import plugins
from aimc_plugins.report import summary as report
from aimc_plugins.sweep.spec import plan
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.run import DIVERGED, DONE, RunOutcome


def outcome(run, accuracy, status=DONE):
    history = tuple({"epoch": e, "test_accuracy": accuracy * e / 2} for e in (1, 2))
    final = {"test_accuracy": accuracy if status == DONE else math.nan}
    return RunOutcome(run, status, history, final, error="" if status == DONE else "NaN")


@pytest.fixture
def store_folder(tmp_path):
    runs = plan("digits-mlp", ["Idealized", "IdealizedPreset", "ReRamSB"], ["sgd", "digital"], 2, 2)
    accuracy = {"Idealized": 0.9, "IdealizedPreset": 0.8, "ReRamSB": 0.5, "floating point": 0.95}
    with ResultsStore.in_folder(tmp_path) as store:
        for run in runs:
            diverged = run.device == "ReRamSB" and run.seed == 1
            value = accuracy[run.device] + 0.01 * run.seed
            store.record(outcome(run, value, DIVERGED if diverged else DONE), "test")
    return tmp_path


def test_summary_ranks_with_mean_std_and_counts_diverged_runs(store_folder):
    with ResultsStore.in_folder(store_folder) as store:
        rows = report.summarize(store.outcomes(), "test_accuracy")
    assert [(r.device, r.optimizer) for r in rows] == [
        ("floating point", "digital"),
        ("Idealized", "sgd"),
        ("IdealizedPreset", "preset"),
        ("ReRamSB", "sgd"),
    ]
    assert rows[1].mean == pytest.approx(0.905) and rows[1].std == pytest.approx(0.00707, rel=1e-2)
    assert (rows[3].n_done, rows[3].n_runs, rows[3].n_diverged) == (1, 2, 1)
    assert not math.isnan(rows[3].mean) and math.isnan(rows[3].std)  # one run: no spread
    assert [r.kind for r in rows] == [
        "digital baseline",
        "aihwkit preset device",
        "aihwkit preset config",
        "aihwkit preset device",
    ]


def test_aimc_report_writes_table_figures_and_one_html_page(store_folder):
    result = CliRunner().invoke(cli, ["report", str(store_folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    names = [
        "results.csv",
        "results.md",
        "learning_curves.png",
        "final_metric.png",
        "responses.png",
        "runs.json",
        "report.html",
    ]
    for name in names:
        assert (store_folder / name).stat().st_size > 0, name
    for name in names:
        if name.endswith(".png"):
            assert (store_folder / name).read_bytes()[:4] == b"\x89PNG"
    with (store_folder / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["device"] == "floating point"
    assert {"std", "ci_low", "ci_high", "group", "tied_for_best"} <= set(rows[0])
    # Idealized/sgd: 0.90 and 0.91; t(0.975, 1) = 12.7062 -> 0.905 ± 12.7062 * 0.00707 / sqrt 2
    assert float(rows[1]["ci_low"]) == pytest.approx(0.905 - 0.0635, abs=1e-4)
    assert float(rows[1]["ci_high"]) == pytest.approx(0.905 + 0.0635, abs=1e-4)
    assert math.isnan(float(rows[3]["ci_low"])) and math.isnan(float(rows[3]["std"]))
    markdown = (store_folder / "results.md").read_text()
    assert "95% CI of mean" in markdown and report.separation_note("test_accuracy") in markdown
    page = (store_folder / "report.html").read_text()
    # self-contained: every figure inlined (bars, time to target, learning curves, responses)
    assert page.count("data:image/png;base64,") == 4
    assert "src='http" not in page and "IdealizedPreset" in page and "0.9050 ± 0.0071" in page
    assert "diverged" in page and "aihwkit" in page  # problems and software versions listed
    assert "95% CI of the mean" in page and "tied for best" in page


def runs_with(values_by_device, metric="test_accuracy"):
    """Finished runs of ``sgd`` on each device, seed i ending at ``values_by_device[d][i]``."""
    seeds = max(len(v) for v in values_by_device.values())
    runs = plan("digits-mlp", list(values_by_device), ["sgd"], seeds, 2)
    return [
        RunOutcome(run, DONE, ({metric: value},), {metric: value})
        for run in runs
        for value in values_by_device[run.device][run.seed : run.seed + 1]
    ]


def test_interval_is_student_t_with_n_minus_1_degrees_of_freedom():
    """Hand-checked: [0.5, 0.6, 0.7] has mean 0.6 and std 0.1; t(0.975, 2) = 4.303, so the
    half-width is 4.303 * 0.1 / sqrt(3) = 0.2484."""
    mean, std, low, high = report.mean_interval([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1)
    assert (low, high) == (pytest.approx(0.6 - 0.2484, abs=1e-4), pytest.approx(0.8484, abs=1e-4))
    assert report.t_quantile_975(2) == pytest.approx(4.303, abs=1e-3)
    row = report.summarize(runs_with({"Idealized": [0.5, 0.6, 0.7]}), "test_accuracy")[0]
    assert row.n_done == 3 and row.formatted_interval() == "[0.3516, 0.8484]"
    assert row.formatted() == "0.6000 ± 0.1000"


def test_t_quantiles_match_scipy_in_and_beyond_the_table():
    stats = pytest.importorskip("scipy.stats")
    for df in (*range(1, 31), 31, 35, 40, 60, 120, 1000):
        assert report.t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=1e-4), df
    with pytest.raises(ValueError):
        report.t_quantile_975(0)


def test_a_single_run_shows_its_value_with_no_spread_and_no_interval():
    rows = report.summarize(
        runs_with({"Idealized": [0.8, 0.82, 0.84], "ReRamSB": [0.4]}), "test_accuracy"
    )
    single = rows[1]
    assert single.device == "ReRamSB" and single.n_done == 1
    assert single.formatted() == "0.4000" and single.formatted_interval() == "n=1, no interval"
    line = next(x for x in report.markdown_table(rows).splitlines() if "ReRamSB" in x)
    assert "±" not in line and "n=1, no interval" in line
    assert "[" not in line  # no interval drawn around a single value
    # Unknown spread: it cannot be separated from anything, so it is not ranked below the best.
    assert not report.separated(single, rows[0]) and single.tied_for_best


def test_overlapping_intervals_are_not_separated_and_distant_ones_are():
    rows = report.summarize(
        runs_with(
            {
                "Idealized": [0.80, 0.82, 0.84],  # [0.770, 0.870]
                "EcRam": [0.79, 0.81, 0.83],  # [0.760, 0.860]: overlaps Idealized
                "ReRamSB": [0.50, 0.51, 0.52],  # [0.485, 0.535]: far below both
            }
        ),
        "test_accuracy",
    )
    assert [r.device for r in rows] == ["Idealized", "EcRam", "ReRamSB"]
    assert not report.separated(rows[0], rows[1])
    assert report.separated(rows[1], rows[2]) and report.separated(rows[0], rows[2])
    assert [r.group for r in rows] == ["a", "a", "b"]
    assert [r.tied_for_best for r in rows] == [True, True, False]
    table = report.markdown_table(rows)
    assert "| a, tied for best |" in table and "| b |" in table


def test_letter_groups_do_not_chain_through_a_wide_interval():
    """A wide interval overlapping two narrow ones that do not overlap each other: the narrow
    two share no letter (separated), each shares one with the wide row (not separated)."""
    rows = report.summarize(
        runs_with(
            {
                "Idealized": [0.70, 0.80, 0.90],  # [0.552, 1.048]
                "EcRam": [0.78, 0.79, 0.80],  # [0.765, 0.815]
                "ReRamSB": [0.60, 0.61, 0.62],  # [0.585, 0.635]
            }
        ),
        "test_accuracy",
    )
    assert [(r.device, r.group) for r in rows] == [
        ("Idealized", "ab"),
        ("EcRam", "a"),
        ("ReRamSB", "b"),
    ]
    assert report.separated(rows[1], rows[2]) and not report.separated(rows[0], rows[2])
    assert all(r.tied_for_best for r in rows)  # each overlaps the best row's interval


def test_a_clear_winner_is_not_marked_tied():
    rows = report.summarize(
        runs_with({"Idealized": [0.90, 0.91, 0.92], "EcRam": [0.50, 0.51, 0.52]}),
        "test_accuracy",
    )
    assert [r.group for r in rows] == ["a", "b"] and not any(r.tied_for_best for r in rows)


def test_lower_is_better_ranks_ascending():
    rows = report.summarize(
        runs_with(
            {"Idealized": [0.30, 0.31, 0.32], "EcRam": [0.10, 0.11, 0.12], "ReRamSB": [0.9]},
            metric="loss",
        ),
        "loss",
        higher_is_better=False,
    )
    assert [r.device for r in rows] == ["EcRam", "Idealized", "ReRamSB"]
    assert [r.group for r in rows] == ["a", "b", ""]
    assert report.separated(rows[0], rows[1]) and not rows[1].tied_for_best
    assert rows[2].tied_for_best  # a single run: no interval, so not separated from the best
    higher = report.summarize(
        runs_with({"Idealized": [0.30, 0.31, 0.32], "EcRam": [0.10, 0.11, 0.12]}, "loss"), "loss"
    )
    assert [r.device for r in higher] == ["Idealized", "EcRam"]


def test_letters_go_past_z():
    assert [report.group_letter(i) for i in (0, 25, 26, 27)] == ["a", "z", "aa", "ab"]


def test_report_of_a_folder_without_store_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no results.sqlite" in result.output


def test_compare_spec_then_report_then_nothing_new(tmp_path, fresh_plugins):
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    spec = tmp_path / "small.toml"
    spec.write_text(
        'recipe = "fake-quick"\nseeds = 2\ndevices = ["Idealized", "IdealizedPreset"]\n'
        'optimizers = ["digital", "sgd"]\n'
    )
    out = tmp_path / "out"
    args = ["compare", str(spec), "--out", str(out), "--workers", "0", "--quiet"]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "0 already in" in first.output and "6 run now" in first.output
    assert (out / "report.html").exists() and (out / "results.sqlite").exists()
    second = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert "6 already in" in second.output and "0 run now" in second.output
    dry = CliRunner().invoke(cli, [*args, "--dry-run"], catch_exceptions=False)
    assert "6 runs, 0 to do" in dry.output


def test_compare_rejects_flags_beside_a_spec_and_bad_accelerator(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('recipe = "digits-mlp"\ndevices = ["Idealized"]\noptimizers = ["sgd"]\n')
    result = CliRunner().invoke(cli, ["compare", str(spec), "--device", "EcRam"])
    assert result.exit_code == 2 and "--device cannot be combined with a spec" in result.output
    result = CliRunner().invoke(cli, ["compare", str(spec), "--seeds", "1", "--dry-run"])
    assert result.exit_code == 0 and "1 runs, 1 to do" in result.output


def test_compare_dask_local_flag(tmp_path, fresh_plugins):
    pytest.importorskip("dask.distributed")
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    spec = tmp_path / "d.toml"
    spec.write_text(
        'recipe = "fake-quick"\nseeds = 2\ndevices = ["Idealized"]\noptimizers = ["digital"]\n'
    )
    out = tmp_path / "out"
    args = ["compare", str(spec), "--out", str(out), "--dask-local", "--workers", "2", "--quiet"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 run now (dask (local cluster of 2))" in result.output


@pytest.mark.slow
def test_shipped_demo_spec_end_to_end(tmp_path):
    """The issue's done-criterion, for real: compare the shipped small spec, report, rerun."""
    from pathlib import Path

    pytest.importorskip("aimc_paper_devices")
    spec = Path(__file__).resolve().parents[1] / "recipes" / "specs" / "digits-demo.toml"
    out = tmp_path / "demo"
    args = ["compare", str(spec), "--out", str(out), "--workers", "2", "--quiet"]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    result = CliRunner().invoke(cli, ["report", str(out)], catch_exceptions=False)
    assert result.exit_code == 0 and (out / "report.html").exists()
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 7 and all(int(r["n_done"]) == 3 for r in rows)
    assert all(r["ci_low"] != "nan" for r in rows)  # three seeds: every row has an interval
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert "21 already in" in again.output and "0 run now" in again.output
