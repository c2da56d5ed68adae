"""What a tuned comparison searches, decided at plan time: the budget, each row's search space
and the successive-halving rungs.

A comparison ranks rows (device x optimizer); a ranking is only fair when every row had the
same chance. Tuning gives each row the same number of trials over a declared space, chosen on
a validation split (never on the test split), and then runs the row's chosen setting over the
comparison's seeds. This module turns the spec's ``[tune]`` table (or ``--tune N``) into
:class:`TuneSettings` and each row into a :class:`TunedRow`; :mod:`.tuner` runs them.

Spec form::

    [tune]
    trials = 8            # per row, every row alike (the digital baseline included)
    seed = 0              # the trials' training seed and the sampler's seed
    reduction = 2         # successive halving: the best 1/reduction of a rung goes on
    epochs = 5            # epochs of the last rung (default: the comparison's epochs)
    min_epochs = 2        # epochs of the first rung at least (default 1): long enough for
                          # trials to differ by more than noise
    brackets = 2          # Hyperband brackets: the candidates split into ladders that start at
                          # different lengths, the last with no pruning (1: one ladder)
    decision_seeds = 2    # the best finalists are compared over this many seeds at full length

    [tune.space.sgd]      # replaces sgd's default space (its schema's ``search`` ranges)
    lr = { low = 0.01, high = 1.0, log = true }

A row's default space is every parameter of its optimizer's schema that carries a
:class:`~aimc_plugins.host.records.SearchRange` (rates on a log scale); a preset
configuration's row searches its learning rate (``[tune.space.preset]``), its algorithm stays
as aihwkit defines it. Parameters outside the space keep the values the spec gives the row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aimc_plugins.host import plugins
from aimc_plugins.host.records import (
    LR_SEARCH,
    VALIDATION_SPLIT,
    Param,
    ParameterError,
    SearchRange,
)
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.setup import PRESET_OPTIMIZER

TUNE_KEYS = (
    "trials",
    "seed",
    "reduction",
    "epochs",
    "min_epochs",
    "brackets",
    "decision_seeds",
    "space",
)
SPACE_KEYS = ("low", "high", "log")
DEFAULT_REDUCTION = 2
# Two ladders by default: successive halving from the shortest rung (cheap, finds settings that
# start well) beside a ladder that trains its candidates at full length without pruning, so a
# setting that starts slowly and ends best can win (docs/tuning.md has the measurement).
DEFAULT_BRACKETS = 2
# The finalists are compared over two seeds: one seed chose GokmenVlasov's lr at 0.93 on
# validation, whose final runs then gave 0.12, 0.95 and 0.46.
DEFAULT_DECISION_SEEDS = 2
FINALISTS = 2  # how many of the best full-length trials the decision seeds compare
MAX_TRIALS = 1024


class TuneError(ValueError):
    """A tuning request that cannot be run as written (a spec error: nothing has trained)."""


@dataclass(frozen=True)
class TuneSettings:
    """The tuning budget and how it is spent, the same for every row."""

    trials: int
    seed: int = 0
    reduction: int = DEFAULT_REDUCTION
    epochs: int | None = None  # the last rung's epochs; None: the comparison's
    spaces: Mapping[str, Mapping[str, SearchRange]] = field(default_factory=dict)
    min_epochs: int = 1  # the first rung's epochs at least
    brackets: int = DEFAULT_BRACKETS  # Hyperband's ladders (1: plain successive halving)
    decision_seeds: int = DEFAULT_DECISION_SEEDS  # seeds the finalists are compared over

    def __post_init__(self) -> None:
        for name, value, low in (
            ("trials", self.trials, 1),
            ("reduction", self.reduction, 2),
            ("min_epochs", self.min_epochs, 1),
            ("brackets", self.brackets, 1),
            ("decision_seeds", self.decision_seeds, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise TuneError(f"tune.{name} must be an integer >= {low}, got {value!r}")
        if self.trials > MAX_TRIALS:
            raise TuneError(f"tune.trials is at most {MAX_TRIALS} per row, got {self.trials}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise TuneError(f"tune.seed must be a non-negative integer, got {self.seed!r}")
        if self.epochs is not None and (
            isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1
        ):
            raise TuneError(f"tune.epochs must be a positive integer, got {self.epochs!r}")

    def as_table(self) -> dict[str, Any]:
        """These settings as the spec's ``[tune]`` table that gives them."""
        table: dict[str, Any] = {
            "trials": self.trials,
            "seed": self.seed,
            "reduction": self.reduction,
            "space": {
                optimizer: {name: _range_dict(r) for name, r in space.items()}
                for optimizer, space in self.spaces.items()
            },
        }
        if self.epochs is not None:
            table["epochs"] = self.epochs
        if self.min_epochs != 1:
            table["min_epochs"] = self.min_epochs
        if self.brackets != DEFAULT_BRACKETS:
            table["brackets"] = self.brackets
        if self.decision_seeds != DEFAULT_DECISION_SEEDS:
            table["decision_seeds"] = self.decision_seeds
        return table

    @property
    def decision_seed_list(self) -> tuple[int, ...]:
        """The seeds the finalists train on at full length (the first is every trial's)."""
        return tuple(self.seed + k for k in range(self.decision_seeds))


def _range_dict(search: SearchRange) -> dict[str, Any]:
    return {"low": search.low, "high": search.high, "log": search.log}


def _search_range(where: str, value: Any) -> SearchRange:
    if not isinstance(value, Mapping):
        raise TuneError(f"{where} must be a table {{ low = ..., high = ..., log = ... }}")
    unknown = sorted(set(value) - set(SPACE_KEYS))
    if unknown:
        raise TuneError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(SPACE_KEYS)})")
    try:
        low, high = value["low"], value["high"]
    except KeyError as exc:
        raise TuneError(f"{where} needs {exc.args[0]!r}") from None
    log = value.get("log", False)
    for key, number in (("low", low), ("high", high)):
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise TuneError(f"{where}.{key} must be a number, got {number!r}")
    if not isinstance(log, bool):
        raise TuneError(f"{where}.log must be true or false, got {log!r}")
    try:
        return SearchRange(float(low), float(high), log)
    except ParameterError as exc:
        raise TuneError(f"{where}: {exc}") from None


def settings_from_table(table: Any, trials: int | None = None) -> TuneSettings:
    """:class:`TuneSettings` from a spec's ``[tune]`` table; ``trials`` (``--tune N``)
    overrides the table's."""
    if not isinstance(table, Mapping):
        raise TuneError(f"tune must be a table, got {table!r}")
    unknown = sorted(set(table) - set(TUNE_KEYS))
    if unknown:
        raise TuneError(f"tune: unknown key {unknown[0]!r} (known: {', '.join(TUNE_KEYS)})")
    count = trials if trials is not None else table.get("trials")
    if count is None:
        raise TuneError("tune needs trials (the number of trials per row), or --tune N")
    spaces_table = table.get("space", {})
    if not isinstance(spaces_table, Mapping):
        raise TuneError("tune.space must be a table of optimizer tables")
    spaces: dict[str, dict[str, SearchRange]] = {}
    for optimizer, space in spaces_table.items():
        if not isinstance(space, Mapping) or not space:
            raise TuneError(f"tune.space.{optimizer} must be a non-empty table of parameters")
        spaces[optimizer] = {
            name: _search_range(f"tune.space.{optimizer}.{name}", value)
            for name, value in space.items()
        }
    return TuneSettings(
        trials=count,
        seed=table.get("seed", 0),
        reduction=table.get("reduction", DEFAULT_REDUCTION),
        epochs=table.get("epochs"),
        spaces=spaces,
        min_epochs=table.get("min_epochs", 1),
        brackets=table.get("brackets", DEFAULT_BRACKETS),
        decision_seeds=table.get("decision_seeds", DEFAULT_DECISION_SEEDS),
    )


def rungs(
    trials: int,
    reduction: int,
    epochs: int,
    min_epochs: int = 1,
    halvings: int | None = None,
) -> list[tuple[int, int]]:
    """Successive halving's rungs as ``(trials, epochs)``, the last at ``epochs``.

    All ``trials`` start at the lowest rung; each rung keeps the best ``1/reduction`` of the
    one below and trains it ``reduction`` times longer, up to ``epochs`` on the last (epochs
    are whole, at least ``min_epochs`` and at most ``epochs``). Two rungs of equal length cost
    nothing extra: their runs have the same ids, and the store holds them already.
    ``halvings`` caps how many times the trials are halved (a Hyperband bracket's ``s``; 0:
    every trial trains the whole length); by default as often as ``trials`` allows."""
    levels = 0
    while trials // reduction ** (levels + 1) >= 1:
        levels += 1
    if halvings is not None:
        levels = max(0, min(levels, halvings))
    shortest = min(min_epochs, epochs)
    return [
        (
            max(1, trials // reduction**k),
            max(shortest, math.ceil(epochs / reduction ** (levels - k))),
        )
        for k in range(levels + 1)
    ]


@dataclass(frozen=True)
class Bracket:
    """One ladder of a tuning: which candidates (by number) it holds and its rungs."""

    members: tuple[int, ...]
    ladder: tuple[tuple[int, int], ...]  # (trials, epochs) per rung, the last at full length

    def rung_at(self, step: int, steps: int) -> int:
        """The rung this bracket trains at ``step`` of a tuning of ``steps``: brackets end
        together at full length, so a shorter ladder starts later (negative: not yet)."""
        return step - (steps - len(self.ladder))


def brackets_of(settings: TuneSettings, epochs: int) -> list[Bracket]:
    """Hyperband's brackets over the ``trials`` candidates (Li et al., JMLR 2018), made
    synchronous like the rest of the tuning.

    The candidates are dealt out in turn (candidate i to bracket i mod B), so each bracket's
    Sobol points still cover the space. Bracket 0 halves as often as its trials allow, from the
    shortest rung; the last halves never and trains its candidates at full length; those
    between are spaced evenly. A slow starter (behind after a short rung, ahead at the end) is
    pruned in the first bracket but not in the last. With one bracket this is plain successive
    halving over every candidate. Every bracket keeps at least two trials (one, if it has
    one) on its last rung, so the decision seeds compare more than one finalist."""
    count = min(settings.brackets, settings.trials)
    out = []
    for k in range(count):
        members = tuple(range(k, settings.trials, count))
        most = rungs(len(members), settings.reduction, epochs, settings.min_epochs)
        halvings = len(most) - 1
        if count > 1:
            halvings = round(halvings * (count - 1 - k) / (count - 1))
        ladder = rungs(len(members), settings.reduction, epochs, settings.min_epochs, halvings)
        keep = min(len(members), FINALISTS)
        if ladder[-1][0] < keep:  # the last rung keeps two finalists, at full length
            if len(ladder) > 1 and ladder[-2][0] <= keep:
                ladder = [*ladder[:-2], (ladder[-2][0], ladder[-1][1])]
            else:
                ladder = [*ladder[:-1], (keep, ladder[-1][1])]
        out.append(Bracket(members, tuple(ladder)))
    return out


@dataclass(frozen=True)
class TunedRow:
    """One row of a tuned comparison: the runs it stands for (one per seed), where its search
    looks and what it keeps fixed."""

    label: str
    runs: tuple[PlannedRun, ...]
    space: Mapping[str, SearchRange]
    kinds: Mapping[str, str]  # parameter -> "float" or "int"

    @property
    def template(self) -> PlannedRun:
        return self.runs[0]

    @property
    def fixed(self) -> dict[str, Any]:
        return {k: v for k, v in self.template.params.items() if k not in self.space}

    def key(self, settings: TuneSettings, epochs: int) -> str:
        """The study's name: the row's configuration without its seed, and the tuning
        settings, so that another space or budget is another study."""
        import hashlib
        import json

        identity = self.template.identity(seed=None, epochs=epochs)
        text = json.dumps(
            [
                identity,
                {k: _range_dict(r) for k, r in self.space.items()},
                settings.trials,
                settings.seed,
                settings.reduction,
                # the scheme before these settings existed keeps its studies' names
                *(
                    [settings.brackets, settings.decision_seeds]
                    if (settings.brackets, settings.decision_seeds) != (1, 1)
                    else []
                ),
            ],
            sort_keys=True,
        )
        return f"{self.label} [{hashlib.sha256(text.encode()).hexdigest()[:12]}]"

    def trial_run(self, params: Mapping[str, Any], seed: int, epochs: int) -> PlannedRun:
        """The validation run of a trial with ``params`` at one rung."""
        return replace(
            self.template,
            params={**self.template.params, **params},
            seed=seed,
            epochs=epochs,
            split=VALIDATION_SPLIT,
        )

    def final_runs(self, chosen: Mapping[str, Any] | None) -> list[PlannedRun]:
        """The row's seeded test runs with its chosen setting (its given one if none)."""
        if chosen is None:
            return list(self.runs)
        return [replace(run, params={**run.params, **chosen}) for run in self.runs]


def _schema(optimizer: str) -> tuple[Param, ...]:
    if optimizer == PRESET_OPTIMIZER:
        return (Param("lr", 0.1, "learning rate", low=0.0, low_inclusive=False, search=LR_SEARCH),)
    return plugins.registry.optimizer(optimizer).parameters


def space_for(
    optimizer: str, settings: TuneSettings
) -> tuple[dict[str, SearchRange], dict[str, str]]:
    """The optimizer's search space (the spec's, else its schema's ``search`` ranges) and each
    parameter's kind, checked against the schema's valid ranges."""
    schema = {p.name: p for p in _schema(optimizer)}
    given = settings.spaces.get(optimizer)
    if given is None:
        space = {name: p.search for name, p in schema.items() if p.search is not None}
        if not space:
            raise TuneError(
                f"optimizer {optimizer!r} declares no search space (no parameter of its schema "
                f"has a search range): give one in the spec's [tune.space.{optimizer}] table"
            )
    else:
        space = dict(given)
    kinds: dict[str, str] = {}
    for name, search in space.items():
        param = schema.get(name)
        if param is None:
            import difflib

            close = difflib.get_close_matches(name, list(schema), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TuneError(
                f"tune.space.{optimizer}: {optimizer!r} has no parameter {name!r}{hint}"
            )
        if param.kind not in (int, float) or param.choices is not None:
            raise TuneError(
                f"tune.space.{optimizer}.{name}: only numeric parameters can be searched"
            )
        for end in (search.low, search.high):
            value = round(end) if param.kind is int else end
            try:
                param.coerce(value)
            except ParameterError as exc:
                raise TuneError(f"tune.space.{optimizer}.{name}: {exc}") from None
        kinds[name] = param.kind.__name__
    return space, kinds


def rows_of(runs: Sequence[PlannedRun], settings: TuneSettings) -> list[TunedRow]:
    """The comparison's rows (runs grouped by their table label), each with its space.
    Raises :class:`TuneError` for a recipe without a validation split or an optimizer without
    a space."""
    if not runs:
        return []
    recipe = plugins.registry.recipe(runs[0].recipe)
    if not recipe.validation:
        raise TuneError(
            f"recipe {recipe.name!r} offers no validation split, so it cannot be tuned without "
            "choosing settings on its test split"
        )
    grouped: dict[str, list[PlannedRun]] = {}
    for run in runs:
        grouped.setdefault(run.label, []).append(run)
    spaces: dict[str, tuple[dict[str, SearchRange], dict[str, str]]] = {}
    rows = []
    for label, members in grouped.items():
        optimizer = members[0].optimizer
        if optimizer not in spaces:
            spaces[optimizer] = space_for(optimizer, settings)
        space, kinds = spaces[optimizer]
        rows.append(TunedRow(label, tuple(members), space, kinds))
    unused = sorted(set(settings.spaces) - set(spaces))
    if unused:
        raise TuneError(
            f"tune.space.{unused[0]}: no row of this comparison uses optimizer {unused[0]!r} "
            f"(rows use: {', '.join(sorted(spaces))})"
        )
    return rows
