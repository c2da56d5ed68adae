"""How the installed aihwkit was built, and what it can run on: the facts `aimc doctor` reports.

- **version** of the ``aihwkit`` distribution;
- **build**: ``wheel`` (a binary release from a package index: its ``WHEEL`` file carries a
  ``manylinux`` / ``musllinux`` tag, which only auditwheel-repaired wheels on an index have),
  ``source`` (compiled on this machine: a wheel pip built from the sdist is tagged plain
  ``linux_x86_64``; an install from a local directory or archive leaves ``direct_url.json``; a
  ``setup.py install`` leaves no ``WHEEL`` at all), or ``unknown``;
- **CUDA compiled**: ``aihwkit.simulator.rpu_base.cuda.is_compiled()``;
- **GPUs** torch sees (name and compute capability each);
- **GPU update**: one Analog SGD step of an ``AnalogLinear`` on ``cuda``, run only when the core
  was compiled with CUDA *and* a GPU is seen; otherwise ``skipped`` with the reason.

Nothing here needs a GPU; ``build_kind`` reads only the distribution's metadata files, so tests
check it on stub ``.dist-info`` folders.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import asdict, dataclass, field
from typing import Any

BINARY_PLATFORMS = ("manylinux", "musllinux")


@dataclass(frozen=True)
class BuildKind:
    kind: str  # "wheel", "source" or "unknown"
    detail: str


@dataclass(frozen=True)
class BuildFacts:
    version: str
    build: str
    build_detail: str
    cuda_compiled: bool | None  # None: the core did not load
    gpus: list[str] = field(default_factory=list)
    gpu_update: str = "skipped"
    gpu_update_detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tags(wheel_text: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in wheel_text.splitlines()
        if line.lower().startswith("tag:")
    ]


def build_kind(dist: importlib.metadata.Distribution) -> BuildKind:
    """Wheel from an index, or built here from source, read off the installed metadata."""
    direct = dist.read_text("direct_url.json")
    if direct:
        try:
            info = json.loads(direct)
        except ValueError:
            info = {}
        url = str(info.get("url", ""))
        if "dir_info" in info:
            editable = " (editable)" if info["dir_info"].get("editable") else ""
            return BuildKind("source", f"built from the checkout {url}{editable}")
        if not url.endswith(".whl"):
            return BuildKind("source", f"built from the archive {url}")
    wheel = dist.read_text("WHEEL")
    if wheel is None:
        return BuildKind("source", "installed without a wheel (setup.py install or egg)")
    tags = _tags(wheel)
    platforms = {tag.rsplit("-", 1)[-1] for tag in tags}
    shown = ", ".join(tags) or "no tag"
    if any(p.startswith(BINARY_PLATFORMS) for p in platforms):
        return BuildKind("wheel", f"binary release from a package index ({shown})")
    if any(p.startswith("linux_") for p in platforms):
        return BuildKind("source", f"compiled on this machine from the sdist ({shown})")
    return BuildKind("unknown", f"wheel tagged {shown}")


def installed_build_kind() -> str:
    """``wheel``, ``source`` or ``unknown`` for the installed aihwkit (``unknown`` when it is
    not installed), without importing its core: the doctor's advice for a core that does not
    load depends on it (a wheel wants its tested torch, a source build a rebuild)."""
    try:
        return build_kind(importlib.metadata.distribution("aihwkit")).kind
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _gpus() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return []
    names = []
    for index in range(torch.cuda.device_count()):
        major, minor = torch.cuda.get_device_capability(index)
        names.append(f"{torch.cuda.get_device_name(index)} (compute capability {major}.{minor})")
    return names


def analog_step(device: str = "cpu") -> float:
    """One Analog SGD step of a 4x2 ``AnalogLinear`` on ``device``: the largest weight change.
    Raises what aihwkit raises (an ABI mismatch with torch, a CUDA error)."""
    import torch
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.configs import ConstantStepDevice, SingleRPUConfig

    layer = AnalogLinear(4, 2, rpu_config=SingleRPUConfig(device=ConstantStepDevice()))
    if device != "cpu":
        layer = layer.to(device)
    before = layer.get_weights()[0].clone()
    optimizer = AnalogSGD(layer.parameters(), lr=0.5)
    optimizer.regroup_param_groups(layer)
    loss = layer(torch.ones(3, 4, device=device)).pow(2).sum()
    loss.backward()
    optimizer.step()
    return float((layer.get_weights()[0] - before).abs().max())


def gpu_update(cuda_compiled: bool | None, gpus: list[str]) -> tuple[str, str]:
    """``("ok" | "failed" | "skipped", detail)`` for one analog update on the first GPU."""
    if not cuda_compiled:
        return "skipped", "this aihwkit was compiled without CUDA"
    if not gpus:
        return "skipped", "torch sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES)"
    try:
        moved = analog_step("cuda")
    except Exception as exc:
        return "failed", f"{type(exc).__name__}: {exc}"
    if moved == 0.0:
        return "failed", "the update left the weights unchanged"
    return "ok", f"one pulsed update on {gpus[0]} moved weights by up to {moved:.3g}"


def collect() -> BuildFacts:
    """The build facts of the installed aihwkit (importing its core; never raises for a missing
    or broken aihwkit: the facts then say so)."""
    try:
        dist = importlib.metadata.distribution("aihwkit")
    except importlib.metadata.PackageNotFoundError:
        return BuildFacts("not installed", "unknown", "aihwkit is not installed", None)
    kind = build_kind(dist)
    try:
        from aihwkit.simulator import rpu_base

        cuda_compiled: bool | None = bool(rpu_base.cuda.is_compiled())
    except Exception:
        cuda_compiled = None
    try:
        gpus = _gpus()
    except Exception:
        gpus = []
    if cuda_compiled is None:
        status, detail = "skipped", "aihwkit's compiled core does not load"
    else:
        status, detail = gpu_update(cuda_compiled, gpus)
    return BuildFacts(dist.version, kind.kind, kind.detail, cuda_compiled, gpus, status, detail)
