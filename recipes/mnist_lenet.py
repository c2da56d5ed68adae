"""Train the `mnist-lenet` recipe once per seed.

    python recipes/mnist_lenet.py --device ... --optimizer ... [--option NAME=VALUE]

In sweeps the same recipe runs as `aimc compare --recipe mnist-lenet ...` (same run ids).
"""

from aimc_plugins.cli.recipe_script import command

if __name__ == "__main__":
    command("mnist-lenet")()
