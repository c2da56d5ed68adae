"""The host's version, in one place (``aimc_plugins.__version__``), the version the built-in
plugins are listed with, and what a plugin's ``Requires-Dist: aimc-plugins ...`` is checked
against. ``pyproject.toml`` states the same number (a test keeps them equal), and CHANGELOG.md
says what each version changed for plugin authors."""

VERSION = "0.2.0"


def host_requirement() -> str:
    """The requirement a new plugin states on this host (``aimc new-plugin``, ``aimc fit``):
    this minor series, since while the major version is 0 a minor release may change the plugin
    API (after a deprecation), and a plugin outside its range is refused in one line at load."""
    major, minor = (int(part) for part in VERSION.split(".")[:2])
    return f"aimc-plugins>={major}.{minor},<{major}.{minor + 1}"
