"""Checks that tell a user, before any training, whether aihwkit's compiled core works here."""

from __future__ import annotations

import importlib.metadata
import platform
from dataclasses import dataclass

TORCH_MISMATCH_HELP = (
    "aihwkit 1.1.0's wheel is compiled against torch 2.10: torch 2.9 cannot load rpu_base "
    "(undefined symbol) and torch 2.13+ loads it but fails on the first AnalogLinear "
    "('Invalid weights dimensions'). Fix: pip install 'torch>=2.10,<2.11' aihwkit==1.1.0 "
    "(or `make install`, which pins both)."
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    help: str = ""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_checks() -> list[Check]:
    checks = [
        Check("python", True, platform.python_version()),
        Check("torch", _version("torch") != "not installed", _version("torch")),
        Check("aihwkit", _version("aihwkit") != "not installed", _version("aihwkit")),
        Check("aimc-plugins", True, _version("aimc-plugins")),
    ]
    try:
        from aihwkit.simulator import rpu_base
    except Exception as exc:
        checks.append(
            Check("rpu_base import", False, f"{type(exc).__name__}: {exc}", TORCH_MISMATCH_HELP)
        )
        return checks
    checks.append(Check("rpu_base import", True, "compiled core loaded"))
    checks.append(_one_step_check())
    cuda_compiled = bool(rpu_base.cuda.is_compiled())
    checks.append(Check("aihwkit CUDA build", True, "yes" if cuda_compiled else "no (CPU only)"))
    import torch

    gpu = torch.cuda.is_available()
    detail = torch.cuda.get_device_name(0) if gpu else "none visible"
    usable = "usable with --accelerator cuda" if gpu and cuda_compiled else "CPU only"
    checks.append(Check("GPU", True, f"{detail}; {usable}"))
    return checks


def _one_step_check() -> Check:
    """One Analog SGD step on a 4x2 AnalogLinear: the check that catches a torch/aihwkit ABI
    mismatch which a plain import does not."""
    try:
        import torch
        from aihwkit.nn import AnalogLinear
        from aihwkit.optim import AnalogSGD
        from aihwkit.simulator.configs import ConstantStepDevice, SingleRPUConfig

        layer = AnalogLinear(4, 2, rpu_config=SingleRPUConfig(device=ConstantStepDevice()))
        before = layer.get_weights()[0].clone()
        optimizer = AnalogSGD(layer.parameters(), lr=0.5)
        optimizer.regroup_param_groups(layer)
        loss = layer(torch.ones(3, 4)).pow(2).sum()
        loss.backward()
        optimizer.step()
        moved = float((layer.get_weights()[0] - before).abs().max())
    except Exception as exc:
        return Check(
            "AnalogLinear update", False, f"{type(exc).__name__}: {exc}", TORCH_MISMATCH_HELP
        )
    if moved == 0.0:
        return Check(
            "AnalogLinear update",
            False,
            "the update left the weights unchanged",
            TORCH_MISMATCH_HELP,
        )
    return Check(
        "AnalogLinear update", True, f"one pulsed update moved weights by up to {moved:.3g}"
    )
