"""A test plugin: a recipe that "trains" instantly (or slowly, on request) with a predictable
outcome, so the sweep engine can be tested without minutes of aihwkit training.

Metrics depend on the seed and the learning rate only. Options: ``epoch_seconds`` (sleep per
epoch), ``diverge_seeds`` (seeds whose loss becomes NaN), ``overflow_seeds`` (seeds whose final
loss is a numpy float32 infinity), ``fail_seeds`` (seeds that raise), ``die_seeds`` (seeds whose
worker process kills itself, as the kernel's OOM killer would), ``unpicklable_seeds`` (seeds whose
result cannot be pickled back from a worker), ``trace_dir`` (a folder where each run that starts
leaves a file: how many times each run was computed), ``hold_until`` (a path: each run waits,
up to 120 s, until it exists, so a test decides when a sweep may finish instead of racing it).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import time

import numpy as np

from aimc_plugins import Param, Recipe, RunConfig, RunResult, hookimpl
from aimc_plugins.training import loop as training

RECIPE = "fake-quick"
OPTIONS = (
    Param("epoch_seconds", 0.0, "sleep per epoch", low=0.0),
    Param("diverge_seeds", (), "seeds whose loss becomes NaN"),
    Param("overflow_seeds", (), "seeds whose final loss is infinite"),
    Param("fail_seeds", (), "seeds that raise"),
    Param("die_seeds", (), "seeds whose worker process is killed"),
    Param("unpicklable_seeds", (), "seeds whose result cannot be pickled"),
    Param("trace_dir", "", "folder where each run leaves a file when it starts"),
    Param("hold_until", "", "path each run waits for before training"),
)


class UnpicklableNote(str):
    """A note that reads as text but refuses to pickle: the result of a worker that holds one
    cannot travel back to the parent."""

    def __reduce__(self):
        raise TypeError("this note cannot be pickled")


def _die() -> None:
    """SIGKILL this process, but only in a worker: in the test process it would end pytest."""
    if multiprocessing.parent_process() is None:
        raise RuntimeError("die_seeds only kills worker processes")
    os.kill(os.getpid(), signal.SIGKILL)


def run(config: RunConfig) -> RunResult:
    from tqdm.auto import tqdm

    # a (disabled) progress bar per run, as the real training loop makes: tqdm's process lock is
    # what a terminated worker used to leak (tests/test_sweep_endings.py)
    tqdm(total=1, disable=True).close()
    options = dict(config.options)
    if options.get("trace_dir"):
        trace = f"seed{config.seed}-pid{os.getpid()}-{time.monotonic_ns()}"
        open(os.path.join(options["trace_dir"], trace), "w").close()
    hold = options.get("hold_until")
    deadline = time.monotonic() + 120
    while hold and not os.path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.05)
    if config.seed in options.get("fail_seeds", []):
        raise RuntimeError(f"fake failure on seed {config.seed}")
    if config.seed in options.get("die_seeds", []):
        _die()
    history = []
    epochs = config.epochs or 2
    for epoch in range(1, epochs + 1):
        time.sleep(float(options.get("epoch_seconds", 0.0)))
        if config.seed in options.get("diverge_seeds", []):
            history.append({"epoch": epoch, "train_loss": math.nan, "test_accuracy": math.nan})
            break
        accuracy = 0.5 + 0.1 * epoch * config.setup.lr + 0.01 * config.seed
        metrics = {"epoch": epoch, "train_loss": 1.0 / epoch, "test_accuracy": accuracy}
        if config.seed in options.get("overflow_seeds", []) and epoch == epochs:
            metrics["train_loss"] = np.float32("inf")
        history.append(metrics)
        training.notify_epoch(epoch, epochs, metrics)
    notes = ()
    if config.seed in options.get("unpicklable_seeds", []):
        notes = (UnpicklableNote("held by the worker"),)
    return RunResult(tuple(history), dict(history[-1]), notes)


@hookimpl
def register_recipes(register):
    register(
        Recipe(
            name=RECIPE,
            run=run,
            description="instant fake recipe",
            default_epochs=2,
            options=OPTIONS,
        )
    )
