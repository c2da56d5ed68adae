"""aihwkit's preset devices and preset training configurations, found by introspection.

Nothing here lists aihwkit's presets by name: a later aihwkit that adds presets adds them here too.

Listing them must not cost an import of aihwkit (and torch: seconds), so the introspected
metadata (names, families, descriptions) is kept per aihwkit version: shipped with the package
(``preset_metadata.json``, for the aihwkit it was generated against) or written on first use to
``$XDG_CACHE_HOME/aimc-plugins/`` (``~/.cache/aimc-plugins/``). The installed aihwkit's version
is read from its distribution metadata, which imports nothing. Factories stay lazy
(:class:`LazyClass`): aihwkit is imported when a preset is built, not when it is listed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import inspect
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimc_plugins.host.hookspecs import hookimpl
from aimc_plugins.host.records import Device, Preset

DEVICE_SUFFIX = "PresetDevice"

# Most specific compound first: ChoppedTransferCompound subclasses BufferedTransferCompound, which
# subclasses TransferCompound, and DynamicTransferCompound subclasses ChoppedTransferCompound.
_COMPOUND_FAMILIES = (
    ("DynamicTransferCompound", "AGAD"),
    ("ChoppedTransferCompound", "c-TTv2"),
    ("BufferedTransferCompound", "TTv2"),
    ("TransferCompound", "Tiki-Taka"),
)


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _preset_classes() -> list[tuple[str, type]]:
    presets = importlib.import_module(PRESETS_MODULE)
    return sorted(
        (name, obj)
        for name, obj in vars(presets).items()
        if inspect.isclass(obj) and not name.startswith("_")
    )


def preset_device_classes() -> dict[str, type]:
    """Preset pulsed devices, keyed by their short name (``ReRamSBPresetDevice`` -> ``ReRamSB``)."""
    from aihwkit.simulator.configs.devices import PulsedDevice

    return {
        name.removesuffix(DEVICE_SUFFIX): cls
        for name, cls in _preset_classes()
        if issubclass(cls, PulsedDevice) and name.endswith(DEVICE_SUFFIX)
    }


def preset_config_classes() -> dict[str, type]:
    """Preset RPU configs meant for training (inference presets are left out)."""
    from aihwkit.simulator.configs import (
        DigitalRankUpdateRPUConfig,
        SingleRPUConfig,
        UnitCellRPUConfig,
    )

    training = (SingleRPUConfig, UnitCellRPUConfig, DigitalRankUpdateRPUConfig)
    return {name: cls for name, cls in _preset_classes() if issubclass(cls, training)}


def config_family(rpu_config: Any) -> str:
    """The training family of an aihwkit RPU config, named as the literature names it."""
    from aihwkit.simulator.configs import DigitalRankUpdateRPUConfig, SingleRPUConfig

    if isinstance(rpu_config, DigitalRankUpdateRPUConfig):
        return "mixed precision"
    if isinstance(rpu_config, SingleRPUConfig):
        return "single-device SGD"
    compound_mro = {klass.__name__ for klass in type(rpu_config.device).__mro__}
    if "OneSidedUnitCell" in compound_mro:
        # One weight as a differential pair (G+ - G-) updated by plain SGD, as aihwkit's PCM
        # preset does: still Analog SGD, not a multi-device scheme.
        return "single-device SGD"
    for class_name, family in _COMPOUND_FAMILIES:
        if class_name in compound_mro:
            if family == "c-TTv2" and not _chops(rpu_config.device):
                return "TTv2"  # aihwkit's TTv2 presets are chopped compounds with chopping off
            return family
    return "multi-device"


def _chops(compound: Any) -> bool:
    return bool(getattr(compound, "in_chop_prob", 0.0) or getattr(compound, "out_chop_prob", 0.0))


def _device_family(cls: type) -> str:
    """The native device model a preset device parametrises (e.g. ``SoftBounds``)."""
    from aihwkit.simulator.configs.devices import PulsedDevice

    for base in cls.__mro__[1:]:
        if issubclass(base, PulsedDevice) and not base.__name__.endswith(DEVICE_SUFFIX):
            return base.__name__.removesuffix("Device")
    return ""


PRESETS_MODULE = "aihwkit.simulator.presets"
METADATA_FORMAT = 1  # bump when what is stored (or how families are named) changes
SHIPPED_METADATA = Path(__file__).with_name("preset_metadata.json")


@dataclass(frozen=True)
class LazyClass:
    """A class named by module and attribute, imported on the first call (picklable, so records
    still travel to sweep workers)."""

    module: str
    name: str

    def load(self) -> type:
        cls = getattr(importlib.import_module(self.module), self.name)
        assert isinstance(cls, type)
        return cls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)


def aihwkit_version() -> str:
    try:
        return importlib.metadata.version("aihwkit")
    except importlib.metadata.PackageNotFoundError:
        return ""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aimc-plugins"


def introspect_metadata() -> dict[str, Any]:
    """What the listing needs, read from the installed aihwkit (imports it)."""
    return {
        "format": METADATA_FORMAT,
        "aihwkit": aihwkit_version(),
        "devices": [
            {
                "name": name,
                "class": cls.__name__,
                "family": f"aihwkit preset ({_device_family(cls)})",
                "description": _summary(cls),
            }
            for name, cls in preset_device_classes().items()
        ],
        "configs": [
            {
                "name": name,
                "class": cls.__name__,
                "family": config_family(cls()),
                "description": _summary(cls),
            }
            for name, cls in preset_config_classes().items()
        ],
    }


def _read(path: Path, version: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("format") != METADATA_FORMAT or version not in shipped_for(data):
        return None
    return {**data, "aihwkit": version}


def shipped_for(data: dict[str, Any]) -> set[str]:
    """The aihwkit versions a metadata file serves: the one it was generated against, and
    ``same_for``, versions whose presets were introspected and found identical (aihwkit 1.2.0's
    52 configs and 10 devices are 1.1.0's), so that neither pair's first listing imports
    aihwkit."""
    return {str(data.get("aihwkit")), *map(str, data.get("same_for", []))}


def preset_metadata() -> dict[str, Any]:
    """The presets' metadata for the installed aihwkit: shipped, cached, or introspected (and
    then cached; an unwritable cache folder only costs the next listing the import again)."""
    version = aihwkit_version()
    data = _read(SHIPPED_METADATA, version)
    if data is not None:
        return data
    cached = cache_dir() / f"presets-{METADATA_FORMAT}-aihwkit-{version or 'unknown'}.json"
    data = _read(cached, version)
    if data is not None:
        return data
    data = introspect_metadata()
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=cached.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(data, handle, indent=1)
        os.replace(handle.name, cached)  # atomic: a concurrent listing reads all or nothing
    return data


def _lazy_records(kind: str) -> list[dict[str, Any]]:
    """The listed presets of one kind (``devices`` or ``configs``) as record fields, each
    factory importing aihwkit only when called."""
    return [
        {
            "name": item["name"],
            "factory": LazyClass(PRESETS_MODULE, item["class"]),
            "description": item["description"],
            "family": item["family"],
        }
        for item in preset_metadata()[kind]
    ]


@hookimpl
def register_devices(register: Callable[[Device], None]) -> None:
    for fields in _lazy_records("devices"):
        register(Device(**fields))


@hookimpl
def register_presets(register: Callable[[Preset], None]) -> None:
    for fields in _lazy_records("configs"):
        register(Preset(**fields))
