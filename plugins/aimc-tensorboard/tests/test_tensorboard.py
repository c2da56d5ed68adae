"""The TensorBoard tracker: `aimc compare --track tensorboard` leaves one event folder per run
whose scalars, read back with TensorBoard's own reader, are the results store's per-epoch
metrics; in this process and in a pool worker, for finished, diverged and failed runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sweep_fake_plugin
from aimc_tensorboard import FOLDER, TRACKER, hparams_of, run_folder
from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from aimc_plugins import RunEvent
from aimc_plugins.cli.main import cli
from aimc_plugins.host import plugins
from aimc_plugins.sweep.store import ResultsStore


@pytest.fixture
def fake_recipe():
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    yield sweep_fake_plugin.RECIPE
    plugins.unregister("sweep_fake_plugin")


def compare(out: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["compare", *args, "--track", TRACKER, "--out", str(out), "--no-report", "--quiet"]
    )
    assert result.exit_code in (0, 1), result.output
    return result.output


def read(folder: Path) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return events


def assert_scalars_match_the_store(out: Path) -> list:
    """Every stored run has its folder, holding exactly the store's per-epoch metrics."""
    with ResultsStore.in_folder(out) as store:
        outcomes = store.outcomes()
    folders = {p.parent for p in (out / FOLDER).rglob("events.out.tfevents.*")}
    assert len(folders) == len(outcomes)
    for outcome in outcomes:
        run = outcome.run
        folder = out / FOLDER / run.device / run.shown_optimizer / f"seed{run.seed}-{run.run_id}"
        assert folder in folders
        events = read(folder)
        metrics = sorted({key for h in outcome.history for key in h} - {"epoch"})
        assert sorted(events.Tags()["scalars"]) == metrics
        for tag in metrics:
            scalars = events.Scalars(tag)
            assert [s.step for s in scalars] == [h["epoch"] for h in outcome.history]
            for scalar, stored in zip(scalars, outcome.history, strict=True):
                # event files hold float32: the stored float64, rounded once, exactly
                expected = np.float32(stored[tag])
                assert scalar.value == expected or (
                    math.isnan(expected) and math.isnan(scalar.value)
                )
        session = _hparams(events)
        assert session["device"].string_value == run.device
        assert session["status"].string_value == outcome.status
        assert session["seed"].number_value == run.seed
    return outcomes


def _hparams(events: EventAccumulator):
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    return plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams


def test_track_tensorboard_on_a_real_sweep_writes_the_stored_scalars(tmp_path):
    out = tmp_path / "out"
    compare(
        out,
        *("--recipe", "digits-mlp", "--device", "Idealized", "--optimizer", "sgd"),
        *("--seeds", "1", "--epochs", "2", "--workers", "0"),
    )
    (outcome,) = assert_scalars_match_the_store(out)
    assert outcome.status == "done"
    accuracy = [h["test_accuracy"] for h in outcome.history]
    assert accuracy[-1] > 0.5  # it learned (chance is 0.1): the scalars are a real run's


def test_in_a_pool_worker_with_diverged_and_failed_runs_and_a_retry(tmp_path, fake_recipe):
    out = tmp_path / "out"
    flags = ("--recipe", fake_recipe, "--device", "Idealized", "--optimizer", "digital")
    options = ("--option", "diverge_seeds=[1]", "--option", "fail_seeds=[2]")
    compare(out, *flags, *options, "--seeds", "3", "--epochs", "3", "--workers", "1")
    outcomes = {o.run.seed: o for o in assert_scalars_match_the_store(out)}
    assert {seed: o.status for seed, o in outcomes.items()} == {
        0: "done",
        1: "diverged",
        2: "failed",
    }
    failed = run_folder(_event(outcomes[2], str(out)))
    assert read(failed).Tags()["scalars"] == []  # it has no epoch, and says why
    status = read(failed).Tensors("status/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "failed" in status and "fake failure on seed 2" in status
    # Retried, the failed run fails again: its folder holds that attempt only
    compare(
        out, *flags, *options, "--seeds", "3", "--epochs", "3", "--workers", "0", "--retry-failed"
    )
    assert len(list(failed.glob("events.out.tfevents.*"))) == 1
    assert_scalars_match_the_store(out)


def _event(outcome, out_dir: str, **over) -> RunEvent:
    run = outcome.run
    fields = dict(
        run_id=run.run_id,
        label=run.label,
        device=run.device,
        optimizer=run.shown_optimizer,
        seed=run.seed,
        epochs=run.epochs,
        config=run.config(),
        out_dir=out_dir,
    )
    return RunEvent(**{**fields, **over})


def test_folders_are_one_level_per_label_part_whatever_the_label_holds():
    event = RunEvent(
        run_id="0123456789abcdef",
        label="a/b / sgd",
        device="a/b",
        optimizer="..",
        seed=2,
        epochs=1,
        config={},
        out_dir="/o",
    )
    assert run_folder(event) == Path("/o/tensorboard/a_b/_/seed2-0123456789abcdef")


def test_hparams_are_flat_values_tensorboard_accepts():
    event = RunEvent(
        run_id="x",
        label="power(g=0.5) / sgd",
        device="power(g=0.5)",
        optimizer="sgd",
        seed=0,
        epochs=3,
        config={
            "recipe": "digits-mlp",
            "device_params": {"g": 0.5},
            "params": {"lr": 0.1, "flag": True},
            "options": {"sizes": [1, 2]},
            "periphery": "paper",
        },
        status="done",
    )
    flat = hparams_of(event)
    assert flat["device.g"] == 0.5 and flat["param.flag"] is True
    assert flat["option.sizes"] == "[1, 2]" and flat["periphery"] == "paper"
    assert flat["status"] == "done" and flat["optimizer"] == "sgd"
