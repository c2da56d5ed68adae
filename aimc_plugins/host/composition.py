"""What the application built on this host is made of, declared from the top and read below.

The host loads built-in plugins, the planner recognises aihwkit's preset devices, and a preset
configuration accepts the command line's default optimizer; each of these names a module or a
choice of a layer above the one that needs it. Writing those names where they are used would be
an upward dependency the import check cannot see. Instead the one place that composes the
application (:mod:`aimc_plugins.app`) states them here with :func:`compose`, and the lower
layers read :data:`current`. A host nobody composed loads no built-ins and knows no presets
plugin: it is the bare plugin host.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Composition:
    """The application's parts, by name.

    ``builtin_plugins``: modules registered as plugins before any entry point (always loaded);
    ``presets_plugin``: the plugin whose devices are aihwkit's preset devices (``@preset-devices``,
    the report's "aihwkit preset device"); ``default_optimizer``: the optimizer a command line
    uses when none is named, which a preset configuration accepts as "its own algorithm".
    """

    builtin_plugins: tuple[str, ...] = ()
    presets_plugin: str = ""
    default_optimizer: str = ""


current = Composition()


def compose(composition: Composition) -> None:
    """Make ``composition`` the application's (called once, by :mod:`aimc_plugins.app`)."""
    global current
    current = composition
