"""Least squares, Analog SGD vs Tiki-Taka vs residual learning (Wu et al., Figure 2).

    python recipes/least_squares.py --out results/least-squares            # small, ~2 minutes
    python recipes/least_squares.py --size paper --out results/ls-paper   # 50 x 100, dw_min 1e-4
    python recipes/least_squares.py --size authors --out results/ls-authors   # authors' script

``--size authors`` is the problem of the authors' published script (``least_squares.AUTHORS``:
50 inputs, 1 output, 100 noiseless samples, W0 = 1, 1000 steps, lr = alpha = beta = 0.8) with
Analog SGD, Tiki-Taka, residual learning with and without the zero shift, and RLv2; three seeds
unless ``--seeds`` says otherwise.

The runs go through the normal sweep engine (:mod:`aimc_plugins.api.least_squares`): they are
stored in ``OUT/results.sqlite``, so running the same command again trains nothing new and a
stopped run resumes; ``--workers N`` trains on N processes; the comparison report (ranked table
of the final loss, learning curves) is written into ``OUT`` too.

Writes ``loss_curves.png`` (excess loss against steps, one panel per asymmetry c: the paper's
figure, drawn here) and the final-loss table as ``final_loss.md`` and ``final_loss.csv``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from aimc_plugins.api import least_squares as experiment_runs
from aimc_plugins.builtin.recipes import least_squares as ls

PAPER = ls.Experiment(problem=ls.Problem(), device=ls.LeastSquaresDevice(), n_steps=20000)
SIZES = {"small": ls.SMALL, "paper": PAPER, "authors": ls.AUTHORS}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("least-squares"), help="output folder")
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--steps", type=int, default=None, help="SGD steps per run")
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds 0, 1, ... per point (default: 3 for --size authors, else 1)",
    )
    parser.add_argument(
        "--asymmetry", type=float, nargs="+", default=None, help="values of c (default 0 .1 .2 .3)"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also run the pure-torch expected dynamics of each optimizer (dashed in the plot)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes (0: this process, the default)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    experiment = SIZES[args.size]
    if args.seeds is not None:
        experiment = replace(experiment, seeds=tuple(range(args.seeds)))
    if args.steps:
        experiment = replace(experiment, n_steps=args.steps)
    if args.reference:
        experiment = replace(experiment, reference=True)
    if args.asymmetry:
        experiment = replace(experiment, asymmetries=tuple(args.asymmetry))
    args.out.mkdir(parents=True, exist_ok=True)
    curves = experiment_runs.run_experiment(
        experiment,
        show_progress=not args.quiet,
        out=args.out,
        workers=args.workers,
        report=True,
    )
    rows = experiment_runs.final_table(curves)
    paths = [
        *experiment_runs.write_tables(rows, args.out),
        plot_curves(curves, args.out / "loss_curves.png"),
    ]
    print((args.out / "final_loss.md").read_text())
    print("Wrote " + ", ".join(map(str, paths)))


def plot_curves(curves: Mapping[tuple, ls.Curve], path: Path) -> Path:
    """The paper's figure: excess loss against steps, one log-scale panel per asymmetry, mean
    over seeds; reference (expected-dynamics) curves dashed in their optimizer's colour."""
    from aimc_plugins.report.figures import pyplot

    plt = pyplot()
    cs = sorted({c for _, c, _ in curves})
    names = list(dict.fromkeys(name for name, _, _ in curves))
    colors = [f"C{i}" for i in range(10)]
    fig, axes = plt.subplots(1, len(cs), figsize=(4 * len(cs), 3.4), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], cs, strict=True):
        for name in names:
            runs = [curve for (n, cc, _), curve in curves.items() if n == name and cc == c]
            steps = runs[0].steps
            mean = [sum(r.losses[i] for r in runs) / len(runs) for i in range(len(steps))]
            base = name.removeprefix("reference ")
            style = "--" if name != base else "-"
            ax.plot(steps, mean, style, color=colors[names.index(base) % 10], label=name)
        ax.set_yscale("log")
        ax.set_title(f"c = {c:g}")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("f(W) - f(W*)")
    axes[0][-1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
