"""Device names with parameters, as typed on a command line or in a spec:
``power(tau=0.7, g=0.5, n_states=1200)``.

The arguments are parsed with :mod:`ast` and each value with :func:`ast.literal_eval`, so a spec
can hold numbers, strings, booleans and None but can never run code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

_SPEC = re.compile(r"^\s*(?P<name>[^()]*?)\s*(?:\((?P<args>.*)\))?\s*$", re.DOTALL)


class DeviceRefError(ValueError):
    """A device reference that cannot be parsed."""


@dataclass(frozen=True)
class DeviceRef:
    """A parsed ``name(k=v, ...)``."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.params:
            return self.name
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"


def parse_device_ref(text: str) -> DeviceRef:
    """Split ``text`` into a device name and keyword parameters.

    Names may contain anything but parentheses (``my-soft-bounds`` is fine); parameters must be
    keyword arguments with literal values.
    """
    match = _SPEC.match(text)
    if match is None:
        raise DeviceRefError(f"cannot parse device {text!r}: unbalanced parentheses")
    name, args = match["name"], match["args"]
    if not name:
        raise DeviceRefError(f"cannot parse device {text!r}: no name before '('")
    if args is None or not args.strip():
        return DeviceRef(name)
    try:
        call = ast.parse(f"_({args})", mode="eval").body
    except SyntaxError as exc:
        raise DeviceRefError(f"cannot parse the parameters of {text!r}: {exc.msg}") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "_"):
        # e.g. "power(g=1), exp(g=1)" parses as a tuple, "power(g=1)(g=2)" as a nested call
        raise DeviceRefError(
            f"cannot parse device {text!r}: expected one NAME(key=value, ...), "
            "one device per reference"
        )
    if call.args:
        raise DeviceRefError(
            f"device {text!r}: parameters must be named, as in {name}(tau=0.7); "
            f"got {len(call.args)} positional"
        )
    params: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise DeviceRefError(f"device {text!r}: '**' is not allowed")
        if keyword.arg in params:
            raise DeviceRefError(f"device {text!r}: parameter {keyword.arg!r} given twice")
        try:
            params[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            source = ast.get_source_segment(f"_({args})", keyword.value) or "?"
            raise DeviceRefError(
                f"device {text!r}: {keyword.arg}={source} is not a literal value"
            ) from None
    return DeviceRef(name, params)
