"""The sweep engine on a fake instant recipe: store, resume, divergence, failures, the process
pool and Dask's local cluster."""

from __future__ import annotations

import math
import sqlite3

import pytest
import sweep_fake_plugin

from aimc_plugins.host import plugins
from aimc_plugins.sweep import execute
from aimc_plugins.sweep.engine import ExecutionOptions, run_sweep
from aimc_plugins.sweep.spec import plan
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.run import DIVERGED, DONE, FAILED, RunOutcome

SERIAL = ExecutionOptions(workers=0, show_progress=False)


@pytest.fixture
def fake_recipe(fresh_plugins):
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    yield sweep_fake_plugin.RECIPE


def fake_runs(seeds=2, options=None, optimizers=("digital",)):
    return plan(sweep_fake_plugin.RECIPE, ["Idealized"], list(optimizers), seeds, 2, {}, options)


def test_store_round_trips_outcomes_with_epochs_and_versions(tmp_path, fake_recipe):
    runs = fake_runs()
    with ResultsStore.in_folder(tmp_path) as store:
        report = run_sweep(runs, store, "t", SERIAL)
        assert report.ran == 2 and report.skipped == 0
        stored = {o.run.run_id: o for o in store.outcomes()}
        assert store.integrity_ok()
    assert set(stored) == {r.run_id for r in runs}
    outcome = stored[runs[1].run_id]
    assert outcome.run == runs[1]
    assert outcome.status == DONE
    assert [h["epoch"] for h in outcome.history] == [1, 2]
    assert outcome.final["test_accuracy"] == pytest.approx(0.5 + 0.2 * 0.1 + 0.01)
    assert {"python", "torch", "aihwkit", "plugin:sweep_fake_plugin"} <= set(outcome.versions)
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_second_run_of_the_same_sweep_runs_nothing(tmp_path, fake_recipe):
    runs = fake_runs(seeds=3)
    with ResultsStore.in_folder(tmp_path) as store:
        run_sweep(runs[:1], store, "t", SERIAL)
        again = run_sweep(runs, store, "t", SERIAL)
        assert (again.skipped, again.ran) == (1, 2)
        third = run_sweep(runs, store, "t", SERIAL)
        assert (third.skipped, third.ran) == (3, 0)


def test_divergence_and_failure_are_recorded_and_the_sweep_goes_on(tmp_path, fake_recipe):
    runs = fake_runs(seeds=4, options={"diverge_seeds": [1], "fail_seeds": [2]})
    with ResultsStore.in_folder(tmp_path) as store:
        run_sweep(runs, store, "t", SERIAL)
        by_seed = {o.run.seed: o for o in store.outcomes()}
        assert store.count() == {DONE: 2, DIVERGED: 1, FAILED: 1}
        assert by_seed[1].status == DIVERGED and math.isnan(by_seed[1].final["test_accuracy"])
        assert "NaN" in by_seed[1].error
        assert by_seed[2].status == FAILED and "fake failure on seed 2" in by_seed[2].error
        # Failed runs are finished: skipped unless asked to retry them.
        assert run_sweep(runs, store, "t", SERIAL).ran == 0
        retry = ExecutionOptions(workers=0, show_progress=False, retry_failed=True)
        assert [o.run.seed for o in run_sweep(runs, store, "t", retry).outcomes] == [2]


def test_an_infinite_numpy_metric_counts_as_diverged(tmp_path, fake_recipe):
    runs = fake_runs(seeds=2, options={"overflow_seeds": [0]})
    with ResultsStore.in_folder(tmp_path) as store:
        run_sweep(runs, store, "t", SERIAL)
        by_seed = {o.run.seed: o for o in store.outcomes()}
    assert by_seed[0].status == DIVERGED and "infinite" in by_seed[0].error
    assert math.isinf(by_seed[0].final["train_loss"])
    assert by_seed[1].status == DONE


def test_unknown_recipe_option_is_rejected_before_any_run(fake_recipe):
    from aimc_plugins.host.records import ParameterError
    from aimc_plugins.training.setup import validate

    with pytest.raises(ParameterError, match="has no parameter 'diverge_seed'; did you mean"):
        validate(fake_runs(options={"diverge_seed": [1]}))


def test_training_loop_stops_on_a_nan_loss_and_reports_nan_metrics():
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from aimc_plugins.host.records import RunConfig, TrainingSetup
    from aimc_plugins.training.loop import train_classifier

    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight[0, 0] = math.nan  # what a blown-up update leaves behind
    data = TensorDataset(torch.ones(8, 4), torch.zeros(8, dtype=torch.long))
    config = RunConfig(setup=TrainingSetup(rpu_config=None, lr=0.1), epochs=3)
    result = train_classifier(model, DataLoader(data, batch_size=4), DataLoader(data), config, 3)
    assert len(result.history) == 1  # stopped at the first epoch
    assert math.isnan(result.final["test_accuracy"])


def test_threads_per_worker_never_exceed_the_cores():
    assert execute.threads_per_worker(1, cores=2) == 2
    assert execute.threads_per_worker(2, cores=2) == 1
    assert execute.threads_per_worker(3, cores=2) == 1
    assert execute.threads_per_worker(2, cores=16) == 8


def test_process_pool_runs_in_spawned_workers_with_in_process_plugins(tmp_path, fake_recipe):
    runs = fake_runs(seeds=3)
    events = []
    outcomes = list(execute.run_pool(runs, 2, on_epoch=lambda *e: events.append(e), threads=1))
    assert sorted(o.run.run_id for o in outcomes) == sorted(r.run_id for r in runs)
    assert all(o.status == DONE for o in outcomes)
    assert all(o.versions["plugin:sweep_fake_plugin"] for o in outcomes)
    assert len(events) >= 1  # epoch progress travels back from the workers


def test_object_plugins_fall_back_to_this_process(tmp_path, fresh_plugins):
    class ObjectPlugin:
        @staticmethod
        @plugins.hookspecs.hookimpl
        def register_recipes(register):
            sweep_fake_plugin.register_recipes(register)

    plugins.register(ObjectPlugin(), name="object-plugin")
    runs = fake_runs(seeds=1)
    with ResultsStore.in_folder(tmp_path) as store:
        report = run_sweep(runs, store, "t", ExecutionOptions(workers=2, show_progress=False))
    assert report.backend == "this process" and report.outcomes[0].status == DONE


def test_dask_local_cluster_runs_the_sweep(tmp_path, fake_recipe):
    pytest.importorskip("dask.distributed")
    runs = fake_runs(seeds=2)
    dask = execute.DaskTarget(workers=2, processes=False)
    options = ExecutionOptions(dask=dask, show_progress=False)
    with ResultsStore.in_folder(tmp_path) as store:
        report = run_sweep(runs, store, "t", options)
        assert report.backend.startswith("dask")
        assert sorted(o.run.seed for o in store.outcomes()) == [0, 1]
        assert all(o.status == DONE for o in store.outcomes())


def test_outcomes_pickle_for_the_pool_and_dask():
    # The outcome type carries only plain data: it must pickle for the pool and Dask.
    import pickle

    (run,) = plan("digits-mlp", ["Idealized"], ["sgd"], 1, 1)
    outcome = RunOutcome(run, DONE, ({"epoch": 1, "test_accuracy": 0.5},), {"test_accuracy": 0.5})
    assert pickle.loads(pickle.dumps(outcome)) == outcome


def test_a_result_that_cannot_come_back_becomes_a_failed_outcome(fake_recipe):
    """The worker finishes, but its outcome fails to pickle on the way back: that run (only)
    is a FAILED outcome naming the error, and the pool goes on with the others."""
    runs = fake_runs(seeds=2, options={"unpicklable_seeds": [1]})
    outcomes = {o.run.seed: o for o in execute.run_pool(runs, 1, threads=1)}
    assert sorted(outcomes) == [0, 1]
    assert outcomes[0].status == DONE
    assert outcomes[1].status == FAILED
    assert outcomes[1].error.startswith("worker: ")
    assert "this note cannot be pickled" in outcomes[1].error


def test_a_killed_worker_stops_the_pool_with_worker_died(fake_recipe):
    """A worker killed mid-run (SIGKILL, as the OOM killer does) breaks the pool: run_pool raises
    WorkerDied, telling the user to resume, instead of hanging or reporting a made-up outcome."""
    runs = fake_runs(seeds=1, options={"die_seeds": [0]})
    with pytest.raises(execute.WorkerDied, match="worker process died"):
        list(execute.run_pool(runs, 1, threads=1))


def test_the_dying_fake_recipe_refuses_to_kill_the_test_process(tmp_path, fake_recipe):
    runs = fake_runs(seeds=1, options={"die_seeds": [0]})
    with ResultsStore.in_folder(tmp_path) as store:
        (outcome,) = run_sweep(runs, store, "t", SERIAL).outcomes
    assert outcome.status == FAILED and "only kills worker processes" in outcome.error


def test_dask_joins_a_running_scheduler(tmp_path, fake_recipe):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        target = execute.DaskTarget(address=cluster.scheduler_address)
        outcomes = list(execute.run_dask(fake_runs(seeds=2), target))
    assert sorted(o.run.seed for o in outcomes) == [0, 1]
    assert all(o.status == DONE for o in outcomes)
