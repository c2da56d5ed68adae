"""Listing speed: ``aimc devices`` / ``presets`` / ``plugins`` against a bare ``import torch``.

Each command runs as a fresh process (what a user waits for), interleaved with the baseline in
every repeat so that both see the same machine load; the median of the repeats is reported, with
the ratio to the baseline. The listing's goal (docs/benchmarks.md): ``aimc devices`` under half
of ``python -c "import torch"``, which holds when listing imports neither torch nor aihwkit.

    python benchmarks/listing_speed.py [--repeats 7] [--commands devices presets plugins]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = "from aimc_plugins.cli.main import main; main()"


def _seconds(argv: list[str]) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    }
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    return time.perf_counter() - started


def measure(commands: list[str], repeats: int) -> dict[str, list[float]]:
    cases = {"import torch": [sys.executable, "-c", "import torch"]}
    cases.update({f"aimc {c}": [sys.executable, "-c", CLI, c] for c in commands})
    for argv in cases.values():
        _seconds(argv)  # warm the file cache once; not counted
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, argv in cases.items():
            times[name].append(_seconds(argv))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--commands", nargs="+", default=["devices", "presets", "plugins"])
    args = parser.parse_args()
    times = measure(args.commands, args.repeats)
    baseline = statistics.median(times["import torch"])
    print(f"{'command':<20} {'median s':>9} {'min s':>7} {'x import torch':>15}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<20} {median:>9.2f} {min(values):>7.2f} {median / baseline:>15.2f}")


if __name__ == "__main__":
    main()
