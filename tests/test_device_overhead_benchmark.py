"""The device-overhead benchmark runs end to end (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "device_overhead.py"


def test_benchmark_smoke():
    from aimc_plugins.host import plugins

    if "power" not in plugins.devices():
        pytest.skip("aimc-paper-devices is not installed")
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", "2", "--torch-steps", "1", "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "(a)/(b) = " in out and "(c)/(a) = " in out
    assert "native PowStep" in out and "PiecewiseStep" in out
