"""Progress as plain log lines: for a stderr that is not a terminal (CI, ``nohup``, a scheduler's
log file), or when bars are turned off with ``TQDM_DISABLE``.

Bars redraw themselves with carriage returns and cursor-up codes, which a log file keeps as
kilobytes of noise. Here each event is one timestamped line with no control characters: one when
the sweep starts, one per finished run.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import DONE, RunOutcome

PROGRESS_MODES = ("auto", "bars", "lines", "off")
_FALSE = ("", "0", "false", "no", "off")


class Progress(Protocol):
    def epoch(self, run_id: str, epoch: int, epochs: int) -> None: ...

    def finished(self, outcome: RunOutcome) -> None: ...

    def close(self) -> None: ...


def bars_disabled_by_environment() -> bool:
    """``TQDM_DISABLE`` set to anything but empty, 0, false, no or off."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in _FALSE


def resolve_mode(mode: str, stream: Any = None) -> str:
    """``bars``, ``lines`` or ``off`` for ``mode`` (``auto``: bars on a terminal, else lines)."""
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress mode {mode!r}: one of {', '.join(PROGRESS_MODES)}")
    if mode != "auto":
        return mode
    stream = sys.stderr if stream is None else stream
    try:
        terminal = bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        terminal = False
    return "bars" if terminal and not bars_disabled_by_environment() else "lines"


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _number(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def _metrics(final: Mapping[str, Any], most: int = 3) -> str:
    shown = [(key, value) for key, value in final.items() if key != "epoch"][:most]
    return ", ".join(f"{key} {_number(value)}" for key, value in shown)


def _one_line(text: str, limit: int = 200) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


class LineProgress:
    """The interface of :class:`~aimc_plugins.sweep.progress.SweepProgress`, as log lines."""

    def __init__(
        self, runs: list[PlannedRun], already_done: int, stream: TextIO | None = None
    ) -> None:
        self._stream = stream
        self.total = already_done + len(runs)
        self.count = already_done
        self.problems = 0
        self._write(f"{len(runs)} runs to do, {already_done} already stored")

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(f"{_stamp()} sweep: {text}\n")
        stream.flush()

    def epoch(self, run_id: str, epoch: int, epochs: int) -> None:
        """Epochs are not logged: one line per run is what a log can afford."""

    def finished(self, outcome: RunOutcome) -> None:
        self.count += 1
        run = outcome.run
        text = (
            f"[{self.count}/{self.total}] {run.label} seed {run.seed}: {outcome.status} "
            f"in {outcome.duration_s:.1f} s"
        )
        if outcome.status == DONE:
            metrics = _metrics(outcome.final)
            text += f", {metrics}" if metrics else ""
        else:
            self.problems += 1
            error = _one_line(outcome.error)
            text += f": {error}" if error else ""
        self._write(text)

    def close(self) -> None:
        """The command prints the summary."""


class NoProgress:
    """Nothing at all (``--quiet``)."""

    def epoch(self, run_id: str, epoch: int, epochs: int) -> None:
        pass

    def finished(self, outcome: RunOutcome) -> None:
        pass

    def close(self) -> None:
        pass


def progress_for(runs: list[PlannedRun], already_done: int, mode: str = "auto") -> Progress:
    """The progress display for ``mode`` (see :func:`resolve_mode`)."""
    resolved = resolve_mode(mode)
    if resolved == "off":
        return NoProgress()
    if resolved == "lines":
        return LineProgress(runs, already_done)
    from aimc_plugins.sweep.progress import SweepProgress

    return SweepProgress(runs, already_done)
