"""Checks that tell a user, before any training, whether aihwkit's compiled core works here."""

from __future__ import annotations

import importlib.metadata
import platform
from dataclasses import asdict, dataclass
from typing import Any

from aimc_plugins.training import build_info, pairs

TORCH_MISMATCH_HELP = (
    "aihwkit 1.1.0's wheel is compiled against torch 2.10: torch 2.9 cannot load rpu_base "
    "(undefined symbol) and torch 2.13+ loads it but fails on the first AnalogLinear "
    "('Invalid weights dimensions'). Fix: pip install 'torch>=2.10,<2.11' aihwkit==1.1.0 "
    "(or `make install`, which pins both)."
)
SOURCE_MISMATCH_HELP = (
    "A source-built aihwkit is bound to the torch it was compiled against: reinstall that torch, "
    "or rebuild aihwkit against this one (scripts/build-aihwkit.sh --force; docs/install.md)."
)


PAIR_MISMATCH_HELP = (
    "aihwkit {aihwkit}'s wheel is tested with torch {torch} (pair {name}): pip install "
    "torch=={torch} aihwkit=={aihwkit}, or `make install PAIR={name}`, which pins both in "
    "its own venv."
)


def _mismatch_help() -> str:
    """What to do when the core does not load or train: the tested pair's torch for a wheel
    release that has one, a rebuild for a source build."""
    version = _version("aihwkit")
    if version == "1.1.0":
        return TORCH_MISMATCH_HELP
    build = build_info.installed_build_kind()
    for pair in pairs.PAIRS:
        if pair.aihwkit == version and build == "wheel":
            return PAIR_MISMATCH_HELP.format(aihwkit=version, torch=pair.torch, name=pair.name)
    return SOURCE_MISMATCH_HELP


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    help: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_checks() -> list[Check]:
    return run_report()[0]


def run_report() -> tuple[list[Check], build_info.BuildFacts | None]:
    """The checks, and the build facts of aihwkit (None when its core does not load)."""
    checks = [
        Check("python", True, platform.python_version()),
        Check("torch", _version("torch") != "not installed", _version("torch")),
        Check("aihwkit", _version("aihwkit") != "not installed", _version("aihwkit")),
        Check("aimc-plugins", True, _version("aimc-plugins")),
        Check("tested pair", True, pairs.describe_installed_pair()),
    ]
    try:
        from aihwkit.simulator import rpu_base  # noqa: F401  (loading it is the check)
    except Exception as exc:
        checks.append(
            Check("rpu_base import", False, f"{type(exc).__name__}: {exc}", _mismatch_help())
        )
        return checks, None
    checks.append(Check("rpu_base import", True, "compiled core loaded"))
    checks.append(_one_step_check())
    facts = build_info.collect()
    checks.extend(build_checks(facts))
    checks.extend(feature_checks())
    return checks, facts


def feature_checks() -> list[Check]:
    """What depends on the aihwkit version: whether its 1.2.0-only features run here, and
    whether aihwkit's presets train with 1.1.0's defaults (informational, never failing: an
    older aihwkit is a supported install, not a broken one)."""
    return [Check(name, True, detail) for name, _available, detail in pairs.feature_lines()]


def build_checks(facts: build_info.BuildFacts) -> list[Check]:
    """How aihwkit was built, CUDA, the GPUs and one analog update on a GPU
    (:mod:`aimc_plugins.training.build_info`)."""
    cuda = "yes" if facts.cuda_compiled else "no (CPU only)"
    gpus = "; ".join(facts.gpus) if facts.gpus else "none visible"
    usable = bool(facts.cuda_compiled and facts.gpus and facts.gpu_update == "ok")
    return [
        Check("aihwkit build", True, f"{facts.build}: {facts.build_detail}"),
        Check("aihwkit CUDA build", True, cuda),
        Check(
            "GPU",
            True,
            f"{gpus}; {'usable with --accelerator cuda' if usable else 'CPU only'}",
        ),
        Check(
            "AnalogLinear update on GPU",
            facts.gpu_update != "failed",
            f"{facts.gpu_update}: {facts.gpu_update_detail}",
            "" if facts.gpu_update != "failed" else _mismatch_help(),
        ),
    ]


def _one_step_check() -> Check:
    """One Analog SGD step on a 4x2 AnalogLinear: the check that catches a torch/aihwkit ABI
    mismatch which a plain import does not."""
    try:
        moved = build_info.analog_step("cpu")
    except Exception as exc:
        return Check("AnalogLinear update", False, f"{type(exc).__name__}: {exc}", _mismatch_help())
    if moved == 0.0:
        return Check(
            "AnalogLinear update",
            False,
            "the update left the weights unchanged",
            _mismatch_help(),
        )
    return Check(
        "AnalogLinear update", True, f"one pulsed update moved weights by up to {moved:.3g}"
    )
