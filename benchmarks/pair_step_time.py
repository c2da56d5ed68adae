"""Training-step time of the two tested aihwkit + torch pairs, side by side.

Why: `make demo` / `make test` install one pair by default (docs/install.md, "Which pair"), and
moving the default to aihwkit 1.2.0 on Python 3.12 was right only if that pair is not slower
(measured, then switched on 2026-12-05).
The pairs live in different venvs (different Pythons), so one process cannot time both: the
driver runs this same script in each venv's Python, alternating between them for several rounds
so that load from other processes falls on both alike, and prints the median of each.

What one measurement is: the paper's MNIST FCN (784-256-128-10, sigmoids) on analog tiles,
batch 10, random inputs (a step's time does not depend on the data), one torch thread; per
optimizer at its defaults on aihwkit's Idealized preset device, ``--warmup`` steps and then the
median of ``--steps`` timed steps (forward, backward, optimizer step), in milliseconds.

    # side by side (from the repository root; `make install` and `make install PAIR=py311`):
    .venv/bin/python benchmarks/pair_step_time.py --compare .venv-py311 .venv --rounds 3
    # one venv alone, as JSON (what the driver runs):
    .venv/bin/python benchmarks/pair_step_time.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

OPTIMIZERS = ("sgd", "ttv1", "c-ttv2", "mp", "rl", "rlv2", "c-rl")
SIZES = (784, 256, 128, 10)
BATCH = 10
DEVICE = "Idealized"


def time_steps(optimizer: str, steps: int, warmup: int) -> float:
    """Median milliseconds per training step of the FCN under ``optimizer`` (its defaults)."""
    import torch
    from torch import nn

    from aimc_plugins.host import plugins
    from aimc_plugins.training.loop import make_optimizer, to_analog
    from aimc_plugins.training.setup import build_device

    record = plugins.optimizers()[optimizer]
    setup = record.build([build_device(DEVICE)] * max(record.n_devices, 1))
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for n_in, n_out in pairwise(SIZES):
        layers += [nn.Linear(n_in, n_out), nn.Sigmoid()]
    model = to_analog(nn.Sequential(*layers[:-1]), setup)
    opt = make_optimizer(model, setup)
    loss_fn = nn.CrossEntropyLoss()
    inputs, targets = torch.rand(BATCH, SIZES[0]), torch.randint(0, SIZES[-1], (BATCH,))
    times = []
    for step in range(warmup + steps):
        started = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(inputs), targets).backward()
        opt.step()
        if step >= warmup:
            times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def measure(steps: int, warmup: int, only: list[str] | None = None) -> dict[str, Any]:
    """This venv's versions and the median step time of every optimizer it has (of ``only``)."""
    import platform

    import torch

    from aimc_plugins.host import plugins
    from aimc_plugins.training.pairs import (
        chopped_residual_available,
        installed_pair,
        installed_version,
    )

    torch.set_num_threads(1)
    pair = installed_pair()
    known = plugins.optimizers()
    return {
        "pair": pair.name if pair else "other",
        "python": platform.python_version(),
        "torch": installed_version("torch"),
        "aihwkit": installed_version("aihwkit"),
        "ms_per_step": {
            name: round(time_steps(name, steps, warmup), 3)
            for name in only or OPTIMIZERS
            if name in known and not (name == "c-rl" and not chopped_residual_available())
        },
    }


def compare(
    venvs: list[str], rounds: int, steps: int, warmup: int, only: list[str] | None = None
) -> None:
    """Alternate the venvs for ``rounds`` rounds and print the medians side by side."""
    script = str(Path(__file__).resolve())
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in venvs}
    for index in range(rounds):
        for venv in venvs if index % 2 == 0 else venvs[::-1]:
            command = [f"{venv}/bin/python", script, "--json", "--steps", str(steps)]
            command += ["--warmup", str(warmup), *(["--only", *only] if only else [])]
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            runs[venv].append(json.loads(output.stdout))
    first = {v: r[0] for v, r in runs.items()}
    header = [
        f"{first[v]['pair']} (Python {first[v]['python']}, aihwkit {first[v]['aihwkit']}, "
        f"torch {first[v]['torch']})"
        for v in venvs
    ]
    print(
        f"median ms per training step, FCN {'-'.join(map(str, SIZES))}, batch {BATCH}, "
        f"{DEVICE}, 1 thread; {rounds} alternating rounds x {steps} steps"
    )
    print("| optimizer | " + " | ".join(header) + " | ratio |")
    print("|---|" + "---|" * len(venvs) + "---|")
    names = [n for n in only or OPTIMIZERS if all(n in r[0]["ms_per_step"] for r in runs.values())]
    for name in names:
        medians = [statistics.median(r["ms_per_step"][name] for r in runs[v]) for v in venvs]
        ratio = medians[-1] / medians[0] if medians[0] else float("nan")
        print(f"| {name} | " + " | ".join(f"{m:.2f}" for m in medians) + f" | {ratio:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", nargs="+", metavar="VENV", help="venvs to time in turn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="this venv alone, as JSON")
    parser.add_argument("--only", nargs="+", metavar="OPTIMIZER", help="time these only")
    args = parser.parse_args(argv)
    if args.compare:
        compare(args.compare, args.rounds, args.steps, args.warmup, args.only)
    else:
        result = measure(args.steps, args.warmup, args.only)
        print(json.dumps(result) if args.json else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
