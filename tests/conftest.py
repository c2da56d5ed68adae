"""Shared fixtures: a plugin manager that every test leaves as it found it, throwaway installed
distributions, a real tiny sweep with its report, and a headless browser."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aimc_plugins.host import plugins

# Distributions kept as test data (tests/data/old_plugin) carry their own tests, run by the test
# that installs them; collected here they would import a plugin that is not installed.
collect_ignore = ["data"]


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Reload plugins around a test that changes ``sys.path``, ``AIMC_PLUGINS`` or registrations."""
    yield
    monkeypatch.undo()
    plugins.reload_plugins()


def make_distribution(
    root: Path, dist: str, module: str, source: str, version: str = "0.1", entry_name: str = ""
) -> Path:
    """Write an installed-looking distribution (module + ``.dist-info`` with an ``aimc_plugins``
    entry point) under ``root``, the way pip lays one out in site-packages."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(
        f"[{plugins.ENTRY_POINT_GROUP}]\n{entry_name or module} = {module}\n"
    )
    return root


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None) -> Iterator:
    """Install throwaway distributions on ``sys.path`` for one test, then remove them."""
    site = tmp_path / "site"
    added: list[str] = []

    def install(dist: str, module: str, source: str, **kwargs: str) -> Path:
        make_distribution(site, dist, module, source, **kwargs)
        added.append(module)
        monkeypatch.syspath_prepend(str(site))
        return site

    yield install
    for module in added:
        sys.modules.pop(module, None)


def fake_sweep_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a sweep in a child process that sees the fast fake recipe
    (``sweep_fake_plugin.py``) as an installed plugin, with progress on its defaults."""
    site = make_distribution(
        tmp_path / "site",
        "fake-sweep",
        "fake_sweep_plugin",
        (Path(__file__).resolve().parent / "sweep_fake_plugin.py").read_text(),
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("AIMC_PLUGINS", None)
    env.pop("TQDM_DISABLE", None)
    return env


# --- a real (tiny) sweep and a real browser, each made once per session ------------------------

# Analog SGD on three devices: enough for the report's "Theory vs measurement" section.
THEORY_SWEEP_DEVICES = ["power(g=0.5, tau=0.7)", "power(g=2.0, tau=0.7)", "linear(c=0.3)"]


@pytest.fixture(scope="session")
def theory_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """Analog SGD on :data:`THEORY_SWEEP_DEVICES` and the digital baseline, one seed, one epoch
    of digits (about 5 s): ``(out folder, the written report)``. Shared by the tests that read
    its report (``test_report_theory``, ``test_report_browser``); none of them may change it."""
    from aimc_plugins.api.comparison import compare

    out = tmp_path_factory.mktemp("theory-sweep")
    results = compare(
        recipe="digits-mlp",
        devices=THEORY_SWEEP_DEVICES,
        optimizers=["sgd", "digital"],
        seeds=1,
        epochs=1,
        out=out,
        workers=0,
        progress=False,
    )
    assert results.report is not None
    return out, results.report


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


# Why the browser tests did not run, for the loud line at the end of the session.
_NO_BROWSER: list[str] = []


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (``tests/report_browser.py``: Selenium and Debian's
    chromedriver; ``scripts/install-browser.sh``, run by ``make test``, installs them).

    Without a browser the tests that need one are skipped with the reason on a developer's
    machine, and the session ends with a loud line saying so; under CI (``CI=true``), which
    must run them, they fail instead."""
    import report_browser

    why = report_browser.missing()
    if why and _in_ci():
        pytest.fail(f"CI=true and {why}: the report's browser tests must run in CI", pytrace=False)
    if why:
        _NO_BROWSER.append(why)
        pytest.skip(f"REPORT BROWSER TESTS NOT RUN: {why}")
    with report_browser.driver() as driver:
        yield driver


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _NO_BROWSER:
        terminalreporter.section("report browser tests NOT RUN", sep="!", red=True, bold=True)
        terminalreporter.line(f"skipped: {_NO_BROWSER[0]}", red=True, bold=True)
