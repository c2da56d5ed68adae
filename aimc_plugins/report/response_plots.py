"""PNG figures for ``aimc show`` (q+, q-, F, G with the symmetric point) and ``aimc characterize``
(measured against declared steps), in the report's style (:mod:`.figures`). Kept apart from the
numerics so those import no matplotlib."""

from __future__ import annotations

from pathlib import Path

from aimc_plugins.devices.characterize import Characterization
from aimc_plugins.devices.diagnostics import Diagnostics
from aimc_plugins.report.figures import PNG_DPI, pyplot, style


def plot_diagnostics(diag: Diagnostics, path: Path, title: str | None = None) -> Path:
    """Left: q+ and q-; right: F and G, each symmetric point marked with a vertical line.

    ``title`` names the device as the user gave it, parameters included
    (``power(g=0.5, tau=0.7)``): ``diag.name`` is the family alone, and two settings of one
    family would otherwise draw under the same title."""
    name = title or diag.name
    plt = pyplot()
    with style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
        left.plot(diag.w, diag.q_up, label="q+ (up)")
        left.plot(diag.w, diag.q_down, label="q- (down)")
        left.set(xlabel="w", ylabel="step / dw_min", title="response")
        right.plot(diag.w, diag.F, label="F = (q- + q+) / 2")
        right.plot(diag.w, diag.G, label="G = (q- - q+) / 2")
        right.axhline(0.0, color="grey", linewidth=0.5)
        right.set(xlabel="w", title=f"asymmetry max|G/sqrt F| = {diag.asymmetry:.3g}")
        for axis in (left, right):
            for root in diag.symmetric_points:
                stable = root in diag.stable_points
                axis.axvline(
                    root,
                    color="black",
                    linestyle="--" if stable else ":",
                    linewidth=1,
                    label=f"w* = {root:.3g}" + ("" if stable else " (unstable)"),
                )
            axis.legend(loc="upper left", bbox_to_anchor=(0.0, -0.18), ncols=2, frameon=False)
        fig.suptitle(name)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=PNG_DPI)
    plt.close(fig)
    return path


def plot_characterization(char: Characterization, path: Path) -> Path:
    """Declared q+- as lines, measured single-pulse steps as dots (with their spread if noisy)."""
    plt = pyplot()
    with style():
        fig, axis = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
        for label, declared, measured, spread in (
            ("up", char.declared_up, char.measured_up, char.spread_up),
            ("down", char.declared_down, char.measured_down, char.spread_down),
        ):
            (line,) = axis.plot(char.w, declared, label=f"q {label} (declared)")
            if spread is not None:
                axis.fill_between(
                    char.w, measured - spread, measured + spread, color=line.get_color(), alpha=0.2
                )
            axis.plot(char.w, measured, ".", color=line.get_color(), label=f"{label} (measured)")
        axis.set(
            xlabel="w",
            ylabel="step / dw_min",
            title=f"{char.name} on {char.kind}: max err {char.max_error:.2g}, "
            f"rms {char.rms_error:.2g}",
        )
        axis.legend()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=PNG_DPI)
    plt.close(fig)
    return path
