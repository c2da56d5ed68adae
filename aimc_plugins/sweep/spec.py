"""Sweep specs, their selectors and their planning, under the module path plugins, scripts and
the documentation use (``from aimc_plugins.sweep.spec import load_spec, plan``).

The three ideas live in their own modules: the file format and its checks
(:mod:`aimc_plugins.sweep.spec_format`), device selectors (:mod:`aimc_plugins.sweep.selectors`)
and planning, from a spec to planned runs (:mod:`aimc_plugins.sweep.planning`). This module
re-exports their names.
"""

from __future__ import annotations

from aimc_plugins.sweep.planning import (
    MAX_RUNS,
    check,
    check_runs,
    count_runs,
    expand,
    literal_options,
    plan,
    plan_warnings,
)
from aimc_plugins.sweep.selectors import expand_selector, preset_families
from aimc_plugins.sweep.spec_format import (
    ALL_PRESETS,
    DEFAULT_SEEDS,
    ENTRY_KEYS,
    FAMILY_PREFIX,
    PRESET_DEVICES,
    SCALE_KEYS,
    SELECTORS,
    SPEC_KEYS,
    DeviceEntry,
    OptimizerEntry,
    SpecError,
    SweepSpec,
    check_folder_label,
    check_trackers,
    is_selector,
    load_spec,
    parse_call,
    read_text_file,
    spec_from_dict,
)

__all__ = [
    "ALL_PRESETS",
    "DEFAULT_SEEDS",
    "ENTRY_KEYS",
    "FAMILY_PREFIX",
    "MAX_RUNS",
    "PRESET_DEVICES",
    "SCALE_KEYS",
    "SELECTORS",
    "SPEC_KEYS",
    "DeviceEntry",
    "OptimizerEntry",
    "SpecError",
    "SweepSpec",
    "check",
    "check_folder_label",
    "check_runs",
    "check_trackers",
    "count_runs",
    "expand",
    "expand_selector",
    "is_selector",
    "literal_options",
    "load_spec",
    "parse_call",
    "plan",
    "plan_warnings",
    "preset_families",
    "read_text_file",
    "spec_from_dict",
]
