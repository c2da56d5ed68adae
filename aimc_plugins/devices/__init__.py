"""Devices: responses written in Python, how they reach aihwkit (native device or table), the
response an aihwkit config implies, the theory of a response (symmetric point, F, G) and pulse
measurements on a real simulator tile. Imports only :mod:`aimc_plugins.host`."""
