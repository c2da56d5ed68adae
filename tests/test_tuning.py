"""Tuned comparisons: the same budget for every row, chosen on validation data only, resumable
after a kill, through every backend."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch
from torch.utils.data import TensorDataset

from aimc_plugins.api.comparison import compare, plan_comparison
from aimc_plugins.builtin.recipes import digits
from aimc_plugins.host.records import TEST_SPLIT, VALIDATION_SPLIT, SearchRange
from aimc_plugins.report.tuning import read_tuning
from aimc_plugins.sweep.spec import SpecError, spec_from_dict
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.sweep.tuner import _metric_tied, candidates
from aimc_plugins.sweep.tuning import TuneError, TuneSettings, rows_of, rungs, settings_from_table
from aimc_plugins.training.splits import VALIDATION_FRACTION, holdout

SMALL = dict(recipe="digits-mlp", devices=["Idealized"], optimizers=["sgd", "digital"])


def test_rungs_halve_the_trials_and_end_at_the_full_length():
    assert rungs(8, 2, 5) == [(8, 1), (4, 2), (2, 3), (1, 5)]
    assert rungs(9, 3, 9) == [(9, 1), (3, 3), (1, 9)]
    assert rungs(1, 2, 4) == [(1, 4)]
    assert rungs(8, 2, 5, min_epochs=2) == [(8, 2), (4, 2), (2, 3), (1, 5)]
    assert rungs(4, 2, 1, min_epochs=3) == [(4, 1), (2, 1), (1, 1)]  # never past the epochs
    for trials, reduction, epochs in [(5, 2, 3), (16, 4, 10), (3, 2, 1)]:
        ladder = rungs(trials, reduction, epochs)
        assert ladder[0][0] == trials and ladder[-1][1] == epochs
        assert all(a[0] >= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(ladder))


def test_tune_table_is_checked_with_reasons():
    settings = settings_from_table(
        {"trials": 4, "space": {"sgd": {"lr": {"low": 0.01, "high": 1.0, "log": True}}}}
    )
    assert settings.spaces["sgd"]["lr"] == SearchRange(0.01, 1.0, log=True)
    bad = [
        ({"trials": 0}, "trials must be an integer >= 1"),
        ({"trials": 2, "sed": 1}, "unknown key 'sed'"),
        ({"trials": 2, "space": {"sgd": {"lr": {"low": 1.0, "high": 0.1}}}}, "low < high"),
        ({"trials": 2, "space": {"sgd": {"lr": {"low": 0.0, "high": 1, "log": True}}}}, "low > 0"),
        ({}, "needs trials"),
    ]
    for table, reason in bad:
        with pytest.raises(TuneError, match=reason):
            settings_from_table(table)


def test_plan_refuses_what_cannot_be_tuned_fairly():
    with pytest.raises(SpecError, match="no parameter 'lrr'; did you mean 'lr'"):
        plan_comparison(
            {**SMALL, "tune": {"trials": 2, "space": {"sgd": {"lrr": {"low": 0.1, "high": 1}}}}}
        )
    with pytest.raises(SpecError, match="above its valid range"):  # beta <= 1 in its schema
        plan_comparison(
            {
                **SMALL,
                "optimizers": ["ttv1"],
                "tune": {"trials": 2, "space": {"ttv1": {"beta": {"low": 0.1, "high": 5}}}},
            }
        )
    with pytest.raises(SpecError, match="offers no validation split"):
        plan_comparison(recipe="least-squares", devices=["Idealized"], optimizers=["sgd"], tune=2)
    with pytest.raises(SpecError, match="no row of this comparison uses optimizer 'ttv1'"):
        plan_comparison(
            {**SMALL, "tune": {"trials": 2, "space": {"ttv1": {"alpha": {"low": 0.1, "high": 1}}}}}
        )


def test_every_row_gets_a_space_the_digital_baseline_and_presets_included():
    planned = plan_comparison(
        recipe="digits-mlp",
        devices=["Idealized", "TikiTakaReRamSBPreset"],
        optimizers=["sgd", "digital", "ttv1"],
        seeds=2,
        tune=4,
    )
    spaces = {row.label: sorted(row.space) for row in planned.rows}
    assert spaces == {
        "floating point / digital": ["lr"],
        "Idealized / sgd": ["lr"],
        "Idealized / ttv1": ["alpha", "beta"],
        "TikiTakaReRamSBPreset / preset": ["lr"],
    }
    assert all(len(row.runs) == 2 for row in planned.rows)  # one final run per seed


def test_candidates_are_the_same_for_every_row_with_the_same_space_and_repeat():
    planned = plan_comparison(**SMALL, tune=8)
    first, second = (candidates(row, planned.tune) for row in planned.rows)
    assert first == second == candidates(planned.rows[0], planned.tune)
    values = [c["lr"] for c in first]
    assert len(set(values)) == 8 and all(0.003 <= v <= 3.0 for v in values)
    assert min(values) < 0.03 and max(values) > 0.3  # spread over the log range
    other_seed = TuneSettings(trials=8, seed=1)
    assert candidates(planned.rows[0], other_seed) != first


def test_validation_split_is_a_fixed_part_of_the_training_data():
    data = TensorDataset(torch.arange(100).float().unsqueeze(1), torch.arange(100))
    rest, held = holdout(data)
    assert len(held) == round(100 * VALIDATION_FRACTION) and len(rest) + len(held) == 100
    assert set(rest.tensors[1].tolist()).isdisjoint(held.tensors[1].tolist())
    assert torch.equal(holdout(data)[1].tensors[1], held.tensors[1])  # the same every time


class _Poisoned(TensorDataset):
    """A test split that counts every read: tuning must never read it."""

    reads = 0

    def __getitem__(self, index):
        type(self).reads += 1
        return super().__getitem__(index)


def test_tuning_never_evaluates_the_test_split(tmp_path, monkeypatch):
    real = digits.load_digits_tensors

    def poisoned(*args, **kwargs):
        train, test = real(*args, **kwargs)
        return train, _Poisoned(*test.tensors)

    monkeypatch.setattr(digits, "load_digits_tensors", poisoned)
    planned = plan_comparison(**SMALL, seeds=1, epochs=2, tune=2)
    from aimc_plugins.sweep.tuner import tune

    with ResultsStore.in_folder(tmp_path) as store:
        from aimc_plugins.sweep.engine import ExecutionOptions

        outcome = tune(planned.rows, planned.tune, store, options=ExecutionOptions(workers=0))
        trials = store.outcomes()
    assert _Poisoned.reads == 0
    assert trials and all(o.run.split == VALIDATION_SPLIT for o in trials)
    assert all("val_accuracy" in o.final and "test_accuracy" not in o.final for o in trials)
    assert all(c is not None for c in outcome.chosen.values())
    # The poison does catch a read: the final (test) runs read it.
    results = compare(**SMALL, seeds=1, epochs=2, tune=2, out=tmp_path, workers=0, report=False)
    assert _Poisoned.reads > 0
    assert {o.run.split for o in results.outcomes} == {TEST_SPLIT}


def test_a_tuned_comparison_runs_each_rows_chosen_setting_and_resumes(tmp_path):
    kwargs = dict(**SMALL, seeds=2, epochs=2, tune=4, out=tmp_path, workers=0, report=False)
    results = compare(**kwargs)
    summary = read_tuning(tmp_path)
    assert summary is not None and results.tuning == summary
    # two Hyperband brackets of two trials each, both at full length (too few to prune), and
    # the best two compared over the two decision seeds
    assert summary["budget"]["trials"] == 8
    assert summary["brackets"] == [
        {"trials": [0, 2], "rungs": [[2, 2]]},
        {"trials": [1, 3], "rungs": [[2, 2]]},
    ]
    assert summary["decision_seeds"] == [0, 1]
    for row in summary["rows"]:
        assert row["chosen"] is not None and 0.5 < row["chosen_value"] <= 1.0
        assert row["tied_rungs"] == []  # these trials differ, so the metric chose
        assert len(row["chosen_seed_values"]) == 2
        assert row["chosen_value"] == pytest.approx(sum(row["chosen_seed_values"]) / 2)
        states = sorted(t["state"] for t in row["trials"])
        assert states == ["complete"] * 4
        finals = [o for o in results.outcomes if o.run.label == row["row"]]
        assert len(finals) == 2
        assert all(o.run.params["lr"] == row["chosen"]["lr"] for o in finals)
    # learning signal: the chosen settings train far above chance (0.1)
    assert all(o.final["test_accuracy"] > 0.6 for o in results.outcomes)
    again = compare(**kwargs)
    assert again.new == [] and again.tuning == summary  # nothing retrained, same decisions
    data = again.summary()
    assert [r["chosen"] for r in data["tuning"]["rows"]] == [r["chosen"] for r in summary["rows"]]
    # The study is Optuna's own: its trials and states can be read back with Optuna.
    import optuna

    names = optuna.get_all_study_names(f"sqlite:///{tmp_path / 'tuning.sqlite'}")
    assert len(names) == 2


def test_a_kill_in_the_middle_of_tuning_loses_no_finished_trial(tmp_path):
    args = [
        "compare", "--recipe", "digits-mlp", "--device", "Idealized", "--optimizer", "sgd",
        "--optimizer", "digital", "--seeds", "1", "--epochs", "2", "--tune", "2",
        "--workers", "0", "--no-report", "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "TQDM_DISABLE": "1"}
    command = [sys.executable, "-c", "from aimc_plugins.cli.main import main; main()"]
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [*command, *args, "--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    store = killed / "results.sqlite"
    deadline = time.monotonic() + 120
    before = 0
    while time.monotonic() < deadline and process.poll() is None:
        if store.exists():
            with contextlib.suppress(sqlite3.OperationalError):  # file made, tables not yet
                with sqlite3.connect(store) as conn:
                    before = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            if before >= 3:
                break
        time.sleep(0.05)
    assert process.poll() is None, "the tuning finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with ResultsStore(store) as kept:
        survived = kept.finished_ids()
    assert len(survived) >= before >= 3
    rerun = subprocess.run([*command, *args, "--out", str(killed), "--json"], env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    with ResultsStore(store) as kept:
        assert survived <= kept.finished_ids()  # nothing finished was lost or rerun
    fresh = subprocess.run([*command, *args, "--out", str(tmp_path / "fresh"), "--json"],
                           env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    chosen = [
        [(r["row"], r["chosen"], r["chosen_value"]) for r in json.loads(p.stdout)["tuning"]["rows"]]
        for p in (rerun, fresh)
    ]
    assert chosen[0] == chosen[1]  # the interrupted tuning decided what the uninterrupted did


@pytest.mark.slow  # a local Dask cluster takes half a minute to start and stop on 2 cores
def test_tuning_runs_on_the_pool_and_on_dask_with_the_same_decisions(tmp_path):
    pytest.importorskip("distributed")
    kwargs = dict(**SMALL, seeds=1, epochs=2, tune=2, report=False)
    pool = compare(**kwargs, out=tmp_path / "pool", workers=2)
    dask = compare(**kwargs, out=tmp_path / "dask", workers=2, dask_local=True)
    assert pool.backend.startswith("process pool") and dask.backend.startswith("dask")
    decided = [
        [(r["row"], r["chosen"], r["chosen_value"]) for r in results.summary()["tuning"]["rows"]]
        for results in (pool, dask)
    ]
    assert decided[0] == decided[1]


def test_scale_can_change_the_tuning_budget():
    spec = spec_from_dict(
        {**SMALL, "tune": {"trials": 8}, "scale": {"quick": {"tune": {"trials": 2}}}}
    )
    assert spec.tune is not None and spec.tune.trials == 8
    assert spec.scaled("quick").tune.trials == 2
    assert rows_of([], spec.tune) == []


def test_a_rung_whose_trials_all_reached_one_value_is_called_tied():
    nan = float("nan")
    assert _metric_tied({0: (0.1, 2.30), 1: (0.1, 2.31), 2: (0.1, 2.29)})  # all at chance
    assert _metric_tied({0: (0.1, 2.3), 1: (nan, nan), 2: (0.1, 2.2)})  # a failure aside
    assert not _metric_tied({0: (0.1, 2.3), 1: (0.1000001, 2.3)})
    assert not _metric_tied({0: (0.9, 0.3)})  # one trial chooses nothing
    assert not _metric_tied({0: (0.9, 0.3), 1: (nan, nan)})
