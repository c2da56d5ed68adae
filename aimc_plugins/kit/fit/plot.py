"""The fit's figure: measured steps against the fitted response, per direction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aimc_plugins.kit.fit.estimate import FittedResponse
from aimc_plugins.kit.fit.traces import Steps

SCATTER_POINTS = 4000  # raw steps drawn per direction: enough to show the spread


def plot_fit(fit: FittedResponse, steps: Steps, path: Path, seed: int = 0) -> Path:
    """Left: up steps, right: down steps (as magnitudes), each with a sample of raw steps, the
    bin means with their standard errors, and the fitted ``dw_min q(w)`` with a 2-SE band."""
    from aimc_plugins.report.figures import pyplot

    plt = pyplot()

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    panels = (
        (1, "up", fit.binned_up, fit.q_up, fit.se_up),
        (-1, "down", fit.binned_down, fit.q_down, fit.se_down),
    )
    for axis, (sign, label, binned, q, se) in zip(axes, panels, strict=True):
        part = steps.select(sign)
        if len(part):
            pick = rng.choice(len(part), size=min(SCATTER_POINTS, len(part)), replace=False)
            axis.scatter(part.w[pick], sign * part.dw[pick], s=2, color="0.75", label="steps")
        use = binned.count > 0
        axis.errorbar(
            binned.centers[use],
            binned.mean[use],
            yerr=binned.se[use],
            fmt="o",
            markersize=3,
            label="bin mean ± SE",
        )
        curve = fit.dw_min * q
        band = 2 * fit.dw_min * se
        axis.plot(fit.nodes, curve, color="C3", label="fit dw_min q(w)")
        axis.fill_between(fit.nodes, curve - band, curve + band, color="C3", alpha=0.2)
        top = float(np.nanmax(binned.mean[use])) if use.any() else float(curve.max())
        axis.set_ylim(min(0.0, float(curve.min())) - 0.1 * top, 1.6 * top)
        axis.set(xlabel="weight before the pulse", ylabel="step", title=f"{fit.name}: {label}")
        axis.legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
