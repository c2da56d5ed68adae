"""Building aihwkit RPU configs around a device, and named periphery profiles.

A *periphery profile* fixes everything around the crossbar that is not the device: the DAC / ADC
resolution and bounds of the forward and backward passes, output noise, and how updates are
turned into pulses (bit length, noise / bound / update management). Comparing devices is only
fair when every device sits behind the same periphery, so profiles are applied *after* an
optimizer has built its RPU config, to whatever config that is (single device, transfer
compound, mixed precision).

Profiles:

- ``aihwkit``: aihwkit 1.1.0's defaults, untouched (the default).
- ``paper``: the periphery of Wu et al. (arXiv 2502.06309): input bound 1, 7-bit DAC, output
  bound 12, output noise 0.06, 9-bit ADC, noise / bound / update management on, and a pulse
  train of at most 32 pulses. aihwkit's defaults are the same except ``desired_bl`` (31), so
  the profile mostly makes the paper's settings explicit and immune to default changes.
- ``ideal``: perfect forward and backward passes (no noise, no quantisation, no bounds), so
  that only the device's update behaviour differs between runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEFAULT_PROFILE = "aihwkit"


def single_device_config(device: Any, profile: str = DEFAULT_PROFILE) -> Any:
    """A ``SingleRPUConfig`` around ``device`` with the periphery of ``profile``."""
    from aihwkit.simulator.configs import SingleRPUConfig

    return apply_profile(SingleRPUConfig(device=device), profile)


def _bits_to_resolution(bits: int) -> float:
    """aihwkit's resolution for an n-bit converter over a symmetric range (as its presets do)."""
    return 1.0 / (2**bits - 2)


def _paper(rpu_config: Any) -> None:
    from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType

    for io in _io_parameters(rpu_config):
        io.is_perfect = False
        io.inp_bound = 1.0
        io.inp_res = _bits_to_resolution(7)
        io.out_bound = 12.0
        io.out_noise = 0.06
        io.out_res = _bits_to_resolution(9)
        io.noise_management = NoiseManagementType.ABS_MAX
        io.bound_management = BoundManagementType.ITERATIVE
    update = getattr(rpu_config, "update", None)
    if update is not None:
        update.desired_bl = 32
        update.update_management = True
        update.update_bl_management = True


def _ideal(rpu_config: Any) -> None:
    for io in _io_parameters(rpu_config):
        io.is_perfect = True


def _aihwkit(rpu_config: Any) -> None:
    """aihwkit's own defaults: nothing to change."""


PROFILES: dict[str, Callable[[Any], None]] = {
    "aihwkit": _aihwkit,
    "paper": _paper,
    "ideal": _ideal,
}


def _io_parameters(rpu_config: Any) -> list[Any]:
    return [
        io
        for io in (getattr(rpu_config, "forward", None), getattr(rpu_config, "backward", None))
        if io is not None
    ]


def apply_profile(rpu_config: Any, profile: str = DEFAULT_PROFILE) -> Any:
    """Set the periphery of ``rpu_config`` (in place) to the named profile and return it.

    ``None`` (the digital baseline) is returned as it is: it has no periphery.
    """
    if profile not in PROFILES:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown periphery profile {profile!r} (known: {known})")
    if rpu_config is not None:
        PROFILES[profile](rpu_config)
    return rpu_config
