"""The weights a recipe's network starts from, as its analog tiles hold them.

The theory's figures (:mod:`aimc_plugins.devices.theory`) are functions of the weights a device
holds; ``aimc predict`` and the report's theory section evaluate them without training, on the
weights a run starts from. A recipe that declares its network (``Recipe.network``) is built here
with a fixed seed, and the weights of the layers aihwkit maps onto tiles (linear and
convolution layers; biases stay digital, aihwkit's default ``digital_bias``) are collected.

Units: aihwkit copies a layer's weights onto its tile as they are unless the RPU config's
``mapping.weight_scaling_omega`` is set, in which case each tile is scaled so its largest
weight becomes omega. The project's optimizers and periphery profiles leave it at aihwkit's
default 0, so network weights are device weights; :func:`in_device_units` applies the scaling
anyway when a config sets it (per layer: aihwkit scales per tile, and a layer wider than
``max_input_size`` is several tiles, so that case is approximate and says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aimc_plugins.host.records import Recipe

INIT_SEED = 0  # one fixed draw: the figures depend on the distribution, not on the draw


class NoNetwork(LookupError):
    """The recipe does not declare the network it trains (``Recipe.network`` is None)."""


@dataclass(frozen=True)
class InitialWeights:
    """The analog layers' weights of ``recipe``'s network at initialisation, flattened, in
    device units (see the module doc); ``layers`` names each layer and its shape."""

    recipe: str
    values: np.ndarray
    layers: tuple[tuple[str, tuple[int, ...]], ...]
    seed: int
    omega: float  # the mapping's weight_scaling_omega that was applied; 0: none

    @property
    def source(self) -> str:
        """Where the weights come from, in words."""
        shapes = ", ".join("x".join(map(str, shape)) for _, shape in self.layers)
        return (
            f"{self.recipe} initialisation (seed {self.seed}): {self.values.size} weights of "
            f"{len(self.layers)} analog layers ({shapes})"
        )

    @property
    def units(self) -> str:
        """Which units the weights are in, and why."""
        if self.omega:
            return (
                f"device units: each layer scaled so its largest |weight| is "
                f"weight_scaling_omega = {self.omega:g} (aihwkit's mapping; per layer here, per "
                "tile in aihwkit)"
            )
        return (
            "device units = network units: the RPU config's mapping.weight_scaling_omega is 0, "
            "so aihwkit writes the network's weights onto the tiles unscaled"
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready, without the values themselves."""
        return {
            "recipe": self.recipe,
            "source": self.source,
            "units": self.units,
            "seed": self.seed,
            "weight_scaling_omega": self.omega,
            "n_weights": int(self.values.size),
            "min": float(self.values.min()),
            "max": float(self.values.max()),
            "rms": float(np.sqrt(np.mean(self.values**2))),
            "layers": [{"name": name, "shape": list(shape)} for name, shape in self.layers],
        }


def weight_scaling_omega(rpu_config: Any) -> float:
    """The ``mapping.weight_scaling_omega`` of an aihwkit RPU config (0 for none, for a
    config without a mapping and for the digital baseline's ``None``)."""
    mapping = getattr(rpu_config, "mapping", None)
    return float(getattr(mapping, "weight_scaling_omega", 0.0) or 0.0)


def in_device_units(layers: list[np.ndarray], omega: float) -> np.ndarray:
    """The layers' weights as the tiles store them, flattened: unchanged for ``omega == 0``,
    else each layer scaled so its largest |weight| is ``omega``."""
    if omega < 0:
        raise ValueError(f"weight_scaling_omega must be >= 0, got {omega}")
    scaled = []
    for weights in layers:
        peak = float(np.max(np.abs(weights))) if weights.size else 0.0
        scaled.append(weights * (omega / peak) if omega and peak > 0 else weights)
    return np.concatenate([w.ravel() for w in scaled]) if scaled else np.zeros(0)


def analog_layers(network: Any) -> list[tuple[str, Any]]:
    """``(name, module)`` of every layer of ``network`` aihwkit's ``convert_to_analog`` puts on
    tiles: its linear and convolution layers (biases stay digital)."""
    from torch import nn

    analog = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    return [
        (name, module) for name, module in network.named_modules() if isinstance(module, analog)
    ]


def recipe_weights(recipe: Recipe, rpu_config: Any = None, seed: int = INIT_SEED) -> InitialWeights:
    """The initial weights of ``recipe``'s network in the device units of ``rpu_config`` (the
    config a run of it trains with; ``None``: unscaled). Raises :class:`NoNetwork` when the
    recipe does not declare its network. The global torch RNG is left as it was."""
    import torch

    if recipe.network is None:
        raise NoNetwork(
            f"recipe {recipe.name!r} does not declare its network (Recipe.network), so its "
            "initial weights are unknown without training"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = recipe.network()
    named = [
        (name, module.weight.detach().cpu().numpy().astype(float))
        for name, module in analog_layers(network)
    ]
    if not named:
        raise NoNetwork(f"recipe {recipe.name!r}: its network has no linear or convolution layer")
    omega = weight_scaling_omega(rpu_config)
    return InitialWeights(
        recipe=recipe.name,
        values=in_device_units([w for _, w in named], omega),
        layers=tuple((name, tuple(w.shape)) for name, w in named),
        seed=seed,
        omega=omega,
    )
