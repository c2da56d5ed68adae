"""Theory diagnostics of a response, computed numerically from q+ and q- (docs/theory.md).

``F = (q- + q+) / 2`` scales every update; ``G = (q- - q+) / 2`` biases it, and Analog SGD drifts
to a root of G, the symmetric point ``w*``. ``R = G / F`` integrated from ``w*`` (``R_c``) is the
shape of the penalty Analog SGD implicitly adds to the loss, and ``max |G / sqrt(F)|`` is the
asymmetry figure that sets its error floor. Everything is computed on a grid so that any Python
response gets the same treatment as the closed-form families.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aimc_plugins.devices.response import ResponseDevice

GRID_POINTS = 4001


@dataclass(frozen=True)
class Diagnostics:
    """F, G, R and R_c on a grid, the symmetric point(s) and the scalar figures."""

    name: str
    w: np.ndarray
    q_up: np.ndarray
    q_down: np.ndarray
    F: np.ndarray
    G: np.ndarray
    R: np.ndarray
    R_c: np.ndarray | None
    symmetric_points: tuple[float, ...]
    stable_points: tuple[float, ...]
    symmetric_everywhere: bool
    dw_min: float
    n_states: float
    asymmetry: float

    @property
    def symmetric_point(self) -> float | None:
        """The symmetric point Analog SGD settles at: the one stable root of G (or the only
        root), ``None`` when there is none or several stable ones."""
        if len(self.stable_points) == 1:
            return self.stable_points[0]
        if len(self.symmetric_points) == 1:
            return self.symmetric_points[0]
        return None

    def summary(self) -> dict[str, object]:
        """Scalar figures, JSON-ready."""
        return {
            "device": self.name,
            "range": [float(self.w[0]), float(self.w[-1])],
            "dw_min": self.dw_min,
            "n_states": self.n_states,
            "symmetric_points": list(self.symmetric_points),
            "stable_symmetric_points": list(self.stable_points),
            "symmetric_everywhere": self.symmetric_everywhere,
            "symmetric_point": self.symmetric_point,
            "asymmetry_max_abs_G_over_sqrt_F": self.asymmetry,
            "F_min": float(self.F.min()),
            "F_max": float(self.F.max()),
            "G_at_0": float(np.interp(0.0, self.w, self.G)),
            "R_c_at_bounds": (
                None if self.R_c is None else [float(self.R_c[0]), float(self.R_c[-1])]
            ),
        }


def _roots(w: np.ndarray, g: np.ndarray, atol: float) -> tuple[list[float], list[float]]:
    """Roots of a sampled G (sign changes, linearly refined) and the stable ones among them.

    Stable: G rises through 0. Analog SGD moves w by ``-|grad| G(w)`` on average, so w falls where
    G > 0 and rises where G < 0 and collects at such a root.
    """
    s = np.where(np.abs(g) <= atol, 0.0, np.sign(g))
    roots: list[float] = []
    stable: list[float] = []
    i, n = 0, len(w)
    while i < n - 1:
        if s[i] == 0.0:  # a run of (numerical) zeros: one root at its centre
            j = i
            while j + 1 < n and s[j + 1] == 0.0:
                j += 1
            before = s[i - 1] if i > 0 else 0.0
            after = s[j + 1] if j + 1 < n else 0.0
            roots.append(float((w[i] + w[j]) / 2))
            if before < 0.0 < after:
                stable.append(roots[-1])
            i = j + 1
            continue
        if s[i] * s[i + 1] < 0.0:
            t = g[i] / (g[i] - g[i + 1])
            roots.append(float(w[i] + t * (w[i + 1] - w[i])))
            if s[i] < 0.0:
                stable.append(roots[-1])
        i += 1
    return roots, stable


def find_symmetric_point(
    asymmetry: Callable[[float], float], low: float, high: float, steps: int = 200
) -> float:
    """The symmetric point ``w*`` (``G(w*) = 0``) of a response whose asymmetric part
    ``asymmetry`` changes sign once on ``[low, high]``, by bisection.

    Bisection, not a grid or Newton: G of an admissible response is monotone (q+ falls, q- rises
    with w) but need not be smooth (tabulated responses are piecewise linear), and a caller may
    hand in G in any representation (numpy, torch, an aihwkit config's mean response) as long as
    it maps a float to a float. This is the one root finder of the project for a single symmetric
    point; :func:`diagnose` scans a grid instead because it must find every root and tell the
    stable ones apart. ``steps`` beyond ~60 only confirm the float64 limit already reached.
    """
    g_low = asymmetry(low)
    for _ in range(steps):
        mid = 0.5 * (low + high)
        g_mid = asymmetry(mid)
        if (g_mid > 0) == (g_low > 0):
            low, g_low = mid, g_mid
        else:
            high = mid
    return 0.5 * (low + high)


def _antiderivative(w: np.ndarray, r: np.ndarray, origin: float) -> np.ndarray:
    """Cumulative trapezoid integral of r, shifted to vanish at ``origin``."""
    steps = np.diff(w) * (r[1:] + r[:-1]) / 2.0
    integral = np.concatenate([[0.0], np.cumsum(steps)])
    return integral - np.interp(origin, w, integral)


def diagnose(device: ResponseDevice, points: int = GRID_POINTS) -> Diagnostics:
    """All diagnostics of ``device`` on ``points`` grid points over its range."""
    w = device.grid(points)
    q_up, q_down = device.evaluate(w)
    big_f = (q_down + q_up) / 2.0
    big_g = (q_down - q_up) / 2.0
    scale = float(np.max(np.abs(big_f))) or 1.0
    atol = 1e-9 * scale
    everywhere = bool(np.all(np.abs(big_g) <= atol))
    roots: list[float]
    stable: list[float]
    if everywhere:
        roots, stable = [], []
    else:
        roots, stable = _roots(w, big_g, atol)
        snap = 1e-12 * device.span  # a root at 0 up to rounding is 0, not -5.6e-17
        roots = [0.0 if abs(r) < snap else r for r in roots]
        stable = [0.0 if abs(r) < snap else r for r in stable]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(big_f > 0.0, big_g / big_f, np.nan)
        figure = np.where(big_f > 0.0, np.abs(big_g) / np.sqrt(np.clip(big_f, 0.0, None)), np.nan)
    origin = 0.0 if everywhere else (stable[0] if len(stable) == 1 else None)
    if origin is None and len(roots) == 1:
        origin = roots[0]
    finite = np.where(np.isfinite(ratio), ratio, 0.0)
    r_c = None if origin is None else _antiderivative(w, finite, origin)
    step = device.step
    return Diagnostics(
        name=device.name,
        w=w,
        q_up=q_up,
        q_down=q_down,
        F=big_f,
        G=big_g,
        R=ratio,
        R_c=r_c,
        symmetric_points=tuple(roots),
        stable_points=tuple(stable),
        symmetric_everywhere=everywhere,
        dw_min=step,
        n_states=device.span / step,
        asymmetry=float(np.nanmax(figure)) if np.any(np.isfinite(figure)) else float("nan"),
    )


def describe(diag: Diagnostics) -> list[str]:
    """Human-readable lines for ``aimc show``."""
    lines = [
        f"device          {diag.name}",
        f"range           [{diag.w[0]:.6g}, {diag.w[-1]:.6g}]",
        f"dw_min          {diag.dw_min:.6g}   states (range / dw_min): {diag.n_states:.6g}",
        f"F               min {diag.F.min():.4g}, max {diag.F.max():.4g}",
        f"G               min {diag.G.min():.4g}, max {diag.G.max():.4g}",
    ]
    if diag.symmetric_everywhere:
        lines.append("symmetric point G = 0 everywhere: a symmetric device, no drift")
    elif not diag.symmetric_points:
        side = "positive" if diag.G[len(diag.G) // 2] > 0 else "negative"
        lines.append(f"symmetric point none in the range (G is {side} throughout)")
    elif len(diag.symmetric_points) == 1:
        kind = "stable" if diag.stable_points else "unstable"
        lines.append(f"symmetric point w* = {diag.symmetric_points[0]:.6g} ({kind})")
    else:
        roots = ", ".join(f"{r:.6g}" for r in diag.symmetric_points)
        stable = ", ".join(f"{r:.6g}" for r in diag.stable_points) or "none"
        lines.append(f"symmetric point several roots of G: {roots} (stable: {stable})")
    lines.append(f"asymmetry       max |G / sqrt(F)| = {diag.asymmetry:.4g}")
    if diag.R_c is None:
        lines.append("R_c             undefined (no single symmetric point to integrate from)")
    else:
        lines.append(
            f"R_c             R_c(w_min) = {diag.R_c[0]:.4g}, R_c(w_max) = {diag.R_c[-1]:.4g} "
            "(Analog SGD's implicit penalty, per unit Sigma)"
        )
    return lines


def zero_shifted(device: ResponseDevice, points: int = GRID_POINTS) -> ResponseDevice:
    """``device`` shifted so that its symmetric point sits at 0 (G(0) = 0), as a residual array
    read against a reference conductance at w* behaves. Raises ``ValueError`` without a single
    symmetric point to shift to.

    The grid diagnosis picks the point, so a device with several roots of G is shifted to its one
    stable root (the one Analog SGD, and so the residual array, would drift to)."""
    point = diagnose(device, points).symmetric_point
    if point is None:
        raise ValueError(f"device {device.name!r} has no single symmetric point to shift to")
    return device.shifted(point)
