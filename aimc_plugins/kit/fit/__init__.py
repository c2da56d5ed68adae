"""Devices fitted to measured pulse data: ``aimc fit DATA.csv --name NAME``.

- :mod:`~aimc_plugins.kit.fit.traces`: the CSV format (documented there) and the single-pulse steps;
- :mod:`~aimc_plugins.kit.fit.estimate`: q+-(w), dw_min and noise from the steps;
- :mod:`~aimc_plugins.kit.fit.emit`: the fitted device as a plugin module or distribution;
- :mod:`~aimc_plugins.kit.fit.plot`: data against fit;
- :mod:`~aimc_plugins.kit.fit.generate`: traces from aihwkit devices, to test all of the above.
"""

from aimc_plugins.kit.fit.estimate import (
    FitError,
    FitOptions,
    FittedResponse,
    fit_steps,
    table_device,
)
from aimc_plugins.kit.fit.traces import Steps, TraceError, Traces, read_traces, write_traces

__all__ = [
    "FitError",
    "FitOptions",
    "FittedResponse",
    "Steps",
    "TraceError",
    "Traces",
    "fit_steps",
    "read_traces",
    "table_device",
    "write_traces",
]
