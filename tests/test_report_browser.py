"""A real sweep's ``report.html`` rendered in headless Chromium, as a reader opens it: every
figure decodes and takes space on the page, the ranked table and the "Theory vs measurement"
section are there, the console shows no error and no request fails or leaves the file.

The sweep is conftest's ``theory_sweep`` (Analog SGD on three devices and the digital baseline,
one seed, one epoch of digits: shared with ``test_report_theory``); the browser is conftest's
``browser``: Selenium driving Debian's ``chromium`` through its ``chromedriver`` (why Selenium:
``tests/report_browser.py``), installed by ``scripts/install-browser.sh``, which ``make test``
runs first. Without them these tests are skipped with the reason, except under CI (``CI=true``),
where they fail. The checker is shown to catch a broken page: copies of the page with one
figure's data removed, pointing at a file that is not there, or without one figure at all."""

from __future__ import annotations

import re

import pytest
from conftest import THEORY_SWEEP_DEVICES
from report_browser import WINDOW, Rendered, render

from aimc_plugins.report.theory_page import TITLE as THEORY

ROWS = len(THEORY_SWEEP_DEVICES) + 1  # each device under sgd, and the digital baseline


def report_problems(rendered: Rendered, figures: int) -> list[str]:
    """Everything a reader would find wrong with a rendered report page that should show
    ``figures`` figures, a ranked table of :data:`ROWS` rows and the theory section."""
    problems = rendered.problems()
    if len(rendered.figures) != figures:
        problems.append(f"figures on the page: {len(rendered.figures)}, written: {figures}")
    if ("results", ROWS) not in rendered.tables:
        problems.append(f"no ranked table of {ROWS} rows: {rendered.tables}")
    if ("h2", "theory", THEORY) not in rendered.headings:
        problems.append(f"no {THEORY!r} section")
    if not any(f["name"] == THEORY and f["loaded"] for f in rendered.figures):
        problems.append(f"no {THEORY!r} figure")
    if rendered.size[0] > WINDOW[0]:
        problems.append(f"the page is {rendered.size[0]} px wide in a {WINDOW[0]} px window")
    return problems


def test_a_sweeps_report_shows_every_figure_the_table_and_the_theory_without_errors(
    browser, theory_sweep
):  # browser first: without one, the test skips (or fails in CI) before the sweep trains
    out, _ = theory_sweep
    written = sorted(out.glob("*.png"))  # every figure the report drew is on the page
    assert len(written) >= 5, written
    rendered = render(browser, out / "report.html")
    assert report_problems(rendered, len(written)) == []
    assert all(f["natural"][0] > 100 and f["rendered"][1] > 100 for f in rendered.figures)
    sections = [text for tag, _, text in rendered.headings if tag == "h2"]
    assert sections[:3] == ["Results", "Time to target", THEORY]


def _theory_image(page: str) -> str:
    found = re.search(rf"<img alt='{THEORY}'[^>]*src='(data:image/png;base64,[^']+)'", page)
    assert found, "no theory figure in the page"
    return found.group(1)


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        pytest.param(
            "data removed",
            [f"figure {THEORY!r} did not load (img)", f"no {THEORY!r} figure"],
            id="data-removed",
        ),
        pytest.param(
            "file not there",
            [
                f"figure {THEORY!r} did not load (img)",
                "console error: file://",  # Failed to load resource: net::ERR_FILE_NOT_FOUND
                "request failed: file://",
                "loaded from outside the file: file://",
                f"no {THEORY!r} figure",
            ],
            id="file-not-there",
        ),
        pytest.param(
            "figure removed",
            ["figures on the page: ", f"no {THEORY!r} figure"],
            id="figure-removed",
        ),
    ],
)
def test_the_checker_reports_a_figure_that_does_not_load(
    browser, theory_sweep, tmp_path, how, expected
):
    out, _ = theory_sweep
    page = (out / "report.html").read_text()
    image = _theory_image(page)
    if how == "data removed":
        page = page.replace(image, "data:image/png;base64,")
    elif how == "file not there":
        page = page.replace(image, "theory_vs_measurement_gone.png")
    else:
        figure = re.search(rf"<figure><h4>{THEORY}</h4>.*?</figure>", page)
        assert figure
        page = page.replace(figure.group(0), "")
    broken = tmp_path / "report.html"  # a copy: the shared sweep's page stays as it was
    broken.write_text(page)
    problems = report_problems(render(browser, broken), len(list(out.glob("*.png"))))
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), (problem, problems)
