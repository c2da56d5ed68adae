"""Measured pulse-response traces: the CSV format ``aimc fit`` reads, and the steps in them.

A trace is what a lab records when it pulses a device: a read of its state after every pulse.
One CSV row per read, with a header; column names are case-insensitive:

``device``
    Device id (any text). Optional: without it the whole file is one device.
``pulse``
    Integer index of the pulse in that device's trace; the row holds the read *after* that
    pulse. The first row of a device (usually pulse 0) is its initial read. A step is only
    taken between rows whose indices are consecutive, so gaps (a skipped read) are safe.
``direction``
    The pulse that led to this read: ``up`` / ``down`` (also ``+`` / ``-``, ``+1`` / ``-1``,
    ``potentiation`` / ``depression``, ``set`` / ``reset``). Ignored on a device's first row.
``weight`` *or* ``conductance``
    The read. Weights are used as they are. Conductances (any unit) are mapped linearly,
    ``w = (G - G_ref) / G_scale``; by default ``G_ref`` is the middle and ``G_scale`` half the
    width of the observed conductance window, so the window maps to ``[-1, 1]`` (the weight a
    differential read against a mid-window reference gives). Give both to fix the mapping.

Every up/down step ``dw = read_k - read_(k-1)`` is attributed to the weight *before* the pulse,
``read_(k-1)``, which is where the response ``q(w)`` is evaluated.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UP_WORDS = {"up", "+", "+1", "1", "potentiation", "pot", "set", "p"}
DOWN_WORDS = {"down", "-", "-1", "depression", "dep", "reset", "d"}
VALUE_COLUMNS = ("weight", "conductance")


class TraceError(ValueError):
    """A trace file that does not follow the documented format; the message names the row."""


@dataclass(frozen=True)
class Steps:
    """Every single-pulse step in a file: the weight before the pulse, its direction (+1 up,
    -1 down), the step (weight units) and the device (index into ``devices``); ``pulse`` is the
    pulse's index in its device's trace (the file's ``pulse`` column of the read after it), so
    an error can name the rows it is about (``None`` for steps made without a file)."""

    w: np.ndarray
    direction: np.ndarray
    dw: np.ndarray
    device: np.ndarray
    devices: tuple[str, ...]
    mapping: str  # how the reads became weights, for the report
    pulse: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.w)

    def select(self, direction: int) -> Steps:
        return self.subset(self.direction == direction)

    def subset(self, keep: np.ndarray) -> Steps:
        """The steps where the boolean mask ``keep`` is true."""
        return Steps(
            self.w[keep],
            self.direction[keep],
            self.dw[keep],
            self.device[keep],
            self.devices,
            self.mapping,
            None if self.pulse is None else self.pulse[keep],
        )


@dataclass(frozen=True)
class Traces:
    """Reads, one row per pulse: columns as arrays (``device`` as indices into ``devices``)."""

    device: np.ndarray
    pulse: np.ndarray
    direction: np.ndarray  # +1, -1, or 0 (unknown: a first read)
    value: np.ndarray
    devices: tuple[str, ...]
    quantity: str = "weight"  # or "conductance"

    def weights(
        self, g_ref: float | None = None, g_scale: float | None = None
    ) -> tuple[np.ndarray, str]:
        """``(weights, mapping text)``: reads as weights (conductances mapped, see the module)."""
        if self.quantity == "weight":
            return self.value, "weights as given"
        lo, hi = float(self.value.min()), float(self.value.max())
        ref = (lo + hi) / 2.0 if g_ref is None else float(g_ref)
        scale = (hi - lo) / 2.0 if g_scale is None else float(g_scale)
        if not scale > 0:
            raise TraceError(f"conductance scale {scale!r} must be positive")
        return (self.value - ref) / scale, f"w = (G - {ref:.6g}) / {scale:.6g}"

    def steps(self, g_ref: float | None = None, g_scale: float | None = None) -> Steps:
        """The single-pulse steps between consecutive reads of each device."""
        w, mapping = self.weights(g_ref, g_scale)
        order = np.lexsort((self.pulse, self.device))
        dev, pulse, direction, w = (
            self.device[order],
            self.pulse[order],
            self.direction[order],
            w[order],
        )
        follows = (dev[1:] == dev[:-1]) & (pulse[1:] == pulse[:-1] + 1) & (direction[1:] != 0)
        return Steps(
            w=w[:-1][follows],
            direction=direction[1:][follows],
            dw=(w[1:] - w[:-1])[follows],
            device=dev[1:][follows],
            devices=self.devices,
            mapping=mapping,
            pulse=pulse[1:][follows],
        )


def _direction(text: str, row: int) -> int:
    word = text.strip().lower()
    if word in UP_WORDS:
        return 1
    if word in DOWN_WORDS:
        return -1
    if word == "":
        return 0
    raise TraceError(f"row {row}: direction {text!r} is not up or down")


def read_traces(path: Path) -> Traces:
    """Read a trace CSV (format in the module docstring)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            try:
                header = [name.strip().lower() for name in next(reader)]
            except StopIteration:
                raise TraceError(f"{path}: empty file") from None
            return parse_rows(header, reader, str(path))
    except UnicodeDecodeError as exc:  # a binary or mis-encoded file: one line, not a traceback
        raise TraceError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); a trace file is a CSV"
        ) from None
    except csv.Error as exc:
        raise TraceError(f"{path}: not a readable CSV: {exc}") from None
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror or exc}") from None


def parse_rows(header: list[str], rows: Iterable[list[str]], source: str = "") -> Traces:
    """Traces from a header and rows of text (what :func:`read_traces` does after opening)."""
    where = f"{source}: " if source else ""
    values = [name for name in VALUE_COLUMNS if name in header]
    missing = [name for name in ("pulse", "direction") if name not in header]
    if missing or len(values) != 1:
        need = "one of weight / conductance" if len(values) != 1 else ", ".join(missing)
        raise TraceError(f"{where}header {header}: needs {need} (see `aimc fit --help`)")
    i_pulse, i_dir, i_value = (
        header.index("pulse"),
        header.index("direction"),
        header.index(values[0]),
    )
    i_dev = header.index("device") if "device" in header else None
    ids: dict[str, int] = {}
    device, pulse, direction, value = [], [], [], []
    for n, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            pulse.append(int(float(row[i_pulse])))
            value.append(float(row[i_value]))
        except (ValueError, IndexError):
            raise TraceError(f"{where}row {n}: cannot read pulse / {values[0]} in {row}") from None
        direction.append(_direction(row[i_dir] if i_dir < len(row) else "", n))
        key = row[i_dev].strip() if i_dev is not None else "0"
        device.append(ids.setdefault(key, len(ids)))
    if not value:
        raise TraceError(f"{where}no data rows")
    if not np.all(np.isfinite(value)):
        raise TraceError(f"{where}non-finite {values[0]} values")
    return Traces(
        device=np.asarray(device, dtype=np.int64),
        pulse=np.asarray(pulse, dtype=np.int64),
        direction=np.asarray(direction, dtype=np.int8),
        value=np.asarray(value, dtype=float),
        devices=tuple(ids),
        quantity=values[0],
    )


def write_traces(traces: Traces, path: Path) -> Path:
    """Write ``traces`` in the documented CSV format (device, pulse, direction, value)."""
    words = {1: "up", -1: "down", 0: ""}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["device", "pulse", "direction", traces.quantity])
        names = traces.devices
        for d, p, s, v in zip(
            traces.device.tolist(),
            traces.pulse.tolist(),
            traces.direction.tolist(),
            traces.value.tolist(),
            strict=True,
        ):
            out.writerow([names[d], p, words[s], f"{v:.9g}"])
    return path
