"""``aimc predict``: what the theory predicts of devices from their responses, before training.

Devices are resolved as ``aimc show`` resolves them (:func:`~.device_commands.resolve_device`,
:func:`~.device_commands.adapt_device`), so a plugin's response device and an aihwkit preset
device are read alike; the figures are :func:`aimc_plugins.devices.theory.predict`'s on the
initial weights of a recipe's network, in the device units of an Analog SGD run of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from aimc_plugins.cli.device_commands import adapt_device, resolve_device
from aimc_plugins.cli.examples import command_examples
from aimc_plugins.cli.options import echo_json, json_option, print_table
from aimc_plugins.host import composition, plugins
from aimc_plugins.host.hookspecs import hookimpl

DEFAULT_RECIPE = "mnist-fcn"
NO_TRAINED_WEIGHTS = (
    "initial weights: a results store keeps no trained weights (not even the digital "
    "baseline's), so the theory is evaluated where training starts"
)


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _sgd_config(adapted: Any) -> Any:
    """The RPU config an Analog SGD run of the device trains with (for its weight mapping);
    ``None`` when training refuses the device (no config to read)."""
    if adapted is None:
        return None
    from aimc_plugins.training.setup import optimizer_setup

    record = plugins.registry.optimizer(composition.current.default_optimizer)
    return optimizer_setup(record, [adapted.device], {}).rpu_config


def _weights(recipe_name: str, rpu_config: Any, cache: dict[float, Any]) -> Any:
    """The recipe's initial weights in the config's device units (one build per mapping)."""
    from aimc_plugins.training.initial_weights import (
        NoNetwork,
        recipe_weights,
        weight_scaling_omega,
    )

    omega = weight_scaling_omega(rpu_config)
    if omega not in cache:
        try:
            recipe = plugins.registry.recipe(recipe_name)
            cache[omega] = recipe_weights(recipe, rpu_config)
        except (KeyError, NoNetwork) as exc:
            raise click.UsageError(str(exc.args[0]) if exc.args else str(exc)) from None
    return cache[omega]


def _trained(recipe_name: str) -> Any:
    """The recipe's network trained in floating point, or None where it provides none (or it
    cannot be built: then a warning says so, and the ranking is by S_K)."""
    try:
        build = plugins.registry.recipe(recipe_name).trained
    except KeyError:
        return None  # an unknown recipe is reported where its weights are built
    if build is None:
        return None
    try:
        return build()
    except Exception as exc:  # a plugin recipe's code: never a traceback here
        click.echo(
            f"warning   recipe {recipe_name!r}: its trained network could not be built "
            f"({type(exc).__name__}: {exc}); ranked by S_K alone",
            err=True,
        )
        return None


def _table(predictions: list[Any]) -> None:
    rows = [
        (
            rank,
            p.device,
            _number(p.excess_loss),
            _number(p.write_noise_loss),
            _number(p.s_k),
            _number(p.s_k_devices) if p.s_k_devices is not None else "same",
            "—" if p.floor_fraction is None else f"{p.floor_fraction:.0%}",
            _number(p.c2c),
            _number(p.write_noise),
            _number(p.states, 4),
            _number(p.s_k_range),
            _number(p.penalty_mean),
            _number(p.penalty_curvature),
            _number(p.symmetric_point, 4),
            _number(p.symmetric_point_offset, 3),
            p.residual_floor_text,
        )
        for rank, p in enumerate(predictions, 1)
    ]
    print_table(
        rows,
        (
            "rank",
            "device",
            "excess loss",
            "write loss",
            "S_K",
            "S_K(devices)",
            "no w*",
            "c2c",
            "write noise",
            "states",
            "S_K(range)",
            "penalty/Sigma",
            "R'(w*)",
            "w*",
            "w*/half-range",
            "residual floor without zero shift",
        ),
    )


KEY = (
    "excess loss: S_K / (2B) + write loss, the loss the theory predicts Analog SGD to stay "
    "above, where the recipe provides its network trained in floating point (B its batch "
    "size): the ranking figure; write loss: the training loss that network gains with every "
    "weight perturbed by the device's write noise (docs/theory.md section 10). "
    "S_K: max over the weights of (G/sqrt(F))^2 (dimensionless; the response scaled to F = 1 "
    "at the median weight), the ranking figure without a trained network; S_K(devices): the "
    "same device by device over 512 devices as aihwkit draws them for a tile "
    "(device-to-device variation), averaged ('same': no variation); no w*: the share of those "
    "devices whose G keeps one sign over their range (Analog SGD drifts them to a bound); c2c: "
    "the relative cycle-to-cycle spread of a step; write noise: in weight units; states: the "
    "range over dw_min. S_K(devices), no w*, c2c and states are shown, not ranked by: on "
    "held-out devices they did not order them better. "
    "S_K(range): the same over the whole range (the worst case); "
    "penalty/Sigma: mean R_c over the weights (weight units; times Sigma it is the implicit "
    "penalty per weight, in loss units); R'(w*): its curvature at w* (1/weight units; 1/tau for "
    "the symmetric linear device); w*: symmetric point (device units)."
)


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(
        name="predict",
        short_help="The theory's predicted ranking of devices, without training.",
        epilog=command_examples("predict"),
    )
    @click.argument("devices", nargs=-1, required=True)
    @click.option(
        "--recipe",
        default=DEFAULT_RECIPE,
        show_default=True,
        help="Recipe whose network's initial weights the figures are evaluated on.",
    )
    @json_option
    def predict_command(devices: tuple[str, ...], recipe: str, as_json: bool) -> None:
        """For each DEVICE (e.g. "power(g=2.0, tau=0.7)" or ReRamSB), from its response alone:
        the symmetric point and its offset, Analog SGD's implicit penalty and S_K over the
        recipe's initial weights, and whether residual learning without a zero shift keeps a
        floor; then the devices in the order the theory predicts for Analog SGD."""
        from aimc_plugins.devices.theory import RANKING_RULE, predict, ranked
        from aimc_plugins.training.identity import device_label
        from aimc_plugins.training.noise_cost import with_noise_cost

        cache: dict[float, Any] = {}
        predictions, notes, sources = [], [], {}
        trained = _trained(recipe)
        for text in devices:
            record, params = resolve_device(text)
            response, adapted, warned = adapt_device(record, params, need_table=False)
            weights = _weights(recipe, _sgd_config(adapted), cache)
            if adapted is None:
                warned.append(f"{text}: no RPU config to read the mapping from; weights unscaled")
            named = replace(response, name=device_label(record.name, params))
            config = adapted.device if adapted is not None else None
            prediction = with_noise_cost(predict(named, weights.values, config=config), trained)
            predictions.append(prediction)
            sources[prediction.device] = weights
            notes += [f"{text}: {note}" for note in warned]
        order = ranked(predictions)
        used = list({id(w): w for w in sources.values()}.values())
        if as_json:
            echo_json(
                {
                    "recipe": recipe,
                    "weights": [w.summary() for w in used],
                    "weights_note": NO_TRAINED_WEIGHTS,
                    "ranking_scalar": "ranking_figure",
                    "ranking": RANKING_RULE,
                    "predictions": [{"rank": rank, **p.data()} for rank, p in enumerate(order, 1)],
                    "warnings": notes,
                }
            )
            return
        for w in used:
            click.echo(f"weights   {w.source}")
            click.echo(f"          range [{w.values.min():.4g}, {w.values.max():.4g}]; {w.units}")
        click.echo(f"          {NO_TRAINED_WEIGHTS}")
        click.echo(f"ranking   {RANKING_RULE}\n")
        _table(order)
        click.echo(f"\n{KEY}")
        for p in order:
            if p.clipped_fraction:
                click.echo(
                    f"note      {p.device}: {p.clipped_fraction:.1%} of the weights lie outside "
                    f"its range [{p.w_min:g}, {p.w_max:g}] and were clipped onto it"
                )
        for note in notes:
            click.echo(f"warning   {note}", err=True)
