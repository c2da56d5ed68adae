"""--accelerator cuda without a GPU: the per-worker GPU pinning (pure logic, and a real spawned
pool that reports the CUDA_VISIBLE_DEVICES each worker ends up with), the least-squares recipe's
device argument, and the accelerator benchmark's CUDA column."""

from __future__ import annotations

import multiprocessing

import gpu_pin_fake_plugin
import pytest

from aimc_plugins.host import plugins
from aimc_plugins.sweep import execute
from aimc_plugins.sweep.spec import plan
from aimc_plugins.training import accelerators
from aimc_plugins.training.run import DONE


def test_visible_gpus_from_the_environment_or_the_count():
    assert accelerators.visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 5"}) == ["2", "5"]
    uuids = {"CUDA_VISIBLE_DEVICES": "GPU-aa,GPU-bb"}
    assert accelerators.visible_gpus(uuids) == ["GPU-aa", "GPU-bb"]
    assert accelerators.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, count=4) == []
    assert accelerators.visible_gpus({}, count=3) == ["0", "1", "2"]
    assert accelerators.visible_gpus({}, count=0) == []


def test_workers_take_the_gpus_round_robin():
    gpus = ["0", "1", "2", "3"]
    assert [accelerators.gpu_for_worker(i, gpus) for i in range(6)] == list("012301")
    assert accelerators.gpu_for_worker(0, []) is None


def test_pin_worker_numbers_workers_through_the_shared_counter():
    counter = multiprocessing.get_context("spawn").Value("i", 0)
    envs: list[dict[str, str]] = [{} for _ in range(3)]
    pinned = [accelerators.pin_worker(counter, ["4", "7"], env) for env in envs]
    assert pinned == ["4", "7", "4"]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["4", "7", "4"]
    env: dict[str, str] = {}
    assert accelerators.pin_worker(None, ["4"], env) is None and env == {}


def test_pool_workers_each_see_one_gpu(fresh_plugins, monkeypatch):
    plugins.register(gpu_pin_fake_plugin, name="gpu_pin_fake_plugin")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    runs = plan(gpu_pin_fake_plugin.RECIPE, ["Idealized"], ["digital"], 6, 1)
    outcomes = list(execute.run_pool(runs, 2, accelerator="cuda", threads=1))
    assert all(o.status == DONE for o in outcomes), [o.error for o in outcomes]
    by_pid: dict[float, set[float]] = {}
    for outcome in outcomes:
        assert outcome.final["accelerator_cuda"] == 1.0
        by_pid.setdefault(outcome.final["pid"], set()).add(outcome.final["gpu"])
    assert all(len(gpus) == 1 for gpus in by_pid.values())  # one GPU per worker
    seen = set().union(*by_pid.values())
    assert seen <= {3.0, 5.0}
    assert len(seen) == len(by_pid)  # two workers: two different GPUs


def test_pool_on_the_cpu_leaves_cuda_visible_devices_alone(fresh_plugins, monkeypatch):
    plugins.register(gpu_pin_fake_plugin, name="gpu_pin_fake_plugin")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    runs = plan(gpu_pin_fake_plugin.RECIPE, ["Idealized"], ["digital"], 1, 1)
    (outcome,) = execute.run_pool(runs, 1, accelerator="cpu", threads=1)
    assert outcome.final["gpu"] == -1.0  # saw "3,5", as the parent does


@pytest.mark.parametrize("recipe", ["least-squares", "digits-mlp"])
def test_recipes_move_their_tiles_to_the_run_device(recipe):
    """The recipe's own loop (least squares) and the shared classifier loop both move the analog
    tiles to ``RunConfig.accelerator``: on an aihwkit without CUDA, that is where ``cuda`` fails."""
    from aihwkit.simulator import rpu_base

    from aimc_plugins.host.records import RunConfig
    from aimc_plugins.training.setup import setup_for

    if rpu_base.cuda.is_compiled():
        pytest.skip("this aihwkit has CUDA")
    spec = plan(recipe, ["Idealized"], ["sgd"], 1, 1)[0]
    config = RunConfig(setup=setup_for(spec), seed=0, epochs=1, accelerator="cuda")
    with pytest.raises(Exception, match="not been compiled with CUDA"):
        plugins.lookup(plugins.recipes, recipe, "recipe").run(config)


def test_benchmark_prints_cpu_and_says_why_not_cuda(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from aihwkit.simulator import rpu_base

    if rpu_base.cuda.is_compiled():
        pytest.skip("this aihwkit has CUDA")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "accelerators.py"
    out = tmp_path / "bench.json"
    command = [sys.executable, str(script), "--steps", "1", "--repeats", "1", "--batch", "2"]
    printed = subprocess.run(
        [*command, "--json", str(out)], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert "| FCN 784-256-128-10, batch 2 |" in printed and "| LeNet-like CNN, batch 2 |" in printed
    assert "n/a: aihwkit compiled without CUDA" in printed
    for row in json.loads(out.read_text())["rows"].values():
        assert row["cpu"]["steps_per_s"] > 0
        assert row["cuda"] == {"steps_per_s": None, "note": "aihwkit compiled without CUDA"}
