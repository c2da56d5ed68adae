"""What was run: the section of a report that lets a reader repeat or cite it.

Everything is read back from the finished runs themselves (each :class:`PlannedRun` is the whole
configuration it trained, each outcome carries its versions and duration) and, where a results
store gives them, the sweep's name and the time each run finished. Nothing is taken from the
spec file, which may have been edited since: the section describes the runs as they ran.
Where runs disagree (two sweeps in one store, a resumed sweep after an upgrade), every value is
listed with its number of runs instead of one of them being picked.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aimc_plugins.training.identity import RunKind
from aimc_plugins.training.run import DONE, RunOutcome
from aimc_plugins.training.setup import kind_of

# run id -> (sweep name, finished_at in seconds since the epoch), as the results store keeps them
RunTimes = Mapping[str, tuple[str, float]]

FLAGS_SWEEP = "flags"  # the sweep name `aimc compare` gives a sweep written as flags
NOT_RECORDED = "not recorded"
_SOFTWARE_FIRST = ("python", "torch", "aihwkit", "aimc-plugins")
_NOT_SOFTWARE = ("machine", "deterministic", "table_error")


@dataclass(frozen=True)
class Provenance:
    """The report's "what was run" section as (label, value) rows, one table per part."""

    title: str
    settings: tuple[tuple[str, str], ...]
    configurations: tuple[tuple[str, ...], ...]  # rows under CONFIGURATION_HEAD
    software: tuple[tuple[str, str], ...]
    machine: tuple[tuple[str, str], ...]
    timing: tuple[tuple[str, str], ...]


CONFIGURATION_HEAD = ("device", "optimizer", "algorithm", "hyper-parameters", "seeds", "runs")


def sweep_title(run_times: RunTimes | None) -> str | None:
    """The name of the sweep(s) the runs were stored under (a spec's ``name``), or ``None``
    when no store recorded one or the sweep was given as flags (which names nothing)."""
    names = sorted({sweep for sweep, _ in (run_times or {}).values() if sweep})
    named = [name for name in names if name != FLAGS_SWEEP]
    return " + ".join(named) if named else None


def describe(
    outcomes: Sequence[RunOutcome],
    run_times: RunTimes | None = None,
    title: str | None = None,
    metric: str = "",
    higher_is_better: bool = True,
    now: dt.datetime | None = None,
) -> Provenance:
    """The section for ``outcomes``; ``run_times`` (:meth:`ResultsStore.run_times`) adds the
    sweep names and dates, ``title`` overrides the title taken from the sweep name."""
    from aimc_plugins.training.versions import machine

    stored = run_times or {}
    times = {o.run.run_id: stored[o.run.run_id] for o in outcomes if o.run.run_id in stored}
    recipes = Counter(o.run.recipe for o in outcomes)
    shown_title = title or sweep_title(times) or _default_title(recipes)
    statuses = Counter(o.status for o in outcomes)
    settings = [
        ("sweep", _listed(Counter(sweep or "(unnamed)" for sweep, _ in times.values()))),
        ("recipe", _listed(recipes)),
        ("epochs per run", _listed(Counter(str(o.run.epochs) for o in outcomes))),
        ("seeds", _seeds(outcomes)),
        ("periphery profile", _listed(Counter(o.run.periphery for o in outcomes))),
        (
            "recipe options",
            _listed(Counter(_params(o.run.options, "recipe defaults") for o in outcomes)),
        ),
        (
            "runs",
            f"{len(outcomes)}: "
            + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())),
        ),
    ]
    if metric:
        settings.append(
            ("ranked by", f"final {metric} ({'higher' if higher_is_better else 'lower'} is better)")
        )
    settings.append(("repeats from its seed", _determinism(outcomes)))
    return Provenance(
        title=shown_title,
        settings=tuple((k, v) for k, v in settings if v),
        configurations=_configurations(outcomes),
        software=_software(outcomes),
        machine=(
            (
                "runs trained on",
                _listed(Counter(o.versions.get("machine", NOT_RECORDED) for o in outcomes)),
            ),
            ("report written on", machine()),
        ),
        timing=_timing(outcomes, times, now or dt.datetime.now(dt.UTC)),
    )


def _default_title(recipes: Counter[str]) -> str:
    return f"Comparison on {', '.join(sorted(recipes))}" if recipes else "Comparison"


def _listed(values: Counter[str]) -> str:
    """One value as it is; several each with their number of runs (most first)."""
    if not values:
        return ""
    if len(values) == 1:
        return next(iter(values))
    return "; ".join(f"{value} ({count} runs)" for value, count in values.most_common())


def _params(params: Mapping[str, Any], empty: str = "defaults") -> str:
    if not params:
        return empty
    return ", ".join(f"{key}={params[key]!r}" for key in sorted(params))


def _seed_list(seeds: Iterable[int]) -> str:
    return ", ".join(str(s) for s in sorted(set(seeds)))


def _seeds(outcomes: Sequence[RunOutcome]) -> str:
    per_config: dict[str, set[int]] = defaultdict(set)
    for outcome in outcomes:
        per_config[outcome.run.label].add(outcome.run.seed)
    if not per_config:
        return ""
    counts = Counter(len(seeds) for seeds in per_config.values())
    every = _seed_list(s for seeds in per_config.values() for s in seeds)
    per = " or ".join(str(n) for n in sorted(counts))
    return f"{every} ({per} per configuration)"


def _determinism(outcomes: Sequence[RunOutcome]) -> str:
    flags = Counter(
        o.versions.get("deterministic", "not recorded") for o in outcomes if o.status == DONE
    )
    if not flags:
        return ""
    return "; ".join(f"{flag} ({count} runs)" for flag, count in flags.most_common())


def _configurations(outcomes: Sequence[RunOutcome]) -> tuple[tuple[str, ...], ...]:
    """One row per device x optimizer as it was built: algorithm and hyper-parameters, seeds."""
    groups: dict[tuple[str, str], list[RunOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.run.device, outcome.run.shown_optimizer)].append(outcome)
    rows = []
    for (device, optimizer), group in groups.items():
        run = group[0].run
        kind = kind_of(run)
        if kind == RunKind.DIGITAL:
            algorithm = f"{run.optimizer} (floating point, no analog device)"
        elif kind == RunKind.PRESET:
            algorithm = "aihwkit preset config (its own algorithm)"
        else:
            algorithm = run.optimizer
        rows.append(
            (
                device,
                optimizer,
                algorithm,
                _listed(Counter(_params(o.run.params) for o in group)),
                _seed_list(o.run.seed for o in group),
                str(len(group)),
            )
        )
    return tuple(rows)


def _software(outcomes: Sequence[RunOutcome]) -> tuple[tuple[str, str], ...]:
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome in outcomes:
        for key, value in outcome.versions.items():
            if key not in _NOT_SOFTWARE:
                seen[key][value] += 1
    order = [k for k in _SOFTWARE_FIRST if k in seen] + sorted(
        k for k in seen if k not in _SOFTWARE_FIRST
    )
    return tuple((key, _listed(seen[key])) for key in order)


def _utc(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float) -> str:
    """``1 h 02 min``, ``10 min 07 s`` or ``19.5 s``: wall times as a reader compares them."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _timing(
    outcomes: Sequence[RunOutcome], times: RunTimes, now: dt.datetime
) -> tuple[tuple[str, str], ...]:
    rows = [("training time (sum of run durations)", duration(sum(o.duration_s for o in outcomes)))]
    durations = {o.run.run_id: o.duration_s for o in outcomes}
    if times:
        finished = [at for _, at in times.values()]
        started = min(at - durations.get(run_id, 0.0) for run_id, (_, at) in times.items())
        first, last = _utc(min(finished)), _utc(max(finished))
        rows.append(("runs finished", first if first == last else f"{first} to {last}"))
        rows.append(
            (
                "sweep span (first run's start to last run's finish, pauses included)",
                duration(max(finished) - started),
            )
        )
    else:
        rows.append(("runs finished", f"{NOT_RECORDED} (no results store)"))
    rows.append(("report written", now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")))
    return tuple(rows)
