"""Training steps per second of the paper's two MNIST networks on the CPU and on CUDA, side by side.

Networks (``aimc_plugins.builtin.recipes.mnist``): the FCN 784-256-128-10 (sigmoid, batch 10)
and the LeNet-like CNN (conv 1->16 5x5, pool, conv 16->32 5x5, pool, FC 512-128-10, tanh,
batch 8), every layer analog, built exactly as the ``mnist-fcn`` / ``mnist-lenet`` recipes build
them: the device (default ``ReRamSB``) under Analog SGD behind the ``paper`` periphery. A step
is forward,
backward and the pulsed update on random inputs (a step's time does not depend on the data).
CUDA steps are timed with ``torch.cuda.synchronize()``; where CUDA cannot run (aihwkit compiled
without it, or no GPU), its column says why.

    .venv/bin/python benchmarks/accelerators.py                 # both networks, cpu and cuda
    .venv/bin/python benchmarks/accelerators.py --batch 64 --steps 100 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from aimc_plugins.builtin.recipes.mnist import FCN_BATCH, LENET_BATCH, build_fcn, build_lenet
from aimc_plugins.sweep.spec import plan
from aimc_plugins.training.loop import (
    AcceleratorError,
    check_accelerator,
    make_optimizer,
    seed_everything,
    to_analog,
)
from aimc_plugins.training.setup import setup_for

NETWORKS: dict[str, tuple[str, Callable[[], nn.Module], int]] = {
    "FCN 784-256-128-10": ("mnist-fcn", build_fcn, FCN_BATCH),
    "LeNet-like CNN": ("mnist-lenet", build_lenet, LENET_BATCH),
}


@dataclass
class Cell:
    steps_per_s: float | None
    note: str = ""

    def shown(self) -> str:
        return f"{self.steps_per_s:.1f}" if self.steps_per_s is not None else f"n/a: {self.note}"


def _sync(accelerator: str) -> None:
    if accelerator == "cuda":
        torch.cuda.synchronize()


def steps_per_second(
    recipe: str,
    build: Callable[[], nn.Module],
    batch: int,
    accelerator: str,
    device: str,
    periphery: str,
    steps: int,
    repeats: int,
) -> float:
    """Median over ``repeats`` timings of ``steps`` training steps (after ``steps // 5 + 2``
    warm-up steps that are not timed)."""
    spec = plan(recipe, [device], ["sgd"], 1, periphery=periphery)[0]
    setup = setup_for(spec)
    seed_everything(0)
    model = to_analog(build(), setup).to(accelerator)
    optimizer = make_optimizer(model, setup)
    loss_fn = nn.CrossEntropyLoss()
    inputs = torch.rand(batch, 1, 28, 28, device=accelerator)
    targets = torch.randint(10, (batch,), device=accelerator)

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()

    for _ in range(steps // 5 + 2):
        step()
    rates = []
    for _ in range(repeats):
        _sync(accelerator)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(accelerator)
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def cuda_unavailable() -> str:
    """Why CUDA cannot run analog layers here ('' when it can)."""
    try:
        check_accelerator("cuda")
    except AcceleratorError as exc:
        text = str(exc)
        if "compiled without CUDA" in text:
            return "aihwkit compiled without CUDA"
        if "no GPU" in text:
            return "no GPU visible"
        return text
    except Exception as exc:  # aihwkit's core does not load
        return f"{type(exc).__name__}: {exc}"
    return ""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="ReRamSB", help="analog device (aimc devices)")
    parser.add_argument("--periphery", default="paper", help="aihwkit, paper or ideal")
    parser.add_argument("--steps", type=int, default=50, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per cell (median)")
    parser.add_argument("--batch", type=int, default=0, help="batch size (0: the paper's)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument(
        "--accelerator", action="append", choices=["cpu", "cuda"], help="default: both"
    )
    parser.add_argument("--json", dest="json_out", default="", help="also write results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    accelerators = args.accelerator or ["cpu", "cuda"]
    why_not_cuda = cuda_unavailable() if "cuda" in accelerators else ""

    rows: dict[str, dict[str, Cell]] = {}
    for name, (recipe, build, paper_batch) in NETWORKS.items():
        batch = args.batch or paper_batch
        row: dict[str, Cell] = {}
        for accelerator in accelerators:
            if accelerator == "cuda" and why_not_cuda:
                row[accelerator] = Cell(None, why_not_cuda)
                continue
            try:
                rate = steps_per_second(
                    recipe, build, batch, accelerator, args.device, args.periphery,
                    args.steps, args.repeats,
                )  # fmt: skip
                row[accelerator] = Cell(rate)
            except Exception as exc:
                row[accelerator] = Cell(None, f"{type(exc).__name__}: {exc}")
        rows[f"{name}, batch {batch}"] = row

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(
        f"device {args.device}, periphery {args.periphery}, Analog SGD; torch {torch.__version__} "
        f"({torch.get_num_threads()} CPU threads), {platform.processor() or platform.machine()}, "
        f"GPU: {gpu}"
    )
    header = "| network | " + " | ".join(f"{a} steps/s" for a in accelerators)
    header += " | cuda / cpu |" if accelerators == ["cpu", "cuda"] else " |"
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for name, row in rows.items():
        cells = [row[a].shown() for a in accelerators]
        if accelerators == ["cpu", "cuda"]:
            cpu, cuda = row["cpu"].steps_per_s, row["cuda"].steps_per_s
            cells.append(f"{cuda / cpu:.1f}x" if cpu and cuda else "n/a")
        print(f"| {name} | " + " | ".join(cells) + " |")
    result = {
        "device": args.device,
        "periphery": args.periphery,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "rows": {name: {a: asdict(c) for a, c in row.items()} for name, row in rows.items()},
    }
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    main()
