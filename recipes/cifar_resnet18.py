"""Train the `cifar10-resnet18` recipe once per seed.

    python recipes/cifar_resnet18.py --device ... --optimizer ... [--option NAME=VALUE]

In sweeps the same recipe runs as `aimc compare --recipe cifar10-resnet18 ...` (same run ids).
"""

from aimc_plugins.cli.recipe_script import command

if __name__ == "__main__":
    command("cifar10-resnet18")()
