"""matplotlib, headless, in one house style: every figure the project writes goes to a file, on
servers and in CI without a display, so the Agg backend is chosen before pyplot is first imported.

The style is for a slide or a paper column at the size the figure is saved: 10 pt text, ticks
and legends (nothing under :data:`MIN_FONT_PT`), PNG at :data:`PNG_DPI` and the same figure as
SVG beside it (text kept as text, so it can be edited and is sharp at any zoom). Figures are laid
out by matplotlib's constrained layout, which makes room for legends placed outside the axes
instead of warning, as ``tight_layout`` does, when a legend with dozens of entries does not fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PNG_DPI = 200
MIN_FONT_PT = 9.0

# Sizes in points at the saved size; SVG keeps them (72 user units per inch, 1 unit = 1 pt).
STYLE: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 12,
    "savefig.dpi": PNG_DPI,
    "svg.fonttype": "none",  # text stays text in the SVG
    "svg.hashsalt": "aimc-report",  # stable ids: the same figure writes the same file
}


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (imported on first use: the CLI starts faster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def style() -> Iterator[Any]:
    """pyplot with the report's fonts and sizes for the figures made inside the block."""
    plt = pyplot()
    with plt.rc_context(STYLE):
        yield plt


def save(fig: Any, path: Path) -> Path:
    """``path`` as PNG (:data:`PNG_DPI`) and the same figure as SVG beside it (``.svg``); closes
    the figure and returns the PNG's path. No date in either file, so a report written twice from
    the same runs is the same bytes."""
    plt = pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        # Lay out once (constrained layout is most of the cost of a 50-panel figure), then
        # draw the PNG and the SVG with that layout held.
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
        fig.savefig(path, dpi=PNG_DPI, metadata={"Software": None})
        fig.savefig(path.with_suffix(".svg"), metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return path


def svg_of(png: Path) -> Path:
    """The SVG :func:`save` wrote beside ``png``."""
    return Path(png).with_suffix(".svg")


def label_panels(axes: Any, used: int, ylabel: str) -> None:
    """A grid of panels filled row by row with ``used`` panels: the y label on the first
    column, the panels past ``used`` hidden."""
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in list(axes.flat)[used:]:
        ax.set_visible(False)


def figure_legend(fig: Any, axes: Any, loc: str, ncols: int | None = None, **options: Any) -> None:
    """One legend for the whole figure, outside the panels: every labelled artist of ``axes``
    once per label (panels share their devices), ``ncols`` at most as many as there are
    entries. Draws nothing when no artist is labelled."""
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        columns = len(handles) if ncols is None else min(ncols, len(handles))
        fig.legend(handles.values(), handles.keys(), loc=loc, ncols=columns, **options)
