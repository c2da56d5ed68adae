"""Test trackers: ``fake-log`` appends every event it receives, as one JSON line, to
``OUT/tracker-events/PID.jsonl`` (so a test reads what each process saw, in order); importable by
module name, so sweep workers register it as they register ``sweep_fake_plugin``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from aimc_plugins import EpochEvent, RunEvent, Tracker, hookimpl

TRACKER = "fake-log"
FOLDER = "tracker-events"


def _write(event: RunEvent, line: dict) -> None:
    folder = Path(event.out_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{os.getpid()}.jsonl", "a") as log:
        log.write(json.dumps({**line, "pid": os.getpid(), "run_id": event.run_id}) + "\n")


def read_events(out_dir: Path) -> list[dict]:
    """Every event logged under ``out_dir``, file by file (one file per process), in order."""
    lines = []
    for path in sorted((Path(out_dir) / FOLDER).glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


@hookimpl
def register_trackers(register):
    register(Tracker(name=TRACKER, description="logs events as JSON lines"))


@hookimpl
def run_started(tracker: str, event: RunEvent) -> None:
    _write(
        event,
        {
            "hook": "run_started",
            "tracker": tracker,
            "label": event.label,
            "seed": event.seed,
            "sweep": event.sweep,
            "config": dict(event.config),
        },
    )


@hookimpl
def epoch_ended(tracker: str, event: EpochEvent) -> None:
    _write(
        event.run,
        {
            "hook": "epoch_ended",
            "tracker": tracker,
            "epoch": event.epoch,
            "epochs": event.epochs,
            "metrics": dict(event.metrics),
        },
    )


@hookimpl
def run_finished(tracker: str, event: RunEvent) -> None:
    _write(
        event,
        {
            "hook": "run_finished",
            "tracker": tracker,
            "status": event.status,
            "final": dict(event.final),
            "error": event.error,
        },
    )
