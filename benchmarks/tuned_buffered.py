"""Is the buffered family (TTv2, c-TTv2, AGAD) behind Analog SGD, or only its settings?

docs/transfer-defaults.md measured ttv2 / c-ttv2 / agad 0.2-0.45 below Analog SGD at their
defaults. This gives every optimizer the same tuning budget (``--trials`` candidates over its
default search space, successive halving on a validation split: docs/tuning.md) and compares
the tuned rows with the same rows at their defaults, on the digits MLP and on the MNIST sample
(FCN), each on aihwkit's ``Idealized`` device. It prints, per recipe and optimizer: the
default's and the tuned setting's test accuracy (mean ± half-width of the 95% interval over
the seeds), the gap to Analog SGD in each case, and the chosen setting.

    .venv/bin/python benchmarks/tuned_buffered.py                       # both recipes
    .venv/bin/python benchmarks/tuned_buffered.py --recipes digits-mlp --trials 4
    # MNIST at the paper-MNIST spec's size: 4,000 images, 5 epochs, a first rung of 2 epochs
    .venv/bin/python benchmarks/tuned_buffered.py --recipes mnist-fcn --n-train 4000 \
        --epochs 5 --min-epochs 2 --out benchmarks-output/tuned-buffered-4000

Everything goes through ``aimc_plugins.compare`` into ``--out`` (default
``benchmarks-output/tuned-buffered``): a second call resumes and prints without training.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from aimc_plugins.api.comparison import compare
from aimc_plugins.report.stats import mean_interval, metric_limits

OPTIMIZERS = ("sgd", "ttv2", "c-ttv2", "agad", "ttv1")
RECIPES: dict[str, dict[str, Any]] = {
    "digits-mlp": {"epochs": 3, "options": {}},
    "mnist-fcn": {"epochs": 3, "options": {"source": "sample", "n_train": 2000}},
}


def _by_optimizer(results: Any) -> dict[str, list[float]]:
    finals: dict[str, list[float]] = {}
    for outcome in results.outcomes:
        if outcome.status == "done":
            finals.setdefault(outcome.run.optimizer, []).append(outcome.final["test_accuracy"])
    return finals


def _cell(values: list[float]) -> str:
    """Mean and the 95% interval of the mean (limited to [0, 1], as the report's)."""
    if not values:
        return "failed"
    mean, _, low, high = mean_interval(values, metric_limits("test_accuracy"))
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]" if len(values) > 1 else f"{mean:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks-output/tuned-buffered"))
    parser.add_argument("--epochs", type=int, help="epochs per run (default: per recipe, 3)")
    parser.add_argument("--n-train", type=int, help="mnist-fcn's training images (default 2000)")
    parser.add_argument(
        "--min-epochs", type=int, default=0, help="epochs of the first tuning rung (default: 1)"
    )
    args = parser.parse_args()
    for recipe in args.recipes:
        setting = dict(RECIPES[recipe])
        if args.epochs:
            setting["epochs"] = args.epochs
        if args.n_train and recipe == "mnist-fcn":
            setting["options"] = {**setting["options"], "n_train": args.n_train}
        spec = {
            "name": f"tuned-buffered-{recipe}",
            "recipe": recipe,
            "devices": ["Idealized"],
            "optimizers": list(OPTIMIZERS),
            "seeds": args.seeds,
            "epochs": setting["epochs"],
            "options": setting["options"],
        }
        tuning = {"trials": args.trials, "seed": 0}
        if args.min_epochs:
            tuning["min_epochs"] = args.min_epochs
        common: dict[str, Any] = dict(workers=args.workers, report=False, progress=False)
        started = time.perf_counter()
        defaults = compare(spec, **common, out=args.out / f"{recipe}-defaults")
        tuned = compare({**spec, "tune": tuning}, **common, out=args.out / f"{recipe}-tuned")
        seconds = time.perf_counter() - started
        base, best = _by_optimizer(defaults), _by_optimizer(tuned)
        chosen = {row["optimizer"]: row["chosen"] for row in tuned.summary()["tuning"]["rows"]}
        print(
            f"\n{recipe}, Idealized, {setting['epochs']} epochs, {args.seeds} seeds, "
            f"options {setting['options'] or 'default'}, {args.trials} trials per row, "
            f"rungs {(tuned.tuning or {}).get('rungs')} ({seconds / 60:.1f} min)"
        )
        print("| optimizer | defaults | gap to sgd | tuned | gap to sgd | chosen |")
        print("|---|---|---|---|---|---|")
        sgd_default = statistics.mean(base.get("sgd", [float("nan")]))
        sgd_tuned = statistics.mean(best.get("sgd", [float("nan")]))
        for name in OPTIMIZERS:
            low = base.get(name, [])
            high = best.get(name, [])
            gap_low = statistics.mean(low) - sgd_default if low else float("nan")
            gap_high = statistics.mean(high) - sgd_tuned if high else float("nan")
            shown = ", ".join(f"{k}={v:g}" for k, v in sorted((chosen.get(name) or {}).items()))
            print(
                f"| {name} | {_cell(low)} | {gap_low:+.3f} | {_cell(high)} | {gap_high:+.3f} "
                f"| {shown} |"
            )


if __name__ == "__main__":
    main()
