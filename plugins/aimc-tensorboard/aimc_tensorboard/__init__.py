"""TensorBoard as an aimc experiment tracker: ``aimc compare ... --track tensorboard``.

Every run of the sweep gets one TensorBoard run folder,

    OUT/tensorboard/<device>/<optimizer>/seed<N>-<run_id>/

(OUT is the sweep's output folder, the one holding ``results.sqlite``; the run id is the store's),
written through :class:`torch.utils.tensorboard.SummaryWriter` in the process that trains the run:

- a scalar per numeric metric and epoch, step = epoch, tagged as the results store names it
  (``train_loss``, ``test_accuracy``, ...), flushed every epoch so TensorBoard shows a run while
  it trains;
- the run's configuration (what its id hashes) as text when it starts;
- when it ends, its status as text and an HParams session (recipe, device, optimizer, their
  parameters, seed, ..., status) whose metrics are the run's scalars, so TensorBoard's HParams tab
  compares devices and optimizers on their final values.

``tensorboard --logdir OUT/tensorboard`` shows them; the folder names put the seeds of one
device / optimizer pair side by side. A run computed again (a failed run retried, a run killed
mid-way) first removes the event files of its earlier attempt, so the folder holds what the store
holds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aimc_plugins import EpochEvent, RunEvent, Tracker, hookimpl

TRACKER = "tensorboard"
FOLDER = "tensorboard"
EVENT_FILES = "events.out.tfevents.*"

_writers: dict[str, Any] = {}  # run id -> SummaryWriter of a run in progress in this process
_lock = threading.Lock()  # runs may train on threads of one process (a Dask local cluster)


def _segment(text: str) -> str:
    """One folder name from a label: no separators, never '.' or '..'."""
    cleaned = "".join("_" if c in "/\\\0" else c for c in text).strip()
    return cleaned if cleaned not in ("", ".", "..") else "_"


def run_folder(event: RunEvent) -> Path:
    """Where ``event``'s run writes: ``OUT/tensorboard/<device>/<optimizer>/seed<N>-<run_id>``."""
    root = Path(event.out_dir or ".") / FOLDER
    leaf = f"seed{event.seed}-{event.run_id}"
    return root / _segment(event.device) / _segment(event.optimizer) / leaf


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in metrics.items()
        if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def hparams_of(event: RunEvent) -> dict[str, Any]:
    """The run's settings as flat HParams values (numbers, strings, booleans)."""
    config = event.config
    flat: dict[str, Any] = {
        "recipe": config.get("recipe", ""),
        "device": event.device,
        "optimizer": event.optimizer,
        "seed": event.seed,
        "epochs": event.epochs,
        "periphery": config.get("periphery", ""),
        "status": event.status,
    }
    for prefix, key in (("device.", "device_params"), ("param.", "params"), ("option.", "options")):
        for name, value in dict(config.get(key, {})).items():
            flat[prefix + name] = value
    return {
        key: value if isinstance(value, (bool, int, float, str)) else str(value)
        for key, value in flat.items()
    }


def check_available() -> None:
    """Fail when a sweep chooses this tracker and TensorBoard cannot be written here."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{exc}; torch.utils.tensorboard needs the tensorboard package: "
            "pip install tensorboard (or pip install -e plugins/aimc-tensorboard)"
        ) from None


@hookimpl
def register_trackers(register):
    register(
        Tracker(
            name=TRACKER,
            description="TensorBoard event files in OUT/tensorboard/<device>/<optimizer>/<run>",
            check=check_available,
        )
    )


@hookimpl
def run_started(event: RunEvent) -> None:
    from torch.utils.tensorboard import SummaryWriter

    folder = run_folder(event)
    if folder.is_dir():  # an earlier attempt of this run, which the store no longer keeps
        for stale in folder.glob(EVENT_FILES):
            stale.unlink()
    writer = SummaryWriter(log_dir=str(folder))
    config = json.dumps(dict(event.config), indent=2, sort_keys=True, default=str)
    text = f"run `{event.run_id}` of sweep `{event.sweep}`\n\n" + _code(config)
    writer.add_text("run", text, global_step=0)
    writer.flush()
    with _lock:
        _writers[event.run_id] = writer


@hookimpl
def epoch_ended(event: EpochEvent) -> None:
    with _lock:
        writer = _writers.get(event.run.run_id)
    if writer is None:  # its run_started failed; that was reported
        return
    for tag, value in _scalars(event.metrics).items():
        writer.add_scalar(tag, value, global_step=event.epoch)
    writer.flush()


@hookimpl
def run_finished(event: RunEvent) -> None:
    from torch.utils.tensorboard.summary import hparams

    with _lock:
        writer = _writers.pop(event.run_id, None)
    if writer is None:
        return
    try:
        final = _scalars(event.final)
        text = f"**{event.status}** in {event.duration_s:.1f} s"
        if event.error:
            text += "\n\n" + _code(event.error)
        for note in event.notes:
            text += f"\n\nnote: {note}"
        writer.add_text("status", text, global_step=event.epochs)
        # The session's metrics name the run's own scalar tags (their values here are unused):
        # HParams shows each tag's value at the last epoch, the final metric the store keeps.
        for summary in hparams(hparams_of(event), final):
            writer.file_writer.add_summary(summary)
    finally:
        writer.close()


def _code(text: str) -> str:
    """Text as a markdown code block (TensorBoard renders text summaries as markdown)."""
    return "\n".join("    " + line for line in text.splitlines())
