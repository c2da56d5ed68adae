"""What every command module shares: ``NAME=VALUE`` parsing, ``--json`` and plain tables. Kept
apart so that command plugins depend on this module, not on each other."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """Left-aligned plain-text columns; the last column is allowed to run long."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    click.echo(line.format(*headers))
    for row in rows:
        click.echo(line.format(*row))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def parse_params(items: Sequence[str]) -> dict[str, str]:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--param")
        params[key.strip()] = value.strip()
    return params


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
