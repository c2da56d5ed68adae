"""A transfer rule and aihwkit's compiled compound of the same algorithm, trained side by side.

Why: under deterministic pulses and perfect reads the rules equal the compiled compounds value
for value (tests/test_rules.py, plugins/aimc-residual-learning/tests/test_rules_match.py); in a
real run the pulse trains, read noise and cycle-to-cycle noise are random, so the two
implementations draw different numbers. What must hold is that they learn alike: on the digits
MLP, over ``--seeds`` seeds, the mean test accuracy of each implementation with its 95%
confidence interval, and their difference with its own 95% interval (Welch): an interval that
holds 0 and is narrow says "alike"; one that holds 0 but is wide says only "not told apart at
this many seeds".

    .venv/bin/python benchmarks/rule_vs_compiled.py --seeds 5 --epochs 3
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

from scipy import stats

ALGORITHMS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ttv1", {}),
    ("rl", {}),
    ("mtrl", {"tiles": 3}),
)


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of its 95% confidence interval (Student's t)."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return mean, float(half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="ReRamSB")
    args = parser.parse_args()

    import torch

    from aimc_plugins import RunConfig, build_setup, seed_everything
    from aimc_plugins.builtin.recipes import digits

    torch.set_num_threads(1)
    warnings.simplefilter("ignore", DeprecationWarning)
    print(f"digits MLP, {args.device}, {args.epochs} epochs, seeds 0-{args.seeds - 1}")
    print(
        "\n| algorithm | rule | compiled | rule - compiled (95% CI, Welch) "
        "| s per run (rule / compiled) |"
    )
    print("|---|---|---|---|---|")
    for name, params in ALGORITHMS:
        accuracy: dict[str, list[float]] = {"rule": [], "compiled": []}
        seconds: dict[str, float] = {"rule": 0.0, "compiled": 0.0}
        for seed in range(args.seeds):
            for implementation in accuracy:
                setup = build_setup(
                    [args.device], name, {**params, "implementation": implementation}
                )
                seed_everything(seed)
                started = time.perf_counter()
                result = digits.run(RunConfig(setup=setup, seed=seed, epochs=args.epochs))
                seconds[implementation] += time.perf_counter() - started
                accuracy[implementation].append(result.final["test_accuracy"])
        (rule, rule_half), (compiled, compiled_half) = (
            interval(accuracy["rule"]),
            interval(accuracy["compiled"]),
        )
        welch = stats.ttest_ind(accuracy["rule"], accuracy["compiled"], equal_var=False)
        low, high = welch.confidence_interval(0.95)
        print(
            f"| {name} {params or ''} | {rule:.3f} ± {rule_half:.3f} | "
            f"{compiled:.3f} ± {compiled_half:.3f} | {rule - compiled:+.3f} "
            f"[{low:+.3f}, {high:+.3f}] | "
            f"{seconds['rule'] / args.seeds:.1f} / {seconds['compiled'] / args.seeds:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
