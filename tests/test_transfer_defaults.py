"""The transfer family's tuned defaults (docs/transfer-defaults.md) learn, and
:func:`aimc_plugins.training.transfer.transfer_writes` counts a schedule's writes per column as
aihwkit
runs it."""

from __future__ import annotations

import pytest

from aimc_plugins.host import plugins
from aimc_plugins.training.setup import build_setup
from aimc_plugins.training.transfer import (
    ALL_COLUMNS,
    MIN_WRITES_PER_COLUMN,
    tile_columns,
    transfer_writes,
)

TRANSFER_OPTIMIZERS = ("ttv1", "ttv2", "c-ttv2", "agad", "rl", "rlv2")
DIGITS_MINIBATCHES = 135  # digits-mlp: 1347 training images, batch 10


@pytest.mark.parametrize("optimizer", TRANSFER_OPTIMIZERS)
def test_defaults_pass_the_contract_and_learn(optimizer: str) -> None:
    """One epoch of digits at the defaults on Idealized reaches the contract's 0.3 (seeded, so
    this repeats exactly; the defaults reached 0.55-0.87 here, see the doc)."""
    from aimc_plugins.kit.testing import check_optimizer

    report = check_optimizer(plugins.optimizers()[optimizer])
    assert report.results["accuracy"] >= 0.3


def test_default_schedules_as_aihwkit_receives_them() -> None:
    compiled = {"implementation": "compiled"}
    ttv1 = build_setup(["Idealized"], "ttv1", compiled).rpu_config.device
    assert ttv1.n_reads_per_transfer == ALL_COLUMNS and ttv1.transfer_every == 1.0
    rl = build_setup(["Idealized"], "rl", compiled).rpu_config.device
    assert rl.n_reads_per_transfer == ALL_COLUMNS
    explicit = build_setup(
        ["Idealized"], "ttv1", {"n_reads_per_transfer": 8, **compiled}
    ).rpu_config
    assert explicit.device.n_reads_per_transfer == 8
    for name in ("ttv1", "rl"):  # as rules: 0 is "every column", each tile its own count
        rule = build_setup(["Idealized"], name).rpu_config.device.rule
        assert rule.n_reads_per_transfer == 0 and rule.transfer_every == 1.0
        assert rule.writes_per_column(135, 392) == 135.0
    for name in ("ttv2", "c-ttv2", "agad"):
        setup = build_setup(["Idealized"], name)
        compound = setup.rpu_config.device
        assert compound.transfer_every == 0.1 and compound.transfer_update.desired_bl == 1000
        assert compound.fast_lr == 0.2 and setup.lr == (1.0 if name == "agad" else 0.1)
    rlv2 = build_setup(["Idealized"], "rlv2").rpu_config.device
    assert rlv2.transfer_update.desired_bl == 1000 and rlv2.rule.max_pulses == 1000


def test_tile_columns_split_like_aihwkit() -> None:
    assert tile_columns([64, 32], 512) == [64, 32]
    assert tile_columns([784, 256], 512) == [392, 256]
    assert tile_columns([784], 0) == [784]


def test_no_transfer_compound_gives_none() -> None:
    assert transfer_writes(build_setup(["Idealized"], "sgd").rpu_config, [64], 100) is None
    assert transfer_writes(None, [64], 100) is None


def test_old_ttv1_default_is_flagged_and_the_new_one_is_not() -> None:
    old = build_setup(["Idealized"], "ttv1", {"n_reads_per_transfer": 1}).rpu_config
    writes = transfer_writes(old, [64, 32], DIGITS_MINIBATCHES)
    assert writes is not None
    assert writes.per_tile == {64: pytest.approx(135 / 64), 32: pytest.approx(135 / 32)}
    assert writes.writes_per_column == pytest.approx(135 / 64)
    assert "64-column tile" in writes.note and "2.1 times" in writes.note
    new = transfer_writes(build_setup(["Idealized"], "ttv1").rpu_config, [784], 500)
    assert new is not None and new.writes_per_column == 500 and new.note == ""


def test_reads_and_rounding_of_the_chopped_compound() -> None:
    """aihwkit's chopped compound reads one column per transfer; transfer_every 0.1 at batch 10
    is one transfer per mat-vec, 10 per mini-batch."""
    config = build_setup(["Idealized"], "ttv2").rpu_config
    config.device.n_reads_per_transfer = 5  # ignored by aihwkit's compiled chopped transfer
    writes = transfer_writes(config, [64], DIGITS_MINIBATCHES, batch_size=10)
    assert writes is not None and writes.writes_per_column == pytest.approx(1350 / 64)
    wide = transfer_writes(config, [784], 100, batch_size=10)
    assert wide is not None and wide.per_tile == {392: pytest.approx(1000 / 392)}
    assert wide.note  # 2.6 writes per column: too slow
    assert transfer_writes(config, [64], 10, threshold=0.0).note == ""


def test_rlv2_reads_every_column_per_event() -> None:
    config = build_setup(["Idealized"], "rlv2").rpu_config
    writes = transfer_writes(config, [64, 32], 20)
    assert writes is not None and writes.writes_per_column == 20


def test_aihwkit_presets_are_counted() -> None:
    """aihwkit's own presets run as aihwkit defines them; the count shows how slow that is on a
    short recipe."""
    from aihwkit.simulator.presets import TikiTakaIdealizedPreset, TTv2IdealizedPreset

    for preset in (TikiTakaIdealizedPreset(), TTv2IdealizedPreset()):
        writes = transfer_writes(preset, [64, 32], DIGITS_MINIBATCHES, batch_size=10)
        assert writes is not None and writes.writes_per_column > 0
        slow = writes.writes_per_column < MIN_WRITES_PER_COLUMN
        assert writes.note.startswith("slow transfer schedule") if slow else writes.note == ""


# The margin each transfer optimizer keeps to Analog SGD on Idealized after 3 epochs of digits at
# its defaults (docs/transfer-defaults.md): the plain transfer family matches it; the buffered
# family is held back by aihwkit's compiled chopped transfer (one column per transfer), and the
# margin says how far, so a regression there still fails.
MARGIN_TO_SGD = {"ttv1": 0.06, "rl": 0.06, "rlv2": 0.06, "ttv2": 0.35, "c-ttv2": 0.4, "agad": 0.5}


@pytest.mark.slow
def test_defaults_come_within_their_margin_of_analog_sgd_on_idealized() -> None:
    from aimc_plugins.training.identity import PlannedRun
    from aimc_plugins.training.run import DONE, run_one

    def accuracy(optimizer: str) -> float:
        spec = PlannedRun(
            recipe="digits-mlp", device="Idealized", optimizer=optimizer, seed=0, epochs=3
        )
        outcome = run_one(spec)
        assert outcome.status == DONE, outcome.error
        return outcome.final["test_accuracy"]

    sgd = accuracy("sgd")
    gaps = {name: sgd - accuracy(name) for name in MARGIN_TO_SGD}
    assert all(gaps[name] <= margin for name, margin in MARGIN_TO_SGD.items()), (sgd, gaps)
