"""Least squares, Analog SGD vs Tiki-Taka vs residual learning (Wu et al., Figure 2).

    python recipes/least_squares.py --out results/least-squares            # small, ~2 minutes
    python recipes/least_squares.py --size paper --out results/ls-paper   # 50 x 100, dw_min 1e-4
    python recipes/least_squares.py --size authors --out results/ls-authors   # authors' script

``--size authors`` is the problem of the authors' published script (``least_squares.AUTHORS``:
50 inputs, 1 output, 100 noiseless samples, W0 = 1, 1000 steps, lr = alpha = beta = 0.8) with
Analog SGD, Tiki-Taka, residual learning with and without the zero shift, and RLv2; three seeds
unless ``--seeds`` says otherwise.

Writes ``loss_curves.png`` (excess loss against steps, one panel per asymmetry c) and the
final-loss table as ``final_loss.md`` and ``final_loss.csv``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

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
    curves = ls.run_experiment(experiment, show_progress=not args.quiet)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = ls.final_table(curves)
    paths = [*ls.write_tables(rows, args.out), ls.plot_curves(curves, args.out / "loss_curves.png")]
    print((args.out / "final_loss.md").read_text())
    print("Wrote " + ", ".join(map(str, paths)))


if __name__ == "__main__":
    main()
