"""Notes a results table needs because its numbers depend on the aihwkit version.

Why: the same run gives different numbers on different aihwkit releases where a release
changed a default. aihwkit 1.2.0 added ``scale_fast_lr``, on by default in ``TransferCompound``:
its Tiki-Taka presets (``fast_lr = 1.0``) then pulse gradients onto the residual array at
``fast_lr * lr`` instead of ``fast_lr``. On the demo's settings TikiTakaReRamSBPreset fell from
0.707 to 0.395 while every other row kept its numbers to the last digit, and with the field
switched off 1.2.0 gives 1.1.0's numbers seed for seed (benchmarks/preset_versions.py;
docs/optimizers.md): that default is the whole cause.
So a reader must see (a) when preset rows ran on an aihwkit whose defaults changed what they
train and (b) when one table holds runs of more than one aihwkit version.

:func:`version_notes` returns those lines for the runs of one table; each run's version is the
``aihwkit`` entry that :func:`aimc_plugins.training.versions.environment_versions` stored with
it. The report shows them with the table's other notes (``run_notes``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from aimc_plugins.report.splits import result_runs
from aimc_plugins.training.identity import RunKind
from aimc_plugins.training.pairs import SCALE_FAST_LR_SINCE, at_least
from aimc_plugins.training.run import FAILED, RunOutcome

CHANGED_PRESET_FAMILIES = {"Tiki-Taka": "TransferCompound"}
"""aihwkit preset families whose training changed with aihwkit's ``scale_fast_lr`` default, and
the compound that carries it. Checked on 1.2.0 over all 52 presets: only the six Tiki-Taka
presets use a compound with the field on (``TransferCompound``, ``fast_lr`` 1.0); the TTv2,
c-TTv2 and AGAD presets use the chopped compounds, whose default is off."""

UNKNOWN_VERSION = "unknown"


def _aihwkit(outcome: RunOutcome) -> str:
    return str(outcome.versions.get("aihwkit", "") or UNKNOWN_VERSION)


def _preset_family(name: str) -> str:
    """The family the registry gives preset ``name`` ("" when it is not a registered preset)."""
    from aimc_plugins.host import plugins

    preset = plugins.registry.presets().get(name)
    return preset.family if preset is not None else ""


def _is_preset(outcome: RunOutcome) -> bool:
    from aimc_plugins.training.setup import kind_of

    try:
        return kind_of(outcome.run) == RunKind.PRESET
    except Exception:  # an optimizer no longer installed: the planner's kind is all there is
        return outcome.run.kind == RunKind.PRESET


def version_notes(
    outcomes: Sequence[RunOutcome],
    preset_family: Callable[[str], str] = _preset_family,
) -> list[str]:
    """One line per thing a reader must know about aihwkit versions in these runs' table:

    - the table mixes aihwkit versions: which rows ran on which (a row that mixes is named);
    - a preset row ran on an aihwkit whose changed default alters what that preset trains.

    Tuning trials and failed runs are left out, as from the table. ``preset_family`` maps a
    preset name to its family (default: the plugin registry's)."""
    runs = [o for o in result_runs(outcomes) if o.status != FAILED]
    rows: dict[str, set[str]] = defaultdict(set)
    for outcome in runs:
        rows[outcome.run.label].add(_aihwkit(outcome))
    notes: list[str] = []
    versions = sorted({v for found in rows.values() for v in found})
    if len(versions) > 1:
        by_version = {
            version: sorted(label for label, found in rows.items() if found == {version})
            for version in versions
        }
        parts = [f"{v}: {', '.join(labels)}" for v, labels in by_version.items() if labels]
        mixed = sorted(label for label, found in rows.items() if len(found) > 1)
        if mixed:
            parts.append(f"mixed within the row: {', '.join(mixed)}")
        notes.append(
            f"runs of {len(versions)} aihwkit versions in this table ({'; '.join(parts)}): "
            "compare rows of one version; aihwkit 1.2.0 changed what some presets train "
            "(docs/optimizers.md)"
        )
    changed: dict[str, set[str]] = defaultdict(set)
    for outcome in runs:
        version = _aihwkit(outcome)
        if not (_is_preset(outcome) and at_least(version, SCALE_FAST_LR_SINCE)):
            continue
        name = outcome.run.registered_device
        if preset_family(name) in CHANGED_PRESET_FAMILIES:
            changed[outcome.run.label].add(version)
    for label, found in sorted(changed.items()):
        notes.append(
            f"{label}: ran on aihwkit {', '.join(sorted(found))}, whose default scale_fast_lr "
            f"(new in {SCALE_FAST_LR_SINCE}, on) pulses gradients onto P at fast_lr x lr where "
            "1.1.0 used fast_lr: this Tiki-Taka preset trains differently than on 1.1.0 "
            "(docs/optimizers.md, 'Results depend on the aihwkit version')"
        )
    return notes
