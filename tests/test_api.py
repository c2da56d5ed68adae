"""The Python API (``aimc_plugins.compare``, ``load_results``, ``load_epochs``,
``write_report``) and the ``--json`` of ``aimc compare`` / ``aimc report`` / ``aimc doctor``, on
the instant fake recipe: the tables must say what the store holds, and the command and the
function must be one sweep."""

from __future__ import annotations

import importlib.metadata
import json
import math
import sqlite3
import sys

import pytest
import sweep_fake_plugin
from click.testing import CliRunner

import aimc_plugins
from aimc_plugins.api.comparison import compare, plan_comparison
from aimc_plugins.api.results import (
    EPOCH_COLUMNS,
    RUN_COLUMNS,
    NoResults,
    load_epochs,
    load_results,
    write_report,
)
from aimc_plugins.cli.main import cli
from aimc_plugins.host import plugins
from aimc_plugins.sweep.spec import SpecError

pd = pytest.importorskip("pandas")

FAKE = sweep_fake_plugin.RECIPE


@pytest.fixture
def fake_recipe(fresh_plugins):
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    yield FAKE


def fake_accuracy(epoch: int, lr: float, seed: int) -> float:
    """What the fake recipe reports (tests/sweep_fake_plugin.py)."""
    return 0.5 + 0.1 * epoch * lr + 0.01 * seed


def small(out, **kwargs):
    arguments = dict(
        recipe=FAKE,
        devices=["Idealized", "IdealizedPreset"],
        optimizers=["sgd", "digital"],
        params={"lr": 0.2},
        seeds=3,
        epochs=2,
        out=out,
        workers=0,
        progress=False,
    )
    return compare(**{**arguments, **kwargs})


def test_the_facade_exports_the_api():
    for name in ("compare", "load_results", "load_epochs", "write_report"):
        assert name in aimc_plugins.__all__
    assert aimc_plugins.compare is compare
    assert aimc_plugins.load_results is load_results


def test_compare_runs_stores_reports_and_resumes(tmp_path, fake_recipe):
    out = tmp_path / "cmp"
    results = small(out)
    # Idealized x sgd, the preset under its own algorithm, digital once: 3 configs x 3 seeds
    assert len(results.runs) == 9 and len(results.new) == 9 and results.skipped == 0
    assert results.counts == {"done": 9, "failed": 0, "diverged": 0}
    assert results.exit_code() == 0
    assert results.report is not None and results.report.html.is_file()
    assert (out / "results.csv").is_file()
    again = small(out)
    assert again.new == [] and again.skipped == 9
    # the same sweep from the command line finds every run: one run id per configuration
    cli_args = ["compare", "--recipe", FAKE, "--device", "Idealized", "--device"]
    cli_args += ["IdealizedPreset", "--optimizer", "sgd", "--optimizer", "digital"]
    cli_args += ["--param", "lr=0.2", "--seeds", "3", "--epochs", "2", "--out", str(out)]
    result = CliRunner().invoke(cli, [*cli_args, "--workers", "0", "--quiet", "--no-report"])
    assert result.exit_code == 0, result.output
    assert "9 already in" in result.output and "0 run now" in result.output


def test_load_results_has_one_row_per_stored_run_with_config_and_final_metrics(
    tmp_path, fake_recipe
):
    out = tmp_path / "cmp"
    small(out, report=False)
    runs = load_results(out)
    assert isinstance(runs, pd.DataFrame)
    assert list(runs.columns[: len(RUN_COLUMNS)]) == list(RUN_COLUMNS)
    with sqlite3.connect(out / "results.sqlite") as conn:
        stored = dict(conn.execute("SELECT run_id, final FROM runs").fetchall())
    assert sorted(runs.run_id) == sorted(stored)
    for row in runs.itertuples():
        assert row.test_accuracy == json.loads(stored[row.run_id])["test_accuracy"]
        assert row.status == "done" and row.last_epoch == 2 and row.duration_s >= 0
    sgd = runs[runs.optimizer == "sgd"].sort_values("seed")
    assert list(sgd.test_accuracy) == pytest.approx([fake_accuracy(2, 0.2, s) for s in range(3)])
    assert set(sgd["params.lr"]) == {0.2}
    assert set(runs.kind) == {"aihwkit preset device", "aihwkit preset config", "digital baseline"}
    means = runs.groupby(["device", "optimizer"]).test_accuracy.mean()
    assert means[("Idealized", "sgd")] == pytest.approx(fake_accuracy(2, 0.2, 1))


def test_load_epochs_is_long_form_and_matches_the_history(tmp_path, fake_recipe):
    out = tmp_path / "cmp"
    small(out, report=False)
    epochs = load_epochs(out)
    assert list(epochs.columns) == list(EPOCH_COLUMNS)
    assert set(epochs.metric) == {"train_loss", "test_accuracy"}
    assert len(epochs) == 9 * 2 * 2  # runs x epochs x metrics
    curve = epochs[
        (epochs.device == "Idealized") & (epochs.seed == 1) & (epochs.metric == "test_accuracy")
    ]
    assert list(curve.epoch) == [1, 2]
    assert list(curve.value) == pytest.approx([fake_accuracy(e, 0.2, 1) for e in (1, 2)])
    joined = epochs.merge(load_results(out)[["run_id", "status"]], on="run_id")
    assert len(joined) == len(epochs)


def test_failed_and_diverged_runs_are_rows_with_nan_metrics(tmp_path, fake_recipe):
    out = tmp_path / "cmp"
    results = small(
        out,
        devices=["Idealized"],
        optimizers=["sgd"],
        options={"fail_seeds": [0], "diverge_seeds": [1]},
    )
    assert results.counts == {"done": 1, "failed": 1, "diverged": 1}
    assert results.exit_code() == 1 and results.exit_code(allow_failures=True) == 0
    runs = load_results(out).set_index("seed")
    assert runs.loc[0, "status"] == "failed" and "fake failure on seed 0" in runs.loc[0, "error"]
    assert math.isnan(runs.loc[0, "test_accuracy"]) and math.isnan(runs.loc[1, "test_accuracy"])
    assert runs.loc[2, "test_accuracy"] == pytest.approx(fake_accuracy(2, 0.2, 2))
    summary = results.summary()
    assert summary["exit_code"] == 1 and {f["seed"] for f in summary["failures"]} == {0, 1}
    json.dumps(summary, allow_nan=False)  # strict JSON: no NaN where one run gives no interval


def test_write_report_from_a_folder(tmp_path, fake_recipe):
    out = tmp_path / "cmp"
    small(out, report=False)
    assert not (out / "report.html").exists()
    report = write_report(out, tmp_path / "paper", title="Fake comparison")
    assert report.html == tmp_path / "paper" / "report.html" and report.html.is_file()
    assert "Fake comparison" in report.html.read_text()
    assert {r.device for r in report.rows} == {"Idealized", "IdealizedPreset", "floating point"}
    for row in report.rows:  # every configuration ran at lr 0.2: the mean over seeds 0, 1, 2
        assert row.mean == pytest.approx(fake_accuracy(2, 0.2, 1)) and row.n_done == 3
    assert report.counts["done"] == 9 and report.metric == "test_accuracy"
    with pytest.raises(NoResults):
        write_report(out, tmp_path / "x", recipe="digits-mlp")


def test_reading_a_folder_without_a_store_never_creates_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"holds no results\.sqlite"):
        load_results(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_without_pandas_the_error_names_the_extra(tmp_path, fake_recipe, monkeypatch):
    out = tmp_path / "cmp"
    small(out, devices=["Idealized"], optimizers=["sgd"], seeds=1, report=False)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match=r"aimc-plugins\[pandas\]"):
        load_results(out)
    with pytest.raises(ImportError, match=r"aimc-plugins\[pandas\]"):
        load_epochs(out)
    assert aimc_plugins.load_outcomes(out)[0].status == "done"  # no pandas needed


def test_specs_from_a_dict_and_argument_errors(tmp_path, fake_recipe):
    spec = {"recipe": FAKE, "devices": ["Idealized"], "optimizers": ["sgd"], "seeds": 2}
    planned = plan_comparison(spec, epochs=1)
    assert len(planned.runs) == 2 and {r.epochs for r in planned.runs} == {1}
    assert str(planned.out) == "sweeps/sweep"
    with pytest.raises(SpecError, match="devices cannot be combined with a spec"):
        plan_comparison(spec, devices=["EcRam"])
    with pytest.raises(SpecError, match="at least one device"):
        plan_comparison(recipe=FAKE)
    with pytest.raises(SpecError, match="unknown device 'ReRamSb'"):
        plan_comparison(recipe=FAKE, devices="ReRamSb")


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_compare_json_is_the_only_stdout_and_carries_rows_and_exit_code(tmp_path, fake_recipe):
    out = tmp_path / "cmp"
    args = ["compare", "--recipe", FAKE, "--device", "Idealized", "--optimizer", "sgd"]
    args += ["--option", "fail_seeds=[2]", "--out", str(out), "--workers", "0", "--quiet"]
    result = invoke(*args, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert data["out"] == str(out) and data["counts"] == {"done": 2, "failed": 1, "diverged": 0}
    assert data["exit_code"] == 1 and data["exit_meaning"] == "some runs failed or diverged"
    (row,) = data["report"]["rows"]
    assert (row["device"], row["optimizer"], row["n_done"], row["n_runs"]) == (
        "Idealized",
        "sgd",
        2,
        3,
    )
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert str(out / "report.html") in data["report"]["paths"]
    assert "3 runs of fake-quick" in result.stderr and "1 of 3 runs failed" in result.stderr
    listing = json.loads(invoke(*args, "--dry-run", "--json").stdout)
    assert listing["planned"] == 3 and listing["todo"] == 0  # a failed run is kept as failed
    retry = json.loads(invoke(*args, "--dry-run", "--json", "--retry-failed").stdout)
    assert sorted(r["state"] for r in retry["runs"]) == ["done", "done", "todo"]


def test_report_json_lists_paths_and_rows(tmp_path, fake_recipe):
    out = tmp_path / "cmp"
    small(out, report=False)
    result = invoke("report", str(out), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["folder"] == str(out) and data["metric"] == "test_accuracy"
    assert [r["rank"] for r in data["rows"]] == [1, 2, 3]
    assert all((out / p).exists() or p for p in data["paths"])
    assert str(out / "report.html") in data["paths"]


def test_doctor_json_has_the_checks_and_the_same_exit_code():
    result = invoke("doctor", "--json")
    data = json.loads(result.stdout)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["aihwkit"]["detail"] == importlib.metadata.version("aihwkit")  # either pair
    assert checks["AnalogLinear update"]["ok"] is True
    assert data["ok"] == (result.exit_code == 0)
    assert data["ok"] == (not data["failed_plugins"] and all(c["ok"] for c in data["checks"]))
