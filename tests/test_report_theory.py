"""The report's "Theory vs measurement" section: a real (tiny) sweep gets it, a report without
Analog SGD on three devices or transfer rows does not, and its statistics are the exact ones."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import pytest
from conftest import THEORY_SWEEP_DEVICES
from scipy import stats

from aimc_plugins.report.ranking import summarize
from aimc_plugins.report.theory import (
    MIN_DEVICES,
    RESAMPLES,
    build_section,
    correlate,
    drawn_floor,
    smallest_p,
    verdict,
)
from aimc_plugins.report.theory_page import FIGURE_NAME
from aimc_plugins.sweep.planning import plan
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import DONE, RunOutcome

METRIC = "test_accuracy"
SGD_DEVICES = THEORY_SWEEP_DEVICES  # the shared real sweep's (conftest.theory_sweep)


def outcome(run: PlannedRun, accuracy: float) -> RunOutcome:
    history = ({"epoch": 1, METRIC: accuracy},)
    return RunOutcome(run, DONE, history, {METRIC: accuracy})


def section_of(outcomes):
    return build_section(outcomes, summarize(outcomes, METRIC), METRIC, True)


def test_a_real_sweep_with_sgd_on_three_devices_has_the_section(theory_sweep):
    out, report = theory_sweep
    assert (out / FIGURE_NAME).read_bytes()[:4] == b"\x89PNG"
    assert (out / FIGURE_NAME).with_suffix(".svg").is_file()
    assert out / FIGURE_NAME in report.paths
    markdown = (out / "results.md").read_text()
    assert "## Theory vs measurement" in markdown and "theory_vs_measurement.svg" in markdown
    page = (out / "report.html").read_text()
    assert "id='theory'" in page and "Theory vs measurement" in page
    theory = json.loads(json.dumps(report.data()))["theory"]  # JSON-ready as it stands
    assert {p["device"] for p in theory["points"]} == set(SGD_DEVICES)
    assert all(p["prediction"]["s_k"] > 0 for p in theory["points"])
    assert "device units" in theory["weights"] and "digits-mlp" in theory["weights"]
    (correlation,) = theory["correlations"]
    assert correlation["n"] == 3 and correlation["optimizer"] == "sgd"
    assert -1.0 <= correlation["rho"] <= 1.0
    assert smallest_p(3) - 1e-12 <= correlation["p"] <= 1.0  # 1/3! is the least 3 devices give
    assert correlation["exact"] is True
    assert f"n = 3, p = {correlation['p']:.2g}" in correlation["verdict"]
    assert correlation["verdict"] in markdown and theory["residual"] == []


def test_a_report_without_sgd_on_three_devices_has_no_section(tmp_path):
    runs = plan("digits-mlp", SGD_DEVICES[:2], ["sgd", "digital"], 1, 1)
    outcomes = [outcome(run, 0.5) for run in runs]
    assert section_of(outcomes) is None
    from aimc_plugins.api.results import report_outcomes

    written = report_outcomes(outcomes, tmp_path)
    assert written.data()["theory"] is None
    assert "Theory vs measurement" not in (tmp_path / "results.md").read_text()
    assert not (tmp_path / FIGURE_NAME).exists()


def test_a_monotone_case_gives_rho_one_and_the_exact_p():
    # S_K grows along power g = 0.5, 1, 2 and exponential g = 2 (docs/predict.md); accuracy
    # falls along it, as predicted
    devices = ["power(g=0.5, tau=0.7)", "power(g=1.0, tau=0.7)", "power(g=2.0, tau=0.7)"]
    devices.append("exponential(g=2.0, tau=0.7)")
    runs = plan("digits-mlp", devices, ["sgd"], 1, 1)
    accuracy = dict(zip(devices, (0.9, 0.7, 0.5, 0.3), strict=True))
    section = section_of([outcome(run, accuracy[run.device]) for run in runs])
    assert section is not None
    (correlation,) = section.correlations
    assert correlation.n == 4 and correlation.rho == pytest.approx(1.0)
    assert correlation.p == pytest.approx(1 / math.factorial(4))  # only the identity ties it
    assert correlation.exact and "follows the predicted one" in correlation.verdict
    reversed_section = section_of([outcome(run, 1 - accuracy[run.device]) for run in runs])
    (reverse,) = reversed_section.correlations
    assert reverse.rho == pytest.approx(-1.0) and reverse.p == pytest.approx(1.0)
    assert "not predicted here" in reverse.verdict


def test_permutation_p_is_exact_for_small_n_and_says_when_n_is_too_small():
    rho, p, exact = correlate([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])
    assert (rho, exact) == (pytest.approx(1.0), True) and p == pytest.approx(1 / 6)
    assert "cannot be with n = 3" in verdict(3, rho, p)
    scores, measured = [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 3.0, 2.0, 5.0, 4.0]
    rho, p, exact = correlate(scores, measured)
    assert rho == pytest.approx(0.8) and exact
    # the exact p: the share of all 5! pairings whose rho reaches the observed one
    reach = [
        stats.spearmanr(scores, order).statistic >= rho - 1e-12
        for order in itertools.permutations(measured)
    ]
    assert p == pytest.approx(sum(reach) / math.factorial(5))
    rho, p, exact = correlate([1.0, 1.0, 1.0], [0.1, 0.2, 0.3])
    assert math.isnan(rho) and "all equal" in verdict(3, rho, p)


def test_an_underivable_device_is_listed_with_its_reason():
    runs = plan("digits-mlp", SGD_DEVICES, ["sgd"], 1, 1)
    gone = replace(runs[0], device="gone-device", device_name="gone-device", device_params={})
    outcomes = [outcome(run, 0.5 + 0.1 * i) for i, run in enumerate([*runs, gone])]
    section = section_of(outcomes)
    assert section is not None
    point = next(p for p in section.points if p.device == "gone-device")
    assert point.prediction is None and point.reason.startswith("no prediction: ")
    assert "gone-device" in point.reason
    assert section.correlations[0].n == len(SGD_DEVICES)  # correlated over the derivable ones
    assert len(section.points) == len(SGD_DEVICES) + 1  # never silently dropped


def test_transfer_rows_predict_a_floor_from_the_residual_symmetric_point():
    runs = plan("digits-mlp", ["linear(c=0.3)", "power(g=1.0, tau=0.7)"], ["ttv1", "rl"], 1, 1)
    off = plan("digits-mlp", ["linear(c=0.3)"], ["rl"], 1, 1, params={"zero_shift": "off"})
    runs += [replace(run, optimizer_label="rl unshifted") for run in off]
    outcomes = [outcome(run, 0.1 if run.device == "linear(c=0.3)" else 0.8) for run in runs]
    section = section_of(outcomes)
    assert section is not None and not section.points and len(runs) >= MIN_DEVICES
    by_row = {(p.device, p.optimizer): p for p in section.residual}
    tt = by_row[("linear(c=0.3)", "ttv1")]
    assert tt.floor is True and tt.symmetric_point == pytest.approx(0.3 * 0.7, abs=1e-6)
    assert tt.gamma == 0.0
    shifted = by_row[("linear(c=0.3)", "rl")]  # zero shift 'auto': SoftBounds shifts exactly
    assert shifted.floor is False and shifted.zero_shift == "auto" and shifted.gamma > 0
    unshifted = by_row[("linear(c=0.3)", "rl unshifted")]
    assert unshifted.floor is True and unshifted.zero_shift == "off"
    assert by_row[("power(g=1.0, tau=0.7)", "rl")].floor is False
    # linear(c=0.3) has both kinds of row: compared like for like, device by device
    summary = section.residual_summary
    assert summary.startswith("Same device and algorithm with and without a predicted floor")
    # rl pairs with rl unshifted (same algorithm, same gamma), never with ttv1 (gamma = 0)
    assert "(1 pair(s)" in summary
    assert "linear(c=0.3): rl 0.1 (no floor) vs rl unshifted 0.1 (floor)" in summary
    assert "equal on 1" in summary and "vs ttv1" not in summary
    assert "gamma = 0" in section.residual_summary


def residual_row(device: str, optimizer: str, mean: float, std: float, floor: bool):
    from aimc_plugins.report.theory_devices import ResidualPoint

    return ResidualPoint(
        device, optimizer, mean, 5, gamma=0.4, std=std, floor=floor, algorithm="rl"
    )


def test_a_zero_shift_on_and_off_is_compared_device_by_device_with_welchs_test():
    from aimc_plugins.report.theory import residual_summary

    separated = [
        residual_row("a", "rl", 0.95, 0.01, False),
        residual_row("a", "rl-off", 0.85, 0.01, True),
        residual_row("b", "rl", 0.90, 0.05, False),
        residual_row("b", "rl-off", 0.91, 0.05, True),  # the wrong way, within the noise
    ]
    text = residual_summary(separated, higher_is_better=True)
    assert "(2 pair(s)" in text
    assert "measured better on 1 (1 separated" in text and "worse on 1 (0 separated)" in text
    assert "Where the seeds separate a pair, it goes as predicted." in text
    against = [residual_row("a", "rl", 0.80, 0.01, False), residual_row("a", "x", 0.9, 0.01, True)]
    assert "goes against the prediction" in residual_summary(against, higher_is_better=True)
    # for a loss (lower is better) the same numbers go as predicted
    assert "goes as predicted" in residual_summary(against, higher_is_better=False)


def test_without_a_pair_the_groups_are_compared_and_said_to_differ_in_device():
    from aimc_plugins.report.theory import residual_summary

    rows = [residual_row("a", "rl", 0.95, 0.01, False), residual_row("b", "rl", 0.85, 0.01, True)]
    text = residual_summary(rows, higher_is_better=True)
    assert text.startswith("Rows predicted without a floor: mean 0.95 over 1")
    assert "different devices" in text and "as predicted" in text


def test_a_drawn_p_value_says_it_was_drawn_and_when_it_is_only_a_bound():
    # 9! pairings are more than the draws: p is drawn, and when no draw reaches the observed
    # rho scipy reports 1 / (draws + 1), the draws' resolution, not the p-value itself
    n = 9
    rho, p, exact = correlate(list(range(n)), [float(i) for i in range(n)])
    assert rho == pytest.approx(1.0) and not exact
    assert p == pytest.approx(drawn_floor()) and p > 1 / math.factorial(n)
    text = verdict(n, rho, p, exact)
    assert f"p = {p:.2g} (from {RESAMPLES:,} random pairings of the 9! possible" in text
    assert "the exact p is below 6e-05 with 95% confidence" in text
    assert "follows the predicted one" in text
    scores = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    rho, p, exact = correlate(scores, [1.0, 0.0, 2.0, 4.0, 3.0, 5.0, 8.0, 6.0, 7.0])
    assert not exact and p > drawn_floor()
    assert "random pairings" in verdict(n, rho, p, exact)
    assert "at most" not in verdict(n, rho, p, exact)
    assert "random pairings" not in verdict(4, 1.0, 1 / 24)  # an enumerated p is exact


def test_the_sgd_table_lists_devices_in_the_predicted_order():
    # planned in an order that is not the prediction's; the section lists them as
    # `aimc predict` ranks them (lowest S_K first)
    devices = ["power(g=2.0, tau=0.7)", "power(g=0.5, tau=0.7)", "linear(c=0.3)"]
    devices.append("power(g=1.0, tau=0.7)")
    runs = plan("digits-mlp", devices, ["sgd"], 1, 1)
    gone = replace(runs[0], device="gone-device", device_name="gone-device", device_params={})
    section = section_of([outcome(run, 0.5) for run in [gone, *runs]])
    assert section is not None
    shown = [p.device for p in section.points]
    s_k = [p.s_k for p in section.points if p.s_k is not None]
    assert s_k == sorted(s_k) and shown[-1] == "gone-device"
    assert shown[:2] == ["power(g=0.5, tau=0.7)", "power(g=1.0, tau=0.7)"]


def test_labels_of_points_at_one_place_do_not_print_over_each_other():
    from aimc_plugins.report.figures import style
    from aimc_plugins.report.theory_page import _place_labels

    with style() as plt:
        fig, ax = plt.subplots()
        ax.plot([0.0, 1.0], [0.0, 1.0], "o")
        fig.canvas.draw()
        _place_labels(ax, fig, [(0.5, 0.5, "g=1, tau=0.7"), (0.5, 0.5, "g=2, tau=0.7")], 8)
        offsets = {text.get_text(): text.xyann for text in ax.texts}
        plt.close(fig)
    assert len(offsets) == 2 and offsets["g=1, tau=0.7"] != offsets["g=2, tau=0.7"]


def test_a_loss_metric_correlates_with_s_k_itself_not_its_negative():
    """For a loss (lower is better) the theory predicts the loss to rise with S_K: measured
    losses in the order of S_K are the predicted order (rho = +1), and the reverse is not."""
    devices = [f"power(g={g}, tau=0.7)" for g in (0.5, 1.0, 1.5, 2.0)]
    runs = plan("digits-mlp", devices, ["sgd"], 1, 1)
    loss = "test_loss"

    def section(values):
        outcomes = [
            RunOutcome(run, DONE, ({"epoch": 1, loss: v},), {loss: v})
            for run, v in zip(runs, values, strict=True)
        ]
        return build_section(outcomes, summarize(outcomes, loss, False), loss, False)

    rising = section([0.1, 0.2, 0.3, 0.4])  # S_K grows with g, and so does the loss
    assert rising is not None
    (correlation,) = rising.correlations
    assert correlation.rho == pytest.approx(1.0) and correlation.p == pytest.approx(1 / 24)
    falling = section([0.4, 0.3, 0.2, 0.1])
    assert falling is not None and falling.correlations[0].rho == pytest.approx(-1.0)
    assert "not predicted here" in falling.correlations[0].verdict
