"""Budgets that let every algorithm finish: the convergence rule, training each row to its
plateau under a cap, tuning that keeps slow starters (Hyperband brackets) and a decision over
two seeds that does not crown a setting good on one seed only."""

from __future__ import annotations

import json
import math
import re

import curve_fake_plugin as curves
import pytest

from aimc_plugins.api.comparison import compare, plan_comparison
from aimc_plugins.api.results import load_results
from aimc_plugins.host import plugins
from aimc_plugins.report.convergence import spread_too_wide, unstable_rows
from aimc_plugins.sweep.convergence import (
    Convergence,
    ConvergenceError,
    convergence_from_table,
    mean_curve,
    plateau,
)
from aimc_plugins.sweep.spec import SpecError, spec_from_dict
from aimc_plugins.sweep.tuner import candidates
from aimc_plugins.sweep.tuning import TuneSettings, brackets_of, rows_of, rungs

RULE = Convergence(patience=3, min_delta=0.01)


@pytest.fixture
def fake_curves():
    plugins.register(curves, name="curve_fake_plugin")
    yield curves.RECIPE
    plugins.unregister("curve_fake_plugin")


# -- the rule --------------------------------------------------------------------------------


def test_a_curve_converges_where_patience_epochs_follow_its_last_improvement():
    rising = [0.1, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8]
    assert plateau(rising, rule=RULE).converged is False  # improved at its last epoch
    assert plateau(rising, rule=RULE).stop_epoch == 7
    flat = [0.1, 0.5, 0.8, 0.805, 0.79, 0.8, 0.801, 0.8]  # +0.6% is below min_delta 1%
    found = plateau(flat, rule=RULE)
    assert found.converged and found.stop_epoch == 3 and found.best == 0.8
    assert "converged at epoch 3 of 8" == found.text()
    # lower is better (a loss): improvements go down
    loss = [1.0, 0.5, 0.3, 0.3, 0.31, 0.3]
    assert plateau(loss, higher_is_better=False, rule=RULE).stop_epoch == 3
    assert plateau(loss, higher_is_better=False, rule=RULE).converged
    # too short to show a plateau; a NaN never improves
    assert plateau([0.9, 0.9], rule=RULE).converged is False
    assert plateau([0.5, math.nan, 0.5, 0.5, 0.5], rule=RULE).stop_epoch == 1


def test_mean_curve_keeps_a_diverged_seed_visible():
    a = [{"m": 0.1}, {"m": 0.3}, {"m": 0.5}]
    b = [{"m": 0.3}, {"m": math.nan}]
    curve = mean_curve([a, b], "m")
    assert curve[0] == pytest.approx(0.2) and math.isnan(curve[1]) and len(curve) == 2


def test_convergence_settings_are_checked_with_reasons():
    assert convergence_from_table(True) == Convergence()
    assert convergence_from_table(False) is None
    assert convergence_from_table({"patience": 8}).patience == 8
    for bad, reason in (
        ({"patiense": 3}, "unknown key 'patiense'"),
        ({"patience": 0}, "patience must be an integer >= 1"),
        ({"min_delta": 2}, "min_delta must be a number in [0, 1)"),
        ("yes", "converge must be true, false or a table"),
    ):
        with pytest.raises(ConvergenceError, match=re.escape(reason)):
            convergence_from_table(bad)
    spec = {"recipe": "digits-mlp", "devices": ["Idealized"], "optimizers": ["sgd"]}
    with pytest.raises(SpecError, match=r"converge\.patience"):
        spec_from_dict({**spec, "converge": {"patience": -1}})
    assert spec_from_dict({**spec, "converge": True}).converge == Convergence()
    scaled = spec_from_dict({**spec, "scale": {"quick": {"converge": False}}, "converge": True})
    assert scaled.scaled("quick").converge is None


def test_convergence_needs_a_validation_split():
    with pytest.raises(SpecError, match="no validation split"):
        plan_comparison(recipe="least-squares", devices=["Idealized"], converge=True)


# -- training to convergence under a cap -----------------------------------------------------


def _one_row(recipe: str, lr: float, out, epochs: int = 12, converge=RULE):
    """Analog SGD at ``lr`` on the formula recipe, 2 seeds, in this process."""
    return compare(
        recipe=recipe,
        devices=["Idealized"],
        optimizers=["sgd"],
        params={"lr": lr},
        seeds=2,
        epochs=epochs,
        converge=converge,
        out=out,
        workers=0,
    )


def test_each_row_trains_to_its_validation_plateau_and_says_so(tmp_path, fake_curves):
    # lr 3 (u = 1) converges within a few epochs; lr 0.0095 (u ~ 0.17) is still improving at 12
    results = _one_row(fake_curves, 3.0, tmp_path / "fast")
    record = json.loads((tmp_path / "fast" / "convergence.json").read_text())
    found = record["rows"]["Idealized / sgd"]["plateau"]
    assert found["converged"] and found["stop_epoch"] < 12 and found["source"] == "validation"
    # the final runs (test split) trained for the stop epoch found on validation, not the cap
    assert {o.run.epochs for o in results.outcomes} == {found["stop_epoch"]}
    row = results.report.rows[0]
    assert row.converged is True and row.stop_epoch == found["stop_epoch"] and row.cap_epochs == 12
    assert f"epoch {found['stop_epoch']} of 12" in (tmp_path / "fast" / "results.md").read_text()
    frame = load_results(tmp_path / "fast")
    assert frame["converged"].tolist() == [True, True]
    # the in-memory frame reads the same record (the runs' own curves stop at the plateau)
    assert results.frame()["converged"].tolist() == [True, True]
    assert results.summary()["convergence"]["cap"] == 12

    slow = _one_row(fake_curves, 0.0095, tmp_path / "slow")
    row = slow.report.rows[0]
    assert row.converged is False and {o.run.epochs for o in slow.outcomes} == {12}
    text = (tmp_path / "slow" / "results.md").read_text()
    assert "still improving at 12" in text and "Still improving at the cap" in text
    assert any("lower bound" in note for note in slow.report.notes)


def test_without_convergence_a_short_run_is_flagged_from_its_own_curve(tmp_path, fake_curves):
    results = _one_row(fake_curves, 0.0095, tmp_path, epochs=4, converge=None)
    row = results.report.rows[0]
    assert row.converged is False and row.convergence_source == "own curve"
    assert not (tmp_path / "convergence.json").exists()


# -- tuning that keeps slow starters ---------------------------------------------------------


def test_hyperband_brackets_keep_a_setting_that_starts_slowly_and_ends_best(
    tmp_path, fake_curves
):
    cap = 8

    def tuned(brackets: int):
        spec = {
            "recipe": fake_curves,
            "devices": ["Idealized"],
            "optimizers": ["sgd"],
            "seeds": 1,
            "epochs": cap,
            "tune": {"trials": 8, "brackets": brackets},
        }
        return compare(spec, out=tmp_path / f"b{brackets}", workers=0, report=False)

    plain = tuned(1)  # one successive-halving ladder: judged after 1-2 epochs
    protected = tuned(2)  # the default: a second bracket trains its trials at full length
    lr_plain = plain.tuning["rows"][0]["chosen"]["lr"]
    lr_kept = protected.tuning["rows"][0]["chosen"]["lr"]
    early = {lr: curves.value(lr, 1) for lr in (lr_plain, lr_kept)}
    final = {lr: curves.value(lr, cap) for lr in (lr_plain, lr_kept)}
    # the kept setting is behind after the first rung and ahead at the end
    assert early[lr_kept] < early[lr_plain] and final[lr_kept] > final[lr_plain] + 0.02
    assert len(protected.tuning["brackets"]) == 2
    assert "Hyperband" in protected.tuning["pruner"]


def test_brackets_split_the_candidates_and_end_at_full_length():
    settings = TuneSettings(trials=8, min_epochs=2)
    first, last = brackets_of(settings, 20)
    assert first.members == (0, 2, 4, 6) and last.members == (1, 3, 5, 7)
    assert first.ladder == ((4, 5), (2, 20)) and last.ladder == ((4, 20),)
    one = brackets_of(TuneSettings(trials=8, brackets=1), 8)
    assert one[0].ladder[-1] == (2, 8)  # two finalists at full length for the decision seeds
    assert rungs(8, 2, 8, 1, halvings=0) == [(8, 8)]


# -- a decision over two seeds ---------------------------------------------------------------


def test_a_setting_good_on_one_seed_only_does_not_win_silently(tmp_path, fake_curves):
    spec = {"recipe": fake_curves, "devices": ["Idealized"], "optimizers": ["sgd"]}
    row = rows_of(plan_comparison(spec).runs, TuneSettings(trials=8))[0]
    places = [curves.place(c["lr"]) for c in candidates(row, TuneSettings(trials=8))]
    # one candidate (the one nearest u = 0.65) is good on even seeds and bad on odd ones
    middle = min(places, key=lambda u: abs(u - 0.65))
    band = [middle - 1e-6, middle + 1e-6]
    spec = {**spec, "seeds": 3, "epochs": 6, "options": {"unstable": band}}

    one_seed = compare(
        {**spec, "tune": {"trials": 8, "brackets": 1, "decision_seeds": 1}},
        out=tmp_path / "one",
        workers=0,
    )
    chosen = one_seed.tuning["rows"][0]["chosen"]["lr"]
    assert curves.place(chosen) == pytest.approx(middle)  # one seed crowned it...
    assert one_seed.report.rows[0].seed_unstable  # ...and the report flags it
    assert any("Unstable across seeds" in n for n in one_seed.report.notes)

    two_seeds = compare(
        {**spec, "tune": {"trials": 8, "brackets": 1}}, out=tmp_path / "two", workers=0
    )
    row_record = two_seeds.tuning["rows"][0]
    assert curves.place(row_record["chosen"]["lr"]) != pytest.approx(middle)
    assert len(row_record["chosen_seed_values"]) == 2
    assert not two_seeds.report.rows[0].seed_unstable


def test_the_instability_rule_reads_the_metrics_range():
    assert spread_too_wide([0.12, 0.95, 0.46], "test_accuracy")  # GokmenVlasov, measured
    assert not spread_too_wide([0.93, 0.95, 0.94], "test_accuracy")
    assert not spread_too_wide([0.5], "test_accuracy")
    assert spread_too_wide([1.0, 2.0], "excess")  # no range: relative to the mean
    assert unstable_rows([], "test_accuracy", {"rows": []}) == set()
