"""The plugin API is a contract: its snapshot per version (tests/api_snapshot.py), one version
number, and a changelog that names every change."""

from __future__ import annotations

import json
import tomllib

import api_snapshot
import pytest

import aimc_plugins
from aimc_plugins.host.version import VERSION


def test_the_plugin_api_matches_its_snapshot():
    """On failure: name the change in CHANGELOG.md, bump the version if the current one is
    released, then run `.venv/bin/python -m tests.api_snapshot --write`."""
    assert api_snapshot.problems() == []


def test_the_version_is_one_number():
    project = tomllib.loads((api_snapshot.REPO / "pyproject.toml").read_text())["project"]
    assert aimc_plugins.__version__ == VERSION == project["version"]


def test_the_snapshot_holds_hooks_records_and_names():
    now = api_snapshot.surface()
    assert now["hooks"]["register_devices"] == ["register"]
    assert now["hooks"]["run_started"] == ["tracker", "event"]
    assert "search=" in now["records"]["Param"]["fields"]
    assert "split=" in now["records"]["RunConfig"]["fields"]
    assert "validation_metric" in now["records"]["Recipe"]["members"]
    assert {"SearchRange", "TEST_SPLIT", "VALIDATION_SPLIT", "SPLITS"} <= set(now["records_module"])
    assert "__version__" in now["public_names"]


def test_a_change_fails_and_says_what_to_do(monkeypatch):
    real = api_snapshot.surface()
    changed = {**real, "hooks": {**real["hooks"], "register_datasets": ["register"]}}
    monkeypatch.setattr(api_snapshot, "surface", lambda: changed)
    [problem] = api_snapshot.problems()
    assert "register_datasets(register)" in problem and "added" in problem
    assert api_snapshot.WRITE_COMMAND in problem and "CHANGELOG.md" in problem


def test_a_change_since_the_previous_version_must_be_in_the_changelog(tmp_path, monkeypatch):
    previous = api_snapshot.surface()
    previous = {**previous, "public_names": [*previous["public_names"], "old_helper"]}
    (tmp_path / "0.1.9.json").write_text(json.dumps(previous))
    monkeypatch.setattr(api_snapshot, "SNAPSHOTS", tmp_path)
    assert api_snapshot.unexplained(api_snapshot.surface(), VERSION) == ["old_helper"]


@pytest.mark.parametrize("heading", ["## [0.2.0] - unreleased", "## [0.2.0] - 2027-01-05"])
def test_a_released_version_is_recognised_by_its_date(heading):
    assert api_snapshot.released(heading) is heading.endswith("05")


def test_the_changelog_keeps_a_changelog_shape():
    text = api_snapshot.CHANGELOG.read_text()
    assert text.startswith("# Changelog")
    _heading, section = api_snapshot.changelog_section(VERSION)
    for part in ("### Added", "### Changed", "### Deprecated"):
        assert part in section
    assert "Tuned comparisons: `aimc compare --tune N`" in section
    assert api_snapshot.changelog_section("0.1.0") is not None  # the layered release, after
