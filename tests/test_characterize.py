"""Single pulses on real aihwkit tiles: the derived responses of aihwkit's devices (presets and
hand-built configs) match what the compiled core does, to float32 resolution."""

from __future__ import annotations

import numpy as np
import pytest

from aimc_plugins.builtin.presets import preset_device_classes
from aimc_plugins.devices.characterize import characterize, quiet
from aimc_plugins.devices.config_response import UnsupportedDevice, response_of

EXACT = 1e-5  # beyond float32 rounding, a derived response must match to this


def assert_matches(config, name=""):
    result = characterize(response_of(config, name), config, points=61)
    assert result.max_error <= result.resolution + EXACT, result.summary()
    return result


@pytest.mark.parametrize("name", sorted(preset_device_classes()))
def test_preset_devices_derived_response_matches_measured_pulses(name):
    assert_matches(preset_device_classes()[name](), name)


def hand_built():
    from aihwkit.simulator.configs import devices as d

    return {
        "constant up_down<0": d.ConstantStepDevice(up_down=-0.3),
        "linear step": d.LinearStepDevice(gamma_up=0.4, gamma_down=0.7, up_down=0.1),
        "linear step increasing": d.LinearStepDevice(
            gamma_up=-0.3, gamma_down=0.2, allow_increasing=True
        ),
        "linear step reverse": d.LinearStepDevice(
            gamma_up=0.5, reverse_up=True, mult_noise=True, w_min=-0.8, w_max=0.5
        ),
        "soft bounds": d.SoftBoundsDevice(w_min=-0.4, w_max=1.0, up_down=0.25),
        "soft bounds pmax": d.SoftBoundsPmaxDevice(p_max=800, alpha=0.002),
        "soft bounds reference": d.SoftBoundsReferenceDevice(
            w_min=-1.0, w_max=1.0, up_down=0.2, subtract_symmetry_point=True
        ),
        "pow step": d.PowStepDevice(pow_gamma=2.5, pow_up_down=0.3, up_down=-0.1),
        "pow step reference": d.PowStepReferenceDevice(pow_gamma=1.5, reference_mean=0.1),
        "exp step": d.ExpStepDevice(),
        "piecewise": d.PiecewiseStepDevice(
            piecewise_up=[1.5, 1.0, 0.7, 0.2], piecewise_down=[0.1, 0.9, 1.2, 2.0], up_down=0.1
        ),
    }


@pytest.mark.parametrize("name", sorted(hand_built()))
def test_derived_response_of_each_device_class(name):
    assert_matches(hand_built()[name], name)


def test_derivation_would_catch_a_wrong_formula():
    # the same check fails when the declared response is off by 2%: it is not vacuous
    from aihwkit.simulator.configs import SoftBoundsDevice

    config = SoftBoundsDevice(w_min=-0.6, w_max=0.6)
    wrong = response_of(SoftBoundsDevice(w_min=-0.6, w_max=0.6, up_down=0.02))
    result = characterize(wrong, config, points=31)
    assert result.max_error > 0.01


def test_pow_step_reference_with_estimated_symmetry_point_is_unsupported():
    from aihwkit.simulator.configs import PowStepReferenceDevice

    with pytest.raises(UnsupportedDevice):
        response_of(PowStepReferenceDevice(subtract_symmetry_point=True))


def test_quiet_zeroes_every_noise_term():
    from aihwkit.simulator.configs import PowStepDevice

    config = quiet(PowStepDevice(dw_min_std=0.3, write_noise_std=2.0))
    assert config.dw_min_std == 0 and config.write_noise_std == 0
    assert config.dw_min_dtod == 0 and config.pow_gamma_dtod == 0 and config.w_max_dtod == 0


def test_noise_on_measures_mean_and_spread():
    from aihwkit.simulator.configs import SoftBoundsDevice

    config = SoftBoundsDevice(
        w_min=-0.6,
        w_max=0.6,
        dw_min_std=0.3,
        dw_min_dtod=0.0,
        w_min_dtod=0,
        w_max_dtod=0,
        up_down_dtod=0.0,
    )
    result = characterize(response_of(config), config, points=21, noise=True)
    assert result.noise and result.spread_up is not None
    # multiplicative cycle-to-cycle noise: each step's std is 0.3 q; 256 rows average it down
    np.testing.assert_allclose(result.spread_up, 0.3 * result.declared_up, rtol=0.25)
    assert result.max_error < 0.15
    assert result.max_error > 1e-4  # the noise is really there


def test_zero_fields_zeroes_what_the_config_has_and_skips_the_rest():
    from aihwkit.simulator.configs import ConstantStepDevice

    from aimc_plugins.devices.characterize import zero_fields

    config = ConstantStepDevice(dw_min_std=0.3, dw_min_dtod=0.2, up_down_dtod=0.1)
    quiet_config = zero_fields(config, ("dw_min_std", "up_down_dtod", "no_such_field"))
    assert (quiet_config.dw_min_std, quiet_config.up_down_dtod) == (0.0, 0.0)
    assert quiet_config.dw_min_dtod == 0.2  # not named: kept
    assert config.dw_min_std == 0.3  # a copy: the original is untouched


def test_single_pulse_tile_fires_exactly_one_pulse_per_update():
    import torch
    from aihwkit.simulator.configs import ConstantStepDevice

    from aimc_plugins.devices.characterize import single_pulse_tile

    tile = single_pulse_tile(ConstantStepDevice(dw_min=0.01, dw_min_std=0.0, dw_min_dtod=0.0))
    tile.set_weights(torch.zeros(1, 1))
    tile.set_learning_rate(0.5)  # 50 dw_min requested: one bit slot still holds one pulse
    tile.update(torch.ones(1, 1), -torch.ones(1, 1))
    # one pulse of 0.01 (to the device's own granularity), not the 0.5 asked for
    assert float(tile.get_weights()[0].flatten()[0]) == pytest.approx(0.01, rel=0.05)
