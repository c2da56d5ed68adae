"""Same seed, same numbers: a small sweep computed twice on fresh worker processes, compared run
by run, beside the seed-to-seed spread that the tables' intervals are there to show.

    .venv/bin/python benchmarks/reproducibility.py [--epochs 3] [--seeds 3] [--workers 2]

Prints, per device x optimizer, how many of its runs repeated bitwise (every per-epoch metric
equal) and the standard deviation of the final accuracy over seeds.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from aimc_plugins.sweep.execute import run_pool
from aimc_plugins.sweep.spec import plan
from aimc_plugins.training.loop import repeatable
from aimc_plugins.training.run import DONE, RunOutcome

DEVICES = ("ReRamSB", "EcRam", "power(tau=0.7, g=1)")
OPTIMIZERS = ("sgd", "ttv1")


def _by_id(outcomes: list[RunOutcome]) -> dict[str, RunOutcome]:
    return {o.run.run_id: o for o in outcomes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    runs = plan("digits-mlp", DEVICES, OPTIMIZERS, args.seeds, epochs=args.epochs)
    first = _by_id(list(run_pool(runs, args.workers, threads=1)))
    second = _by_id(list(run_pool(runs, args.workers, threads=1)))

    identical: dict[str, list[bool]] = defaultdict(list)
    finals: dict[str, list[float]] = defaultdict(list)
    for run_id, outcome in first.items():
        again = second[run_id]
        same = outcome.status == again.status == DONE and [
            repeatable(h) for h in outcome.history
        ] == [repeatable(h) for h in again.history]
        identical[outcome.run.label].append(same)
        if outcome.status == DONE:
            finals[outcome.run.label].append(outcome.final["test_accuracy"])

    print(f"digits-mlp, {args.epochs} epochs, seeds 0..{args.seeds - 1}, computed twice")
    print(f"{'device / optimizer':40} {'repeated bitwise':>17} {'std over seeds':>15}")
    for label, flags in identical.items():
        spread = statistics.stdev(finals[label]) if len(finals[label]) > 1 else float("nan")
        print(f"{label:40} {sum(flags):>9}/{len(flags):<7} {spread:>15.4f}")
    total = sum(sum(f) for f in identical.values())
    count = sum(len(f) for f in identical.values())
    flags = {o.versions.get("deterministic") for o in (*first.values(), *second.values())}
    print(f"all: {total}/{count} runs repeated bitwise; deterministic flags: {sorted(flags)}")


if __name__ == "__main__":
    main()
