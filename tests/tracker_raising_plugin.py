"""A test tracker, ``raising``, whose every event hook raises (after counting the call in
``OUT/raising-calls/PID``): the sweep must report it once per run and go on unchanged."""

from __future__ import annotations

import os
from pathlib import Path

from aimc_plugins import Tracker, hookimpl

TRACKER = "raising"


def _count(out_dir: str, hook: str) -> None:
    folder = Path(out_dir) / "raising-calls"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / str(os.getpid()), "a") as calls:
        calls.write(hook + "\n")


@hookimpl
def register_trackers(register):
    register(Tracker(name=TRACKER, description="raises in every event"))


@hookimpl
def run_started(event):
    _count(event.out_dir, "run_started")
    raise RuntimeError("tracker server unreachable")


@hookimpl
def epoch_ended(event):
    _count(event.run.out_dir, "epoch_ended")
    raise ValueError(f"cannot log epoch {event.epoch}")


@hookimpl
def run_finished(event):
    _count(event.out_dir, "run_finished")
    raise SystemExit(3)  # a stray sys.exit() is contained like any exception
