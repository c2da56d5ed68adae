"""Reports: the ranked table, the figures and the self-contained HTML page, from a store."""

from __future__ import annotations

import csv
import math

import pytest
import sweep_fake_plugin
from click.testing import CliRunner

from aimc_plugins import plugins, report
from aimc_plugins.cli import cli
from aimc_plugins.compare import DIVERGED, DONE, RunOutcome, plan
from aimc_plugins.sweep.store import ResultsStore


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
    page = (store_folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3  # self-contained: every figure inlined
    assert "src='http" not in page and "IdealizedPreset" in page and "0.9050 ± 0.0071" in page
    assert "diverged" in page and "aihwkit" in page  # problems and software versions listed


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
    assert len(rows) == 7 and all(int(r["n_done"]) == 2 for r in rows)
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert "14 already in" in again.output and "0 run now" in again.output
