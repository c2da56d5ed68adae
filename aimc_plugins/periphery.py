"""Building aihwkit RPU configs around a device, so that every optimizer wraps devices alike."""

from __future__ import annotations

from typing import Any


def single_device_config(device: Any) -> Any:
    """A ``SingleRPUConfig`` around ``device`` with aihwkit's default periphery."""
    from aihwkit.simulator.configs import SingleRPUConfig

    return SingleRPUConfig(device=device)
