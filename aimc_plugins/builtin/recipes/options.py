"""Recipe options (``RunConfig.options``) checked against a schema, as device and optimizer
parameters are: a typo such as ``n_trian`` fails with the closest valid name instead of
silently training on the default."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aimc_plugins.host.records import Param, resolve_params

DEFAULT_DATA_DIR = "~/.cache/aimc/data"


def recipe_options(
    recipe: str, schema: Sequence[Param], given: Mapping[str, Any]
) -> dict[str, Any]:
    """``given`` overlaid on the schema's defaults, coerced and range-checked."""
    return resolve_params(f"recipe {recipe!r} option", schema, given)


def data_dir(value: str) -> Path:
    """The data folder an option names (``~`` expanded; the project default when empty)."""
    return Path(value or DEFAULT_DATA_DIR).expanduser()


class MissingResourceError(FileNotFoundError):
    """Data or pretrained weights a recipe needs are not on this machine (and downloading was
    not allowed): the message lists each missing item, where it was looked for, and how to get
    it."""
