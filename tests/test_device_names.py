"""Device specs `name(k=v, ...)`: parsed without eval, errors that say what is wrong."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimc_plugins.devices.names import DeviceRef, DeviceRefError, parse_device_ref


def test_plain_name():
    spec = parse_device_ref("ReRamSB")
    assert spec.name == "ReRamSB" and spec.params == {}


def test_name_with_hyphens_and_empty_parentheses():
    assert parse_device_ref(" my-soft-bounds() ").name == "my-soft-bounds"


def test_parameters_are_literals():
    spec = parse_device_ref("power(tau=0.7, g=0.5, n_states=1200, label='x', on=True)")
    assert spec.name == "power"
    assert spec.params == {"tau": 0.7, "g": 0.5, "n_states": 1200, "label": "x", "on": True}
    assert str(spec) == "power(tau=0.7, g=0.5, n_states=1200, label='x', on=True)"


def test_negative_and_scientific_values():
    assert parse_device_ref("linear(c=-0.2, dw=1e-4)").params == {"c": -0.2, "dw": 1e-4}


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
    with pytest.raises(DeviceRefError, match=message):
        parse_device_ref(text)


@pytest.mark.parametrize(
    "text", ["power(g=1), exponential(g=1)", "power(tau=0.7)(g=1)", "power(g=1).x(g=3)"]
)
def test_anything_but_one_call_is_rejected_not_half_read(text):
    with pytest.raises(DeviceRefError, match="expected one NAME"):
        parse_device_ref(text)


_values = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.text(max_size=12),
)


@given(
    name=st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,15}", fullmatch=True),
    params=st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), _values),
)
def test_spec_text_round_trips(name, params):
    """Whatever str() of a spec writes, the parser reads back the same (commas and quotes in
    strings included)."""
    params = {k: v for k, v in params.items() if not keyword.iskeyword(k)}
    spec = DeviceRef(name, params)
    assert parse_device_ref(str(spec)) == spec
