"""Whether one run repeats bitwise from its seed: a fact about that run, recorded with it.

A run is recorded ``yes`` only when all of these hold, else ``no: why``:

- **it seeded aihwkit's generators itself** (``seed_everything`` in its recipe, between its
  start and its end: :func:`watch` counts the seedings of
  :mod:`aimc_plugins.training.simulator_seed`). Whether the *process* can seed says nothing about
  a recipe that never does: in a worker that ran a seeded run before, its generators would be
  left in whatever state that run left them.
- **it ran on one thread**: aihwkit's OpenMP loops draw from shared generators, so on several
  threads the draws may interleave differently each time. The count is torch's
  (``torch.get_num_threads()``, what a sweep worker sets) or ``OMP_NUM_THREADS`` when that is
  larger (aihwkit's own OpenMP pool reads it).
- **it ran on the CPU**: see :mod:`~aimc_plugins.training.simulator_seed` for CUDA.
- **the seeded core repeats in this process**: :func:`self_check` (once per process) trains two
  tiny noisy tiles from one seed and a third from another; the first two must agree bitwise and
  the third differ. A patch that silently stopped reaching the core (a new aihwkit build) fails
  it instead of being taken on trust.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

YES = "yes"


@dataclass
class Seeding:
    """What :func:`watch` saw of one run: whether it seeded aihwkit's generators, and the thread
    count it ran with."""

    seeded: bool = False
    threads: int = 1


def run_threads() -> int:
    """The threads this process computes on: torch's count, or ``OMP_NUM_THREADS`` if larger.
    A process that has not imported torch (a recipe that trains nothing with it) is not made to
    import it for this: :func:`watch` asks again when the run ends."""
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else 1
    try:
        threads = max(threads, int(os.environ.get("OMP_NUM_THREADS", "") or 0))
    except ValueError:
        pass
    return threads


@contextlib.contextmanager
def watch() -> Iterator[Seeding]:
    """Observe one run: on exit, the yielded :class:`Seeding` says whether the run seeded
    aihwkit's generators and how many threads it had."""
    from aimc_plugins.training.simulator_seed import seedings

    before = seedings()
    seeding = Seeding(threads=run_threads())
    try:
        yield seeding
    finally:
        seeding.seeded = seedings() > before
        seeding.threads = max(seeding.threads, run_threads())


_checked: list[str] = []  # the self-check's verdict, once per process


def self_check() -> str:
    """``""`` when aihwkit's seeded core repeats in this process (two tiny tiles trained from
    one seed agree bitwise, a third from another seed differs), else why not. Computed once per
    process; torch's random state is restored afterwards."""
    if not _checked:
        _checked.append(_check())
    return _checked[0]


def _check() -> str:
    import torch

    from aimc_plugins.training.simulator_seed import seed_simulator, status

    def weights(seed: int) -> torch.Tensor | None:
        from aihwkit.nn import AnalogLinear
        from aihwkit.simulator.configs import SingleRPUConfig, SoftBoundsDevice

        torch.manual_seed(0)  # the same inputs and initial weights: only the simulator differs
        if not seed_simulator(seed):
            return None
        device = SoftBoundsDevice(dw_min_std=0.3, w_max_dtod=0.3, w_min_dtod=0.3)
        layer = AnalogLinear(4, 3, bias=False, rpu_config=SingleRPUConfig(device=device))
        layer.analog_module.set_learning_rate(0.1)
        x = torch.randn(8, 4)
        for _ in range(5):
            layer.analog_module.update(x, torch.ones(8, 3))
        return layer.get_weights()[0].clone()

    try:
        with torch.random.fork_rng(devices=[]):
            first, again, other = weights(11), weights(11), weights(12)
    except Exception as exc:  # an aihwkit that cannot build a tile: nothing repeats for sure
        return f"the self-check could not train a tile ({type(exc).__name__}: {exc})"
    if first is None or again is None or other is None:
        return f"aihwkit's generators are unseeded ({status()[1]})"
    if not torch.equal(first, again):
        return "the self-check's two tiles from one seed differ (the seeding does not reach them)"
    if torch.equal(first, other):
        return "the self-check's tiles from two seeds agree (the seed does not reach the core)"
    return ""


def verdict(seeding: Seeding, accelerator: str) -> str:
    """``yes`` or ``no: why`` for one run (see the module docstring)."""
    from aimc_plugins.training.simulator_seed import status

    patched, reason = status()
    if not seeding.seeded:
        if patched:
            return "no: the run did not seed aihwkit's generators (its recipe never seeds)"
        return f"no: aihwkit's generators are unseeded ({reason})"
    if accelerator != "cpu":
        return (
            "no: on CUDA; aihwkit's CUDA generators are seeded from the rebound clock too, but "
            "bitwise repeats on a GPU are not verified"
        )
    if seeding.threads > 1:
        return (
            f"no: ran on {seeding.threads} threads, whose random draws may interleave "
            "(one thread per run repeats: as many --workers as cores, or OMP_NUM_THREADS=1)"
        )
    problem = self_check()
    return f"no: {problem}" if problem else YES


def process_verdict(accelerator: str) -> str:
    """Whether this process can seed aihwkit's generators at all (the record before runs kept
    their own): ``yes`` or ``no: why``."""
    from aimc_plugins.training.simulator_seed import status

    seeded, reason = status()
    if not seeded:
        return f"no: aihwkit's generators are unseeded ({reason})"
    if accelerator != "cpu":
        return "no: on CUDA, bitwise repeats are not verified"
    return YES
