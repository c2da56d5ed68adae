"""Hyper-parameter schemas: coercion, ranges and helpful errors."""

from __future__ import annotations

import pytest

from aimc_plugins.host.records import Param, ParameterError, resolve_params

SCHEMA = (
    Param("lr", 0.1, "learning rate", low=0.0, low_inclusive=False),
    Param("steps", 10, "transfer every n steps", low=1),
    Param("chop", True, "chopping on"),
    Param("mode", "a", "mode", choices=("a", "b")),
)


def test_defaults_and_cli_strings_are_coerced():
    assert resolve_params("opt", SCHEMA, {}) == {"lr": 0.1, "steps": 10, "chop": True, "mode": "a"}
    got = resolve_params("opt", SCHEMA, {"lr": "0.05", "steps": "3", "chop": "false"})
    assert got["lr"] == 0.05 and got["steps"] == 3 and got["chop"] is False


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"lr": 0}, "lr=0.0 is below its valid range (0, inf]"),
        ({"lr": "nan"}, "must be finite"),
        ({"steps": 0}, "below its valid range [1, inf]"),
        ({"steps": "x"}, "'x' is not a valid int"),
        ({"mode": "c"}, "is not one of ['a', 'b']"),
        ({"chop": "maybe"}, "not a valid bool"),
        ({"lrr": 1}, "has no parameter 'lrr'; did you mean 'lr'?"),
    ],
)
def test_bad_values_are_rejected_with_the_reason(given, message):
    with pytest.raises(ParameterError) as info:
        resolve_params("optimizer 'x'", SCHEMA, given)
    assert message in str(info.value)
    assert "optimizer 'x'" in str(info.value)
