"""The software a run was trained with, stored beside its results so that a number in a table
can always be traced to the Python, torch, aihwkit and plugin versions that produced it."""

from __future__ import annotations

import functools
import importlib.metadata
import platform


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@functools.lru_cache(maxsize=1)
def _software() -> tuple[tuple[str, str], ...]:
    # Installed distributions do not change while a process runs: read their metadata once.
    return (
        ("python", platform.python_version()),
        ("torch", _version("torch")),
        ("aihwkit", _version("aihwkit")),
        ("aimc-plugins", _version("aimc-plugins")),
    )


@functools.lru_cache(maxsize=1)
def machine() -> str:
    """The machine a run trained on (host, CPU count, platform): a report's wall times mean
    little without it, and a sweep on a Dask cluster may spread over several."""
    import os

    return f"{platform.node() or 'unknown host'}, {os.cpu_count()} CPUs, {platform.platform()}"


def environment_versions() -> dict[str, str]:
    """Python, torch, aihwkit, aimc-plugins, every loaded plugin (``plugin:NAME`` ->
    distribution and version, or ``in-process`` for one registered by code) and the
    ``machine``."""
    from aimc_plugins.host import plugins

    plugins.load_plugins()
    versions = {**dict(_software()), "machine": machine()}
    known = plugins.distributions()
    for name, _ in plugins.pm.list_name_plugin():
        distribution, version = known.get(name, ("", ""))
        versions[f"plugin:{name}"] = f"{distribution} {version}".strip() or "in-process"
    return versions
