"""The report as a researcher puts it in a paper: what was run, the separation of the results
spelled out, figures as SVG and PNG in readable sizes with legends off the data, the symmetric
point on response curves, the metric against a device parameter of a grid, and a page that is
self-contained (parsed here, and rendered in headless Chromium: conftest's ``browser``).

Every outcome is fabricated (no training), so these tests take seconds."""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from click.testing import CliRunner
from report_browser import render

from aimc_plugins.cli.main import cli
from aimc_plugins.host import plugins
from aimc_plugins.report import figures, grid, plots, provenance
from aimc_plugins.report import summary as report
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training.identity import PlannedRun, device_label
from aimc_plugins.training.run import DONE, RunOutcome

VERSIONS = {
    "python": "3.11.7",
    "torch": "2.10.0",
    "aihwkit": "1.1.0",
    "aimc-plugins": "0.1.0",
    "plugin:paper_devices": "aimc-paper-devices 0.1.0",
    "machine": "lab-box, 16 CPUs, Linux-6.1-x86_64",
    "deterministic": "yes",
}
# The shape of recipes/specs/paper-mnist.toml with a g grid for the power device: accuracy
# (mean over seeds) per optimizer, device family and g.
PAPER = {
    ("sgd", "power", 0.5): 0.46,
    ("sgd", "power", 1.0): 0.30,
    ("sgd", "power", 2.0): 0.21,
    ("sgd", "exponential", 1.0): 0.23,
    ("tiki-taka", "power", 0.5): 0.87,
    ("tiki-taka", "power", 1.0): 0.80,
    ("tiki-taka", "power", 2.0): 0.73,
    ("tiki-taka", "exponential", 1.0): 0.85,
}
SEEDS = (0, 1, 2)


def finished(run: PlannedRun, accuracy: float, status: str = DONE, duration: float = 30.0):
    history = tuple({"epoch": e, "test_accuracy": accuracy * e / 3} for e in (1, 2, 3))
    final = {"test_accuracy": accuracy if status == DONE else math.nan}
    return RunOutcome(run, status, history, final, versions=VERSIONS, duration_s=duration)


def paper_outcomes(extra_devices: tuple[str, ...] = ()) -> list[RunOutcome]:
    """The paper-mnist shape (power g in {0.5, 1, 2}, exponential g = 1, tau 0.7, under sgd
    and Tiki-Taka, a digital baseline), 3 seeds each, with seed offsets of -0.01, 0, +0.01."""
    outcomes = []
    for (optimizer, family, g), accuracy in PAPER.items():
        params = {"g": g, "tau": 0.7}
        for seed in SEEDS:
            run = PlannedRun(
                "mnist-fcn",
                device_label(family, params),
                "sgd" if optimizer == "sgd" else "ttv1",
                seed,
                3,
                params={"lr": 0.2} if optimizer == "sgd" else {"alpha": 0.1, "beta": 0.05},
                device_name=family,
                device_params=params,
                options={"n_train": 4000, "source": "sample"},
                periphery="paper",
                optimizer_label="" if optimizer == "sgd" else "tiki-taka",
            )
            outcomes.append(finished(run, accuracy + 0.01 * (seed - 1)))
    for seed in SEEDS:
        run = PlannedRun(
            "mnist-fcn", "floating point", "digital", seed, 3, params={"lr": 0.1},
            options={"n_train": 4000, "source": "sample"}, periphery="paper",
        )  # fmt: skip
        outcomes.append(finished(run, 0.83 + 0.005 * seed))
    for index, name in enumerate(extra_devices):
        for seed in SEEDS:
            run = PlannedRun(
                "mnist-fcn", name, "sgd", seed, 3, params={"lr": 0.2}, device_name=name
            )
            outcomes.append(finished(run, 0.3 + 0.005 * index + 0.01 * seed))
    return outcomes


def store_times(outcomes, sweep="paper-mnist", start=1_800_000_000.0, step=40.0):
    return {o.run.run_id: (sweep, start + i * step) for i, o in enumerate(outcomes)}


# --- what was run -----------------------------------------------------------------------------


def test_the_report_says_what_was_run_and_is_titled_by_the_sweep(tmp_path):
    outcomes = paper_outcomes()
    times = store_times(outcomes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no layout or font warnings from any figure
        paths = report.write_report(outcomes, tmp_path, "test_accuracy", run_times=times)
    page = (tmp_path / "report.html").read_text()
    assert "<title>paper-mnist</title>" in page and "<h1>paper-mnist</h1>" in page
    assert tmp_path.name not in re.search(r"<h1>(.*?)</h1>", page).group(1)
    setup = page[page.index("What was run</h2>") :]
    for expected in (
        "mnist-fcn",
        "epochs per run</th><td>3</td>",
        "0, 1, 2 (3 per configuration)",
        "periphery profile</th><td>paper</td>",
        "n_train=4000, source=&#x27;sample&#x27;",
        "alpha=0.1, beta=0.05",  # Tiki-Taka's hyper-parameters
        "lr=0.2",
        "ttv1",  # the algorithm behind the label tiki-taka
        "torch</th><td>2.10.0",
        "aihwkit</th><td>1.1.0",
        "plugin:paper_devices",
        "lab-box, 16 CPUs, Linux-6.1-x86_64",
        "final test_accuracy (higher is better)",
    ):
        assert expected in setup, expected
    first, last = min(t for _, t in times.values()), max(t for _, t in times.values())
    day = dt.datetime.fromtimestamp(first, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    end = dt.datetime.fromtimestamp(last, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert f"{day} to {end}" in setup
    total = 30.0 * len(outcomes)  # every fabricated run took 30 s
    assert provenance.duration(total) in setup and provenance.duration(total) == "13 min 30 s"
    span = last - (first - 30.0)
    assert provenance.duration(span) in setup
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.startswith("# paper-mnist: test_accuracy")
    assert "## What was run" in markdown and "lab-box, 16 CPUs" in markdown
    assert "![Final test accuracy against g, per optimizer](metric_vs_g.svg)" in markdown
    assert {p.name for p in paths} >= {"metric_vs_g.png", "metric_vs_g.svg", "responses.svg"}


def test_runs_that_disagree_are_listed_with_their_counts_and_missing_facts_said_so():
    outcomes = paper_outcomes()
    older = [
        RunOutcome(o.run, o.status, o.history, o.final, versions={"python": "3.11.7"})
        for o in outcomes[:3]
    ]
    info = provenance.describe(older + outcomes[3:])
    software = dict(info.software)
    assert software["torch"] == "2.10.0"  # the three older runs did not record torch
    assert dict(info.machine)["runs trained on"] == (
        "lab-box, 16 CPUs, Linux-6.1-x86_64 (24 runs); not recorded (3 runs)"
    )
    assert dict(info.timing)["runs finished"] == "not recorded (no results store)"
    assert info.title == "Comparison on mnist-fcn"  # no store, no sweep name
    assert provenance.sweep_title({"a": ("flags", 1.0)}) is None  # flags name nothing


def test_durations_read_as_a_person_writes_them():
    assert provenance.duration(19.54) == "19.5 s"
    assert provenance.duration(607) == "10 min 07 s"
    assert provenance.duration(3720) == "1 h 02 min"


def test_aimc_report_takes_its_title_and_dates_from_the_store(tmp_path):
    outcomes = paper_outcomes()
    with ResultsStore.in_folder(tmp_path) as store:
        for outcome in outcomes:
            store.record(outcome, "paper-mnist")
        times = store.run_times()
    assert set(times) == {o.run.run_id for o in outcomes}
    assert {sweep for sweep, _ in times.values()} == {"paper-mnist"}
    result = CliRunner().invoke(cli, ["report", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert "<h1>paper-mnist</h1>" in page and "runs finished" in page
    assert "not recorded (no results store)" not in page
    titled = CliRunner().invoke(cli, ["report", str(tmp_path), "--title", "Table 2"])
    assert titled.exit_code == 0 and "<h1>Table 2</h1>" in (tmp_path / "report.html").read_text()


# --- separation ---------------------------------------------------------------------------


def test_the_page_says_what_the_letters_mean_and_which_rows_the_best_is_separated_from(tmp_path):
    outcomes = paper_outcomes()
    report.write_report(outcomes, tmp_path, "test_accuracy")
    rows = report.summarize(outcomes, "test_accuracy")
    lines = report.separation_summary(rows)
    best = rows[0]
    assert (best.device, best.optimizer) == ("power(g=0.5, tau=0.7)", "tiki-taka")
    apart = [r for r in rows[1:] if report.separated(r, best)]
    tied = [r for r in rows[1:] if not report.separated(r, best)]
    # 0.85 ± 0.01 (exponential, Tiki-Taka) overlaps 0.87 ± 0.01; 0.80 does not
    assert {r.device for r in tied} >= {"exponential(g=1.0, tau=0.7)"}
    assert "power(g=1.0, tau=0.7) / tiki-taka" in lines[1] and lines[1].startswith("Separated")
    assert all(f"{r.device} / {r.optimizer}" in lines[1] for r in apart)
    assert all(f"{r.device} / {r.optimizer}" in lines[2] for r in tied)
    page = (tmp_path / "report.html").read_text()
    assert "How to read the group column" in page and "share a letter are not" in page
    assert page.count("<tr class='separated'>") == len(apart)
    assert page.count("<tr class='tied'>") == len(tied)


# --- the metric against a device parameter ---------------------------------------------------


def test_a_grid_in_g_gives_one_panel_per_optimizer_and_one_line_per_family(tmp_path):
    outcomes = paper_outcomes()
    assert grid.varied_parameters(outcomes) == ["g"]  # tau is 0.7 everywhere
    g = grid.parameter_grid(outcomes, "g", "test_accuracy")
    assert g.optimizers == ["sgd", "tiki-taka"]
    lines = {(line.optimizer, line.label): line for line in g.lines}
    power = lines[("sgd", "power")]
    assert [p.x for p in power.points] == [0.5, 1.0, 2.0]
    assert [p.mean for p in power.points] == pytest.approx([0.46, 0.30, 0.21])
    assert all(p.n == 3 for p in power.points)
    # three seeds 0.01 apart: std 0.01, t(0.975, 2) = 4.3027 -> half-width 0.0248
    assert power.points[0].ci_high - power.points[0].mean == pytest.approx(0.0248, abs=1e-4)
    exponential = lines[("tiki-taka", "exponential")]
    assert [(p.x, round(p.mean, 6)) for p in exponential.points] == [(1.0, 0.85)]
    ((name, baseline),) = g.baselines
    assert name == "digital" and baseline.mean == pytest.approx(0.835)
    path = grid.plot_grid(g, tmp_path)
    assert path.name == "metric_vs_g.png" and figures.svg_of(path).exists()
    fig = grid.grid_figure(g)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["sgd", "tiki-taka"]
    assert_readable_and_uncovered(fig)


def test_no_grid_figure_without_a_varied_parameter(tmp_path):
    outcomes = [o for o in paper_outcomes() if o.run.device_params.get("g") != 0.5]
    outcomes = [o for o in outcomes if o.run.device_params.get("g") in (None, 1.0)]
    assert grid.varied_parameters(outcomes) == []
    report.write_report(outcomes, tmp_path, "test_accuracy")
    assert not list(tmp_path.glob("metric_vs_*"))
    assert "against g" not in (tmp_path / "report.html").read_text()


def test_a_grid_over_two_parameters_draws_a_line_per_setting_of_the_other():
    outcomes = []
    for tau in (0.6, 0.7):
        for g in (1.0, 2.0):
            params = {"g": g, "tau": tau}
            run = PlannedRun("r", device_label("exponential", params), "sgd", 0, 1,
                             device_name="exponential", device_params=params)  # fmt: skip
            outcomes.append(finished(run, 0.5 + g / 10 + tau))
    assert grid.varied_parameters(outcomes) == ["g", "tau"]
    by_g = grid.parameter_grid(outcomes, "g", "test_accuracy")
    assert sorted(line.label for line in by_g.lines) == [
        "exponential (tau=0.6)",
        "exponential (tau=0.7)",
    ]
    assert grid.file_stem("tau") == "metric_vs_tau" and grid.file_stem("a b/c") == "metric_vs_a_b_c"


# --- figures: sizes, fonts, legends ---------------------------------------------------------


def _visible_texts(fig):
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def assert_readable_and_uncovered(fig):
    """Every text at least MIN_FONT_PT at the saved size and inside the figure; every legend
    outside every axes (it covers no data)."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for text in _visible_texts(fig):
        assert text.get_fontsize() >= figures.MIN_FONT_PT, (text.get_text(), text.get_fontsize())
    drawn = fig.get_tightbbox(renderer)  # inches; only what is drawn (ticks in view)
    width, height = fig.get_size_inches()
    assert drawn.x0 >= -0.02 and drawn.y0 >= -0.02, drawn  # nothing cut off
    assert drawn.x1 <= width + 0.02 and drawn.y1 <= height + 0.02, (drawn, width, height)
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                assert not box.overlaps(ax.get_window_extent(renderer)), "legend over data"


def many_devices(count):
    return tuple(f"device-{i:02d}" for i in range(count))


def test_53_entries_lay_out_without_warnings_and_with_readable_fonts(tmp_path):
    outcomes = paper_outcomes(many_devices(45))  # 8 paper settings + 45 = 53 devices + digital
    rows = report.summarize(outcomes, "test_accuracy")
    assert len(rows) == 54
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fig in (
            plots.learning_curves_figure(outcomes, "test_accuracy"),
            plots.final_bars_figure(rows),
        ):
            assert_readable_and_uncovered(fig)
            figures.pyplot().close(fig)
        png = plots.plot_final_bars(rows, tmp_path / "final_metric.png")
    assert_saved_for_slides(png)


def assert_saved_for_slides(png: Path):
    from PIL import Image

    with Image.open(png) as image:
        assert min(image.info["dpi"]) >= 199.9  # stored as pixels per metre: 199.9994
    svg = ElementTree.parse(figures.svg_of(png)).getroot()
    sizes = [
        float(size)
        for node in svg.iter()
        for size in re.findall(r"font(?:-size)?:\s*([\d.]+)px", node.get("style", ""))
    ]
    sizes += [
        float(m)
        for node in svg.iter()
        for m in re.findall(r"^([\d.]+)px", node.get("font-size", "") or "")
    ]
    assert sizes and min(sizes) >= figures.MIN_FONT_PT, sorted(set(sizes))


def test_responses_mark_the_symmetric_point_and_are_normalised_alike(tmp_path):
    names = ["ReRamSB", "PCM", "Idealized"]
    outcomes = paper_outcomes(tuple(names))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.responses_figure(outcomes)
    titles = {ax.get_title().split("\n")[0]: ax.get_title() for ax in fig.axes}
    # PCM's range is [0, 2] with w* = 0.5, as `aimc show PCM` finds it
    assert "w*=0.5" in titles["PCM"]
    assert "q+ = q- on a span" in titles["Idealized"]  # symmetric everywhere: no single w*
    pcm = next(ax for ax in fig.axes if ax.get_title().startswith("PCM"))
    marks = [line.get_xdata()[0] for line in pcm.get_lines() if line.get_linestyle() == "--"]
    assert marks == [pytest.approx(0.5, abs=1e-3)]
    assert all(
        ax.get_ylabel() == "step / largest step"
        for ax in fig.axes
        if ax.get_subplotspec().is_first_col()
    )
    assert_readable_and_uncovered(fig)
    png = plots.plot_responses(outcomes, tmp_path / "responses.png")
    assert_saved_for_slides(png)


@pytest.mark.parametrize(
    ("name", "params"),
    [("ReRamSB", {}), ("PCM", {}), ("EcRam", {}), ("power", {"g": 2.0, "tau": 0.7})],
)
def test_the_symmetric_point_agrees_with_aimc_show(name, params):
    from aimc_plugins.devices.build import device_response
    from aimc_plugins.devices.diagnostics import diagnose

    record = plugins.devices().get(name)
    if record is None:
        pytest.skip(f"{name} is not registered (aimc-paper-devices not installed)")
    curve = plots.response_curve(name, params, "sgd")
    expected = diagnose(device_response(record, params)).symmetric_points
    assert curve.symmetric_points == pytest.approx(expected, abs=1e-3)
    top = max(curve.q_up.max(), curve.q_down.max())
    assert top == pytest.approx(1.0) and min(curve.q_up.min(), curve.q_down.min()) >= 0


def test_a_measured_response_is_normalised_like_a_declared_one_and_crosses_where_it_does():
    declared = plots.response_curve("ReRamSB", {}, "sgd")
    measured = plots._measured_response(plots._unit_device("ReRamSB", {}, "sgd"))
    assert declared.source == "aihwkit params" and measured.source == "measured"
    assert max(measured.q_up.max(), measured.q_down.max()) == pytest.approx(1.0)
    (root,) = measured.symmetric_points
    span = measured.w_up.max() - measured.w_up.min()
    assert root == pytest.approx(declared.symmetric_points[0], abs=0.02 * span)
    # the mean device, every time: no element drawn from aihwkit's clock-seeded generator
    again = plots._measured_response(plots._unit_device("ReRamSB", {}, "sgd"))
    assert (again.q_up == measured.q_up).all() and (again.q_down == measured.q_down).all()


def test_symmetric_points_of_sampled_curves():
    w = np.linspace(-1, 1, 201)
    roots, stable, span = plots.symmetric_points(w, 1 - (w - 0.3) / 2, 1 + (w - 0.3) / 2)
    assert roots == pytest.approx((0.3,)) and stable == roots and span is None
    roots, stable, span = plots.symmetric_points(w, 1 + w / 2, 1 - w / 2)  # G falls: unstable
    assert roots == pytest.approx((0.0,), abs=1e-12) and stable == () and span is None
    assert plots.symmetric_points(w, np.ones_like(w), np.ones_like(w)) == ((), (), (-1.0, 1.0))
    assert plots.symmetric_points(w, np.ones_like(w), 2 * np.ones_like(w))[:2] == ((), ())


def test_show_titles_its_figure_with_the_device_and_its_parameters(tmp_path, monkeypatch):
    if plugins.devices().get("power") is None:
        pytest.skip("the power device comes from aimc-paper-devices, not installed")
    from matplotlib.figure import Figure

    titles = []
    save = Figure.savefig

    def spy(self, *args, **kwargs):
        titles.append(self.get_suptitle())
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    args = ["show", "power(tau=0.7, g=0.5)", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert titles == ["power(g=0.5, tau=0.7)"]


# --- a self-contained page ---------------------------------------------------------------------


class _Resources(HTMLParser):
    """Every URL the page refers to (src, href, CSS url(...)) and every embedded image."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href", "srcset", "data", "poster", "action") and value:
                self.urls.append(value)
            if key == "style" and value:
                self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", value)

    def handle_data(self, data):
        self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)
        self.urls += re.findall(r"@import\s+['\"]([^'\"]+)", data)


def assert_self_contained(page: str) -> list[bytes]:
    """No URL leaves the file (only ``data:`` and ``#`` fragments); returns the embedded images,
    each checked to decode."""
    from PIL import Image

    parser = _Resources()
    parser.feed(page)
    outside = [u for u in parser.urls if not (u.startswith("data:") or u.startswith("#"))]
    assert outside == [], outside
    assert "script" not in parser.tags and "link" not in parser.tags and "iframe" not in parser.tags
    images = []
    for url in parser.urls:
        if url.startswith("data:image/png;base64,"):
            data = base64.b64decode(url.split(",", 1)[1], validate=True)
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # decodes every pixel, not only the header
                assert image.size[0] > 100 and image.size[1] > 100
            images.append(data)
    return images


@pytest.fixture(scope="module")
def paper_page(tmp_path_factory) -> Path:
    """The paper shape's report.html with ReRamSB added (written once for the two tests)."""
    out = tmp_path_factory.mktemp("paper-page")
    outcomes = paper_outcomes(("ReRamSB",))
    report.write_report(outcomes, out, "test_accuracy", run_times=store_times(outcomes))
    return out / "report.html"


def test_the_page_loads_nothing_from_outside_and_every_image_decodes(paper_page):
    page = paper_page.read_text()
    images = assert_self_contained(page)
    # bars, time to target, accuracy against g, curves, responses, and theory vs measurement
    # (sgd ran on the four paper devices and ReRamSB)
    assert len(images) == 6
    assert page.count("<table") >= 5  # results, settings, configurations, software, machine


def test_the_page_renders_in_headless_chromium_with_nothing_loaded_from_outside(
    paper_page, browser
):
    rendered = render(browser, paper_page)  # conftest's browser, or skipped without one
    assert rendered.problems() == []  # every figure decoded and drawn, no error, no request
    assert len(rendered.figures) == 6  # as above
    assert all(f["natural"][0] > 100 and f["natural"][1] > 100 for f in rendered.figures)
    assert len(rendered.tables) >= 5
    assert ("h2", "setup", "What was run") in rendered.headings
    assert rendered.headings[0] == ("h1", "", "paper-mnist")
