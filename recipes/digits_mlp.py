"""Train the `digits-mlp` recipe once per seed.

    python recipes/digits_mlp.py --device ... --optimizer ... [--option NAME=VALUE]

In sweeps the same recipe runs as `aimc compare --recipe digits-mlp ...` (same run ids).
"""

from aimc_plugins.cli.recipe_script import command

if __name__ == "__main__":
    command("digits-mlp")()
