"""Device specs `name(k=v, ...)`: parsed without eval, errors that say what is wrong."""

from __future__ import annotations

import pytest

from aimc_plugins.device_spec import DeviceSpecError, parse_device_spec


def test_plain_name():
    spec = parse_device_spec("ReRamSB")
    assert spec.name == "ReRamSB" and spec.params == {}


def test_name_with_hyphens_and_empty_parentheses():
    assert parse_device_spec(" my-soft-bounds() ").name == "my-soft-bounds"


def test_parameters_are_literals():
    spec = parse_device_spec("power(tau=0.7, g=0.5, n_states=1200, label='x', on=True)")
    assert spec.name == "power"
    assert spec.params == {"tau": 0.7, "g": 0.5, "n_states": 1200, "label": "x", "on": True}
    assert str(spec) == "power(tau=0.7, g=0.5, n_states=1200, label='x', on=True)"


def test_negative_and_scientific_values():
    assert parse_device_spec("linear(c=-0.2, dw=1e-4)").params == {"c": -0.2, "dw": 1e-4}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("power(0.7)", "must be named"),
        ("power(tau=__import__('os').getcwd())", "not a literal value"),
        ("power(tau=0.7, tau=0.8)", "given twice"),
        ("power(tau=)", "cannot parse the parameters"),
        ("power(**{'tau': 1})", "'\\*\\*' is not allowed"),
        ("(tau=1)", "no name"),
        ("power(tau=1", "unbalanced"),
    ],
)
def test_bad_specs(text, message):
    with pytest.raises(DeviceSpecError, match=message):
        parse_device_spec(text)
