"""Multi-tile residual learning (``mtrl``) on least squares: loss against the number of tiles.

Li, Wu, Liu, Gokmen, Chen (arXiv 2510.02516, Corollary 1) bound the optimality gap of ``N``
tiles composed as ``W_bar = sum_n gamma^n W_n`` by ``Theta(gamma^(2N/3) (sigma dw_min)^(2/3))``:
it should shrink by about ``gamma^(2/3)`` per tile added. This script measures the excess loss
``f(W_bar) - f(W*)`` after the same number of mini-batches for 1, 2, 3, 4 and 6 tiles (1 tile
is Analog SGD) on two devices with few states, and compares the ratios between consecutive
``N`` (and a fit of ``log(loss)`` against ``N``) with ``gamma^(2/3)``.

Devices: aihwkit ``ConstantStepDevice`` on ``[-1, 1]`` with ``dw_min = 2 / states`` (16 and 10
states) and every noise and variation switched off (no cycle-to-cycle or device-to-device
spread, ``up_down = 0``): a noise-free lattice of ``states + 1`` levels, symmetric, so that the
number of states is the only limitation (a soft-bounds device would add an asymmetry bias).
Problem: the least-squares recipe's ``8 x 8`` layer, 200 samples, label noise 0.1 (the
gradient noise ``sigma`` of the bound), batch 1, ``W_opt ~ N(0, 0.3^2)`` (so that ``W*`` lies
inside the device range), ``W_0 = 0``, perfect reads, at most 8 pulses per gradient update,
:data:`STEPS` mini-batches for every ``N``.

Tuning (the same procedure for every ``(states, N)``, on a validation problem and training seed,
:data:`VALIDATION_SEED`, never on the reported seeds): a grid, successive halving (every
candidate for a quarter of the steps, the best :data:`KEEP` for all of them), the lowest final
loss wins. Analog SGD: ``alpha`` in 0.01 ... 1. ``N >= 2``: ``gamma`` at 1.25, 2.5, 5 and 8
times ``1 / states``; ``beta`` at 0.1, 0.3 and 1 times the rate that makes the linearised chain
critically damped, ``alpha gamma^N (N - 1) / (2 N)`` (all ``N`` poles at
``-alpha gamma^(N-1) / N``; 2 tiles: ``alpha gamma^2 / 4``); ``period_growth`` 2 (the
registered default) and 5 (the paper's LeNet code; 2 tiles have one link, so only 2);
``alpha`` 0.3 (a side check on 2 tiles, 16 states, ``gamma = 2.5 / 16``, critical ``beta``,
validation seed: alpha 0.03, 0.1 and 0.3 ended within a third of each other, 1.0 3-4x higher;
the gradient tile's pulse noise does not shrink with alpha). ``rate_growth``,
``transfer_every`` and ``n_reads_per_transfer`` stay at their registered defaults (1.2, 1, all
columns). A last row per device trains mtrl's first defaults (``FIRST_DEFAULTS``: 4 tiles,
``beta`` 0.1, ``period_growth`` 2, the rest as registered), which diverged here and were
replaced by ``beta`` 0.03 and ``period_growth`` 5 (docs/optimizers.md).

Reported: per ``(states, N)`` the final loss (the recipe's ``Curve.final``, the iterate's excess
loss averaged over the last fifth of the run) as mean ± std over :data:`SEEDS`, the excess loss
of the weight averaged over the last fifth, the ratio to the previous ``N`` beside
``gamma_N^(2/3)``, whether the seed-mean curve had plateaued (the mean loss of the fifth before
the last over the last fifth's, ``prev/last``; above :data:`IMPROVING_RATIO` the row is flagged
"still improving"), and the fraction of the gradient tile's elements at a bound (``±1``) after
the last step. Then ``exp(slope)`` of ``log(loss)`` against ``N`` and, per ``gamma``, the
first rung's best validation loss (with its gradient tile's fraction at a bound).

    nice -n 5 .venv/bin/python benchmarks/multi_tile_least_squares.py            # ~13 min
    nice -n 5 .venv/bin/python benchmarks/multi_tile_least_squares.py --quick    # smoke, ~40 s

One process, one torch thread. Rows go to ``benchmarks-output/multi-tile-least-squares/``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import torch

from aimc_plugins import plugins
from aimc_plugins.builtin.recipes import least_squares as ls
from aimc_plugins.kit.testing import noise_free_device

FIRST_DEFAULTS = {"beta": 0.1, "period_growth": 2.0}
"""mtrl's defaults when this measurement was made (its other parameters as registered)."""

STATES = (16, 10)
TILES = (1, 2, 3, 4, 6)
PROBLEM = ls.Problem(d_in=8, d_out=8, n_samples=200, noise=0.1, batch_size=1, w_opt_std=0.3)
STEPS = 20000
MAX_BL = 8
SEEDS = (0, 1, 2)
VALIDATION_SEED = 100
SGD_ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0)
GAMMA_MULTIPLES = (1.25, 2.5, 5.0, 8.0)  # gamma = multiple / states, below 1
BETA_FACTORS = (0.1, 0.3, 1.0)  # times the critically damped rate
PERIOD_GROWTHS = (2.0, 5.0)
ALPHA = 0.3
KEEP = 2  # candidates trained for the whole budget in the second rung
IMPROVING_RATIO = 1.2


def device(states: int) -> Any:
    """A noise-free ``ConstantStepDevice`` with ``states`` steps of ``dw_min`` across
    ``[-1, 1]``."""
    return noise_free_device(dw_min=2.0 / states)


def critical_beta(alpha: float, gamma: float, tiles: int) -> float:
    """``beta`` that puts all ``N`` poles of the linearised chain (unit curvature, every link
    at its own rate) at one point; see the module docstring."""
    return alpha * gamma**tiles * (tiles - 1) / (2 * tiles)


def gamma_of(multiple: float, states: int) -> float:
    return min(multiple / states, 0.9)


def candidates(states: int, tiles: int) -> list[dict[str, Any]]:
    """The grid one ``(states, N)`` is tuned over."""
    if tiles == 1:
        return [{"tiles": 1, "alpha": alpha} for alpha in SGD_ALPHAS]
    found = []
    growths = PERIOD_GROWTHS if tiles > 2 else PERIOD_GROWTHS[:1]  # 2 tiles: one link only
    for multiple in GAMMA_MULTIPLES:
        gamma = gamma_of(multiple, states)
        for factor in BETA_FACTORS:
            for growth in growths:
                found.append(
                    {
                        "tiles": tiles,
                        "gamma": gamma,
                        "alpha": ALPHA,
                        "beta": factor * critical_beta(ALPHA, gamma, tiles),
                        "period_growth": growth,
                    }
                )
    return found


def probe(setup: Any) -> list[Any]:
    """Make the setup's transfer rule hand its arrays to the returned list when its tile starts,
    so that each tile's weights can be read after training (a diagnostic; the rule's behaviour
    is unchanged)."""
    seen: list[Any] = []
    rule = setup.rpu_config.device.rule
    base = type(rule)

    def start(self: Any, arrays: Any) -> None:
        base.start(self, arrays)
        seen.append(arrays)

    rule.__class__ = type(f"Probed{base.__name__}", (base,), {"start": start})
    return seen


@dataclass
class Run:
    curve: ls.Curve
    saturated: float  # fraction of the gradient tile's elements at a bound after the last step


def train(states: int, params: Mapping[str, Any], seed: int, steps: int) -> Run:
    """One run: the problem drawn with ``seed``, ``mtrl`` with ``params`` on the device."""
    data = ls.make_data(replace(PROBLEM, seed=seed))
    setup = plugins.optimizers()["mtrl"].build([device(states)], **params)
    seen = probe(setup)
    curve = ls.train_aihwkit(data, setup, steps, seed=seed, max_bl=MAX_BL)
    arrays = seen[-1]
    gradient = arrays.weights(arrays.names[-1])
    at_bound = gradient.abs() >= 1.0 - 0.5 * 2.0 / states
    return Run(curve, float(at_bound.float().mean()))


def tune(states: int, tiles: int, steps: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Successive halving on the validation seed: the winner and every rung's losses."""
    log: list[dict[str, Any]] = []
    pool = candidates(states, tiles)
    for rung_steps in (steps // 4, steps):
        scored = []
        for params in pool:
            run = train(states, params, VALIDATION_SEED, rung_steps)
            loss = run.curve.final if math.isfinite(run.curve.final) else math.inf
            scored.append((loss, params))
            log.append({"steps": rung_steps, "loss": loss, "saturated": run.saturated, **params})
        scored.sort(key=lambda item: item[0])
        pool = [params for _, params in scored[:KEEP]]
        if len(scored) <= KEEP:  # nothing to halve: the first rung is the whole budget
            break
    return pool[0], log


@dataclass
class Row:
    states: int
    label: str
    params: dict[str, Any]
    finals: list[float]
    averaged: list[float]
    curve: list[float]  # seed-mean loss per record
    saturated: list[float]
    seconds: float

    @property
    def tiles(self) -> int:
        if "tiles" in self.params:
            return int(self.params["tiles"])
        defaults = {p.name: p.default for p in plugins.optimizers()["mtrl"].parameters}
        return int(defaults["tiles"])

    @property
    def mean(self) -> float:
        return statistics.fmean(self.finals)

    @property
    def std(self) -> float:
        return statistics.stdev(self.finals) if len(self.finals) > 1 else 0.0

    @property
    def plateau_ratio(self) -> float:
        """Mean loss of the fifth of the records before the last fifth over the last fifth's."""
        tail = max(len(self.curve) // 5, 1)
        last = statistics.fmean(self.curve[-tail:])
        before = statistics.fmean(self.curve[-2 * tail : -tail])
        return before / last if last > 0 else math.nan

    @property
    def converged(self) -> bool:
        return self.plateau_ratio <= IMPROVING_RATIO


def measure(
    states: int, label: str, params: dict[str, Any], steps: int, seeds: Sequence[int]
) -> Row:
    started = time.process_time()
    runs = [train(states, params, seed, steps) for seed in seeds]
    curves = [run.curve for run in runs]
    curve = [statistics.fmean(points) for points in zip(*(c.losses for c in curves), strict=True)]
    return Row(
        states,
        label,
        params,
        [c.final for c in curves],
        [c.final_averaged for c in curves],
        curve,
        [run.saturated for run in runs],
        time.process_time() - started,
    )


def per_tile_factor(tiles: Sequence[int], losses: Sequence[float]) -> float:
    """``exp(slope)`` of a least-squares line through ``(N, log(loss))``."""
    xs, ys = list(tiles), [math.log(v) for v in losses]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return math.exp(slope)


def rates_text(params: Mapping[str, Any]) -> str:
    if params.get("tiles", 4) == 1:
        return f"alpha {params['alpha']:g}"
    keys = ("alpha", "beta", "period_growth")
    return ", ".join(f"{k} {params[k]:.3g}" for k in keys if k in params) or "registered defaults"


def table(rows: Sequence[Row]) -> str:
    head = [
        "states",
        "tiles N",
        "gamma",
        "chosen rates",
        "final loss (mean ± std)",
        "loss of mean W",
        "ratio to N-1",
        "gamma^(2/3)",
        "prev/last fifth",
        "plateau",
        "gradient tile at ±1",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    previous: dict[int, Row] = {}
    for r in rows:
        gamma = r.params.get("gamma")
        is_default = r.label == "defaults"
        before = previous.get(r.states)
        ratio = f"{r.mean / before.mean:.2f}" if before and not is_default else ""
        cells = [
            str(r.states),
            f"{r.tiles} (first defaults)" if is_default else str(r.tiles),
            "" if gamma is None else f"{gamma:.3g}",
            rates_text(r.params),
            f"{r.mean:.3g} ± {r.std:.1g}",
            f"{statistics.fmean(r.averaged):.2g}",
            ratio,
            "" if gamma is None or r.tiles == 1 else f"{gamma ** (2 / 3):.2f}",
            f"{r.plateau_ratio:.2f}",
            "converged" if r.converged else "still improving",
            f"{statistics.fmean(r.saturated):.0%}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if not is_default:
            previous[r.states] = r
    return "\n".join(lines)


def fits(rows: Sequence[Row]) -> str:
    """Per-tile factors ``exp(slope)`` of ``log(loss)`` against ``N``: over every ``N``, from
    2 tiles on, and down to the lowest loss (when that is not the last ``N``)."""
    lines = []
    for states in sorted({r.states for r in rows}, reverse=True):
        tuned = [r for r in rows if r.states == states and r.label != "defaults"]
        ns, losses = [r.tiles for r in tuned], [r.mean for r in tuned]
        gammas = sorted({r.params["gamma"] for r in tuned if "gamma" in r.params})
        paper = ", ".join(f"{g:.3g}^(2/3) = {g ** (2 / 3):.2f}" for g in gammas)
        parts = [f"N = {ns}: {per_tile_factor(ns, losses):.2f}"]
        if len(ns) > 3:
            parts.append(f"N = {ns[1:]}: {per_tile_factor(ns[1:], losses[1:]):.2f}")
        best = min(range(len(losses)), key=losses.__getitem__)
        if 0 < best < len(ns) - 1:
            parts.append(
                f"N = {ns[: best + 1]} (down to the lowest loss): "
                f"{per_tile_factor(ns[: best + 1], losses[: best + 1]):.2f}"
            )
        text = "; ".join(parts)
        lines.append(f"- {states} states, per-tile factor over {text}; the paper's {paper}")
    return "\n".join(lines)


def gamma_table(tuning: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """The first rung's lowest validation loss at each ``gamma`` (over the other rates) and, in
    brackets, that run's fraction of gradient-tile elements at a bound, per ``(states, N)``: how
    the choice of ``gamma`` depends on ``N``."""
    cells: dict[tuple[int, int], dict[float, Mapping[str, Any]]] = {}
    for key, log in tuning.items():
        states, tiles = (int(v) for v in key.split("/"))
        if tiles == 1:
            continue
        first = min(entry["steps"] for entry in log)
        best = cells.setdefault((states, tiles), {})
        for entry in log:
            gamma = entry["gamma"]
            if (
                entry["steps"] == first
                and entry["loss"] < best.get(gamma, {"loss": math.inf})["loss"]
            ):
                best[gamma] = entry
    head = ["states", "tiles N", *(f"gamma = {m:g} / states" for m in GAMMA_MULTIPLES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (states, tiles), best in cells.items():
        entries = [best[gamma_of(m, states)] for m in GAMMA_MULTIPLES]
        values = [f"{e['loss']:.3g} ({e['saturated']:.0%})" for e in entries]
        lines.append("| " + " | ".join([str(states), str(tiles), *values]) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks-output/multi-tile-least-squares")
    )
    parser.add_argument("--quick", action="store_true", help="2000 steps, 2 seeds, N 1-3")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    torch.set_num_threads(1)
    steps, seeds, tile_counts = STEPS, SEEDS, TILES
    if args.quick:
        steps, seeds, tile_counts = 2000, SEEDS[:2], TILES[:3]
    wall, cpu = time.perf_counter(), time.process_time()
    rows: list[Row] = []
    tuning: dict[str, Any] = {}
    for states in STATES:
        for tiles in tile_counts:
            chosen, log = tune(states, tiles, steps)
            tuning[f"{states}/{tiles}"] = log
            rows.append(measure(states, "tuned", chosen, steps, seeds))
            print(f"  {states} states, {tiles} tiles: {rates_text(chosen)}", flush=True)
        rows.append(measure(states, "defaults", FIRST_DEFAULTS, steps, seeds))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"\n## Multi-tile residual learning on least squares ({date.today()})\n")
    print(
        f"ConstantStepDevice on [-1, 1], dw_min = 2 / states, noise-free; {steps} mini-batches, "
        f"max BL {MAX_BL}, seeds {list(seeds)} (tuned on seed {VALIDATION_SEED}); "
        f"problem {PROBLEM}.\n"
    )
    print(table(rows))
    print()
    print(fits(rows))
    print(
        f"\nValidation loss after {steps // 4} mini-batches (first rung), best over the rates "
        "(in brackets: that run's gradient-tile elements at a bound):\n"
    )
    print(gamma_table(tuning))
    print(f"\n{wall:.0f} s wall, {cpu:.0f} s CPU (one thread)")
    args.out.mkdir(parents=True, exist_ok=True)
    dump = {
        "rows": [{**asdict(r), "mean": r.mean, "std": r.std} for r in rows],
        "tuning": tuning,
        "wall_s": wall,
        "cpu_s": cpu,
    }
    (args.out / ("quick.json" if args.quick else "rows.json")).write_text(
        json.dumps(dump, indent=1)
    )
    return rows


if __name__ == "__main__":
    main()
