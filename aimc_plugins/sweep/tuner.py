"""Running a tuned comparison's trials: the same candidate settings for every row, successive
halving on the validation split, each row's best setting chosen.

How, and why this way:

- **Candidates**: each row's ``trials`` settings are the first points of a scrambled Sobol
  sequence (``scipy.stats.qmc``, seeded by ``tune.seed``) mapped onto its space, log-scaled for
  rates. A Sobol sequence covers a space more evenly than random draws, which matters at the
  small budgets a comparison can afford; and every row with the same space gets the same
  candidates, so no row is luckier in its draws than another.
- **Successive halving** (:func:`~aimc_plugins.sweep.tuning.rungs`): all candidates train a
  few epochs, the best ``1/reduction`` go on to a longer rung, and so on until the comparison's
  epochs. It is synchronous: a rung's survivors are chosen once all of its trials finished, so
  the choice does not depend on which worker finished first (Optuna's own
  ``SuccessiveHalvingPruner`` is asynchronous, and its decisions depend on that order).
- **Runs**: a trial at a rung is an ordinary :class:`~aimc_plugins.training.identity.PlannedRun`
  on the validation split (``split="validation"``; the recipe then never reads its test split),
  run by :func:`~aimc_plugins.sweep.engine.run_sweep` like any other: the process pool, Dask,
  trackers, and the results store, which makes a tuning resume exactly as a sweep does. A kill
  at any point loses only the runs in flight; the rerun recomputes every decision from the
  stored runs, and the decisions come out the same.
- **Record**: each row is an Optuna study in ``OUT/tuning.sqlite`` (one per row, named by
  :meth:`~aimc_plugins.sweep.tuning.TunedRow.key`), holding its trials' settings, states
  (complete, pruned, failed) and values: ``optuna.load_study(study_name=...,
  storage="sqlite:///OUT/tuning.sqlite")`` opens it for Optuna's own tools. ``OUT/tuning.json``
  is the summary the report reads (budget, spaces, trials, chosen settings).
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimc_plugins.host import plugins
from aimc_plugins.sweep import engine
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.sweep.tuning import FINALISTS, Bracket, TunedRow, TuneSettings, brackets_of
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import DONE, RunOutcome

log = logging.getLogger(__name__)

STUDY_NAME = "tuning.sqlite"
SUMMARY_NAME = "tuning.json"
SAMPLER = "scrambled Sobol points (scipy.stats.qmc), the same for every row with the same space"


@dataclass(frozen=True)
class Trial:
    """One candidate setting of a row and how far it went."""

    number: int
    params: Mapping[str, Any]
    state: str = "running"  # complete, pruned, failed or running
    epochs: int = 0  # its last rung's epochs
    value: float = math.nan  # the validation metric at that rung (a finalist: seeds' mean)
    run_ids: tuple[str, ...] = ()
    seed_values: tuple[float, ...] = ()  # a finalist's value per decision seed


@dataclass(frozen=True)
class TuningOutcome:
    """What tuning decided: each row's trials and chosen setting, and the final runs."""

    rows: tuple[TunedRow, ...]
    trials: Mapping[str, tuple[Trial, ...]]  # row label -> trials
    chosen: Mapping[str, Mapping[str, Any] | None]  # row label -> setting (None: all failed)
    final_runs: tuple[PlannedRun, ...]
    summary: Mapping[str, Any]


def candidates(row: TunedRow, settings: TuneSettings) -> list[dict[str, Any]]:
    """The row's ``trials`` settings: Sobol points mapped onto its space, rounded to three
    significant digits (a table reads ``lr=0.0316``, not ``0.031622776...``)."""
    from scipy.stats import qmc

    names = sorted(row.space)
    sobol = qmc.Sobol(d=len(names), scramble=True, seed=settings.seed)
    with warnings.catch_warnings():  # balance is best at powers of 2; any count is valid
        warnings.simplefilter("ignore", UserWarning)
        points = sobol.random(settings.trials)
    out = []
    for point in points:
        setting: dict[str, Any] = {}
        for name, u in zip(names, point, strict=True):
            search = row.space[name]
            if search.log:
                value = math.exp(
                    math.log(search.low) + u * (math.log(search.high) - math.log(search.low))
                )
            else:
                value = search.low + u * (search.high - search.low)
            if row.kinds[name] == "int":
                setting[name] = min(int(search.high), max(int(search.low), round(value)))
            else:
                setting[name] = min(search.high, max(search.low, float(f"{value:.3g}")))
        out.append(setting)
    return out


# Ties in the metric are broken by the validation loss (lower first): early in training many
# settings sit at chance, where accuracy is the same for all of them and the loss still tells
# which has started to learn.
TIE_BREAK = "val_loss"

Score = tuple[float, float]  # (metric, tie-breaking loss); NaN where a run failed


def _number(outcome: RunOutcome | None, key: str) -> float:
    if outcome is None or outcome.status != DONE:
        return math.nan
    value = outcome.final.get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.nan


def _score(outcome: RunOutcome | None, metric: str) -> Score:
    return _number(outcome, metric), _number(outcome, TIE_BREAK)


def _ranked(scores: Mapping[int, Score], higher_is_better: bool) -> list[int]:
    """Trial numbers best first by the metric, then by the loss; failed (NaN) last; equal
    ones in trial order."""
    sign = -1.0 if higher_is_better else 1.0

    def key(number: int) -> tuple[bool, float, bool, float, int]:
        value, loss = scores[number]
        return (
            math.isnan(value),
            0.0 if math.isnan(value) else sign * value,
            math.isnan(loss),
            0.0 if math.isnan(loss) else loss,
            number,
        )

    return sorted(scores, key=key)


class _Studies:
    """The rows' Optuna studies in ``OUT/tuning.sqlite``: the durable record of each trial's
    setting and fate. Decisions are recomputed from the results store; the studies record
    them, once."""

    def __init__(self, path: Path, higher_is_better: bool) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._storage = f"sqlite:///{path}"
        self._direction = "maximize" if higher_is_better else "minimize"

    def open(self, name: str, row: TunedRow, settings: list[dict[str, Any]]) -> Any:
        """The row's study with one trial per candidate, created on first use."""
        optuna = self._optuna
        study = optuna.create_study(
            storage=self._storage,
            study_name=name,
            direction=self._direction,
            load_if_exists=True,
        )
        distributions = {
            param: (
                optuna.distributions.IntDistribution(int(r.low), int(r.high), log=r.log)
                if row.kinds[param] == "int"
                else optuna.distributions.FloatDistribution(r.low, r.high, log=r.log)
            )
            for param, r in row.space.items()
        }
        existing = len(study.get_trials(deepcopy=False))
        for setting in settings[existing:]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study.enqueue_trial(setting)
            study.ask(distributions)
        waiting = self._optuna.trial.TrialState.WAITING
        while study.get_trials(deepcopy=False, states=(waiting,)):  # a kill between the two
            study.ask(distributions)
        return study

    def finish(self, study: Any, number: int, state: str, value: float) -> None:
        """Record a trial's end (once: a resumed tuning finds it recorded)."""
        states = self._optuna.trial.TrialState
        if state == "complete" and math.isfinite(value):
            study.tell(number, value, skip_if_finished=True)
        elif state == "pruned":
            study.tell(number, state=states.PRUNED, skip_if_finished=True)
        else:
            study.tell(number, state=states.FAIL, skip_if_finished=True)


def tune(
    rows: Sequence[TunedRow],
    settings: TuneSettings,
    store: ResultsStore,
    sweep: str = "",
    options: engine.ExecutionOptions | None = None,
    on_rung: Callable[[str], None] | None = None,
) -> TuningOutcome:
    """Tune every row with the same budget, then return the final runs to make: each row's
    seeded test runs with its chosen setting. Trials are stored like any run, so calling this
    again after a kill continues where it stopped and decides the same.

    The candidates are split into Hyperband brackets (:func:`~.tuning.brackets_of`), each a
    synchronous successive-halving ladder ending at full length; the brackets' rungs run side
    by side, one batch per step. Then the best :data:`~.tuning.FINALISTS` full-length trials
    train again on the other decision seeds, and the best mean over those seeds wins."""
    if not rows:
        raise ValueError("nothing to tune")
    template = rows[0].template
    recipe = plugins.registry.recipe(template.recipe)
    metric, higher = recipe.validation_metric, recipe.higher_is_better
    epochs = settings.epochs or template.epochs
    brackets = brackets_of(settings, epochs)
    out = store.path.parent
    studies = _Studies(out / STUDY_NAME, higher)
    candidate_sets = {row.label: candidates(row, settings) for row in rows}
    opened = {
        row.label: studies.open(row.key(settings, epochs), row, candidate_sets[row.label])
        for row in rows
    }
    # alive[label][b]: the trials of bracket b still climbing its ladder
    alive = {row.label: [list(b.members) for b in brackets] for row in rows}
    last: dict[str, dict[int, tuple[int, Score, tuple[str, ...]]]] = {r.label: {} for r in rows}
    run_ids: dict[str, dict[int, list[str]]] = {r.label: {} for r in rows}
    by_label = {row.label: row for row in rows}
    tied: dict[str, list[int]] = {r.label: [] for r in rows}
    steps = max(len(b.ladder) for b in brackets)

    def record(label: str, number: int, run: PlannedRun, score: Score, length: int) -> None:
        ids = run_ids[label].setdefault(number, [])
        if run.run_id not in ids:
            ids.append(run.run_id)
        last[label][number] = (length, score, tuple(ids))

    for step in range(steps):
        runs: list[PlannedRun] = []
        members: list[tuple[str, int, int, PlannedRun]] = []  # label, bracket, number, run
        lengths = set()
        for label, per_bracket in alive.items():
            row = by_label[label]
            for index, bracket in enumerate(brackets):
                rung = bracket.rung_at(step, steps)
                if rung < 0:
                    continue
                length = bracket.ladder[rung][1]
                lengths.add(length)
                for number in per_bracket[index]:
                    run = row.trial_run(candidate_sets[label][number], settings.seed, length)
                    members.append((label, index, number, run))
                    runs.append(run)
        if on_rung is not None:
            on_rung(
                f"tuning step {step + 1}/{steps}: {len(runs)} trials of "
                f"{'/'.join(str(n) for n in sorted(lengths))} epochs "
                f"({len(brackets)} bracket{'s' if len(brackets) > 1 else ''})"
            )
        engine.run_sweep(runs, store, sweep, options)
        stored = {o.run.run_id: o for o in store.outcomes([r.run_id for r in runs])}
        scores: dict[tuple[str, int], dict[int, Score]] = {}
        for label, index, number, run in members:
            score = _score(stored.get(run.run_id), metric)
            scores.setdefault((label, index), {})[number] = score
            record(label, number, run, score, run.epochs)
        for (label, index), found in scores.items():
            bracket = brackets[index]
            rung = bracket.rung_at(step, steps)
            if _metric_tied(found):
                if step + 1 not in tied[label]:  # two brackets of a row may tie in one step
                    tied[label].append(step + 1)
                if on_rung is not None:
                    on_rung(
                        f"tuning step {step + 1}: {label}'s {len(found)} trials all reached "
                        f"the same {metric}; {TIE_BREAK} decides"
                    )
            if rung == len(bracket.ladder) - 1:
                continue  # a bracket's last rung: its trials are finalists
            keep = _ranked(found, higher)[: bracket.ladder[rung + 1][0]]
            for number in found:
                if number not in keep:
                    studies.finish(opened[label], number, "pruned", found[number][0])
            alive[label][index] = sorted(keep)
    # The decision: the best finalists again on the other decision seeds, at full length.
    finalists: dict[str, list[int]] = {}
    for label, per_bracket in alive.items():
        at_cap = {n: last[label][n][1] for members in per_bracket for n in members}
        finalists[label] = [
            n for n in _ranked(at_cap, higher)[:FINALISTS] if not math.isnan(at_cap[n][0])
        ]
    seed_values: dict[str, dict[int, list[float]]] = {r.label: {} for r in rows}
    decision: list[tuple[str, int, PlannedRun]] = [
        (label, number, by_label[label].trial_run(candidate_sets[label][number], seed, epochs))
        for label, numbers in finalists.items()
        for number in numbers
        for seed in settings.decision_seed_list[1:]
    ]
    if decision:
        if on_rung is not None:
            on_rung(
                f"tuning decision: the best {FINALISTS} settings of each row on "
                f"{settings.decision_seeds} seeds x {epochs} epochs ({len(decision)} runs)"
            )
        engine.run_sweep([run for _, _, run in decision], store, sweep, options)
    stored = {o.run.run_id: o for o in store.outcomes([r.run_id for _, _, r in decision])}
    extra: dict[tuple[str, int], list[tuple[str, Score]]] = {}
    for label, number, run in decision:
        score = _score(stored.get(run.run_id), metric)
        extra.setdefault((label, number), []).append((run.run_id, score))
    for label, numbers in finalists.items():
        for number in numbers:
            length, first, ids = last[label][number]
            more = extra.get((label, number), [])
            per_seed = [first, *(score for _, score in more)]
            seed_values[label][number] = [value for value, _ in per_seed]
            new_ids = tuple(i for i, _ in more if i not in ids)
            last[label][number] = (length, _mean_score(per_seed), (*ids, *new_ids))
    trials: dict[str, tuple[Trial, ...]] = {}
    chosen: dict[str, Mapping[str, Any] | None] = {}
    for row in rows:
        label = row.label
        reached = [n for members in alive[label] for n in members]
        order = _ranked({n: last[label][n][1] for n in finalists[label]}, higher)
        best = order[0] if order and not math.isnan(last[label][order[0]][1][0]) else None
        chosen[label] = dict(candidate_sets[label][best]) if best is not None else None
        rung_trials = []
        for number in range(settings.trials):
            length, (value, _), trial_ids = last[label][number]
            if number in reached:
                state = "complete" if not math.isnan(value) else "failed"
                studies.finish(opened[label], number, state, value)
            else:
                state = "pruned" if not math.isnan(value) else "failed"
            rung_trials.append(
                Trial(
                    number,
                    candidate_sets[label][number],
                    state,
                    length,
                    value,
                    trial_ids,
                    tuple(seed_values[label].get(number, ())),
                )
            )
        trials[label] = tuple(rung_trials)
    final_runs = tuple(run for row in rows for run in row.final_runs(chosen[row.label]))
    summary = _summary(rows, settings, trials, chosen, brackets, metric, higher, store, recipe)
    for row_summary in summary["rows"]:
        row_summary["tied_rungs"] = tied[row_summary["row"]]
    _write_json(out / SUMMARY_NAME, summary)
    return TuningOutcome(tuple(rows), trials, chosen, final_runs, summary)


def _mean_score(scores: Sequence[Score]) -> Score:
    """The mean metric and loss over a setting's decision seeds; NaN when any seed failed (a
    setting that fails on one seed of two is not a safe choice)."""
    values = [value for value, _ in scores]
    losses = [loss for _, loss in scores]
    mean = math.nan if any(math.isnan(v) for v in values) else sum(values) / len(values)
    loss = math.nan if any(math.isnan(v) for v in losses) else sum(losses) / len(losses)
    return mean, loss


def _metric_tied(scores: Mapping[int, Score]) -> bool:
    """Whether a rung's trials (two or more finished) all reached one metric value: the metric
    could not tell the settings apart (every trial at chance, say), so the tie-break chose."""
    values = [value for value, _ in scores.values() if not math.isnan(value)]
    return len(values) > 1 and max(values) - min(values) <= 1e-12 * max(1.0, abs(values[0]))


def _describe_ladder(brackets: Sequence[Bracket], settings: TuneSettings) -> str:
    def ladder(bracket: Bracket) -> str:
        return ", ".join(f"{count} x {length}" for count, length in bracket.ladder)

    if len(brackets) == 1:
        text = (
            f"synchronous successive halving: the best 1/{settings.reduction} of each rung goes "
            f"on (trials x epochs per row: {ladder(brackets[0])})"
        )
    else:
        text = (
            f"{len(brackets)} synchronous Hyperband brackets, the best 1/{settings.reduction} "
            "of each rung going on (trials x epochs per row: "
            + "; ".join(f"bracket {k + 1}: {ladder(b)}" for k, b in enumerate(brackets))
            + "); the last bracket prunes nothing, so a slow starter can win"
        )
    if settings.decision_seeds > 1:
        text += (
            f"; the best {FINALISTS} full-length trials compared over "
            f"{settings.decision_seeds} seeds (mean)"
        )
    return text


def _summary(
    rows: Sequence[TunedRow],
    settings: TuneSettings,
    trials: Mapping[str, Sequence[Trial]],
    chosen: Mapping[str, Mapping[str, Any] | None],
    brackets: Sequence[Bracket],
    metric: str,
    higher: bool,
    store: ResultsStore,
    recipe: Any,
) -> dict[str, Any]:
    """``tuning.json``: everything the report says about how each row was tuned."""
    all_ids = {i for row_trials in trials.values() for t in row_trials for i in t.run_ids}
    outcomes = {o.run.run_id: o for o in store.outcomes(all_ids)}
    rows_out = []
    total_epochs, total_time = 0, 0.0
    for row in rows:
        ids = {i for t in trials[row.label] for i in t.run_ids}
        epochs = sum(outcomes[i].run.epochs for i in ids if i in outcomes)
        seconds = sum(outcomes[i].duration_s for i in ids if i in outcomes)
        total_epochs += epochs
        total_time += seconds
        best = chosen[row.label]
        best_value = next(
            (
                t.value
                for t in trials[row.label]
                if best is not None and dict(t.params) == best and t.state == "complete"
            ),
            None,
        )
        rows_out.append(
            {
                "row": row.label,
                "device": row.template.device,
                "optimizer": row.template.shown_optimizer,
                "space": {
                    name: {"low": r.low, "high": r.high, "log": r.log}
                    for name, r in sorted(row.space.items())
                },
                "fixed": _sorted(row.fixed),
                "chosen": _sorted(best) if best is not None else None,
                "chosen_value": best_value,
                "chosen_seed_values": next(
                    (
                        [v if math.isfinite(v) else None for v in t.seed_values]
                        for t in trials[row.label]
                        if best is not None and dict(t.params) == best and t.seed_values
                    ),
                    [],
                ),
                "trials": [
                    {
                        "number": t.number,
                        "params": _sorted(t.params),
                        "state": t.state,
                        "epochs": t.epochs,
                        "value": t.value if math.isfinite(t.value) else None,
                        "run_ids": list(t.run_ids),
                        **(
                            {
                                "seed_values": [
                                    v if math.isfinite(v) else None for v in t.seed_values
                                ]
                            }
                            if t.seed_values
                            else {}
                        ),
                    }
                    for t in trials[row.label]
                ],
                "epochs_trained": epochs,
                "train_time_s": round(seconds, 3),
            }
        )
    return {
        "metric": metric,
        "higher_is_better": higher,
        "validation": recipe.validation,
        "trials_per_row": settings.trials,
        "seed": settings.seed,
        "reduction": settings.reduction,
        "epochs": brackets[0].ladder[-1][1],
        "rungs": [list(r) for r in brackets[0].ladder],  # the first bracket's (older readers)
        "brackets": [
            {"trials": list(b.members), "rungs": [list(r) for r in b.ladder]} for b in brackets
        ],
        "decision_seeds": list(settings.decision_seed_list),
        "finalists": FINALISTS,
        "sampler": f"{SAMPLER}, seed {settings.seed}",
        "pruner": _describe_ladder(brackets, settings),
        "study": STUDY_NAME,
        "rows": rows_out,
        "budget": {
            "trials": settings.trials * len(rows),
            "epochs_trained": total_epochs,
            "train_time_s": round(total_time, 3),
        },
    }


def _sorted(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(values.items())}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Written whole or not at all (a kill mid-write leaves the previous file)."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(partial, path)
