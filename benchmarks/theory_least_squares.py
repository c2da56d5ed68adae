"""Least squares, predicted before training and then measured: the implicit-objective theorem
(docs/theory.md, section 8) against aihwkit runs of Analog SGD through the sweep engine.

For every device the prediction (:mod:`aimc_plugins.builtin.recipes.least_squares_theory`) is
computed from the data and the device's mean response alone; the measurement trains the
``least-squares`` recipe on that device with Analog SGD (``sgd``) for every seed, stored in
``OUT/<case>/results.sqlite`` (``OUT`` defaults to ``benchmarks-output/theory-least-squares``)
so that a second call trains nothing and a stopped one resumes; the rows also go to
``OUT/theory_table.json``.

Two tables are printed in markdown:

1. **Prediction vs measurement** where the theorem's assumptions hold (small rate, no clipped
   updates, several pulses per update, weights away from the bounds, many relaxation times):
   the linear asymmetric device at c = 0, .1, .2, .3 and power / exponential responses at
   several g and tau.
2. **Where it breaks**: the same problem with one assumption broken at a time (pulse budget,
   steps, quantisation, penalty strength, rate, cycle-to-cycle noise), each with the
   diagnostic that measures how far the assumption is off.

Columns: the theorem's floor ``f(W_pred) - f(W*)`` (``Sigma`` at ``W*``), the self-consistent
floor (``Sigma`` at the limit point), the measured excess loss of the mean weight over the last
fifth of the run, and their ratios (mean ± std over seeds of the per-seed ratio); then the
iterate's floor (limit point plus SGD and pulse spread) against the recipe's ``loss``; then
the assumption diagnostics (``least_squares_theory.Assumptions``).

    nice -n 5 .venv/bin/python benchmarks/theory_least_squares.py
    nice -n 5 .venv/bin/python benchmarks/theory_least_squares.py --quick

``--quick`` runs the main table only, with two seeds and fewer steps (a smoke test).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from aimc_plugins.api import least_squares as ls_api
from aimc_plugins.builtin.recipes import least_squares as ls
from aimc_plugins.builtin.recipes import least_squares_theory as theory

LR = 0.01
STEPS = 20000
MAX_BL = 64
LINEAR = "least-squares-device"


def linear(cs: Sequence[float], tau: float = 3.5, dw_min: float = 1e-3) -> dict[str, Any]:
    return {"name": LINEAR, "params": {"tau": tau, "dw_min": dw_min}, "grid": {"c": list(cs)}}


def family(name: str, gs: Sequence[float], tau: float, **params: float) -> dict[str, Any]:
    """A paper family (plugin aimc-paper-devices) with ``dw_min = 2 tau / n_states = 1e-3`` at
    ``w = 0``, like the linear device."""
    return {
        "name": name,
        "params": {"tau": tau, "n_states": 2 * tau / 1e-3, **params},
        "grid": {"g": list(gs)},
    }


@dataclass(frozen=True)
class Case:
    """One experiment of the table: its devices, steps, pulse budget, rate, and what it tests."""

    name: str
    devices: tuple[Mapping[str, Any], ...]
    note: str
    n_steps: int = STEPS
    max_bl: int = MAX_BL
    lr: float = LR
    seeds: tuple[int, ...] = (0, 1, 2)

    def experiment(self) -> ls.Experiment:
        return ls.Experiment(
            problem=ls.SMALL.problem,
            device=replace(ls.SMALL.device, max_bl=self.max_bl),
            n_steps=self.n_steps,
            seeds=self.seeds,
            optimizers={"sgd": {"lr": self.lr}},
            devices=self.devices,
        )


MAIN = Case(
    "main",
    (
        linear((0.0, 0.1, 0.2, 0.3)),
        family("power", (0.5, 1.0, 2.0), 2.0),
        family("power", (0.5, 2.0), 4.0),
        family("exponential", (1.0, 3.0), 2.0),
        family("exponential", (1.0, 3.0), 4.0),
    ),
    "assumptions hold",
)
BREAKING = (
    Case("max-bl-8", (linear((0.0, 0.3)),), "pulse budget: max BL 8", max_bl=8, seeds=(0, 1)),
    Case("max-bl-2", (linear((0.0, 0.3)),), "pulse budget: max BL 2", max_bl=2, seeds=(0, 1)),
    Case("steps-300", (linear((0.3,)),), "not converged: 300 steps", n_steps=300, seeds=(0, 1)),
    Case("steps-1000", (linear((0.3,)),), "not converged: 1000 steps", n_steps=1000, seeds=(0, 1)),
    Case(
        "coarse",
        (linear((0.0, 0.3), dw_min=0.03),),
        "quantisation: dw_min 0.03 (~0.1 pulse per update)",
        seeds=(0, 1),
    ),
    Case(
        "paper-budget",
        (linear((0.0, 0.3), dw_min=1e-4),),
        "the paper's dw_min 1e-4 with max BL 8",
        max_bl=8,
        seeds=(0, 1),
    ),
    Case(
        "strong-penalty",
        (family("power", (2.0,), 1.0),),
        "strong penalty: tau 1, below max abs W*",
        seeds=(0, 1),
    ),
    Case(
        "lr-0.1",
        (linear((0.0, 0.3), dw_min=0.01),),
        "rate: lr 0.1 (dw_min 0.01: ~3 pulses per update)",
        lr=0.1,
        seeds=(0, 1),
    ),
    Case(
        "c2c",
        (family("power", (2.0,), 2.0, noise=1.0),),
        "pulse noise: 100% cycle-to-cycle",
        seeds=(0, 1),
    ),
)


def device_text(run: ls_api.DeviceRun) -> str:
    """A short row name: ``linear c=0.1`` or ``power g=2 tau=2``, noise where there is some."""
    p = run.device_params
    if run.device_name == LINEAR:
        text = f"linear c={p['c']:g} tau={p['tau']:g}"
        return text if p["dw_min"] == 1e-3 else f"{text} dw_min={p['dw_min']:g}"
    text = f"{run.device_name} g={p['g']:g} tau={p['tau']:g}"
    return text + (f" c2c={p['noise']:g}" if p.get("noise") else "")


@dataclass
class Row:
    """One (case, device) over seeds: predictions and measurements per seed."""

    case: str
    note: str
    device: str
    steps: int
    theorem: list[float] = field(default_factory=list)
    self_consistent: list[float] = field(default_factory=list)
    measured: list[float] = field(default_factory=list)
    iterate_predicted: list[float] = field(default_factory=list)
    iterate_measured: list[float] = field(default_factory=list)
    pulses: list[float] = field(default_factory=list)
    clipped: list[float] = field(default_factory=list)
    bound: list[float] = field(default_factory=list)
    relaxations: list[float] = field(default_factory=list)
    sigma_growth: list[float] = field(default_factory=list)


def measure(case: Case, out: Path, workers: int, progress: bool) -> list[Row]:
    """Train ``case`` (resuming its store) and predict every one of its runs."""
    runs = ls_api.run_devices(
        case.experiment(), show_progress=progress, out=out / case.name, workers=workers
    )
    rows: dict[str, Row] = {}
    data_of = {s: ls.make_data(replace(ls.SMALL.problem, seed=s)) for s in case.seeds}
    for run in runs:
        name = device_text(run)
        row = rows.setdefault(name, Row(case.name, case.note, name, case.n_steps))
        data = data_of[run.seed]
        model = theory.device_model(run.device_name, run.device_params)
        prediction = theory.predict(data, model, case.lr)
        checks = theory.diagnose_assumptions(
            data, model, prediction, case.lr, case.max_bl, case.n_steps
        )
        row.theorem.append(prediction.floor)
        row.self_consistent.append(prediction.self_consistent_floor)
        row.measured.append(run.curve.final_averaged)
        row.iterate_predicted.append(prediction.iterate_floor)
        row.iterate_measured.append(run.curve.final)
        row.pulses.append(checks.pulses)
        row.clipped.append(checks.clipped)
        row.bound.append(checks.bound)
        row.relaxations.append(checks.relaxations)
        row.sigma_growth.append(checks.sigma_growth)
    return list(rows.values())


def spread(values: Sequence[float], digits: int = 3) -> str:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {statistics.stdev(values):.1g}"


def ratios(measured: Sequence[float], predicted: Sequence[float]) -> list[float]:
    return [m / p if p > 0 else math.nan for m, p in zip(measured, predicted, strict=True)]


def table(rows: Sequence[Row], with_case: bool) -> str:
    head = [
        "device",
        "steps",
        "theorem floor",
        "self-consistent",
        "measured (mean W)",
        "ratio / theorem",
        "ratio / s.-c.",
        "iterate: predicted",
        "iterate: measured",
        "ratio",
    ]
    head += ["pulses/update", "clipped", "max abs W / bound", "relaxations", "Sigma growth"]
    if with_case:
        head = ["case", *head]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r.device,
            str(r.steps),
            spread(r.theorem),
            spread(r.self_consistent),
            spread(r.measured),
            spread(ratios(r.measured, r.theorem), 2),
            spread(ratios(r.measured, r.self_consistent), 2),
            spread(r.iterate_predicted),
            spread(r.iterate_measured),
            spread(ratios(r.iterate_measured, r.iterate_predicted), 2),
        ]
        cells += [
            f"{statistics.fmean(r.pulses):.2g}",
            f"{statistics.fmean(r.clipped):.0%}",
            f"{statistics.fmean(r.bound):.2f}",
            f"{statistics.fmean(r.relaxations):.3g}",
            f"{statistics.fmean(r.sigma_growth):+.0%}",
        ]
        if with_case:
            cells = [r.note, *cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks-output/theory-least-squares"))
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: this one)")
    parser.add_argument("--quick", action="store_true", help="main table, 2 seeds, 4000 steps")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, list[Row]]:
    args = parse_args(argv)
    started = time.perf_counter()
    main_case = replace(MAIN, n_steps=4000, seeds=(0, 1)) if args.quick else MAIN
    cases = [main_case] if args.quick else [main_case, *BREAKING]
    found = {c.name: measure(c, args.out, args.workers, not args.quiet) for c in cases}
    elapsed = time.perf_counter() - started
    print(f"## Least squares: predicted before training, then measured ({date.today()})\n")
    print(
        f"Analog SGD, lr {main_case.lr}, max BL {main_case.max_bl}, {main_case.n_steps} steps, "
        f"seeds {list(main_case.seeds)}; problem {ls.SMALL.problem}.\n"
    )
    print(table(found[main_case.name], with_case=False))
    if not args.quick:
        print("\n### Where it breaks\n")
        rows = [r for c in cases[1:] for r in found[c.name]]
        print(table(rows, with_case=True))
    print(f"\n{elapsed:.0f} s wall (training skipped for runs already in {args.out})")
    args.out.mkdir(parents=True, exist_ok=True)
    dump = {name: [asdict(r) for r in rows] for name, rows in found.items()}
    (args.out / "theory_table.json").write_text(json.dumps(dump, indent=1))
    return found


if __name__ == "__main__":
    main()
