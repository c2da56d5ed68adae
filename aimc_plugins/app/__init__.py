"""The one place that composes the application: which modules are its built-in plugins, which
plugin gives aihwkit's preset devices, and the default optimizer of its command line and API.

Lower layers must not name modules or choices of the layers above them (the import check in
``tests/test_architecture.py`` cannot see a module named in a string); they read
:data:`aimc_plugins.host.composition.current` instead, which :func:`install` fills. The facade
calls it on import, and every import of any ``aimc_plugins`` module runs the facade first, so a
sweep worker is composed the same way as the process that started it.

This is a top layer: it names every layer and nothing imports it but the facade. Its names are
strings so that composing imports nothing heavy (torch, aihwkit, click).
"""

from __future__ import annotations

from aimc_plugins.host.composition import Composition, compose

BUILTIN_PLUGINS: tuple[str, ...] = (
    "aimc_plugins.builtin.presets",
    "aimc_plugins.builtin.optimizers",
    "aimc_plugins.builtin.recipes",
    "aimc_plugins.cli.commands",
    "aimc_plugins.cli.device_commands",
    "aimc_plugins.cli.predict_command",
    "aimc_plugins.cli.sweep_commands",
    "aimc_plugins.cli.author_commands",
)
PRESETS_PLUGIN = "aimc_plugins.builtin.presets"
DEFAULT_OPTIMIZER = "sgd"  # `--optimizer`'s default (cli.recipe_script) and api.comparison's

APPLICATION = Composition(
    builtin_plugins=BUILTIN_PLUGINS,
    presets_plugin=PRESETS_PLUGIN,
    default_optimizer=DEFAULT_OPTIMIZER,
)


def install() -> None:
    """Compose the application (idempotent)."""
    compose(APPLICATION)

install()  # on import: the facade imports this module before any other
