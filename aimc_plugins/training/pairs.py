"""The tested aihwkit + torch pairs, which one is installed, and what the installed aihwkit can do.

Why one module: aihwkit's compiled core is bound to the torch it was built with, so the project
tests whole pairs (``constraints/*.txt``, ``make install PAIR=...``), and aihwkit 1.2.0 both adds
a feature (a non-zero ``gamma`` on ``ChoppedTransferCompound``, upstream PR #764) and changes a
default that moves results (``scale_fast_lr``). ``aimc doctor``, the optimizers that need 1.2.0
and the report's version notes all ask here, so the version thresholds live in one place.

Nothing here imports aihwkit or torch: versions come from installed distributions' metadata.
"""

from __future__ import annotations

import importlib.metadata
import platform
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class TestedPair:
    """One pinned combination that `make test` passed on (docs/install.md has the runs).

    ``torch`` is a version prefix: the pair pins a release series (``2.10``) or one release
    (``2.14.1``), and a local build tag (``+cpu``, ``+cu130``) still matches.
    """

    name: str
    python: str
    aihwkit: str
    torch: str
    constraints: str
    venv: str

    @property
    def command(self) -> str:
        """The one command that installs this pair into its own venv."""
        return f"make install PAIR={self.name}"

    def matches(self, python: str, aihwkit: str, torch: str) -> bool:
        """Whether the given versions are this pair's (Python major.minor, torch by prefix)."""
        torch_public = torch.split("+", 1)[0]
        return (
            ".".join(python.split(".")[:2]) == self.python
            and aihwkit == self.aihwkit
            and (torch_public == self.torch or torch_public.startswith(self.torch + "."))
        )


PAIRS = (
    TestedPair("py311", "3.11", "1.1.0", "2.10", "constraints/wheel-cpu.txt", ".venv-py311"),
    TestedPair("py312", "3.12", "1.2.0", "2.14.1", "constraints/wheel-py312.txt", ".venv"),
)
DEFAULT_PAIR = "py312"
"""What `make install` / `make demo` / `make test` (and so CI) install without ``PAIR``, into
``.venv``; a machine without Python 3.12 gets py311 there instead (the Makefile says so in one
line). Chosen by measurement: docs/install.md, "Which pair"."""

CHOPPED_RESIDUAL_SINCE = "1.2.0"
"""First aihwkit whose ``ChoppedTransferCompound`` supports a non-zero ``gamma`` (upstream PR
#764: its compiled core gained ``ChoppedTransferRPUDevice::reduceToWeights``, which applies the
chopper's sign to P in ``W + gamma P``). 1.1.0 accepts the field but adds ``gamma P`` without
that sign: measured on a 1x1 layer with a chopper flip every step, the two versions read
``gamma P`` with opposite signs after each flip (docs/optimizers.md)."""

SCALE_FAST_LR_SINCE = "1.2.0"
"""First aihwkit with ``scale_fast_lr``: on by default in ``TransferCompound`` and
``BufferedTransferCompound`` (the rate onto P becomes ``fast_lr * lr``), off in the chopped
compounds. Of aihwkit's 52 presets it changes what the six Tiki-Taka ones train
(``TransferCompound``, ``fast_lr`` 1.0); the TTv2, c-TTv2 and AGAD presets use the chopped
compounds (checked on 1.2.0)."""


def installed_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"not installed"``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def at_least(version: str, minimum: str) -> bool:
    """``version >= minimum`` by PEP 440 (a local tag such as ``+cu130`` ignored); False for
    ``"not installed"`` or anything unparsable."""
    try:
        return Version(version).release >= Version(minimum).release
    except InvalidVersion:
        return False


def installed_pair() -> TestedPair | None:
    """The tested pair this environment is, or None (another combination, e.g. a source build)."""
    python = platform.python_version()
    aihwkit, torch = installed_version("aihwkit"), installed_version("torch")
    return next((p for p in PAIRS if p.matches(python, aihwkit, torch)), None)


def describe_installed_pair() -> str:
    """One line for `aimc doctor`: the pair by name, or why this is not one of them."""
    python = platform.python_version()
    aihwkit, torch = installed_version("aihwkit"), installed_version("torch")
    pair = installed_pair()
    if pair is not None:
        default = " (the default)" if pair.name == DEFAULT_PAIR else ""
        return (
            f"{pair.name}{default}: Python {pair.python}, aihwkit {pair.aihwkit}, torch "
            f"{pair.torch} ({pair.constraints})"
        )
    tested = ", ".join(f"{p.name} (`{p.command}`)" for p in PAIRS)
    return f"not a tested pair: Python {python}, aihwkit {aihwkit}, torch {torch}; tested: {tested}"


def chopped_residual_available(aihwkit: str | None = None) -> bool:
    """Whether aihwkit (``aihwkit``, default the installed one) runs chopped residual learning."""
    return at_least(aihwkit or installed_version("aihwkit"), CHOPPED_RESIDUAL_SINCE)


def chopped_residual_refusal(aihwkit: str | None = None) -> str:
    """The one-line refusal of chopped residual learning on an older aihwkit ("" when it runs)."""
    version = aihwkit or installed_version("aihwkit")
    if chopped_residual_available(version):
        return ""
    return (
        f"needs aihwkit >= {CHOPPED_RESIDUAL_SINCE} (ChoppedTransferCompound with gamma > 0, "
        f"upstream PR #764); installed: aihwkit {version}. Install that pair: "
        "make install PAIR=py312"
    )


def feature_lines(aihwkit: str | None = None) -> list[tuple[str, bool, str]]:
    """``(feature, available, detail)`` for each aihwkit-version-dependent feature, for the
    doctor: which 1.2.0-only parts of the project this install runs, and what changed."""
    version = aihwkit or installed_version("aihwkit")
    chopped = chopped_residual_available(version)
    scaled = at_least(version, SCALE_FAST_LR_SINCE)
    return [
        (
            "chopped residual learning (optimizer c-rl)",
            chopped,
            "available" if chopped else f"not available: {chopped_residual_refusal(version)}",
        ),
        (
            "preset defaults",
            True,
            "aihwkit >= 1.2 scales the Tiki-Taka presets' fast_lr by the lr (scale_fast_lr, "
            "on by default in TransferCompound): their results differ from aihwkit 1.1.0's"
            if scaled
            else "aihwkit 1.1.0's (fast_lr absolute in every transfer preset)",
        ),
    ]
