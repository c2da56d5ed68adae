"""What training cost the devices, per row of the report: the pulses its runs fired, who fired
them, the wear of the most-written devices and, where a device declares them, energy and
endurance.

A final value says how well a row trained; on a device that wears out and spends energy on
every write, how much writing it took is the other half of the answer (Tiki-Taka's transfers
can fire several times the gradient's pulses). The counts come from each run's final metrics
(:data:`~aimc_plugins.training.pulses.PULSE_METRICS`) and its per-array records
(:class:`~aimc_plugins.training.pulses.ArrayPulses`); a row's value is the mean over its
finished runs, and only where every one of them was counted, so a mean is never taken over the
runs that happened to be countable. Runs on aihwkit's compiled compounds write inside the C++
core and are not counted: the section names them and says why, rather than showing a zero.

The ranked table shows one compact "pulses" column (and "energy" only where some row has it);
the breakdown, the per-array detail and the wear are this module's section
(:func:`cost_markdown`, :func:`cost_html`, :func:`cost_data`).
"""

from __future__ import annotations

import html
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aimc_plugins.report.plain import plain
from aimc_plugins.report.splits import result_runs
from aimc_plugins.report.tables import html_table, md_table
from aimc_plugins.training.pulses import (
    DEVICE_MAX,
    DEVICE_P99,
    ENDURANCE_USED,
    ENERGY,
    PULSE_METRICS,
    PULSES,
    PULSES_DOWN,
    PULSES_GRADIENT,
    PULSES_TRANSFER,
    PULSES_UP,
    TRANSFER_READS,
)
from aimc_plugins.training.run import DONE, RunOutcome

NOT_COUNTED = "n/c"  # the table's cell for a row whose pulses could not be counted
NO_DEVICE = "—"  # no pulses recorded: digital, counting switched off, or stored before it
NO_RUNS = "n/a"  # no finished run to take a mean over
TITLE = "Device cost"

# The section's columns: (final metric, heading); energy and endurance only where declared.
COLUMNS = (
    (PULSES, "pulses"),
    (PULSES_UP, "up"),
    (PULSES_DOWN, "down"),
    (PULSES_GRADIENT, "gradient"),
    (PULSES_TRANSFER, "transfer"),
    (TRANSFER_READS, "transfer reads"),
    (DEVICE_MAX, "max / device"),
    (DEVICE_P99, "p99 / device"),
)
DECLARED_COLUMNS = ((ENERGY, "energy (J)"), (ENDURANCE_USED, "endurance used"))
ARRAY_HEAD = (
    "device",
    "optimizer",
    "layer",
    "array",
    "pulses",
    "gradient",
    "transfer",
    "transfer reads",
    "max / device",
)

EXPECTED = (
    "Pulses are up + down over every analog array of every layer, the mean over each row's "
    "finished runs. They are counted on the CPU from what aihwkit's pulsed update is given: "
    "expected values of its stochastic pulse trains (its default), exact for deterministic "
    "ones. Gradient and transfer split them by who fired them (a transfer rule's writes are "
    "transfers); transfer reads are the columns its transfers read; max and p99 per device "
    "are the pulses of the most-written device and the 99th percentile over devices (wear)."
)


def compact(value: float | None) -> str:
    """A count in two significant digits, ``4.3e6`` style (``512``, ``0``), short enough for a
    table column; None and NaN as ``—``."""
    if value is None or not math.isfinite(value):
        return NO_DEVICE
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.3g}"


def _why(outcome: RunOutcome) -> list[str]:
    """Why ``outcome``'s pulses were not counted (from its per-array records); empty if they
    were, or if it fired none (digital)."""
    return [str(r.get("why", "")) for r in outcome.pulses if not r.get("counted", True)]


@dataclass(frozen=True)
class RowCost:
    """The cost of one device x optimizer row over its finished (``done``) runs: the mean of
    each pulse metric that every one of them carries (``means``, by final-metric name), the
    per-array means (``arrays``, keyed by layer and array name), whether every count is exact,
    and why the row was not counted where it was not."""

    device: str
    optimizer: str
    n_runs: int  # finished runs
    n_counted: int  # of those, the ones whose pulses were counted
    means: Mapping[str, float] = field(default_factory=dict)
    arrays: Mapping[tuple[str, str], Mapping[str, float]] = field(default_factory=dict)
    exact: bool = False
    why: str = ""

    @property
    def counted(self) -> bool:
        """Every finished run counted (and there was one)."""
        return self.n_runs > 0 and self.n_counted == self.n_runs

    @property
    def recorded(self) -> bool:
        """Whether the row's runs say anything about pulses: counted, or not with a reason
        (False for the digital baseline, which has no device)."""
        return self.n_counted > 0 or bool(self.why)

    def mean(self, metric: str) -> float | None:
        """The row's mean of ``metric`` (a name of
        :data:`~aimc_plugins.training.pulses.PULSE_METRICS`), None unless counted."""
        return self.means.get(metric) if self.counted else None


def row_cost(device: str, optimizer: str, group: Sequence[RunOutcome]) -> RowCost:
    """The cost of one row from its runs (failed and diverged ones are left out, as the
    table's mean leaves them out). A metric gets a mean only where every finished run has it,
    so energy is shown only when the row's device declares it for all of them."""
    done = [o for o in group if o.status == DONE]
    counted = [o for o in done if PULSES in o.final]
    reasons = dict.fromkeys(why for o in done for why in _why(o) if why)
    if not done or len(counted) < len(done):
        why = "; ".join(reasons)
        if counted and not why:
            why = f"{len(done) - len(counted)} of {len(done)} runs not counted"
        return RowCost(device, optimizer, len(done), len(counted), why=why)
    means = {
        metric: statistics.fmean(float(o.final[metric]) for o in counted)
        for metric in PULSE_METRICS
        if all(metric in o.final for o in counted)
    }
    by_array: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for outcome in counted:
        for record in outcome.pulses:
            by_array[(str(record.get("layer", "")), str(record.get("array", "")))].append(record)
    arrays = {
        key: {
            name: statistics.fmean(float(r.get(name, 0.0)) for r in records)
            for name in ("total", "gradient", "transfer", "reads", "device_max")
        }
        for key, records in by_array.items()
    }
    exact = bool(by_array) and all(
        bool(r.get("exact")) for records in by_array.values() for r in records
    )
    return RowCost(device, optimizer, len(done), len(counted), means, arrays, exact)


def row_costs(outcomes: Sequence[RunOutcome]) -> dict[tuple[str, str], RowCost]:
    """(device, optimizer) -> the row's cost, as the ranked table names its rows; tuning
    trials (validation-split runs) are left out."""
    groups: dict[tuple[str, str], list[RunOutcome]] = defaultdict(list)
    for outcome in result_runs(outcomes):
        groups[(outcome.run.device, outcome.run.shown_optimizer)].append(outcome)
    return {key: row_cost(*key, group) for key, group in groups.items()}


def any_counted(costs: Mapping[tuple[str, str], RowCost]) -> bool:
    return any(cost.counted for cost in costs.values())


def _ordered(costs: Mapping[tuple[str, str], RowCost], rows: Sequence[Any]) -> list[RowCost]:
    """The costs in the ranked table's order (``rows`` are its rows), digital rows left out."""
    found = [costs.get((row.device, row.optimizer)) for row in rows]
    return [cost for cost in found if cost is not None and cost.recorded]


def _declared(shown: Sequence[RowCost]) -> tuple[tuple[str, str], ...]:
    return tuple(
        column for column in DECLARED_COLUMNS if any(c.mean(column[0]) is not None for c in shown)
    )


def _cell(metric: str, value: float | None) -> str:
    if value is None:
        return NO_DEVICE
    if metric == ENDURANCE_USED:
        return f"{value:.2%}" if value >= 1e-4 else f"{value:.1e}"
    return compact(value)


def head(shown: Sequence[RowCost]) -> tuple[str, ...]:
    """The section table's headings (energy and endurance only where some row declares them)."""
    return (
        "device",
        "optimizer",
        "runs counted",
        *(title for _, title in COLUMNS),
        *(title for _, title in _declared(shown)),
    )


def cells(shown: Sequence[RowCost]) -> list[tuple[str, ...]]:
    """The section table's rows: the counted rows of ``shown``, matching :func:`head`."""
    declared = _declared(shown)
    lines: list[tuple[str, ...]] = []
    for cost in shown:
        if not cost.counted:
            continue
        optimizer = f"{cost.optimizer} (exact)" if cost.exact else cost.optimizer
        lines.append(
            (
                cost.device,
                optimizer,
                f"{cost.n_counted}/{cost.n_runs}",
                *(_cell(metric, cost.mean(metric)) for metric, _ in (*COLUMNS, *declared)),
            )
        )
    return lines


def array_cells(shown: Sequence[RowCost]) -> list[tuple[str, ...]]:
    """Per array of each counted row (mean over its runs), matching :data:`ARRAY_HEAD`."""
    lines: list[tuple[str, ...]] = []
    for cost in shown:
        for (layer, array), means in cost.arrays.items():
            lines.append(
                (
                    cost.device,
                    cost.optimizer,
                    layer,
                    array or "—",
                    compact(means["total"]),
                    compact(means["gradient"]),
                    compact(means["transfer"]),
                    compact(means["reads"]),
                    compact(means["device_max"]),
                )
            )
    return lines


def not_counted(shown: Sequence[RowCost]) -> list[str]:
    """``device / optimizer: why`` for each row that was not counted."""
    return [f"{c.device} / {c.optimizer}: {c.why or 'not counted'}" for c in shown if not c.counted]


def cost_markdown(costs: Mapping[tuple[str, str], RowCost], rows: Sequence[Any]) -> str:
    """The device-cost section of ``results.md`` ("" unless some row was counted)."""
    if not any_counted(costs):
        return ""
    shown = _ordered(costs, rows)
    text = f"## {TITLE}\n\n{EXPECTED}\n\n" + md_table(head(shown), cells(shown), 2)
    missing = not_counted(shown)
    if missing:
        text += "\nNot counted (no pulse figures for these rows):\n\n"
        text += "".join(f"- {line}\n" for line in missing)
    arrays = array_cells(shown)
    if arrays:
        text += "\n### Per array\n\n" + md_table(ARRAY_HEAD, arrays, 4)
    return text


def cost_html(costs: Mapping[tuple[str, str], RowCost], rows: Sequence[Any]) -> str:
    """The device-cost section of ``report.html`` ("" unless some row was counted); the
    per-array detail folded away, as it is long for a large comparison."""
    if not any_counted(costs):
        return ""
    shown = _ordered(costs, rows)
    text = f"<h2 id='device-cost'>{TITLE}</h2><p>{html.escape(EXPECTED)}</p>" + html_table(
        head(shown), cells(shown), "cost"
    )
    missing = not_counted(shown)
    if missing:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in missing)
        text += f"<p>Not counted (no pulse figures for these rows):</p><ul>{items}</ul>"
    arrays = array_cells(shown)
    if arrays:
        text += (
            "<details><summary>Per array (mean over each row's runs)</summary>"
            + html_table(ARRAY_HEAD, arrays, "cost-arrays")
            + "</details>"
        )
    return text


def cost_data(
    costs: Mapping[tuple[str, str], RowCost], rows: Sequence[Any]
) -> dict[str, Any] | None:
    """The section as plain data (``--json``), None unless some row was counted: per row its
    counts (None where not counted), whether exact, and why not counted."""
    if not any_counted(costs):
        return None
    shown = _ordered(costs, rows)
    return {
        "note": EXPECTED,
        "rows": [
            plain(
                {
                    "device": c.device,
                    "optimizer": c.optimizer,
                    "n_runs": c.n_runs,
                    "n_counted": c.n_counted,
                    "counted": c.counted,
                    "exact": c.exact,
                    "why": c.why,
                    **{metric: c.mean(metric) for metric in PULSE_METRICS},
                    "arrays": [
                        {"layer": layer, "array": array, **means}
                        for (layer, array), means in c.arrays.items()
                    ]
                    if c.counted
                    else [],
                }
            )
            for c in shown
        ],
    }
