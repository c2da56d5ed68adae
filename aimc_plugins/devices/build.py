"""From a registered :class:`~aimc_plugins.host.records.Device` to what aihwkit trains.

A device factory returns either an aihwkit pulsed-device config, used as it is, or a
:class:`~aimc_plugins.devices.response.ResponseDevice` (a response written in Python), which the
adapter turns into an aihwkit device: a native class where one matches exactly, else a
``PiecewiseStepDevice`` table. These functions are the one place that makes that choice, so the
training loop, the reports and the author's kit all see the same device.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from aimc_plugins.devices.adapter import Adapted, PiecewiseCapWarning, adapt
from aimc_plugins.devices.config_response import response_of
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.devices.sanity import DeviceConfigError, check_made, check_native
from aimc_plugins.host.records import Device, resolve_params

_adapted: dict[tuple[int, tuple[tuple[str, Any], ...]], tuple[Device, Adapted]] = {}
_MAX_ADAPTED = 256


class TableError(ValueError):
    """A response's PiecewiseStep table misses the declared response by more than its
    ``table_tolerance``, and the device did not opt in with ``allow_table_error``."""


def made(record: Device, params: Mapping[str, Any] | None = None) -> Any:
    """What the plugin's factory returns for ``params`` (checked against its schema first, and
    checked to be a device: :func:`~aimc_plugins.devices.sanity.check_made`)."""
    return _make(record, resolve_params(f"device {record.name!r}", record.parameters, params or {}))


def _make(record: Device, resolved: Mapping[str, Any]) -> Any:
    """:func:`made` for parameters already resolved against the record's schema."""
    try:
        device = record.factory(**resolved)
    except ValueError:
        raise  # a plugin's own parameter check: its message is meant for the user
    except Exception as exc:
        raise DeviceConfigError(
            f"device {record.name!r}: check 'factory runs' failed: {type(exc).__name__}: {exc}"
        ) from exc
    return check_made(device, record.name)


def adapted_device(record: Device, params: Mapping[str, Any] | None = None) -> Adapted:
    """How the device reaches aihwkit: the config, the aihwkit class used and the translation
    error (0 for a config given as it is, which must pass
    :func:`~aimc_plugins.devices.sanity.check_native`), and what a pulse costs where a
    response device declares it (``cost``; None for a config given as it is).

    A table whose error exceeds the response's ``table_tolerance`` is refused with
    :class:`TableError` unless the response sets ``allow_table_error``: a run recorded as a device
    must not silently simulate another. Cached per (record, parameters) in this process, so a
    sweep adapts and checks each device once; the config handed out is a copy.
    """
    resolved = resolve_params(f"device {record.name!r}", record.parameters, params or {})
    return adapted_resolved(record, resolved)


def adapted_resolved(record: Device, resolved: Mapping[str, Any]) -> Adapted:
    """:func:`adapted_device` for parameters the caller has already resolved against
    ``record.parameters`` (every name, defaults included, each value coerced and checked): a
    planned run's ``device_params``, which the planner resolved once. They are not resolved
    again, so a run's path does not go back to the records layer for what it already holds."""
    try:
        key: tuple[int, tuple[tuple[str, Any], ...]] | None = (
            id(record),
            tuple(sorted(resolved.items())),
        )
        hash(key)
    except TypeError:
        key = None
    cached = _adapted.get(key) if key is not None else None
    if cached is not None and cached[0] is record:  # the record is held: its id is not reused
        adapted = cached[1]
    else:
        adapted = _adapt(record, resolved)
        if key is not None:
            if len(_adapted) >= _MAX_ADAPTED:
                _adapted.clear()
            _adapted[key] = (record, adapted)
    return replace(adapted, device=copy.deepcopy(adapted.device))


def _adapt(record: Device, resolved: Mapping[str, Any]) -> Adapted:
    device = _make(record, resolved)
    if not isinstance(device, ResponseDevice):
        check_native(device, record.name)
        return Adapted(device, type(device).__name__.removesuffix("Device"), 0.0, note="as given")
    device = device.validated()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PiecewiseCapWarning)  # refused or re-warned below
        adapted = adapt(device, tolerance=device.table_tolerance)
    if adapted.error > device.table_tolerance:
        message = (
            f"device {record.name!r}: its {adapted.nodes}-node aihwkit table misses the declared "
            f"response by {adapted.error:.0%} (tolerance {device.table_tolerance:.0%})"
        )
        if not device.allow_table_error:
            raise TableError(
                f"{message}; the simulator would run a different device. Smooth the response, "
                "or set allow_table_error=True on its ResponseDevice to train on the table "
                "anyway (the error is then recorded with every run)"
            )
        warnings.warn(f"{message}; allowed (allow_table_error)", PiecewiseCapWarning, stacklevel=2)
        note = (
            f"trained on a {adapted.nodes}-node table that misses the declared response by "
            f"{adapted.error:.0%} (tolerance {device.table_tolerance:.0%}; allow_table_error)"
        )
        return replace(adapted, tolerance=device.table_tolerance, table_note=note, cost=device.cost)
    return replace(adapted, tolerance=device.table_tolerance, cost=device.cost)


def device_config(record: Device, params: Mapping[str, Any] | None = None) -> Any:
    """The aihwkit device config a training run uses."""
    return adapted_device(record, params).device


def device_response(record: Device, params: Mapping[str, Any] | None = None) -> ResponseDevice:
    """The device's response q+-: the plugin's own (validated) for a response device, else the
    one implied by the aihwkit config's parameters (checked first)."""
    device = made(record, params)
    if isinstance(device, ResponseDevice):
        return replace(device, name=record.name).validated()  # named as the user named it
    return response_of(check_native(device, record.name), record.name)


def table_fidelity(record: Device, params: Mapping[str, Any] | None = None) -> tuple[float, str]:
    """``(error, note)`` of the device's translation to aihwkit, for the record of a run: the
    measured table error (0 for native devices) and, when it exceeds the response's tolerance
    (allowed by ``allow_table_error``), a one-line note for the report; else an empty note.
    Both come with the cached adaptation: the factory is not called again."""
    adapted = adapted_device(record, params)
    return adapted.error, adapted.table_note
