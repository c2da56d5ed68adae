"""Experiment trackers: the events a chosen tracker receives (started, each epoch, finished, in
order, with the stored numbers) in this process and in a pool worker; a raising tracker reported
once per run with the run unchanged; trackers chosen by name, checked up front, and not part of
a run's id. The TensorBoard tracker is tested in plugins/aimc-tensorboard."""

from __future__ import annotations

import csv
import importlib
import json
import logging
import math
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import sweep_fake_plugin
import tracker_fake_plugin
import tracker_raising_plugin
from click.testing import CliRunner

from aimc_plugins import Tracker, hookimpl
from aimc_plugins.cli.main import cli
from aimc_plugins.host import plugins
from aimc_plugins.sweep.engine import ExecutionOptions, run_sweep
from aimc_plugins.sweep.spec import SpecError, check, plan, spec_from_dict
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.run import DIVERGED, DONE, FAILED, run_one
from aimc_plugins.training.tracking import STOPPED, Tracking, choose_trackers, tracked

LOG, RAISING = tracker_fake_plugin.TRACKER, tracker_raising_plugin.TRACKER
WARNING = re.compile(r"tracker 'raising' \(plugin 'tracker_raising_plugin'\) raised in (\w+)")


@pytest.fixture
def trackers(fresh_plugins):
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    plugins.register(tracker_fake_plugin, name="tracker_fake_plugin")
    plugins.register(tracker_raising_plugin, name="tracker_raising_plugin")


def fake_runs(seeds=2, epochs=3, options=None):
    return plan(sweep_fake_plugin.RECIPE, [], ["digital"], seeds, epochs, {}, options)


def sweep(out, runs, track=(), workers=0):
    options = ExecutionOptions(workers=workers, show_progress=False, track=track)
    with ResultsStore.in_folder(out) as store:
        run_sweep(runs, store, "tracked", options)
        return {o.run.run_id: o for o in store.outcomes()}


def by_run(events):
    grouped: dict[str, list[dict]] = {}
    for event in events:
        grouped.setdefault(event["run_id"], []).append(event)
    return grouped


def assert_matches_store(events, outcome):
    """started, one epoch_ended per stored epoch (in order, same metrics), finished."""
    hooks = [e["hook"] for e in events]
    assert hooks == ["run_started"] + ["epoch_ended"] * len(outcome.history) + ["run_finished"]
    epochs = [e for e in events if e["hook"] == "epoch_ended"]
    assert [e["epoch"] for e in epochs] == [h["epoch"] for h in outcome.history]
    for event, stored in zip(epochs, outcome.history, strict=True):
        assert event["metrics"].keys() == stored.keys()
        for key, value in stored.items():
            assert event["metrics"][key] == pytest.approx(value, nan_ok=True)
    finished = events[-1]
    assert finished["status"] == outcome.status
    assert finished["final"] == pytest.approx(dict(outcome.final), nan_ok=True)
    assert finished["error"] == outcome.error


def test_a_chosen_tracker_sees_each_run_in_order_with_the_stored_numbers(tmp_path, trackers):
    runs = fake_runs(seeds=2, epochs=3)
    stored = sweep(tmp_path, runs, track=(LOG,))
    grouped = by_run(tracker_fake_plugin.read_events(tmp_path))
    assert set(grouped) == {r.run_id for r in runs}
    for run in runs:
        events = grouped[run.run_id]
        assert_matches_store(events, stored[run.run_id])
        assert stored[run.run_id].status == DONE and len(stored[run.run_id].history) == 3
        started = events[0]
        assert started["config"] == run.config() and started["seed"] == run.seed
        assert started["sweep"] == "tracked" and started["label"] == run.label
        assert {e["pid"] for e in events} == {os.getpid()}  # delivered where the run trained
        assert {e["tracker"] for e in events} == {LOG}


def test_failed_and_diverged_runs_are_finished_too_and_every_stored_epoch_is_seen(
    tmp_path, trackers
):
    # The fake recipe does not announce the epoch in which it diverges: it reaches the tracker
    # from the run's history, so the tracker still holds what the store holds.
    runs = fake_runs(seeds=3, epochs=3, options={"diverge_seeds": [1], "fail_seeds": [2]})
    stored = sweep(tmp_path, runs, track=(LOG,))
    grouped = by_run(tracker_fake_plugin.read_events(tmp_path))
    statuses = {}
    for run in runs:
        assert_matches_store(grouped[run.run_id], stored[run.run_id])
        statuses[run.seed] = grouped[run.run_id][-1]["status"]
    assert statuses == {0: DONE, 1: DIVERGED, 2: FAILED}
    diverged = [e for e in grouped[runs[1].run_id] if e["hook"] == "epoch_ended"]
    assert len(diverged) == 1 and math.isnan(diverged[0]["metrics"]["test_accuracy"])
    assert "fake failure on seed 2" in grouped[runs[2].run_id][-1]["error"]


def test_a_raising_tracker_is_reported_once_per_run_and_changes_nothing(tmp_path, trackers, caplog):
    runs = fake_runs(seeds=2, epochs=3)
    untracked = sweep(tmp_path / "plain", runs)
    with caplog.at_level(logging.WARNING):
        tracked_runs = sweep(tmp_path / "tracked", runs, track=(RAISING, LOG))
    for run_id, outcome in untracked.items():
        other = tracked_runs[run_id]
        assert (other.status, other.error) == (outcome.status, outcome.error) == (DONE, "")
        assert other.history == outcome.history and other.final == outcome.final
    # It raised in all 5 events of each run, and was told once per run, naming it and its plugin
    calls = (tmp_path / "tracked" / "raising-calls" / str(os.getpid())).read_text().split()
    assert len(calls) == 2 * 5
    warnings = [r.getMessage() for r in caplog.records if "raised in" in r.getMessage()]
    assert len(warnings) == 2
    assert all(WARNING.search(w).group(1) == "run_started" for w in warnings)
    assert "RuntimeError: tracker server unreachable" in warnings[0]
    assert {run.run_id for run in runs} == {w.split(" for run ")[1].split()[0] for w in warnings}
    # ... and the other tracker, chosen beside it, saw everything
    grouped = by_run(tracker_fake_plugin.read_events(tmp_path / "tracked"))
    for run in runs:
        assert_matches_store(grouped[run.run_id], tracked_runs[run.run_id])


def test_in_a_pool_worker_events_arrive_in_order_and_a_raising_tracker_is_reported(
    tmp_path, trackers, capfd
):
    runs = fake_runs(seeds=2, epochs=3)
    stored = sweep(tmp_path, runs, track=(LOG, RAISING), workers=1)
    events = tracker_fake_plugin.read_events(tmp_path)
    grouped = by_run(events)
    for run in runs:
        assert stored[run.run_id].status == DONE
        assert_matches_store(grouped[run.run_id], stored[run.run_id])
    pids = {e["pid"] for e in events}
    assert len(pids) == 1 and os.getpid() not in pids  # the worker's, not this process's
    err = capfd.readouterr().err
    assert len(WARNING.findall(err)) == 2, err  # once per run, from the worker's stderr


def test_trackers_see_nothing_unless_chosen(tmp_path, trackers):
    sweep(tmp_path, fake_runs(seeds=1), track=())
    assert tracker_fake_plugin.read_events(tmp_path) == []
    assert not (tmp_path / "raising-calls").exists()
    sweep(tmp_path / "log-only", fake_runs(seeds=1), track=(LOG,))
    assert not (tmp_path / "log-only" / "raising-calls").exists()


def test_an_unknown_tracker_fails_before_anything_runs(tmp_path, trackers):
    with pytest.raises(ValueError, match="unknown tracker 'fake-lgo'") as error:
        sweep(tmp_path, fake_runs(seeds=1), track=("fake-lgo",))
    assert "Did you mean 'fake-log'?" in str(error.value)
    known = str(error.value).split("Known trackers: ")[1].rstrip(".").split(", ")
    assert {LOG, RAISING} <= set(known) and known == sorted(known)
    with ResultsStore.in_folder(tmp_path) as store:
        assert store.count() == {}
    data = {"recipe": sweep_fake_plugin.RECIPE, "devices": ["Idealized"]}
    with pytest.raises(SpecError, match="unknown tracker 'nope'"):
        check(spec_from_dict({**data, "optimizers": ["digital"], "track": ["nope"]}))
    with pytest.raises(SpecError, match="track must be a tracker name or a list"):
        spec_from_dict({**data, "optimizers": ["digital"], "track": [1]})


def test_compare_rejects_an_unknown_track_with_the_known_names(tmp_path, trackers):
    flags = [
        "--recipe",
        sweep_fake_plugin.RECIPE,
        "--device",
        "Idealized",
        "--optimizer",
        "digital",
    ]
    args = ["compare", *flags, "--track", "tensorbaord", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "unknown tracker 'tensorbaord'" in result.output and LOG in result.output
    assert not (tmp_path / "o").exists()


def test_track_in_a_spec_reaches_the_runs_and_leaves_run_ids_alone(tmp_path, trackers):
    data = {
        "name": "tracked",
        "recipe": sweep_fake_plugin.RECIPE,
        "devices": ["Idealized"],
        "optimizers": ["digital"],
        "seeds": 2,
        "epochs": 2,
    }
    plain = check(spec_from_dict(data))
    tracked_spec = spec_from_dict({**data, "track": LOG})
    assert tracked_spec.track == (LOG,)
    assert [r.run_id for r in check(tracked_spec)] == [r.run_id for r in plain]
    spec = tmp_path / "tracked.toml"
    spec.write_text(
        f'recipe = "{sweep_fake_plugin.RECIPE}"\ndevices = ["Idealized"]\n'
        f'optimizers = ["digital"]\nseeds = 2\nepochs = 2\ntrack = ["{LOG}"]\n'
    )
    out = tmp_path / "out"
    args = ["compare", str(spec), "--out", str(out), "--workers", "0", "--no-report", "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    events = tracker_fake_plugin.read_events(out)
    assert {e["run_id"] for e in events} == {r.run_id for r in plain}
    # --track adds to the spec's list (each tracker once); the finished runs are not run again
    result = CliRunner().invoke(cli, [*args, "--track", RAISING, "--track", LOG])
    assert result.exit_code == 0, result.output
    assert "0 run now" in result.output and len(tracker_fake_plugin.read_events(out)) == 8


def test_a_tracker_that_cannot_run_here_or_hears_nothing_is_refused_up_front(trackers):
    class Unusable:
        @staticmethod
        @hookimpl
        def register_trackers(register):
            def missing():
                raise ImportError("pip install fancy-tracker")

            register(Tracker(name="fancy", check=missing))

        @staticmethod
        @hookimpl
        def epoch_ended(event):
            raise AssertionError("never called")

    class Deaf:  # no event hook: its tracker would receive nothing
        @staticmethod
        @hookimpl
        def register_trackers(register):
            register(Tracker(name="deaf"))

    plugins.register(Unusable(), name="unusable")
    with pytest.raises(ValueError, match=r"'fancy' .*cannot run here: ImportError: pip install"):
        choose_trackers(["fancy"])
    plugins.unregister("unusable")
    plugins.register(Deaf(), name="deaf_plugin")
    with pytest.raises(ValueError, match="implements none of the event hooks"):
        choose_trackers(["deaf"])
    assert [t.plugin for t in choose_trackers([LOG, LOG])] == ["tracker_fake_plugin"]


def test_an_interrupted_run_is_finished_as_stopped_and_the_interrupt_goes_on(tmp_path, trackers):
    run = fake_runs(seeds=1)[0]
    tracking = Tracking((LOG,), "s", str(tmp_path))
    with pytest.raises(KeyboardInterrupt), tracked(run, tracking):
        raise KeyboardInterrupt
    events = tracker_fake_plugin.read_events(tmp_path)
    assert [e["hook"] for e in events] == ["run_started", "run_finished"]
    assert events[-1]["status"] == STOPPED
    assert events[-1]["error"] == "stopped by KeyboardInterrupt"


def test_run_one_without_tracking_sends_nothing(tmp_path, trackers):
    run = replace(fake_runs(seeds=1)[0], options={"trace_dir": str(tmp_path)})
    assert run_one(run).status == DONE
    assert run_one(run, tracking=Tracking((), "s", str(tmp_path))).status == DONE
    assert tracker_fake_plugin.read_events(tmp_path) == []


def test_the_csv_tracker_of_the_guide_writes_the_stored_epochs(tmp_path, trackers, monkeypatch):
    guide = (Path(__file__).resolve().parents[1] / "docs" / "trackers.md").read_text()
    block = re.search(r"```python\n(# file: lab_csv_tracker\.py\n.*?)```", guide, re.DOTALL)
    assert block, "docs/trackers.md lost its worked example"
    (tmp_path / "lab_csv_tracker.py").write_text(block.group(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lab_csv_tracker", raising=False)
    plugins.register(importlib.import_module("lab_csv_tracker"), name="lab_csv_tracker")
    runs = fake_runs(seeds=2, epochs=3, options={"diverge_seeds": [1]})
    stored = sweep(tmp_path / "out", runs, track=("csv",))
    for run in runs:
        with open(tmp_path / "out" / "csv" / f"{run.run_id}.csv") as rows:
            table = list(csv.DictReader(rows))
        history = stored[run.run_id].history
        assert len(table) == len(history) >= 1
        for row, epoch in zip(table, history, strict=True):
            assert {k: float(v) for k, v in row.items()} == pytest.approx(
                {k: float(v) for k, v in epoch.items()}, nan_ok=True
            )


def test_aimc_trackers_lists_each_tracker_with_its_plugin(trackers):
    result = CliRunner().invoke(cli, ["trackers", "--json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.output)}
    assert listed[LOG]["plugin"] == "tracker_fake_plugin"
    assert listed[LOG]["description"] == "logs events as JSON lines"
    assert RAISING in listed
    text = CliRunner().invoke(cli, ["trackers"]).output
    assert text.splitlines()[0].split() == ["name", "plugin", "description"] and LOG in text
