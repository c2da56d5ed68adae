"""Do the update's noise terms change the theory's order of Analog SGD devices?

docs/theory.md (section 10) derives three floors for Analog SGD near its optimum, per weight and
in loss units, for a recipe with batch size ``B`` and gradient noise ``Sigma``. It takes the
curvature ``h`` as the Fisher information, ``B Sigma^2``:

- the response's asymmetry: ``S_K / (2 B)``, with ``S_K`` over the device-to-device spread;
- the pulse trains' count noise and the cycle-to-cycle noise: ``Sigma Delta (1 + c2c^2) / 4``,
  where ``Delta`` is a pulse's step at the median weight;
- write noise: ``h sigma_w^2 / 2 = B Sigma^2 sigma_w^2 / 2``.

This script measures ``Sigma`` on the digits MLP and prints the three terms per device of a
finished comparison. The device list is the comparison's Analog SGD rows (default:
``sweeps/theory-mixed``, from ``recipes/specs/theory-mixed.toml``). ``Sigma`` comes from a
floating-point network trained 10 epochs, as the figure's definition asks: the per-weight
standard deviation of the mini-batch gradient over one pass of the training set, at the
optimum. The script then prints Spearman's rho of the measured means against:

- the mean device's ``S_K``;
- ``S_K`` over the devices;
- the sum of the three floors;
- the mean device's ``S_K / (2B)`` plus write noise's cost *measured* on the trained network
  (the training loss it gains when every weight is perturbed by ``N(0, sigma_w^2)``), not
  expanded. That candidate was found after both comparisons were measured, so it awaits a
  third, held-out one before anything ranks by it.

    .venv/bin/python benchmarks/theory_noise_terms.py [FOLDER]
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np


def gradient_noise(trained: Any) -> float:
    """``Sigma``: the per-weight standard deviation of the mini-batch gradient at the trained
    weights (the recipe's batch size), root mean square over the weights."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from aimc_plugins.training.initial_weights import analog_layers

    net = trained.model
    grads = []
    layers = [module for _, module in analog_layers(net)]
    data = TensorDataset(trained.inputs, trained.targets)
    for x, y in DataLoader(data, batch_size=trained.batch_size):
        net.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        grads.append(torch.cat([m.weight.grad.ravel() for m in layers]).clone())
    return float(torch.stack(grads).std(dim=0).pow(2).mean().sqrt())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="sweeps/theory-mixed")
    args = parser.parse_args()

    import torch
    from scipy.stats import spearmanr

    from aimc_plugins import load_results
    from aimc_plugins.builtin.recipes.digits import BATCH_SIZE, build_mlp, trained_mlp
    from aimc_plugins.devices.build import adapted_device, device_response
    from aimc_plugins.devices.names import parse_device_ref
    from aimc_plugins.devices.theory import predict
    from aimc_plugins.host import plugins
    from aimc_plugins.training.noise_cost import write_noise_loss

    runs = load_results(args.folder)
    sgd = runs[(runs.optimizer == "sgd") & (runs.status == "done")]
    measured = sgd.groupby("device")["test_accuracy"].mean()
    trained = trained_mlp()  # the network the report measures write noise on
    sigma = gradient_noise(trained)
    torch.manual_seed(0)
    weights = np.concatenate(
        [m.weight.detach().numpy().ravel() for m in build_mlp() if isinstance(m, torch.nn.Linear)]
    )
    b = BATCH_SIZE
    print(f"Sigma = {sigma:.4g} (digits MLP, batch {b}); floors per weight, loss units\n")
    print(
        "| device | measured | S_K (mean device) | S_K (devices) | asymmetry | count + c2c "
        "| write | write, measured |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for device, accuracy in measured.sort_values(ascending=False).items():
        ref = parse_device_ref(device)
        record = plugins.registry.device(ref.name)
        config = adapted_device(record, ref.params).device
        found = predict(device_response(record, ref.params), weights, config=config)
        step = found.dw_min * found.step_scale  # a pulse at the median weight
        asymmetry = found.s_k_spread / (2 * b)
        count = sigma * step * (1 + (found.c2c or 0.0) ** 2) / 4
        write = b * sigma**2 * (found.write_noise or 0.0) ** 2 / 2
        measured_write = write_noise_loss(trained, found.write_noise or 0.0)
        rows.append(
            (
                accuracy,
                found.s_k,
                found.s_k_spread,
                asymmetry + count + write,
                found.s_k / (2 * b) + measured_write,
            )
        )
        print(
            f"| {device} | {accuracy:.3f} | {found.s_k:.3g} | {found.s_k_spread:.3g} | "
            f"{asymmetry:.2e} | {count:.2e} | {write:.2e} | {measured_write:.2e} |"
        )
    accuracy = np.array([r[0] for r in rows])
    print()
    for label, column in (
        ("mean device S_K", 1),
        ("S_K over devices", 2),
        ("all three floors", 3),
        ("mean device S_K / (2B) + write noise's measured loss", 4),
    ):
        rho = spearmanr(-np.array([r[column] for r in rows]), accuracy).statistic
        print(f"rho by {label}: {rho:.3f}" if not math.isnan(rho) else f"{label}: no order")


if __name__ == "__main__":
    main()
