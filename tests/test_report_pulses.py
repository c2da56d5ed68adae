"""What training cost the devices, in the report and the data API: the pulses column of the
ranked table, the device-cost section, the metric-vs-pulses figure, pulses to target and
``load_pulses``.

Most tests build outcomes in memory from the same :class:`PulseSummary` the training path uses
(so their final metrics are what a counted run records); one small real comparison (digits,
ReRamSB, sgd / ttv1 / mp, one seed, two epochs) checks the whole way from counting to the files.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from aimc_plugins.api import results as api
from aimc_plugins.cli.main import cli
from aimc_plugins.devices.cost import DeviceCost
from aimc_plugins.report import device_cost, pulse_plots
from aimc_plugins.report import summary as report
from aimc_plugins.report import time_to_target as ttt
from aimc_plugins.report.writers import table_head
from aimc_plugins.sweep.spec import plan
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.pulses import ArrayPulses, PulseSummary, with_pulses
from aimc_plugins.training.run import DONE, RunOutcome

METRIC = "test_accuracy"
WHY = "aihwkit's compiled compound MixedPrec writes its arrays inside the C++ core"
LAYER = "layer 1 (4x8)"


def arrays(optimizer: str, scale: float) -> tuple[ArrayPulses, ...]:
    """A run's per-array counts: sgd one array (1000 pulses x scale), ttv1 a gradient array P
    (600) and a transfer array W (3000), mp one array its compound wrote unseen."""
    if optimizer == "sgd":
        return (
            ArrayPulses(
                LAYER,
                "",
                "SoftBounds",
                4,
                8,
                up=600.0 * scale,
                down=400.0 * scale,
                gradient=1000.0 * scale,
                device_max=90.0 * scale,
                device_p99=80.0,
            ),
        )
    if optimizer == "ttv1":
        return (
            ArrayPulses(LAYER, "P", "SoftBounds", 4, 8, up=300.0 * scale, down=300.0 * scale,
                        gradient=600.0 * scale, reads=40, device_max=50.0, device_p99=40.0),
            ArrayPulses(LAYER, "W", "SoftBounds", 4, 8, up=1500.0 * scale,
                        down=1500.0 * scale, transfer=3000.0 * scale, device_max=400.0 * scale,
                        device_p99=300.0, exact=True),
        )  # fmt: skip
    return (ArrayPulses(LAYER, "", "MixedPrec[SoftBounds]", 4, 8, counted=False, why=WHY),)


def outcome(run, accuracies=(0.5, 0.8), scale=1.0, cost=None) -> RunOutcome:
    """A finished run as ``run_one`` records it: digital runs fire nothing; analog runs carry
    the summary's final metrics, per-epoch pulses (half the total after epoch 1) and records."""
    history = tuple(
        {"epoch": e, METRIC: a, "train_samples": 100.0 * e} for e, a in enumerate(accuracies, 1)
    )
    final = {"epoch": len(accuracies), METRIC: accuracies[-1]}
    if run.optimizer == "digital":
        return RunOutcome(run, DONE, history, final)
    found = arrays(run.optimizer, scale)
    total = sum(a.total for a in found)
    summary = PulseSummary(
        found,
        device_max=max(a.device_max for a in found),
        device_p99=max(a.device_p99 for a in found),
        epochs={1: total / 2, 2: total},
        cost=cost,
    )
    return RunOutcome(
        run,
        DONE,
        with_pulses(history, summary),
        {**final, **summary.metrics()},
        notes=summary.notes(),
        pulses=summary.rows(),
    )


@pytest.fixture(scope="module")
def runs():
    """(device, optimizer) -> its runs (seeds 0 and 1) of a small planned comparison."""
    planned = plan("digits-mlp", ["ReRamSB"], ["sgd", "ttv1", "mp", "digital"], 2, 2)
    found: dict = {}
    for run in planned:
        found.setdefault((run.device, run.shown_optimizer), []).append(run)
    return found


@pytest.fixture
def outcomes(runs):
    """Seed 0 and 1 at scales 1.0 and 1.2; ttv1 better and slower to count than sgd."""
    made = []
    for (_, optimizer), seeded in runs.items():
        for run in seeded:
            accuracies = (0.6, 0.9) if optimizer in ("ttv1", "digital") else (0.5, 0.7)
            made.append(outcome(run, accuracies, 1.0 + 0.2 * run.seed))
    return made


def cells_of(table: str, heading: str) -> dict[str, str]:
    """optimizer -> the cell under ``heading`` in the first markdown table of ``table``."""
    lines: list[str] = []
    for line in table.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    head = [cell.strip() for cell in lines[0].strip("|").split("|")]
    column, optimizer = head.index(heading), head.index("optimizer")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert all(len(row) == len(head) for row in rows), (head, rows)
    return {row[optimizer]: row[column] for row in rows}


def test_counts_are_written_in_two_significant_digits():
    assert device_cost.compact(4_285_038.7) == "4.3e6"
    assert device_cost.compact(1100.0) == "1.1e3"
    assert device_cost.compact(512.0) == "512"
    assert device_cost.compact(0.0) == "0"
    assert device_cost.compact(None) == "—" and device_cost.compact(math.nan) == "—"


def test_a_rows_pulses_are_the_mean_over_its_runs_and_say_why_where_missing(outcomes):
    rows = {r.optimizer: r for r in report.summarize(outcomes, METRIC)}
    assert rows["sgd"].pulses == pytest.approx(1100.0)  # 1000 and 1200
    assert rows["sgd"].pulses_device_max == pytest.approx(99.0)  # 90 and 108
    assert rows["ttv1"].pulses == pytest.approx(3600.0 * 1.1)
    assert rows["mp"].pulses is None and rows["mp"].pulses_note == WHY
    assert rows["digital"].pulses is None and rows["digital"].pulses_note == ""
    assert all(r.energy_j is None for r in rows.values())  # no device declared energy
    shown = {k: r.formatted_pulses() for k, r in rows.items()}
    assert shown == {"sgd": "1.1e3", "ttv1": "4.0e3", "mp": "n/c", "digital": "—"}


def test_the_table_has_one_pulses_column_with_a_key_and_no_energy_column(outcomes):
    rows = report.summarize(outcomes, METRIC)
    table = report.markdown_table(rows)
    assert cells_of(table, "pulses") == {
        "ttv1": "4.0e3",
        "digital": "—",
        "sgd": "1.1e3",
        "mp": "n/c",
    }
    assert "energy" not in table.splitlines()[0]
    assert "n/c: not counted" in table and "—: no pulses recorded" in table


def test_energy_gets_a_column_only_where_every_run_of_a_row_declares_it(runs):
    cost = DeviceCost(energy_up=1e-12, energy_down=2e-12)
    sgd = runs[("ReRamSB", "sgd")]
    ttv1 = runs[("ReRamSB", "ttv1")]
    made = [outcome(run, scale=1.0 + run.seed, cost=cost) for run in sgd]
    made += [outcome(ttv1[0], cost=cost), outcome(ttv1[1])]  # one run without energy
    rows = {r.optimizer: r for r in report.summarize(made, METRIC)}
    # sgd: (600e-12 + 800e-12) at scale 1, twice that at scale 2
    assert rows["sgd"].energy_j == pytest.approx((1.4e-9 + 2.8e-9) / 2)
    assert rows["ttv1"].energy_j is None and rows["ttv1"].pulses is not None
    table = report.markdown_table(list(rows.values()))
    assert cells_of(table, "energy (J)") == {"sgd": "2.1e-9", "ttv1": "—"}


def test_without_a_counted_run_the_table_is_as_before(runs):
    made = [outcome(run) for key in (("ReRamSB", "mp"), ("floating point", "digital"))
            for run in runs[key]]  # fmt: skip
    rows = report.summarize(made, METRIC)
    header = report.markdown_table(rows).splitlines()[0]
    assert header == "| " + " | ".join(table_head(METRIC)) + " |"
    assert "pulses" not in header
    costs = device_cost.row_costs(made)
    assert device_cost.cost_markdown(costs, rows) == ""
    assert device_cost.cost_data(costs, rows) is None
    assert not pulse_plots.has_epoch_pulses(made, METRIC)


def test_the_device_cost_section_breaks_the_pulses_down_and_names_rows_not_counted(outcomes):
    rows = report.summarize(outcomes, METRIC)
    costs = device_cost.row_costs(outcomes)
    text = device_cost.cost_markdown(costs, rows)
    section = text.split("### Per array")[0]
    assert text.startswith("## Device cost") and "expected values" in text
    # ttv1's W is exact, its P is not: the row is not marked "(exact)"
    assert cells_of(section, "transfer") == {"ttv1": "3.3e3", "sgd": "0"}
    assert cells_of(section, "transfer reads") == {"ttv1": "40", "sgd": "0"}
    assert cells_of(section, "gradient") == {"ttv1": "660", "sgd": "1.1e3"}
    assert cells_of(section, "runs counted") == {"ttv1": "2/2", "sgd": "2/2"}
    assert f"- ReRamSB / mp: {WHY}" in text
    assert "floating point" not in text  # no device, nothing to say
    per_array = text.split("### Per array")[1]
    assert cells_of(per_array, "array") == {"ttv1": "W", "sgd": "—"}  # last of each
    assert per_array.count("| ttv1 |") == 2
    data = device_cost.cost_data(costs, rows)
    assert data is not None
    by_row = {r["optimizer"]: r for r in data["rows"]}
    assert by_row["ttv1"]["pulses_transfer"] == pytest.approx(3300.0)
    assert by_row["mp"]["pulses"] is None and by_row["mp"]["why"] == WHY
    assert [a["array"] for a in by_row["ttv1"]["arrays"]] == ["P", "W"]
    assert "<details>" in device_cost.cost_html(costs, rows)


def test_pulses_to_target_are_the_median_pulses_at_the_first_epoch_that_reached_it(outcomes):
    target, _ = ttt.choose_target(outcomes, METRIC, explicit=0.55)
    assert target is not None
    found = ttt.reaches(outcomes, target)
    ttv1, sgd = found[("ReRamSB", "ttv1")], found[("ReRamSB", "sgd")]
    # ttv1 reached it at epoch 1, after half its pulses (3600 and 4320 in all); sgd at epoch 2
    assert [r.pulses for r in ttv1.runs] == pytest.approx([1800.0, 2160.0])
    assert ttv1.pulses == pytest.approx(1980.0) and sgd.pulses == pytest.approx(1100.0)
    assert math.isnan(found[("ReRamSB", "mp")].pulses)  # reached, but not counted
    assert ttt.has_pulses(found)
    rows = report.summarize(outcomes, METRIC)
    head = ttt.detail_head(True)
    cells = {c[1]: c[head.index(ttt.PULSES_HEAD)] for c in ttt.detail_rows(rows, found, True)}
    assert cells == {"ttv1": "2.0e3", "digital": "—", "sgd": "1.1e3", "mp": "not counted"}
    assert ttt.detail_head() == ttt.DETAIL_HEAD  # without pulses, the table is as before
    data = ttt.time_to_target_data(outcomes, METRIC, explicit=0.55)
    by_row = {r["optimizer"]: r for r in data["rows"]}
    assert by_row["ttv1"]["pulses_to_target"] == pytest.approx(1980.0)
    assert by_row["mp"]["pulses_to_target"] is None
    assert [r["pulses"] for r in by_row["ttv1"]["runs"]] == pytest.approx([1800.0, 2160.0])


def test_a_counted_row_that_never_reached_the_target_says_so(outcomes):
    target, _ = ttt.choose_target(outcomes, METRIC, explicit=0.85)
    assert target is not None
    found = ttt.reaches(outcomes, target)
    assert math.isinf(found[("ReRamSB", "sgd")].pulses)  # counted, never reached
    assert found[("ReRamSB", "ttv1")].pulses == pytest.approx(3960.0)  # at epoch 2: the totals
    rows = report.summarize(outcomes, METRIC)
    cells = {c[1]: c[-2] for c in ttt.detail_rows(rows, found, True)}
    assert cells["sgd"] == "not reached" and cells["ttv1"] == "4.0e3"
    data = ttt.time_to_target_data(outcomes, METRIC, explicit=0.85)
    assert {r["optimizer"]: r["pulses_to_target"] for r in data["rows"]}["sgd"] is None


def test_the_figure_plots_each_rows_mean_metric_against_its_mean_pulses(outcomes, tmp_path):
    curves = {c.optimizer: c for c in pulse_plots.pulse_curves(outcomes, METRIC)}
    assert set(curves) == {"sgd", "ttv1"}  # mp not counted, digital fires nothing
    assert curves["sgd"].pulses == pytest.approx((550.0, 1100.0))
    assert curves["sgd"].values == pytest.approx((0.5, 0.7))
    path = pulse_plots.plot_metric_vs_pulses(outcomes, METRIC, tmp_path / "m.png", 0.85)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.with_suffix(".svg").is_file()


def test_load_pulses_has_one_row_per_run_and_array(outcomes, tmp_path):
    pytest.importorskip("pandas")
    with ResultsStore.in_folder(tmp_path) as store:
        for made in outcomes:
            store.record(made, "t")
    frame = api.load_pulses(tmp_path)
    assert list(frame.columns) == list(api.PULSE_COLUMNS)
    assert frame.groupby("optimizer").size().to_dict() == {"mp": 2, "sgd": 2, "ttv1": 4}
    assert set(frame["device"]) == {"ReRamSB"}  # the compared row's, not the array's class
    assert set(frame["array_device"]) == {"SoftBounds", "MixedPrec[SoftBounds]"}
    mp = frame[frame["optimizer"] == "mp"]
    assert not mp["counted"].any() and set(mp["why"]) == {WHY}
    runs = api.load_results(tmp_path).set_index("run_id")
    totals = frame[frame["counted"]].groupby("run_id")["total"].sum()
    assert runs.loc[totals.index, "pulses"].to_numpy() == pytest.approx(totals.to_numpy())
    assert runs[runs["optimizer"].isin(["mp", "digital"])]["pulses"].isna().all()
    assert len(api.pulse_records(outcomes)) == len(frame)


# -- one small real comparison -----------------------------------------------------------------


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """digits-mlp on ReRamSB with sgd, ttv1 and mp: one seed, two epochs (a few seconds)."""
    from aimc_plugins.api.comparison import compare

    out = tmp_path_factory.mktemp("pulses-compare")
    results = compare(
        recipe="digits-mlp",
        devices=["ReRamSB"],
        optimizers=["sgd", "ttv1", "mp"],
        seeds=1,
        epochs=2,
        out=out,
        workers=0,
        progress=False,
    )
    assert results.report is not None and results.counts["done"] == 3
    return out


def test_a_real_comparison_reports_its_pulses_everywhere(compared):
    pytest.importorskip("pandas")
    markdown = (compared / "results.md").read_text()
    column = cells_of(markdown, "pulses")
    assert column["mp"] == "n/c"
    for optimizer in ("sgd", "ttv1"):
        assert float(column[optimizer]) > 1e4, column  # a compact number, e.g. 1.1e6
    assert "## Device cost" in markdown and "- ReRamSB / mp: " in markdown
    arrays = api.load_pulses(compared)
    assert arrays.groupby("optimizer").size().to_dict() == {"mp": 2, "sgd": 2, "ttv1": 4}
    assert set(arrays[arrays["optimizer"] == "ttv1"]["array"]) == {"P", "W"}
    runs = api.load_results(compared).set_index("optimizer")
    totals = arrays.groupby("optimizer")["total"].sum()
    for optimizer in ("sgd", "ttv1"):
        assert runs.loc[optimizer, "pulses"] == pytest.approx(totals[optimizer], rel=1e-9)
    assert math.isnan(runs.loc["mp", "pulses"])
    epochs = api.load_epochs(compared)
    for optimizer in ("sgd", "ttv1"):
        pulses = epochs[(epochs["optimizer"] == optimizer) & (epochs["metric"] == "pulses")]
        assert list(pulses["epoch"]) == [1, 2]
        assert 0 < pulses["value"].iloc[0] < pulses["value"].iloc[1]
        assert pulses["value"].iloc[1] == pytest.approx(runs.loc[optimizer, "pulses"])
    assert (compared / pulse_plots.FIGURE_NAME).read_bytes()[:4] == b"\x89PNG"
    page = (compared / "report.html").read_text()
    assert "Device cost</h2>" in page and "against the pulses fired" in page


def test_a_real_comparisons_json_rows_carry_the_pulses(compared, tmp_path):
    result = CliRunner().invoke(
        cli, ["report", str(compared), "--out", str(tmp_path), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {r["optimizer"]: r for r in data["rows"]}
    runs = api.load_results(compared).set_index("optimizer")
    for optimizer in ("sgd", "ttv1"):
        assert rows[optimizer]["pulses"] == pytest.approx(runs.loc[optimizer, "pulses"])
        assert rows[optimizer]["pulses_device_max"] > 0
    assert rows["mp"]["pulses"] is None and "C++" in rows["mp"]["pulses_note"]
    cost = {r["optimizer"]: r for r in data["device_cost"]["rows"]}
    assert cost["ttv1"]["pulses_transfer"] > 0 and cost["sgd"]["pulses_transfer"] == 0
