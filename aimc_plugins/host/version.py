"""The host's version, in one place (``aimc_plugins.__version__``), the version the built-in
plugins are listed with, and what a plugin's ``Requires-Dist: aimc-plugins ...`` is checked
against. ``pyproject.toml`` states the same number (a test keeps them equal), and CHANGELOG.md
says what each version changed for plugin authors."""

VERSION = "0.2.0"
