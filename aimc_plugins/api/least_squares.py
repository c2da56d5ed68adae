"""The least-squares experiment (Wu et al., Figure 2) run as a comparison: its runs through the
normal sweep engine and results store, its curves and its final-loss table read back from them.

:func:`run_experiment` turns an :class:`~aimc_plugins.builtin.recipes.least_squares.Experiment`
into a sweep spec (the registered least-squares device over the asymmetries ``c``, each optimizer
label an optimizer entry) and runs it with :func:`~aimc_plugins.api.comparison.compare`: a store
in ``out`` is resumed, ``workers`` train in parallel, and the comparison report (ranked table,
learning curves) is written beside it. The curves it returns are what the paper's figure draws
(``recipes/least_squares.py``); :func:`final_table` and :func:`write_tables` are its final-loss
table, computed as the comparison report computes means and spreads.
"""

from __future__ import annotations

import csv
import math
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aimc_plugins.builtin.recipes import least_squares as ls
from aimc_plugins.report.stats import mean_interval
from aimc_plugins.training.run import DONE, RunOutcome

CurveKey = tuple[str, float, int]  # (optimizer label, c, seed)


def available_optimizers(experiment: ls.Experiment) -> dict[str, dict[str, Any]]:
    """The experiment's optimizer labels whose optimizer is registered here; the others are
    left out with a warning (``rl`` comes with plugins/aimc-residual-learning)."""
    from aimc_plugins.training.setup import optimizer_names

    labelled = ls.experiment_optimizers(experiment)
    registered = optimizer_names()
    missing = [
        label for label, p in labelled.items() if ls.optimizer_of(label, p)[0] not in registered
    ]
    if missing:
        warnings.warn(
            f"least squares: optimizers {missing} are not registered and are left out "
            "(rl comes with plugins/aimc-residual-learning)",
            stacklevel=3,
        )
    return {label: p for label, p in labelled.items() if label not in missing}


def run_experiment(
    experiment: ls.Experiment,
    show_progress: bool = False,
    out: str | Path | None = None,
    workers: int | None = 0,
    report: bool = False,
) -> dict[CurveKey, ls.Curve]:
    """Every (optimizer, c, seed) run of ``experiment``, trained through the sweep engine into
    the store in ``out`` (a temporary folder when ``None``; runs it already holds are not
    trained again), as ``{(optimizer label, c, seed): Curve}``; with ``experiment.reference``,
    also the expected (pure-torch) dynamics as ``reference LABEL``. ``workers``: processes
    (``0``: this one; ``None``: one per core). ``report`` writes the comparison report into
    ``out``."""
    from aimc_plugins.api.comparison import compare

    optimizers = available_optimizers(experiment)
    spec = ls.experiment_spec(experiment, optimizers)
    with tempfile.TemporaryDirectory(prefix="least-squares-") as scratch:
        folder = Path(out) if out is not None else Path(scratch)
        results = compare(spec, out=folder, workers=workers, report=report, progress=show_progress)
        outcomes = list(results.outcomes)
    curves = curves_of(outcomes, experiment)
    if experiment.reference:
        curves.update(reference_curves(experiment, optimizers))
    return curves


def curves_of(
    outcomes: Sequence[RunOutcome], experiment: ls.Experiment
) -> dict[CurveKey, ls.Curve]:
    """The loss curve of every finished run, keyed as :func:`run_experiment` keys them, in the
    experiment's order (c, then optimizer, then seed). A failed run raises: the figure and the
    table would otherwise compare a row with a hole in it."""
    _check_finished(outcomes)
    found: dict[CurveKey, ls.Curve] = {}
    for outcome in outcomes:
        run = outcome.run
        key = (run.shown_optimizer, float(run.device_params["c"]), run.seed)
        found[key] = curve_of(outcome, experiment)
    order = {label: i for i, label in enumerate(ls.experiment_optimizers(experiment))}
    return dict(sorted(found.items(), key=lambda kv: (kv[0][1], order.get(kv[0][0], 0), kv[0][2])))


def _check_finished(outcomes: Sequence[RunOutcome]) -> None:
    failed = [o for o in outcomes if o.status != DONE and o.status != "diverged"]
    if failed:
        first = failed[0]
        raise RuntimeError(f"least squares: {first.run.label} seed {first.run.seed}: {first.error}")


def curve_of(outcome: RunOutcome, experiment: ls.Experiment) -> ls.Curve:
    """One stored run's loss curve (and its tail-mean losses where the store has them)."""
    _, steps_per_epoch = ls.schedule(experiment.n_steps)
    epochs = [h for h in outcome.history if "loss" in h]
    steps = tuple(int(h["epoch"]) * steps_per_epoch for h in epochs)
    losses = tuple(float(h["loss"]) for h in epochs)
    averaged = tuple(float(h[ls.AVERAGED]) for h in epochs if ls.AVERAGED in h)
    return ls.Curve(steps, losses, None, averaged if len(averaged) == len(epochs) else ())


@dataclass(frozen=True)
class DeviceRun:
    """One finished run of an experiment over its own ``devices``: which device (registered
    name and every parameter, as the planner resolved them, so a prediction can rebuild exactly
    the device that was trained), optimizer label, seed, and its curve."""

    optimizer: str
    device: str
    device_name: str
    device_params: Mapping[str, Any]
    seed: int
    curve: ls.Curve


def run_devices(
    experiment: ls.Experiment,
    show_progress: bool = False,
    out: str | Path | None = None,
    workers: int | None = 0,
) -> list[DeviceRun]:
    """Every run of an experiment over any registered devices (``experiment.devices``, which
    must not be empty), trained through the sweep engine into the store in ``out`` as
    :func:`run_experiment` does (resumed; a temporary folder when ``None``), in plan order."""
    from aimc_plugins.api.comparison import compare

    if not experiment.devices:
        raise ValueError("run_devices needs experiment.devices (run_experiment runs the c-sweep)")
    spec = ls.experiment_spec(experiment, available_optimizers(experiment))
    with tempfile.TemporaryDirectory(prefix="least-squares-") as scratch:
        folder = Path(out) if out is not None else Path(scratch)
        results = compare(spec, out=folder, workers=workers, report=False, progress=show_progress)
        outcomes = list(results.outcomes)
    _check_finished(outcomes)
    return [
        DeviceRun(
            o.run.shown_optimizer,
            o.run.device,
            o.run.registered_device,
            dict(o.run.device_params),
            o.run.seed,
            curve_of(o, experiment),
        )
        for o in outcomes
    ]


def reference_curves(
    experiment: ls.Experiment, optimizers: Mapping[str, Mapping[str, Any]]
) -> dict[CurveKey, ls.Curve]:
    """The expected dynamics of each optimizer that has a model (pure torch, no simulator), as
    ``reference LABEL`` curves."""
    curves = {}
    for c in experiment.asymmetries:
        for label, params in optimizers.items():
            name, rest = ls.optimizer_of(label, params)
            if name not in ls.REFERENCE_MODELS:
                continue
            for seed in experiment.seeds:
                data = ls.make_data(replace(experiment.problem, seed=seed))
                curves[(f"reference {label}", c, seed)] = ls.train_reference(
                    data,
                    name,
                    rest,
                    c,
                    experiment.device.tau,
                    experiment.n_steps,
                    seed,
                    w0=experiment.w0,
                )
    return curves


def final_table(curves: Mapping[CurveKey, ls.Curve]) -> list[dict[str, Any]]:
    """One row per (optimizer, c): mean and sample standard deviation of the final excess
    loss over seeds, computed as the comparison report computes it; with one seed the std is
    NaN (no spread was measured), not 0."""
    groups: dict[tuple[str, float], list[float]] = {}
    for (name, c, _seed), curve in curves.items():
        groups.setdefault((name, c), []).append(curve.final)
    rows = []
    for (name, c), finals in groups.items():
        mean, std, _low, _high = mean_interval(finals)
        rows.append({"optimizer": name, "c": c, "final_loss": mean, "std": std, "n": len(finals)})
    return rows


def _cell(row: Mapping[str, Any]) -> str:
    """``mean ± std``; the mean alone for one seed, where ``± 0`` would claim a spread that was
    never measured (the comparison table does the same)."""
    std = float(row["std"])
    if int(row.get("n", 0)) < 2 or math.isnan(std):
        return f"{row['final_loss']:.4g}"
    return f"{row['final_loss']:.4g} ± {std:.2g}"


def write_tables(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """The final-loss table as CSV (one row per optimizer and c) and markdown (optimizers x c)."""
    csv_path, md_path = out / "final_loss.csv", out / "final_loss.md"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    cs = sorted({r["c"] for r in rows})
    cell = {(r["optimizer"], r["c"]): r for r in rows}
    lines = [
        "Final excess loss f(W) - f(W*) (mean ± std over seeds; the mean alone where one seed "
        "gives no spread)",
        "",
        "| optimizer | " + " | ".join(f"c = {c:g}" for c in cs) + " |",
        "|---|" + "---|" * len(cs),
    ]
    for name in optimizers:
        values = [cell[(name, c)] for c in cs]
        lines.append(f"| {name} | " + " | ".join(_cell(v) for v in values) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    return [csv_path, md_path]
