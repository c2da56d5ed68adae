"""The theory over a device type's device-to-device spread: per-device responses read off
aihwkit's tile, each device's S_K and symmetric point, and the ranking that uses them."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from aimc_plugins.cli.main import cli
from aimc_plugins.devices.config_response import response_of
from aimc_plugins.devices.spread import device_spread, has_variation, per_device_steps
from aimc_plugins.devices.theory import predict, ranked
from aimc_plugins.training.setup import build_device

WEIGHTS = np.linspace(-0.18, 0.18, 201)


def spread_of(name: str, **fields):
    config = build_device(name)
    for key, value in fields.items():
        setattr(config, key, value)
    response = response_of(config)
    return device_spread(name, config, WEIGHTS, response.w_min, response.w_max, n_devices=256)


def test_each_device_keeps_its_own_step_as_aihwkit_draws_it() -> None:
    """Per-device steps differ by the config's dw_min_dtod and repeat for the same seed."""
    config = build_device("Idealized")  # constant step, dw_min_dtod 0.3, no asymmetry
    grid = np.array([-0.1, 0.0, 0.1])
    holds, up, down = per_device_steps(config, grid, n_devices=256, seed=3)
    # bounds vary too (w_max_dtod 0.3): a few devices cannot hold -0.1 or 0.1 with a step to
    # spare, and those points are not used
    holds = holds.all(axis=1)
    assert 0.9 * len(holds) < holds.sum() < len(holds)
    spread = np.std(up[:, 1]) / np.mean(up[:, 1])
    assert 0.2 < spread < 0.4  # dw_min_dtod = 0.3
    assert np.allclose(up[holds], down[holds], rtol=1e-3)  # symmetric device by device
    again = per_device_steps(config, grid, n_devices=256, seed=3)[1]
    assert np.array_equal(up, again)


def test_a_constant_step_with_per_device_asymmetry_has_no_symmetric_point() -> None:
    """GokmenVlasov is symmetric on average (S_K of the mean device 0), but each device has its
    own up/down asymmetry: without a symmetric point in its range, it drifts to a bound."""
    gokmen = spread_of("GokmenVlasov")
    assert gokmen.floor_fraction > 0.5 and gokmen.s_k_mean > 0.0
    symmetric = spread_of("GokmenVlasov", up_down_dtod=0.0)
    assert symmetric.floor_fraction == 0.0 and symmetric.s_k_mean == pytest.approx(0.0, abs=1e-9)


def test_variation_raises_s_k_above_the_mean_device() -> None:
    """ReRamArrayOM's devices vary by 78% in step and 35-57% in bounds: averaged device by
    device its S_K is twice the mean device's and more."""
    config = build_device("ReRamArrayOM")
    response = response_of(config)
    mean_device = predict(response, WEIGHTS)
    spread = predict(response, WEIGHTS, config=config)
    assert spread.s_k_devices is not None and spread.s_k_devices > 2 * mean_device.s_k
    assert spread.s_k_spread == spread.s_k_devices and mean_device.s_k_spread == mean_device.s_k
    assert spread.s_k == mean_device.s_k  # the ranking figure stays the mean device's
    assert spread.symmetric_point_p10 < spread.symmetric_point_p90  # the devices' own w*
    assert spread.write_noise == pytest.approx(config.write_noise_std * config.dw_min)
    assert spread.c2c == pytest.approx(config.dw_min_std)
    assert spread.states == pytest.approx((response.w_max - response.w_min) / config.dw_min)


def test_a_device_without_variation_is_its_mean_device() -> None:
    """No *_dtod field set: every device is the mean device, computed exactly, not measured."""
    config = build_device("Idealized")
    for name in ("dw_min_dtod", "w_max_dtod", "w_min_dtod", "up_down_dtod"):
        setattr(config, name, 0.0)
    assert not has_variation(config) and has_variation(build_device("Idealized"))
    found = predict(response_of(config), WEIGHTS, config=config)
    assert found.s_k_devices is None and found.floor_fraction == 0.0 and found.c2c == 0.3


def test_the_spread_shows_what_the_mean_device_cannot_tell_apart() -> None:
    """Mean device: ReRamSB (0.037) before the plugin device power(g=0.5, tau=0.4) (0.053);
    over its devices (bounds varying by 24-40%) after it. The ranking stays the mean device's:
    on held-out devices the spread did not order better (docs/theory.md section 10)."""
    from aimc_plugins.devices.build import adapted_device, device_response
    from aimc_plugins.devices.names import parse_device_ref
    from aimc_plugins.host import plugins

    predictions = []
    for name in ("ReRamSB", "power(g=0.5, tau=0.4)"):
        ref = parse_device_ref(name)
        record = plugins.registry.device(ref.name)
        config = adapted_device(record, ref.params).device
        response = device_response(record, ref.params)
        predictions.append(predict(replace(response, name=name), WEIGHTS, config=config))
    by_spread = [p.device for p in sorted(predictions, key=lambda p: p.s_k_spread)]
    assert by_spread == ["power(g=0.5, tau=0.4)", "ReRamSB"]
    assert [p.device for p in ranked(predictions)] == ["ReRamSB", "power(g=0.5, tau=0.4)"]


def test_a_devices_own_bounds_are_not_read_as_asymmetry() -> None:
    """A symmetric constant step whose bounds vary device by device, on weights reaching those
    bounds: a pulse clipped at a bound must not count as an asymmetry."""
    config = build_device("Idealized")  # dw_min_dtod and bounds dtod 0.3, up_down 0
    response = response_of(config)
    wide = np.linspace(-0.95, 0.95, 201)
    found = device_spread("Idealized", config, wide, response.w_min, response.w_max)
    assert found.s_k_mean == pytest.approx(0.0, abs=1e-6) and found.floor_fraction == 0.0


def test_predict_shows_the_spread_and_the_noise() -> None:
    result = CliRunner().invoke(
        cli,
        ["predict", "GokmenVlasov", "power(g=0.5, tau=0.7)", "--recipe", "digits-mlp", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    by_name = {p["device"]: p for p in data["predictions"]}
    gokmen, power = by_name["GokmenVlasov"], by_name["power(g=0.5, tau=0.7)"]
    assert gokmen["s_k"] == 0.0 and gokmen["s_k_devices"] > 0 and gokmen["floor_fraction"] > 0.5
    assert power["s_k_devices"] is None and power["floor_fraction"] == 0.0  # no variation
    table = CliRunner().invoke(cli, ["predict", "GokmenVlasov", "--recipe", "digits-mlp"])
    assert "S_K(devices)" in table.output and "no w*" in table.output


def test_the_report_says_what_the_spread_would_do_to_the_order() -> None:
    from aimc_plugins.report.theory import Correlation
    from aimc_plugins.report.theory_page import correlation_line

    both = Correlation("sgd", 14, 0.92, 2e-5, False, "the measured ordering follows", 0.75)
    line = correlation_line(both)
    assert line.startswith("sgd: the measured ordering follows.")
    assert "By S_K over the devices" in line and "rho = 0.75" in line
    alone = Correlation("sgd", 3, 1.0, 0.17, True, "too few devices")
    assert "over the devices" not in correlation_line(alone)
