"""Training-step time of a plugin response device against the native aihwkit device and a
pure-PyTorch pulse-by-pulse tile, side by side in one run.

(a) the plugin device adapted to a PiecewiseStep table (``adapt(..., native=False)``),
(b) the equivalent native aihwkit device (what the adapter picks when the family is native),
(c) aihwkit's CustomSimulatorTile with its update replaced by a PyTorch loop applying the same
    Python response pulse by pulse: the route a researcher takes without this project, with
    ``ceil(|dw| / dw_min)`` pulses per weight capped at the bit length. Forward and backward go
    through the same analog MVM periphery in all three, so only the update route differs.

Network: the paper's MNIST FCN 784-256-128-10 with sigmoids, batch 10, Analog SGD lr 0.05, on
random inputs (the time of a step does not depend on the data). The three variants are timed
in interleaved rounds so that load from other processes falls on all of them alike; the
median is reported, of step times and of per-round ratios.

    .venv/bin/python benchmarks/device_overhead.py [--device "power(tau=0.7, g=2)"]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from itertools import pairwise

import torch
from torch import nn

from aimc_plugins.devices.adapter import adapt, match_native
from aimc_plugins.devices.build import device_response
from aimc_plugins.devices.names import parse_device_ref
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.host import plugins

SIZES = (784, 256, 128, 10)
BATCH = 10
LR = 0.05
BL = 31  # aihwkit's default desired bit length: at most this many pulses per update


def analog_mlp(rpu_config) -> nn.Module:
    from aihwkit.nn import AnalogLinear, AnalogSequential

    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(SIZES)):
        layers.append(AnalogLinear(n_in, n_out, bias=True, rpu_config=rpu_config))
        if i < len(SIZES) - 2:
            layers.append(nn.Sigmoid())
    return AnalogSequential(*layers)


def device_config(device) -> object:
    from aihwkit.simulator.configs import SingleRPUConfig

    return SingleRPUConfig(device=device)


def pulse_loop_config(response: ResponseDevice) -> object:
    """aihwkit's CustomRPUConfig whose simulator tile updates by applying ``response`` pulse by
    pulse in torch: ``ceil(|lr d x^T| / dw_min)`` pulses per weight, at most ``BL``. Forward and
    backward are CustomSimulatorTile's own (the same analog MVM periphery as (a) and (b))."""
    from aihwkit.simulator.tiles.custom import CustomRPUConfig, CustomSimulatorTile

    class PulseLoopTile(CustomSimulatorTile):
        @torch.no_grad()
        def update(self, x_input, d_input, *args, **kwargs) -> None:
            step = response.step
            grad = d_input.reshape(-1, d_input.size(-1)).T @ x_input.reshape(-1, x_input.size(-1))
            delta = -self.learning_rate * grad
            pulses = torch.clamp(torch.ceil(delta.abs() / step), max=BL)
            up = delta > 0
            w = self._analog_weight
            for k in range(int(pulses.max())):
                q_up, q_down = response.evaluate(w.numpy())  # the Python response, per pulse
                move = torch.where(
                    up, step * torch.from_numpy(q_up), -step * torch.from_numpy(q_down)
                )
                w = w + torch.where(pulses > k, move.to(w.dtype), torch.zeros_like(w))
                w = w.clamp(response.w_min, response.w_max)
            self._analog_weight = w

    return CustomRPUConfig(simulator_tile_class=PulseLoopTile)


def train_step(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], None]:
    from aihwkit.optim import AnalogSGD

    optimizer = AnalogSGD(model.parameters(), lr=LR)
    optimizer.regroup_param_groups(model)
    loss_fn = nn.CrossEntropyLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


def time_steps(step, batches, n: int) -> float:
    """Seconds per step over ``n`` steps."""
    start = time.perf_counter()
    for i in range(n):
        x, y = batches[i % len(batches)]
        step(x, y)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="power(tau=0.7, g=2)", help="a response device spec")
    parser.add_argument("--steps", type=int, default=50, help="steps per round, (a) and (b)")
    parser.add_argument("--torch-steps", type=int, default=5, help="steps per round, (c)")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (all variants)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    spec = parse_device_ref(args.device)
    response = device_response(plugins.lookup(plugins.devices, spec.name, "device"), spec.params)
    native = match_native(response)
    if native is None:
        raise SystemExit(f"{args.device} has no native aihwkit equivalent to compare against")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        table = adapt(response, native=False)

    batches = [
        (torch.rand(BATCH, SIZES[0]), torch.randint(0, SIZES[-1], (BATCH,))) for _ in range(50)
    ]
    variants = {
        "a": (
            "plugin device -> PiecewiseStep",
            train_step(analog_mlp(device_config(table.device))),
            args.steps,
        ),
        "b": (
            f"native {native.kind}",
            train_step(analog_mlp(device_config(native.device))),
            args.steps,
        ),
        "c": (
            "CustomSimulatorTile, PyTorch pulse loop",
            train_step(analog_mlp(pulse_loop_config(response))),
            args.torch_steps,
        ),
    }
    for _, step, n in variants.values():  # warm-up
        time_steps(step, batches, max(2, n // 10))
    rounds: dict[str, list[float]] = {key: [] for key in variants}
    keys = list(variants)
    for i in range(args.rounds):
        for key in keys if i % 2 == 0 else keys[::-1]:  # alternate: drift favours no variant
            _, step, n = variants[key]
            rounds[key].append(time_steps(step, batches, n))
    median = {key: statistics.median(values) for key, values in rounds.items()}
    # ratios within each round, then their median: robust to load from other processes
    a_over_b = statistics.median(a / b for a, b in zip(rounds["a"], rounds["b"], strict=True))
    c_over_a = statistics.median(c / a for c, a in zip(rounds["c"], rounds["a"], strict=True))

    print(
        f"device {args.device}: table {table.nodes} nodes (error {table.error:.3g}), "
        f"native {native.kind}"
    )
    print(
        f"784-256-128-10 sigmoid MLP, batch {BATCH}, {args.threads} torch thread(s), "
        f"median of {args.rounds} interleaved rounds"
    )
    print("| variant | ms / training step |")
    print("|---|---:|")
    for key, (label, _, _) in variants.items():
        print(f"| ({key}) {label} | {1e3 * median[key]:.2f} |")
    print(f"(a)/(b) = {a_over_b:.3f}   (c)/(a) = {c_over_a:.1f}   (medians of per-round ratios)")
    spread = {k: (min(v) * 1e3, max(v) * 1e3) for k, v in rounds.items()}
    print(
        "round range (ms): "
        + ", ".join(f"({k}) {lo:.2f}-{hi:.2f}" for k, (lo, hi) in spread.items())
    )


if __name__ == "__main__":
    main()
