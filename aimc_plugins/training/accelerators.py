"""One GPU per sweep worker.

aihwkit's CUDA tiles live on the *current* CUDA device, and every process that touches CUDA
creates a context on each device it sees. With several GPUs and a process pool, letting every
worker see every GPU puts all runs on GPU 0. So each worker is pinned to one GPU by setting
``CUDA_VISIBLE_DEVICES`` in the worker itself, before it first uses CUDA: inside the worker that
GPU is ``cuda`` / ``cuda:0``, and recipes need no device index. Workers are numbered as they
start (a shared counter) and take the GPUs round-robin, so ``--workers 8`` on 4 GPUs puts two
workers on each.

The functions here are pure or touch only the environment, so the logic is tested on machines
without a GPU (``tests/test_accelerators.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

VISIBLE = "CUDA_VISIBLE_DEVICES"


def visible_gpus(environ: Mapping[str, str] | None = None, count: int | None = None) -> list[str]:
    """The GPUs this process may hand out, as ``CUDA_VISIBLE_DEVICES`` entries: the parent's own
    ``CUDA_VISIBLE_DEVICES`` if it is set (indices or UUIDs, kept as written), else
    ``0 .. count - 1`` with ``count`` from torch (``torch.cuda.device_count()``)."""
    environ = os.environ if environ is None else environ
    value = environ.get(VISIBLE)
    if value is not None:
        return [entry.strip() for entry in value.split(",") if entry.strip()]
    if count is None:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [str(index) for index in range(count)]


def gpu_for_worker(index: int, gpus: Sequence[str]) -> str | None:
    """The GPU worker number ``index`` (0, 1, ... in start order) is pinned to: round-robin."""
    if not gpus:
        return None
    return gpus[index % len(gpus)]


def pin_worker(counter: Any, gpus: Sequence[str], environ: Any = None) -> str | None:
    """In a starting worker: take the next worker number from ``counter`` (a
    ``multiprocessing.Value('i')``) and pin this process to its GPU. Returns the GPU, or None
    (no GPUs: nothing is changed)."""
    if not gpus or counter is None:
        return None
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    gpu = gpu_for_worker(index, gpus)
    if gpu is not None:
        (os.environ if environ is None else environ)[VISIBLE] = gpu
    return gpu
