"""From a registered :class:`~aimc_plugins.host.records.Device` to what aihwkit trains.

A device factory returns either an aihwkit pulsed-device config, used as it is, or a
:class:`~aimc_plugins.devices.response.ResponseDevice` (a response written in Python), which the
adapter turns into an aihwkit device: a native class where one matches exactly, else a
``PiecewiseStepDevice`` table. These functions are the one place that makes that choice, so the
training loop, the reports and the author's kit all see the same device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from aimc_plugins.devices.adapter import Adapted, adapt
from aimc_plugins.devices.config_response import response_of
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.host.records import Device, resolve_params


def made(record: Device, params: Mapping[str, Any] | None = None) -> Any:
    """What the plugin's factory returns for ``params`` (checked against its schema first)."""
    resolved = resolve_params(f"device {record.name!r}", record.parameters, params or {})
    return record.factory(**resolved)


def adapted_device(record: Device, params: Mapping[str, Any] | None = None) -> Adapted:
    """How the device reaches aihwkit: the config, the aihwkit class used and the translation
    error (0 for a config given as it is)."""
    device = made(record, params)
    if isinstance(device, ResponseDevice):
        return adapt(device.validated(), tolerance=device.table_tolerance)
    return Adapted(device, type(device).__name__.removesuffix("Device"), 0.0, note="as given")


def device_config(record: Device, params: Mapping[str, Any] | None = None) -> Any:
    """The aihwkit device config a training run uses."""
    return adapted_device(record, params).device


def device_response(record: Device, params: Mapping[str, Any] | None = None) -> ResponseDevice:
    """The device's response q+-: the plugin's own (validated) for a response device, else the
    one implied by the aihwkit config's parameters."""
    device = made(record, params)
    if isinstance(device, ResponseDevice):
        return replace(device, name=record.name).validated()  # named as the user named it
    return response_of(device, record.name)
