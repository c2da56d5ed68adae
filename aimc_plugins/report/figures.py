"""matplotlib, headless: every figure the project writes goes to a file, on servers and in CI
without a display, so the Agg backend is chosen before pyplot is first imported."""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (imported on first use: the CLI starts faster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
