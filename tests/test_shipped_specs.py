"""Every spec the project ships plans: its devices, optimizers, options and budgets are known
here, so `aimc compare recipes/specs/NAME.toml` starts training instead of failing on a name."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimc_plugins.api.comparison import plan_comparison

SPECS = sorted((Path(__file__).resolve().parents[1] / "recipes" / "specs").glob("*.toml"))


def test_the_project_ships_its_specs() -> None:
    names = {path.stem for path in SPECS}
    assert {"device-cost", "theory-mixed", "theory-spread", "theory-demo"} <= names


@pytest.mark.parametrize("path", SPECS, ids=[path.stem for path in SPECS])
def test_a_shipped_spec_plans(path: Path) -> None:
    planned = plan_comparison(path)
    assert planned.runs and all(run.recipe == planned.runs[0].recipe for run in planned.runs)
