"""Training to convergence under a cap: when a row's metric stopped improving, and whether it did.

A comparison's ``epochs`` is a *cap*. Stopping every row at the same short length ranks the
algorithms that converge quickly above those that need the budget's second half (the
Tiki-Taka family on ReRAM-like devices: aihwkit's AGAD preset is 0.36 at 4 epochs and 0.92 at
30 on the digits MLP, where Analog SGD is 0.50 and 0.42). So a comparison can ask each row to
train until its validation metric stops improving, still under the cap
(:class:`Convergence`, a spec's ``[converge]`` table or ``aimc compare --converge``):

1. each row's chosen setting (tuned, or as given) trains on the validation split up to the cap,
   on :attr:`Convergence.seeds` seeds (runs a tuning's last rung already holds are not run
   again: they have the same ids);
2. :func:`plateau` reads the mean validation curve: the *stop epoch* is the last epoch that
   improved the best value so far by more than ``min_delta`` (relative), and the row has
   *converged* when ``patience`` epochs without such an improvement followed it before the cap;
3. the row's final runs (its seeds, the test split) train for the stop epoch, or the whole
   cap when it was still improving. The test split is never read to decide a length.

Every report says per row whether it converged and when (``convergence.json`` beside the store
for a comparison that asked; for any other, the same rule over the row's own curve, which then
only flags rows that were still improving at the end). A row still improving at the cap is
flagged: its rank is a lower bound.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aimc_plugins.host.records import VALIDATION_SPLIT
from aimc_plugins.training.identity import PlannedRun

CONVERGE_KEYS = ("patience", "min_delta", "seeds")
RECORD_NAME = "convergence.json"
CONVERGED, IMPROVING = "converged", "still improving"
LOWER_BOUND = "still improving at the cap: its rank is a lower bound"


class ConvergenceError(ValueError):
    """Convergence settings that cannot be used as written (a spec error)."""


@dataclass(frozen=True)
class Convergence:
    """The rule that says a row has stopped improving, and how many seeds show it.

    Defaults: ``patience`` 5 epochs, ``min_delta`` 0.005 (half a percent of the best value:
    about two images of the digits validation split at 90% accuracy, so that one image more or
    less is not read as progress), ``seeds`` 2 (one seed's curve is noisier than the mean of
    two, and a tuning's last rung already trains two)."""

    patience: int = 5
    min_delta: float = 0.005
    seeds: int = 2

    def __post_init__(self) -> None:
        for name, value in (("patience", self.patience), ("seeds", self.seeds)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConvergenceError(f"converge.{name} must be an integer >= 1, got {value!r}")
        delta = self.min_delta
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 <= delta < 1:
            raise ConvergenceError(
                f"converge.min_delta must be a number in [0, 1) (relative to the best value), "
                f"got {delta!r}"
            )

    def as_table(self) -> dict[str, Any]:
        """These settings as the spec's ``[converge]`` table that gives them."""
        return {"patience": self.patience, "min_delta": self.min_delta, "seeds": self.seeds}

    def describe(self) -> str:
        return (
            f"patience {self.patience} epochs, min_delta {self.min_delta:g} of the best value, "
            f"mean validation curve of {self.seeds} seed{'s' if self.seeds != 1 else ''}"
        )


DEFAULT_RULE = Convergence()


def convergence_from_table(table: Any) -> Convergence | None:
    """A spec's ``converge`` value: ``true`` (the defaults), ``false`` (off) or a table of
    :data:`CONVERGE_KEYS`."""
    if isinstance(table, bool):
        return Convergence() if table else None
    if not isinstance(table, Mapping):
        raise ConvergenceError(f"converge must be true, false or a table, got {table!r}")
    unknown = sorted(set(table) - set(CONVERGE_KEYS))
    if unknown:
        raise ConvergenceError(
            f"converge: unknown key {unknown[0]!r} (known: {', '.join(CONVERGE_KEYS)})"
        )
    return Convergence(**dict(table))


@dataclass(frozen=True)
class Plateau:
    """What one curve says: its best value, the epoch that reached it (the stop epoch), how
    long the curve is, and whether ``patience`` epochs without progress followed."""

    stop_epoch: int  # last epoch that improved the best by more than min_delta (1-based)
    epochs: int  # epochs in the curve (the cap, for a run that trained to it)
    converged: bool
    best: float
    source: str = "validation"  # what curve was read: validation, or the runs' own (test)

    @property
    def status(self) -> str:
        return CONVERGED if self.converged else IMPROVING

    def text(self) -> str:
        """``converged at epoch 12 of 30`` or ``still improving at the cap (30 epochs)``."""
        if self.converged:
            return f"converged at epoch {self.stop_epoch} of {self.epochs}"
        return f"still improving at the cap ({self.epochs} epochs)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "stop_epoch": self.stop_epoch,
            "epochs": self.epochs,
            "converged": self.converged,
            "best": self.best if math.isfinite(self.best) else None,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plateau:
        best = data.get("best")
        return cls(
            int(data["stop_epoch"]),
            int(data["epochs"]),
            bool(data["converged"]),
            float(best) if best is not None else math.nan,
            str(data.get("source", "validation")),
        )


def plateau(
    values: Sequence[float],
    higher_is_better: bool = True,
    rule: Convergence = DEFAULT_RULE,
    source: str = "validation",
) -> Plateau:
    """Where a per-epoch curve stopped improving, by ``rule``.

    An epoch *improves* when it beats the best value so far by more than ``min_delta`` of that
    value's magnitude (in the metric's direction); the stop epoch is the last epoch that
    improved (1 when none did), and the curve has converged when at least ``patience`` epochs
    followed it. A NaN (a diverged epoch) never improves. A curve shorter than
    ``patience + 1`` epochs cannot show convergence, so it is "still improving"."""
    if not values:
        raise ValueError("an empty curve has no plateau")
    sign = 1.0 if higher_is_better else -1.0
    best, stop = math.nan, 1
    for epoch, value in enumerate(values, 1):
        if not math.isfinite(value):
            continue
        if not math.isfinite(best):
            best, stop = value, epoch
            continue
        if sign * (value - best) > rule.min_delta * max(abs(best), 1e-12):
            best, stop = value, epoch
    epochs = len(values)
    return Plateau(stop, epochs, epochs - stop >= rule.patience, best, source)


def mean_curve(histories: Iterable[Sequence[Mapping[str, Any]]], metric: str) -> list[float]:
    """The metric per epoch averaged over runs, as long as the shortest run (NaN where a run's
    epoch has no finite value, so a diverged seed is not averaged away)."""
    curves = []
    for history in histories:
        curve = []
        for entry in history:
            value = entry.get(metric)
            curve.append(
                float(value)
                if isinstance(value, (int, float)) and math.isfinite(value)
                else math.nan
            )
        curves.append(curve)
    if not curves or not all(curves):
        return []
    length = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(length)]


# -- the runs a comparison trains to find each row's length ------------------------------------


def validation_runs(
    template: PlannedRun, params: Mapping[str, Any], cap: int, seed: int, rule: Convergence
) -> list[PlannedRun]:
    """The validation runs that show a row's curve: its setting ``params`` at the ``cap`` on
    ``rule.seeds`` seeds from ``seed`` (a tuning's decision seeds: the same ids)."""
    return [
        replace(
            template,
            params={**template.params, **params},
            seed=seed + k,
            epochs=cap,
            split=VALIDATION_SPLIT,
        )
        for k in range(rule.seeds)
    ]


def final_runs(runs: Sequence[PlannedRun], found: Plateau) -> list[PlannedRun]:
    """A row's final runs trained for the stop epoch its validation curve found (the whole
    cap when it was still improving there)."""
    length = found.stop_epoch if found.converged else found.epochs
    return [replace(run, epochs=length) for run in runs]


# -- the record beside the store ---------------------------------------------------------------


def write_record(
    folder: Path, rule: Convergence, cap: int, rows: Mapping[str, Any]
) -> dict[str, Any]:
    """``convergence.json``: the rule, the cap and per row (by table label) its plateau and
    validation curve; written whole or not at all. Returns what it wrote."""
    path = Path(folder) / RECORD_NAME
    data = {"rule": rule.as_table(), "cap": cap, "rows": dict(rows)}
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(partial, path)
    return data


def read_record(folder: Path | None) -> dict[str, Any] | None:
    """``folder/convergence.json`` as data, or None when the comparison did not ask for
    convergence (no file)."""
    if folder is None:
        return None
    path = Path(folder) / RECORD_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConvergenceError(f"{path} cannot be read as JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), dict):
        raise ConvergenceError(f"{path} is not a convergence record: it has no rows")
    return data


def recorded_plateaus(record: Mapping[str, Any] | None) -> dict[str, Plateau]:
    """Row label -> :class:`Plateau` from a convergence record (empty without one)."""
    if not record:
        return {}
    return {
        label: Plateau.from_dict(row["plateau"])
        for label, row in record["rows"].items()
        if isinstance(row, Mapping) and isinstance(row.get("plateau"), Mapping)
    }


# -- running it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    """What convergence decided: each row's plateau and the final runs at their lengths."""

    plateaus: Mapping[str, Plateau]  # row label -> plateau of its validation curve
    final_runs: tuple[PlannedRun, ...]
    record: Mapping[str, Any]


def check_recipe(recipe_name: str) -> None:
    """Convergence reads a validation curve: a recipe without a validation split cannot
    offer one without reading its test split (a :class:`ConvergenceError`)."""
    from aimc_plugins.host import plugins

    recipe = plugins.registry.recipe(recipe_name)
    if not recipe.validation:
        raise ConvergenceError(
            f"recipe {recipe_name!r} offers no validation split, so it cannot train to "
            "convergence without choosing a length on its test split"
        )


def settle(
    runs: Sequence[PlannedRun],
    chosen: Mapping[str, Mapping[str, Any] | None],
    rule: Convergence,
    store: Any,
    sweep: str = "",
    options: Any = None,
    seed: int = 0,
    on_start: Any = None,
) -> Settled:
    """Train each row's setting (``chosen[label]``, else as planned) on the validation split
    up to the cap (the runs' ``epochs``), read where its mean curve stopped improving, and
    return the final runs at that length; writes ``convergence.json`` beside the store.
    Stored runs are not trained again (a tuning's decision runs have the same ids)."""
    from aimc_plugins.host import plugins
    from aimc_plugins.sweep import engine

    if not runs:
        return Settled({}, (), {})
    recipe = plugins.registry.recipe(runs[0].recipe)
    metric, higher = recipe.validation_metric, recipe.higher_is_better
    grouped: dict[str, list[PlannedRun]] = {}
    for run in runs:
        grouped.setdefault(run.label, []).append(run)
    curves: dict[str, list[PlannedRun]] = {}
    for label, members in grouped.items():
        template = members[0]
        params = chosen.get(label) or {}
        curves[label] = validation_runs(template, params, template.epochs, seed, rule)
    every = [run for members in curves.values() for run in members]
    if on_start is not None:
        on_start(
            f"convergence: {len(grouped)} rows' validation curves up to {runs[0].epochs} "
            f"epochs ({len(every)} runs; {rule.describe()})"
        )
    engine.run_sweep(every, store, sweep, options)
    stored = {o.run.run_id: o for o in store.outcomes([r.run_id for r in every])}
    plateaus: dict[str, Plateau] = {}
    rows: dict[str, Any] = {}
    final: list[PlannedRun] = []
    for label, members in grouped.items():
        outcomes = [stored.get(run.run_id) for run in curves[label]]
        histories = [o.history for o in outcomes if o is not None and o.status == "done"]
        curve = mean_curve(histories, metric) if len(histories) == len(outcomes) else []
        cap = members[0].epochs
        found = (
            plateau(curve, higher, rule)
            if curve
            else Plateau(cap, cap, False, math.nan)  # a failed curve: trained to the cap
        )
        plateaus[label] = found
        final += final_runs(members, found)
        rows[label] = {
            "plateau": found.as_dict(),
            "curve": [v if math.isfinite(v) else None for v in curve],
            "metric": metric,
            "run_ids": [run.run_id for run in curves[label]],
        }
    record = write_record(Path(store.path).parent, rule, runs[0].epochs, rows)
    return Settled(plateaus, tuple(final), record)
