"""Tables and figures from a comparison's outcomes: what a researcher puts in a paper."""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aimc_plugins.compare import RunOutcome


@dataclass(frozen=True)
class Row:
    """Mean and standard deviation over seeds of one device x optimizer."""

    device: str
    optimizer: str
    metric: str
    mean: float
    std: float
    n_done: int
    n_runs: int

    def formatted(self, digits: int = 4) -> str:
        if math.isnan(self.mean):
            return "n/a"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def summarize(
    outcomes: Sequence[RunOutcome], metric: str, higher_is_better: bool = True
) -> list[Row]:
    """One row per device x optimizer, best first. Failed and diverged runs count in ``n_runs``
    but not in the mean, so a configuration that only works on some seeds shows it."""
    groups: dict[tuple[str, str], list[RunOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.spec.device, outcome.spec.optimizer)].append(outcome)
    rows = []
    for (device, optimizer), group in groups.items():
        values = [o.final[metric] for o in group if o.status == "done" and metric in o.final]
        mean = statistics.fmean(values) if values else math.nan
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        rows.append(Row(device, optimizer, metric, mean, std, len(values), len(group)))

    def key(row: Row) -> float:
        if math.isnan(row.mean):
            return math.inf
        return -row.mean if higher_is_better else row.mean

    return sorted(rows, key=key)


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["rank", "device", "optimizer", "metric", "mean", "std", "n_done", "n_runs"]
        )
        for rank, row in enumerate(rows, 1):
            writer.writerow(
                [
                    rank,
                    row.device,
                    row.optimizer,
                    row.metric,
                    row.mean,
                    row.std,
                    row.n_done,
                    row.n_runs,
                ]
            )
    return path


def markdown_table(rows: Sequence[Row]) -> str:
    if not rows:
        return "(no runs)\n"
    metric = rows[0].metric
    lines = [
        f"| rank | device | optimizer | {metric} (mean ± std) | runs done |",
        "|---:|---|---|---:|---:|",
    ]
    for rank, row in enumerate(rows, 1):
        lines.append(
            f"| {rank} | {row.device} | {row.optimizer} | {row.formatted()} | "
            f"{row.n_done}/{row.n_runs} |"
        )
    return "\n".join(lines) + "\n"


def write_markdown(rows: Sequence[Row], path: Path, title: str = "Comparison") -> Path:
    path.write_text(f"# {title}\n\n{markdown_table(rows)}")
    return path


def plot_learning_curves(outcomes: Sequence[RunOutcome], metric: str, path: Path) -> Path:
    """Mean curve over seeds per device x optimizer, with a band of ± one standard deviation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups: dict[str, list[list[float]]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status == "done":
            groups[outcome.spec.label].append([h[metric] for h in outcome.history])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, curves in sorted(groups.items()):
        length = min(len(c) for c in curves)
        values = np.array([c[:length] for c in curves])
        epochs = np.arange(1, length + 1)
        mean, std = values.mean(axis=0), values.std(axis=0)
        ax.plot(epochs, mean, marker="o", label=label)
        ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.grid(alpha=0.3)
    if groups:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def write_runs_json(outcomes: Sequence[RunOutcome], path: Path) -> Path:
    """Every run with its configuration, status and per-epoch history, for later analysis."""
    import json
    from dataclasses import asdict

    path.write_text(json.dumps([asdict(o) for o in outcomes], indent=1, default=str))
    return path
