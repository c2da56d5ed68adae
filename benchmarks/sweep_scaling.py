"""How well a sweep scales over workers: the same short runs on 1 and 2 pool workers, and on a
local Dask cluster of 2 workers.

    .venv/bin/python benchmarks/sweep_scaling.py [--runs 8] [--epochs 20] [--recipe digits-mlp]

Each configuration runs the sweep from an empty results store (so nothing is skipped) and is
timed wall-clock from submission to the last stored run, worker start-up included: that is what
a user waits for. Parallel efficiency of N workers is ``T(1 worker) / (N * T(N workers))`` with
one torch thread per worker throughout, so it measures how well workers share the machine and
not how torch's threads scale. Runs of about 5 s each (20 epochs of the digits MLP) keep worker
start-up (a few seconds: spawn, import torch and aihwkit) from dominating. The load average is
printed before and after: other work on the machine lowers the figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aimc_plugins.sweep import execute
from aimc_plugins.sweep.engine import ExecutionOptions, run_sweep
from aimc_plugins.sweep.spec import plan
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.run import DONE


def timed(runs: list, options: ExecutionOptions) -> tuple[float, float]:
    """(wall seconds, mean seconds per run inside the workers) of one sweep from scratch."""
    with tempfile.TemporaryDirectory() as folder, ResultsStore.in_folder(Path(folder)) as store:
        start = time.perf_counter()
        report = run_sweep(runs, store, "bench", options)
        wall = time.perf_counter() - start
    bad = [o for o in report.outcomes if o.status != DONE]
    if bad or report.ran != len(runs):
        raise SystemExit(f"benchmark runs did not all finish: {bad[:1]}")
    return wall, sum(o.duration_s for o in report.outcomes) / len(report.outcomes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--recipe", default="digits-mlp")
    parser.add_argument("--device", default="ReRamSB")
    args = parser.parse_args(argv)

    runs = plan(args.recipe, [args.device], ["sgd"], args.runs, args.epochs)
    cores = execute.available_cores()
    print(f"{len(runs)} runs of {args.recipe} ({args.device}, Analog SGD, {args.epochs} epochs)")
    print(f"cores: {cores}; load average before: {os.getloadavg()}")
    pool = ExecutionOptions
    configurations: list[tuple[str, int, Callable[[], ExecutionOptions]]] = [
        ("pool, 1 worker x 1 thread", 1, lambda: pool(workers=1, threads=1, show_progress=False)),
        ("pool, 2 workers x 1 thread", 2, lambda: pool(workers=2, threads=1, show_progress=False)),
        (
            "dask local, 2 workers x 1 thread",
            2,
            lambda: pool(dask=execute.DaskTarget(workers=2), show_progress=False),
        ),
    ]
    base = None
    print(f"{'configuration':32} {'wall s':>8} {'s/run':>7} {'speed-up':>9} {'efficiency':>10}")
    for name, workers, options in configurations:
        wall, per_run = timed(runs, options())
        base = base or wall
        speedup = base / wall
        print(f"{name:32} {wall:8.1f} {per_run:7.2f} {speedup:9.2f} {speedup / workers:10.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
