"""``aimc new-plugin NAME``: write a ready plugin distribution from the templates.

The templates (``aimc_plugins/kit/templates/plugin``) are real files with ``$placeholders``
(:class:`string.Template`), not strings in code, so an author reading the generated plugin sees
exactly what the host ships and a test can lint and run what they produce. The distribution has
a ``pyproject.toml`` with the ``aimc_plugins`` entry point, an example device, an example
optimizer, an example transfer algorithm written as a transfer rule (``rule.py``, Tiki-Taka v1
over :mod:`aimc_plugins.rules`' public names, to edit into a variant), a test that calls the
contract checks of :mod:`aimc_plugins.kit.testing` on each, and a README.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from aimc_plugins.host.version import host_requirement

if TYPE_CHECKING:
    from importlib.abc import Traversable

TEMPLATE_ROOT = "templates/plugin"
PACKAGE_DIR = "package"  # the template folder renamed to the plugin's import name
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


class ScaffoldError(ValueError):
    """A plugin name that cannot become a distribution, or a target that already exists."""


@dataclass(frozen=True)
class PluginNames:
    """Every name the plugin needs, derived from the one the author typed."""

    dist: str  # distribution (pip) name: my-lab-devices
    module: str  # import name and entry-point name: my_lab_devices
    device: str  # example device's registered name
    optimizer: str  # example optimizer's registered name
    rule_optimizer: str  # example transfer-rule optimizer's registered name

    @property
    def entry(self) -> str:
        return self.module

    def mapping(self) -> dict[str, str]:
        return {
            "dist": self.dist,
            "module": self.module,
            "entry": self.entry,
            "device": self.device,
            "optimizer": self.optimizer,
            "rule_optimizer": self.rule_optimizer,
            "host": host_requirement(),
        }


def plugin_names(name: str) -> PluginNames:
    """Names from ``name`` (lower case letters, digits, ``-`` or ``_``; starting with a letter)."""
    text = name.strip().lower()
    if not _NAME.match(text):
        raise ScaffoldError(
            f"plugin name {name!r}: use lower-case letters, digits and single '-' or '_', "
            "starting with a letter (e.g. my-lab-devices)"
        )
    dist = text.replace("_", "-")
    _check_free(name, dist, dist.replace("-", "_"))
    return PluginNames(
        dist=dist,
        module=dist.replace("-", "_"),
        device=f"{dist}-device",
        optimizer=f"{dist}-sgd",
        rule_optimizer=f"{dist}-tt",
    )


# Import names a plugin must not take: its `pip install -e` would shadow or replace them.
HOST_NAMES = ("aimc-plugins", "aimc_plugins", "aimc")
RESERVED_MODULES = frozenset(
    {"aihwkit", "torch", "torchvision", "numpy", "scipy", "pluggy", "click", "matplotlib"}
    | {"pytest", "setuptools", "pip", "tomllib", "sklearn", "pandas", "dask", "tqdm"}
)


def _check_free(name: str, dist: str, module: str) -> None:
    """Refuse a name that is a Python keyword (the package could not be imported), the host's
    own, a standard-library or dependency module, or an installed distribution that is not an
    aimc plugin: installing the generated package would replace or shadow it."""
    import importlib.metadata
    import keyword
    import sys

    if keyword.iskeyword(module) or keyword.issoftkeyword(module):
        raise ScaffoldError(f"plugin name {name!r}: {module!r} is a Python keyword")
    if dist in HOST_NAMES or module in HOST_NAMES:
        raise ScaffoldError(
            f"plugin name {name!r} is the host's own (aimc-plugins): installing it would "
            "replace the host; pick another (e.g. my-lab-devices)"
        )
    if module in sys.stdlib_module_names or module in RESERVED_MODULES:
        raise ScaffoldError(
            f"plugin name {name!r}: module {module!r} is taken by Python or a dependency, "
            "which the plugin would shadow; pick another (e.g. my-lab-devices)"
        )
    try:
        installed = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return
    if not any(ep.group == "aimc_plugins" for ep in installed.entry_points):
        raise ScaffoldError(
            f"plugin name {name!r}: distribution {dist!r} {installed.version} is installed "
            "and is not an aimc plugin; installing the generated one would replace it"
        )


def _template_files() -> list[tuple[str, str]]:
    """``(relative path, text)`` of every template file, paths with ``.tmpl`` removed."""
    root = resources.files("aimc_plugins.kit").joinpath(TEMPLATE_ROOT)
    found: list[tuple[str, str]] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            path = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, path + "/")
            elif child.name.endswith(".tmpl"):
                found.append((path.removesuffix(".tmpl"), child.read_text(encoding="utf-8")))

    walk(root, "")
    return found


def _target_path(relative: str, names: PluginNames) -> str:
    parts = relative.split("/")
    parts = [names.module if part == PACKAGE_DIR else part for part in parts]
    if parts[-1] == "test_plugin.py":
        parts[-1] = f"test_{names.module}.py"
    return "/".join(parts)


def render(names: PluginNames) -> dict[str, str]:
    """Every generated file: relative path -> text."""
    mapping = names.mapping()
    return {
        _target_path(relative, names): Template(text).substitute(mapping)
        for relative, text in _template_files()
    }


def new_plugin(name: str, parent: Path, force: bool = False) -> Path:
    """Write the distribution for ``name`` into ``parent / <dist name>``; returns that folder.

    Refuses to write into an existing non-empty folder unless ``force`` (then it overwrites the
    generated files and leaves any others alone).
    """
    names = plugin_names(name)
    target = Path(parent) / names.dist
    if target.exists() and any(target.iterdir()) and not force:
        raise ScaffoldError(f"{target} exists and is not empty (use --force to overwrite)")
    for relative, text in render(names).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
