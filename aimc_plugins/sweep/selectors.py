"""Device selectors: ``@presets``, ``@preset-devices``, ``@family:NAME`` and glob patterns,
expanded against the registered device and preset names.

A selector stands for several device entries of a spec (or ``--device`` flags) at once; how one
is written is the spec format's (:func:`~aimc_plugins.sweep.spec_format.is_selector`), what it
selects is decided here, against the registry of this process. A selector that selects nothing is
an error naming it, never an empty sweep; devices named twice, by hand and through a selector, run
once.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import replace

from aimc_plugins.host import composition, plugins
from aimc_plugins.sweep.spec_format import (
    ALL_PRESETS,
    FAMILY_PREFIX,
    PRESET_DEVICES,
    SELECTORS,
    DeviceEntry,
    SpecError,
    is_selector,
)


def _family_key(family: str) -> str:
    return re.sub(r"[^a-z0-9]", "", family.lower())


def preset_families() -> dict[str, list[str]]:
    """Preset configuration names by family (``TTv2``, ``AGAD``, ...), as ``aimc presets``."""
    families: dict[str, list[str]] = {}
    for name, record in plugins.presets().items():
        families.setdefault(record.family or "other", []).append(name)
    return families


def expand_selector(text: str) -> list[str]:
    """The device and preset names ``text`` selects, in registry order, each once.

    Raises :class:`SpecError` for an unknown ``@`` selector or family (listing the known ones)
    and for a pattern that matches nothing (naming it)."""
    text = text.strip()
    if text == ALL_PRESETS:
        names = list(plugins.presets())
    elif text == PRESET_DEVICES:
        # aihwkit's preset devices: those of the plugin the application names for them (the host
        # stamps each record with its plugin; the name is the application's, not this layer's)
        presets_plugin = composition.current.presets_plugin
        names = [n for n, r in plugins.devices().items() if r.plugin == presets_plugin]
    elif text.lower().startswith(FAMILY_PREFIX):
        names = _family(text[len(FAMILY_PREFIX) :].strip())
    elif text.startswith("@"):
        close = difflib.get_close_matches(text, [ALL_PRESETS, PRESET_DEVICES, "@family:"], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"unknown selector {text!r}{hint} (known: {', '.join(SELECTORS)})")
    else:
        names = _glob(text)
    if not names:
        raise SpecError(f"selector {text!r} selects nothing")
    return list(dict.fromkeys(names))


def _family(wanted: str) -> list[str]:
    families = preset_families()
    for family, names in families.items():
        if _family_key(family) == _family_key(wanted) and _family_key(wanted):
            return names
    known = ", ".join(sorted(families, key=str.lower))
    raise SpecError(f"{FAMILY_PREFIX}{wanted}: no preset family {wanted!r} (known: {known})")


def _glob(pattern: str) -> list[str]:
    names = [*plugins.devices(), *plugins.presets()]
    found = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if found:
        return found
    folded = [n for n in names if fnmatch.fnmatchcase(n.lower(), pattern.lower())]
    hint = f"; names match it when case is ignored: {', '.join(folded[:5])}" if folded else ""
    raise SpecError(
        f"pattern {pattern!r} matches no device or preset name{hint} (see `aimc devices` and "
        "`aimc presets`)"
    )


def device_entries(entries: Sequence[DeviceEntry]) -> list[tuple[int, DeviceEntry]]:
    """Each entry with its index in the spec, selectors replaced by the entries they select.
    A registered name that happens to look like a pattern is that name, not a pattern."""
    known: set[str] | None = None
    found: list[tuple[int, DeviceEntry]] = []
    for index, entry in enumerate(entries):
        if is_selector(entry.name):
            known = known if known is not None else {*plugins.devices(), *plugins.presets()}
            if entry.name not in known:
                try:
                    names = expand_selector(entry.name)
                except SpecError as exc:
                    raise SpecError(f"devices[{index}]: {exc}") from None
                found += [(index, replace(entry, name=name)) for name in names]
                continue
        found.append((index, entry))
    return found
