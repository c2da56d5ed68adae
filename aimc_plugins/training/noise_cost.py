"""What an update's write noise costs a trained network, measured rather than expanded.

aihwkit's write noise (``write_noise_std``, in units of ``dw_min``) perturbs each written weight
afresh, by ``sigma_w = write_noise_std dw_min`` in weight units, so the network computes with
``w + sigma_w xi``. A quadratic expansion around the optimum (docs/theory.md section 10) puts its
cost at ``h sigma_w^2 / 2``. aihwkit's ReRam presets write with a noise the size of the weights,
far outside that expansion, and the expansion's figure ordered them wrongly. Measured instead:
the training loss a recipe's floating-point network, trained to its plateau
(:attr:`aimc_plugins.host.records.Recipe.trained`), gains when every weight of its linear and
convolution layers is perturbed by ``N(0, sigma_w^2)``, averaged over a few seeded draws.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from aimc_plugins.devices.theory import Prediction
from aimc_plugins.host.records import TrainedNetwork
from aimc_plugins.training.initial_weights import analog_layers

DRAWS = 5
SEED = 1


@functools.cache
def write_noise_loss(trained: TrainedNetwork, sigma_w: float) -> float:
    """The mean training loss ``trained`` gains with every weight perturbed by
    ``N(0, sigma_w^2)`` (``DRAWS`` seeded draws); 0 without write noise."""
    if not sigma_w > 0.0:  # none, or not a number
        return 0.0
    model = trained.model
    # the layers aihwkit puts on tiles; the noise is in network units, which are device units
    # where the RPU config sets no weight_scaling_omega (the project's optimizers set none)
    layers = [module for _, module in analog_layers(model)]
    kept = [layer.weight.detach().clone() for layer in layers]
    generator = torch.Generator().manual_seed(SEED)
    training = model.training
    model.eval()  # no dropout, no batch-norm statistics updated by the probes
    with torch.no_grad():
        clean = float(nn.functional.cross_entropy(model(trained.inputs), trained.targets))
        losses = []
        try:
            for _ in range(DRAWS):
                for layer, weight in zip(layers, kept, strict=True):
                    noise = torch.randn(weight.shape, generator=generator)
                    layer.weight.copy_(weight + sigma_w * noise)
                output = model(trained.inputs)
                losses.append(float(nn.functional.cross_entropy(output, trained.targets)))
        finally:
            for layer, weight in zip(layers, kept, strict=True):
                layer.weight.copy_(weight)
            model.train(training)
    # a noise far below the weights' scale costs nothing measurable: the draws' own scatter
    # around 0 is not a gain
    return max(sum(losses) / DRAWS - clean, 0.0)


def with_noise_cost(prediction: Prediction, trained: Any) -> Prediction:
    """``prediction`` with write noise's measured loss and the recipe's batch size, so that it
    ranks by the predicted excess loss (:attr:`Prediction.ranking_figure`); unchanged without a
    trained network."""
    if trained is None or prediction.write_noise is None:  # unknown write noise: not zero
        return prediction
    loss = write_noise_loss(trained, float(prediction.write_noise))
    return replace(prediction, write_noise_loss=loss, batch_size=int(trained.batch_size))
