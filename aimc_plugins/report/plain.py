"""JSON-safe values for the report's ``--json`` / ``Report.data()`` output.

Why one helper: JSON has no NaN or infinity, and the report meets both honestly (one finished run
has no spread, a row that never reached its target has no time, a correlation over tied values
has no rho). Each becomes ``None``, the same way in every section, inside dicts and lists too.
"""

from __future__ import annotations

import math
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth of dicts, lists, tuples) as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
