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


def trained_network(epochs: int = 10, lr: float = 0.715, seed: int = 0) -> tuple[Any, Any]:
    """The digits MLP trained in floating point (the digital baseline's tuned rate), and its
    training set."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader

    from aimc_plugins.builtin.recipes.digits import BATCH_SIZE, build_mlp, load_digits_tensors

    torch.manual_seed(seed)
    train, _ = load_digits_tensors()
    net = build_mlp()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = DataLoader(
        train, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
    return net, train


def gradient_noise(net: Any, train: Any) -> float:
    """``Sigma``: the per-weight standard deviation of the mini-batch gradient (batch 10) at the
    trained weights, root mean square over the weights."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader

    from aimc_plugins.builtin.recipes.digits import BATCH_SIZE

    grads = []
    layers = [m for m in net if isinstance(m, nn.Linear)]
    for x, y in DataLoader(train, batch_size=BATCH_SIZE):
        net.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        grads.append(torch.cat([m.weight.grad.ravel() for m in layers]).clone())
    return float(torch.stack(grads).std(dim=0).pow(2).mean().sqrt())


def write_noise_loss(net: Any, train: Any, sigma_w: float, draws: int = 5) -> float:
    """The training loss the trained network gains, on average over ``draws``, when every
    weight is perturbed by ``N(0, sigma_w^2)``: write noise's cost measured, not expanded."""
    import torch
    from torch import nn

    if sigma_w <= 0.0:
        return 0.0
    x, y = train.tensors
    layers = [m for m in net if isinstance(m, nn.Linear)]
    kept = [m.weight.detach().clone() for m in layers]
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        clean = float(nn.functional.cross_entropy(net(x), y))
        losses = []
        for _ in range(draws):
            for layer, weight in zip(layers, kept, strict=True):
                noise = torch.randn(weight.shape, generator=generator)
                layer.weight.copy_(weight + sigma_w * noise)
            losses.append(float(nn.functional.cross_entropy(net(x), y)))
        for layer, weight in zip(layers, kept, strict=True):
            layer.weight.copy_(weight)
    return sum(losses) / draws - clean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="sweeps/theory-mixed")
    args = parser.parse_args()

    import torch
    from scipy.stats import spearmanr

    from aimc_plugins import load_results
    from aimc_plugins.builtin.recipes.digits import BATCH_SIZE, build_mlp
    from aimc_plugins.devices.build import adapted_device, device_response
    from aimc_plugins.devices.names import parse_device_ref
    from aimc_plugins.devices.theory import predict
    from aimc_plugins.host import plugins

    runs = load_results(args.folder)
    sgd = runs[(runs.optimizer == "sgd") & (runs.status == "done")]
    measured = sgd.groupby("device")["test_accuracy"].mean()
    net, train = trained_network()
    sigma = gradient_noise(net, train)
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
        measured_write = write_noise_loss(net, train, found.write_noise or 0.0)
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
