"""Caveats travel with the numbers: a transfer schedule too slow for the run's budget is noted on
the run, kept by the results store, and printed under the table; so is a run that does not
repeat from its seed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from aimc_plugins.report.summary import run_notes
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import DONE, run_one

SLOW = PlannedRun(
    recipe="digits-mlp",
    device="Idealized",
    optimizer="ttv1",
    seed=0,
    epochs=1,
    params={"n_reads_per_transfer": 1},
    options={"n_train": 300},
)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Runs in this process on one thread, as a one-core sweep worker runs them (a run on
    several threads is recorded as not repeating, and noted under the table)."""
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_a_slow_transfer_schedule_is_noted_stored_and_reported(tmp_path: Path) -> None:
    slow = run_one(SLOW)
    assert slow.status == DONE, slow.error
    assert len(slow.notes) == 1 and slow.notes[0].startswith("slow transfer schedule")
    with ResultsStore.in_folder(tmp_path) as store:
        store.record(slow)
        (stored,) = store.outcomes()
    assert stored.notes == slow.notes
    assert run_notes([stored, stored]) == [f"{SLOW.label}: {slow.notes[0]}"]


def test_default_schedules_and_analog_sgd_carry_no_note() -> None:
    for spec in (replace(SLOW, params={}), replace(SLOW, optimizer="sgd", params={})):
        outcome = run_one(spec)
        assert outcome.status == DONE and outcome.notes == (), (spec.label, outcome.notes)
        assert run_notes([outcome]) == []


def test_runs_that_do_not_repeat_are_counted_in_the_notes() -> None:
    outcome = run_one(replace(SLOW, optimizer="digital", params={}))
    unseeded = replace(outcome, versions={**outcome.versions, "deterministic": "no: test"})
    assert run_notes([outcome, unseeded, unseeded]) == [
        "2 run(s) do not repeat from their seed (no: test)"
    ]


def test_a_store_written_before_notes_existed_still_opens(tmp_path: Path) -> None:
    import sqlite3

    from aimc_plugins.sweep import store as store_module

    old_schema = store_module._SCHEMA.replace(
        ",\n    notes TEXT NOT NULL DEFAULT '[]',\n    pulses TEXT NOT NULL DEFAULT '[]'", ""
    )
    assert "notes" not in old_schema and "pulses" not in old_schema
    with sqlite3.connect(tmp_path / store_module.STORE_NAME) as conn:
        conn.executescript(old_schema)
        conn.execute(
            "INSERT INTO runs (run_id, sweep, recipe, device, optimizer, seed, epochs, config, "
            "spec, status, finished_at) VALUES ('r1', '', 'digits-mlp', 'Idealized', 'sgd', 0, 1, "
            "'{}', ?, 'done', 0)",
            (
                '{"recipe": "digits-mlp", "device": "Idealized", "optimizer": "sgd", "seed": 0, '
                '"epochs": 1}',
            ),
        )
    with ResultsStore.in_folder(tmp_path) as store:
        (outcome,) = store.outcomes()
    assert outcome.notes == () and outcome.pulses == () and outcome.run.device == "Idealized"
