"""A test plugin: a recipe that reports which GPU its worker was pinned to
(``CUDA_VISIBLE_DEVICES``) and the worker's pid, touching no GPU, so the pool's per-worker GPU
pinning is tested on machines without one."""

from __future__ import annotations

import os
import time

from aimc_plugins import Recipe, RunConfig, RunResult, hookimpl

RECIPE = "fake-gpu-pin"


def run(config: RunConfig) -> RunResult:
    time.sleep(0.2)  # long enough that both workers take runs
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    metrics = {
        "epoch": 1,
        "gpu": float(visible) if visible.isdigit() else -1.0,
        "pid": float(os.getpid()),
        "accelerator_cuda": float(config.device == "cuda"),
    }
    return RunResult((metrics,), dict(metrics))


@hookimpl
def register_recipes(register):
    register(Recipe(name=RECIPE, run=run, description="reports its worker's GPU", metric="gpu"))
