"""The tuning sweep behind the transfer family's defaults (docs/transfer-defaults.md).

Trains the digits MLP on aihwkit's ``Idealized`` device with each transfer optimizer at a few
schedules, at two widths of the first analog layer, and prints one row per (optimizer, setting,
width): test accuracy after epoch 1 and after the last epoch, mean over the seeds, next to
Analog SGD at its default lr.

- width 64: the ``digits-mlp`` recipe itself (64-32-10, batch 10, 135 mini-batches per epoch);
- width 484: the same digits, bilinearly upsampled to 22 x 22 pixels, so the first layer has
  484 columns (one tile) and the same 135 mini-batches per epoch. A wider layer on the same
  data and budget isolates how the transfer schedule scales with the column count: each column
  is visited 484 / 64 ~ 7.6 times less often at the same reads per transfer.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/transfer_defaults.py            # the sweep
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/transfer_defaults.py --defaults # defaults only
    .venv/bin/python benchmarks/transfer_defaults.py --only ttv1 --widths 64 --epochs 1

Runs are seeded (``seed_everything`` seeds aihwkit's generators), so a row repeats exactly.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aimc_plugins.builtin.recipes import digits
from aimc_plugins.host import plugins
from aimc_plugins.host.records import RunConfig, RunResult
from aimc_plugins.training.loop import seed_everything, train_classifier
from aimc_plugins.training.setup import build_setup

DEVICE = "Idealized"
WIDE_SIDE = 22  # 22 x 22 = 484 inputs: one tile (aihwkit's default max_input_size is 512)

# (optimizer, label, params): label is what the table shows; {} is the optimizer's defaults.
SWEEP: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("sgd", "default", {}),
    # Tiki-Taka v1 / RL: columns per transfer (old default 1; 0 = all columns), rates.
    ("ttv1", "old: n_reads=1", {"n_reads_per_transfer": 1}),
    ("ttv1", "n_reads=32", {"n_reads_per_transfer": 32}),
    ("ttv1", "n_reads=all a=.1 b=.5", {"alpha": 0.1, "beta": 0.5}),
    ("ttv1", "default", {}),
    ("rl", "old: n_reads=1", {"n_reads_per_transfer": 1}),
    ("rl", "default", {}),
    # Buffered family: one column per transfer (aihwkit's compiled chopped compound allows no
    # more), so the schedule is transfer_every (< 1: several transfers per mini-batch) and the
    # pulses one transfer may fire (max_pulses).
    (
        "ttv2",
        "old: every=1 pulses=1 a=.05",
        {"transfer_every": 1.0, "max_pulses": 1, "alpha": 0.05},
    ),
    ("ttv2", "pulses=31", {"max_pulses": 31}),
    ("ttv2", "default", {}),
    (
        "c-ttv2",
        "old: every=1 pulses=1 a=.05",
        {"transfer_every": 1.0, "max_pulses": 1, "alpha": 0.05},
    ),
    ("c-ttv2", "default", {}),
    (
        "agad",
        "old: every=1 pulses=1 a=.05 b=.1",
        {"transfer_every": 1.0, "max_pulses": 1, "alpha": 0.05, "beta": 0.1},
    ),
    ("agad", "beta=.1", {"beta": 0.1}),
    ("agad", "default", {}),
    # RLv2: all columns per event already; pulses per transfer (old default 1).
    ("rlv2", "old: pulses=1", {"max_pulses": 1}),
    ("rlv2", "default", {}),
)


def wide_digits_run(config: RunConfig, side: int = WIDE_SIDE) -> RunResult:
    """The digits recipe with its 8 x 8 images upsampled to ``side`` x ``side``: the same data,
    split, batch and budget as ``digits-mlp``, but ``side**2`` columns in the first layer."""
    seed_everything(config.seed)
    train, test = digits.load_digits_tensors()

    def widen(data: TensorDataset) -> TensorDataset:
        images = data.tensors[0].reshape(-1, 1, 8, 8)
        big = nn.functional.interpolate(images, size=(side, side), mode="bilinear")
        return TensorDataset(big.reshape(len(big), -1), data.tensors[1])

    generator = torch.Generator().manual_seed(config.seed)
    train_loader = DataLoader(
        widen(train), batch_size=digits.BATCH_SIZE, shuffle=True, generator=generator
    )
    test_loader = DataLoader(widen(test), batch_size=256)
    model = nn.Sequential(
        nn.Linear(side * side, digits.HIDDEN), nn.Tanh(), nn.Linear(digits.HIDDEN, 10)
    )
    return train_classifier(
        model, train_loader, test_loader, config, config.epochs or 3, "digits-wide"
    )


def run_case(
    optimizer: str, params: dict[str, Any], width: int, seed: int, epochs: int
) -> list[float]:
    """Test accuracy after each epoch of one seeded run."""
    setup = build_setup([DEVICE], optimizer, params)
    config = RunConfig(setup=setup, seed=seed, epochs=epochs)
    if width == 64:
        result = digits.run(config)
    else:
        result = wide_digits_run(config, side=round(width**0.5))
    accuracies = [float(h["test_accuracy"]) for h in result.history]
    return accuracies + [float("nan")] * (epochs - len(accuracies))  # diverged: NaN


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="optimizers to run")
    parser.add_argument("--widths", nargs="*", type=int, default=[64, WIDE_SIDE**2])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--defaults", action="store_true", help="only sgd and the defaults")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    plugins.optimizers()  # load plugins once, before timing
    cases = [
        case
        for case in SWEEP
        if (args.only is None or case[0] in args.only)
        and (not args.defaults or case[1] == "default")
    ]
    last = f"acc@{args.epochs}"
    print(f"{'optimizer':9} {'setting':30} {'width':>5} {'acc@1':>6} {last:>6} {'s/run':>6}")
    for width in args.widths:
        for optimizer, label, params in cases:
            start = time.perf_counter()
            runs = [run_case(optimizer, params, width, s, args.epochs) for s in args.seeds]
            seconds = (time.perf_counter() - start) / len(runs)
            first = statistics.fmean(r[0] for r in runs)
            final = statistics.fmean(r[-1] for r in runs)
            print(
                f"{optimizer:9} {label:30} {width:5d} {first:6.3f} {final:6.3f} {seconds:6.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
