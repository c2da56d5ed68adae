"""The ``aimc`` command line, the top layer. Its commands are built-in plugins
(``register_commands``) like any third party's."""
